/* k_conv_direct.c: direct stride-1 convolution (groups 1).
 *
 *   y[b, co, t] = bias[co] + sum over ci, k of w[co, ci, k] x[b, ci, t - pad_l + k dil]
 *
 * With few channels (the decoder's MRF: 16 to 64 channels, kernels 3 to 11)
 * im2col + GEMM spends its time writing and re-reading a column matrix Cin*K
 * times the size of the input, and the GEMM's M = Cout is too small to
 * amortise its packing.  Here the input is read in place instead:
 *
 *   for each (batch item, time tile of tb outputs, group of output channels)
 *     if the tile's input window crosses an edge, copy it, zero-padded
 *     for each block of MB output channels
 *       for each micro-tile of W = NV vector lengths of time
 *         accumulators MB x W in registers, initialised with the bias;
 *         for ci, for each live tap k: load NV vectors of x at the tap's
 *                        offset, broadcast MB weights, MB x NV FMAs
 *         store
 *
 * The weights are packed once per call as [co block][ci][k][MB] so the
 * broadcasts walk memory in order.  A tile's input window (Cin rows of
 * tb + dil (K-1) floats) and one block of packed weights stay in L1/L2, and
 * the next tile's input is prefetched while the first channel block runs.
 * Taps that read only padding for a whole micro-tile are skipped (live taps
 * are a contiguous range), which matters at dilations near or past the row
 * length.  A row's last micro-tile narrows to the vectors it needs (AVX-512)
 * and a partial tile is computed into a buffer and only its valid outputs
 * copied, so no load or store runs past a row.
 *
 * Every output is summed in the same order (bias, then ci, then k) by exactly
 * one micro-kernel call whatever the tiling or the thread split, so results
 * do not depend on the thread count. */
#include <stdint.h>
#include <string.h>

#include "cpu_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define JC_DIRECT_X86 1
#endif

/* Micro-kernel: MB (or fewer, `rows`) output channels x W time steps over
 * the taps kl <= k < kh (the others read only padding there).
 * x: input of tap kl for the first output; tap k + 1 is ts floats after tap
 * k, channel ci + 1 ldx floats after ci (Cin channels);
 * w: packed block [cin][K][MB]; bias: bias of the first row or NULL;
 * y: first output (rows ldy apart). */
typedef void (*dk_fn)(const float *x, int64_t ldx, int64_t ts, int cin, int kl, int kh, int K, const float *w,
                      const float *bias, float *y, int64_t ldy);

/* ------------------------------------------------------------ portable */

/* 4 channels x 8 time steps.  With GCC's vector extensions the 8 accumulators
 * stay in registers (SSE2 on x86-64, NEON on aarch64); plain arrays would be
 * kept in memory at -O2. */
#define GEN_MB 4
#define GEN_W 8

#if defined(__GNUC__)
__attribute__((always_inline)) static inline void dk_generic(const int rows, const float *x, int64_t ldx,
                                                            int64_t ts, int cin, int kl, int kh, int K,
                                                            const float *w, const float *bias, float *y, int64_t ldy)
{
    v4f a[GEN_MB][2];
    for (int r = 0; r < GEN_MB; r++) {
        float b = bias && r < rows ? bias[r] : 0.0f;
        a[r][0] = a[r][1] = (v4f){b, b, b, b};
    }
    for (int ci = 0; ci < cin; ci++) {
        const float *xp = x + (int64_t)ci * ldx, *wk = w + ((int64_t)ci * K + kl) * GEN_MB;
        for (int k = kl; k < kh; k++, xp += ts, wk += GEN_MB) {
            v4f x0 = v4_load(xp), x1 = v4_load(xp + 4);
#define GEN_ROW(i)                                                                                                   \
    if (rows > i) {                                                                                                  \
        v4f t = {wk[i], wk[i], wk[i], wk[i]};                                                                        \
        a[i][0] += t * x0;                                                                                           \
        a[i][1] += t * x1;                                                                                           \
    }
            GEN_ROW(0) GEN_ROW(1) GEN_ROW(2) GEN_ROW(3)
#undef GEN_ROW
        }
    }
    for (int r = 0; r < rows; r++) {
        memcpy(y + r * ldy, &a[r][0], sizeof a[r][0]);
        memcpy(y + r * ldy + 4, &a[r][1], sizeof a[r][1]);
    }
}
#else
static void dk_generic(const int rows, const float *x, int64_t ldx, int64_t ts, int cin, int kl, int kh, int K,
                       const float *w, const float *bias, float *y, int64_t ldy)
{
    float acc[GEN_MB][GEN_W];
    for (int r = 0; r < GEN_MB; r++)
        for (int j = 0; j < GEN_W; j++)
            acc[r][j] = bias && r < rows ? bias[r] : 0.0f;
    for (int ci = 0; ci < cin; ci++) {
        const float *xp = x + (int64_t)ci * ldx, *wk = w + ((int64_t)ci * K + kl) * GEN_MB;
        for (int k = kl; k < kh; k++, xp += ts, wk += GEN_MB) {
            for (int r = 0; r < GEN_MB; r++)
                for (int j = 0; j < GEN_W; j++)
                    acc[r][j] += wk[r] * xp[j];
        }
    }
    for (int r = 0; r < rows; r++)
        memcpy(y + r * ldy, acc[r], sizeof acc[r]);
}
#endif

#define GEN_KERNEL(R)                                                                                                \
    static void dk_generic_##R(const float *x, int64_t ldx, int64_t ts, int cin, int kl, int kh, int K,              \
                               const float *w, const float *bias, float *y, int64_t ldy)                             \
    {                                                                                                                \
        dk_generic(R, x, ldx, ts, cin, kl, kh, K, w, bias, y, ldy);                                                  \
    }
GEN_KERNEL(1)
GEN_KERNEL(2)
GEN_KERNEL(3)
GEN_KERNEL(4)
#undef GEN_KERNEL

#ifdef JC_DIRECT_X86

/* ---------------------------------------------------------------- AVX2 */

/* 4 channels x 3 ymm of time: 12 accumulators, 3 loads, 1 broadcast. */
#define AVX2_MB 4
#define AVX2_W 24

__attribute__((target("avx2,fma"), always_inline)) static inline void
dk_avx2_body(const int rows, const float *x, int64_t ldx, int64_t ts, int cin, int kl, int kh, int K, const float *w,
             const float *bias, float *y, int64_t ldy)
{
#define A2_INIT(i)                                                                                                   \
    __m256 a##i##_0 = _mm256_set1_ps(bias && rows > i ? bias[i] : 0.0f), a##i##_1 = a##i##_0, a##i##_2 = a##i##_0;
    A2_INIT(0) A2_INIT(1) A2_INIT(2) A2_INIT(3)
#undef A2_INIT
    for (int ci = 0; ci < cin; ci++) {
        const float *xp = x + (int64_t)ci * ldx, *wk = w + ((int64_t)ci * K + kl) * AVX2_MB;
        for (int k = kl; k < kh; k++, xp += ts, wk += AVX2_MB) {
            __m256 x0 = _mm256_loadu_ps(xp), x1 = _mm256_loadu_ps(xp + 8), x2 = _mm256_loadu_ps(xp + 16), t;
#define A2_ROW(i)                                                                                                    \
    if (rows > i) {                                                                                                  \
        t = _mm256_broadcast_ss(wk + i);                                                                             \
        a##i##_0 = _mm256_fmadd_ps(t, x0, a##i##_0);                                                                 \
        a##i##_1 = _mm256_fmadd_ps(t, x1, a##i##_1);                                                                 \
        a##i##_2 = _mm256_fmadd_ps(t, x2, a##i##_2);                                                                 \
    }
            A2_ROW(0) A2_ROW(1) A2_ROW(2) A2_ROW(3)
#undef A2_ROW
        }
    }
#define A2_OUT(i)                                                                                                    \
    if (rows > i) {                                                                                                  \
        _mm256_storeu_ps(y + i * ldy, a##i##_0);                                                                     \
        _mm256_storeu_ps(y + i * ldy + 8, a##i##_1);                                                                 \
        _mm256_storeu_ps(y + i * ldy + 16, a##i##_2);                                                                \
    }
    A2_OUT(0) A2_OUT(1) A2_OUT(2) A2_OUT(3)
#undef A2_OUT
}

#define AVX2_KERNEL(R)                                                                                               \
    __attribute__((target("avx2,fma"))) static void dk_avx2_##R(const float *x, int64_t ldx, int64_t ts, int cin,    \
                                                                int kl, int kh, int K, const float *w,               \
                                                                const float *bias, float *y, int64_t ldy)            \
    {                                                                                                                \
        dk_avx2_body(R, x, ldx, ts, cin, kl, kh, K, w, bias, y, ldy);                                                \
    }
AVX2_KERNEL(1)
AVX2_KERNEL(2)
AVX2_KERNEL(3)
AVX2_KERNEL(4)
#undef AVX2_KERNEL

/* ------------------------------------------------------------- AVX-512 */

/* 8 channels x 3 zmm of time: 24 accumulators, 3 loads and a broadcast per
 * 24 FMAs, within the two loads a cycle that feed two FMA pipes. */
#define AVX512_MB 8

__attribute__((target("avx512f"), always_inline)) static inline void
dk_avx512_body(const int rows, const int nv, const float *x, int64_t ldx, int64_t ts, int cin, int kl, int kh, int K,
               const float *w, const float *bias, float *y, int64_t ldy)
{
#define A5_INIT(i)                                                                                                   \
    __m512 a##i##_0 = _mm512_set1_ps(bias && rows > i ? bias[i] : 0.0f), a##i##_1 = a##i##_0, a##i##_2 = a##i##_0;
    A5_INIT(0) A5_INIT(1) A5_INIT(2) A5_INIT(3) A5_INIT(4) A5_INIT(5) A5_INIT(6) A5_INIT(7)
#undef A5_INIT
    for (int ci = 0; ci < cin; ci++) {
        const float *xp = x + (int64_t)ci * ldx, *wk = w + ((int64_t)ci * K + kl) * AVX512_MB;
        for (int k = kl; k < kh; k++, xp += ts, wk += AVX512_MB) {
            __m512 x0 = _mm512_loadu_ps(xp), x1 = x0, x2 = x0, t;
            if (nv > 1)
                x1 = _mm512_loadu_ps(xp + 16);
            if (nv > 2)
                x2 = _mm512_loadu_ps(xp + 32);
#define A5_ROW(i)                                                                                                    \
    if (rows > i) {                                                                                                  \
        t = _mm512_set1_ps(wk[i]);                                                                                   \
        a##i##_0 = _mm512_fmadd_ps(t, x0, a##i##_0);                                                                 \
        if (nv > 1)                                                                                                  \
            a##i##_1 = _mm512_fmadd_ps(t, x1, a##i##_1);                                                             \
        if (nv > 2)                                                                                                  \
            a##i##_2 = _mm512_fmadd_ps(t, x2, a##i##_2);                                                             \
    }
            A5_ROW(0) A5_ROW(1) A5_ROW(2) A5_ROW(3) A5_ROW(4) A5_ROW(5) A5_ROW(6) A5_ROW(7)
#undef A5_ROW
        }
    }
#define A5_OUT(i)                                                                                                    \
    if (rows > i) {                                                                                                  \
        _mm512_storeu_ps(y + i * ldy, a##i##_0);                                                                     \
        if (nv > 1)                                                                                                  \
            _mm512_storeu_ps(y + i * ldy + 16, a##i##_1);                                                            \
        if (nv > 2)                                                                                                  \
            _mm512_storeu_ps(y + i * ldy + 32, a##i##_2);                                                            \
    }
    A5_OUT(0) A5_OUT(1) A5_OUT(2) A5_OUT(3) A5_OUT(4) A5_OUT(5) A5_OUT(6) A5_OUT(7)
#undef A5_OUT
}

/* dk_avx512_<nv>_<rows>: nv = 3 is the main kernel, 1 and 2 finish a row. */
#define AVX512_KERNEL(V, R)                                                                                          \
    __attribute__((target("avx512f"))) static void dk_avx512_##V##_##R(const float *x, int64_t ldx, int64_t ts,      \
                                                                       int cin, int kl, int kh, int K,               \
                                                                       const float *w, const float *bias, float *y,  \
                                                                       int64_t ldy)                                  \
    {                                                                                                                \
        dk_avx512_body(R, V, x, ldx, ts, cin, kl, kh, K, w, bias, y, ldy);                                           \
    }
#define AVX512_KERNELS(V)                                                                                            \
    AVX512_KERNEL(V, 1)                                                                                              \
    AVX512_KERNEL(V, 2)                                                                                              \
    AVX512_KERNEL(V, 3)                                                                                              \
    AVX512_KERNEL(V, 4)                                                                                              \
    AVX512_KERNEL(V, 5)                                                                                              \
    AVX512_KERNEL(V, 6)                                                                                              \
    AVX512_KERNEL(V, 7)                                                                                              \
    AVX512_KERNEL(V, 8)
AVX512_KERNELS(1)
AVX512_KERNELS(2)
AVX512_KERNELS(3)
#undef AVX512_KERNELS
#undef AVX512_KERNEL
#define AVX512_ROWS(V)                                                                                               \
    {NULL,           dk_avx512_##V##_1, dk_avx512_##V##_2, dk_avx512_##V##_3, dk_avx512_##V##_4,                     \
     dk_avx512_##V##_5, dk_avx512_##V##_6, dk_avx512_##V##_7, dk_avx512_##V##_8}
static const dk_fn dk_avx512_fns[3][AVX512_MB + 1] = {AVX512_ROWS(1), AVX512_ROWS(2), AVX512_ROWS(3)};
#undef AVX512_ROWS

#endif /* JC_DIRECT_X86 */

/* ------------------------------------------------------------- driver */

typedef struct {
    const dk_fn (*fns)[9]; /* fns[v - 1][r]: v vectors (1 <= v <= nv) by r rows (1 <= r <= mb) */
    int mb, nv, vl;         /* channels, vectors and floats per vector of a micro-tile */
} dk_desc;

static const dk_fn dk_generic_fns[1][9] = {{NULL, dk_generic_1, dk_generic_2, dk_generic_3, dk_generic_4}};
#ifdef JC_DIRECT_X86
static const dk_fn dk_avx2_fns[1][9] = {{NULL, dk_avx2_1, dk_avx2_2, dk_avx2_3, dk_avx2_4}};
#endif

static dk_desc pick_desc(void)
{
    dk_desc d = {dk_generic_fns, GEN_MB, 1, GEN_W};
#ifdef JC_DIRECT_X86
    int isa = jc_cpu_simd_isa();
    if (isa == JC_ISA_AVX512)
        d = (dk_desc){dk_avx512_fns, AVX512_MB, 3, 16};
    else if (isa == JC_ISA_AVX2)
        d = (dk_desc){dk_avx2_fns, AVX2_MB, 1, AVX2_W};
#endif
    return d;
}

typedef struct {
    dk_desc d;
    int B, Cin, Cout, K, pad_l, dil;
    int64_t Tin, Tout;
    const float *x, *wp, *bias;
    float *y;
    int64_t tb;     /* outputs per tile, a multiple of the micro-tile */
    long ntiles;    /* per batch item */
    int ncob;       /* blocks of d.mb output channels */
    int nsplit;     /* groups of channel blocks per tile */
    int long_reach; /* dil (K - 1) > 2 tb: see direct_item */
    int64_t ldb;    /* row length of a padded input window (short reach) */
    float *scratch; /* per thread: padded window or live-tap slices, then the last tile's outputs */
    size_t buf_floats, per_thread;
} direct_job;

static int64_t round_up64(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/* floor(a / b) for b > 0 */
static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Taps [*kl, *kh) of a micro-tile whose tap 0 reads [base, base + width):
 * those that read anything inside [0, Tin); the others see only padding. */
static void live_taps(const direct_job *j, int64_t base, int64_t width, int64_t *kl, int64_t *kh)
{
    int64_t lo = floor_div(-base - width, j->dil) + 1, hi = floor_div(j->Tin - 1 - base, j->dil) + 1;
    *kl = lo < 0 ? 0 : lo;
    *kh = hi > j->K ? j->K : hi;
    if (*kh < *kl)
        *kh = *kl;
}

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

/* Item = (batch item, tile, channel group), in that order of significance.
 * Two ways to meet the edges: with a short reach (dil (K - 1) up to two
 * tiles, every layer of the models but the widest dilations) a tile whose
 * input window crosses an edge is copied once, zero-padded, and read like
 * the input; with a long one, the window would be mostly never-read padding,
 * so each micro-tile copies just the slices its live taps read, once for all
 * channel blocks (micro-tile outer loop). */
static void direct_item(const direct_job *j, long item, float *buf, float *obuf)
{
    const dk_desc *d = &j->d;
    int s = (int)(item % j->nsplit);
    long tile = item / j->nsplit % j->ntiles;
    int b = (int)(item / j->nsplit / j->ntiles);
    int64_t t0 = tile * j->tb, n = j->Tout - t0 < j->tb ? j->Tout - t0 : j->tb, nfull = round_up64(n, d->vl);
    const float *xb = j->x + (int64_t)b * j->Cin * j->Tin;
    int cb0 = (int)((int64_t)s * j->ncob / j->nsplit), cb1 = (int)((int64_t)(s + 1) * j->ncob / j->nsplit);
    int64_t wblock = (int64_t)j->Cin * j->K * d->mb, w = (int64_t)d->nv * d->vl, dil = j->dil;
    int64_t halo = dil * (j->K - 1), lo = t0 - j->pad_l, hi = lo + nfull + halo; /* input window [lo, hi) */
    int partial = nfull != n;
    float *dst = partial ? obuf : NULL;
    int64_t ldy = partial ? nfull : j->Tout;
    if (!j->long_reach) {
        const float *xw = xb + lo; /* the window: input index lo + i at xw[i] */
        int64_t ldx = j->Tin;
        int edge = lo < 0 || hi > j->Tin;
        if (edge) {
            for (int ci = 0; ci < j->Cin; ci++)
                copy_padded(buf + (int64_t)ci * j->ldb, xb + (int64_t)ci * j->Tin, j->Tin, lo, hi - lo);
            xw = buf;
            ldx = j->ldb;
        }
        for (int cb = cb0; cb < cb1; cb++) {
            int co = cb * d->mb, rows = j->Cout - co < d->mb ? j->Cout - co : d->mb;
            const float *wp = j->wp + cb * wblock, *bias = j->bias ? j->bias + co : NULL;
            float *yo = j->y + ((int64_t)b * j->Cout + co) * j->Tout + t0;
            float *out = partial ? dst : yo;
            for (int64_t t = 0; t < nfull; t += w) {
                int v = nfull - t < w ? (int)((nfull - t) / d->vl) : d->nv;
                int64_t kl = 0, kh = j->K;
                if (edge)
                    live_taps(j, lo + t, (int64_t)v * d->vl, &kl, &kh);
                else if (cb == cb0) /* fetch the next tile's input */
                    for (int ci = 0; ci < j->Cin; ci++)
                        for (int64_t l = 0; l < w; l += 16)
                            __builtin_prefetch(xw + ci * ldx + t + j->tb + l, 0, 3);
                const float *xs = kh > kl ? xw + t + kl * dil : xw;
                d->fns[v - 1][rows](xs, ldx, dil, j->Cin, (int)kl, (int)kh, j->K, wp, bias, out + t, ldy);
            }
            if (partial)
                for (int r = 0; r < rows; r++)
                    memcpy(yo + r * j->Tout, obuf + r * nfull, (size_t)n * sizeof *yo);
        }
        return;
    }
    for (int64_t t = 0; t < nfull; t += w) {
        int v = nfull - t < w ? (int)((nfull - t) / d->vl) : d->nv;
        int64_t width = (int64_t)v * d->vl, base = lo + t, kl, kh;
        live_taps(j, base, width, &kl, &kh);
        const float *xs = kh > kl ? xb + base + kl * dil : xb;
        int64_t ldx = j->Tin, ts = dil;
        if (kh > kl && (base + kl * dil < 0 || base + (kh - 1) * dil + width > j->Tin)) {
            int64_t nk = kh - kl; /* a live tap crosses an edge: copy the live taps' slices */
            for (int ci = 0; ci < j->Cin; ci++)
                for (int64_t k = 0; k < nk; k++)
                    copy_padded(buf + ((int64_t)ci * nk + k) * width, xb + (int64_t)ci * j->Tin, j->Tin,
                                base + (kl + k) * dil, width);
            xs = buf;
            ldx = nk * width;
            ts = width;
        }
        for (int cb = cb0; cb < cb1; cb++) {
            int co = cb * d->mb, rows = j->Cout - co < d->mb ? j->Cout - co : d->mb;
            const float *wp = j->wp + cb * wblock, *bias = j->bias ? j->bias + co : NULL;
            float *out = partial ? dst + (int64_t)(cb - cb0) * d->mb * nfull
                                 : j->y + ((int64_t)b * j->Cout + co) * j->Tout + t0;
            d->fns[v - 1][rows](xs, ldx, ts, j->Cin, (int)kl, (int)kh, j->K, wp, bias, out + t, ldy);
        }
    }
    if (partial)
        for (int cb = cb0; cb < cb1; cb++) {
            int co = cb * d->mb, rows = j->Cout - co < d->mb ? j->Cout - co : d->mb;
            float *yo = j->y + ((int64_t)b * j->Cout + co) * j->Tout + t0;
            for (int r = 0; r < rows; r++)
                memcpy(yo + r * j->Tout, obuf + ((int64_t)(cb - cb0) * d->mb + r) * nfull, (size_t)n * sizeof *yo);
        }
}

static void direct_worker(void *p, int ith, int nth)
{
    const direct_job *j = p;
    long lo, hi;
    jc_split_range((long)j->B * j->ntiles * j->nsplit, ith, nth, &lo, &hi);
    float *buf = j->scratch + (size_t)ith * j->per_thread;
    float *obuf = buf + j->buf_floats;
    for (long i = lo; i < hi; i++)
        direct_item(j, i, buf, obuf);
}

/* Outputs per tile: the input window (Cin rows) should stay in L1/L2 while
 * every channel block sweeps it; at least a few micro-tiles, at most 16. */
static int64_t tile_len(int cin, int64_t halo, int w, int64_t tout)
{
    int64_t budget = 12288 / (cin > 0 ? cin : 1); /* ~48 KiB of floats */
    int64_t tb = (budget - halo) / w * w;
    if (tb < 4 * w)
        tb = 4 * w;
    if (tb > 16 * w)
        tb = 16 * w;
    int64_t need = round_up64(tout, w);
    return tb < need ? tb : need;
}

jc_status jc_cpu_conv1d_direct(jc_cpu_ctx *c, int B, int Cin, int Cout, int K, int pad_l, int dil, int64_t Tin,
                               int64_t Tout, const float *x, const float *w, const float *bias, float *y)
{
    if (B <= 0 || Cout <= 0 || Tout <= 0)
        return JC_OK;
    direct_job j = {.d = pick_desc(), .B = B, .Cin = Cin, .Cout = Cout, .K = K, .pad_l = pad_l, .dil = dil,
                    .Tin = Tin, .Tout = Tout, .x = x, .bias = bias, .y = y, .nsplit = 1};
    const dk_desc *d = &j.d;
    int64_t halo = (int64_t)dil * (K - 1), mw = (int64_t)d->nv * d->vl;
    j.tb = tile_len(Cin, halo, (int)mw, Tout);
    j.ntiles = (long)((Tout + j.tb - 1) / j.tb);
    j.ncob = (Cout + d->mb - 1) / d->mb;
    j.long_reach = halo > 2 * j.tb;
    j.ldb = round_up64(j.tb + halo, 16);
    int nth = c->nthreads;
    /* too few tiles to go round: split the channel blocks too */
    long tiles = (long)B * j.ntiles;
    if (nth > 1 && tiles < 4L * nth) {
        long want = (4L * nth + tiles - 1) / tiles;
        j.nsplit = (int)(want < j.ncob ? want : j.ncob);
    }
    size_t wfloats = (size_t)round_up64((int64_t)j.ncob * Cin * K * d->mb, 16);
    /* outputs of the last tile: one channel block, or all of them (long reach) */
    int64_t obuf = (j.long_reach ? (int64_t)j.ncob * d->mb : d->mb) * j.tb;
    j.buf_floats = (size_t)round_up64(j.long_reach ? (int64_t)Cin * K * mw : (int64_t)Cin * j.ldb, 16);
    j.per_thread = j.buf_floats + (size_t)round_up64(obuf, 16);
    float *scratch = jc_cpu_scratch(c, wfloats + (size_t)nth * j.per_thread);
    if (!scratch)
        return JC_ERR_NOMEM;
    float *wp = scratch;
    j.scratch = scratch + wfloats;
    /* pack: wp[cb][ci][k][r] = w[cb mb + r][ci][k], zero past Cout; read in order */
    size_t ck = (size_t)Cin * (size_t)K;
    if (Cout % d->mb)
        memset(wp + (size_t)(j.ncob - 1) * ck * d->mb, 0, ck * d->mb * sizeof *wp);
    for (int co = 0; co < Cout; co++) {
        const float *src = w + (size_t)co * ck;
        float *dst = wp + (size_t)(co / d->mb) * ck * d->mb + co % d->mb;
        for (size_t i = 0; i < ck; i++)
            dst[i * d->mb] = src[i];
    }
    j.wp = wp;
    long items = tiles * j.nsplit;
    double flops = 2.0 * Cout * Cin * K * (double)Tout * B;
    if (nth == 1 || items < 2 || flops < 2e6) /* ~10 us of work: not worth waking the pool */
        direct_worker(&j, 0, 1);
    else
        jc_threadpool_run(c->pool, direct_worker, &j);
    return JC_OK;
}
