/* cpu_internal.h: the CPU backend's context and kernel entry points. */
#ifndef JC_CPU_INTERNAL_H
#define JC_CPU_INTERNAL_H

#include <string.h>

#include "../jc_internal.h"
#include "gemm.h"
#include "threadpool.h"

typedef struct {
    jc_threadpool *pool;
    int nthreads;
    jc_gemm_impl gemm;
    float *scratch; /* im2col blocks; kernels run one at a time */
    size_t scratch_floats;
    float *outer; /* the same for a kernel that calls others (which use scratch) */
    size_t outer_floats;
    jc_graph *graph; /* the graph being computed (seed, training flag) */
} jc_cpu_ctx;

static inline float *jc_cpu_data(const jc_tensor *t)
{
    while (t->view_of)
        t = t->view_of;
    return (float *)((char *)t->buf->impl + t->offset);
}

/* Scratch of at least n floats, or NULL; kept between calls, so large
 * buffers are not page-faulted in afresh by every operation. */
float *jc_cpu_scratch(jc_cpu_ctx *c, size_t n);
/* A second such buffer, for a kernel that hands work to kernels using the
 * first (the phase-stacked convolutions). */
float *jc_cpu_outer_scratch(jc_cpu_ctx *c, size_t n);

/* Run fn over [0, n) split across the pool, or inline when the work is small
 * (cost = rough operations per item) so tiny tensors skip the wake-ups. */
typedef void (*jc_range_fn)(void *arg, long lo, long hi);
void jc_cpu_parallel(jc_cpu_ctx *c, long n, double cost, jc_range_fn fn, void *arg);

/* Kernels: compute node t from its sources. */
jc_status jc_cpu_matmul(jc_cpu_ctx *c, jc_tensor *t);
jc_status jc_cpu_conv1d(jc_cpu_ctx *c, jc_tensor *t);
jc_status jc_cpu_conv1d_bwd_input(jc_cpu_ctx *c, jc_tensor *t);
/* Direct stride-1 convolution, groups 1 (k_conv_direct.c):
 * y[b, co, t] = bias[co] + sum_{ci,k} w[co, ci, k] x[b, ci, t - pad_l + k dil],
 * x [B, Cin, Tin] read as zero outside [0, Tin), y [B, Cout, Tout]. */
jc_status jc_cpu_conv1d_direct(jc_cpu_ctx *c, int B, int Cin, int Cout, int K, int pad_l, int dil, int64_t Tin,
                               int64_t Tout, const float *x, const float *w, const float *bias, float *y);
jc_status jc_cpu_conv1d_bwd_weight(jc_cpu_ctx *c, jc_tensor *t);
/* Its weight gradient (k_conv_direct_dw.c), dy [B, Cout, Tout]:
 * dw[co, ci, k] = sum_{b,t} dy[b, co, t] x[b, ci, t - pad_l + k dil]. */
jc_status jc_cpu_conv1d_direct_bwd_weight(jc_cpu_ctx *c, int B, int Cin, int Cout, int K, int pad_l, int dil,
                                          int64_t Tin, int64_t Tout, const float *x, const float *dy, float *dw);
void jc_cpu_binary(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_unary(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_unary_grad(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_scale(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_dropout(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_adamw(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_ema(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_fma_peak(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_reduce(jc_cpu_ctx *c, jc_tensor *t); /* SUM and MAX */
void jc_cpu_softmax(jc_cpu_ctx *c, jc_tensor *t); /* SOFTMAX and SOFTMAX_GRAD */
void jc_cpu_permute(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_expand(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_slice(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_pad(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_pad_reflect_grad(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_concat(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_frames(jc_cpu_ctx *c, jc_tensor *t);
void jc_cpu_frames_grad(jc_cpu_ctx *c, jc_tensor *t);
jc_status jc_cpu_rdft(jc_cpu_ctx *c, jc_tensor *t); /* RDFT and RDFT_ADJOINT */

/* Scalar definitions shared by the kernels and the tests' references. */
float jc_unary_value(int kind, float x, float p0, float p1);
/* y[i] = (dy ? dy[i] : 1) * sin(x[i] + quarter pi/2) for quarter 0 (sin),
 * 1 (cos), 2 (-sin); vectorised, within 1.1e-7 of the true value (k_sin.c).
 * y may be x. */
void jc_cpu_sin_array(const float *x, const float *dy, float *y, long n, int quarter);
float jc_unary_derivative(int kind, float x, float y, float p0, float p1);
float jc_binary_value(int kind, float a, float b);

#if defined(__GNUC__)
/* Four floats in a GCC vector: the register of the portable direct
 * convolution kernels (SSE2 on x86-64, NEON on aarch64). */
typedef float v4f __attribute__((vector_size(16)));

static inline v4f v4_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
#endif

#endif
