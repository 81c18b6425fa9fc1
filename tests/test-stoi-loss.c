/* test-stoi-loss: the STOI and ESTOI training losses (src/stoi_loss.c)
 * against a double-precision reference written here from their definition
 * (centred 512-point STFT with a periodic Hann window, one-third-octave
 * band envelopes, 384 ms segments, 1 - mean correlation of band rows or of
 * normalised frame columns); their gradients against finite differences
 * of that reference; and, on the bundled real-speech clip, that each
 * orders noisy copies as its metric does. */
#include <stdio.h>
#include <string.h>

#include "audio.h"
#include "metrics.h"
#include "stoi_loss.h"
#include "testutil.h"

#define RATE 24000
#define MAX_SEGMENT 64 /* frames; 36 at RATE */

/* the two forms under test, each with the metric it stands in for */
typedef struct {
    const char *name;
    char label[48]; /* name and, off the CPU, the backend: what TAP lines start with */
    jc_tensor *(*loss)(jc_graph *, jc_tensor *, jc_tensor *, int);
    int estoi; /* the reference's form */
    double (*metric)(const float *, const float *, size_t, int);
} loss_form;

static loss_form forms[] = {
    {"STOI", "", jt_stoi_loss, 0, jt_stoi},
    {"ESTOI", "", jt_estoi_loss, 1, jt_estoi},
};

/* ------------------------------------------------- the reference */
static void reference_envelopes(const double *x, int64_t T, double *env /* [F][bands] */, int64_t F)
{
    const int N = JT_STOI_LOSS_NFFT, H = JT_STOI_LOSS_HOP, P = N / 2;
    const double df = (double)RATE / N;
    double re[JT_STOI_LOSS_NFFT], im[JT_STOI_LOSS_NFFT];
    for (int64_t f = 0; f < F; f++) {
        for (int i = 0; i < N; i++) {
            int64_t j = f * H + i - P; /* reflect padding of N/2 on both sides */
            if (j < 0)
                j = -j;
            if (j >= T)
                j = 2 * (T - 1) - j;
            re[i] = x[j] * (0.5 - 0.5 * cos(2 * M_PI * i / N));
            im[i] = 0;
        }
        jt_fft(re, im, N, 0);
        for (int b = 0; b < JT_STOI_LOSS_BANDS; b++) {
            double cf = 150.0 * pow(2.0, b / 3.0);
            int lo = (int)floor(cf / pow(2.0, 1.0 / 6.0) / df + 0.5);
            int hi = (int)floor(cf * pow(2.0, 1.0 / 6.0) / df + 0.5);
            if (hi == lo)
                hi++;
            double e = 0;
            for (int k = lo; k < hi; k++)
                e += re[k] * re[k] + im[k] * im[k];
            env[f * JT_STOI_LOSS_BANDS + b] = sqrt(e + 1e-8);
        }
    }
}

/* centred row [n] of band k from frame s on, divided by sqrt(its squared norm + eps) */
static void reference_row(const double *env, int64_t s, int n, int k, double *row)
{
    double m = 0, e = 0;
    for (int t = 0; t < n; t++)
        m += env[(s + t) * JT_STOI_LOSS_BANDS + k] / n;
    for (int t = 0; t < n; t++) {
        row[t] = env[(s + t) * JT_STOI_LOSS_BANDS + k] - m;
        e += row[t] * row[t];
    }
    for (int t = 0; t < n; t++)
        row[t] /= sqrt(e + JT_STOI_LOSS_EPS);
}

/* one segment's score: the STOI form sums each band's correlation (one
 * term per band), the ESTOI form each frame's column product (one per
 * frame); *terms says how many were summed */
static double reference_segment(const double *ex, const double *ey, int64_t s, int n, int estoi, int *terms)
{
    enum { K = JT_STOI_LOSS_BANDS };
    double u[K][MAX_SEGMENT], v[K][MAX_SEGMENT], sum = 0;
    for (int k = 0; k < K; k++) {
        reference_row(ex, s, n, k, u[k]);
        reference_row(ey, s, n, k, v[k]);
    }
    if (!estoi) {
        for (int k = 0; k < K; k++)
            for (int t = 0; t < n; t++)
                sum += u[k][t] * v[k][t];
        *terms = K;
        return sum;
    }
    for (int t = 0; t < n; t++) {
        double mu = 0, mv = 0, uu = 0, vv = 0, uv = 0;
        for (int k = 0; k < K; k++) {
            mu += u[k][t] / K;
            mv += v[k][t] / K;
        }
        for (int k = 0; k < K; k++) {
            uu += (u[k][t] - mu) * (u[k][t] - mu);
            vv += (v[k][t] - mv) * (v[k][t] - mv);
            uv += (u[k][t] - mu) * (v[k][t] - mv);
        }
        sum += uv / sqrt((uu + JT_ESTOI_LOSS_EPS) * (vv + JT_ESTOI_LOSS_EPS));
    }
    *terms = n;
    return sum;
}

static double reference_loss(const double *dec, const double *clean, int B, int64_t T, int estoi)
{
    const int n = jt_stoi_loss_segment(RATE);
    const int64_t F = 1 + T / JT_STOI_LOSS_HOP;
    double *ex = malloc((size_t)F * JT_STOI_LOSS_BANDS * sizeof *ex);
    double *ey = malloc((size_t)F * JT_STOI_LOSS_BANDS * sizeof *ey);
    double sum = 0;
    int64_t count = 0;
    for (int b = 0; b < B; b++) {
        reference_envelopes(clean + b * T, T, ex, F);
        reference_envelopes(dec + b * T, T, ey, F);
        for (int64_t s = 0; s + n <= F; s++) {
            int terms;
            sum += reference_segment(ex, ey, s, n, estoi, &terms);
            count += terms;
        }
    }
    free(ex);
    free(ey);
    return 1.0 - sum / (double)count;
}

/* ------------------------------------------------- the graph */
typedef struct {
    jc_store *st;
    jc_graph *g;
    jc_tensor *dec, *clean, *loss, *grad;
} loss_graph;

static void graph_open(loss_graph *lg, const loss_form *f, jc_backend *be, int B, int64_t T, int with_grad)
{
    jc_error err = {0};
    int64_t shape[3] = {B, 1, T};
    lg->st = jc_store_new(be);
    lg->dec = jc_store_param(lg->st, "decoded", 3, shape, &err);
    lg->clean = jc_store_buffer(lg->st, "clean", 3, shape, &err);
    lg->g = jc_graph_new(be);
    lg->loss = f->loss(lg->g, lg->dec, lg->clean, RATE);
    jc_graph_output(lg->g, lg->loss);
    jc_status s = jc_graph_status(lg->g, &err);
    lg->grad = NULL;
    if (s == JC_OK && with_grad) {
        s = jc_backward(lg->g, lg->loss, &err);
        if (s == JC_OK && (lg->grad = jc_grad(lg->g, lg->dec)) != NULL)
            jc_graph_output(lg->g, lg->grad);
    }
    if (s == JC_OK)
        s = jc_graph_build(lg->g, &err);
    tu_check(s, &err, "loss graph");
}

static double graph_loss(loss_graph *lg, const float *dec, const float *clean, float *grad)
{
    jc_error err = {0};
    float v = NAN;
    jc_status s = jc_tensor_set(lg->dec, dec, &err);
    if (s == JC_OK)
        s = jc_tensor_set(lg->clean, clean, &err);
    if (s == JC_OK)
        s = jc_graph_compute(lg->g, &err);
    if (s == JC_OK)
        s = jc_tensor_get(lg->loss, &v, &err);
    if (s == JC_OK && grad)
        s = jc_tensor_get(lg->grad, grad, &err);
    tu_check(s, &err, "loss compute");
    return v;
}

static void graph_close(loss_graph *lg)
{
    jc_graph_free(lg->g);
    jc_store_free(lg->st);
}

/* ------------------------------------------------- signals */
static jc_rng rng;

static double gauss(void)
{
    double u = jc_rng_uniform(&rng), v = jc_rng_uniform(&rng);
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* A gliding tone at f0 with a little noise, in 5 Hz bursts (each channel
 * of the batch at its own f0): envelopes that move, as speech's do. */
static void bursts(float *x, int64_t T, double f0)
{
    double ph = 0;
    for (int64_t i = 0; i < T; i++) {
        double t = (double)i / RATE;
        ph += 2 * M_PI * f0 * (1 + 0.3 * sin(2 * M_PI * 1.3 * t)) / RATE;
        double env = pow(fmax(0, sin(2 * M_PI * 5 * t)), 2);
        x[i] = (float)(0.3 * env * (sin(ph) + 0.3 * gauss())); /* RMS about 0.1, as the corpus */
    }
}

static float *with_noise(const float *x, int64_t n, double snr_db)
{
    double e = 0;
    for (int64_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    double sd = sqrt(e / n / pow(10, snr_db / 10));
    float *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)(x[i] + sd * gauss());
    return y;
}

static double *to_double(const float *x, int64_t n)
{
    double *d = malloc((size_t)n * sizeof *d);
    for (int64_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

/* ------------------------------------------------- the checks */
static void test_forward_and_gradient(const loss_form *f, jc_backend *be)
{
    const int B = 2;
    const int64_t T = 24000 + 77; /* not a multiple of the hop */
    float *clean = malloc(B * T * sizeof *clean), *dec;
    bursts(clean, T, 300);
    bursts(clean + T, T, 1500);
    dec = with_noise(clean, B * T, 5);
    loss_graph lg;
    graph_open(&lg, f, be, B, T, 1);
    float *grad = malloc(B * T * sizeof *grad);
    double got = graph_loss(&lg, dec, clean, grad);
    double *dd = to_double(dec, B * T), *dc = to_double(clean, B * T);
    double want = reference_loss(dd, dc, B, T, f->estoi);
    tap_ok(fabs(got - want) < 1e-4 * fmax(1, fabs(want)), "%s: forward %.6f vs the double reference %.6f",
           f->label, got, want);

    double same = graph_loss(&lg, clean, clean, NULL);
    /* not quite 0: where the tone's envelope crosses its segment mean the
     * ESTOI column is nearly flat and its constant counts */
    tap_ok(same >= 0 && same < 0.05, "%s, identical waves: loss %.2e (0 up to the denominators' constants)",
           f->label, same);
    float *other = malloc(B * T * sizeof *other);
    for (int64_t i = 0; i < B * T; i++) /* noise bursting off the clean signal's beat */
        other[i] = (float)(0.1 * gauss()) * (float)pow(cos(2 * M_PI * 5 * (double)(i % T) / RATE), 2);
    double unrelated = graph_loss(&lg, other, clean, NULL);
    tap_ok(unrelated > 1, "%s, noise bursting between the clean bursts: loss %.3f, above 1 (anti-correlated; "
           "the noisy copy %.3f)", f->label, unrelated, got);

    /* gradient: central differences of the double reference at samples
     * inside the bursts (where the envelopes, and so the gradient, live) */
    double worst = 0, scale = 0;
    int checked = 0;
    for (int tries = 0; checked < 8 && tries < 1000; tries++) {
        int64_t i = jc_rng_below(&rng, B * T);
        if (fabs(clean[i]) < 0.02)
            continue;
        const double h = 1e-4;
        double x0 = dd[i];
        dd[i] = x0 + h;
        double lp = reference_loss(dd, dc, B, T, f->estoi);
        dd[i] = x0 - h;
        double lm = reference_loss(dd, dc, B, T, f->estoi);
        dd[i] = x0;
        double num = (lp - lm) / (2 * h);
        worst = fmax(worst, fabs(num - grad[i]));
        scale = fmax(scale, fabs(num));
        checked++;
    }
    tap_ok(checked == 8 && scale > 0 && worst < 2e-2 * scale,
           "%s: backward vs finite differences of the reference at %d samples: worst error %.2e of "
           "%.2e", f->label, checked, worst, scale);
    graph_close(&lg);
    free(clean);
    free(dec);
    free(other);
    free(grad);
    free(dd);
    free(dc);
}

/* On real speech the loss must order degradations as STOI does: more
 * noise, more loss and less STOI. */
static void test_orders_like_metric(const loss_form *f, jc_backend *be)
{
    jt_audio a = {0};
    char err[512];
    if (jt_audio_load(SPEECH_CLIP, RATE, &a, err, sizeof err) != JT_AUDIO_OK) {
        tap_ok(0, "load %s: %s", SPEECH_CLIP, err);
        return;
    }
    const int64_t T = a.frames < 4 * RATE ? (int64_t)a.frames : 4 * RATE;
    static const double snr[] = {30, 15, 5, -5};
    double loss[4], metric[4];
    loss_graph lg;
    graph_open(&lg, f, be, 1, T, 0);
    for (int k = 0; k < 4; k++) {
        float *y = with_noise(a.samples, T, snr[k]);
        loss[k] = graph_loss(&lg, y, a.samples, NULL);
        metric[k] = f->metric(a.samples, y, (size_t)T, RATE);
        tap_diag("SNR %+3.0f dB: %s loss %.4f, %s %.4f", snr[k], f->name, loss[k], f->name, metric[k]);
        free(y);
    }
    int ordered = 1;
    for (int k = 1; k < 4; k++)
        ordered &= loss[k] > loss[k - 1] && metric[k] < metric[k - 1];
    tap_ok(ordered, "%s, real speech in noise at 30, 15, 5, -5 dB: the loss rises (%.3f .. %.3f) as %s falls "
           "(%.3f .. %.3f)", f->label, loss[0], loss[3], f->name, metric[0], metric[3]);
    double same = graph_loss(&lg, a.samples, a.samples, NULL);
    tap_ok(same < 0.02, "%s, real speech against itself: loss %.4f (< 0.02: few segments are flat enough for "
           "the denominators' constants to matter)", f->label, same);
    graph_close(&lg);
    jt_audio_free(&a);
}

/* The backend: TEST_BACKEND in this test's OpenCL and Vulkan builds (skipped
 * where the driver is absent), else JC_TEST_BACKEND, else the CPU. */
static jc_backend *open_backend(const char **name)
{
    int may_skip = 0;
#ifdef TEST_BACKEND
    setenv("JC_TEST_BACKEND", TEST_BACKEND, 1);
    may_skip = 1;
#endif
    const char *env = getenv("JC_TEST_BACKEND");
    *name = env ? env : "cpu";
    return tu_backend_or_skip(may_skip);
}

int main(void)
{
    const char *name;
    jc_backend *be = open_backend(&name);
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        snprintf(forms[i].label, sizeof forms[i].label, "%s form%s%s", forms[i].name,
                 strcmp(name, "cpu") ? " on " : "", strcmp(name, "cpu") ? name : "");
    jc_rng_seed(&rng, 7);
    tap_ok(jt_stoi_loss_segment(RATE) == 36 && jt_stoi_loss_min_samples(RATE) == 35 * JT_STOI_LOSS_HOP,
           "384 ms segments are 36 frames of 256 samples at 24 kHz");
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        test_forward_and_gradient(&forms[i], be);
        test_orders_like_metric(&forms[i], be);
    }
    jc_backend_free(be);
    return tap_done();
}
