/* config.c: presets, JSON overrides and serialisation of jt_config.
 * One table lists every field, so parsing, printing and validation of
 * names cannot drift apart. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

typedef enum { F_INT, F_FLOAT, F_INTS, F_STR } field_type;

typedef struct {
    const char *key;
    field_type type;
    size_t offset;
    int count;    /* F_INTS: capacity of the array */
    int training; /* 1: steers only training (optimiser, losses, masking,
                     augmentation, dropout), not the weights' shapes or use */
} field;

#define FI(k) {#k, F_INT, offsetof(jt_config, k), 1, 0}
#define FF(k) {#k, F_FLOAT, offsetof(jt_config, k), 1, 0}
#define FA(k, n) {#k, F_INTS, offsetof(jt_config, k), n, 0}
#define TI(k) {#k, F_INT, offsetof(jt_config, k), 1, 1}
#define TF(k) {#k, F_FLOAT, offsetof(jt_config, k), 1, 1}

static const field fields[] = {
    {"name", F_STR, offsetof(jt_config, name), 32, 0},
    FI(sample_rate), FI(enc_in_channels), FI(n_blocks), FA(enc_channels, JT_MAX_BLOCKS),
    FA(enc_strides, JT_MAX_BLOCKS), FI(res_units), FI(max_dilation), FI(daam_gaussians), FI(code_dim),
    FI(conformer_layers), FI(conformer_heads), FI(ff_mult), FI(conv_kernel), TF(dropout), FI(pred_dim),
    FI(pred_heads), TF(mask_ratio), TI(mask_min_span), TF(ema_decay), TF(lr), TF(beta1), TF(beta2),
    TF(weight_decay), TI(warmup_steps), FA(dec_channels, JT_MAX_BLOCKS + 1), FI(disc_div), TF(stft_weight),
    TF(stoi_weight), TF(estoi_weight), TF(adv_weight), TF(fm_weight), TI(disc_start), TF(lr_disc), TF(clip_norm),
    TF(aug_gain_p), TF(aug_noise_p), FI(fsq_dims), FA(fsq_levels, JT_MAX_DIMS), FI(paper_daam_init), FI(daam_raw_delta),
    TI(paper_masking), TI(mask_waveform),
};
#define N_FIELDS ((int)(sizeof fields / sizeof fields[0]))

/* bytes a field takes in jt_config */
static size_t field_bytes(const field *f)
{
    return f->type == F_INTS  ? (size_t)f->count * sizeof(int)
           : f->type == F_STR ? (size_t)f->count
           : f->type == F_FLOAT ? sizeof(float)
                                : sizeof(int);
}

static void common(jt_config *c)
{
    memset(c, 0, sizeof *c);
    c->sample_rate = 24000;
    c->n_blocks = 5;
    static const int strides[5] = {8, 8, 5, 5, 6};
    memcpy(c->enc_strides, strides, sizeof strides);
    c->daam_gaussians = 4;
    c->code_dim = 128;
    c->ff_mult = 4;
    c->dropout = 0.1f;
    c->mask_ratio = 0.5f;
    c->mask_min_span = 2;
    c->ema_decay = 0.996f;
    c->lr = 1.5e-4f;
    c->beta1 = 0.8f;
    c->beta2 = 0.99f;
    c->weight_decay = 1e-3f;
    c->warmup_steps = 1000;
    c->clip_norm = 1.0f;
    c->aug_gain_p = 0.3f;
    c->aug_noise_p = 0.2f;
    c->fsq_dims = 128;
    c->disc_div = 1;
    c->stft_weight = 2.0f;
    c->adv_weight = 0.1f;
    c->fm_weight = 2.0f;
    c->disc_start = 5000;
    c->lr_disc = 7.5e-5f;
    for (int i = 0; i < JT_MAX_DIMS; i++)
        c->fsq_levels[i] = 4;
}

int jt_config_preset(const char *name, jt_config *c)
{
    common(c);
    if (strcmp(name, "paper") == 0) {
        static const int ch[5] = {128, 256, 384, 512, 512}, dec[6] = {512, 512, 384, 256, 128, 64};
        memcpy(c->enc_channels, ch, sizeof ch);
        memcpy(c->dec_channels, dec, sizeof dec);
        c->enc_in_channels = 64;
        c->res_units = 8;
        c->conformer_layers = 8;
        c->conformer_heads = 16;
        c->conv_kernel = 31;
        c->pred_dim = 256;
        c->pred_heads = 16;
    } else if (strcmp(name, "small") == 0) {
        /* about 1/16 of the paper's convolution cost: real time on 2 cores
         * with a wide margin (jepatok info prints the MACs per second).  The
         * decoder's last two blocks run at 3 and 24 kHz and cost most: they
         * are narrowest (24 and 12 channels; 32 and 16 cost 1.5x more) */
        static const int ch[5] = {32, 64, 96, 128, 128}, dec[6] = {128, 128, 96, 64, 24, 12};
        memcpy(c->enc_channels, ch, sizeof ch);
        memcpy(c->dec_channels, dec, sizeof dec);
        c->enc_in_channels = 16;
        c->res_units = 3;
        c->conformer_layers = 4;
        c->conformer_heads = 8;
        c->conv_kernel = 31;
        c->pred_dim = 128;
        c->pred_heads = 8;
        c->disc_div = 4;
    } else if (strcmp(name, "tiny") == 0) {
        /* a few thousand parameters, for unit tests: the encoder has no
         * Conformer layer (at the fixed width D = 128 one alone would hold
         * ~0.4 M); the predictor's two Conformers run at width 8 */
        static const int ch[5] = {4, 4, 8, 8, 8}, dec[6] = {8, 8, 8, 4, 4, 4};
        memcpy(c->enc_channels, ch, sizeof ch);
        memcpy(c->dec_channels, dec, sizeof dec);
        c->enc_in_channels = 4;
        c->res_units = 1;
        c->conformer_layers = 0;
        c->conformer_heads = 2;
        c->ff_mult = 2;
        c->conv_kernel = 5;
        c->pred_dim = 8;
        c->pred_heads = 2;
        c->disc_div = 16;
        c->warmup_steps = 10;
        c->disc_start = 2;
    } else {
        return -1;
    }
    snprintf(c->name, sizeof c->name, "%s", name);
    return 0;
}

int jt_config_hop(const jt_config *c)
{
    int hop = 1;
    for (int i = 0; i < c->n_blocks; i++)
        hop *= c->enc_strides[i];
    return hop;
}

int jt_config_validate(const jt_config *c, char *err, size_t errlen)
{
    if (c->n_blocks < 1 || c->n_blocks > JT_MAX_BLOCKS) {
        snprintf(err, errlen, "n_blocks %d outside 1..%d", c->n_blocks, JT_MAX_BLOCKS);
        return -1;
    }
    if (jt_config_hop(c) != 9600 || c->sample_rate != 24000) {
        snprintf(err, errlen, "the encoder strides must multiply to 9600 at 24 kHz (2.5 frames/s), got %d at %d Hz",
                 jt_config_hop(c), c->sample_rate);
        return -1;
    }
    if (c->code_dim != 128 || c->fsq_dims != 128) {
        snprintf(err, errlen, "the code dimension is fixed at 128 (got %d)", c->code_dim);
        return -1;
    }
    if (c->conformer_heads < 1 || c->code_dim % c->conformer_heads || c->pred_heads < 1 ||
        c->pred_dim % c->pred_heads) {
        snprintf(err, errlen, "attention heads must divide the widths (%d/%d, %d/%d)", c->code_dim,
                 c->conformer_heads, c->pred_dim, c->pred_heads);
        return -1;
    }
    if (c->conv_kernel % 2 == 0 || c->conv_kernel < 1) {
        snprintf(err, errlen, "the depthwise kernel must be odd (got %d)", c->conv_kernel);
        return -1;
    }
    for (int i = 0; i < c->n_blocks; i++)
        if (c->enc_channels[i] < 1 || c->enc_strides[i] < 1) {
            snprintf(err, errlen, "block %d: channels %d, stride %d", i, c->enc_channels[i], c->enc_strides[i]);
            return -1;
        }
    if (c->disc_div < 1 || 16 % c->disc_div) {
        snprintf(err, errlen, "disc_div must divide 16 (got %d)", c->disc_div);
        return -1;
    }
    if (!(c->mask_ratio > 0 && c->mask_ratio < 1) || c->mask_min_span < 1) {
        snprintf(err, errlen, "mask_ratio must be in (0, 1) and mask_min_span >= 1");
        return -1;
    }
    return 0;
}

static int set_field(jt_config *c, const field *f, json_t *v, char *err, size_t errlen)
{
    char *base = (char *)c + f->offset;
    switch (f->type) {
    case F_INT:
        if (!json_is_integer(v))
            goto bad;
        *(int *)base = (int)json_integer_value(v);
        return 0;
    case F_FLOAT:
        if (!json_is_number(v))
            goto bad;
        *(float *)base = (float)json_number_value(v);
        return 0;
    case F_STR:
        if (!json_is_string(v))
            goto bad;
        snprintf(base, (size_t)f->count, "%s", json_string_value(v));
        return 0;
    case F_INTS: {
        if (!json_is_array(v) || (int)json_array_size(v) > f->count)
            goto bad;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!json_is_integer(e))
                goto bad;
            ((int *)base)[i] = (int)json_integer_value(e);
        }
        return 0;
    }
    }
bad:
    snprintf(err, errlen, "configuration key '%s' has the wrong type", f->key);
    return -1;
}

static int apply_json(jt_config *c, json_t *root, char *err, size_t errlen)
{
    if (!json_is_object(root)) {
        snprintf(err, errlen, "configuration must be a JSON object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        int found = 0;
        for (int i = 0; i < N_FIELDS && !found; i++)
            if (strcmp(fields[i].key, key) == 0) {
                if (set_field(c, &fields[i], v, err, errlen))
                    return -1;
                found = 1;
            }
        if (!found) {
            snprintf(err, errlen, "unknown configuration key '%s'", key);
            return -1;
        }
    }
    return jt_config_validate(c, err, errlen);
}

int jt_config_load_overrides(jt_config *c, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
        return -1;
    }
    char inner[256];
    int r = apply_json(c, root, inner, sizeof inner);
    if (r)
        snprintf(err, errlen, "%s: %s", path, inner);
    json_decref(root);
    return r;
}

int jt_config_from_json(jt_config *c, const char *text, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root) {
        snprintf(err, errlen, "configuration JSON: %s", je.text);
        return -1;
    }
    common(c);
    int r = apply_json(c, root, err, errlen);
    json_decref(root);
    return r;
}

char *jt_config_to_json(const jt_config *c)
{
    json_t *root = json_object();
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        const char *base = (const char *)c + f->offset;
        json_t *v = NULL;
        switch (f->type) {
        case F_INT: v = json_integer(*(const int *)base); break;
        case F_FLOAT: v = json_real(*(const float *)base); break;
        case F_STR: v = json_string(base); break;
        case F_INTS: {
            int n = strcmp(f->key, "fsq_levels") == 0 ? c->fsq_dims
                    : strcmp(f->key, "dec_channels") == 0 ? c->n_blocks + 1 : c->n_blocks;
            v = json_array();
            for (int k = 0; k < n && k < f->count; k++)
                json_array_append_new(v, json_integer(((const int *)base)[k]));
            break;
        }
        }
        json_object_set_new(root, f->key, v);
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}

void jt_config_copy_training(jt_config *dst, const jt_config *src)
{
    for (int i = 0; i < N_FIELDS; i++)
        if (fields[i].training)
            memcpy((char *)dst + fields[i].offset, (const char *)src + fields[i].offset, field_bytes(&fields[i]));
}

int jt_config_changed_keys(const jt_config *c, const char **keys, int max)
{
    jt_config preset;
    if (jt_config_preset(c->name, &preset))
        return -1;
    int n = 0;
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (f->type == F_STR)
            continue; /* the name is what is compared against */
        if (memcmp((const char *)c + f->offset, (const char *)&preset + f->offset, field_bytes(f)) == 0)
            continue;
        if (n < max)
            keys[n] = f->key;
        n++;
    }
    return n;
}
