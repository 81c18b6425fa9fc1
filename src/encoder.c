/* encoder.c: the JEPA encoder and predictor (MODEL.md, stage 1).
 * conv_in -> blocks (strided conv, SnakeBeta, residual units, DAAM) ->
 * 1x1 bottleneck to D -> Conformer blocks.  Every strided conv has kernel
 * 2*stride and padding stride/2 + (stride - stride/2), so it divides the
 * length exactly: T samples (a multiple of the hop) give T / hop frames. */
#include <stdio.h>

#include "model.h"

int jt_res_dilation(const jt_config *c, int u, int j)
{
    int base = j == 0 ? 1 : (j == 1 ? 3 : 5), d = 1;
    for (int i = 0; i < u && j > 0; i++) {
        d *= base;
        if (c->max_dilation > 0 && d >= c->max_dilation)
            return c->max_dilation;
    }
    return d;
}

/* Residual unit u of a block: kernel 3, dilations 1, 3^u, 5^u, masked. */
static jc_tensor *residual_unit(jt_nn *m, int u, jc_tensor *x, jc_tensor *mask)
{
    int dil[3];
    for (int j = 0; j < 3; j++)
        dil[j] = jt_res_dilation(m->cfg, u, j);
    size_t saved = jt_scope(m, "res.%d", u);
    x = jt_res_stack(m, x, 3, dil, mask);
    jt_unscope(m, saved);
    return x;
}

jc_tensor *jt_encoder(jt_nn *m, jc_tensor *wave, const jt_masks *mk)
{
    const jt_config *c = m->cfg;
    jc_graph *g = m->g;
    size_t saved = jt_scope(m, "enc");
    jc_tensor *x = jt_conv(m, "conv_in", wave, c->enc_in_channels, 7, 1, 3, 3, 1, 1);
    x = jc_mul(g, x, mk->level[0]);
    for (int b = 0; b < c->n_blocks && x; b++) {
        int s = c->enc_strides[b];
        size_t sb = jt_scope(m, "blocks.%d", b);
        x = jt_conv(m, "down", x, c->enc_channels[b], 2 * s, s, s / 2, s - s / 2, 1, 1);
        x = jc_mul(g, jt_snake(m, "snake", x), mk->level[b + 1]);
        for (int u = 0; u < c->res_units && x; u++)
            x = residual_unit(m, u, x, mk->level[b + 1]);
        x = jc_mul(g, jt_daam(m, "daam", x, mk->level[b + 1]), mk->level[b + 1]);
        jt_unscope(m, sb);
    }
    x = jc_mul(g, jt_linear(m, "bottleneck", x, c->code_dim), mk->frames);
    for (int l = 0; l < c->conformer_layers && x; l++) {
        char name[32];
        snprintf(name, sizeof name, "conformer.%d", l);
        x = jt_conformer(m, name, x, c->conformer_heads, mk);
    }
    jt_unscope(m, saved);
    return x;
}

jc_tensor *jt_predictor(jt_nn *m, jc_tensor *z, const jt_masks *mk)
{
    const jt_config *c = m->cfg;
    jc_graph *g = m->g;
    size_t saved = jt_scope(m, "pred");
    jc_tensor *h = jc_gelu(g, jt_linear(m, "in", z, c->pred_dim));
    h = jt_conformer(m, "conformer.0", jc_mul(g, h, mk->frames), c->pred_heads, mk);
    h = jc_gelu(g, jt_linear(m, "mid", h, c->pred_dim));
    h = jt_conformer(m, "conformer.1", jc_mul(g, h, mk->frames), c->pred_heads, mk);
    h = jc_mul(g, jt_linear(m, "out", h, c->code_dim), mk->frames);
    jt_unscope(m, saved);
    return h;
}

int jt_encoder_create(jc_store *st, const jt_config *c, jc_rng *rng, char *err, size_t errlen)
{
    jc_graph *g = jc_graph_new(jc_store_backend(st));
    jc_rng zero_rng;
    jc_rng_seed(&zero_rng, 0);
    jt_nn m = {.g = g, .params = st, .rng = rng ? rng : &zero_rng, .no_init = rng == NULL, .cfg = c};
    jt_masks mk;
    int64_t T = jt_config_hop(c);
    jt_masks_inputs(g, c, 1, T, &mk);
    jt_encoder(&m, jc_input(g, "wave", 3, (int64_t[]){1, 1, T}), &mk);
    jc_error e = {0};
    int r = 0;
    if (m.failed || jc_graph_status(g, &e)) {
        snprintf(err, errlen, "creating the encoder: %s", m.failed ? m.err : e.msg);
        r = -1;
    }
    jc_graph_free(g);
    return r;
}
