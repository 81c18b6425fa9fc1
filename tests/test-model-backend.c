/* test-model-backend.c: the shipped model, end to end, on one GPU backend
 * (TEST_BACKEND: opencl or vulkan) against the CPU backend, through the
 * public API.  The op tests check every operation on small odd shapes;
 * this checks what a user runs: the real weights on real speech (the
 * bundled clip, never heard in training), in fp32 and with the backend's
 * fp16 products, where range matters (an fp16 overflow in any GEMM would
 * reach the output as an infinity or a NaN).
 *
 *   encode: FSQ digits equal to the CPU's except a few that sit on a
 *     rounding boundary (fp32: <= 1 %; fp16: <= 3 %);
 *   decode of the CPU's tokens: finite, and NMSE against the CPU's audio
 *     <= 1e-8 (fp32) or 1e-5 (fp16).
 * Measured on PoCL and lavapipe (twenty-ninth milestone model, the
 * grown decoder, 2026-12-07): 0 % of the digits in fp32 and with fp16
 * products, NMSE 3.9e-13 to 7.1e-13 and 3.1e-7:
 * the bounds leave room for a GPU's other summation orders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audio.h"
#include "jepatok.h"
#include "testutil.h"

typedef struct {
    uint16_t *tokens;
    size_t frames;
    float *pcm;
    double seconds;
} coded;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Encode x, and decode ref_tokens (the CPU's; NULL: this context's own),
 * so that decoders are compared on the same input. */
static int run(jepatok_context *c, const jt_audio *x, const coded *ref, coded *out, jepatok_error *err)
{
    double t0 = now();
    if (jepatok_encode(c, x->samples, x->frames, x->rate, &out->tokens, &out->frames, err))
        return -1;
    const uint16_t *t = ref ? ref->tokens : out->tokens;
    size_t frames = ref ? ref->frames : out->frames;
    if (jepatok_decode(c, t, frames, x->rate, x->frames, &out->pcm, err))
        return -1;
    out->seconds = now() - t0;
    return 0;
}

static double digit_mismatch(const jepatok_model *m, const coded *a, const coded *b)
{
    if (a->frames != b->frames)
        return 1.0;
    size_t per = (size_t)jepatok_model_digits_per_frame(m), n = a->frames * per, diff = 0;
    uint16_t *da = malloc(n * sizeof *da), *db = malloc(n * sizeof *db);
    jepatok_error err;
    if (!da || !db || jepatok_unpack(m, a->tokens, a->frames, da, &err) ||
        jepatok_unpack(m, b->tokens, b->frames, db, &err))
        diff = n;
    else
        for (size_t i = 0; i < n; i++)
            diff += da[i] != db[i];
    free(da);
    free(db);
    return (double)diff / (double)n;
}

static void release(coded *c)
{
    jepatok_free(c->tokens);
    jepatok_free(c->pcm);
    memset(c, 0, sizeof *c);
}

int main(void)
{
    const char *backend = TEST_BACKEND;
    /* the backend's fp16 switch and the value that forces the path on
     * (OpenCL: emulated, so it runs on PoCL, which lacks cl_khr_fp16) */
    const char *fp16_env = strcmp(backend, "vulkan") == 0 ? "JC_VULKAN_FP16" : "JC_OPENCL_FP16";
    const char *fp16_on = strcmp(backend, "vulkan") == 0 ? "1" : "emulate";
    jt_audio x = {0};
    char msg[1024];
    if (jt_audio_load(SPEECH_CLIP, 24000, &x, msg, sizeof msg)) {
        printf("Bail out! %s\n", msg);
        return 1;
    }
    jepatok_error err;
    jepatok_model *m = jepatok_model_open(SHIPPED_MODEL, &err);
    jepatok_context *cpu = m ? jepatok_context_new(m, "cpu", &err) : NULL;
    coded ref = {0};
    if (!cpu || run(cpu, &x, NULL, &ref, &err)) {
        printf("Bail out! the shipped model on the CPU backend: %s\n", err.message);
        return 1;
    }
    setenv(fp16_env, "0", 1);
    jepatok_context *probe = jepatok_context_new(m, backend, &err);
    if (!probe && err.code == JEPATOK_ERR_DEVICE) {
        snprintf(msg, sizeof msg, "%s backend unavailable: %s", backend, err.message);
        tap_skip_all(msg);
    }
    jepatok_context_free(probe);
    tap_diag("%.2f s of speech, %zu frames; CPU backend: %.2f s to encode and decode", (double)x.frames / x.rate,
             ref.frames, ref.seconds);

    static const struct {
        const char *label, *env_value;
        double max_mismatch, max_nmse;
    } modes[] = {{"fp32", "0", 0.01, 1e-8}, {"fp16 products", NULL, 0.03, 1e-5}};
    for (int k = 0; k < 2; k++) {
        setenv(fp16_env, modes[k].env_value ? modes[k].env_value : fp16_on, 1);
        coded got = {0};
        jepatok_context *c = jepatok_context_new(m, backend, &err);
        if (!c || run(c, &x, &ref, &got, &err)) {
            tap_ok(0, "%s, %s (%s=%s): the shipped model runs: %s", backend, modes[k].label, fp16_env,
                   getenv(fp16_env), err.message);
            jepatok_context_free(c);
            continue;
        }
        double mismatch = digit_mismatch(m, &got, &ref);
        tap_ok(got.frames == ref.frames && mismatch <= modes[k].max_mismatch,
               "%s, %s (%s=%s): encode gives the CPU's FSQ digits but %.2f %% (at most %g %%)", backend,
               modes[k].label, fp16_env, getenv(fp16_env), 100 * mismatch, 100 * modes[k].max_mismatch);
        /* tu_nmse is infinite when a sample is not finite: the bound checks both */
        double e = tu_nmse(got.pcm, ref.pcm, (int64_t)x.frames);
        tap_ok(e <= modes[k].max_nmse,
               "%s, %s: decode of the CPU's tokens is finite and matches the CPU's audio: NMSE %.2e (at most %g)",
               backend, modes[k].label, e, modes[k].max_nmse);
        tap_diag("%s, %s: %.2f s to encode and decode", backend, modes[k].label, got.seconds);
        release(&got);
        jepatok_context_free(c);
    }
    release(&ref);
    jepatok_context_free(cpu);
    jepatok_model_close(m);
    jt_audio_free(&x);
    return tap_done();
}
