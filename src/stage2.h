/* stage2.h: stage 2 (MODEL.md): the frozen (or fine-tuned) encoder, FSQ,
 * the HiFi-GAN decoder and its discriminators, and the two training-step
 * graphs.
 *
 * One step runs two graphs, each a single compute:
 *   generator step: encoder -> tanh -> FSQ (straight through) -> decoder ->
 *     L1 + stft_weight * MRSTFT [+ stoi_weight * STOI loss] [+ estoi_weight * ESTOI loss] [+ adv_weight * (LSGAN_G + fm_weight * FM)
 *     against the discriminators, whose parameters are frozen in this
 *     graph] -> backward -> AdamW on the decoder (and the encoder when it
 *     is fine-tuned);
 *   discriminator step (from disc_start on): LSGAN on the real batch and
 *     the generator step's output -> backward -> AdamW on MPD + MSD.
 * The discriminators thus see the output of the generator before its
 * update, as in HiFi-GAN; the generator's adversarial terms use the
 * discriminators of the previous step (HiFi-GAN updates D first), which
 * saves recomputing the decoder.  Both orders are common; the difference is
 * one step of D.
 *
 * Padding: clips shorter than the crop are zero-padded; the decoder output
 * is multiplied by the sample mask, so every loss compares zeros there. */
#ifndef JT_STAGE2_H
#define JT_STAGE2_H

#include "decoder.h"
#include "model.h"

typedef struct {
    jt_config cfg;
    jt_decoder_shape shape;
    jc_backend *be;
    jc_store *enc;  /* "enc.*" */
    jc_store *gen;  /* "dec.*" */
    jc_store *disc; /* "mpd.*", "msd.*" (NULL for inference) */
} jt_stage2;

/* Create the stores with parameters initialised from seed (zero-filled
 * when no_init); with_disc 0 skips the discriminators. */
int jt_stage2_model_create(jt_stage2 *m, const jt_config *c, jc_backend *be, uint64_t seed, int no_init,
                           int with_disc, char *err, size_t errlen);
void jt_stage2_model_free(jt_stage2 *m);

/* tanh, then FSQ to the configured levels with a straight-through
 * gradient: z [B, 128, F] -> quantised values; *index (may be NULL)
 * receives the level indices (as floats). */
jc_tensor *jt_quantize(jc_graph *g, const jt_config *c, jc_tensor *z, jc_tensor **index);
/* The level values of indices [B, 128, F] (as floats): (2i + 1 - L) / L. */
jc_tensor *jt_dequantize(jc_graph *g, const jt_config *c, jc_tensor *index);
/* MODEL.md's MRSTFT between waves [B, 1, T] -> [1]. */
jc_tensor *jt_mrstft_loss(jc_graph *g, jc_tensor *a, jc_tensor *b);

typedef struct {
    jc_graph *g;
    int64_t B, T;
    int adversarial;
    jt_masks mk;
    jc_tensor *wave, *smask;           /* inputs [B, 1, T] */
    jc_tensor *fake;                   /* output: the decoded batch (masked) */
    jc_tensor *loss, *l1, *stft, *stoi, *estoi, *adv, *fm, *grad_norm, *enc_grad_norm; /* (e)stoi: NULL when off */
} jt_gen_step;

typedef struct {
    jc_graph *g;
    jc_tensor *real, *fake; /* inputs [B, 1, T] */
    jc_tensor *loss, *grad_norm;
} jt_disc_step;

/* opt_gen on m->gen; opt_enc (may be NULL: encoder frozen) on m->enc. */
int jt_gen_step_build(jt_gen_step *s, jt_stage2 *m, jc_adamw *opt_gen, jc_adamw *opt_enc, int64_t B, int64_t T,
                      int adversarial, char *err, size_t errlen);
int jt_disc_step_build(jt_disc_step *s, jt_stage2 *m, jc_adamw *opt_disc, int64_t B, int64_t T, char *err,
                       size_t errlen);
void jt_gen_step_free(jt_gen_step *s);
void jt_disc_step_free(jt_disc_step *s);

#endif
