/* gemm.c: single-precision matrix products for the CPU backend.
 *
 * Layout of the blocked algorithm (row-major C = op(A) op(B)):
 *
 *   for each row chunk of op(A)      (mcb rows; its packed block lives in L3)
 *     for each K slice               (kc; C is revisited once per slice)
 *       for each column block        (nc; its packed B block lives in L2)
 *         pack the B block           (kc x nc, as NR-column micro-panels)
 *         for each MR-row micro-panel of A   (stays in L1)
 *           pack it, if this is the first column block
 *           for each NR-col micro-panel of B (streamed from L2)
 *             microkernel: MR x NR tile of C, held in registers over kc
 *
 * The microkernels broadcast A and load B as vectors, so the vector width
 * runs along rows of C, the contiguous direction in row-major storage. The
 * A micro-panel (MR x kc) is the narrow operand, so it is the one kept in L1
 * while the wide B micro-panels stream from L2; both packed blocks are then
 * packed once per (row chunk, K slice), which for the model's shapes means
 * once per call.
 *
 * Threads get disjoint rectangles of C, cut on micro-tile boundaries, and
 * each runs the whole loop nest above on its rectangle with private packing
 * buffers. The K slicing does not depend on the thread count, so every
 * element of C sees the same sequence of operations whatever the split:
 * results are deterministic (and in practice identical across thread
 * counts too). */
#include "gemm.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_CBLAS
#include <cblas.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define JC_GEMM_X86 1
#endif

/* ------------------------------------------------------------------------ */
/* Reference                                                                */

void jc_sgemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += (double)a * (double)b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = beta == 0.0f ? (float)(alpha * s) : (float)(alpha * s + (double)beta * *c);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Microkernels                                                             */

/* Computes the MR x NR tile c = alpha * a_panel * b_panel + beta * c over kc
 * steps. a is kc groups of MR floats, b is kc groups of NR floats, 64-byte
 * aligned (a need not be). beta == 0 must not read c. */
typedef void (*kernel_fn)(long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta);

typedef struct gemm_job gemm_job;
/* Packers: see pack_a_generic / pack_b_generic for the layouts; ps is the
 * distance in floats from one micro-panel to the next. */
typedef void (*pack_a_fn)(const gemm_job *j, float *dst, long ps, long i0, long mc, long k0, long kc);
typedef void (*pack_b_fn)(const gemm_job *j, float *dst, long ps, long k0, long kc, long c0, long nc);

typedef struct {
    const char *name;
    int mr, nr;
    int kc;     /* K slice: the A micro-panel, mr * kc floats, stays in L1 */
    int bblock; /* floats in a packed B block (kc x nc), which stays in L2 */
    int mcb;    /* rows per A block, mcb * kc floats, meant for L3 */
    kernel_fn kern;
    const kernel_fn *kern_rows; /* [r]: tile of only r < mr rows; NULL if none */
    pack_a_fn pack_a;
    pack_b_fn pack_b;
} kernel_desc;

struct gemm_job {
    const kernel_desc *kd;
    int trans_a, trans_b;
    long M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    long lda, ldb, ldc;
    long kc;              /* K slice actually used (balanced) */
    int parts_m, parts_n; /* thread grid */
};

/* Portable kernel: fixed-size loops the compiler can vectorize for whatever
 * SIMD the baseline target has (SSE2 on x86-64, NEON on aarch64). */
#define GEN_MR 4
#define GEN_NR 16
static void kern_generic(long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta)
{
    float acc[GEN_MR][GEN_NR];
    memset(acc, 0, sizeof acc);
    for (long k = 0; k < kc; k++) {
        const float *ak = a + k * GEN_MR, *bk = b + k * GEN_NR;
        for (int i = 0; i < GEN_MR; i++)
            for (int j = 0; j < GEN_NR; j++)
                acc[i][j] += ak[i] * bk[j];
    }
    for (int i = 0; i < GEN_MR; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < GEN_NR; j++)
                ci[j] = alpha * acc[i][j];
        else
            for (int j = 0; j < GEN_NR; j++)
                ci[j] = alpha * acc[i][j] + beta * ci[j];
    }
}

#ifdef JC_GEMM_X86

/* AVX2: 6 x 16 tile = 12 ymm accumulators, 2 for B, 1 broadcast. */
#define AVX2_MR 6
#define AVX2_NR 16

__attribute__((target("avx2,fma"))) static inline void avx2_store(float *c, __m256 acc, __m256 va, float beta)
{
    if (beta == 0.0f)
        _mm256_storeu_ps(c, _mm256_mul_ps(va, acc));
    else if (beta == 1.0f)
        _mm256_storeu_ps(c, _mm256_fmadd_ps(va, acc, _mm256_loadu_ps(c)));
    else
        _mm256_storeu_ps(c, _mm256_fmadd_ps(va, acc, _mm256_mul_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(c))));
}

__attribute__((target("avx2,fma"))) static void kern_avx2(long kc, const float *a, const float *b, float *c,
                                                          long ldc, float alpha, float beta)
{
    __m256 c0_0 = _mm256_setzero_ps(), c0_1 = _mm256_setzero_ps();
    __m256 c1_0 = _mm256_setzero_ps(), c1_1 = _mm256_setzero_ps();
    __m256 c2_0 = _mm256_setzero_ps(), c2_1 = _mm256_setzero_ps();
    __m256 c3_0 = _mm256_setzero_ps(), c3_1 = _mm256_setzero_ps();
    __m256 c4_0 = _mm256_setzero_ps(), c4_1 = _mm256_setzero_ps();
    __m256 c5_0 = _mm256_setzero_ps(), c5_1 = _mm256_setzero_ps();
    for (int i = 0; i < AVX2_MR; i++)
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    for (long k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 t;
#define AVX2_ROW(i)                                                                                                  \
    t = _mm256_broadcast_ss(a + i);                                                                                  \
    c##i##_0 = _mm256_fmadd_ps(t, b0, c##i##_0);                                                                     \
    c##i##_1 = _mm256_fmadd_ps(t, b1, c##i##_1);
        AVX2_ROW(0) AVX2_ROW(1) AVX2_ROW(2) AVX2_ROW(3) AVX2_ROW(4) AVX2_ROW(5)
#undef AVX2_ROW
        a += AVX2_MR;
        b += AVX2_NR;
    }
    __m256 va = _mm256_set1_ps(alpha);
#define AVX2_OUT(i)                                                                                                  \
    avx2_store(c + i * ldc, c##i##_0, va, beta);                                                                     \
    avx2_store(c + i * ldc + 8, c##i##_1, va, beta);
    AVX2_OUT(0) AVX2_OUT(1) AVX2_OUT(2) AVX2_OUT(3) AVX2_OUT(4) AVX2_OUT(5)
#undef AVX2_OUT
}

/* AVX-512: 14 x 32 tile = 28 zmm accumulators, 2 for B, 1 broadcast, which
 * uses all 32 registers; with two FMA pipes of latency 4 any 8+ independent
 * chains saturate the core, and the tall tile keeps B traffic per flop low.
 * The body is instantiated for every row count so the last micro-panel of
 * a ragged M (64 = 4 * 14 + 8) does only the work of its real rows. */
#define AVX512_MR 14
#define AVX512_NR 32

__attribute__((target("avx512f"))) static inline void avx512_store(float *c, __m512 acc, __m512 va, float beta)
{
    if (beta == 0.0f)
        _mm512_storeu_ps(c, _mm512_mul_ps(va, acc));
    else if (beta == 1.0f)
        _mm512_storeu_ps(c, _mm512_fmadd_ps(va, acc, _mm512_loadu_ps(c)));
    else
        _mm512_storeu_ps(c, _mm512_fmadd_ps(va, acc, _mm512_mul_ps(_mm512_set1_ps(beta), _mm512_loadu_ps(c))));
}

/* rows is a constant at every call site, so the tests on it fold away and
 * unused accumulators never reach a register. */
__attribute__((target("avx512f"), always_inline)) static inline void
kern_avx512_body(const int rows, long kc, const float *a, const float *b, float *c, long ldc, float alpha, float beta)
{
    __m512 c0_0 = _mm512_setzero_ps(), c0_1 = _mm512_setzero_ps();
    __m512 c1_0 = _mm512_setzero_ps(), c1_1 = _mm512_setzero_ps();
    __m512 c2_0 = _mm512_setzero_ps(), c2_1 = _mm512_setzero_ps();
    __m512 c3_0 = _mm512_setzero_ps(), c3_1 = _mm512_setzero_ps();
    __m512 c4_0 = _mm512_setzero_ps(), c4_1 = _mm512_setzero_ps();
    __m512 c5_0 = _mm512_setzero_ps(), c5_1 = _mm512_setzero_ps();
    __m512 c6_0 = _mm512_setzero_ps(), c6_1 = _mm512_setzero_ps();
    __m512 c7_0 = _mm512_setzero_ps(), c7_1 = _mm512_setzero_ps();
    __m512 c8_0 = _mm512_setzero_ps(), c8_1 = _mm512_setzero_ps();
    __m512 c9_0 = _mm512_setzero_ps(), c9_1 = _mm512_setzero_ps();
    __m512 c10_0 = _mm512_setzero_ps(), c10_1 = _mm512_setzero_ps();
    __m512 c11_0 = _mm512_setzero_ps(), c11_1 = _mm512_setzero_ps();
    __m512 c12_0 = _mm512_setzero_ps(), c12_1 = _mm512_setzero_ps();
    __m512 c13_0 = _mm512_setzero_ps(), c13_1 = _mm512_setzero_ps();
    /* The tile is revisited once per K slice; fetching it now hides the
     * misses behind the kc-long FMA loop. */
    for (int i = 0; i < rows; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    for (long k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        __m512 t;
#define AVX512_ROW(i)                                                                                                \
    if (rows > i) {                                                                                                  \
        t = _mm512_set1_ps(a[i]);                                                                                    \
        c##i##_0 = _mm512_fmadd_ps(t, b0, c##i##_0);                                                                 \
        c##i##_1 = _mm512_fmadd_ps(t, b1, c##i##_1);                                                                 \
    }
        AVX512_ROW(0) AVX512_ROW(1) AVX512_ROW(2) AVX512_ROW(3) AVX512_ROW(4) AVX512_ROW(5) AVX512_ROW(6)
        AVX512_ROW(7) AVX512_ROW(8) AVX512_ROW(9) AVX512_ROW(10) AVX512_ROW(11) AVX512_ROW(12) AVX512_ROW(13)
#undef AVX512_ROW
        a += AVX512_MR;
        b += AVX512_NR;
    }
    __m512 va = _mm512_set1_ps(alpha);
#define AVX512_OUT(i)                                                                                                \
    if (rows > i) {                                                                                                  \
        avx512_store(c + i * ldc, c##i##_0, va, beta);                                                               \
        avx512_store(c + i * ldc + 16, c##i##_1, va, beta);                                                          \
    }
    AVX512_OUT(0) AVX512_OUT(1) AVX512_OUT(2) AVX512_OUT(3) AVX512_OUT(4) AVX512_OUT(5) AVX512_OUT(6)
    AVX512_OUT(7) AVX512_OUT(8) AVX512_OUT(9) AVX512_OUT(10) AVX512_OUT(11) AVX512_OUT(12) AVX512_OUT(13)
#undef AVX512_OUT
}

#define AVX512_KERNEL(R)                                                                                             \
    __attribute__((target("avx512f"))) static void kern_avx512_##R(long kc, const float *a, const float *b,          \
                                                                   float *c, long ldc, float alpha, float beta)     \
    {                                                                                                                \
        kern_avx512_body(R, kc, a, b, c, ldc, alpha, beta);                                                          \
    }
AVX512_KERNEL(1)
AVX512_KERNEL(2)
AVX512_KERNEL(3)
AVX512_KERNEL(4)
AVX512_KERNEL(5)
AVX512_KERNEL(6)
AVX512_KERNEL(7)
AVX512_KERNEL(8)
AVX512_KERNEL(9)
AVX512_KERNEL(10)
AVX512_KERNEL(11)
AVX512_KERNEL(12)
AVX512_KERNEL(13)
AVX512_KERNEL(14)
#undef AVX512_KERNEL

static const kernel_fn kern_avx512_rows[AVX512_MR + 1] = {
    NULL,           kern_avx512_1,  kern_avx512_2,  kern_avx512_3,  kern_avx512_4,
    kern_avx512_5,  kern_avx512_6,  kern_avx512_7,  kern_avx512_8,  kern_avx512_9,
    kern_avx512_10, kern_avx512_11, kern_avx512_12, kern_avx512_13, kern_avx512_14,
};

#endif /* JC_GEMM_X86 */

/* ------------------------------------------------------------------------ */
/* Packing                                                                  */


/* Rows [i0, i0+mc) and K range [k0, k0+kc) of op(A) into MR-row micro-panels:
 * panel p holds, for each k, the MR values op(A)[i0+p*MR+r][k0+k]. Rows past
 * mc are zero so the kernel can always run full tiles. */
static void pack_a_generic(const gemm_job *j, float *dst, long ps, long i0, long mc, long k0, long kc)
{
    const int mr = j->kd->mr;
    for (long p = 0; p < mc; p += mr) {
        long rows = mc - p < mr ? mc - p : mr;
        if (j->trans_a) {
            /* op(A)[i][k] = A[k][i]: each k gives rows contiguous floats. */
            const float *src = j->A + (size_t)k0 * j->lda + i0 + p;
            for (long k = 0; k < kc; k++) {
                float *d = dst + k * mr;
                const float *s = src + (size_t)k * j->lda;
                long r = 0;
                for (; r < rows; r++)
                    d[r] = s[r];
                for (; r < mr; r++)
                    d[r] = 0.0f;
            }
        } else {
            for (long r = 0; r < rows; r++) {
                const float *s = j->A + (size_t)(i0 + p + r) * j->lda + k0;
                for (long k = 0; k < kc; k++)
                    dst[k * mr + r] = s[k];
            }
            for (long r = rows; r < mr; r++)
                for (long k = 0; k < kc; k++)
                    dst[k * mr + r] = 0.0f;
        }
        dst += ps;
    }
}

/* K range [k0, k0+kc) and columns [c0, c0+nc) of op(B) into NR-column
 * micro-panels, zero-padded past nc. */
static void pack_b_generic(const gemm_job *j, float *dst, long ps, long k0, long kc, long c0, long nc)
{
    const int nr = j->kd->nr;
    for (long p = 0; p < nc; p += nr) {
        long cols = nc - p < nr ? nc - p : nr;
        if (!j->trans_b) {
            const float *src = j->B + (size_t)k0 * j->ldb + c0 + p;
            for (long k = 0; k < kc; k++) {
                float *d = dst + k * nr;
                const float *s = src + (size_t)k * j->ldb;
                long c = 0;
                for (; c < cols; c++)
                    d[c] = s[c];
                for (; c < nr; c++)
                    d[c] = 0.0f;
            }
        } else {
            /* op(B)[k][c] = B[c][k]: walk each stored row contiguously. */
            for (long c = 0; c < cols; c++) {
                const float *s = j->B + (size_t)(c0 + p + c) * j->ldb + k0;
                for (long k = 0; k < kc; k++)
                    dst[k * nr + c] = s[k];
            }
            for (long c = cols; c < nr; c++)
                for (long k = 0; k < kc; k++)
                    dst[k * nr + c] = 0.0f;
        }
        dst += ps;
    }
}

#ifdef JC_GEMM_X86
/* AVX2 packers: the same scheme as the AVX-512 ones with 8 x 8 transposes
 * and table-free masks (maskload never touches the masked-off memory). */
__attribute__((target("avx2,fma"))) static inline __m256i avx2_mask(long n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__attribute__((target("avx2,fma"))) static inline void transpose8(__m256 r[8])
{
    __m256 t[8], s[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int q = 0; q < 8; q += 4) {
        s[q] = _mm256_shuffle_ps(t[q], t[q + 2], 0x44);
        s[q + 1] = _mm256_shuffle_ps(t[q], t[q + 2], 0xEE);
        s[q + 2] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0x44);
        s[q + 3] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(s[c], s[c + 4], 0x20);
        r[c + 4] = _mm256_permute2f128_ps(s[c], s[c + 4], 0x31);
    }
}

/* r[kk] = element k+kk of up to 8 rows (rows past nrows are zero). */
__attribute__((target("avx2,fma"))) static inline void load_transposed8(__m256 r[8], const float *base, long ld,
                                                                        long nrows, long k, long kn)
{
    __m256i km = avx2_mask(kn);
    for (long i = 0; i < 8; i++)
        r[i] = i < nrows ? _mm256_maskload_ps(base + i * ld + k, km) : _mm256_setzero_ps();
    transpose8(r);
}

/* Six floats: masked stores are slow on some AMD parts, two plain ones are
 * not. */
__attribute__((target("avx2,fma"))) static inline void store6(float *d, __m256 v)
{
    _mm_storeu_ps(d, _mm256_castps256_ps128(v));
    _mm_storel_pi((__m64 *)(void *)(d + 4), _mm256_extractf128_ps(v, 1));
}

__attribute__((target("avx2,fma"))) static void pack_a_avx2(const gemm_job *j, float *dst, long ps, long i0, long mc,
                                                           long k0, long kc)
{
    if (j->trans_a) {
        for (long k = 0; k < kc; k++) {
            const float *s = j->A + (size_t)(k0 + k) * j->lda + i0;
            float *d = dst + k * AVX2_MR;
            for (long p = 0; p < mc; p += AVX2_MR, d += ps)
                store6(d, _mm256_maskload_ps(s + p, avx2_mask(mc - p < AVX2_MR ? mc - p : AVX2_MR)));
        }
        return;
    }
    for (long p = 0; p < mc; p += AVX2_MR) {
        long rows = mc - p < AVX2_MR ? mc - p : AVX2_MR;
        const float *src = j->A + (size_t)(i0 + p) * j->lda + k0;
        const float *next = src + (size_t)AVX2_MR * j->lda;
        __m256 r[8];
        for (long k = 0; k < kc; k += 8) {
            long kn = kc - k < 8 ? kc - k : 8;
            if ((k & 15) == 0)
                for (int i = 0; i < AVX2_MR; i++)
                    _mm_prefetch((const char *)(next + (size_t)i * j->lda + k), _MM_HINT_T0);
            load_transposed8(r, src, j->lda, rows, k, kn);
            for (long kk = 0; kk < kn; kk++)
                store6(dst + (k + kk) * AVX2_MR, r[kk]);
        }
        dst += ps;
    }
}

__attribute__((target("avx2,fma"))) static void pack_b_avx2(const gemm_job *j, float *dst, long ps, long k0, long kc,
                                                           long c0, long nc)
{
    if (!j->trans_b) {
        for (long k = 0; k < kc; k++) {
            const float *s = j->B + (size_t)(k0 + k) * j->ldb + c0;
            float *d = dst + k * AVX2_NR;
            for (long p = 0; p < nc; p += AVX2_NR, d += ps) {
                long cols = nc - p;
                if (cols >= AVX2_NR) {
                    _mm256_store_ps(d, _mm256_loadu_ps(s + p));
                    _mm256_store_ps(d + 8, _mm256_loadu_ps(s + p + 8));
                } else {
                    _mm256_store_ps(d, _mm256_maskload_ps(s + p, avx2_mask(cols)));
                    _mm256_store_ps(d + 8, _mm256_maskload_ps(s + p + 8, avx2_mask(cols > 8 ? cols - 8 : 0)));
                }
            }
        }
        return;
    }
    __m256 r[8];
    for (long p = 0; p < nc; p += AVX2_NR) {
        for (int h = 0; h < AVX2_NR; h += 8) {
            long cols = nc - p - h;
            const float *src = j->B + (size_t)(c0 + p + h) * j->ldb + k0;
            const float *next = src + (size_t)8 * j->ldb;
            for (long k = 0; k < kc; k += 8) {
                long kn = kc - k < 8 ? kc - k : 8;
                if ((k & 15) == 0)
                    for (int i = 0; i < 8; i++)
                        _mm_prefetch((const char *)(next + (size_t)i * j->ldb + k), _MM_HINT_T0);
                if (cols > 0)
                    load_transposed8(r, src, j->ldb, cols, k, kn);
                else
                    for (int i = 0; i < 8; i++)
                        r[i] = _mm256_setzero_ps();
                for (long kk = 0; kk < kn; kk++)
                    _mm256_store_ps(dst + (k + kk) * AVX2_NR + h, r[kk]);
            }
        }
        dst += ps;
    }
}

/* AVX-512 packers. Masked loads give zero padding for ragged panels for
 * free (and never touch memory outside the matrix); the two transposing
 * cases go through 16 x 16 register transposes instead of scalar strided
 * stores, which made packing a tenth of the run time. */

/* In-place transpose of r[0..15] viewed as a 16 x 16 matrix. */
__attribute__((target("avx512f"))) static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* Now each 128-bit lane of (r[4q+c]) holds column 4*lane+c of rows
     * 4q..4q+3. */
    for (int q = 0; q < 16; q += 4) {
        r[q] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[q]), _mm512_castps_pd(t[q + 2])));
        r[q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[q]), _mm512_castps_pd(t[q + 2])));
        r[q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[q + 1]), _mm512_castps_pd(t[q + 3])));
        r[q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[q + 1]), _mm512_castps_pd(t[q + 3])));
    }
    for (int h = 0; h < 16; h += 8)
        for (int c = 0; c < 4; c++) {
            t[h + c] = _mm512_shuffle_f32x4(r[h + c], r[h + 4 + c], 0x88);
            t[h + 4 + c] = _mm512_shuffle_f32x4(r[h + c], r[h + 4 + c], 0xdd);
        }
    for (int c = 0; c < 8; c++) {
        r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xdd);
    }
}

static inline __mmask16 low_mask16(long n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* Loads k range [k, k+kn) of up to 16 rows (rows past nrows are zero) and
 * transposes, so r[kk] holds element k+kk of every row. */
__attribute__((target("avx512f"))) static inline void load_transposed(__m512 r[16], const float *base, long ld,
                                                                       long nrows, long k, long kn)
{
    __mmask16 km = low_mask16(kn);
    for (long i = 0; i < 16; i++)
        r[i] = i < nrows ? _mm512_maskz_loadu_ps(km, base + i * ld + k) : _mm512_setzero_ps();
    transpose16(r);
}

__attribute__((target("avx512f"))) static void pack_a_avx512(const gemm_job *j, float *dst, long ps, long i0, long mc,
                                                             long k0, long kc)
{
    const __mmask16 panel = low_mask16(AVX512_MR);
    if (j->trans_a) {
        /* op(A) rows are columns of A: walk each row of A once across all
         * panels, a sequential stream, rather than panel by panel, which
         * would touch a new cache line and page for every k. */
        for (long k = 0; k < kc; k++) {
            const float *s = j->A + (size_t)(k0 + k) * j->lda + i0;
            float *d = dst + k * AVX512_MR;
            for (long p = 0; p < mc; p += AVX512_MR, d += ps)
                _mm512_mask_storeu_ps(d, panel, _mm512_maskz_loadu_ps(low_mask16(mc - p), s + p));
        }
        return;
    }
    for (long p = 0; p < mc; p += AVX512_MR) {
        long rows = mc - p < AVX512_MR ? mc - p : AVX512_MR;
        const float *src = j->A + (size_t)(i0 + p) * j->lda + k0;
        /* Panels are packed just before use, so nothing else hides the
         * memory latency of these 14 short row pieces: fetch the next
         * panel's rows while this one is transposed. */
        const float *next = src + (size_t)AVX512_MR * j->lda;
        __m512 r[16];
        for (long k = 0; k < kc; k += 16) {
            long kn = kc - k < 16 ? kc - k : 16;
            for (int i = 0; i < AVX512_MR; i++)
                _mm_prefetch((const char *)(next + (size_t)i * j->lda + k), _MM_HINT_T0);
            load_transposed(r, src, j->lda, rows, k, kn);
            for (long kk = 0; kk < kn; kk++)
                _mm512_mask_storeu_ps(dst + (k + kk) * AVX512_MR, panel, r[kk]);
        }
        dst += ps;
    }
}

__attribute__((target("avx512f"))) static void pack_b_avx512(const gemm_job *j, float *dst, long ps, long k0, long kc,
                                                             long c0, long nc)
{
    if (!j->trans_b) {
        /* k outermost so the source is read along whole rows of B, which
         * streams from memory far better than 128-byte pieces of each. */
        for (long k = 0; k < kc; k++) {
            const float *s = j->B + (size_t)(k0 + k) * j->ldb + c0;
            float *d = dst + k * AVX512_NR;
            for (long p = 0; p < nc; p += AVX512_NR, d += ps) {
                long cols = nc - p;
                if (cols >= AVX512_NR) {
                    _mm512_store_ps(d, _mm512_loadu_ps(s + p));
                    _mm512_store_ps(d + 16, _mm512_loadu_ps(s + p + 16));
                } else {
                    _mm512_store_ps(d, _mm512_maskz_loadu_ps(low_mask16(cols), s + p));
                    _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(low_mask16(cols > 16 ? cols - 16 : 0), s + p + 16));
                }
            }
        }
        return;
    }
    __m512 r[16];
    for (long p = 0; p < nc; p += AVX512_NR) {
        for (int h = 0; h < AVX512_NR; h += 16) {
            long cols = nc - p - h;
            const float *src = j->B + (size_t)(c0 + p + h) * j->ldb + k0;
            const float *next = src + (size_t)16 * j->ldb;
            for (long k = 0; k < kc; k += 16) {
                long kn = kc - k < 16 ? kc - k : 16;
                for (int i = 0; i < 16; i++)
                    _mm_prefetch((const char *)(next + (size_t)i * j->ldb + k), _MM_HINT_T0);
                if (cols > 0)
                    load_transposed(r, src, j->ldb, cols, k, kn);
                else
                    for (int i = 0; i < 16; i++)
                        r[i] = _mm512_setzero_ps();
                for (long kk = 0; kk < kn; kk++)
                    _mm512_store_ps(dst + (k + kk) * AVX512_NR + h, r[kk]);
            }
        }
        dst += ps;
    }
}
#endif /* JC_GEMM_X86 */

/* Largest mr * nr of any kernel: scratch for ragged edge tiles. */
#define TILE_MAX_FLOATS (14 * 32)

enum { ISA_GENERIC = JC_ISA_GENERIC, ISA_AVX2 = JC_ISA_AVX2, ISA_AVX512 = JC_ISA_AVX512 };

/* Block sizes were tuned on Zen 5 (48 KiB L1d, 1 MiB L2 per core) and suit
 * any core with at least 32 KiB L1d and 512 KiB L2: kc = 384 keeps the
 * AVX-512 A micro-panel at 21 KiB; the B block takes about half of L2,
 * leaving room for the C tiles and the A panels streaming past (a larger
 * block measured slower with both cores busy). */
static const kernel_desc kernels[] = {
    [ISA_GENERIC] = {"generic", GEN_MR, GEN_NR, 256, 256 * 512, 1024, kern_generic, NULL, pack_a_generic,
                     pack_b_generic},
#ifdef JC_GEMM_X86
    [ISA_AVX2] = {"avx2", AVX2_MR, AVX2_NR, 384, 384 * 384, 2048, kern_avx2, NULL, pack_a_avx2, pack_b_avx2},
    [ISA_AVX512] = {"avx512", AVX512_MR, AVX512_NR, 384, 384 * 320, 2048, kern_avx512_14, kern_avx512_rows,
                    pack_a_avx512, pack_b_avx512},
#endif
};

/* The only mutable global: the best ISA this CPU supports, found once. */
static pthread_once_t hw_isa_once = PTHREAD_ONCE_INIT;
static int hw_isa = ISA_GENERIC;

static void detect_hw_isa(void)
{
#ifdef JC_GEMM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        hw_isa = ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        hw_isa = ISA_AVX2;
#endif
}

/* JC_GEMM_ISA is read on every call (a few string compares, nothing next to
 * a GEMM or a convolution) so tests can switch paths within one process; it can only lower
 * the choice, never select code the CPU cannot run. */
static const kernel_desc *pick_kernel(void)
{
    pthread_once(&hw_isa_once, detect_hw_isa);
    int isa = hw_isa;
    const char *env = getenv("JC_GEMM_ISA");
    if (env) {
        int want = isa;
        if (!strcmp(env, "generic"))
            want = ISA_GENERIC;
        else if (!strcmp(env, "avx2"))
            want = ISA_AVX2;
        else if (!strcmp(env, "avx512"))
            want = ISA_AVX512;
        if (want < isa)
            isa = want;
    }
    return &kernels[isa];
}

int jc_cpu_simd_isa(void) { return (int)(pick_kernel() - kernels); }

/* ------------------------------------------------------------------------ */
/* Driver                                                                   */

static long min_l(long a, long b) { return a < b ? a : b; }
static long round_up(long x, long m) { return (x + m - 1) / m * m; }

/* Split n into the fewest blocks of at most bmax, then make them equal-ish
 * (rounded up to unit) so no block is a sliver. */
static long balanced_block(long n, long bmax, long unit)
{
    if (n <= bmax)
        return round_up(n, unit);
    long nb = (n + bmax - 1) / bmax;
    return round_up((n + nb - 1) / nb, unit);
}

static void scale_c(float *C, long ldc, long i0, long i1, long c0, long c1, float beta)
{
    for (long i = i0; i < i1; i++) {
        float *c = C + (size_t)i * ldc;
        if (beta == 0.0f)
            memset(c + c0, 0, (size_t)(c1 - c0) * sizeof *c);
        else if (beta != 1.0f)
            for (long x = c0; x < c1; x++)
                c[x] *= beta;
    }
}

static void *alloc_aligned(size_t nfloats)
{
    size_t bytes = round_up((long)(nfloats * sizeof(float)), 64);
    return aligned_alloc(64, bytes ? bytes : 64);
}

/* Runs the whole blocked loop nest on rows [r0, r1) x columns [q0, q1) of C. */
static void gemm_rect(const gemm_job *j, long r0, long r1, long q0, long q1)
{
    if (r0 >= r1 || q0 >= q1)
        return;
    const kernel_desc *kd = j->kd;
    const long mr = kd->mr, nr = kd->nr, K = j->K, kcmax = j->kc;
    if (K == 0 || j->alpha == 0.0f) {
        scale_c(j->C, j->ldc, r0, r1, q0, q1, j->beta);
        return;
    }
    const long mcb = balanced_block(r1 - r0, kd->mcb, mr);
    /* A short K slice leaves room for a wider B block in L2. */
    const long ncmax = kd->bblock / kcmax / nr * nr;
    const long ncb = balanced_block(q1 - q0, ncmax > nr ? ncmax : nr, nr);
    /* With a single column block each A micro-panel is used once, right
     * after packing, so one L1-sized panel is all the buffer needed. */
    const int one_jc = q1 - q0 <= ncb;
    /* Packing op(A) = A^T panel by panel is a strided walk; it is done for
     * the whole block up front instead (see pack_a_avx512). */
    const int a_upfront = j->trans_a;
    /* Micro-panels are kc * nr floats, a multiple of 4 KiB for common kc, so
     * the packers' stores at one k across panels, and the kernel's loads,
     * would all fall into one L1 set; a cache line of padding spreads them. */
    const long aps_max = kcmax * mr + 16, bps_max = kcmax * nr + 16;
    float *abuf = alloc_aligned((size_t)(one_jc && !a_upfront ? 1 : mcb / mr) * aps_max);
    float *bbuf = alloc_aligned((size_t)(ncb / nr) * bps_max);
    if (!abuf || !bbuf) {
        /* Out of memory for packing: still produce the right answer. */
        free(abuf);
        free(bbuf);
        for (long i = r0; i < r1; i++) {
            const float *a = j->trans_a ? j->A + i : j->A + (size_t)i * j->lda;
            const float *b = j->trans_b ? j->B + (size_t)q0 * j->ldb : j->B + q0;
            jc_sgemm_naive(j->trans_a, j->trans_b, 1, (int)(q1 - q0), (int)K, j->alpha, a, (int)j->lda, b,
                           (int)j->ldb, j->beta, j->C + (size_t)i * j->ldc + q0, (int)j->ldc);
        }
        return;
    }
    _Alignas(64) float edge[TILE_MAX_FLOATS];

    for (long ic = r0; ic < r1; ic += mcb) {
        const long mc = min_l(mcb, r1 - ic);
        for (long pc = 0; pc < K; pc += kcmax) {
            const long kc = min_l(kcmax, K - pc);
            const float beta = pc == 0 ? j->beta : 1.0f;
            const long aps = kc * mr + 16, bps = kc * nr + 16;
            if (a_upfront)
                kd->pack_a(j, abuf, aps, ic, mc, pc, kc);
            for (long jc = q0; jc < q1; jc += ncb) {
                const long nc = min_l(ncb, q1 - jc);
                kd->pack_b(j, bbuf, bps, pc, kc, jc, nc);
                for (long ir = 0; ir < mc; ir += mr) {
                    const long rows = min_l(mr, mc - ir);
                    float *ap = one_jc && !a_upfront ? abuf : abuf + ir / mr * aps;
                    /* A is packed panel by panel during the first column
                     * block, just before its first use, so it is still in
                     * L1 when the kernel reads it. */
                    if (jc == q0 && !a_upfront)
                        kd->pack_a(j, ap, aps, ic + ir, rows, pc, kc);
                    const kernel_fn kern = rows == mr ? kd->kern : kd->kern_rows ? kd->kern_rows[rows] : NULL;
                    float *crow = j->C + (size_t)(ic + ir) * j->ldc + jc;
                    for (long jr = 0; jr < nc; jr += nr) {
                        const float *bp = bbuf + jr / nr * bps;
                        const long cols = min_l(nr, nc - jr);
                        if (kern && cols == nr) {
                            kern(kc, ap, bp, crow + jr, j->ldc, j->alpha, beta);
                            continue;
                        }
                        /* Ragged edge: full tile into scratch, then merge
                         * only the valid part. */
                        kd->kern(kc, ap, bp, edge, nr, 1.0f, 0.0f);
                        for (long r = 0; r < rows; r++) {
                            float *c = crow + r * j->ldc + jr;
                            const float *e = edge + r * nr;
                            if (beta == 0.0f)
                                for (long x = 0; x < cols; x++)
                                    c[x] = j->alpha * e[x];
                            else
                                for (long x = 0; x < cols; x++)
                                    c[x] = j->alpha * e[x] + beta * c[x];
                        }
                    }
                }
            }
        }
    }
    free(abuf);
    free(bbuf);
}

static void gemm_worker(void *arg, int ith, int nth)
{
    const gemm_job *j = arg;
    (void)nth;
    const long mr = j->kd->mr, nr = j->kd->nr;
    const int pm = ith / j->parts_n, pn = ith % j->parts_n;
    if (pm >= j->parts_m)
        return;
    long tlo, thi, r0, r1, q0, q1;
    /* Cut on whole micro-tiles so ragged tiles only occur at the matrix
     * edge and thread boundaries never share a cache line of C. */
    jc_split_range((j->M + mr - 1) / mr, pm, j->parts_m, &tlo, &thi);
    r0 = tlo * mr;
    r1 = min_l(thi * mr, j->M);
    jc_split_range((j->N + nr - 1) / nr, pn, j->parts_n, &tlo, &thi);
    q0 = tlo * nr;
    q1 = min_l(thi * nr, j->N);
    gemm_rect(j, r0, r1, q0, q1);
}

/* Choose a parts_m x parts_n grid of threads minimising the largest share:
 * tile-rounded FMAs plus a packing charge (each thread packs its own copy of
 * A rows x K and B K x cols, so splitting along a dimension multiplies the
 * packing of the other operand). */
static void choose_grid(gemm_job *j, int nth)
{
    const long mt = (j->M + j->kd->mr - 1) / j->kd->mr, nt = (j->N + j->kd->nr - 1) / j->kd->nr;
    double best = -1.0;
    j->parts_m = 1;
    j->parts_n = 1;
    for (int pm = 1; pm <= nth; pm++) {
        if (nth % pm)
            continue;
        int pn = nth / pm;
        double rows = (double)((mt + pm - 1) / pm) * j->kd->mr;
        double cols = (double)((nt + pn - 1) / pn) * j->kd->nr;
        double cost = rows * cols * (double)j->K + 16.0 * (rows + cols) * (double)j->K;
        if (best < 0 || cost < best) {
            best = cost;
            j->parts_m = pm;
            j->parts_n = pn;
        }
    }
}

void jc_sgemm_own(jc_threadpool *tp, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    gemm_job j = {
        .kd = pick_kernel(),
        .trans_a = trans_a,
        .trans_b = trans_b,
        .M = M,
        .N = N,
        .K = K > 0 ? K : 0,
        .alpha = alpha,
        .beta = beta,
        .A = A,
        .B = B,
        .C = C,
        .lda = lda,
        .ldb = ldb,
        .ldc = ldc,
    };
    j.kc = j.K > 0 ? balanced_block(j.K, j.kd->kc, 16) : 1;
    int nth = jc_threadpool_size(tp);
    /* Below a few micro-tiles per thread the wake-up costs more than it
     * saves. */
    if ((double)M * N * (j.K ? j.K : 1) < 2097152.0)
        nth = 1;
    choose_grid(&j, nth);
    if (nth == 1)
        gemm_worker(&j, 0, 1);
    else
        jc_threadpool_run(tp, gemm_worker, &j);
}

int jc_sgemm_have_cblas(void)
{
#ifdef HAVE_CBLAS
    return 1;
#else
    return 0;
#endif
}

void jc_sgemm(jc_gemm_impl impl, jc_threadpool *tp, int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
#ifdef HAVE_CBLAS
    if (impl == JC_GEMM_CBLAS) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N,
                    K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#else
    (void)impl;
#endif
    jc_sgemm_own(tp, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
