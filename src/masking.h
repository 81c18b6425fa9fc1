/* masking.h: which frames the JEPA predictor must fill in. */
#ifndef JT_MASKING_H
#define JT_MASKING_H

#include "config.h"
#include "jc.h"

/* Mark spans of frames in mask[0..n) (1 = masked), for one clip of n valid
 * frames.  Spans have length uniform in [mask_min_span, max(4, n/4)] and a
 * uniform start; they are drawn until at least floor(mask_ratio * n)
 * DISTINCT frames are masked (at least 1 when n >= 2), and one frame always
 * stays visible.  With paper_masking the reference behaviour instead: span
 * lengths are summed with overlaps counted twice and nothing stays visible
 * by rule.  Returns the number of masked frames. */
int jt_span_mask(jc_rng *r, const jt_config *c, int n, float *mask);

#endif
