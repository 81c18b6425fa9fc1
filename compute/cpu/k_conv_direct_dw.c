/* k_conv_direct_dw.c: direct weight gradient of a stride-1 convolution
 * (groups 1), the counterpart of k_conv_direct.c:
 *
 *   dw[co, ci, k] = sum over b, t of dy[b, co, t] x[b, ci, t - pad_l + k dil]
 *
 * im2col + GEMM computes this as a GEMM with M = Cout, N = Cin K (a few
 * dozen) and a reduction over every time step of the batch (hundreds of
 * thousands): it writes and re-reads a column matrix Cin K times the input
 * and runs at a few GFLOP/s on the decoder's narrow layers.  Here time is the
 * vector axis and x is read in place:
 *
 *   split the batch's time into chunks of cl steps (within one batch item)
 *   for each chunk (threads take whole runs of chunks, or channel blocks)
 *     if the chunk's input window crosses an edge, copy it, zero-padded
 *     for each block of MB output channels, for each block of NB (ci, k) taps
 *       MB x NB vector accumulators in registers; for every vector of time:
 *         load MB vectors of dy, then per tap one vector of x at the tap's
 *         offset and MB FMAs; the last partial vector by masked loads
 *       reduce each accumulator across its lanes, add to the chunk's slot
 *   dw = the slots' partial sums, added in slot order
 *
 * A slot holds one chunk's sum, or a run of consecutive chunks' where one
 * per chunk would take more than ~4 MiB (long inputs); with 64 output
 * channels or more there are no slots then: threads share out the channel
 * blocks instead and each adds every chunk's sum into dw in order.  Chunk
 * length, slots and that choice depend on the shape only, never on the
 * thread count; a slot's chunks are added in order by one thread and the
 * slots in order at the end, so results are the same bits whatever the
 * number of threads.  A
 * block of MB dy rows (a few KiB per row) stays in L1 while the tap blocks
 * sweep the chunk; the taps of a block mostly share one or two input rows,
 * shifted.  ~190 GFLOP/s on one Zen 5 core for the decoder's [12, 12, 11]
 * taps (AVX-512; 95 with AVX2), 7-8x im2col + GEMM. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define JC_DW_X86 1
#endif

/* Micro-kernel: `rows` (<= MB) output channels x NB taps over one chunk.
 * dy: first row at the chunk's start (rows lddy apart); xp[j]: the input row
 * of tap j at the chunk's start; nv full vectors, then a tail of `tail`
 * floats (0 <= tail < vector length) read by masked loads.
 * out[r * ldo + j] = the sum (add: plus out[r * ldo + j]), for r < rows and
 * j < cols (taps past cols are computed from a valid row and dropped). */
typedef void (*dwk_fn)(const float *dy, int64_t lddy, const float *const *xp, int64_t nv, int tail, float *out,
                       int64_t ldo, int cols, int add);

/* ------------------------------------------------------------ portable */

/* 2 channels x 4 taps on 4-float vectors: 8 accumulators, 6 loads per 8
 * FMAs, within SSE2's or NEON's 16 registers. */
#define GEN_MB 2
#define GEN_NB 4
#define GEN_VL 4

#if defined(__GNUC__)
static inline v4f v4_load_part(const float *p, int n)
{
    v4f v = {0, 0, 0, 0};
    memcpy(&v, p, (size_t)n * sizeof *p);
    return v;
}

static inline float v4_sum(v4f v) { return (v[0] + v[1]) + (v[2] + v[3]); }

__attribute__((always_inline)) static inline void dwk_generic(const int rows, const float *dy, int64_t lddy,
                                                             const float *const *xp, int64_t nv, int tail,
                                                             float *out, int64_t ldo, int cols, int add)
{
    const float *d0 = dy, *d1 = dy + lddy, *x0 = xp[0], *x1 = xp[1], *x2 = xp[2], *x3 = xp[3];
    v4f z = {0, 0, 0, 0}, a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
#define GEN_STEP(LD)                                                                                                 \
    {                                                                                                                \
        v4f y0 = LD(d0 + o), y1 = rows > 1 ? LD(d1 + o) : z, xv;                                                     \
        GEN_TAP(LD, 0) GEN_TAP(LD, 1) GEN_TAP(LD, 2) GEN_TAP(LD, 3)                                                  \
    }
#define GEN_TAP(LD, j)                                                                                               \
    xv = LD(x##j + o);                                                                                               \
    a0##j += y0 * xv;                                                                                                \
    if (rows > 1)                                                                                                    \
        a1##j += y1 * xv;
#define GEN_FULL(p) v4_load(p)
#define GEN_PART(p) v4_load_part(p, tail)
    int64_t o = 0;
    for (int64_t v = 0; v < nv; v++, o += GEN_VL)
        GEN_STEP(GEN_FULL)
    if (tail)
        GEN_STEP(GEN_PART)
#undef GEN_PART
#undef GEN_FULL
#undef GEN_TAP
#undef GEN_STEP
    float s[GEN_MB][GEN_NB] = {{v4_sum(a00), v4_sum(a01), v4_sum(a02), v4_sum(a03)},
                               {v4_sum(a10), v4_sum(a11), v4_sum(a12), v4_sum(a13)}};
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            out[r * ldo + j] = add ? out[r * ldo + j] + s[r][j] : s[r][j];
}
#else
static void dwk_generic(const int rows, const float *dy, int64_t lddy, const float *const *xp, int64_t nv, int tail,
                        float *out, int64_t ldo, int cols, int add)
{
    float acc[GEN_MB][GEN_NB][GEN_VL] = {{{0}}};
    int64_t n = nv * GEN_VL + tail;
    for (int64_t t0 = 0; t0 < n; t0 += GEN_VL)
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < GEN_NB; j++)
                for (int l = 0; l < GEN_VL && t0 + l < n; l++)
                    acc[r][j][l] += dy[r * lddy + t0 + l] * xp[j][t0 + l];
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) {
            float v = (acc[r][j][0] + acc[r][j][1]) + (acc[r][j][2] + acc[r][j][3]);
            out[r * ldo + j] = add ? out[r * ldo + j] + v : v;
        }
}
#endif

#define GEN_KERNEL(R)                                                                                                \
    static void dwk_generic_##R(const float *dy, int64_t lddy, const float *const *xp, int64_t nv, int tail,         \
                                float *out, int64_t ldo, int cols, int add)                                          \
    {                                                                                                                \
        dwk_generic(R, dy, lddy, xp, nv, tail, out, ldo, cols, add);                                                 \
    }
GEN_KERNEL(1)
GEN_KERNEL(2)
#undef GEN_KERNEL

#ifdef JC_DW_X86

/* ---------------------------------------------------------------- AVX2 */

/* 3 channels x 4 taps: 12 accumulators + 3 dy vectors + 1 x vector fill the
 * 16 ymm registers; 7 loads per 12 FMAs. */
#define AVX2_MB 3
#define AVX2_NB 4
#define AVX2_VL 8

__attribute__((target("avx2,fma"), always_inline)) static inline float avx2_sum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
dwk_avx2_body(const int rows, const float *dy, int64_t lddy, const float *const *xp, int64_t nv, int tail, float *out,
              int64_t ldo, int cols, int add)
{
    const float *d0 = dy, *d1 = dy + lddy, *d2 = dy + 2 * lddy;
    const float *x0 = xp[0], *x1 = xp[1], *x2 = xp[2], *x3 = xp[3];
    __m256 z = _mm256_setzero_ps();
    __m256 a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z, a20 = z, a21 = z, a22 = z,
           a23 = z;
    /* lane l of the tail mask is set when l < tail */
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#define A2_STEP(LD)                                                                                                  \
    {                                                                                                                \
        __m256 y0 = LD(d0 + o), y1 = rows > 1 ? LD(d1 + o) : z, y2 = rows > 2 ? LD(d2 + o) : z, xv;                  \
        A2_TAP(LD, 0) A2_TAP(LD, 1) A2_TAP(LD, 2) A2_TAP(LD, 3)                                                      \
    }
#define A2_TAP(LD, j)                                                                                                \
    xv = LD(x##j + o);                                                                                               \
    a0##j = _mm256_fmadd_ps(y0, xv, a0##j);                                                                          \
    if (rows > 1)                                                                                                    \
        a1##j = _mm256_fmadd_ps(y1, xv, a1##j);                                                                      \
    if (rows > 2)                                                                                                    \
        a2##j = _mm256_fmadd_ps(y2, xv, a2##j);
#define A2_FULL(p) _mm256_loadu_ps(p)
#define A2_PART(p) _mm256_maskload_ps(p, mask)
    int64_t o = 0;
    for (int64_t v = 0; v < nv; v++, o += AVX2_VL)
        A2_STEP(A2_FULL)
    if (tail)
        A2_STEP(A2_PART)
#undef A2_PART
#undef A2_FULL
#undef A2_TAP
#undef A2_STEP
    float s[AVX2_MB][AVX2_NB] = {{avx2_sum(a00), avx2_sum(a01), avx2_sum(a02), avx2_sum(a03)},
                                 {avx2_sum(a10), avx2_sum(a11), avx2_sum(a12), avx2_sum(a13)},
                                 {avx2_sum(a20), avx2_sum(a21), avx2_sum(a22), avx2_sum(a23)}};
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            out[r * ldo + j] = add ? out[r * ldo + j] + s[r][j] : s[r][j];
}

#define AVX2_KERNEL(R)                                                                                               \
    __attribute__((target("avx2,fma"))) static void dwk_avx2_##R(const float *dy, int64_t lddy,                      \
                                                                 const float *const *xp, int64_t nv, int tail,       \
                                                                 float *out, int64_t ldo, int cols, int add)         \
    {                                                                                                                \
        dwk_avx2_body(R, dy, lddy, xp, nv, tail, out, ldo, cols, add);                                               \
    }
AVX2_KERNEL(1)
AVX2_KERNEL(2)
AVX2_KERNEL(3)
#undef AVX2_KERNEL

/* ------------------------------------------------------------- AVX-512 */

/* 4 channels x 6 taps: 24 accumulators + 4 dy vectors + 1 x vector; 10
 * loads per 24 FMAs keeps the two FMA pipes ahead of the load ports. */
#define AVX512_MB 4
#define AVX512_NB 6
#define AVX512_VL 16

/* Block i of the result: 4 partial sums of v_i (i = 0..3). */
__attribute__((target("avx512f"), always_inline)) static inline __m512 red4(__m512 a, __m512 b, __m512 c, __m512 d)
{
    __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xee));
    __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xee));
    return _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xdd));
}

/* Within each block: [e0 + e2, e1 + e3, f0 + f2, f1 + f3] */
__attribute__((target("avx512f"), always_inline)) static inline __m512 pair_lo(__m512 e, __m512 f)
{
    return _mm512_add_ps(_mm512_shuffle_ps(e, f, 0x44), _mm512_shuffle_ps(e, f, 0xee));
}

/* Within each block, from g = pair_lo(e, f), h = pair_lo(e', f'):
 * [sum e, sum f, sum e', sum f'] */
__attribute__((target("avx512f"), always_inline)) static inline __m512 pair_hi(__m512 g, __m512 h)
{
    return _mm512_add_ps(_mm512_shuffle_ps(g, h, 0x88), _mm512_shuffle_ps(g, h, 0xdd));
}

__attribute__((target("avx512f"), always_inline)) static inline void
dwk_avx512_body(const int rows, const float *dy, int64_t lddy, const float *const *xp, int64_t nv, int tail,
                float *out, int64_t ldo, int cols, int add)
{
    const float *d0 = dy, *d1 = dy + lddy, *d2 = dy + 2 * lddy, *d3 = dy + 3 * lddy;
    const float *x0 = xp[0], *x1 = xp[1], *x2 = xp[2], *x3 = xp[3], *x4 = xp[4], *x5 = xp[5];
    __m512 z = _mm512_setzero_ps();
#define A5_ZERO(r) __m512 a##r##0 = z, a##r##1 = z, a##r##2 = z, a##r##3 = z, a##r##4 = z, a##r##5 = z;
    A5_ZERO(0) A5_ZERO(1) A5_ZERO(2) A5_ZERO(3)
#undef A5_ZERO
    __mmask16 mask = (__mmask16)((1u << tail) - 1);
#define A5_STEP(LD)                                                                                                  \
    {                                                                                                                \
        __m512 y0 = LD(d0 + o), y1 = rows > 1 ? LD(d1 + o) : z, y2 = rows > 2 ? LD(d2 + o) : z,                      \
               y3 = rows > 3 ? LD(d3 + o) : z, xv;                                                                   \
        A5_TAP(LD, 0) A5_TAP(LD, 1) A5_TAP(LD, 2) A5_TAP(LD, 3) A5_TAP(LD, 4) A5_TAP(LD, 5)                          \
    }
#define A5_TAP(LD, j)                                                                                                \
    xv = LD(x##j + o);                                                                                               \
    a0##j = _mm512_fmadd_ps(y0, xv, a0##j);                                                                          \
    if (rows > 1)                                                                                                    \
        a1##j = _mm512_fmadd_ps(y1, xv, a1##j);                                                                      \
    if (rows > 2)                                                                                                    \
        a2##j = _mm512_fmadd_ps(y2, xv, a2##j);                                                                      \
    if (rows > 3)                                                                                                    \
        a3##j = _mm512_fmadd_ps(y3, xv, a3##j);
#define A5_FULL(p) _mm512_loadu_ps(p)
#define A5_PART(p) _mm512_maskz_loadu_ps(mask, p)
    int64_t o = 0;
    for (int64_t v = 0; v < nv; v++, o += AVX512_VL)
        A5_STEP(A5_FULL)
    if (tail)
        A5_STEP(A5_PART)
#undef A5_PART
#undef A5_FULL
#undef A5_TAP
#undef A5_STEP
    /* the 24 lane reductions as one transposing tree (69 operations
     * instead of ~190): red4 leaves one accumulator per 128-bit block */
    __m512 e0 = red4(a00, a10, a20, a30), e1 = red4(a01, a11, a21, a31), e2 = red4(a02, a12, a22, a32),
           e3 = red4(a03, a13, a23, a33), e4 = red4(a04, a14, a24, a34), e5 = red4(a05, a15, a25, a35);
    __m512 g45 = pair_lo(e4, e5);
    float s03[16], s45[16]; /* block r: row r's sums of taps 0-3, and of taps 4-5 (twice) */
    _mm512_storeu_ps(s03, pair_hi(pair_lo(e0, e1), pair_lo(e2, e3)));
    _mm512_storeu_ps(s45, pair_hi(g45, g45));
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) {
            float v = j < 4 ? s03[4 * r + j] : s45[4 * r + j - 4];
            out[r * ldo + j] = add ? out[r * ldo + j] + v : v;
        }
}

#define AVX512_KERNEL(R)                                                                                             \
    __attribute__((target("avx512f"))) static void dwk_avx512_##R(const float *dy, int64_t lddy,                     \
                                                                  const float *const *xp, int64_t nv, int tail,      \
                                                                  float *out, int64_t ldo, int cols, int add)        \
    {                                                                                                                \
        dwk_avx512_body(R, dy, lddy, xp, nv, tail, out, ldo, cols, add);                                             \
    }
AVX512_KERNEL(1)
AVX512_KERNEL(2)
AVX512_KERNEL(3)
AVX512_KERNEL(4)
#undef AVX512_KERNEL

#endif /* JC_DW_X86 */

/* ------------------------------------------------------------- driver */

typedef struct {
    dwk_fn fns[5]; /* fns[r]: r rows, 1 <= r <= mb */
    int mb, nb, vl;
} dwk_desc;

static dwk_desc pick_desc(void)
{
    dwk_desc d = {{NULL, dwk_generic_1, dwk_generic_2}, GEN_MB, GEN_NB, GEN_VL};
#ifdef JC_DW_X86
    int isa = jc_cpu_simd_isa();
    if (isa == JC_ISA_AVX512)
        d = (dwk_desc){{NULL, dwk_avx512_1, dwk_avx512_2, dwk_avx512_3, dwk_avx512_4}, AVX512_MB, AVX512_NB,
                       AVX512_VL};
    else if (isa == JC_ISA_AVX2)
        d = (dwk_desc){{NULL, dwk_avx2_1, dwk_avx2_2, dwk_avx2_3}, AVX2_MB, AVX2_NB, AVX2_VL};
#endif
    return d;
}

typedef struct {
    dwk_desc d;
    int B, Cin, Cout, K, pad_l, dil;
    int64_t Tin, Tout;
    const float *x, *dy;
    float *dw;
    int64_t cl;         /* time steps per chunk */
    long nchunks;       /* per batch item */
    long nslots;        /* partial sums: slot s sums chunks [first(s), first(s + 1)) */
    int by_channels;    /* no slots: threads split the channel blocks, dw sums the chunks */
    int ntaps;          /* Cin K */
    int ntaps_pad;      /* rounded up to whole tap blocks */
    int64_t ldw;        /* row length of a padded input window */
    float *part;        /* [slot][Cout][Cin K] */
    float *windows;     /* per thread: Cin rows of ldw floats */
    const float **ptrs; /* per thread: ntaps_pad row pointers */
} dw_job;

static int64_t round_up64(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

static long slot_first(const dw_job *j, long s) { return (long)((int64_t)s * j->B * j->nchunks / j->nslots); }

/* dst[0, n) = row[p, p + n), zero outside [0, tin) */
static void copy_padded(float *dst, const float *row, int64_t tin, int64_t p, int64_t n)
{
    int64_t a = p < 0 ? -p : 0, e = p + n > tin ? tin - p : n;
    a = a > n ? n : a;
    e = e < a ? a : e;
    memset(dst, 0, (size_t)a * sizeof *dst);
    if (e > a)
        memcpy(dst + a, row + p + a, (size_t)(e - a) * sizeof *dst);
    memset(dst + e, 0, (size_t)(n - e) * sizeof *dst);
}

/* Chunk c's sum for output channels [co0, co1) into out (add: onto what is
 * there). */
static void dw_chunk(const dw_job *j, long c, int co0, int co1, float *out, int add, float *win, const float **ptrs)
{
    const dwk_desc *d = &j->d;
    int b = (int)(c / j->nchunks);
    int64_t t0 = c % j->nchunks * j->cl, n = j->Tout - t0 < j->cl ? j->Tout - t0 : j->cl;
    int64_t halo = (int64_t)j->dil * (j->K - 1), lo = t0 - j->pad_l, hi = lo + n + halo; /* input window */
    const float *xb = j->x + (int64_t)b * j->Cin * j->Tin, *xw = xb + lo;
    int64_t ldx = j->Tin;
    if (lo < 0 || hi > j->Tin) {
        for (int ci = 0; ci < j->Cin; ci++)
            copy_padded(win + (int64_t)ci * j->ldw, xb + (int64_t)ci * j->Tin, j->Tin, lo, hi - lo);
        xw = win;
        ldx = j->ldw;
    }
    /* taps past the last compute on the last tap's row and are dropped */
    for (int p = 0; p < j->ntaps_pad; p++) {
        int q = p < j->ntaps ? p : j->ntaps - 1;
        ptrs[p] = xw + (int64_t)(q / j->K) * ldx + (int64_t)(q % j->K) * j->dil;
    }
    int64_t nv = n / d->vl;
    int tail = (int)(n % d->vl);
    for (int co = co0; co < co1; co += d->mb) {
        int rows = co1 - co < d->mb ? co1 - co : d->mb;
        const float *dyr = j->dy + ((int64_t)b * j->Cout + co) * j->Tout + t0;
        for (int p = 0; p < j->ntaps; p += d->nb) {
            int cols = j->ntaps - p < d->nb ? j->ntaps - p : d->nb;
            d->fns[rows](dyr, j->Tout, ptrs + p, nv, tail, out + (int64_t)co * j->ntaps + p, j->ntaps, cols, add);
        }
    }
}

/* A thread takes the slots that start in its share of the chunks and sums
 * each slot's chunks in order; or, by channels, its share of the channel
 * blocks over every chunk in order. */
static void dw_worker(void *arg, int ith, int nth)
{
    const dw_job *j = arg;
    float *win = j->windows + (size_t)ith * (size_t)j->Cin * (size_t)j->ldw;
    const float **ptrs = j->ptrs + (size_t)ith * (size_t)j->ntaps_pad;
    long nc = (long)j->B * j->nchunks, lo, hi;
    if (j->by_channels) {
        jc_split_range((j->Cout + j->d.mb - 1) / j->d.mb, ith, nth, &lo, &hi);
        int co0 = (int)lo * j->d.mb, co1 = (int)hi * j->d.mb < j->Cout ? (int)hi * j->d.mb : j->Cout;
        for (long c = 0; co0 < co1 && c < nc; c++)
            dw_chunk(j, c, co0, co1, j->dw, c > 0, win, ptrs);
        return;
    }
    jc_split_range(nc, ith, nth, &lo, &hi);
    size_t stride = (size_t)j->Cout * (size_t)j->ntaps;
    for (long s = 0; s < j->nslots; s++) {
        long c0 = slot_first(j, s), c1 = slot_first(j, s + 1);
        if (c0 < lo || c0 >= hi)
            continue;
        for (long c = c0; c < c1; c++)
            dw_chunk(j, c, 0, j->Cout, j->part + (size_t)s * stride, c > c0, win, ptrs);
    }
}

/* dw[e] = the slots' partials summed in slot order, e in [lo, hi) */
static void dw_sum_range(void *arg, long lo, long hi)
{
    const dw_job *j = arg;
    size_t stride = (size_t)j->Cout * (size_t)j->ntaps;
    memcpy(j->dw + lo, j->part + lo, (size_t)(hi - lo) * sizeof *j->dw);
    for (long s = 1; s < j->nslots; s++) {
        const float *p = j->part + (size_t)s * stride;
        for (long e = lo; e < hi; e++)
            j->dw[e] += p[e];
    }
}

/* Chunk length: long enough that the lane reductions at its end cost little
 * next to its FMAs, short enough that a block of dy rows stays in L1; at
 * least 16 chunks in all where rows allow, for the threads. */
static int64_t chunk_len(int B, int64_t Tout, int vl)
{
    int64_t cl = 1024;
    while (cl > 128 && (int64_t)B * ((Tout + cl - 1) / cl) < 16)
        cl /= 2;
    return cl < Tout ? cl : round_up64(Tout, vl);
}

jc_status jc_cpu_conv1d_direct_bwd_weight(jc_cpu_ctx *c, int B, int Cin, int Cout, int K, int pad_l, int dil,
                                          int64_t Tin, int64_t Tout, const float *x, const float *dy, float *dw)
{
    size_t ncoef = (size_t)Cout * (size_t)Cin * (size_t)K;
    if (ncoef == 0)
        return JC_OK;
    if (B <= 0 || Tout <= 0) {
        memset(dw, 0, ncoef * sizeof *dw);
        return JC_OK;
    }
    dw_job j = {.d = pick_desc(), .B = B, .Cin = Cin, .Cout = Cout, .K = K, .pad_l = pad_l, .dil = dil,
                .Tin = Tin, .Tout = Tout, .x = x, .dy = dy, .dw = dw, .ntaps = Cin * K};
    const dwk_desc *d = &j.d;
    j.ntaps_pad = (int)round_up64(j.ntaps, d->nb);
    j.cl = chunk_len(B, Tout, d->vl);
    j.nchunks = (long)((Tout + j.cl - 1) / j.cl);
    j.ldw = round_up64(j.cl + (int64_t)dil * (K - 1), 16);
    /* a slot per chunk where the partials fit in ~4 MiB, else fewer (at
     * least 16 for the threads), or none where there are channel blocks
     * enough to share out instead; a function of the shape only, so the sums
     * do not depend on the thread count */
    long nc = (long)B * j.nchunks, want = (long)((1u << 20) / ncoef);
    j.nslots = want < 16 ? 16 : want;
    j.nslots = j.nslots < nc ? j.nslots : nc;
    j.by_channels = nc > want && (Cout + d->mb - 1) / d->mb >= 16;
    int nth = c->nthreads;
    double flops = 2.0 * (double)ncoef * (double)Tout * B;
    if (nth > 1 && (nc < 2 || flops < 2e6)) /* ~10 us of work: not worth waking the pool */
        nth = 1;
    size_t part = j.by_channels ? 0 : (size_t)round_up64((int64_t)((size_t)j.nslots * ncoef), 16);
    size_t win = (size_t)Cin * (size_t)j.ldw;
    float *scratch = jc_cpu_scratch(c, part + (size_t)c->nthreads * win);
    j.ptrs = malloc((size_t)c->nthreads * (size_t)j.ntaps_pad * sizeof *j.ptrs);
    if (!scratch || !j.ptrs) {
        free(j.ptrs);
        return JC_ERR_NOMEM;
    }
    j.part = scratch;
    j.windows = scratch + part;
    if (nth == 1)
        dw_worker(&j, 0, 1);
    else
        jc_threadpool_run(c->pool, dw_worker, &j);
    if (!j.by_channels)
        jc_cpu_parallel(c, (long)ncoef, (double)j.nslots, dw_sum_range, &j);
    free(j.ptrs);
    return JC_OK;
}
