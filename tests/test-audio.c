/* test-audio.c: src/audio.c: round trips, resampling, downmix, and the
 * errors a data pipeline meets (missing, non-audio, empty, NaN files), and
 * the streaming reader, resampler and writer against the whole-file forms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sndfile.h>
#include <soxr.h>

#include "audio.h"
#include "tap.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static char dir[] = "/tmp/jt-test-audio-XXXXXX";

static const char *tmpfile_path(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* Write interleaved float frames with libsndfile directly, so the tests of
 * the loader do not depend on the writer under test. */
static int raw_write(const char *path, const float *x, size_t frames, int ch, int rate, int fmt)
{
    SF_INFO info = {.samplerate = rate, .channels = ch, .format = fmt};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf)
        return -1;
    sf_count_t w = sf_writef_float(sf, x, (sf_count_t)frames);
    sf_close(sf);
    return w == (sf_count_t)frames ? 0 : -1;
}

/* Frequency from the phase advance of the analytic-ish product with a
 * reference tone: simpler and more precise here is counting upward zero
 * crossings over a long stretch, interpolated linearly. */
static double zero_cross_freq(const float *x, size_t n, int rate)
{
    double first = -1, last = -1;
    int count = 0;
    for (size_t i = 1; i < n; i++) {
        if (x[i - 1] < 0 && x[i] >= 0) {
            double t = (double)(i - 1) + (double)(-x[i - 1]) / (double)(x[i] - x[i - 1]);
            if (first < 0)
                first = t;
            else
                count++;
            last = t;
        }
    }
    return count > 0 ? count * (double)rate / (last - first) : 0.0;
}

static double rms(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s / (double)n);
}

/* The whole-buffer resampling of the version before streaming: one
 * soxr_oneshot call, zero-padded to the rounded length.  The streaming
 * pieces must reproduce it. */
static float *oneshot_ref(const float *in, size_t n, int in_rate, int out_rate, size_t *m)
{
    *m = (size_t)floor((double)n * out_rate / in_rate + 0.5);
    float *y = calloc(*m ? *m : 1, sizeof *y);
    if (in_rate == out_rate) {
        memcpy(y, in, n * sizeof *y);
        return y;
    }
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    size_t idone = 0, odone = 0;
    if (soxr_oneshot(in_rate, out_rate, 1, in, n, &idone, y, *m, &odone, &io, &q, NULL)) {
        free(y);
        return NULL;
    }
    return y;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* Block sizes that do not line up with anything. */
static size_t odd_block(size_t k)
{
    static const size_t sizes[] = {1, 777, 4096, 13, 30011, 2, 8192, 511};
    return sizes[k % (sizeof sizes / sizeof sizes[0])];
}

/* Speech-like test signal: a few harmonics under a syllable envelope. */
static float speechy(size_t i, int rate, int ch)
{
    double t = (double)i / rate, env = 0.5 + 0.5 * sin(2 * M_PI * 3.7 * t);
    double f0 = 120 + 30 * sin(2 * M_PI * 0.9 * t) + 40 * ch;
    double v = 0;
    for (int h = 1; h <= 6; h++)
        v += sin(2 * M_PI * f0 * h * t + h) / h;
    return (float)(0.25 * env * v);
}

typedef struct {
    float *y;
    size_t n;
} collect;

static int emit_collect(void *user, const float *y, size_t n, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    collect *c = user;
    float *t = realloc(c->y, (c->n + n + 1) * sizeof *t);
    if (!t)
        return -1;
    c->y = t;
    memcpy(c->y + c->n, y, n * sizeof *y);
    c->n += n;
    return 0;
}

/* 5. The streaming reader, resampler and writer give the samples of the
 * whole-file functions (and of the single soxr_oneshot call before them). */
static void test_streaming(void)
{
    char err[512];
    static const struct {
        int rate, ch;
        const char *name;
    } in[] = {{16000, 1, "s16k.wav"}, {44100, 2, "s44k.wav"}, {24000, 1, "s24k.wav"}};
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
        size_t n = (size_t)in[k].rate * 7 + 123; /* 7 s and a bit */
        int ch = in[k].ch;
        float *x = malloc(n * (size_t)ch * sizeof *x), *mono = malloc(n * sizeof *mono);
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (int c = 0; c < ch; c++) {
                x[i * ch + c] = speechy(i, in[k].rate, c);
                s += x[i * ch + c];
            }
            mono[i] = (float)(s / ch);
        }
        const char *path = tmpfile_path(in[k].name);
        raw_write(path, x, n, ch, in[k].rate, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
        jt_audio whole = {0};
        int rc = jt_audio_load(path, 24000, &whole, err, sizeof err);
        jt_audio_reader *r = NULL;
        int rc2 = jt_audio_reader_open(&r, path, 24000, err, sizeof err);
        collect got = {0};
        float *blk = malloc(30011 * sizeof *blk);
        long long g = 0;
        for (size_t b = 0; rc2 == 0 && (g = jt_audio_reader_read(r, blk, odd_block(b), err, sizeof err)) > 0; b++)
            emit_collect(&got, blk, (size_t)g, NULL, 0);
        int ok = rc == 0 && rc2 == 0 && g == 0 && got.n == whole.frames &&
                 memcmp(got.y, whole.samples, got.n * sizeof *got.y) == 0;
        tap_ok(ok, "streaming reader, %d Hz %d ch read in odd blocks = jt_audio_load (%zu samples, identical)",
               in[k].rate, ch, got.n);
        tap_ok(rc2 == 0 && jt_audio_reader_orig_rate(r) == in[k].rate && jt_audio_reader_orig_channels(r) == ch &&
                   jt_audio_reader_orig_frames(r) == n && jt_audio_reader_frames(r) == got.n,
               "streaming reader reports rate %d, %d channels, %zu frames", in[k].rate, ch, n);
        size_t m = 0;
        float *ref = oneshot_ref(mono, n, in[k].rate, 24000, &m);
        double d = ref && m == got.n ? max_abs_diff(ref, got.y, m) : 1;
        tap_ok(d <= 1e-6, "streaming reader, %d Hz: max difference to one soxr_oneshot call %.3g (<= 1e-6)",
               in[k].rate, d);
        free(ref);
        jt_audio_reader_close(r);

        /* the decode side: 24 kHz blocks back to the file's rate */
        jt_audio_resampler *rs = NULL;
        collect back = {0};
        rc = jt_audio_resampler_open(&rs, 24000, in[k].rate, err, sizeof err);
        for (size_t off = 0, b = 3; rc == 0 && off < whole.frames; b++) {
            size_t take = odd_block(b) < whole.frames - off ? odd_block(b) : whole.frames - off;
            rc = jt_audio_resampler_push(rs, whole.samples + off, take, 0, emit_collect, &back, err, sizeof err);
            off += take;
        }
        rc = rc ? rc : jt_audio_resampler_push(rs, NULL, 0, 1, emit_collect, &back, err, sizeof err);
        jt_audio_resampler_close(rs);
        float *wy = NULL;
        size_t wn = 0;
        rc2 = jt_audio_resample(whole.samples, whole.frames, 24000, in[k].rate, &wy, &wn, err, sizeof err);
        ref = oneshot_ref(whole.samples, whole.frames, 24000, in[k].rate, &m);
        tap_ok(rc == 0 && rc2 == 0 && back.n == wn && wn == m &&
                   memcmp(back.y, wy, wn * sizeof *wy) == 0 && ref && memcmp(ref, wy, wn * sizeof *wy) == 0,
               "incremental resampler 24000 -> %d Hz in odd blocks = jt_audio_resample = soxr_oneshot (%zu samples)",
               in[k].rate, back.n);
        free(ref);
        free(wy);
        free(back.y);
        free(got.y);
        free(blk);
        jt_audio_free(&whole);
        free(x);
        free(mono);
    }

    /* writer: blocks = one write; the old file stays until commit */
    const size_t n = 50000;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = 1.3f * speechy(i, 24000, 0); /* some samples beyond 1: clipped */
    for (int fmt = 0; fmt < 2; fmt++) {
        const char *one = tmpfile_path("w-one.wav"), *blocks = tmpfile_path("w-blocks.wav");
        int rc = jt_audio_write(one, x, n, 24000, (jt_audio_format)fmt, err, sizeof err);
        float prev = 0.25f;
        rc = rc ? rc : jt_audio_write(blocks, &prev, 1, 24000, JT_AUDIO_FLOAT32, err, sizeof err);
        jt_audio_writer *w = NULL;
        rc = rc ? rc : jt_audio_writer_open(&w, blocks, 24000, (jt_audio_format)fmt, err, sizeof err);
        for (size_t off = 0, b = 0; rc == 0 && off < n; b++) {
            size_t take = odd_block(b) < n - off ? odd_block(b) : n - off;
            rc = jt_audio_writer_write(w, x + off, take, err, sizeof err);
            off += take;
        }
        jt_audio a = {0}, c = {0};
        int untouched = rc == 0 && jt_audio_load(blocks, 24000, &a, err, sizeof err) == 0 && a.frames == 1 &&
                        a.samples[0] == prev;
        jt_audio_free(&a);
        rc = rc ? rc : jt_audio_writer_commit(w, err, sizeof err);
        rc = rc ? rc : jt_audio_load(one, 24000, &a, err, sizeof err);
        rc = rc ? rc : jt_audio_load(blocks, 24000, &c, err, sizeof err);
        tap_ok(rc == 0 && untouched && a.frames == n && c.frames == n &&
                   memcmp(a.samples, c.samples, n * sizeof *a.samples) == 0,
               "%s writer in odd blocks = jt_audio_write; the old file stays until commit (%s)",
               fmt ? "float" : "16-bit", rc ? err : "ok");
        jt_audio_free(&a);
        jt_audio_free(&c);
    }
    const char *ab = tmpfile_path("w-abort.wav");
    jt_audio_writer *w = NULL;
    int rc = jt_audio_writer_open(&w, ab, 24000, JT_AUDIO_PCM16, err, sizeof err);
    rc = rc ? rc : jt_audio_writer_write(w, x, 1000, err, sizeof err);
    float bad[3] = {0.0f, 0.0f, NAN};
    int rc2 = rc ? rc : jt_audio_writer_write(w, bad, 3, err, sizeof err);
    if (w)
        jt_audio_writer_abort(w);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q 'w-abort'", dir);
    tap_ok(rc == 0 && rc2 == JT_AUDIO_ENONFINITE && strstr(err, "frame 1002") && system(cmd) != 0,
           "writer refuses NaN with its position in the file, abort leaves nothing (%s)", err);
    free(x);

    /* the reader's errors are those of jt_audio_load */
    float nanv[5] = {0.1f, 0.2f, NAN, 0.0f, INFINITY};
    raw_write(tmpfile_path("nan2.wav"), nanv, 5, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    jt_audio_reader *r = NULL;
    float buf[16];
    rc = jt_audio_reader_open(&r, tmpfile_path("nan2.wav"), 24000, err, sizeof err);
    long long g = rc ? rc : jt_audio_reader_read(r, buf, 16, err, sizeof err);
    jt_audio_reader_close(r);
    tap_ok(g == JT_AUDIO_ENONFINITE && strstr(err, "nan2.wav: non-finite sample (NaN or Inf) at frame 2"),
           "streaming reader rejects NaN with the loader's message (%s)", err);
    rc = jt_audio_reader_open(&r, tmpfile_path("missing.wav"), 24000, err, sizeof err);
    tap_ok(rc == JT_AUDIO_EUNREADABLE && r == NULL && strstr(err, "unreadable"),
           "streaming reader: missing file is unreadable (%s)", err);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    char err[512];

    /* 1. Round trip through the writer, float and 16-bit. */
    const int rate = 24000;
    const size_t n = 24000;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.6 * sin(2 * M_PI * 300.0 * (double)i / rate) +
                       0.2 * sin(2 * M_PI * 3100.0 * (double)i / rate));
    int rc = jt_audio_write(tmpfile_path("rt.wav"), x, n, rate, JT_AUDIO_FLOAT32, err, sizeof err);
    tap_ok(rc == JT_AUDIO_OK, "write float WAV (%s)", rc ? err : "ok");
    jt_audio a = {0};
    rc = jt_audio_load(tmpfile_path("rt.wav"), rate, &a, err, sizeof err);
    int same = rc == JT_AUDIO_OK && a.frames == n;
    for (size_t i = 0; same && i < n; i++)
        same = a.samples[i] == x[i];
    tap_ok(same, "float WAV round trip is bit exact");
    tap_ok(rc == 0 && a.orig_rate == rate && a.orig_channels == 1 && a.orig_frames == n &&
               a.rate == rate,
           "load reports original rate, channels, frames");
    jt_audio_free(&a);
    tap_ok(a.samples == NULL && a.frames == 0, "jt_audio_free zeroes the struct");

    rc = jt_audio_write(tmpfile_path("rt16.wav"), x, n, rate, JT_AUDIO_PCM16, err, sizeof err);
    rc = rc ? rc : jt_audio_load(tmpfile_path("rt16.wav"), rate, &a, err, sizeof err);
    double maxe = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        maxe = fmax(maxe, fabs(a.samples[i] - x[i]));
    tap_ok(rc == 0 && a.frames == n && maxe <= 1.0 / 32768 + 1e-7,
           "16-bit WAV round trip within one LSB (max error %.3g)", maxe);
    jt_audio_free(&a);

    /* Overshoot must clip, not wrap around to the other rail. */
    float over[4] = {1.5f, -1.5f, 0.5f, 0.0f};
    rc = jt_audio_write(tmpfile_path("clip.wav"), over, 4, rate, JT_AUDIO_PCM16, err, sizeof err);
    rc = rc ? rc : jt_audio_load(tmpfile_path("clip.wav"), rate, &a, err, sizeof err);
    tap_ok(rc == 0 && a.samples[0] > 0.99f && a.samples[1] < -0.99f,
           "16-bit writer clips out-of-range samples (%g, %g)", rc ? 0 : a.samples[0],
           rc ? 0 : a.samples[1]);
    jt_audio_free(&a);

    /* Atomic write: no temporary left behind, an existing file replaced. */
    rc = jt_audio_write(tmpfile_path("rt.wav"), over + 2, 2, 8000, JT_AUDIO_FLOAT32, err,
                        sizeof err);
    rc = rc ? rc : jt_audio_load(tmpfile_path("rt.wav"), 8000, &a, err, sizeof err);
    tap_ok(rc == 0 && a.frames == 2, "write replaces an existing file");
    jt_audio_free(&a);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", dir);
    tap_ok(system(cmd) != 0, "no temporary files left in the output directory");
    float bad[3] = {0.0f, NAN, 0.0f};
    rc = jt_audio_write(tmpfile_path("nan-out.wav"), bad, 3, rate, JT_AUDIO_PCM16, err, sizeof err);
    tap_ok(rc == JT_AUDIO_ENONFINITE && access(tmpfile_path("nan-out.wav"), F_OK) != 0,
           "writer refuses NaN and creates nothing (%s)", err);
    rc = jt_audio_write("/nonexistent-dir/x.wav", x, 10, rate, JT_AUDIO_PCM16, err, sizeof err);
    tap_ok(rc == JT_AUDIO_EWRITE && strstr(err, "/nonexistent-dir/x.wav"),
           "unwritable path is an error naming it (%s)", err);

    /* 2. Resampling 16 kHz -> 24 kHz keeps a sine's frequency and level. */
    const int r16 = 16000;
    const size_t n16 = 32000;
    float *s16 = malloc(n16 * sizeof *s16);
    for (size_t i = 0; i < n16; i++)
        s16[i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * (double)i / r16));
    raw_write(tmpfile_path("s16.wav"), s16, n16, 1, r16, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    rc = jt_audio_load(tmpfile_path("s16.wav"), 24000, &a, err, sizeof err);
    tap_ok(rc == 0 && a.frames == 48000 && a.orig_rate == r16 && a.orig_frames == n16,
           "16 kHz file loads as 48000 samples at 24 kHz (%zu)", a.frames);
    if (rc == 0) {
        /* Skip the ends, where the filter sees the signal start and stop. */
        const float *mid = a.samples + 2400;
        size_t mn = a.frames - 4800;
        double f = zero_cross_freq(mid, mn, 24000);
        double amp = rms(mid, mn) * sqrt(2.0);
        tap_ok(fabs(f - 1000.0) < 0.05, "resampled sine is at 1000 Hz (%.4f)", f);
        tap_ok(fabs(amp - 0.5) < 0.001, "resampled sine keeps amplitude 0.5 (%.5f)", amp);
        /* The delay is compensated: the resampled sine lines up with the
         * ideal 24 kHz one sample for sample. */
        double me = 0;
        for (size_t i = 2400; i < a.frames - 2400; i++)
            me = fmax(me, fabs(a.samples[i] - 0.5 * sin(2 * M_PI * 1000.0 * (double)i / 24000)));
        tap_ok(me < 0.002, "resampled sine is time aligned (max deviation %.2g)", me);
    } else {
        tap_ok(0, "resampled sine frequency");
        tap_ok(0, "resampled sine amplitude");
        tap_ok(0, "resampled sine alignment");
    }
    jt_audio_free(&a);

    /* 3. Stereo downmix averages the channels. */
    const size_t ns = 1000;
    float *st = malloc(2 * ns * sizeof *st);
    for (size_t i = 0; i < ns; i++) {
        st[2 * i] = (float)(0.5 * sin((double)i * 0.05));
        st[2 * i + 1] = 0.25f;
    }
    raw_write(tmpfile_path("stereo.wav"), st, ns, 2, 24000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    rc = jt_audio_load(tmpfile_path("stereo.wav"), 24000, &a, err, sizeof err);
    double de = rc == 0 ? 0 : 1;
    for (size_t i = 0; rc == 0 && i < ns; i++)
        de = fmax(de, fabs(a.samples[i] - 0.5 * (st[2 * i] + st[2 * i + 1])));
    tap_ok(rc == 0 && a.orig_channels == 2 && a.frames == ns && de < 1e-7,
           "stereo is downmixed by averaging (max error %.2g)", de);
    jt_audio_free(&a);

    /* FLAC and Ogg go through the same path. */
    raw_write(tmpfile_path("s.flac"), s16, n16, 1, r16, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
    rc = jt_audio_load(tmpfile_path("s.flac"), 16000, &a, err, sizeof err);
    tap_ok(rc == 0 && a.frames == n16, "FLAC loads (%s)", rc ? err : "ok");
    jt_audio_free(&a);
    raw_write(tmpfile_path("s.ogg"), s16, n16, 1, r16, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
    rc = jt_audio_load(tmpfile_path("s.ogg"), 24000, &a, err, sizeof err);
    tap_ok(rc == 0 && a.frames > 40000, "Ogg Vorbis loads and resamples (%s)", rc ? err : "ok");
    jt_audio_free(&a);

    /* 4. Errors: values with the file name and the cause. */
    rc = jt_audio_load(tmpfile_path("missing.wav"), 24000, &a, err, sizeof err);
    tap_ok(rc == JT_AUDIO_EUNREADABLE && strstr(err, "missing.wav") && strstr(err, "unreadable"),
           "missing file: unreadable (%s)", err);
    FILE *f = fopen(tmpfile_path("text.wav"), "w");
    fputs("this is not audio, just some text pretending to be a WAV file\n", f);
    fclose(f);
    rc = jt_audio_load(tmpfile_path("text.wav"), 24000, &a, err, sizeof err);
    tap_ok(rc == JT_AUDIO_ENOTAUDIO && strstr(err, "text.wav") && strstr(err, "not"),
           "text file: not audio (%s)", err);
    tap_ok(a.samples == NULL && a.frames == 0, "a failed load leaves the struct empty");
    f = fopen(tmpfile_path("empty.wav"), "w");
    fclose(f);
    rc = jt_audio_load(tmpfile_path("empty.wav"), 24000, &a, err, sizeof err);
    tap_ok(rc == JT_AUDIO_EEMPTY && strstr(err, "empty.wav") && strstr(err, "empty"),
           "0-byte file: empty (%s)", err);
    raw_write(tmpfile_path("noframes.wav"), NULL, 0, 1, 24000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    rc = jt_audio_load(tmpfile_path("noframes.wav"), 24000, &a, err, sizeof err);
    tap_ok(rc == JT_AUDIO_EEMPTY && strstr(err, "noframes.wav"),
           "WAV header without frames: empty (%s)", err);
    float nanv[5] = {0.1f, 0.2f, NAN, 0.0f, INFINITY};
    raw_write(tmpfile_path("nan.wav"), nanv, 5, 1, 24000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    rc = jt_audio_load(tmpfile_path("nan.wav"), 24000, &a, err, sizeof err);
    tap_ok(rc == JT_AUDIO_ENONFINITE && strstr(err, "nan.wav") && strstr(err, "frame 2"),
           "NaN sample: rejected with its position (%s)", err);
    rc = jt_audio_load(dir, 24000, &a, err, sizeof err);
    tap_ok(rc == JT_AUDIO_EUNREADABLE, "a directory is unreadable (%s)", err);
    rc = jt_audio_load(tmpfile_path("rt16.wav"), 0, &a, err, sizeof err);
    tap_ok(rc == JT_AUDIO_EARG, "rate 0 is a bad argument");

    /* Resampler edge cases used by the metrics. */
    float *r = NULL;
    size_t rn = 0;
    rc = jt_audio_resample(x, 240, 24000, 10000, &r, &rn, err, sizeof err);
    tap_ok(rc == 0 && rn == 100, "resample 240 samples 24k -> 10k gives 100 (%zu)", rn);
    free(r);
    rc = jt_audio_resample(x, 0, 24000, 10000, &r, &rn, err, sizeof err);
    tap_ok(rc == 0 && rn == 0, "resample of nothing gives nothing");
    free(r);

    test_streaming();

    free(x);
    free(s16);
    free(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_done();
}
