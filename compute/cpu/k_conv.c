/* k_conv.c: batched matmul and the three convolution kernels.
 * Convolutions are im2col/col2im over blocks of time + GEMM, so memory for
 * the column matrix stays bounded however long the signal; depthwise
 * convolutions (one channel per group) use a direct loop instead, and
 * stride-1 single-group forward convolutions (and the input gradients that
 * reduce to one) the direct kernel of k_conv_direct.c where it is faster,
 * and their weight gradients that of k_conv_direct_dw.c.  Strided or
 * grouped convolutions become such stride-1 ones over their input's phases
 * where that is faster ("phase-stacked convolutions", below). */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

/* --------------------------------------------------------------- matmul */

typedef struct {
    jc_cpu_ctx *c;
    jc_tensor *t;
    const float *a, *b;
    float *y;
    int M, N, K, ta, tb;
    int64_t a_step, b_step; /* elements between batch items, 0 = shared */
} matmul_job;

static void matmul_one(matmul_job *j, long i, jc_threadpool *tp, jc_gemm_impl impl)
{
    int lda = j->ta ? j->M : j->K, ldb = j->tb ? j->K : j->N;
    jc_sgemm(impl, tp, j->ta, j->tb, j->M, j->N, j->K, 1.0f, j->a + i * j->a_step, lda, j->b + i * j->b_step, ldb,
             0.0f, j->y + (int64_t)i * j->M * j->N, j->N);
}

static void matmul_batch_range(void *p, long lo, long hi)
{
    matmul_job *j = p;
    for (long i = lo; i < hi; i++) /* one thread per batch item: our own kernel, single-threaded */
        matmul_one(j, i, NULL, JC_GEMM_OWN);
}

jc_status jc_cpu_matmul(jc_cpu_ctx *c, jc_tensor *t)
{
    const jc_tensor *a = t->src[0], *b = t->src[1];
    matmul_job j = {c, t, jc_cpu_data(a), jc_cpu_data(b), jc_cpu_data(t), 0, 0, 0, t->ip[0], t->ip[1], 0, 0};
    j.M = (int)t->shape[t->ndim - 2];
    j.N = (int)t->shape[t->ndim - 1];
    j.K = (int)(j.ta ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1]);
    long batch = (long)(jc_tensor_nelem(t) / ((int64_t)j.M * j.N));
    j.a_step = a->ndim > 2 ? (int64_t)j.M * j.K : 0;
    j.b_step = b->ndim > 2 ? (int64_t)j.K * j.N : 0;
    double flops = 2.0 * j.M * j.N * j.K;
    /* many small products (attention heads): spread the batch over threads;
     * few large ones: let the GEMM use every thread */
    if (batch >= c->nthreads && flops < 4e6)
        jc_cpu_parallel(c, batch, flops, matmul_batch_range, &j);
    else
        for (long i = 0; i < batch; i++)
            matmul_one(&j, i, c->pool, c->gemm);
    return JC_OK;
}

/* ----------------------------------------------------------- convolution */

typedef struct {
    int B, Cin, Cout, G, K, stride, pad_l, dil;
    int64_t Tin, Tout;
} conv_geom;

static conv_geom geom_of(const jc_tensor *x, const jc_tensor *y, const jc_tensor *w, const jc_tensor *t)
{
    conv_geom g = {(int)x->shape[0], (int)x->shape[1], (int)y->shape[1], t->ip[4], (int)w->shape[2],
                   t->ip[0], t->ip[1], t->ip[3], x->shape[2], y->shape[2]};
    return g;
}

/* Columns per im2col block: enough for GEMM efficiency, bounded memory. */
static int64_t block_len(const conv_geom *g)
{
    int64_t rows = (int64_t)(g->Cin / g->G) * g->K;
    int64_t len = (4 << 20) / (rows > 0 ? rows : 1); /* ~16 MiB of floats */
    if (len < 64)
        len = 64;
    len = len / 64 * 64;
    return len < g->Tout ? len : g->Tout;
}

/* col[(ci*K + k) * n + j] = x[ci, (t0+j)*stride - pad + k*dil] (0 outside) */
static void im2col(const conv_geom *g, const float *x, int cin, int64_t t0, int64_t n, float *col)
{
    for (int ci = 0; ci < cin; ci++)
        for (int k = 0; k < g->K; k++) {
            float *dst = col + ((int64_t)ci * g->K + k) * n;
            const float *src = x + (int64_t)ci * g->Tin;
            int64_t off = k * g->dil - g->pad_l;
            for (int64_t j = 0; j < n; j++) {
                int64_t ti = (t0 + j) * g->stride + off;
                dst[j] = (ti >= 0 && ti < g->Tin) ? src[ti] : 0.0f;
            }
        }
}

static void col2im_add(const conv_geom *g, const float *col, int cin, int64_t t0, int64_t n, float *x)
{
    for (int ci = 0; ci < cin; ci++)
        for (int k = 0; k < g->K; k++) {
            const float *src = col + ((int64_t)ci * g->K + k) * n;
            float *dst = x + (int64_t)ci * g->Tin;
            int64_t off = k * g->dil - g->pad_l;
            for (int64_t j = 0; j < n; j++) {
                int64_t ti = (t0 + j) * g->stride + off;
                if (ti >= 0 && ti < g->Tin)
                    dst[ti] += src[j];
            }
        }
}

static int is_depthwise(const conv_geom *g) { return g->G == g->Cin && g->G == g->Cout; }

/* Depthwise kernels: one (batch, channel) row per work item.  Forward and
 * input gradient loop over the taps outside and over time inside (within
 * blocks of DW_BLOCK steps that stay in L1), so the inner loop is one
 * multiply-add per step that the compiler vectorises; every output still
 * adds its terms in the order of the plain loop (taps in increasing order
 * for the forward, output steps in increasing order for the gradient). */
typedef struct {
    const conv_geom *g;
    const float *x, *w, *bias, *dy;
    float *y;
} dw_job;

#define DW_BLOCK 2048

/* y[t] += w * x[t] for t < n: four steps a vector (the default build
 * targets baseline x86-64, where GCC's -O2 does not vectorise this loop
 * itself), the same sums as the scalar loop. */
static void dw_axpy(float *y, const float *x, float w, int64_t n)
{
    int64_t t = 0;
#if defined(__GNUC__)
    v4f wv = {w, w, w, w};
    for (; t + 4 <= n; t += 4) {
        v4f v = v4_load(y + t) + wv * v4_load(x + t);
        memcpy(y + t, &v, sizeof v);
    }
#endif
    for (; t < n; t++)
        y[t] += w * x[t];
}

/* The output steps t in [lo, hi) of tap k that read an input sample in
 * [0, Tin): 0 <= t * stride - pad_l + k * dil < Tin. */
static void dw_tap_range(const conv_geom *g, int k, int64_t lo, int64_t hi, int64_t *t0, int64_t *t1)
{
    int64_t off = (int64_t)k * g->dil - g->pad_l, s = g->stride;
    int64_t first = off >= 0 ? 0 : (-off + s - 1) / s;          /* t * s + off >= 0 */
    int64_t end = g->Tin - off <= 0 ? 0 : (g->Tin - off + s - 1) / s; /* t * s + off < Tin */
    *t0 = first > lo ? first : lo;
    *t1 = end < hi ? end : hi;
}

static void dw_forward_range(void *p, long lo, long hi)
{
    dw_job *j = p;
    const conv_geom *g = j->g;
    for (long r = lo; r < hi; r++) {
        int c = (int)(r % g->Cin);
        const float *x = j->x + r * g->Tin, *w = j->w + (int64_t)c * g->K;
        float *y = j->y + r * g->Tout;
        float b = j->bias ? j->bias[c] : 0.0f;
        for (int64_t blk = 0; blk < g->Tout; blk += DW_BLOCK) {
            int64_t blk_end = blk + DW_BLOCK < g->Tout ? blk + DW_BLOCK : g->Tout;
            for (int64_t t = blk; t < blk_end; t++)
                y[t] = b;
            for (int k = 0; k < g->K; k++) {
                int64_t t0, t1;
                dw_tap_range(g, k, blk, blk_end, &t0, &t1);
                const float *xk = x + (int64_t)k * g->dil - g->pad_l;
                float wk = w[k];
                if (g->stride == 1)
                    dw_axpy(y + t0, xk + t0, wk, t1 - t0);
                else
                    for (int64_t t = t0; t < t1; t++)
                        y[t] += wk * xk[t * g->stride];
            }
        }
    }
}

static void dw_bwd_input_range(void *p, long lo, long hi)
{
    dw_job *j = p; /* y = dx [B, C, Tin]; dy [B, C, Tout] */
    const conv_geom *g = j->g;
    for (long r = lo; r < hi; r++) {
        int c = (int)(r % g->Cin);
        const float *dy = j->dy + r * g->Tout, *w = j->w + (int64_t)c * g->K;
        float *dx = j->y + r * g->Tin;
        float b = j->bias ? j->bias[c] : 0.0f;
        for (int64_t i = 0; i < g->Tin; i++)
            dx[i] = b;
        /* an input sample's terms come from output steps t = (i + pad_l -
         * k dil) / stride: taps in decreasing order give increasing t */
        for (int64_t blk = 0; blk < g->Tout; blk += DW_BLOCK) {
            int64_t blk_end = blk + DW_BLOCK < g->Tout ? blk + DW_BLOCK : g->Tout;
            for (int k = g->K - 1; k >= 0; k--) {
                int64_t t0, t1;
                dw_tap_range(g, k, blk, blk_end, &t0, &t1);
                float *dxk = dx + (int64_t)k * g->dil - g->pad_l;
                float wk = w[k];
                if (g->stride == 1)
                    dw_axpy(dxk + t0, dy + t0, wk, t1 - t0);
                else
                    for (int64_t t = t0; t < t1; t++)
                        dxk[t * g->stride] += wk * dy[t];
            }
        }
    }
}

static void dw_bwd_weight_range(void *p, long lo, long hi)
{
    dw_job *j = p; /* y = dw [C, 1, K]; sums over the batch in a fixed order */
    const conv_geom *g = j->g;
    for (long c = lo; c < hi; c++)
        for (int k = 0; k < g->K; k++) {
            double s = 0;
            for (int b = 0; b < g->B; b++) {
                const float *x = j->x + ((int64_t)b * g->Cin + c) * g->Tin;
                const float *dy = j->dy + ((int64_t)b * g->Cin + c) * g->Tout;
                for (int64_t t = 0; t < g->Tout; t++) {
                    int64_t ti = t * g->stride - g->pad_l + (int64_t)k * g->dil;
                    if (ti >= 0 && ti < g->Tin)
                        s += (double)dy[t] * x[ti];
                }
            }
            j->y[c * g->K + k] = (float)s;
        }
}

static void add_bias(float *y, const float *bias, int C, int64_t T)
{
    for (int c = 0; c < C; c++)
        for (int64_t t = 0; t < T; t++)
            y[(int64_t)c * T + t] += bias[c];
}

/* y = conv(x, w) + bias for the geometry g (not depthwise): im2col over
 * blocks of time, one GEMM per block and group. */
static jc_status conv_forward_gemm(jc_cpu_ctx *c, const conv_geom *gp, const float *xd, const float *wd,
                                   const float *bd, float *yd)
{
    conv_geom g = *gp;
    int cin = g.Cin / g.G, cout = g.Cout / g.G, rows = cin * g.K;
    int direct = g.K == 1 && g.stride == 1 && g.pad_l == 0 && g.Tout == g.Tin; /* x is its own column matrix */
    int64_t blk = block_len(&g);
    float *col = direct ? NULL : jc_cpu_scratch(c, (size_t)rows * (size_t)blk);
    if (!direct && !col)
        return JC_ERR_NOMEM;
    for (int b = 0; b < g.B; b++)
        for (int gi = 0; gi < g.G; gi++) {
            const float *xg = xd + ((int64_t)b * g.Cin + (int64_t)gi * cin) * g.Tin;
            const float *wg = wd + (int64_t)gi * cout * rows;
            float *yg = yd + ((int64_t)b * g.Cout + (int64_t)gi * cout) * g.Tout;
            if (direct) {
                jc_sgemm(c->gemm, c->pool, 0, 0, cout, (int)g.Tout, rows, 1.0f, wg, rows, xg, (int)g.Tin, 0.0f, yg,
                         (int)g.Tout);
                continue;
            }
            for (int64_t t0 = 0; t0 < g.Tout; t0 += blk) {
                int64_t n = g.Tout - t0 < blk ? g.Tout - t0 : blk;
                im2col(&g, xg, cin, t0, n, col);
                jc_sgemm(c->gemm, c->pool, 0, 0, cout, (int)n, rows, 1.0f, wg, rows, col, (int)n, 0.0f, yg + t0,
                         (int)g.Tout);
            }
        }
    if (bd)
        for (int b = 0; b < g.B; b++)
            add_bias(yd + (int64_t)b * g.Cout * g.Tout, bd, g.Cout, g.Tout);
    return JC_OK;
}

/* JC_CONV=gemm|direct: the path forced for every stride-1 single-group
 * convolution pass, or -1. */
static int forced_path(void)
{
    const char *env = getenv("JC_CONV");
    if (env && !strcmp(env, "gemm"))
        return 0;
    if (env && !strcmp(env, "direct"))
        return 1;
    return -1;
}

/* Direct convolution (k_conv_direct.c) or im2col + GEMM for a stride-1,
 * single-group convolution, by measurement on Zen 5 (one thread, AVX-512,
 * CPU time; the AVX2 and portable direct kernels gain as much or more over
 * their GEMMs).  With rows of a few hundred steps the direct kernel runs at
 * 180-200 GFLOP/s from 16 to 1024 channels: 4-6x the GEMM path at 16-32
 * channels (im2col traffic, GEMM M = Cout too small), 2-2.5x at 64, 1.2-1.6x
 * at 128-512.  It loses (0.7-0.95x) on short rows of many channels, where
 * packing the weights is not paid back and the GEMM's wide tiles fill: at
 * 256 channels below ~64 steps, 512 below ~200, 1024 below ~450, hence
 * steps >= Cin / 2.  Few output channels (<= 64) or inputs (<= 128) win or
 * tie at any length.  JC_CONV=gemm or JC_CONV=direct forces one path (read
 * on every call, for the tests and for measuring). */
static int use_direct(const conv_geom *g)
{
    if (g->stride != 1 || g->G != 1)
        return 0;
    int f = forced_path();
    if (f >= 0)
        return f;
    return g->Cout <= 64 || g->Cin <= 128 || (int64_t)g->B * g->Tout >= g->Cin / 2;
}

/* The weight gradient: direct kernel (k_conv_direct_dw.c) or im2col + GEMM,
 * by measurement on Zen 5 (AVX-512, one and two threads).  With rows of a
 * few hundred steps or more the direct kernel runs at 130-190 GFLOP/s a
 * core: 7-8x the GEMM path at 12-24 channels (the decoder's last blocks),
 * 2-3x at 48-64, 1.1-2x at 128-256 (the GEMM path drops to ~65 GFLOP/s
 * once rows pass ~192 steps); with 512 channels it ties at 2048 steps and
 * loses (0.85-0.93x) at 256-512.  Below ~192 steps its per-chunk lane
 * reductions and edge copies weigh more and the GEMM, whose reduction runs
 * over the whole batch, wins from 128 output channels (direct 0.5-0.9x),
 * but not with few output channels (M = Cout starves the GEMM).
 * JC_CONV=gemm|direct forces a path here too. */
static int use_direct_dw(const conv_geom *g)
{
    if (g->stride != 1 || g->G != 1)
        return 0;
    int f = forced_path();
    if (f >= 0)
        return f;
    if (g->Cout <= 32 || (g->Cout <= 64 && g->Tout >= 128))
        return 1;
    return g->Tout >= 2048 || (g->Tout >= 192 && (int64_t)g->Cin * g->Cout <= 256 * 256);
}

static jc_status conv_forward(jc_cpu_ctx *c, const conv_geom *g, const float *xd, const float *wd, const float *bd,
                              float *yd)
{
    if (use_direct(g))
        return jc_cpu_conv1d_direct(c, g->B, g->Cin, g->Cout, g->K, g->pad_l, g->dil, g->Tin, g->Tout, xd, wd, bd,
                                    yd);
    return conv_forward_gemm(c, g, xd, wd, bd, yd);
}

/* For stride 1 the input gradient is itself a convolution: of dy with the
 * weights flipped in time and with in/out channels swapped, padded by
 * dil*(K-1) - pad_l.  That keeps the GEMM's output contiguous and avoids the
 * scatter-add of col2im, which dominates at small channel counts. */
static jc_status conv_bwd_input_as_conv(jc_cpu_ctx *c, const conv_geom *g, const float *dyd, const float *wd,
                                        const float *bd, float *dxd)
{
    int cin = g->Cin / g->G, cout = g->Cout / g->G;
    size_t n = (size_t)g->Cout * (size_t)cin * (size_t)g->K;
    float *wf = malloc(n * sizeof *wf);
    if (!wf)
        return JC_ERR_NOMEM;
    for (int gi = 0; gi < g->G; gi++)
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                for (int k = 0; k < g->K; k++)
                    wf[(((size_t)gi * cin + ci) * cout + co) * g->K + (g->K - 1 - k)] =
                        wd[(((size_t)gi * cout + co) * cin + ci) * g->K + k];
    conv_geom f = {g->B, g->Cout, g->Cin, g->G, g->K, 1, g->dil * (g->K - 1) - g->pad_l, g->dil, g->Tout, g->Tin};
    jc_status s = conv_forward(c, &f, dyd, wf, bd, dxd);
    free(wf);
    return s;
}

/* dx (+ bias) for the geometry g (not depthwise): a convolution where the
 * stride is 1, else GEMM + col2im. */
static jc_status conv_bwd_input(jc_cpu_ctx *c, const conv_geom *gp, const float *dyd, const float *wd,
                                const float *bd, float *dxd)
{
    conv_geom g = *gp;
    int cin = g.Cin / g.G, cout = g.Cout / g.G, rows = cin * g.K;
    int direct = g.K == 1 && g.stride == 1 && g.pad_l == 0 && g.Tout == g.Tin;
    if (!direct && g.stride == 1 && g.pad_l <= g.dil * (g.K - 1))
        return conv_bwd_input_as_conv(c, &g, dyd, wd, bd, dxd);
    int64_t blk = block_len(&g);
    float *col = direct ? NULL : jc_cpu_scratch(c, (size_t)rows * (size_t)blk);
    if (!direct && !col)
        return JC_ERR_NOMEM;
    if (!direct)
        memset(dxd, 0, (size_t)g.B * (size_t)g.Cin * (size_t)g.Tin * sizeof *dxd);
    for (int b = 0; b < g.B; b++)
        for (int gi = 0; gi < g.G; gi++) {
            const float *dyg = dyd + ((int64_t)b * g.Cout + (int64_t)gi * cout) * g.Tout;
            const float *wg = wd + (int64_t)gi * cout * rows;
            float *dxg = dxd + ((int64_t)b * g.Cin + (int64_t)gi * cin) * g.Tin;
            if (direct) { /* dx = W^T dy */
                jc_sgemm(c->gemm, c->pool, 1, 0, rows, (int)g.Tout, cout, 1.0f, wg, rows, dyg, (int)g.Tout, 0.0f,
                         dxg, (int)g.Tin);
                continue;
            }
            for (int64_t t0 = 0; t0 < g.Tout; t0 += blk) {
                int64_t n = g.Tout - t0 < blk ? g.Tout - t0 : blk;
                jc_sgemm(c->gemm, c->pool, 1, 0, rows, (int)n, cout, 1.0f, wg, rows, dyg + t0, (int)g.Tout, 0.0f, col,
                         (int)n);
                col2im_add(&g, col, cin, t0, n, dxg);
            }
        }
    if (bd)
        for (int b = 0; b < g.B; b++)
            add_bias(dxd + (int64_t)b * g.Cin * g.Tin, bd, g.Cin, g.Tin);
    return JC_OK;
}

/* dw for the geometry g (not depthwise): the direct kernel or im2col +
 * GEMM, one reduction over the batch per group. */
static jc_status conv_bwd_weight(jc_cpu_ctx *c, const conv_geom *gp, const float *xd, const float *dyd, float *dwd)
{
    conv_geom g = *gp;
    if (use_direct_dw(&g))
        return jc_cpu_conv1d_direct_bwd_weight(c, g.B, g.Cin, g.Cout, g.K, g.pad_l, g.dil, g.Tin, g.Tout, xd, dyd,
                                               dwd);
    int cin = g.Cin / g.G, cout = g.Cout / g.G, rows = cin * g.K;
    int direct = g.K == 1 && g.stride == 1 && g.pad_l == 0 && g.Tout == g.Tin;
    int64_t blk = block_len(&g);
    float *col = direct ? NULL : jc_cpu_scratch(c, (size_t)rows * (size_t)blk);
    if (!direct && !col)
        return JC_ERR_NOMEM;
    for (int gi = 0; gi < g.G; gi++) {
        float *dwg = dwd + (int64_t)gi * cout * rows;
        int first = 1;
        for (int b = 0; b < g.B; b++) {
            const float *xg = xd + ((int64_t)b * g.Cin + (int64_t)gi * cin) * g.Tin;
            const float *dyg = dyd + ((int64_t)b * g.Cout + (int64_t)gi * cout) * g.Tout;
            if (direct) { /* dW += dy x^T */
                jc_sgemm(c->gemm, c->pool, 0, 1, cout, rows, (int)g.Tout, 1.0f, dyg, (int)g.Tout, xg, (int)g.Tin,
                         first ? 0.0f : 1.0f, dwg, rows);
                first = 0;
                continue;
            }
            for (int64_t t0 = 0; t0 < g.Tout; t0 += blk) {
                int64_t n = g.Tout - t0 < blk ? g.Tout - t0 : blk;
                im2col(&g, xg, cin, t0, n, col);
                jc_sgemm(c->gemm, c->pool, 0, 1, cout, rows, (int)n, 1.0f, dyg + t0, (int)g.Tout, col, (int)n,
                         first ? 0.0f : 1.0f, dwg, rows);
                first = 0;
            }
        }
    }
    return JC_OK;
}

/* ------------------------------------------ phase-stacked convolutions */

/* A convolution with stride s > 1 or G > 1 groups (dilation 1) is, for each
 * group, a stride-1 convolution of one group whose input channels are the s
 * phases of the group's Cg input channels:
 *   z[b, ci s + r, u]   = x[b, g Cg + ci, u s + r - pad_l]   (0 outside x)
 *   wz[co, ci s + r, q] = w[g Cog + co, ci, q s + r]         (0 past K)
 *   y[b, g Cog + co, t] = sum over ci, r, q of wz[co, ci s + r, q] z[b, ci s + r, t + q]
 * with Kq = ceil(K / s) taps and Tz = Tout + Kq - 1 steps.  That problem
 * runs on the stride-1 paths above (direct kernels or GEMM), whose tiles
 * fill where the strided or grouped one leaves them nearly empty (a GEMM
 * of M = 4 output channels for a group of the multi-scale discriminator,
 * im2col gathering every 4th or 8th sample).  The input gradient is the
 * stacked problem's, gathered back from the phases; the weight gradient
 * the stacked problem's, unstacked.  JC_CONV=gemm turns it off. */
typedef struct {
    conv_geom g;  /* the convolution */
    conv_geom st; /* one group's stacked stride-1 problem */
    int cg, cog;  /* channels of a group: in, out */
} stacked_conv;

static stacked_conv stacked_of(const conv_geom *g)
{
    stacked_conv s = {.g = *g, .cg = g->Cin / g->G, .cog = g->Cout / g->G};
    int kq = (g->K + g->stride - 1) / g->stride;
    s.st = (conv_geom){g->B, s.cg * g->stride, s.cog, 1, kq, 1, 0, 1, g->Tout + kq - 1, g->Tout};
    return s;
}

/* Floats of the stacked buffers: the phases of one group's input (or its
 * gradient), one group's output rows (several groups only), the weights. */
static size_t stacked_floats(const stacked_conv *s, size_t *nz, size_t *ny)
{
    const conv_geom *g = &s->g;
    *nz = (size_t)g->B * (size_t)s->st.Cin * (size_t)s->st.Tin;
    *ny = g->G > 1 ? (size_t)g->B * (size_t)s->cog * (size_t)g->Tout : 0;
    return *nz + *ny + (size_t)s->cog * (size_t)s->st.Cin * (size_t)s->st.K;
}

typedef enum { STACK_FORWARD, STACK_BWD_INPUT, STACK_BWD_WEIGHT } stack_pass;

/* Where the stacked path pays, by measurement on Zen 5 (2 threads; the
 * stage-2 discriminators', encoder's and decoder's shapes, JC_PROFILE):
 * grouped convolutions gain 2.5-7x in every pass (a GEMM of 4 to 16 rows
 * per group before); strided ones of one group 1.6-8x in the forward.
 * With one group the weight gradient gains 1.2-6x while s Cin <= 192 and
 * loses up to 1.6x beyond (256 <- 128 channels, stride 3), and the input
 * gradient, 0.75-1.2x around 1 against GEMM + col2im, gains only with
 * many taps a phase (4.5-6x at K 41, stride 4).  The buffers hold a whole
 * group's input: past STACK_MAX_FLOATS (a long file's first encoder layer)
 * the bounded im2col blocks run instead. */
#define STACK_MAX_FLOATS ((size_t)16 << 20)

static int use_stacked(const conv_geom *g, stack_pass pass)
{
    /* K >= stride: no phase is all zero weights */
    if (g->dil != 1 || (g->stride == 1 && g->G == 1) || g->K < g->stride || is_depthwise(g) || forced_path() == 0)
        return 0;
    stacked_conv s = stacked_of(g);
    size_t nz, ny;
    if (stacked_floats(&s, &nz, &ny) > STACK_MAX_FLOATS)
        return 0;
    if (g->G > 1 || pass == STACK_FORWARD)
        return 1;
    if (pass == STACK_BWD_WEIGHT)
        return g->Cin * g->stride <= 192;
    return g->K >= 4 * g->stride;
}

static void stack_input(const stacked_conv *s, const float *x, int gi, float *z)
{
    const conv_geom *g = &s->g;
    for (int b = 0; b < g->B; b++)
        for (int ci = 0; ci < s->cg; ci++) {
            const float *src = x + ((int64_t)b * g->Cin + (int64_t)gi * s->cg + ci) * g->Tin;
            for (int r = 0; r < g->stride; r++) {
                float *dst = z + ((int64_t)b * s->st.Cin + (int64_t)ci * g->stride + r) * s->st.Tin;
                for (int64_t u = 0; u < s->st.Tin; u++) {
                    int64_t t = u * g->stride + r - g->pad_l;
                    dst[u] = t >= 0 && t < g->Tin ? src[t] : 0.0f;
                }
            }
        }
}

/* dx of group gi from the stacked gradient dz: each input step is one
 * phase's step, or read by no output (0) */
static void unstack_input(const stacked_conv *s, const float *dz, int gi, float *dx)
{
    const conv_geom *g = &s->g;
    for (int b = 0; b < g->B; b++)
        for (int ci = 0; ci < s->cg; ci++) {
            float *dst = dx + ((int64_t)b * g->Cin + (int64_t)gi * s->cg + ci) * g->Tin;
            const float *src = dz + ((int64_t)b * s->st.Cin + (int64_t)ci * g->stride) * s->st.Tin;
            for (int64_t t = 0; t < g->Tin; t++) {
                int64_t p = t + g->pad_l, u = p / g->stride, r = p % g->stride;
                dst[t] = u < s->st.Tin ? src[r * s->st.Tin + u] : 0.0f;
            }
        }
}

/* wz from w (unstack 0) or dw from dwz (unstack 1) for group gi */
static void stack_weights(const stacked_conv *s, int gi, const float *from, float *to, int unstack)
{
    const conv_geom *g = &s->g;
    int kq = s->st.K;
    for (int co = 0; co < s->cog; co++)
        for (int ci = 0; ci < s->cg; ci++)
            for (int k = 0; k < kq * g->stride; k++) {
                int64_t wi = (((int64_t)gi * s->cog + co) * s->cg + ci) * g->K + k;
                int64_t zi = (((int64_t)co * s->cg + ci) * g->stride + k % g->stride) * kq + k / g->stride;
                if (unstack && k < g->K)
                    to[wi] = from[zi];
                else if (!unstack)
                    to[zi] = k < g->K ? from[wi] : 0.0f;
            }
}

/* One group's rows of a [B, C, T] tensor to or from a packed [B, Cg, T]
 * (the stacked problems read and write whole tensors). */
static void group_rows(const float *from, float *to, int B, int C, int cg, int gi, int64_t T, int pack)
{
    for (int b = 0; b < B; b++) {
        const float *src = pack ? from + ((int64_t)b * C + (int64_t)gi * cg) * T : from + (int64_t)b * cg * T;
        float *dst = pack ? to + (int64_t)b * cg * T : to + ((int64_t)b * C + (int64_t)gi * cg) * T;
        memcpy(dst, src, (size_t)cg * (size_t)T * sizeof *dst);
    }
}

/* One pass of a strided or grouped convolution through the stacked
 * problems.  a, b: x and w (forward), dy and w (input gradient), x and dy
 * (weight gradient); bias for the forward and the input gradient. */
static jc_status conv_stacked(jc_cpu_ctx *c, const conv_geom *g, stack_pass pass, const float *a, const float *b,
                              const float *bias, float *out)
{
    stacked_conv s = stacked_of(g);
    size_t nz, ny;
    float *z = jc_cpu_outer_scratch(c, stacked_floats(&s, &nz, &ny));
    if (!z)
        return JC_ERR_NOMEM;
    float *yg = z + nz, *wz = yg + ny;
    const float *dy = pass == STACK_BWD_INPUT ? a : b; /* the gradients' dy */
    jc_status st = JC_OK;
    for (int gi = 0; st == JC_OK && gi < g->G; gi++) {
        if (pass == STACK_FORWARD) {
            /* this group's output rows, as [B, Cog, Tout] */
            float *y_g = g->G > 1 ? yg : out;
            stack_input(&s, a, gi, z);
            stack_weights(&s, gi, b, wz, 0);
            st = conv_forward(c, &s.st, z, wz, bias ? bias + (int64_t)gi * s.cog : NULL, y_g);
            if (st == JC_OK && g->G > 1)
                group_rows(y_g, out, g->B, g->Cout, s.cog, gi, g->Tout, 0);
            continue;
        }
        /* this group's output gradient, as [B, Cog, Tout] */
        const float *dy_g = dy;
        if (g->G > 1) {
            group_rows(dy, yg, g->B, g->Cout, s.cog, gi, g->Tout, 1);
            dy_g = yg;
        }
        if (pass == STACK_BWD_INPUT) {
            stack_weights(&s, gi, b, wz, 0);
            st = conv_bwd_input_as_conv(c, &s.st, dy_g, wz, NULL, z);
            if (st == JC_OK)
                unstack_input(&s, z, gi, out);
        } else {
            stack_input(&s, a, gi, z);
            st = conv_bwd_weight(c, &s.st, z, dy_g, wz);
            if (st == JC_OK)
                stack_weights(&s, gi, wz, out, 1);
        }
    }
    if (st == JC_OK && pass == STACK_BWD_INPUT && bias)
        for (int bi = 0; bi < g->B; bi++)
            add_bias(out + (int64_t)bi * g->Cin * g->Tin, bias, g->Cin, g->Tin);
    return st;
}

/* ------------------------------------------------------- entry points */

jc_status jc_cpu_conv1d(jc_cpu_ctx *c, jc_tensor *t)
{
    const jc_tensor *x = t->src[0], *w = t->src[1], *bias = t->src[2];
    conv_geom g = geom_of(x, t, w, t);
    const float *xd = jc_cpu_data(x), *wd = jc_cpu_data(w), *bd = bias ? jc_cpu_data(bias) : NULL;
    float *yd = jc_cpu_data(t);
    if (is_depthwise(&g)) {
        dw_job j = {&g, xd, wd, bd, NULL, yd};
        jc_cpu_parallel(c, (long)g.B * g.Cin, (double)(g.Tout * g.K), dw_forward_range, &j);
        return JC_OK;
    }
    if (use_stacked(&g, STACK_FORWARD))
        return conv_stacked(c, &g, STACK_FORWARD, xd, wd, bd, yd);
    return conv_forward(c, &g, xd, wd, bd, yd);
}

jc_status jc_cpu_conv1d_bwd_input(jc_cpu_ctx *c, jc_tensor *t)
{
    /* t = dx [B, Cin, Tin]; src: dy [B, Cout, Tout], w [Cout, Cin/G, K] */
    const jc_tensor *dy = t->src[0], *w = t->src[1], *bias = t->src[2];
    conv_geom g = geom_of(t, dy, w, t);
    const float *dyd = jc_cpu_data(dy), *wd = jc_cpu_data(w), *bd = bias ? jc_cpu_data(bias) : NULL;
    float *dxd = jc_cpu_data(t);
    if (is_depthwise(&g)) {
        dw_job j = {&g, NULL, wd, bd, dyd, dxd};
        jc_cpu_parallel(c, (long)g.B * g.Cin, (double)(g.Tout * g.K), dw_bwd_input_range, &j);
        return JC_OK;
    }
    if (use_stacked(&g, STACK_BWD_INPUT))
        return conv_stacked(c, &g, STACK_BWD_INPUT, dyd, wd, bd, dxd);
    return conv_bwd_input(c, &g, dyd, wd, bd, dxd);
}

jc_status jc_cpu_conv1d_bwd_weight(jc_cpu_ctx *c, jc_tensor *t)
{
    /* t = dw [Cout, Cin/G, K]; src: x [B, Cin, Tin], dy [B, Cout, Tout] */
    const jc_tensor *x = t->src[0], *dy = t->src[1];
    conv_geom g = geom_of(x, dy, t, t);
    const float *xd = jc_cpu_data(x), *dyd = jc_cpu_data(dy);
    float *dwd = jc_cpu_data(t);
    if (is_depthwise(&g)) {
        dw_job j = {&g, xd, NULL, NULL, dyd, dwd};
        jc_cpu_parallel(c, g.Cin, (double)(g.B * g.Tout * g.K), dw_bwd_weight_range, &j);
        return JC_OK;
    }
    if (use_stacked(&g, STACK_BWD_WEIGHT))
        return conv_stacked(c, &g, STACK_BWD_WEIGHT, xd, dyd, NULL, dwd);
    return conv_bwd_weight(c, &g, xd, dyd, dwd);
}
