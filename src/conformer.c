/* conformer.c: the Conformer block of MODEL.md in [B, C, T] layout:
 *   x += 0.5 FF(x); x += MHSA(LN(x)); x += ConvModule(x); x += 0.5 FF(x); LN
 * Linear layers are 1x1 convolutions and attention works on [B, H, d, T],
 * so no transposes are needed.  Padding is masked in attention (keys), in
 * the GroupNorm statistics, before the depthwise convolution, and on the
 * block's output. */
#include <math.h>

#include "model.h"

static jc_tensor *feed_forward(jt_nn *m, const char *name, jc_tensor *x)
{
    size_t saved = jt_scope(m, "%s", name);
    int64_t C = jt_dim(x, 1);
    float p = m->cfg->dropout;
    jc_tensor *h = jt_layer_norm_channels(m, "ln", x);
    h = jt_dropout(m, jc_silu(m->g, jt_linear(m, "in", h, (int)C * m->cfg->ff_mult)), p);
    h = jt_dropout(m, jt_linear(m, "out", h, (int)C), p);
    jt_unscope(m, saved);
    return h;
}

static jc_tensor *self_attention(jt_nn *m, const char *name, jc_tensor *x, int heads, const jt_masks *mk)
{
    if (!x || m->failed)
        return NULL;
    jc_graph *g = m->g;
    int64_t B = jt_dim(x, 0), C = jt_dim(x, 1), T = jt_dim(x, 2), d = C / heads;
    size_t saved = jt_scope(m, "%s", name);
    jc_tensor *h = jt_layer_norm_channels(m, "ln", x);
    int64_t hs[4] = {B, heads, d, T};
    jc_tensor *q = jc_reshape(g, jt_linear(m, "q", h, (int)C), 4, hs);
    jc_tensor *k = jc_reshape(g, jt_linear(m, "k", h, (int)C), 4, hs);
    jc_tensor *v = jc_reshape(g, jt_linear(m, "v", h, (int)C), 4, hs);
    /* scores[b, h, tq, tk] = q[:, :, :, tq] . k[:, :, :, tk] / sqrt(d) */
    jc_tensor *scores = jc_scale(g, jc_matmul(g, q, k, 1, 0), 1.0f / sqrtf((float)d), 0);
    jc_tensor *attn = jc_softmax(g, scores, -1, mk->keys);
    /* out[b, h, :, tq] = sum_tk v[:, :, :, tk] attn[tq, tk] */
    jc_tensor *out = jc_reshape(g, jc_matmul(g, v, attn, 0, 1), 3, (int64_t[]){B, C, T});
    out = jt_dropout(m, jt_linear(m, "out", out, (int)C), m->cfg->dropout);
    jt_unscope(m, saved);
    return out;
}

static jc_tensor *group_norm(jt_nn *m, const char *name, jc_tensor *x, jc_tensor *mask)
{
    if (!x || m->failed)
        return NULL;
    jc_tensor *w, *b;
    if (jt_norm_params(m, name, jt_dim(x, 1), &w, &b))
        return NULL;
    return jc_group_norm1(m->g, x, mask, w, b, 1e-5f);
}

static jc_tensor *conv_module(jt_nn *m, const char *name, jc_tensor *x, const jt_masks *mk)
{
    if (!x || m->failed)
        return NULL;
    jc_graph *g = m->g;
    int64_t C = jt_dim(x, 1);
    int k = m->cfg->conv_kernel;
    size_t saved = jt_scope(m, "%s", name);
    jc_tensor *h = group_norm(m, "norm0", x, mk->frames);
    h = jc_glu(g, jt_linear(m, "pw_in", h, 2 * (int)C), 1);
    /* the pointwise bias refills the padding: clear it before the
     * depthwise kernel can read it into valid frames */
    h = jc_mul(g, h, mk->frames);
    h = jt_conv(m, "dw", h, (int)C, k, 1, k / 2, k / 2, 1, (int)C);
    h = jc_silu(g, group_norm(m, "norm1", h, mk->frames));
    h = jt_dropout(m, jt_linear(m, "pw_out", h, (int)C), m->cfg->dropout);
    jt_unscope(m, saved);
    return h;
}

jc_tensor *jt_conformer(jt_nn *m, const char *name, jc_tensor *x, int heads, const jt_masks *mk)
{
    if (!x || m->failed)
        return NULL;
    jc_graph *g = m->g;
    size_t saved = jt_scope(m, "%s", name);
    x = jc_add(g, x, jc_scale(g, feed_forward(m, "ff1", x), 0.5f, 0));
    x = jc_add(g, x, self_attention(m, "attn", x, heads, mk));
    x = jc_add(g, x, conv_module(m, "conv", x, mk));
    x = jc_add(g, x, jc_scale(g, feed_forward(m, "ff2", x), 0.5f, 0));
    x = jc_mul(g, jt_layer_norm_channels(m, "ln_out", x), mk->frames);
    jt_unscope(m, saved);
    return x;
}
