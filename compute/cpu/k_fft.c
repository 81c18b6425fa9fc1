/* k_fft.c: the real DFT (JC_OP_RDFT) and its transpose (JC_OP_RDFT_ADJOINT)
 * by FFT, O(N log N) a row where the DFT matrix costs O(N^2).
 *
 * A real row of length N (a power of two) is packed into M = N/2 complex
 * values z[m] = x[2m] + i x[2m+1], transformed by an iterative radix-2 FFT
 * of length M, and split into the M + 1 bins of the row's spectrum with
 * one twiddle each.  The transpose runs the same three steps backwards:
 * merge the bins into M complex values, inverse FFT, unpack.  Four rows go
 * through the FFT together, one per lane of a 4-float vector, so every
 * butterfly is a handful of vector operations on the baseline x86-64 or
 * aarch64 target.  The twiddles are the node's second source (cos and
 * sin of 2 pi k / N, made by jc_rdft_node). */
#include "cpu_internal.h"

#define LANES 4

typedef struct {
    const float *in;
    float *out;
    const float *cosv, *sinv; /* cos and sin of 2 pi k / N, k = 0..M */
    const int32_t *rev;       /* bit reversal of [0, M) */
    float *work;              /* per worker: 2 M vectors */
    int64_t rows, n;
    long workers;
} fft_job;

/* In-place FFT of length m on four rows at once (re, im: m vectors in
 * bit-reversed order), exp(sign 2 pi i j k / m), sign -1 or +1. */
static void fft_lanes(v4f *re, v4f *im, int64_t m, const fft_job *j, float sign)
{
    for (int64_t h = 1; h < m; h *= 2) {
        int64_t step = j->n / (2 * h); /* angle 2 pi q / (2h) is table entry q * step */
        for (int64_t q = 0; q < h; q++) {
            float wr = j->cosv[q * step], wi = sign * j->sinv[q * step];
            for (int64_t b = q; b < m; b += 2 * h) {
                v4f xr = re[b + h], xi = im[b + h];
                v4f tr = xr * wr - xi * wi, ti = xr * wi + xi * wr;
                v4f ur = re[b], ui = im[b];
                re[b] = ur + tr;
                im[b] = ui + ti;
                re[b + h] = ur - tr;
                im[b + h] = ui - ti;
            }
        }
    }
}

/* Element i of the four rows p[0..3] as one vector, and back (to the
 * first `lanes` rows only: the last group may have fewer). */
static inline v4f gather4(const float *const *p, int64_t i) { return (v4f){p[0][i], p[1][i], p[2][i], p[3][i]}; }

static inline void scatter4(float *const *p, int64_t i, v4f v, int lanes)
{
    if (lanes == LANES) {
        p[0][i] = v[0];
        p[1][i] = v[1];
        p[2][i] = v[2];
        p[3][i] = v[3];
    } else
        for (int l = 0; l < lanes; l++)
            p[l][i] = v[l];
}

/* The rows of a group: missing rows of the last group read the first and
 * are never written. */
static void group_rows(const fft_job *j, int64_t r0, int lanes, int64_t in_len, int64_t out_len, const float **in,
                       float **out)
{
    for (int l = 0; l < LANES; l++) {
        in[l] = j->in + (r0 + (l < lanes ? l : 0)) * in_len;
        out[l] = j->out + (r0 + l) * out_len;
    }
}

/* X[k] = E[k] + exp(-2 pi i k / N) O[k] with E, O the spectra of the even
 * and odd samples: E = (Z[k] + conj Z[M-k]) / 2, O = -i (Z[k] - conj Z[M-k]) / 2. */
static void rdft_rows(const fft_job *j, int64_t r0, int lanes, v4f *re, v4f *im)
{
    int64_t n = j->n, m = n / 2, bins = m + 1;
    const float *x[LANES];
    float *y[LANES];
    group_rows(j, r0, lanes, n, 2 * bins, x, y);
    for (int64_t q = 0; q < m; q++) {
        re[j->rev[q]] = gather4(x, 2 * q);
        im[j->rev[q]] = gather4(x, 2 * q + 1);
    }
    fft_lanes(re, im, m, j, -1.0f);
    for (int64_t k = 0; k <= m; k++) {
        int64_t a = k == m ? 0 : k, b = k == 0 ? 0 : m - k;
        v4f zr = re[a], zi = im[a], cr = re[b], ci = -im[b];
        v4f er = (zr + cr) * 0.5f, ei = (zi + ci) * 0.5f;
        v4f odr = (zi - ci) * 0.5f, odi = (cr - zr) * 0.5f;
        float wc = j->cosv[k], ws = j->sinv[k];
        v4f xr = er + odr * wc + odi * ws, xi = ei + odi * wc - odr * ws;
        scatter4(y, k, xr, lanes);
        scatter4(y, bins + k, xi, lanes);
    }
}

/* x[n] = sum_k re[k] cos(2 pi k n / N) - im[k] sin(2 pi k n / N): the sum
 * over a Hermitian spectrum W (W[0] = re[0], W[M] = re[M], W[k] = (re[k] +
 * i im[k]) / 2 and W[N-k] = conj W[k] between), which the packing of
 * rdft_rows turns into an inverse FFT of length M on
 * Z[k] = (W[k] + W[k+M]) + i exp(2 pi i k / N) (W[k] - W[k+M]). */
static void rdft_adjoint_rows(const fft_job *j, int64_t r0, int lanes, v4f *re, v4f *im)
{
    int64_t n = j->n, m = n / 2, bins = m + 1;
    const float *y[LANES];
    float *x[LANES];
    group_rows(j, r0, lanes, 2 * bins, n, y, x);
    const v4f zero = {0, 0, 0, 0};
    for (int64_t k = 0; k < m; k++) {
        int64_t c = m - k; /* W[k + M] = conj W[M - k] */
        float hk = k == 0 ? 1.0f : 0.5f, hc = c == m ? 1.0f : 0.5f;
        v4f pr = gather4(y, k) * hk, pi = k == 0 ? zero : gather4(y, bins + k) * 0.5f;
        v4f qr = gather4(y, c) * hc, qi = c == m ? zero : -gather4(y, bins + c) * 0.5f;
        float wc = j->cosv[k], ws = j->sinv[k];
        v4f dr = pr - qr, di = pi - qi;
        v4f odr = dr * wc - di * ws, odi = di * wc + dr * ws;
        re[j->rev[k]] = pr + qr - odi;
        im[j->rev[k]] = pi + qi + odr;
    }
    fft_lanes(re, im, m, j, 1.0f);
    for (int64_t q = 0; q < m; q++) {
        scatter4(x, 2 * q, re[q], lanes);
        scatter4(x, 2 * q + 1, im[q], lanes);
    }
}

/* Worker w takes its share of the groups of four rows and its own work
 * area, so nothing is allocated while the pool runs. */
static void fft_range(void *p, long lo, long hi, int adjoint)
{
    const fft_job *j = p;
    int64_t m = j->n / 2, groups = (j->rows + LANES - 1) / LANES;
    for (long w = lo; w < hi; w++) {
        v4f *re = (v4f *)(j->work + (size_t)w * 2 * LANES * (size_t)m), *im = re + m;
        for (int64_t gi = groups * w / j->workers; gi < groups * (w + 1) / j->workers; gi++) {
            int64_t r0 = gi * LANES;
            int lanes = j->rows - r0 < LANES ? (int)(j->rows - r0) : LANES;
            if (adjoint)
                rdft_adjoint_rows(j, r0, lanes, re, im);
            else
                rdft_rows(j, r0, lanes, re, im);
        }
    }
}

static void rdft_range(void *p, long lo, long hi) { fft_range(p, lo, hi, 0); }

static void rdft_adjoint_range(void *p, long lo, long hi) { fft_range(p, lo, hi, 1); }

jc_status jc_cpu_rdft(jc_cpu_ctx *c, jc_tensor *t)
{
    int adjoint = t->op == JC_OP_RDFT_ADJOINT;
    int64_t n = t->ip[0], m = n / 2, len = t->src[0]->shape[t->src[0]->ndim - 1];
    fft_job j = {.in = jc_cpu_data(t->src[0]), .out = jc_cpu_data(t), .n = n, .workers = c->nthreads};
    j.rows = jc_tensor_nelem(t->src[0]) / len;
    int64_t groups = (j.rows + LANES - 1) / LANES;
    if (j.workers > groups)
        j.workers = groups > 0 ? (long)groups : 1;
    /* the bit reversal, then the workers' areas, 16-byte aligned */
    size_t table = ((size_t)m + 3) & ~(size_t)3, area = 2 * LANES * (size_t)m;
    float *s = jc_cpu_scratch(c, table + (size_t)j.workers * area);
    if (!s)
        return JC_ERR_NOMEM;
    int32_t *rev = (int32_t *)s;
    int bits = t->ip[1];
    for (int64_t q = 0; q < m; q++) {
        int32_t r = 0;
        for (int b = 0; b < bits; b++)
            r |= (int32_t)((q >> b) & 1) << (bits - 1 - b);
        rev[q] = r;
    }
    j.cosv = jc_cpu_data(t->src[1]);
    j.sinv = j.cosv + m + 1;
    j.rev = rev;
    j.work = s + table;
    double cost = (double)groups / (double)j.workers * LANES * 5.0 * (double)n * (double)(bits + 1);
    jc_cpu_parallel(c, j.workers, cost, adjoint ? rdft_adjoint_range : rdft_range, &j);
    return JC_OK;
}
