/* ops_nn.c: operations composed of primitives.  Their gradients come from
 * the primitives' rules, so they need no backward code and no kernels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_internal.h"

jc_tensor *jc_reduce_to_shape(jc_graph *g, jc_tensor *grad, const jc_tensor *t)
{
    if (!grad)
        return NULL;
    for (int i = 0; i < grad->ndim && grad; i++) {
        int it = t->ndim - grad->ndim + i;
        int64_t d = it >= 0 ? t->shape[it] : 1;
        if (d == 1 && grad->shape[i] != 1)
            grad = jc_sum(g, grad, i);
    }
    if (grad && !jc_same_shape(grad, t))
        grad = jc_reshape(g, grad, t->ndim, t->shape);
    return grad;
}

jc_tensor *jc_mean(jc_graph *g, jc_tensor *a, int axis)
{
    jc_tensor *s = jc_sum(g, a, axis);
    return s ? jc_scale(g, s, 1.0f / (float)jc_tensor_dim(a, axis), 0) : NULL;
}

jc_tensor *jc_var(jc_graph *g, jc_tensor *a, int axis)
{
    jc_tensor *centred = jc_sub(g, a, jc_mean(g, a, axis));
    return jc_mean(g, jc_sqr(g, centred), axis);
}

static jc_tensor *flatten(jc_graph *g, jc_tensor *a)
{
    if (!a)
        return NULL;
    int64_t n = jc_tensor_nelem(a);
    return jc_reshape(g, a, 1, &n);
}

jc_tensor *jc_sum_all(jc_graph *g, jc_tensor *a) { return jc_sum(g, flatten(g, a), 0); }

jc_tensor *jc_mean_all(jc_graph *g, jc_tensor *a) { return jc_mean(g, flatten(g, a), 0); }

jc_tensor *jc_logsumexp(jc_graph *g, jc_tensor *a, int axis)
{
    /* subtracting the (constant) maximum keeps exp in range */
    jc_tensor *m = jc_stop_gradient(g, jc_max(g, a, axis));
    jc_tensor *s = jc_sum(g, jc_exp(g, jc_sub(g, a, m)), axis);
    return jc_add(g, jc_log(g, s), m);
}

jc_tensor *jc_softmax(jc_graph *g, jc_tensor *a, int axis, jc_tensor *mask)
{
    if (!mask)
        return jc_softmax_fused(g, a, axis);
    /* Dropped entries pushed 1e9 below the rest get exp(...) = 0 exactly,
     * so the kept ones are normalised among themselves; the product with
     * the mask then zeroes a row whose every entry was dropped (it would be
     * uniform) and keeps the dropped entries' gradient at zero. */
    jc_tensor *y = jc_softmax_fused(g, jc_add(g, a, jc_scale(g, mask, 1e9f, -1e9f)), axis);
    return jc_mul(g, y, mask);
}

static jc_tensor *affine_last(jc_graph *g, jc_tensor *y, jc_tensor *gamma, jc_tensor *beta)
{
    if (gamma)
        y = jc_mul(g, y, gamma);
    if (beta)
        y = jc_add(g, y, beta);
    return y;
}

jc_tensor *jc_layer_norm(jc_graph *g, jc_tensor *x, jc_tensor *gamma, jc_tensor *beta, float eps)
{
    jc_tensor *xc = jc_sub(g, x, jc_mean(g, x, -1));
    jc_tensor *var = jc_mean(g, jc_sqr(g, xc), -1);
    jc_tensor *rstd = jc_reciprocal(g, jc_sqrt(g, jc_scale(g, var, 1.0f, eps)));
    return affine_last(g, jc_mul(g, xc, rstd), gamma, beta);
}

/* Sum over axes 1 and 2 of [B, C, T] -> [B, 1, 1]. */
static jc_tensor *sum_ct(jc_graph *g, jc_tensor *x) { return jc_sum(g, jc_sum(g, x, 2), 1); }

jc_tensor *jc_group_norm1(jc_graph *g, jc_tensor *x, jc_tensor *mask, jc_tensor *gamma, jc_tensor *beta, float eps)
{
    if (!x || jc_graph_failed(g))
        return NULL;
    if (x->ndim != 3) {
        jc_graph_fail(g, JC_ERR_INVALID, "group_norm expects [B, C, T], got %d-D %s", x->ndim, x->name);
        return NULL;
    }
    int64_t C = x->shape[1];
    jc_tensor *count;
    if (mask) {
        count = jc_scale(g, jc_sum(g, mask, 2), (float)C, 0); /* [B, 1, 1] valid elements */
        x = jc_mul(g, x, mask);
    } else {
        count = jc_scalar_constant(g, (float)(C * x->shape[2]));
    }
    jc_tensor *mu = jc_div(g, sum_ct(g, x), count);
    jc_tensor *xc = jc_sub(g, x, mu);
    if (mask)
        xc = jc_mul(g, xc, mask);
    jc_tensor *var = jc_div(g, sum_ct(g, jc_sqr(g, xc)), count);
    jc_tensor *y = jc_mul(g, xc, jc_reciprocal(g, jc_sqrt(g, jc_scale(g, var, 1.0f, eps))));
    int64_t cshape[3] = {1, C, 1};
    if (gamma)
        y = jc_mul(g, y, jc_reshape(g, gamma, 3, cshape));
    if (beta)
        y = jc_add(g, y, jc_reshape(g, beta, 3, cshape));
    /* padding stays zero, exactly what a shorter input would see */
    if (mask && beta)
        y = jc_mul(g, y, mask);
    return y;
}

jc_tensor *jc_glu(jc_graph *g, jc_tensor *a, int axis)
{
    if (!a || jc_graph_failed(g))
        return NULL;
    int64_t n = jc_tensor_dim(a, axis);
    if (n % 2) {
        jc_graph_fail(g, JC_ERR_INVALID, "glu: axis %d of %s has odd length %lld", axis, a->name, (long long)n);
        return NULL;
    }
    jc_tensor *first = jc_slice(g, a, axis, 0, n / 2), *second = jc_slice(g, a, axis, n / 2, n / 2);
    return jc_mul(g, first, jc_sigmoid(g, second));
}

jc_tensor *jc_conv2d_k1(jc_graph *g, jc_tensor *x, jc_tensor *w, jc_tensor *bias, jc_conv_params p)
{
    if (!x || jc_graph_failed(g))
        return NULL;
    if (x->ndim != 4) {
        jc_graph_fail(g, JC_ERR_INVALID, "conv2d_k1 expects [B, C, H, W], got %s", x->name);
        return NULL;
    }
    int64_t B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    /* [B, C, H, W] -> [B, W, C, H] -> [B*W, C, H]: every column is a batch item */
    jc_tensor *cols = jc_permute(g, x, (int[]){0, 3, 1, 2});
    cols = jc_reshape(g, cols, 3, (int64_t[]){B * W, C, H});
    jc_tensor *y = jc_conv1d(g, cols, w, bias, p);
    if (!y)
        return NULL;
    int64_t Co = y->shape[1], Ho = y->shape[2];
    y = jc_reshape(g, y, 4, (int64_t[]){B, W, Co, Ho});
    return jc_permute(g, y, (int[]){0, 2, 3, 1});
}

jc_tensor *jc_avg_pool1d(jc_graph *g, jc_tensor *a, int kernel, int stride, int padding)
{
    if (!a || jc_graph_failed(g))
        return NULL;
    if (a->ndim != 3 || kernel < 1) {
        jc_graph_fail(g, JC_ERR_INVALID, "avg_pool1d expects [B, C, T] and kernel >= 1");
        return NULL;
    }
    /* a depthwise convolution with constant weights 1/k */
    int64_t C = a->shape[1];
    int64_t wshape[3] = {C, 1, kernel};
    float *wv = malloc((size_t)(C * kernel) * sizeof *wv);
    if (!wv) {
        jc_graph_fail(g, JC_ERR_NOMEM, "avg_pool1d: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < C * kernel; i++)
        wv[i] = 1.0f / (float)kernel;
    jc_tensor *w = jc_constant(g, "avg_pool.weight", 3, wshape, wv);
    free(wv);
    jc_conv_params p = {stride, padding, padding, 1, (int)C};
    return jc_conv1d(g, a, w, NULL, p);
}

jc_tensor *jc_frames(jc_graph *g, jc_tensor *x, int n_fft, int hop, jc_tensor *window)
{
    jc_tensor *f = jc_frames_raw(g, x, n_fft, hop);
    return window ? jc_mul(g, f, window) : f;
}

/* The DFT of each frame as [B, F, 2 bins], real parts then imaginary:
 * by FFT for powers of two that every backend transforms (the GPUs' limit),
 * otherwise by a product with the DFT matrix (columns [0, bins): cos,
 * [bins, 2 bins): -sin). */
static jc_tensor *frames_dft(jc_graph *g, jc_tensor *frames, int n_fft)
{
    if (n_fft >= 2 && n_fft <= JC_RDFT_GPU_MAX_N && !(n_fft & (n_fft - 1)))
        return jc_rdft(g, frames);
    int bins = n_fft / 2 + 1;
    float *dft = malloc((size_t)n_fft * 2 * (size_t)bins * sizeof *dft);
    if (!dft) {
        jc_graph_fail(g, JC_ERR_NOMEM, "stft: out of memory");
        return NULL;
    }
    /* angles reduced mod n_fft in integers so large k*n keeps full precision */
    for (int n = 0; n < n_fft; n++)
        for (int k = 0; k < bins; k++) {
            double ang = 2.0 * M_PI * (double)(((int64_t)k * n) % n_fft) / n_fft;
            dft[(size_t)n * 2 * bins + k] = (float)cos(ang);
            dft[(size_t)n * 2 * bins + bins + k] = (float)-sin(ang);
        }
    jc_tensor *basis = jc_constant(g, "stft.dft", 2, (int64_t[]){n_fft, 2 * bins}, dft);
    free(dft);
    return jc_matmul(g, frames, basis, 0, 0);
}

jc_tensor *jc_stft_magnitude(jc_graph *g, jc_tensor *x, int n_fft, int hop)
{
    if (!x || jc_graph_failed(g))
        return NULL;
    int bins = n_fft / 2 + 1;
    float *win = malloc((size_t)n_fft * sizeof *win);
    if (!win) {
        jc_graph_fail(g, JC_ERR_NOMEM, "stft: out of memory");
        return NULL;
    }
    /* periodic Hann, as torch.hann_window(n_fft) */
    for (int n = 0; n < n_fft; n++)
        win[n] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * n / n_fft));
    jc_tensor *w = jc_constant(g, "stft.window", 1, (int64_t[]){n_fft}, win);
    free(win);
    jc_tensor *padded = jc_pad(g, x, -1, n_fft / 2, n_fft / 2, JC_PAD_REFLECT);
    jc_tensor *frames = jc_frames(g, padded, n_fft, hop, w); /* [B, F, n_fft] */
    jc_tensor *spec = frames_dft(g, frames, n_fft);          /* [B, F, 2*bins] */
    jc_tensor *re = jc_slice(g, spec, -1, 0, bins), *im = jc_slice(g, spec, -1, bins, bins);
    jc_tensor *power = jc_add(g, jc_sqr(g, re), jc_sqr(g, im));
    /* the tiny floor keeps the gradient of sqrt finite at silent bins */
    return jc_sqrt(g, jc_scale(g, power, 1.0f, 1e-9f));
}

static jc_tensor *masked_mean(jc_graph *g, jc_tensor *d, jc_tensor *mask)
{
    if (!d)
        return NULL;
    if (!mask)
        return jc_mean_all(g, d);
    jc_tensor *num = jc_sum_all(g, jc_mul(g, d, mask));
    jc_tensor *den = jc_sum_all(g, jc_stop_gradient(g, jc_expand(g, mask, d->ndim, d->shape)));
    return jc_div(g, num, den);
}

jc_tensor *jc_l1_loss(jc_graph *g, jc_tensor *a, jc_tensor *b, jc_tensor *mask)
{
    return masked_mean(g, jc_abs(g, jc_sub(g, a, b)), mask);
}

jc_tensor *jc_mse_loss(jc_graph *g, jc_tensor *a, jc_tensor *b, jc_tensor *mask)
{
    return masked_mean(g, jc_sqr(g, jc_sub(g, a, b)), mask);
}
