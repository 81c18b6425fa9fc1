/* test-api.c: the public C API (jepatok.h) through the installed library:
 * model properties, encode/decode lengths at several rates, pack/unpack,
 * errors with codes and messages, and one model shared by threads that
 * each have their own context.  The model is a random `tiny` one written
 * to a temporary file (tests/tiny-model.c). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "jepatok.h"
#include "tap.h"
#include "tiny-model.h"

static char dir[256], model_path[300];

/* n samples at rate of a voiced sound with a pitch glide (not silence) */
static float *signal_at(int rate, size_t n)
{
    float *x = malloc(n * sizeof *x);
    double phase = 0;
    for (size_t i = 0; x && i < n; i++) {
        double t = (double)i / rate, f0 = 110.0 + 40.0 * t;
        phase += 6.283185307179586 * f0 / rate;
        x[i] = (float)(0.25 * (sin(phase) + 0.5 * sin(2 * phase) + 0.25 * sin(3 * phase)) *
                       (0.6 + 0.4 * sin(6.283185307179586 * 3.0 * t)));
    }
    return x;
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static int tokens_in_range(const jepatok_model *m, const uint16_t *t, size_t frames)
{
    uint16_t radix[64];
    int per = jepatok_model_radices(m, radix, 64);
    for (size_t i = 0; i < frames * (size_t)per; i++)
        if (t[i] >= radix[i % (size_t)per])
            return 0;
    return 1;
}

static void test_model(const jepatok_model *m)
{
    tap_ok(strlen(jepatok_version()) > 0, "version %s", jepatok_version());
    tap_ok(jepatok_model_sample_rate(m) == 24000 && jepatok_model_hop(m) == 9600 &&
               jepatok_model_frame_rate(m) == 2.5,
           "24000 Hz, hop 9600, 2.5 frames/s");
    uint16_t radix[32], levels[256];
    int per = jepatok_model_radices(m, radix, 32), ok = per == 19 && jepatok_model_tokens_per_frame(m) == 19;
    for (int k = 0; ok && k < 19; k++)
        ok = radix[k] == (k < 18 ? 16384 : 16);
    tap_ok(ok, "19 tokens per frame: 18 of radix 16384 and one of 16");
    tap_ok(jepatok_model_radices(m, radix, 3) == 19 && jepatok_model_radices(m, NULL, 0) == 19,
           "radices: a short buffer gets a prefix, the count is still 19");
    int dims = jepatok_model_levels(m, levels, 256);
    ok = dims == 128 && jepatok_model_digits_per_frame(m) == 128;
    for (int k = 0; ok && k < 128; k++)
        ok = levels[k] == 4;
    tap_ok(ok, "128 digits per frame of 4 levels");
    tap_ok(jepatok_model_bits_per_frame(m) == 256.0, "256 bits per frame (640 bit/s)");
    uint8_t id[JEPATOK_MODEL_ID_BYTES];
    jepatok_model_id(m, id);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    tap_ok(strlen(jepatok_model_id_hex(m)) == 32 && strcmp(hex, jepatok_model_id_hex(m)) == 0,
           "model id %s, bytes and hex agree", jepatok_model_id_hex(m));
    tap_ok(strcmp(jepatok_model_path(m), model_path) == 0, "model path kept");
    tap_ok(jepatok_model_frames_for(m, 24000, 16000) == 4 && jepatok_model_frames_for(m, 9600, 24000) == 1 &&
               jepatok_model_frames_for(m, 9601, 24000) == 2 && jepatok_model_samples_for(m, 4, 16000) == 25600 &&
               jepatok_model_samples_for(m, 1, 44100) == 17640 && jepatok_model_frames_for(m, 100, 1) == 0,
           "frames_for / samples_for: every started frame counts, lengths scale with the rate");
}

/* Encode and decode at rate: the frame count and the exact lengths. */
static void test_rate(jepatok_context *c, const jepatok_model *m, int rate, double seconds)
{
    size_t n = (size_t)(seconds * rate);
    float *x = signal_at(rate, n), *y = NULL, *full = NULL;
    uint16_t *tok = NULL;
    size_t frames = 0;
    jepatok_error err;
    int r = jepatok_encode(c, x, n, rate, &tok, &frames, &err);
    size_t want = (size_t)ceil((double)n * 24000 / rate / 9600);
    tap_ok(r == 0 && err.code == 0 && err.message[0] == 0 && tok && frames == want &&
               frames == jepatok_model_frames_for(m, n, rate) && tokens_in_range(m, tok, frames),
           "%d Hz: %zu samples encode to %zu frames (want %zu), tokens in range %s", rate, n, frames, want,
           r ? err.message : "");
    r = jepatok_decode(c, tok, frames, rate, n, &y, &err);
    int fine = r == 0 && y && all_finite(y, n);
#ifdef __GLIBC__
    /* the buffer holds exactly n floats (not the whole frames' worth) */
    size_t us = y ? malloc_usable_size(y) : 0;
    fine = fine && us >= n * sizeof *y && us < n * sizeof *y + 4096 + 64;
#endif
    tap_ok(fine, "%d Hz: decode gives exactly the %zu samples asked for %s", rate, n, r ? err.message : "");
    r = jepatok_decode(c, tok, frames, rate, 0, &full, &err);
    size_t nf = jepatok_model_samples_for(m, frames, rate);
    tap_ok(r == 0 && nf >= n && all_finite(full, nf) && memcmp(full, y, n * sizeof *y) == 0,
           "%d Hz: n_samples 0 decodes all %zu samples the frames cover; the asked length is its prefix", rate, nf);
    double e = 0;
    for (size_t i = 0; y && i < n; i++)
        e += (double)y[i] * y[i];
    tap_diag("%d Hz: RMS in %.3f, out %.3g", rate, 0.25, sqrt(e / (double)n));
    jepatok_free(y);
    jepatok_free(full);
    jepatok_free(tok);
    free(x);
}

static void test_pack(const jepatok_model *m)
{
    enum { F = 5, D = 128, T = 19 };
    uint16_t digits[F * D], back[F * D], tok[F * T];
    unsigned s = 12345;
    for (int i = 0; i < F * D; i++) {
        s = s * 1103515245u + 12345u;
        digits[i] = i < D ? 0 : i < 2 * D ? 3 : (uint16_t)((s >> 16) % 4);
    }
    jepatok_error err;
    int r1 = jepatok_pack(m, digits, F, tok, &err), r2 = jepatok_unpack(m, tok, F, back, &err);
    tap_ok(r1 == 0 && r2 == 0 && memcmp(digits, back, sizeof digits) == 0 && tokens_in_range(m, tok, F),
           "pack/unpack: %d frames (all 0, all 3, random) round trip exactly", F);
    int d0[7] = {2, 1, 3, 0, 2, 1, 3};
    for (int k = 0; k < 7; k++)
        digits[k] = (uint16_t)d0[k];
    jepatok_pack(m, digits, 1, tok, &err);
    tap_ok(tok[0] == 10023, "the paper's example [2,1,3,0,2,1,3] packs to 10023 (got %u)", tok[0]);
    digits[D + 5] = 4;
    int r = jepatok_pack(m, digits, 2, tok, &err);
    tap_ok(r == JEPATOK_ERR_INVALID && err.code == r && strstr(err.message, "frame 1, digit 5"),
           "a digit out of range is rejected: %s", err.message);
    jepatok_pack(m, digits, 1, tok, &err);
    tok[18] = 16;
    r = jepatok_unpack(m, tok, 1, back, &err);
    tap_ok(r == JEPATOK_ERR_INVALID && strstr(err.message, "token 18"), "a token out of its radix is rejected: %s",
           err.message);
    tok[18] = 0;
    tok[3] = 16384;
    r = jepatok_unpack(m, tok, 1, back, &err);
    tap_ok(r == JEPATOK_ERR_INVALID && strstr(err.message, "token 3"), "16384 in a radix-16384 token is rejected");
    tap_ok(jepatok_pack(m, NULL, 1, tok, &err) == JEPATOK_ERR_INVALID && jepatok_pack(m, NULL, 0, NULL, &err) == 0,
           "pack: NULL digits rejected; zero frames is a no-op");
}

static void test_bad_input(jepatok_context *c)
{
    float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = (float)sin(i * 0.1);
    uint16_t *tok = (uint16_t *)1;
    size_t frames = 99;
    jepatok_error err;
    int r = jepatok_encode(c, NULL, 1000, 16000, &tok, &frames, &err);
    tap_ok(r == JEPATOK_ERR_INVALID && err.code == r && err.message[0] && !tok && frames == 0,
           "encode NULL samples: %s (%s); outputs cleared", jepatok_status_name(r), err.message);
    r = jepatok_encode(c, x, 0, 16000, &tok, &frames, &err);
    tap_ok(r == JEPATOK_ERR_INVALID && err.message[0], "encode 0 samples: %s", err.message);
    x[500] = NAN;
    r = jepatok_encode(c, x, 1000, 16000, &tok, &frames, &err);
    tap_ok(r == JEPATOK_ERR_NUMERIC && strstr(err.message, "sample 500") && strstr(err.message, "NaN"),
           "encode with a NaN: %s (%s)", jepatok_status_name(r), err.message);
    x[500] = INFINITY;
    r = jepatok_encode(c, x, 1000, 16000, &tok, &frames, &err);
    tap_ok(r == JEPATOK_ERR_NUMERIC && strstr(err.message, "infinite"), "encode with an Inf: %s", err.message);
    x[500] = 0;
    r = jepatok_encode(c, x, 1000, 0, &tok, &frames, &err);
    int r2 = jepatok_encode(c, x, 1000, JEPATOK_MAX_RATE + 1, &tok, &frames, &err);
    tap_ok(r == JEPATOK_ERR_INVALID && r2 == JEPATOK_ERR_INVALID && strstr(err.message, "rate"),
           "encode at rate 0 or above the maximum: %s", err.message);
    r = jepatok_encode(NULL, x, 1000, 16000, &tok, &frames, &err);
    r2 = jepatok_encode(c, x, 1000, 16000, NULL, &frames, NULL); /* err may be NULL */
    tap_ok(r == JEPATOK_ERR_INVALID && r2 == JEPATOK_ERR_INVALID, "encode: NULL context or output rejected");
    float *y = (float *)1;
    uint16_t good[19] = {0};
    r = jepatok_decode(c, NULL, 1, 16000, 0, &y, &err);
    tap_ok(r == JEPATOK_ERR_INVALID && !y && err.message[0], "decode NULL tokens: %s", err.message);
    r = jepatok_decode(c, good, 0, 16000, 0, &y, &err);
    tap_ok(r == JEPATOK_ERR_INVALID && err.message[0], "decode 0 frames: %s", err.message);
    good[18] = 16;
    r = jepatok_decode(c, good, 1, 16000, 0, &y, &err);
    tap_ok(r == JEPATOK_ERR_MODEL && strstr(err.message, "token 18"), "decode a token out of range: %s (%s)",
           jepatok_status_name(r), err.message);
    good[18] = 0;
    r = jepatok_decode(c, good, 1, 24000, 3 * 9600, &y, &err);
    tap_ok(r == JEPATOK_ERR_INVALID && strstr(err.message, "samples"), "decode more samples than the frames cover: %s",
           err.message);
    r = jepatok_decode(c, good, 1, 24000, 9601, &y, &err);
    tap_ok(r == 0 && y && y[9600] == 0.0f, "a few samples past the frames are zero");
    jepatok_free(y);
}

static void test_open_errors(void)
{
    jepatok_error err;
    char path[400];
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    jepatok_model *m = jepatok_model_open(path, &err);
    tap_ok(!m && err.code == JEPATOK_ERR_IO && strstr(err.message, "missing.safetensors") &&
               strstr(err.message, "No such file"),
           "a missing model file: %s (%s)", jepatok_status_name(err.code), err.message);
    m = jepatok_model_open(dir, &err);
    tap_ok(!m && err.code == JEPATOK_ERR_IO, "a directory as model: %s", err.message);

    /* a copy of the model with one byte of the last weight changed */
    FILE *f = fopen(model_path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    unsigned char *b = malloc((size_t)size);
    fseek(f, 0, SEEK_SET);
    size_t got = fread(b, 1, (size_t)size, f);
    fclose(f);
    b[size - 2] ^= 0x40;
    snprintf(path, sizeof path, "%s/corrupt.safetensors", dir);
    f = fopen(path, "wb");
    fwrite(b, 1, got, f);
    fclose(f);
    m = jepatok_model_open(path, &err);
    tap_ok(!m && err.code == JEPATOK_ERR_FORMAT && strstr(err.message, "corrupt"),
           "a model with a changed weight is refused: %s (%s)", jepatok_status_name(err.code), err.message);
    snprintf(path, sizeof path, "%s/truncated.safetensors", dir);
    f = fopen(path, "wb");
    fwrite(b, 1, got / 2, f);
    fclose(f);
    m = jepatok_model_open(path, &err);
    tap_ok(!m && err.code == JEPATOK_ERR_FORMAT && err.message[0], "a truncated model is refused: %s", err.message);
    snprintf(path, sizeof path, "%s/text.safetensors", dir);
    f = fopen(path, "wb");
    fputs("this is not a model\n", f);
    fclose(f);
    m = jepatok_model_open(path, &err);
    tap_ok(!m && err.code == JEPATOK_ERR_FORMAT && err.message[0], "a text file is refused: %s", err.message);
    free(b);

    /* the default model comes from $JEPATOK_MODEL */
    setenv("JEPATOK_MODEL", model_path, 1);
    m = jepatok_model_open(NULL, &err);
    tap_ok(m && err.code == 0 && strcmp(jepatok_model_path(m), model_path) == 0,
           "path NULL opens $JEPATOK_MODEL %s", m ? "" : err.message);
    jepatok_model_close(m);
    snprintf(path, sizeof path, "%s/nowhere.safetensors", dir);
    setenv("JEPATOK_MODEL", path, 1);
    m = jepatok_model_open(NULL, &err);
    tap_ok(!m && err.code == JEPATOK_ERR_IO && strstr(err.message, "JEPATOK_MODEL"),
           "a missing default model says how to name one: %s", err.message);
    unsetenv("JEPATOK_MODEL");
}

static void test_backends(const jepatok_model *m)
{
    jepatok_error err;
    jepatok_context *c = jepatok_context_new(m, "nosuch", &err);
    tap_ok(!c && err.code == JEPATOK_ERR_INVALID && strstr(err.message, "nosuch"), "an unknown backend: %s",
           err.message);
    c = jepatok_context_new(NULL, "cpu", &err);
    tap_ok(!c && err.code == JEPATOK_ERR_INVALID, "a context needs a model");
    c = jepatok_context_new(m, "cpu:threads=1", &err);
    tap_ok(c && strcmp(jepatok_context_backend(c), "cpu") == 0, "backend with options \"cpu:threads=1\" %s",
           c ? "" : err.message);
    jepatok_context_free(c);
    /* DEVICE where Vulkan is built in (with or without a driver), else an unknown backend */
    c = jepatok_context_new(m, "vulkan:device=99", &err);
    tap_ok(!c && (err.code == JEPATOK_ERR_DEVICE || err.code == JEPATOK_ERR_INVALID) && err.message[0],
           "a device that does not exist: %s (%s)", jepatok_status_name(err.code), err.message);
    jepatok_context_free(NULL);
    jepatok_model_close(NULL);
    jepatok_free(NULL);
    tap_ok(strcmp(jepatok_status_name(JEPATOK_ERR_IO), "I/O error") == 0 &&
               strcmp(jepatok_status_name(12345), "unknown status") == 0,
           "status names; NULL is accepted by every release function");
}

/* ----------------------------------------------------------------- threads */

enum { THREAD_RATE = 16000, THREAD_N = 16000 * 5 / 2, REPEATS = 2 };

typedef struct {
    const jepatok_model *m;
    const float *x;
    uint16_t *tok[REPEATS];
    size_t frames[REPEATS];
    float *y;
    pthread_barrier_t *start; /* NULL: run alone */
    int status;
    char msg[512];
} job;

/* Each thread makes its own context on the shared model. */
static void *worker(void *arg)
{
    job *j = arg;
    jepatok_error err = {0};
    jepatok_context *c = jepatok_context_new(j->m, "cpu", &err);
    j->status = c ? 0 : err.code;
    if (j->start) /* both threads encode at the same time */
        pthread_barrier_wait(j->start);
    for (int k = 0; c && k < REPEATS && !j->status; k++)
        j->status = jepatok_encode(c, j->x, THREAD_N, THREAD_RATE, &j->tok[k], &j->frames[k], &err);
    if (!j->status)
        j->status = jepatok_decode(c, j->tok[0], j->frames[0], THREAD_RATE, THREAD_N, &j->y, &err);
    snprintf(j->msg, sizeof j->msg, "%s", err.message);
    jepatok_context_free(c);
    return NULL;
}

static void test_threads(const jepatok_model *m)
{
    float *x = signal_at(THREAD_RATE, THREAD_N);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    job ref = {.m = m, .x = x}, jobs[2] = {{.m = m, .x = x, .start = &start}, {.m = m, .x = x, .start = &start}};
    worker(&ref); /* single-threaded reference, the same backend settings */
    pthread_t th[2];
    int started = 0;
    for (int i = 0; i < 2; i++)
        started += pthread_create(&th[i], NULL, worker, &jobs[i]) == 0;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    int same = started == 2 && ref.status == 0;
    for (int i = 0; same && i < 2; i++) {
        same = jobs[i].status == 0;
        for (int k = 0; same && k < REPEATS; k++)
            same = jobs[i].frames[k] == ref.frames[0] &&
                   memcmp(jobs[i].tok[k], ref.tok[0], ref.frames[0] * 19 * sizeof(uint16_t)) == 0;
        same = same && memcmp(jobs[i].y, ref.y, THREAD_N * sizeof(float)) == 0;
    }
    tap_ok(same, "two threads, each with its own context on one model, encode (x%d) and decode concurrently: tokens "
                 "and samples identical to a single-threaded run %s%s%s",
           REPEATS, ref.msg, jobs[0].msg, jobs[1].msg);
    job *all[3] = {&ref, &jobs[0], &jobs[1]};
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < REPEATS; k++)
            jepatok_free(all[i]->tok[k]);
        jepatok_free(all[i]->y);
    }
    free(x);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/jt-api.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        printf("Bail out! cannot create a temporary directory\n");
        return 1;
    }
    snprintf(model_path, sizeof model_path, "%s/tiny.safetensors", dir);
    char msg[1024];
    if (tiny_model_write(model_path, 7, msg, sizeof msg)) {
        printf("Bail out! cannot write the tiny model: %s\n", msg);
        return 1;
    }
    jepatok_error err;
    jepatok_model *m = jepatok_model_open(model_path, &err);
    tap_ok(m != NULL && err.code == JEPATOK_OK, "open a tiny random model %s", m ? "" : err.message);
    jepatok_context *c = m ? jepatok_context_new(m, "cpu", &err) : NULL;
    tap_ok(c != NULL, "a CPU context %s", c ? "" : err.message);
    if (c) {
        test_model(m);
        test_rate(c, m, 16000, 1.3);
        test_rate(c, m, 24000, 1.3);
        test_rate(c, m, 44100, 1.3);
        test_rate(c, m, 24000, 0.2); /* shorter than one frame */
        test_pack(m);
        test_bad_input(c);
        test_backends(m);
        test_threads(m);
    }
    test_open_errors();
    jepatok_context_free(c);
    jepatok_model_close(m);
    const char *names[] = {"tiny", "missing", "corrupt", "truncated", "text"};
    for (int i = 0; i < 5; i++) {
        snprintf(msg, sizeof msg, "%s/%s.safetensors", dir, names[i]);
        unlink(msg);
    }
    rmdir(dir);
    return tap_done();
}
