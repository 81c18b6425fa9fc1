/* stoi_loss.h: differentiable stand-ins for STOI and ESTOI, 1 - the mean
 * band-envelope correlation of two waves (stoi_loss.c says how they
 * differ from the metrics). */
#ifndef JT_STOI_LOSS_H
#define JT_STOI_LOSS_H

#include "jc.h"

enum {
    JT_STOI_LOSS_NFFT = 512,
    JT_STOI_LOSS_HOP = 256,
    JT_STOI_LOSS_BINS = JT_STOI_LOSS_NFFT / 2 + 1,
    JT_STOI_LOSS_BANDS = 15
};
/* Added to each segment's squared norm (|STFT| units, the sum over a
 * segment of its centred envelope squared).  Speech at the corpus level
 * (RMS about 0.12) measures 2-30 at the 1st percentile of segments and
 * about 200 at the median; 0.1 is some 40 dB under speech, like STOI's
 * silent-frame threshold: pauses and background noise hardly count. */
#define JT_STOI_LOSS_EPS 0.1f
/* Added to each ESTOI column's squared norm (one frame's 15 band values
 * after each band's row in the segment has unit norm: about 0.4 in
 * speech).  The metric has none; this one only keeps the division finite
 * where a frame's bands all sit at their segment means.  Silent segments
 * are already damped by the rows' constant above.  Measured on the
 * bundled clip against itself: 1e-4 loses 0.006 of the score, 1e-3 0.04,
 * 1e-2 0.17. */
#define JT_ESTOI_LOSS_EPS 1e-4f

/* Envelope frames per segment (384 ms) at this sample rate: 36 at 24 kHz. */
int jt_stoi_loss_segment(int rate);
/* The shortest crop (samples) that holds one segment. */
int64_t jt_stoi_loss_min_samples(int rate);
/* decoded, clean [B, 1, T] at rate Hz -> [1]: 1 - the mean over batch,
 * bands and every segment start of the correlation of the two envelopes.
 * 0 for identical speech, about 1 for unrelated signals. */
jc_tensor *jt_stoi_loss(jc_graph *g, jc_tensor *decoded, jc_tensor *clean, int rate);
/* The ESTOI form, same inputs and output: in each segment the band rows
 * are centred and scaled to unit norm (as above), then each frame's column
 * of 15 bands is centred and scaled to unit norm too, and the score is the
 * mean over frames of the columns' inner products.  It rewards the
 * spectral shape moving as the clean one does, not each band on its own. */
jc_tensor *jt_estoi_loss(jc_graph *g, jc_tensor *decoded, jc_tensor *clean, int rate);
/* Either or both (a NULL pointer skips one) from one set of envelopes:
 * both terms in a training graph cost one STFT per wave, not two. */
void jt_stoi_losses(jc_graph *g, jc_tensor *decoded, jc_tensor *clean, int rate, jc_tensor **stoi,
                    jc_tensor **estoi);

#endif
