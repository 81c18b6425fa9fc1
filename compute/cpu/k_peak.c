/* k_peak.c: the FMA-throughput kernel of `jepatok bench ops`.  Shipped
 * builds are compiled for the baseline ISA and -std=c11 forbids contracting
 * a*b+c into an FMA, so the vector paths use intrinsics under target
 * attributes, chosen at run time like the GEMM kernels. */
#include <math.h>

#include "cpu_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define JC_X86 1
#endif

typedef struct {
    const float *x;
    float *y;
    int iters;
} peak_job;

/* 8 independent chains hide the FMA latency (4 cycles, 2 ports). */
static void peak_scalar(const float *x, float *y, long lo, long hi, int iters)
{
    for (long i = lo; i < hi; i++) {
        float a[8];
        for (int k = 0; k < 8; k++)
            a[k] = x[i] + (float)k;
        for (int it = 0; it < iters; it++)
            for (int k = 0; k < 8; k++)
                a[k] = fmaf(a[k], 0.999f, 0.001f);
        y[i] = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
    }
}

#ifdef JC_X86
/* Eight named accumulators, not an array: at -O2 an array indexed in a loop
 * stays in memory, and every FMA would load and store (measured: 39 instead
 * of ~350 GFLOP/s on two cores). */
#define PEAK_BODY(V, LOAD, STORE, ADD, SET1, FMADD, W)                                                     \
    const V m = SET1(0.999f), c = SET1(0.001f);                                                               \
    long i = lo;                                                                                              \
    for (; i + W <= hi; i += W) {                                                                             \
        V v = LOAD(x + i);                                                                                    \
        V a0 = v, a1 = ADD(v, SET1(1.0f)), a2 = ADD(v, SET1(2.0f)), a3 = ADD(v, SET1(3.0f));                  \
        V a4 = ADD(v, SET1(4.0f)), a5 = ADD(v, SET1(5.0f)), a6 = ADD(v, SET1(6.0f)), a7 = ADD(v, SET1(7.0f)); \
        for (int it = 0; it < iters; it++) {                                                                  \
            a0 = FMADD(a0, m, c), a1 = FMADD(a1, m, c), a2 = FMADD(a2, m, c), a3 = FMADD(a3, m, c);           \
            a4 = FMADD(a4, m, c), a5 = FMADD(a5, m, c), a6 = FMADD(a6, m, c), a7 = FMADD(a7, m, c);           \
        }                                                                                                     \
        STORE(y + i, ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7))));                      \
    }                                                                                                         \
    return i;

__attribute__((target("avx512f"))) static long peak_avx512(const float *x, float *y, long lo, long hi, int iters)
{
    PEAK_BODY(__m512, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps, _mm512_set1_ps, _mm512_fmadd_ps, 16)
}

__attribute__((target("avx2,fma"))) static long peak_avx2(const float *x, float *y, long lo, long hi, int iters)
{
    PEAK_BODY(__m256, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_add_ps, _mm256_set1_ps, _mm256_fmadd_ps, 8)
}
#endif

static void peak_range(void *p, long lo, long hi)
{
    peak_job *j = p;
    long done = lo;
#ifdef JC_X86
    if (__builtin_cpu_supports("avx512f"))
        done = peak_avx512(j->x, j->y, lo, hi, j->iters);
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        done = peak_avx2(j->x, j->y, lo, hi, j->iters);
#endif
    peak_scalar(j->x, j->y, done, hi, j->iters);
}

void jc_cpu_fma_peak(jc_cpu_ctx *c, jc_tensor *t)
{
    peak_job j = {jc_cpu_data(t->src[0]), jc_cpu_data(t), t->ip[0]};
    /* split in multiples of 16 so no thread runs the scalar tail needlessly */
    long n = (long)jc_tensor_nelem(t);
    jc_cpu_parallel(c, n, 16.0 * j.iters, peak_range, &j);
}
