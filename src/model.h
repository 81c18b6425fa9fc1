/* model.h: the JEPA encoder (conv blocks with DAAM gates, then Conformer
 * blocks), the predictor, and the length masks that keep padding from
 * leaking into variable-length batches.  Layout everywhere: [B, C, T]. */
#ifndef JT_MODEL_H
#define JT_MODEL_H

#include "nn.h"

/* Masks of a batch: 1 on valid steps, 0 on padding, at every time
 * resolution the encoder goes through.  A clip of L samples counts as
 * ceil(L / hop) * hop samples (it is zero-padded to whole frames, exactly as
 * when it is processed alone), so batched and single results agree. */
typedef struct {
    int n_levels;                          /* n_blocks + 1 */
    jc_tensor *level[JT_MAX_BLOCKS + 1];   /* [B, 1, T / stride product] */
    jc_tensor *frames;                     /* = level[n_blocks]: [B, 1, F] */
    jc_tensor *keys;                       /* [B, 1, 1, F] for attention */
} jt_masks;

/* Record the masks as graph inputs for B clips of T samples (T a multiple
 * of the hop). */
int jt_masks_inputs(jc_graph *g, const jt_config *c, int64_t B, int64_t T, jt_masks *mk);
/* Upload the masks for clips of the given lengths (in samples). */
jc_status jt_masks_set(const jt_masks *mk, const jt_config *c, const int64_t *lengths, jc_error *err);
/* Frames of a clip of n samples: ceil(n / hop). */
int64_t jt_frames_for(const jt_config *c, int64_t samples);

/* DAAM gate on x [B, C, T] with statistics over valid steps. */
jc_tensor *jt_daam(jt_nn *m, const char *name, jc_tensor *x, jc_tensor *mask);
/* Conformer block at width C (= channels of x) with length masks. */
jc_tensor *jt_conformer(jt_nn *m, const char *name, jc_tensor *x, int heads, const jt_masks *mk);
/* Encoder: wave [B, 1, T] -> z [B, D, F] (padding frames zero). */
jc_tensor *jt_encoder(jt_nn *m, jc_tensor *wave, const jt_masks *mk);
/* Create the encoder's parameters ("enc.*") in st, initialised from rng
 * (NULL: zero-filled, for loading). */
int jt_encoder_create(jc_store *st, const jt_config *c, jc_rng *rng, char *err, size_t errlen);
/* Predictor: [B, D, F] -> [B, D, F]. */
jc_tensor *jt_predictor(jt_nn *m, jc_tensor *z, const jt_masks *mk);

/* Dilation of residual unit u, conv j (j = 0, 1, 2 -> 1, 3^u, 5^u). */
int jt_res_dilation(const jt_config *c, int u, int j);

#endif
