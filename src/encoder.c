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

/* HiFi-GAN type-1 residual unit; the mask between and after the two convs
 * keeps padding zero so that no bias leaks into valid steps. */
static jc_tensor *residual_unit(jt_nn *m, int u, jc_tensor *x, jc_tensor *mask)
{
    jc_graph *g = m->g;
    int C = (int)jt_dim(x, 1);
    size_t saved = jt_scope(m, "res.%d", u);
    for (int j = 0; j < 3 && x; j++) {
        int d = jt_res_dilation(m->cfg, u, j);
        char n0[16], n1[16];
        snprintf(n0, sizeof n0, "conv%d", 2 * j);
        snprintf(n1, sizeof n1, "conv%d", 2 * j + 1);
        jc_tensor *r = jt_conv(m, n0, jc_leaky_relu(g, x, 0.1f), C, 3, 1, d, d, d, 1);
        r = jc_mul(g, r, mask);
        r = jt_conv(m, n1, jc_leaky_relu(g, r, 0.1f), C, 3, 1, 1, 1, 1, 1);
        x = jc_mul(g, jc_add(g, x, r), mask);
    }
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
