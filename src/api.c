/* api.c: the public C API (jepatok.h) over the codec (codec.h).
 *
 * The internal functions report a failure as -1 with a message; the API
 * adds a status code.  Where the cause decides the code (a missing file
 * against a corrupt one, a NaN sample, a token out of range, an unknown
 * backend) the API checks before calling in, so codes do not depend on the
 * wording of messages.  What cannot be checked in advance gets the code of
 * the stage that failed (FORMAT while loading a model, DEVICE while
 * computing), except allocation failures, which every internal message
 * reports as "out of memory". */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio.h"
#include "codec.h"
#include "jepatok.h"

struct jepatok_model {
    jt_model m; /* read-only after open: contexts only read it */
    char id_hex[2 * JT_MODEL_ID_BYTES + 1];
};

struct jepatok_context {
    const jepatok_model *model;
    jt_codec c;
};

/* ------------------------------------------------------------------ errors */

#ifdef __GNUC__
__attribute__((format(printf, 3, 4)))
#endif
static int fail(jepatok_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int ok(jepatok_error *err)
{
    if (err) {
        err->code = JEPATOK_OK;
        err->message[0] = 0;
    }
    return JEPATOK_OK;
}

/* An internal call failed with message msg in a stage whose failures are
 * `code`. */
static int internal(jepatok_error *err, int code, const char *msg)
{
    return fail(err, strstr(msg, "out of memory") ? JEPATOK_ERR_NOMEM : code, "%s", msg);
}

const char *jepatok_status_name(int code)
{
    switch (code) {
    case JEPATOK_OK:
        return "ok";
    case JEPATOK_ERR_INVALID:
        return "invalid argument";
    case JEPATOK_ERR_IO:
        return "I/O error";
    case JEPATOK_ERR_FORMAT:
        return "bad or corrupt file";
    case JEPATOK_ERR_MODEL:
        return "model mismatch";
    case JEPATOK_ERR_DEVICE:
        return "device error";
    case JEPATOK_ERR_NOMEM:
        return "out of memory";
    case JEPATOK_ERR_NUMERIC:
        return "not a finite number";
    }
    return "unknown status";
}

const char *jepatok_version(void) { return JT_VERSION; }

/* ------------------------------------------------------------------- model */

/* strerror is not required to be thread-safe; the library has no lock to
 * protect it with, so use the reentrant form (GNU or XSI flavour). */
static const char *error_text(int errnum, char *buf, size_t n)
{
#if defined(_GNU_SOURCE) && defined(__GLIBC__)
    return strerror_r(errnum, buf, n);
#else
    return strerror_r(errnum, buf, n) == 0 ? buf : "unknown error";
#endif
}

jepatok_model *jepatok_model_open(const char *path, jepatok_error *err)
{
    char def[4096], msg[1024], eb[256];
    int named = path != NULL;
    if (!named)
        path = jt_model_default_path(def, sizeof def);
    /* Opened here first so that a missing or unreadable file is an I/O
     * error and only a file that is there but wrong a format error. */
    FILE *f = fopen(path, "rb");
    struct stat sb;
    int e = !f ? errno : fstat(fileno(f), &sb) ? errno : S_ISDIR(sb.st_mode) ? EISDIR : 0;
    if (f)
        fclose(f);
    if (e) {
        if (named)
            fail(err, JEPATOK_ERR_IO, "model %s: %s", path, error_text(e, eb, sizeof eb));
        else
            fail(err, JEPATOK_ERR_IO, "default model %s: %s (name a model file or set JEPATOK_MODEL)", path,
                 error_text(e, eb, sizeof eb));
        return NULL;
    }
    jepatok_model *m = calloc(1, sizeof *m);
    if (!m) {
        fail(err, JEPATOK_ERR_NOMEM, "model %s: out of memory", path);
        return NULL;
    }
    if (jt_model_open(&m->m, path, msg, sizeof msg)) {
        internal(err, JEPATOK_ERR_FORMAT, msg);
        free(m);
        return NULL;
    }
    jt_model_id_hex(m->m.id, m->id_hex);
    ok(err);
    return m;
}

void jepatok_model_close(jepatok_model *m)
{
    if (!m)
        return;
    jt_model_close(&m->m);
    free(m);
}

int jepatok_model_sample_rate(const jepatok_model *m) { return m->m.cfg.sample_rate; }

int jepatok_model_hop(const jepatok_model *m) { return jt_config_hop(&m->m.cfg); }

double jepatok_model_frame_rate(const jepatok_model *m)
{
    return (double)m->m.cfg.sample_rate / jt_config_hop(&m->m.cfg);
}

int jepatok_model_tokens_per_frame(const jepatok_model *m) { return m->m.fsq.n_groups; }

double jepatok_model_bits_per_frame(const jepatok_model *m) { return jt_fsq_bits_per_frame(&m->m.fsq); }

int jepatok_model_radices(const jepatok_model *m, uint16_t *out, int max)
{
    for (int k = 0; out && k < max && k < m->m.fsq.n_groups; k++)
        out[k] = (uint16_t)m->m.fsq.radix[k];
    return m->m.fsq.n_groups;
}

int jepatok_model_digits_per_frame(const jepatok_model *m) { return m->m.fsq.dims; }

int jepatok_model_levels(const jepatok_model *m, uint16_t *out, int max)
{
    for (int k = 0; out && k < max && k < m->m.fsq.dims; k++)
        out[k] = (uint16_t)m->m.fsq.levels[k];
    return m->m.fsq.dims;
}

void jepatok_model_id(const jepatok_model *m, uint8_t id[JEPATOK_MODEL_ID_BYTES])
{
    memcpy(id, m->m.id, JEPATOK_MODEL_ID_BYTES);
}

const char *jepatok_model_id_hex(const jepatok_model *m) { return m->id_hex; }

const char *jepatok_model_path(const jepatok_model *m) { return m->m.path; }

static int rate_ok(int rate) { return rate >= JEPATOK_MIN_RATE && rate <= JEPATOK_MAX_RATE; }

/* Samples at rate `to` of n samples at rate `from`, counted as
 * jt_audio_resample counts them. */
static size_t resampled_length(size_t n, int from, int to) { return (size_t)floor((double)n * to / from + 0.5); }

size_t jepatok_model_frames_for(const jepatok_model *m, size_t n, int rate)
{
    if (!m || !rate_ok(rate))
        return 0;
    size_t hop = (size_t)jt_config_hop(&m->m.cfg);
    return (resampled_length(n, rate, m->m.cfg.sample_rate) + hop - 1) / hop;
}

size_t jepatok_model_samples_for(const jepatok_model *m, size_t frames, int rate)
{
    if (!m || !rate_ok(rate))
        return 0;
    return resampled_length(frames * (size_t)jt_config_hop(&m->m.cfg), m->m.cfg.sample_rate, rate);
}

/* ----------------------------------------------------------------- context */

jepatok_context *jepatok_context_new(const jepatok_model *m, const char *backend, jepatok_error *err)
{
    char name[64], msg[1024];
    if (!m) {
        fail(err, JEPATOK_ERR_INVALID, "jepatok_context_new: no model");
        return NULL;
    }
    if (!backend)
        backend = getenv("JEPATOK_BACKEND");
    if (!backend || !*backend)
        backend = "cpu";
    const char *colon = strchr(backend, ':'), *options = colon && colon[1] ? colon + 1 : NULL;
    size_t len = colon ? (size_t)(colon - backend) : strlen(backend);
    /* an unknown name is the caller's mistake, not a device failure */
    int known = len < sizeof name;
    if (known) {
        memcpy(name, backend, len);
        name[len] = 0;
        known = strcmp(name, "auto") == 0;
        for (const char *const *b = jc_backend_names(); *b && !known; b++)
            known = strcmp(*b, name) == 0;
    }
    if (!known) {
        char list[256] = "";
        for (const char *const *b = jc_backend_names(); *b; b++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s, ", *b);
        fail(err, JEPATOK_ERR_INVALID, "unknown backend \"%.*s\" (built in: %sauto)", (int)(len < 64 ? len : 64),
             backend, list);
        return NULL;
    }
    jepatok_context *c = calloc(1, sizeof *c);
    if (!c) {
        fail(err, JEPATOK_ERR_NOMEM, "jepatok_context_new: out of memory");
        return NULL;
    }
    /* jt_codec_open copies the weights out of the model; reading the
     * model's CPU tensors from several threads at once is safe. */
    if (jt_codec_open(&c->c, &m->m, name, options, msg, sizeof msg)) {
        internal(err, JEPATOK_ERR_DEVICE, msg);
        free(c);
        return NULL;
    }
    c->model = m;
    ok(err);
    return c;
}

void jepatok_context_free(jepatok_context *c)
{
    if (!c)
        return;
    jt_codec_close(&c->c);
    free(c);
}

const char *jepatok_context_backend(const jepatok_context *c) { return jc_backend_name(c->c.be); }

/* ------------------------------------------------------------ encode/decode */

int jepatok_encode(jepatok_context *c, const float *pcm, size_t n, int rate, uint16_t **tokens, size_t *frames,
                   jepatok_error *err)
{
    if (tokens)
        *tokens = NULL;
    if (frames)
        *frames = 0;
    if (!c || !tokens || !frames)
        return fail(err, JEPATOK_ERR_INVALID, "jepatok_encode: NULL context or output pointer");
    if (!pcm || n == 0)
        return fail(err, JEPATOK_ERR_INVALID, "jepatok_encode: no audio (%s)", pcm ? "0 samples" : "NULL samples");
    if (!rate_ok(rate))
        return fail(err, JEPATOK_ERR_INVALID, "jepatok_encode: sample rate %d Hz outside %d..%d", rate,
                    JEPATOK_MIN_RATE, JEPATOK_MAX_RATE);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(pcm[i]))
            return fail(err, JEPATOK_ERR_NUMERIC, "jepatok_encode: sample %zu is %s", i,
                        isnan(pcm[i]) ? "NaN" : "infinite");
    const jt_model *m = &c->model->m;
    int sr = m->cfg.sample_rate;
    char msg[1024];
    float *res = NULL;
    size_t nres = n;
    if (rate != sr) {
        int r = jt_audio_resample(pcm, n, rate, sr, &res, &nres, msg, sizeof msg);
        if (r)
            return fail(err, r == JT_AUDIO_ENOMEM ? JEPATOK_ERR_NOMEM : JEPATOK_ERR_INVALID, "jepatok_encode: %s",
                        msg);
        if (nres == 0) {
            free(res);
            return fail(err, JEPATOK_ERR_INVALID, "jepatok_encode: %zu samples at %d Hz make no sample at %d Hz", n,
                        rate, sr);
        }
    }
    uint16_t *t = NULL;
    int64_t F = 0;
    int r = jt_codec_encode(&c->c, res ? res : pcm, (int64_t)nres, &t, &F, msg, sizeof msg);
    free(res);
    if (r)
        return internal(err, JEPATOK_ERR_DEVICE, msg);
    *tokens = t;
    *frames = (size_t)F;
    return ok(err);
}

int jepatok_decode(jepatok_context *c, const uint16_t *tokens, size_t frames, int rate, size_t n_samples,
                   float **pcm, jepatok_error *err)
{
    if (pcm)
        *pcm = NULL;
    if (!c || !pcm)
        return fail(err, JEPATOK_ERR_INVALID, "jepatok_decode: NULL context or output pointer");
    if (!tokens || frames == 0)
        return fail(err, JEPATOK_ERR_INVALID, "jepatok_decode: no tokens (%s)", tokens ? "0 frames" : "NULL tokens");
    if (!rate_ok(rate))
        return fail(err, JEPATOK_ERR_INVALID, "jepatok_decode: sample rate %d Hz outside %d..%d", rate,
                    JEPATOK_MIN_RATE, JEPATOK_MAX_RATE);
    const jt_model *m = &c->model->m;
    const jt_fsq_layout *f = &m->fsq;
    size_t hop = (size_t)jt_config_hop(&m->cfg), ratio = JEPATOK_MAX_RATE / (size_t)m->cfg.sample_rate + 1;
    /* keeps every sample count below (frames + 1) * hop * ratio in range */
    if (frames >= SIZE_MAX / sizeof(float) / hop / ratio - 1)
        return fail(err, JEPATOK_ERR_INVALID, "jepatok_decode: %zu frames are too many", frames);
    for (size_t i = 0; i < frames; i++)
        for (int k = 0; k < f->n_groups; k++) {
            unsigned t = tokens[i * (size_t)f->n_groups + (size_t)k];
            if (t >= (unsigned)f->radix[k])
                return fail(err, JEPATOK_ERR_MODEL,
                            "jepatok_decode: frame %zu, token %d is %u, outside this model's range 0..%d (tokens "
                            "of another model?)",
                            i, k, t, (int)f->radix[k] - 1);
        }
    size_t covered = jepatok_model_samples_for(c->model, frames, rate);
    size_t limit = jepatok_model_samples_for(c->model, frames + 1, rate);
    if (n_samples == 0)
        n_samples = covered;
    if (n_samples > limit)
        return fail(err, JEPATOK_ERR_INVALID,
                    "jepatok_decode: %zu samples asked for, but %zu frames cover only %zu samples at %d Hz",
                    n_samples, frames, covered, rate);
    char msg[1024];
    float *y = NULL;
    if (jt_codec_decode(&c->c, tokens, (int64_t)frames, &y, msg, sizeof msg))
        return internal(err, JEPATOK_ERR_DEVICE, msg);
    size_t have = frames * hop;
    if (rate != m->cfg.sample_rate) {
        float *res = NULL;
        int r = jt_audio_resample(y, have, m->cfg.sample_rate, rate, &res, &have, msg, sizeof msg);
        free(y);
        if (r)
            return fail(err, r == JT_AUDIO_ENOMEM ? JEPATOK_ERR_NOMEM : JEPATOK_ERR_INVALID, "jepatok_decode: %s",
                        msg);
        y = res;
    }
    /* exactly n_samples: crop (the usual case), or zero-fill a little */
    float *out = realloc(y, n_samples * sizeof *out);
    if (!out) {
        free(y);
        return fail(err, JEPATOK_ERR_NOMEM, "jepatok_decode: out of memory");
    }
    for (size_t i = have; i < n_samples; i++)
        out[i] = 0.0f;
    *pcm = out;
    return ok(err);
}

/* --------------------------------------------------------------- packing */

int jepatok_pack(const jepatok_model *m, const uint16_t *digits, size_t frames, uint16_t *tokens,
                 jepatok_error *err)
{
    if (!m || (frames && (!digits || !tokens)))
        return fail(err, JEPATOK_ERR_INVALID, "jepatok_pack: NULL model, digits or tokens");
    const jt_fsq_layout *f = &m->m.fsq;
    int d[JT_MAX_DIMS];
    for (size_t i = 0; i < frames; i++) {
        const uint16_t *di = digits + i * (size_t)f->dims;
        for (int k = 0; k < f->dims; k++) {
            if (di[k] >= f->levels[k])
                return fail(err, JEPATOK_ERR_INVALID, "jepatok_pack: frame %zu, digit %d is %u, outside 0..%d", i, k,
                            di[k], f->levels[k] - 1);
            d[k] = di[k];
        }
        jt_fsq_pack(f, d, tokens + i * (size_t)f->n_groups);
    }
    return ok(err);
}

int jepatok_unpack(const jepatok_model *m, const uint16_t *tokens, size_t frames, uint16_t *digits,
                   jepatok_error *err)
{
    if (!m || (frames && (!digits || !tokens)))
        return fail(err, JEPATOK_ERR_INVALID, "jepatok_unpack: NULL model, tokens or digits");
    const jt_fsq_layout *f = &m->m.fsq;
    int d[JT_MAX_DIMS];
    for (size_t i = 0; i < frames; i++) {
        const uint16_t *ti = tokens + i * (size_t)f->n_groups;
        for (int k = 0; k < f->n_groups; k++)
            if (ti[k] >= f->radix[k])
                return fail(err, JEPATOK_ERR_INVALID, "jepatok_unpack: frame %zu, token %d is %u, outside 0..%d", i,
                            k, ti[k], (int)f->radix[k] - 1);
        jt_fsq_unpack(f, ti, d);
        for (int k = 0; k < f->dims; k++)
            digits[i * (size_t)f->dims + (size_t)k] = (uint16_t)d[k];
    }
    return ok(err);
}

void jepatok_free(void *p) { free(p); }
