/* decoder.c: the HiFi-GAN generator and the multi-period and multi-scale
 * discriminators (see decoder.h). */
#include <stdio.h>

#include "decoder.h"

void jt_decoder_shape_for(const jt_config *c, jt_decoder_shape *s)
{
    static const int strides[5] = {6, 5, 5, 8, 8}, periods[5] = {2, 3, 5, 7, 11};
    for (int i = 0; i < 6; i++)
        s->channels[i] = c->dec_channels[i];
    for (int i = 0; i < 5; i++) {
        s->strides[i] = strides[i];
        s->periods[i] = periods[i];
    }
    static const int k[3] = {3, 7, 11}, d[3] = {1, 3, 5};
    for (int i = 0; i < 3; i++) {
        s->mrf_kernels[i] = k[i];
        s->mrf_dilations[i] = d[i];
    }
    s->msd_scales = 3;
    s->disc_div = c->disc_div > 0 ? c->disc_div : 1;
}

/* One residual stack of the MRF (no padding to mask in the decoder). */
static jc_tensor *res_stack(jt_nn *m, int idx, jc_tensor *x, int k, const int *dil)
{
    size_t saved = jt_scope(m, "mrf.%d", idx);
    x = jt_res_stack(m, x, k, dil, NULL);
    jt_unscope(m, saved);
    return x;
}

jc_tensor *jt_decoder(jt_nn *m, const jt_decoder_shape *s, jc_tensor *z)
{
    jc_graph *g = m->g;
    size_t saved = jt_scope(m, "dec");
    jc_tensor *x = jt_linear(m, "conv_in", z, s->channels[0]);
    for (int b = 0; b < 5 && x; b++) {
        int st = s->strides[b], cout = s->channels[b + 1], cin = (int)jt_dim(x, 1);
        size_t sb = jt_scope(m, "blocks.%d", b);
        x = jt_snake(m, "snake", x);
        /* transposed conv: weight [Cin, Cout, K] as PyTorch; padding s/2 and
         * s - s/2 makes the output exactly s times longer */
        float fan_in = (float)(cout * 2 * st); /* torch computes it from weight dim 1 */
        jc_tensor *w = jt_param(m, "up.weight", 3, (int64_t[]){cin, cout, 2 * st}, JT_INIT_FAN_IN, fan_in);
        jc_tensor *bias = jt_param(m, "up.bias", 1, (int64_t[]){cout}, JT_INIT_FAN_IN, fan_in);
        x = jc_conv_transpose1d(g, x, w, bias, (jc_conv_params){st, st / 2, st - st / 2, 1, 1}, 0);
        jc_tensor *sum = NULL;
        for (int r = 0; r < 3 && x; r++) {
            jc_tensor *y = res_stack(m, r, x, s->mrf_kernels[r], s->mrf_dilations);
            sum = sum ? jc_add(g, sum, y) : y;
        }
        x = jc_scale(g, sum, 1.0f / 3.0f, 0);
        jt_unscope(m, sb);
    }
    x = jt_conv(m, "conv_out", jc_leaky_relu(g, x, 0.01f), 1, 7, 1, 3, 3, 1, 1);
    jt_unscope(m, saved);
    return jc_tanh(g, x);
}

static void add_feature(jt_disc_out *out, jc_tensor *f)
{
    if (out->n_features < JT_MAX_FEATURES)
        out->features[out->n_features++] = f;
}

void jt_mpd(jt_nn *m, const jt_decoder_shape *s, jc_tensor *wave, jt_disc_out *out)
{
    jc_graph *g = m->g;
    static const int chans[5] = {32, 128, 512, 1024, 1024};
    int64_t B = jt_dim(wave, 0), T = jt_dim(wave, 2);
    size_t saved = jt_scope(m, "mpd");
    for (int pi = 0; pi < 5 && wave; pi++) {
        int p = s->periods[pi];
        size_t sp = jt_scope(m, "p%d", p);
        jc_tensor *x = wave;
        int64_t pad = (p - T % p) % p;
        if (pad)
            x = jc_pad(g, x, 2, 0, (int)pad, JC_PAD_REFLECT);
        /* the 2-D convolutions with (k, 1) kernels are 1-D ones along H for
         * every column w: the columns become batch rows once, [B*p, 1, H]
         * (row b*p + w), and stay so through every layer (the feature
         * matching and the scores only compare real with fake rows, which
         * keep their halves of the batch), not permuted at each layer */
        int64_t H = (T + pad) / p;
        x = jc_permute(g, jc_reshape(g, x, 3, (int64_t[]){B, H, p}), (int[]){0, 2, 1});
        x = jc_reshape(g, x, 3, (int64_t[]){B * p, 1, H});
        for (int l = 0; l < 6 && x; l++) {
            int last = l == 5, cout = last ? 1 : chans[l < 4 ? l : 4] / s->disc_div;
            int k = last ? 3 : 5, stride = l < 4 ? 3 : 1, padding = last ? 1 : 2;
            char name[16];
            snprintf(name, sizeof name, last ? "post" : "conv%d", l);
            int cin = (int)jt_dim(x, 1);
            size_t sl = jt_scope(m, "%s", name);
            float fan_in = (float)(cin * k);
            jc_tensor *w = jt_param(m, "weight", 3, (int64_t[]){cout, cin, k}, JT_INIT_FAN_IN, fan_in);
            jc_tensor *b = jt_param(m, "bias", 1, (int64_t[]){cout}, JT_INIT_FAN_IN, fan_in);
            jt_unscope(m, sl);
            x = jc_conv1d(g, x, w, b, (jc_conv_params){stride, padding, padding, 1, 1});
            if (!last) {
                x = jc_leaky_relu(g, x, 0.1f);
                add_feature(out, x);
            }
        }
        if (out->n_scores < 16)
            out->score[out->n_scores++] = x;
        jt_unscope(m, sp);
    }
    jt_unscope(m, saved);
}

void jt_msd(jt_nn *m, const jt_decoder_shape *s, jc_tensor *wave, jt_disc_out *out)
{
    jc_graph *g = m->g;
    /* MelGAN's scale discriminator: 1 -> 16 (k15), grouped k41 stride 4
     * convolutions to 1024, then k5 and a k3 output */
    static const struct {
        int cout, k, stride, groups;
    } layers[7] = {{16, 15, 1, 1},    {64, 41, 4, 4},    {256, 41, 4, 16}, {1024, 41, 4, 64},
                   {1024, 41, 4, 256}, {1024, 5, 1, 1},  {1, 3, 1, 1}};
    size_t saved = jt_scope(m, "msd");
    jc_tensor *x_scale = wave;
    for (int sc = 0; sc < s->msd_scales && x_scale; sc++) {
        if (sc > 0) /* cumulative: each scale pools the previous one */
            x_scale = jc_avg_pool1d(g, x_scale, 4, 2, 2);
        size_t ss = jt_scope(m, "s%d", sc);
        jc_tensor *x = x_scale;
        for (int l = 0; l < 7 && x; l++) {
            char name[16];
            snprintf(name, sizeof name, l == 6 ? "post" : "conv%d", l);
            /* narrower variants divide widths and groups alike (16 % disc_div == 0
             * keeps every count whole and every group dividing its channels) */
            int div = s->disc_div, cout = l == 6 ? 1 : layers[l].cout / div;
            int groups = layers[l].groups / div > 1 ? layers[l].groups / div : 1;
            x = jt_conv(m, name, x, cout, layers[l].k, layers[l].stride, layers[l].k / 2, layers[l].k / 2, 1, groups);
            if (l < 6) {
                x = jc_leaky_relu(g, x, 0.1f);
                add_feature(out, x);
            }
        }
        if (out->n_scores < 16)
            out->score[out->n_scores++] = x;
        jt_unscope(m, ss);
    }
    jt_unscope(m, saved);
}

int jt_stage2_create(jc_store *gen, jc_store *disc, const jt_config *c, jc_rng *rng, double *dec_macs_per_second,
                     char *err, size_t errlen)
{
    jt_decoder_shape shape;
    jt_decoder_shape_for(c, &shape);
    jc_graph *g = jc_graph_new(jc_store_backend(gen));
    jc_rng zero_rng;
    if (!rng) { /* shapes only: a generator is still needed to allow creation */
        jc_rng_seed(&zero_rng, 0);
        rng = &zero_rng;
    }
    jt_nn m = {.g = g, .params = gen, .rng = rng, .no_init = rng == &zero_rng, .training = 1, .cfg = c};
    jt_nn md = m;
    md.params = disc;
    int64_t F = 4; /* 1.6 s: long enough for every discriminator layer */
    jc_tensor *z = jc_input(g, "z", 3, (int64_t[]){1, c->code_dim, F});
    jc_tensor *wave = jt_decoder(&m, &shape, z);
    if (dec_macs_per_second)
        *dec_macs_per_second = jc_graph_macs(g) / ((double)F * jt_config_hop(c) / c->sample_rate);
    if (disc) {
        jt_disc_out out = {0};
        jt_mpd(&md, &shape, wave, &out);
        jt_msd(&md, &shape, wave, &out);
    }
    jc_error e = {0};
    int r = 0;
    if (m.failed || md.failed || jc_graph_status(g, &e)) {
        snprintf(err, errlen, "stage 2 model: %s", m.failed ? m.err : md.failed ? md.err : e.msg);
        r = -1;
    }
    jc_graph_free(g);
    return r;
}
