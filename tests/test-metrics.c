/* test-metrics.c: src/metrics.c (FFT, STOI front end, the five metrics) and
 * `jepatok eval` end to end.
 *
 * No reference implementation of STOI/ESTOI is available offline (Debian's
 * python3 has no pystoi), so the checks are: the internal steps against
 * hand-computed values (band table, frame counts, silent-frame removal),
 * exact properties (identity gives 1, scale invariance), monotonic response
 * to added noise, and hand-derived values for the other metrics. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"
#include "metrics.h"
#include "tap.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define RATE 24000

static char dir[] = "/tmp/jt-test-metrics-XXXXXX";

/* Deterministic Gaussian noise (xorshift + Box-Muller): the test must not
 * depend on the C library's rand(). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static double grand(void) { return sqrt(-2.0 * log(urand())) * cos(2.0 * M_PI * urand()); }

static float *noise(size_t n, double sd)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(sd * grand());
    return v;
}

/* A speech-like signal: a harmonic complex with a gliding 100-200 Hz pitch
 * and two moving formant-like peaks, in 4 Hz "syllables" separated by
 * pauses, so STOI's band envelopes fluctuate the way speech does. */
static float *synth_speech(size_t n)
{
    float *v = malloc(n * sizeof *v);
    double ph = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / RATE;
        double f0 = 150.0 + 50.0 * sin(2 * M_PI * 0.7 * t);
        ph += 2 * M_PI * f0 / RATE;
        double f1 = 600 + 300 * sin(2 * M_PI * 3.0 * t), f2 = 1800 + 600 * sin(2 * M_PI * 2.1 * t);
        double s = 0.0;
        for (int h = 1; h * f0 < 5000; h++) {
            double f = h * f0;
            double g = exp(-pow((f - f1) / 200, 2)) + 0.5 * exp(-pow((f - f2) / 300, 2)) + 0.02;
            s += g * sin(h * ph);
        }
        double env = pow(fmax(0.0, sin(2 * M_PI * 4.0 * t)), 2);
        if (fmod(t, 1.0) > 0.75)
            env = 0.0; /* a pause every second */
        v[i] = (float)(0.1 * env * s);
    }
    return v;
}

/* y = x + noise scaled to exactly the given SNR (signal energy / noise). */
static float *add_noise(const float *x, size_t n, double snr_db)
{
    float *nz = noise(n, 1.0);
    double ex = 0, en = 0;
    for (size_t i = 0; i < n; i++) {
        ex += (double)x[i] * x[i];
        en += (double)nz[i] * nz[i];
    }
    double g = sqrt(ex / en * pow(10.0, -snr_db / 10.0));
    for (size_t i = 0; i < n; i++)
        nz[i] = (float)(x[i] + g * nz[i]);
    return nz;
}

static void check_fft(void)
{
    const size_t sizes[] = {1, 2, 7, 16, 100, 512, 1000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        double *re = malloc(n * sizeof *re), *im = malloc(n * sizeof *im);
        double *xr = malloc(n * sizeof *xr), *xi = malloc(n * sizeof *xi);
        for (size_t i = 0; i < n; i++) {
            xr[i] = re[i] = grand();
            xi[i] = im[i] = grand();
        }
        int rc = jt_fft(re, im, n, 0);
        double err = 0, scale = 0;
        for (size_t k = 0; k < n; k++) {
            double sr = 0, si = 0;
            for (size_t t = 0; t < n; t++) {
                double a = -2 * M_PI * (double)((k * t) % n) / (double)n;
                sr += xr[t] * cos(a) - xi[t] * sin(a);
                si += xr[t] * sin(a) + xi[t] * cos(a);
            }
            err = fmax(err, hypot(re[k] - sr, im[k] - si));
            scale = fmax(scale, hypot(sr, si));
        }
        tap_ok(rc == 0 && err <= 1e-12 * fmax(scale, 1.0) * (double)n,
               "FFT n=%zu (%s) matches the plain DFT (max error %.2g)", n,
               (n & (n - 1)) ? "Bluestein" : "radix-2", err);
        jt_fft(re, im, n, 1);
        double rt = 0;
        for (size_t i = 0; i < n; i++)
            rt = fmax(rt, hypot(re[i] - xr[i], im[i] - xi[i]));
        tap_ok(rt < 1e-12, "inverse FFT n=%zu round trip (max error %.2g)", n, rt);
        free(re);
        free(im);
        free(xr);
        free(xi);
    }
}

static void check_stoi_internals(void)
{
    /* Bin width 10000/512 = 19.53 Hz.  Band 0: centre 150 Hz, edges
     * 133.6 and 168.4 Hz = bins 6.84 and 8.62 -> [7, 9).  Band 14: centre
     * 150 * 2^(14/3) = 3809.76 Hz, edges 3394.1 and 4276.3 Hz = bins 173.8
     * and 218.9 -> [174, 219). */
    int lo, hi;
    double cf;
    jt_stoi_band(0, &lo, &hi, &cf);
    tap_ok(lo == 7 && hi == 9 && fabs(cf - 150.0) < 1e-9, "STOI band 0: bins [%d, %d), %.1f Hz",
           lo, hi, cf);
    jt_stoi_band(14, &lo, &hi, &cf);
    tap_ok(lo == 174 && hi == 219 && fabs(cf - 3809.76) < 0.01,
           "STOI band 14: bins [%d, %d), %.2f Hz", lo, hi, cf);
    int contiguous = 1, prev_hi = -1;
    for (int b = 0; b < 15; b++) {
        jt_stoi_band(b, &lo, &hi, NULL);
        if ((prev_hi >= 0 && lo != prev_hi) || hi <= lo)
            contiguous = 0;
        prev_hi = hi;
    }
    tap_ok(contiguous, "STOI bands are non-empty and tile the bins without gaps");
    tap_ok(jt_stoi_band(15, &lo, &hi, NULL) != 0, "STOI has 15 bands");

    tap_ok(jt_stoi_frame_count(255) == 0 && jt_stoi_frame_count(256) == 1 &&
               jt_stoi_frame_count(383) == 1 && jt_stoi_frame_count(384) == 2 &&
               jt_stoi_frame_count(10000) == 77,
           "STOI frame counts (256-sample frames, hop 128)");

    /* 1 s of noise, then 1 s 60 dB quieter: the quiet frames go, the 77
     * frames of loud noise stay, plus at most the two straddling ones. */
    size_t n = 20000;
    float *v = noise(n, 0.1);
    for (size_t i = 10000; i < n; i++)
        v[i] *= 1e-3f;
    size_t k = jt_stoi_active_frames(v, n);
    tap_ok(k >= 77 && k <= 79, "silent-frame removal keeps the loud second only (%zu of %zu)", k,
           jt_stoi_frame_count(n));
    /* 30 dB quieter is within the 40 dB range: everything stays. */
    for (size_t i = 10000; i < n; i++)
        v[i] *= 31.6227766f;
    k = jt_stoi_active_frames(v, n);
    tap_ok(k == jt_stoi_frame_count(n), "a part 30 dB down is kept (%zu of %zu)", k,
           jt_stoi_frame_count(n));
    free(v);
}

/* Identity, noise response and the hand checks on one speech signal. */
static void check_on_speech(const char *label, const float *x, size_t n)
{
    double s = jt_stoi(x, x, n, RATE), e = jt_estoi(x, x, n, RATE);
    tap_ok(fabs(s - 1.0) < 1e-6, "%s: STOI(x, x) = 1 (%.9f)", label, s);
    tap_ok(fabs(e - 1.0) < 1e-6, "%s: ESTOI(x, x) = 1 (%.9f)", label, e);
    tap_ok(jt_mel_distance(x, x, n, RATE) == 0.0, "%s: mel distance(x, x) = 0", label);
    tap_ok(jt_mrstft(x, x, n, RATE) == 0.0, "%s: MR-STFT(x, x) = 0", label);
    tap_ok(jt_si_sdr(x, x, n) == 100.0, "%s: SI-SDR(x, x) = 100 dB (the cap)", label);

    float *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++)
        g[i] = 0.5f * x[i];
    s = jt_stoi(x, g, n, RATE);
    e = jt_estoi(x, g, n, RATE);
    tap_ok(fabs(s - 1.0) < 1e-6 && fabs(e - 1.0) < 1e-6,
           "%s: STOI and ESTOI ignore a gain (%.9f, %.9f)", label, s, e);
    tap_ok(jt_si_sdr(x, g, n) == 100.0, "%s: SI-SDR of a scaled copy is capped at 100 dB",
           label);
    free(g);

    const double snrs[3] = {20, 10, 0};
    double m[4][5];
    jt_metrics clean;
    jt_metrics_compute(x, n, x, n, RATE, &clean, NULL, 0);
    m[0][0] = clean.stoi;
    m[0][1] = clean.estoi;
    m[0][2] = clean.mel_distance;
    m[0][3] = clean.si_sdr;
    m[0][4] = clean.mrstft;
    int ok_all = 1;
    for (int k = 0; k < 3; k++) {
        float *y = add_noise(x, n, snrs[k]);
        jt_metrics r;
        char err[256];
        if (jt_metrics_compute(x, n, y, n, RATE, &r, err, sizeof err) != 0) {
            tap_diag("metrics failed: %s", err);
            ok_all = 0;
        }
        m[k + 1][0] = r.stoi;
        m[k + 1][1] = r.estoi;
        m[k + 1][2] = r.mel_distance;
        m[k + 1][3] = r.si_sdr;
        m[k + 1][4] = r.mrstft;
        tap_diag("%s at %2.0f dB SNR: stoi %.4f estoi %.4f mel %.4f si-sdr %.3f mrstft %.4f",
                 label, snrs[k], r.stoi, r.estoi, r.mel_distance, r.si_sdr, r.mrstft);
        tap_ok(fabs(r.si_sdr - snrs[k]) < 0.5, "%s: SI-SDR %.3f dB within 0.5 dB of %.0f dB SNR",
               label, r.si_sdr, snrs[k]);
        free(y);
    }
    tap_ok(ok_all, "%s: all metrics computed on noisy copies", label);
    static const char *names[5] = {"STOI", "ESTOI", "mel distance", "SI-SDR", "MR-STFT"};
    static const int up[5] = {0, 0, 1, 0, 1}; /* distances grow with noise */
    for (int q = 0; q < 5; q++) {
        int mono = 1;
        for (int k = 0; k < 3; k++)
            mono &= up[q] ? m[k + 1][q] > m[k][q] : m[k + 1][q] < m[k][q];
        tap_ok(mono, "%s: %s %s with noise (clean, 20, 10, 0 dB: %.4f %.4f %.4f %.4f)", label,
               names[q], up[q] ? "increases" : "decreases", m[0][q], m[1][q], m[2][q], m[3][q]);
    }
    /* Unrelated noise carries none of the speech.  ESTOI goes to about 0;
     * STOI does not: its clipping makes the clipped noise envelope follow
     * the speech's dips, and the reference implementation (pystoi 0.4.1,
     * checked once by hand) also gives about 0.43 for speech vs noise. */
    float *z = noise(n, 0.1);
    s = jt_stoi(x, z, n, RATE);
    e = jt_estoi(x, z, n, RATE);
    tap_ok(fabs(e) < 0.1 && s < 0.6 && s < m[3][0],
           "%s: against unrelated noise ESTOI ~ 0 (%.4f), STOI below 0 dB SNR's (%.4f)", label, e,
           s);
    free(z);
}

static void check_hand_values(void)
{
    /* SI-SDR: x = sine over whole periods, n = cosine of the same frequency
     * (zero mean and exactly orthogonal to x): SI-SDR = 10 log10(Ex / En)
     * = 10 log10(1 / 0.1^2) = 20 dB, and invariant to scaling deg. */
    size_t n = 24000;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        double a = 2 * M_PI * 100.0 * (double)i / RATE;
        x[i] = (float)sin(a);
        y[i] = (float)(sin(a) + 0.1 * cos(a));
    }
    double v = jt_si_sdr(x, y, n);
    tap_ok(fabs(v - 20.0) < 1e-4, "SI-SDR of x + orthogonal n at 1/100 energy = 20 dB (%.6f)", v);
    for (size_t i = 0; i < n; i++)
        y[i] *= 3.0f;
    double v3 = jt_si_sdr(x, y, n);
    tap_ok(fabs(v3 - v) < 1e-4, "SI-SDR is scale invariant (%.6f)", v3);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(0.0 * x[i]) + 0.0f;
    v = jt_si_sdr(y, x, n);
    tap_ok(isnan(v), "SI-SDR with a silent reference is NaN");
    free(x);
    free(y);

    /* Mel distance of x against 10 x: every mel magnitude is 10 times
     * larger (all far above the 1e-5 floor), so the distance is exactly 1. */
    n = 48000;
    x = noise(n, 0.1);
    y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = 10.0f * x[i];
    v = jt_mel_distance(x, y, n, RATE);
    tap_ok(fabs(v - 1.0) < 1e-9, "mel distance(x, 10 x) = 1 (%.12f)", v);
    /* MR-STFT of x against c x is mean|S|(c - 1) + ln c (up to the 1e-5
     * offset), so D(x, 3x) - 2 D(x, 2x) = ln 3 - 2 ln 2 = ln(3/4). */
    for (size_t i = 0; i < n; i++)
        y[i] = 2.0f * x[i];
    double d2 = jt_mrstft(x, y, n, RATE);
    for (size_t i = 0; i < n; i++)
        y[i] = 3.0f * x[i];
    double d3 = jt_mrstft(x, y, n, RATE);
    tap_ok(fabs(d3 - 2 * d2 - log(0.75)) < 1e-4,
           "MR-STFT: D(x,3x) - 2 D(x,2x) = ln(3/4) (%.6f vs %.6f)", d3 - 2 * d2, log(0.75));
    /* Rate handling: the same signal given at 16 kHz is resampled to the
     * metrics' rates and still compares equal to itself. */
    v = jt_stoi(x, x, n, 16000);
    tap_ok(fabs(v - 1.0) < 1e-6, "STOI(x, x) = 1 for a 16 kHz input (%.9f)", v);
    /* Too short for one 30-frame segment: STOI undefined, reported NaN. */
    v = jt_stoi(x, x, 2400, RATE);
    tap_ok(isnan(v), "STOI of 0.1 s is NaN (fewer than 30 frames)");
    jt_metrics r;
    char err[256];
    int rc = jt_metrics_compute(x, n, y, 12000, RATE, &r, err, sizeof err);
    tap_ok(rc == 0 && r.n == 12000, "different lengths are truncated to the shorter (%zu)", r.n);
    rc = jt_metrics_compute(x, 0, y, n, RATE, &r, err, sizeof err);
    tap_ok(rc != 0 && strstr(err, "empty"), "empty input is an error (%s)", err);
    free(x);
    free(y);
}

static int have_espeak(void) { return system("command -v espeak-ng >/dev/null 2>&1") == 0; }

static void check_espeak(void)
{
    if (!have_espeak()) {
        for (int i = 0; i < 17; i++)
            printf("ok %d - espeak-ng speech check # SKIP espeak-ng not installed\n",
                   ++tap_count_);
        return;
    }
    char path[600], cmd[900], err[600];
    snprintf(path, sizeof path, "%s/espeak.wav", dir);
    snprintf(cmd, sizeof cmd,
             "espeak-ng -w %s 'The quick brown fox jumps over the lazy dog. "
             "Speech intelligibility is measured on short time segments.' >/dev/null 2>&1",
             path);
    jt_audio a = {0};
    if (system(cmd) != 0 || jt_audio_load(path, RATE, &a, err, sizeof err) != 0) {
        tap_ok(0, "espeak-ng produced a readable WAV (%s)", err);
        return;
    }
    tap_diag("espeak-ng: %.2f s at %d Hz", (double)a.orig_frames / a.orig_rate, a.orig_rate);
    check_on_speech("espeak-ng", a.samples, a.frames);
    jt_audio_free(&a);
}

/* ---------------------------------------------------------- the CLI */

static int write_wav(const char *d, const char *name, const float *x, size_t n, int rate)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", d, name);
    return jt_audio_write(p, x, n, rate, JT_AUDIO_FLOAT32, NULL, 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[65536];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    fclose(f);
    return buf;
}

static void check_cli(void)
{
    if (access(JEPATOK_BIN, X_OK) != 0) {
        for (int i = 0; i < 8; i++)
            printf("ok %d - jepatok eval # SKIP %s not built\n", ++tap_count_, JEPATOK_BIN);
        return;
    }
    char ref[600], deg[600], csv[600], cmd[3000], out[600];
    snprintf(ref, sizeof ref, "%s/ref", dir);
    snprintf(deg, sizeof deg, "%s/deg", dir);
    snprintf(csv, sizeof csv, "%s/out.csv", dir);
    snprintf(out, sizeof out, "%s/stdout.txt", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s %s", ref, deg);
    if (system(cmd) != 0) {
        tap_ok(0, "mkdir for the CLI test");
        return;
    }
    size_t n = 2 * RATE;
    float *x = synth_speech(n), *y = add_noise(x, n, 10.0);
    float *x16 = malloc(n * sizeof *x16);
    /* b is stored at 16 kHz on the degraded side: eval must resample. */
    float *r16 = NULL;
    size_t n16 = 0;
    jt_audio_resample(x, n, RATE, 16000, &r16, &n16, NULL, 0);
    write_wav(ref, "a.wav", x, n, RATE);
    write_wav(deg, "a.wav", y, n, RATE);
    write_wav(ref, "b.wav", x, n, RATE);
    write_wav(deg, "b.wav", r16, n16, 16000);

    snprintf(cmd, sizeof cmd, "%s eval --ref %s --deg %s --csv %s --quiet > %s 2>&1",
             JEPATOK_BIN, ref, deg, csv, out);
    int rc = system(cmd);
    tap_ok(rc == 0, "jepatok eval --ref --deg --csv exits 0");
    char *t = slurp(csv);
    int rows = 0, header = 0, ra = 0, rb = 0;
    double stoi_a = -1, stoi_b = -1, sec_a = 0;
    if (t) {
        header = strncmp(t, "file,seconds,stoi,estoi,mel_distance,si_sdr,mrstft\n", 51) == 0;
        for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
            if (strncmp(line, "file,", 5) == 0)
                continue;
            rows++;
            if (strncmp(line, "a,", 2) == 0)
                ra = sscanf(line, "a,%lf,%lf", &sec_a, &stoi_a) == 2;
            if (strncmp(line, "b,", 2) == 0)
                rb = sscanf(line, "b,%*f,%lf", &stoi_b) == 1;
        }
    }
    tap_ok(header && rows == 2 && ra && rb, "CSV has the header and rows a, b (%d rows)", rows);
    tap_ok(fabs(sec_a - 2.0) < 1e-3 && stoi_a > 0.3 && stoi_a < 0.99,
           "row a: 2 s, STOI of the 10 dB noisy copy in (0.3, 0.99) (%.4f)", stoi_a);
    tap_ok(stoi_b > 0.99, "row b: a 16 kHz copy of the reference scores STOI ~1 (%.4f)", stoi_b);
    t = slurp(out);
    tap_ok(t && strstr(t, "summary: 2 files") && strstr(t, "mrstft"),
           "the summary table is printed");

    snprintf(cmd, sizeof cmd, "%s eval --ref %s --deg %s --json > %s 2>/dev/null", JEPATOK_BIN,
             ref, deg, out);
    rc = system(cmd);
    t = slurp(out);
    tap_ok(rc == 0 && t && strstr(t, "\"summary\"") && strstr(t, "\"file\": \"b\""),
           "--json prints files and summary");

    /* A reference without a degraded file: an error naming it. */
    write_wav(ref, "c.wav", x, n, RATE);
    snprintf(cmd, sizeof cmd, "%s eval --ref %s --deg %s --quiet > %s 2>&1", JEPATOK_BIN, ref,
             deg, out);
    rc = system(cmd);
    t = slurp(out);
    tap_ok(rc != 0 && t && strstr(t, "c.wav"), "a missing degraded file fails, naming it");

    snprintf(cmd, sizeof cmd, "%s eval --model m --data d > %s 2>&1", JEPATOK_BIN, out);
    rc = system(cmd);
    t = slurp(out);
    tap_ok(rc != 0 && t && strstr(t, "go together"), "--model and --data without --out is a usage error");
    snprintf(cmd, sizeof cmd, "%s eval --model %s/no-such-model --data %s --out %s/coded --quiet > %s 2>&1",
             JEPATOK_BIN, ref, ref, ref, out);
    rc = system(cmd);
    t = slurp(out);
    tap_ok(rc != 0 && t && strstr(t, "no-such-model"), "--model with a missing model file fails, naming it");
    snprintf(cmd, sizeof cmd, "%s eval --help > %s 2>&1", JEPATOK_BIN, out);
    rc = system(cmd);
    t = slurp(out);
    tap_ok(rc == 0 && t && strstr(t, "--ref DIR"), "jepatok eval --help");
    free(x);
    free(y);
    free(x16);
    free(r16);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    check_fft();
    check_stoi_internals();
    check_hand_values();
    size_t n = 3 * RATE;
    float *sp = synth_speech(n);
    check_on_speech("synthetic", sp, n);
    free(sp);
    check_espeak();
    check_cli();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_done();
}
