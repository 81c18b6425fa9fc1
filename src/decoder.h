/* decoder.h: stage 2's generator and discriminators (MODEL.md).
 *
 * Decoder (HiFi-GAN generator): 1x1 conv 128 -> C0; blocks of SnakeBeta ->
 * ConvTranspose1d (kernel 2s, stride s, padding s/2 and s - s/2 so each
 * block multiplies the length by exactly s) -> MRF (the mean of residual
 * stacks with kernels 3, 7, 11 and dilations 1, 3, 5); leaky ReLU, Conv1d
 * C -> 1 kernel 7, tanh.  F frames in -> F * 9600 samples out.
 * Multi-period discriminator: periods 2, 3, 5, 7, 11; (k, 1) convolutions
 * 1 -> 32 -> 128 -> 512 -> 1024 -> 1024 -> 1.  Multi-scale discriminator:
 * 3 scales, each seeing the signal average-pooled once more than the last
 * (cumulative: a deviation from the reference, which pools the raw signal
 * twice); MelGAN-style grouped convolutions. */
#ifndef JT_DECODER_H
#define JT_DECODER_H

#include "nn.h"

#define JT_MAX_FEATURES 64

/* Sizes of stage 2 (fixed across configurations except the widths). */
typedef struct {
    int channels[6]; /* decoder widths: input conv out, then each block's out */
    int strides[5];  /* 6 5 5 8 8: product 9600 */
    int mrf_kernels[3], mrf_dilations[3];
    int periods[5];
    int msd_scales;
    int disc_div; /* discriminator widths divided by this */
} jt_decoder_shape;

void jt_decoder_shape_for(const jt_config *c, jt_decoder_shape *s);

/* z [B, 128, F] (quantised codes) -> wave [B, 1, F * 9600]. */
jc_tensor *jt_decoder(jt_nn *m, const jt_decoder_shape *s, jc_tensor *z);

/* A discriminator's outputs: the final score map and every intermediate
 * feature map (for the feature-matching loss). */
typedef struct {
    jc_tensor *score[16];
    int n_scores;
    jc_tensor *features[JT_MAX_FEATURES];
    int n_features;
} jt_disc_out;

/* wave [B, 1, T] through all periods (appending to out). */
void jt_mpd(jt_nn *m, const jt_decoder_shape *s, jc_tensor *wave, jt_disc_out *out);
/* wave [B, 1, T] through all scales (appending to out). */
void jt_msd(jt_nn *m, const jt_decoder_shape *s, jc_tensor *wave, jt_disc_out *out);

/* Create the decoder's parameters ("dec.*") in gen and both discriminators'
 * ("mpd.*", "msd.*") in disc (may be gen; NULL: decoder only), initialised
 * from rng or zero-filled when rng is NULL; *dec_macs_per_second (may be
 * NULL) receives the decoder's cost. */
int jt_stage2_create(jc_store *gen, jc_store *disc, const jt_config *c, jc_rng *rng, double *dec_macs_per_second,
                     char *err, size_t errlen);

#endif
