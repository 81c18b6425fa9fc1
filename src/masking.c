/* masking.c: span masking for the JEPA objective (see masking.h). */
#include <string.h>

#include "masking.h"

int jt_span_mask(jc_rng *r, const jt_config *c, int n, float *mask)
{
    memset(mask, 0, (size_t)n * sizeof *mask);
    if (n < 1)
        return 0;
    int target = (int)(c->mask_ratio * n);
    int max_span = n / 4 > 4 ? n / 4 : 4;
    int min_span = c->mask_min_span < max_span ? c->mask_min_span : max_span;
    if (!c->paper_masking) {
        if (target < 1 && n >= 2)
            target = 1;
        if (target > n - 1)
            target = n - 1;
    }
    int distinct = 0, counted = 0;
    while ((c->paper_masking ? counted : distinct) < target) {
        int len = min_span + (int)jc_rng_below(r, max_span - min_span + 1);
        if (len > n)
            len = n;
        int start = (int)jc_rng_below(r, n - len + 1);
        for (int t = start; t < start + len; t++) {
            distinct += mask[t] == 0.0f;
            mask[t] = 1.0f;
        }
        counted += len; /* the reference's count: overlaps twice */
    }
    if (!c->paper_masking && distinct == n) { /* keep one frame as context */
        mask[jc_rng_below(r, n)] = 0.0f;
        distinct--;
    }
    return distinct;
}
