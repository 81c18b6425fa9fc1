/* metrics.c: STOI, ESTOI, mel distance, SI-SDR and MR-STFT distance.
 * Definitions are in metrics.h; everything here is written from the papers'
 * descriptions, in double precision, with an own FFT. */
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ------------------------------------------------------------------ FFT */

/* A plan holds the twiddles of one length so that the many frames of an
 * STFT do not recompute sines and cosines. */
typedef struct fft_plan {
    size_t n; /* transform length */
    size_t m; /* power-of-two length of the radix-2 core (n itself, or the
                 Bluestein convolution length >= 2n - 1) */
    double *wr, *wi;  /* exp(-2 pi i k / m), k < m/2 */
    size_t *rev;      /* bit reversal permutation of 0..m-1 */
    double *cr, *ci;  /* Bluestein chirp exp(-pi i k^2 / n), k < n */
    double *br, *bi;  /* FFT of the conjugate chirp, wrapped, length m */
    double *tr, *ti;  /* scratch, length m */
} fft_plan;

static int is_pow2(size_t n) { return n && !(n & (n - 1)); }

static void fft_plan_free(fft_plan *p)
{
    if (!p)
        return;
    free(p->wr);
    free(p->wi);
    free(p->rev);
    free(p->cr);
    free(p->ci);
    free(p->br);
    free(p->bi);
    free(p->tr);
    free(p->ti);
    free(p);
}

/* Iterative radix-2 decimation in time on length p->m, unscaled. */
static void radix2(const fft_plan *p, double *re, double *im, int inverse)
{
    const size_t m = p->m;
    for (size_t i = 0; i < m; i++) {
        size_t j = p->rev[i];
        if (j > i) {
            double t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (size_t len = 2; len <= m; len <<= 1) {
        size_t half = len >> 1, step = m / len;
        for (size_t s = 0; s < m; s += len) {
            for (size_t k = 0; k < half; k++) {
                double wr = p->wr[k * step];
                double wi = inverse ? -p->wi[k * step] : p->wi[k * step];
                size_t a = s + k, b = a + half;
                double xr = re[b] * wr - im[b] * wi;
                double xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
    }
}

static fft_plan *fft_plan_new(size_t n)
{
    fft_plan *p = calloc(1, sizeof *p);
    if (!p || n == 0)
        goto fail;
    p->n = n;
    if (is_pow2(n)) {
        p->m = n;
    } else {
        p->m = 1;
        while (p->m < 2 * n - 1)
            p->m <<= 1;
    }
    size_t m = p->m;
    p->wr = malloc((m / 2 + 1) * sizeof(double));
    p->wi = malloc((m / 2 + 1) * sizeof(double));
    p->rev = malloc(m * sizeof(size_t));
    if (!p->wr || !p->wi || !p->rev)
        goto fail;
    for (size_t k = 0; k < m / 2 + 1; k++) {
        p->wr[k] = cos(-2.0 * M_PI * (double)k / (double)m);
        p->wi[k] = sin(-2.0 * M_PI * (double)k / (double)m);
    }
    int bits = 0;
    while (((size_t)1 << bits) < m)
        bits++;
    for (size_t i = 0; i < m; i++) {
        size_t r = 0;
        for (int b = 0; b < bits; b++)
            if (i & ((size_t)1 << b))
                r |= (size_t)1 << (bits - 1 - b);
        p->rev[i] = r;
    }
    if (m != n) {
        p->cr = malloc(n * sizeof(double));
        p->ci = malloc(n * sizeof(double));
        p->br = calloc(m, sizeof(double));
        p->bi = calloc(m, sizeof(double));
        p->tr = malloc(m * sizeof(double));
        p->ti = malloc(m * sizeof(double));
        if (!p->cr || !p->ci || !p->br || !p->bi || !p->tr || !p->ti)
            goto fail;
        for (size_t k = 0; k < n; k++) {
            /* k^2 mod 2n keeps the angle small, so large k lose no
             * precision in the argument of cos/sin. */
            uint64_t k2 = ((uint64_t)k * (uint64_t)k) % (2 * (uint64_t)n);
            double a = -M_PI * (double)k2 / (double)n;
            p->cr[k] = cos(a);
            p->ci[k] = sin(a);
        }
        /* b_j = conj(chirp_j) for j = -(n-1)..(n-1), stored circularly. */
        p->br[0] = p->cr[0];
        p->bi[0] = -p->ci[0];
        for (size_t k = 1; k < n; k++) {
            p->br[k] = p->br[m - k] = p->cr[k];
            p->bi[k] = p->bi[m - k] = -p->ci[k];
        }
        radix2(p, p->br, p->bi, 0);
    }
    return p;
fail:
    fft_plan_free(p);
    return NULL;
}

/* Unscaled forward transform (sign -) of length p->n, in place. */
static void fft_forward(fft_plan *p, double *re, double *im)
{
    if (p->m == p->n) {
        radix2(p, re, im, 0);
        return;
    }
    /* Bluestein: X_k = c_k * sum_t (x_t c_t) conj(c_{k-t}), using
     * k t = (k^2 + t^2 - (k - t)^2) / 2; the sum is a circular convolution
     * of length m done with the radix-2 core. */
    const size_t n = p->n, m = p->m;
    double *tr = p->tr, *ti = p->ti;
    for (size_t t = 0; t < n; t++) {
        tr[t] = re[t] * p->cr[t] - im[t] * p->ci[t];
        ti[t] = re[t] * p->ci[t] + im[t] * p->cr[t];
    }
    for (size_t t = n; t < m; t++)
        tr[t] = ti[t] = 0.0;
    radix2(p, tr, ti, 0);
    for (size_t k = 0; k < m; k++) {
        double a = tr[k] * p->br[k] - ti[k] * p->bi[k];
        double b = tr[k] * p->bi[k] + ti[k] * p->br[k];
        tr[k] = a;
        ti[k] = b;
    }
    radix2(p, tr, ti, 1);
    const double s = 1.0 / (double)m;
    for (size_t k = 0; k < n; k++) {
        double a = tr[k] * s, b = ti[k] * s;
        re[k] = a * p->cr[k] - b * p->ci[k];
        im[k] = a * p->ci[k] + b * p->cr[k];
    }
}

int jt_fft(double *re, double *im, size_t n, int inverse)
{
    if (n == 0 || !re || !im)
        return -1;
    fft_plan *p = fft_plan_new(n);
    if (!p)
        return -1;
    /* The inverse is the conjugate of the forward transform of the
     * conjugate, so one code path serves both directions. */
    if (inverse)
        for (size_t i = 0; i < n; i++)
            im[i] = -im[i];
    fft_forward(p, re, im);
    if (inverse)
        for (size_t i = 0; i < n; i++) {
            re[i] /= (double)n;
            im[i] = -im[i] / (double)n;
        }
    fft_plan_free(p);
    return 0;
}

/* ------------------------------------------------------------- helpers */

/* Resample a float signal to rate `to` and return it as doubles. */
static double *to_double_at(const float *x, size_t n, int from, int to, size_t *out_n)
{
    float *r = NULL;
    size_t m = 0;
    if (from == to) {
        r = (float *)x;
        m = n;
    } else if (jt_audio_resample(x, n, from, to, &r, &m, NULL, 0) != JT_AUDIO_OK) {
        return NULL;
    }
    double *d = malloc((m ? m : 1) * sizeof *d);
    if (d)
        for (size_t i = 0; i < m; i++)
            d[i] = r[i];
    if (r != x)
        free(r);
    *out_n = m;
    return d;
}

/* Magnitude spectrum (bins 0..nfft/2) of the frame of length winlen that
 * starts at sample `start` (may be negative or run past n: zeros there),
 * windowed by win and zero-padded to nfft. */
static void frame_mag(fft_plan *p, const double *x, size_t n, long start, const double *win,
                      size_t winlen, double *re, double *im, double *mag)
{
    const size_t nfft = p->n;
    for (size_t i = 0; i < nfft; i++) {
        long t = start + (long)i;
        re[i] = (i < winlen && t >= 0 && (size_t)t < n) ? x[t] * win[i] : 0.0;
        im[i] = 0.0;
    }
    fft_forward(p, re, im);
    for (size_t k = 0; k <= nfft / 2; k++)
        mag[k] = sqrt(re[k] * re[k] + im[k] * im[k]);
}

/* Periodic Hann (as torch.hann_window): w[i] = 0.5 - 0.5 cos(2 pi i / L). */
static double *hann_periodic(size_t L)
{
    double *w = malloc(L * sizeof *w);
    if (w)
        for (size_t i = 0; i < L; i++)
            w[i] = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)L);
    return w;
}

/* ------------------------------------------------------------ STOI/ESTOI */

enum {
    STOI_FS = 10000,
    STOI_FRAME = 256,
    STOI_HOP = 128,
    STOI_NFFT = 512,
    STOI_BANDS = 15,
    STOI_N = 30
};
#define STOI_MINFREQ 150.0
#define STOI_RANGE_DB 40.0
#define STOI_BETA_DB (-15.0)

int jt_stoi_band(int band, int *lo, int *hi, double *centre_hz)
{
    if (band < 0 || band >= STOI_BANDS)
        return -1;
    double cf = STOI_MINFREQ * pow(2.0, band / 3.0);
    double fl = cf * pow(2.0, -1.0 / 6.0), fh = cf * pow(2.0, 1.0 / 6.0);
    const double df = (double)STOI_FS / STOI_NFFT;
    if (lo)
        *lo = (int)floor(fl / df + 0.5);
    if (hi)
        *hi = (int)floor(fh / df + 0.5);
    if (centre_hz)
        *centre_hz = cf;
    return 0;
}

size_t jt_stoi_frame_count(size_t n)
{
    return n < STOI_FRAME ? 0 : 1 + (n - STOI_FRAME) / STOI_HOP;
}

/* Symmetric Hann without zero end points, the window of the STOI paper's
 * reference setup: w[i] = 0.5 - 0.5 cos(2 pi (i + 1) / (L + 1)). */
static void stoi_window(double *w)
{
    for (int i = 0; i < STOI_FRAME; i++)
        w[i] = 0.5 - 0.5 * cos(2.0 * M_PI * (i + 1) / (STOI_FRAME + 1.0));
}

/* Which frames of the clean signal are within 40 dB of its loudest frame.
 * keep must hold jt_stoi_frame_count(n) entries; returns how many kept. */
static size_t stoi_active(const double *x, size_t n, const double *w, unsigned char *keep)
{
    size_t nf = jt_stoi_frame_count(n);
    if (nf == 0)
        return 0;
    double *e = malloc(nf * sizeof *e);
    if (!e)
        return 0;
    double emax = -INFINITY;
    for (size_t f = 0; f < nf; f++) {
        double s = 0.0;
        for (int i = 0; i < STOI_FRAME; i++) {
            double v = w[i] * x[f * STOI_HOP + i];
            s += v * v;
        }
        /* The tiny offset keeps digital silence finite (about -300 dB) so
         * it is compared, and removed, like any quiet frame. */
        e[f] = 10.0 * log10(s + 1e-30);
        if (e[f] > emax)
            emax = e[f];
    }
    size_t k = 0;
    for (size_t f = 0; f < nf; f++) {
        keep[f] = e[f] > emax - STOI_RANGE_DB;
        k += keep[f];
    }
    free(e);
    return k;
}

size_t jt_stoi_active_frames(const float *ref10k, size_t n)
{
    size_t nf = jt_stoi_frame_count(n);
    if (nf == 0)
        return 0;
    double *x = malloc(n * sizeof *x);
    unsigned char *keep = malloc(nf);
    double w[STOI_FRAME];
    stoi_window(w);
    size_t k = 0;
    if (x && keep) {
        for (size_t i = 0; i < n; i++)
            x[i] = ref10k[i];
        k = stoi_active(x, n, w, keep);
    }
    free(x);
    free(keep);
    return k;
}

/* The STOI/ESTOI front end on 10 kHz signals: silent-frame removal, STFT
 * and one-third-octave band envelopes.  *X and *Y get M x 15 envelopes
 * (frame-major).  Returns M, or (size_t)-1 on allocation failure. */
static size_t stoi_envelopes(const double *x, const double *y, size_t n, double **X, double **Y)
{
    *X = *Y = NULL;
    double w[STOI_FRAME];
    stoi_window(w);
    size_t nf = jt_stoi_frame_count(n);
    if (nf == 0)
        return 0;
    unsigned char *keep = malloc(nf);
    if (!keep)
        return (size_t)-1;
    size_t K = stoi_active(x, n, w, keep);
    if (K == 0) {
        free(keep);
        return 0;
    }
    /* Rebuild both signals from the kept frames only (overlap-add of the
     * windowed frames, packed together), as the paper's front end does:
     * the silent stretches disappear rather than become zeros. */
    size_t L = (K - 1) * STOI_HOP + STOI_FRAME;
    double *xs = calloc(L, sizeof *xs), *ys = calloc(L, sizeof *ys);
    double *re = malloc(STOI_NFFT * sizeof *re), *im = malloc(STOI_NFFT * sizeof *im);
    double *mag = malloc((STOI_NFFT / 2 + 1) * sizeof *mag);
    fft_plan *p = fft_plan_new(STOI_NFFT);
    *X = malloc(K * STOI_BANDS * sizeof **X);
    *Y = malloc(K * STOI_BANDS * sizeof **Y);
    if (!xs || !ys || !re || !im || !mag || !p || !*X || !*Y) {
        free(keep);
        free(xs);
        free(ys);
        free(re);
        free(im);
        free(mag);
        fft_plan_free(p);
        free(*X);
        free(*Y);
        *X = *Y = NULL;
        return (size_t)-1;
    }
    size_t k = 0;
    for (size_t f = 0; f < nf; f++) {
        if (!keep[f])
            continue;
        for (int i = 0; i < STOI_FRAME; i++) {
            xs[k * STOI_HOP + i] += w[i] * x[f * STOI_HOP + i];
            ys[k * STOI_HOP + i] += w[i] * y[f * STOI_HOP + i];
        }
        k++;
    }
    free(keep);
    int lo[STOI_BANDS], hi[STOI_BANDS];
    for (int b = 0; b < STOI_BANDS; b++)
        jt_stoi_band(b, &lo[b], &hi[b], NULL);
    /* L is exactly K frames long, so the STFT has K frames. */
    for (int pass = 0; pass < 2; pass++) {
        const double *s = pass ? ys : xs;
        double *E = pass ? *Y : *X;
        for (size_t f = 0; f < K; f++) {
            frame_mag(p, s, L, (long)(f * STOI_HOP), w, STOI_FRAME, re, im, mag);
            for (int b = 0; b < STOI_BANDS; b++) {
                double acc = 0.0;
                for (int q = lo[b]; q < hi[b]; q++)
                    acc += mag[q] * mag[q];
                E[f * STOI_BANDS + b] = sqrt(acc);
            }
        }
    }
    free(xs);
    free(ys);
    free(re);
    free(im);
    free(mag);
    fft_plan_free(p);
    return K;
}

/* Correlation coefficient of two vectors; 0 when either is constant (no
 * evidence of correlation rather than a NaN that would poison the mean). */
static double corr(const double *a, const double *b, int n)
{
    double ma = 0.0, mb = 0.0;
    for (int i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= n;
    mb /= n;
    double sab = 0.0, saa = 0.0, sbb = 0.0;
    for (int i = 0; i < n; i++) {
        double u = a[i] - ma, v = b[i] - mb;
        sab += u * v;
        saa += u * u;
        sbb += v * v;
    }
    double d = sqrt(saa * sbb);
    return d > 0.0 ? sab / d : 0.0;
}

static double stoi_from_env(const double *X, const double *Y, size_t M)
{
    const double clipc = 1.0 + pow(10.0, -STOI_BETA_DB / 20.0);
    double sum = 0.0;
    size_t cnt = 0;
    double xv[STOI_N], yv[STOI_N];
    for (size_t m = STOI_N - 1; m < M; m++) {
        for (int b = 0; b < STOI_BANDS; b++) {
            double nx = 0.0, ny = 0.0;
            for (int t = 0; t < STOI_N; t++) {
                xv[t] = X[(m + 1 - STOI_N + t) * STOI_BANDS + b];
                yv[t] = Y[(m + 1 - STOI_N + t) * STOI_BANDS + b];
                nx += xv[t] * xv[t];
                ny += yv[t] * yv[t];
            }
            /* Normalise the degraded envelope to the clean energy, then
             * clip it so one very wrong time-frequency unit cannot
             * dominate (the signal-to-distortion lower bound beta). */
            double a = ny > 0.0 ? sqrt(nx / ny) : 0.0;
            for (int t = 0; t < STOI_N; t++) {
                double v = a * yv[t], c = clipc * xv[t];
                yv[t] = v < c ? v : c;
            }
            sum += corr(xv, yv, STOI_N);
            cnt++;
        }
    }
    return cnt ? sum / (double)cnt : NAN;
}

/* Zero mean, unit norm in place over n values spaced `stride` apart; a
 * constant vector becomes all zero. */
static void normalise(double *v, int n, int stride)
{
    double mu = 0.0;
    for (int i = 0; i < n; i++)
        mu += v[i * stride];
    mu /= n;
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        v[i * stride] -= mu;
        s += v[i * stride] * v[i * stride];
    }
    s = sqrt(s);
    for (int i = 0; i < n; i++)
        v[i * stride] = s > 0.0 ? v[i * stride] / s : 0.0;
}

static double estoi_from_env(const double *X, const double *Y, size_t M)
{
    double sum = 0.0;
    size_t cnt = 0;
    /* Segment matrices band-major: row b holds the band's 30 values. */
    double xs[STOI_BANDS * STOI_N], ys[STOI_BANDS * STOI_N];
    for (size_t m = STOI_N - 1; m < M; m++) {
        for (int b = 0; b < STOI_BANDS; b++)
            for (int t = 0; t < STOI_N; t++) {
                xs[b * STOI_N + t] = X[(m + 1 - STOI_N + t) * STOI_BANDS + b];
                ys[b * STOI_N + t] = Y[(m + 1 - STOI_N + t) * STOI_BANDS + b];
            }
        for (int b = 0; b < STOI_BANDS; b++) {
            normalise(xs + b * STOI_N, STOI_N, 1);
            normalise(ys + b * STOI_N, STOI_N, 1);
        }
        for (int t = 0; t < STOI_N; t++) {
            normalise(xs + t, STOI_BANDS, STOI_N);
            normalise(ys + t, STOI_BANDS, STOI_N);
        }
        double d = 0.0;
        for (int i = 0; i < STOI_BANDS * STOI_N; i++)
            d += xs[i] * ys[i];
        sum += d / STOI_N;
        cnt++;
    }
    return cnt ? sum / (double)cnt : NAN;
}

/* Both intelligibility scores from one front-end pass. */
static int stoi_both(const float *ref, const float *deg, size_t n, int rate, double *stoi,
                     double *estoi)
{
    *stoi = *estoi = NAN;
    size_t nx = 0, ny = 0;
    double *x = to_double_at(ref, n, rate, STOI_FS, &nx);
    double *y = to_double_at(deg, n, rate, STOI_FS, &ny);
    if (!x || !y) {
        free(x);
        free(y);
        return -1;
    }
    size_t m = nx < ny ? nx : ny;
    double *X = NULL, *Y = NULL;
    size_t M = stoi_envelopes(x, y, m, &X, &Y);
    free(x);
    free(y);
    if (M == (size_t)-1)
        return -1;
    if (M >= STOI_N) {
        *stoi = stoi_from_env(X, Y, M);
        *estoi = estoi_from_env(X, Y, M);
    }
    free(X);
    free(Y);
    return 0;
}

double jt_stoi(const float *ref, const float *deg, size_t n, int rate)
{
    double s, e;
    stoi_both(ref, deg, n, rate, &s, &e);
    return s;
}

double jt_estoi(const float *ref, const float *deg, size_t n, int rate)
{
    double s, e;
    stoi_both(ref, deg, n, rate, &s, &e);
    return e;
}

/* ------------------------------------------------------------ SI-SDR */

#define SISDR_CAP_DB 100.0

double jt_si_sdr(const float *ref, const float *deg, size_t n)
{
    if (n == 0)
        return NAN;
    double mr = 0.0, md = 0.0;
    for (size_t i = 0; i < n; i++) {
        mr += ref[i];
        md += deg[i];
    }
    mr /= (double)n;
    md /= (double)n;
    double rr = 0.0, rd = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i] - mr, d = deg[i] - md;
        rr += r * r;
        rd += r * d;
    }
    if (rr <= 0.0)
        return NAN;
    double a = rd / rr, tt = 0.0, ee = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = a * (ref[i] - mr);
        double e = (deg[i] - md) - t;
        tt += t * t;
        ee += e * e;
    }
    /* Clamp instead of returning +-inf so means over files stay finite. */
    if (ee <= tt * pow(10.0, -SISDR_CAP_DB / 10.0))
        return SISDR_CAP_DB;
    if (tt <= ee * pow(10.0, -SISDR_CAP_DB / 10.0))
        return -SISDR_CAP_DB;
    return 10.0 * log10(tt / ee);
}

/* ------------------------------------------------- STFT distances (24k) */

#define SPEC_FS 24000

/* Frames centred on t = k * hop with zero padding: 1 + n / hop of them. */
static size_t centred_frames(size_t n, size_t hop) { return 1 + n / hop; }

static double mrstft_d(const double *x, const double *y, size_t n)
{
    static const size_t sizes[] = {2048, 1024, 512, 256, 128};
    const int nres = (int)(sizeof sizes / sizeof sizes[0]);
    double total = 0.0;
    for (int r = 0; r < nres; r++) {
        size_t F = sizes[r], hop = F / 4, nb = F / 2 + 1;
        fft_plan *p = fft_plan_new(F);
        double *w = hann_periodic(F);
        double *re = malloc(F * sizeof *re), *im = malloc(F * sizeof *im);
        double *mx = malloc(nb * sizeof *mx), *my = malloc(nb * sizeof *my);
        if (!p || !w || !re || !im || !mx || !my) {
            fft_plan_free(p);
            free(w);
            free(re);
            free(im);
            free(mx);
            free(my);
            return NAN;
        }
        size_t nf = centred_frames(n, hop);
        double l1 = 0.0, l1log = 0.0;
        for (size_t f = 0; f < nf; f++) {
            long start = (long)(f * hop) - (long)(F / 2);
            frame_mag(p, x, n, start, w, F, re, im, mx);
            frame_mag(p, y, n, start, w, F, re, im, my);
            for (size_t k = 0; k < nb; k++) {
                l1 += fabs(mx[k] - my[k]);
                l1log += fabs(log(mx[k] + 1e-5) - log(my[k] + 1e-5));
            }
        }
        double cells = (double)nf * (double)nb;
        total += l1 / cells + l1log / cells;
        fft_plan_free(p);
        free(w);
        free(re);
        free(im);
        free(mx);
        free(my);
    }
    return total / nres;
}

enum { MEL_NFFT = 1024, MEL_HOP = 256, MEL_BANDS = 80 };
#define MEL_FMAX 12000.0
#define MEL_FLOOR 1e-5

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

static double mel_d(const double *x, const double *y, size_t n)
{
    const size_t nb = MEL_NFFT / 2 + 1;
    double *fb = calloc((size_t)MEL_BANDS * nb, sizeof *fb);
    fft_plan *p = fft_plan_new(MEL_NFFT);
    double *w = hann_periodic(MEL_NFFT);
    double *re = malloc(MEL_NFFT * sizeof *re), *im = malloc(MEL_NFFT * sizeof *im);
    double *mx = malloc(nb * sizeof *mx), *my = malloc(nb * sizeof *my);
    double res = NAN;
    if (!fb || !p || !w || !re || !im || !mx || !my)
        goto out;
    /* Triangles between consecutive points of 82 equally spaced mels. */
    double edges[MEL_BANDS + 2];
    double m0 = hz_to_mel(0.0), m1 = hz_to_mel(MEL_FMAX);
    for (int i = 0; i < MEL_BANDS + 2; i++)
        edges[i] = mel_to_hz(m0 + (m1 - m0) * i / (MEL_BANDS + 1));
    for (int b = 0; b < MEL_BANDS; b++) {
        double l = edges[b], c = edges[b + 1], h = edges[b + 2];
        for (size_t k = 0; k < nb; k++) {
            double f = (double)k * SPEC_FS / MEL_NFFT, v = 0.0;
            if (f > l && f <= c)
                v = (f - l) / (c - l);
            else if (f > c && f < h)
                v = (h - f) / (h - c);
            fb[(size_t)b * nb + k] = v;
        }
    }
    size_t nf = centred_frames(n, MEL_HOP);
    double acc = 0.0;
    for (size_t f = 0; f < nf; f++) {
        long start = (long)(f * MEL_HOP) - MEL_NFFT / 2;
        frame_mag(p, x, n, start, w, MEL_NFFT, re, im, mx);
        frame_mag(p, y, n, start, w, MEL_NFFT, re, im, my);
        for (int b = 0; b < MEL_BANDS; b++) {
            const double *row = fb + (size_t)b * nb;
            double sx = 0.0, sy = 0.0;
            for (size_t k = 0; k < nb; k++) {
                sx += row[k] * mx[k];
                sy += row[k] * my[k];
            }
            acc += fabs(log10(fmax(sx, MEL_FLOOR)) - log10(fmax(sy, MEL_FLOOR)));
        }
    }
    res = acc / ((double)nf * MEL_BANDS);
out:
    free(fb);
    fft_plan_free(p);
    free(w);
    free(re);
    free(im);
    free(mx);
    free(my);
    return res;
}

/* Run a 24 kHz spectral distance on float inputs at any rate. */
static double at_24k(double (*fn)(const double *, const double *, size_t), const float *ref,
                     const float *deg, size_t n, int rate)
{
    if (n == 0 || rate <= 0)
        return NAN;
    size_t nx = 0, ny = 0;
    double *x = to_double_at(ref, n, rate, SPEC_FS, &nx);
    double *y = to_double_at(deg, n, rate, SPEC_FS, &ny);
    double r = NAN;
    if (x && y)
        r = fn(x, y, nx < ny ? nx : ny);
    free(x);
    free(y);
    return r;
}

double jt_mel_distance(const float *ref, const float *deg, size_t n, int rate)
{
    return at_24k(mel_d, ref, deg, n, rate);
}

double jt_mrstft(const float *ref, const float *deg, size_t n, int rate)
{
    return at_24k(mrstft_d, ref, deg, n, rate);
}

/* ------------------------------------------------------------- all five */

int jt_metrics_compute(const float *ref, size_t nref, const float *deg, size_t ndeg, int rate,
                       jt_metrics *out, char *err, size_t errlen)
{
    if (!out || !ref || !deg || rate <= 0) {
        if (err && errlen)
            snprintf(err, errlen, "metrics: bad arguments");
        return -1;
    }
    size_t n = nref < ndeg ? nref : ndeg;
    out->n = n;
    if (n == 0) {
        if (err && errlen)
            snprintf(err, errlen, "metrics: empty signal (reference %zu, degraded %zu samples)",
                     nref, ndeg);
        return -1;
    }
    if (stoi_both(ref, deg, n, rate, &out->stoi, &out->estoi) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "metrics: STOI failed (out of memory or resampling error)");
        return -1;
    }
    out->si_sdr = jt_si_sdr(ref, deg, n);
    out->mel_distance = jt_mel_distance(ref, deg, n, rate);
    out->mrstft = jt_mrstft(ref, deg, n, rate);
    if (isnan(out->mel_distance) || isnan(out->mrstft)) {
        if (err && errlen)
            snprintf(err, errlen, "metrics: spectral distance failed (out of memory)");
        return -1;
    }
    return 0;
}
