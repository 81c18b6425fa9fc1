/* config.h: the model configuration: sizes of every part, the training
 * hyper-parameters of MODEL.md, and the switches that restore the paper's
 * reference behaviour where jepatok deliberately differs from it. */
#ifndef JT_CONFIG_H
#define JT_CONFIG_H

#include <stddef.h>

#define JT_MAX_BLOCKS 6
#define JT_MAX_DIMS 128

typedef struct {
    char name[32];
    int sample_rate; /* 24000 */

    /* encoder: conv_in -> blocks -> bottleneck -> conformers */
    int enc_in_channels;                /* conv_in output (64) */
    int n_blocks;                       /* 5 */
    int enc_channels[JT_MAX_BLOCKS];    /* output channels per block */
    int enc_strides[JT_MAX_BLOCKS];     /* 8 8 5 5 6: product = hop */
    int res_units;                      /* residual units per block (8) */
    int max_dilation;                   /* cap for 3^i and 5^i; 0 = none */
    int daam_gaussians;                 /* K = 4 */
    int code_dim;                       /* D = 128 */
    int conformer_layers;               /* 8 */
    int conformer_heads;                /* 16 */
    int ff_mult;                        /* 4 */
    int conv_kernel;                    /* depthwise kernel, 31 */
    float dropout;                      /* 0.1 */

    /* predictor */
    int pred_dim;   /* 256 */
    int pred_heads; /* 16 */

    /* stage 1 training */
    float mask_ratio;     /* fraction of distinct frames masked, 0.5 */
    int mask_min_span;    /* 2 */
    float ema_decay;      /* 0.996 */
    float lr, beta1, beta2, weight_decay;
    int warmup_steps;
    float clip_norm;
    float aug_gain_p, aug_noise_p; /* 0.3, 0.2 */

    /* stage 2: decoder widths (input conv, then each upsampling block) */
    int dec_channels[JT_MAX_BLOCKS + 1];
    int disc_div;   /* discriminator widths = the paper's / disc_div */

    /* stage 2 training: loss = L1 + stft_weight * MRSTFT
     *                          + adv_weight * (LSGAN_G + fm_weight * FM)
     *                          [+ stoi_weight * STOI loss + estoi_weight * ESTOI loss,
     *                           not in MODEL.md] */
    float stft_weight, adv_weight, fm_weight; /* 2.0, 0.1, 2.0 */
    float stoi_weight, estoi_weight; /* 0: off (src/stoi_loss.h) */
    int disc_start;  /* adversarial terms and discriminators from this step (5000) */
    float lr_disc;   /* 7.5e-5 */

    /* FSQ */
    int fsq_dims;                 /* = code_dim */
    int fsq_levels[JT_MAX_DIMS];  /* levels per dim (4) */

    /* Deviations from the paper's reference code, each with its switch. */
    int paper_daam_init;   /* 1: every delta_k = 0 (K behaves as 1) */
    int daam_raw_delta;    /* 1: MODEL.md's literal z = (a - mu - delta) / (sigma s);
                              0: delta in units of sigma (see daam.c) */
    int paper_masking;     /* 1: spans counted with overlaps, may mask all */
    int mask_waveform;     /* 1: zero the waveform under masked frames */
} jt_config;

/* Fill c with a named preset: "paper", "small" or "tiny".  Returns 0, or -1
 * for an unknown name. */
int jt_config_preset(const char *name, jt_config *c);
/* Apply overrides from a JSON object file ({"conformer_layers": 4, ...});
 * every key must be a known field.  Returns 0 or -1 with a message. */
int jt_config_load_overrides(jt_config *c, const char *path, char *err, size_t errlen);
/* Samples per frame: the product of the encoder strides (9600). */
int jt_config_hop(const jt_config *c);
/* Serialise / parse the configuration as JSON text (for checkpoint metadata). */
char *jt_config_to_json(const jt_config *c);
/* Copies into dst the fields that only steer training (optimiser, losses,
 * masking, augmentation, dropout; marked in config.c's field table): two
 * models whose configurations differ in nothing else have the same weights,
 * by name and shape, and compute the same way from them. */
void jt_config_copy_training(jt_config *dst, const jt_config *src);
int jt_config_from_json(jt_config *c, const char *json, char *err, size_t errlen);
/* The keys in which c differs from the preset its name names (a model
 * trained with --config overrides, or grown by --init), in table order, the
 * first max of them into keys (static strings).  Returns how many differ
 * (possibly more than max), or -1 when the name is no preset. */
int jt_config_changed_keys(const jt_config *c, const char **keys, int max);
/* Sanity checks: hop 9600, D 128, channel divisibility; message on error. */
int jt_config_validate(const jt_config *c, char *err, size_t errlen);

#endif
