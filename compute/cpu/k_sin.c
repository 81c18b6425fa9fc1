/* k_sin.c: sin and cos of whole arrays, vectorised.
 *
 * The snake activation (x + sin^2(a x) / a) puts a sine over every element
 * it sees, and its gradient a cosine; the C library's sinf is scalar.  Here
 * the argument is reduced to r in [-pi/4, pi/4] with x = n pi/2 + r (pi/2
 * split in three parts, Cody and Waite), sin r and cos r come from short
 * minimax polynomials, and n picks which and the sign on the bits, without
 * branches, so that eight lanes run at once: GCC vector extensions, built
 * once for the baseline (two SSE halves) and once for AVX2 + FMA, chosen at
 * run time like the GEMM's kernels (JC_GEMM_ISA=generic forces the first).
 * Error: within 1.1e-7 of the true value (tests/test-sin) for |x| <= 8192;
 * beyond that the reduction loses digits, and those elements come from
 * sinf/cosf instead. */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"
#include "gemm.h"

typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));

#define FAST_LIMIT 8192.0f

/* sin(x + quarter pi/2) by the C library, for arguments past FAST_LIMIT */
static float sin_libm(float x, int quarter)
{
    return quarter == 1 ? cosf(x) : quarter == 2 ? -sinf(x) : sinf(x);
}

/* out[k] = d[k] * sin(in[k] + quarter pi/2) for k < 8; quarter 0: sin,
 * 1: cos, 2: -sin.  (Arrays, not vector arguments: the baseline build has
 * no 32-byte vector registers to pass them in.) */
__attribute__((always_inline)) static inline void sin_block(const float *in, const float *d, float *out, int quarter)
{
    v8f x, w;
    memcpy(&x, in, sizeof x);
    memcpy(&w, d, sizeof w);
    const v8f magic = (v8f){0} + 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    v8f t = x * 0.636619772367581343f + magic;
    v8f n = t - magic;
    v8i q;
    memcpy(&q, &t, sizeof q); /* the low bits of t's mantissa are n mod 2^22 */
    q += quarter;
    v8f r = x - n * 1.5703125f;
    r = r - n * 4.83751296997070312e-04f;
    r = r - n * 7.54978995489188216e-08f;
    v8f r2 = r * r;
    v8f s = r + r * r2 * (-1.6666654611e-1f + r2 * (8.3321608736e-3f + r2 * -1.9515295891e-4f));
    v8f c = 1.0f - 0.5f * r2 + r2 * r2 * (4.166664568298827e-2f + r2 * (-1.388731625493765e-3f + r2 * 2.443315711809948e-5f));
    /* pick c where q is odd, s where even, and flip the sign where q & 2:
     * on the bits, so that the choice adds no rounding */
    v8i odd = -(q & 1), si, ci;
    memcpy(&si, &s, sizeof si);
    memcpy(&ci, &c, sizeof ci);
    v8i bits = ((si & ~odd) | (ci & odd)) ^ ((q & 2) << 30);
    v8f v;
    memcpy(&v, &bits, sizeof v);
    v8f y = w * v;
    v8i big = (x > FAST_LIMIT) | (x < -FAST_LIMIT);
    memcpy(out, &y, sizeof y);
    for (int k = 0; k < 8; k++)
        if (big[k])
            out[k] = d[k] * sin_libm(in[k], quarter);
}

/* y[i] = (dy ? dy[i] : 1) * sin(x[i] + quarter pi/2): blocks of 8, then a
 * padded tail.  Each block is read before it is written, so y may be x. */
__attribute__((always_inline)) static inline void sin_loop(const float *x, const float *dy, float *y, long n,
                                                          int quarter)
{
    static const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    float in[8], d[8], out[8];
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(in, x + i, sizeof in);
        memcpy(d, dy ? dy + i : ones, sizeof d);
        sin_block(in, d, out, quarter);
        memcpy(y + i, out, sizeof out);
    }
    if (i < n) {
        size_t rest = (size_t)(n - i) * sizeof(float);
        memset(in, 0, sizeof in);
        memcpy(d, ones, sizeof d);
        memcpy(in, x + i, rest);
        if (dy)
            memcpy(d, dy + i, rest);
        sin_block(in, d, out, quarter);
        memcpy(y + i, out, rest);
    }
}

static void sin_loop_base(const float *x, const float *dy, float *y, long n, int quarter)
{
    sin_loop(x, dy, y, n, quarter);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void sin_loop_avx2(const float *x, const float *dy, float *y, long n,
                                                              int quarter)
{
    sin_loop(x, dy, y, n, quarter);
}
#endif

void jc_cpu_sin_array(const float *x, const float *dy, float *y, long n, int quarter)
{
#if defined(__x86_64__) || defined(__i386__)
    if (jc_cpu_simd_isa() >= JC_ISA_AVX2) { /* the GEMM's choice, JC_GEMM_ISA included */
        sin_loop_avx2(x, dy, y, n, quarter);
        return;
    }
#endif
    sin_loop_base(x, dy, y, n, quarter);
}
