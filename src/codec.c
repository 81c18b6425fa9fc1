/* codec.c: chunked encoding and decoding with cached graphs (see codec.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

int jt_model_open(jt_model *m, const char *path, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    jc_error e = {0};
    m->host = jc_backend_open("cpu", "threads=1", &e);
    if (!m->host) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    if (jt_model_load(path, m->host, &m->w, m->id, &m->md, err, errlen)) {
        jc_backend_free(m->host);
        m->host = NULL;
        return -1;
    }
    m->cfg = m->w.cfg;
    jt_fsq_layout_init(&m->fsq, &m->cfg);
    return 0;
}

int jt_model_random(jt_model *m, const jt_config *c, uint64_t seed, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "(random %s)", c->name);
    jc_error e = {0};
    m->host = jc_backend_open("cpu", "threads=1", &e);
    if (!m->host) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    if (jt_stage2_model_create(&m->w, c, m->host, seed, 0, 0, err, errlen) ||
        jt_model_id(&m->w, m->id, err, errlen)) {
        jt_model_close(m);
        return -1;
    }
    m->cfg = *c;
    jt_fsq_layout_init(&m->fsq, &m->cfg);
    return 0;
}

void jt_model_close(jt_model *m)
{
    jt_stage2_model_free(&m->w);
    jc_metadata_free(&m->md);
    jc_backend_free(m->host);
    m->host = NULL;
}

int jt_decoder_reach_frames(const jt_decoder_shape *s)
{
    int mrf = 0; /* the widest residual stack, one side, at its own rate */
    for (int k = 0; k < 3; k++) {
        int half = (s->mrf_kernels[k] - 1) / 2, r = 0;
        for (int d = 0; d < 3; d++)
            r += half * s->mrf_dilations[d] + half;
        mrf = r > mrf ? r : mrf;
    }
    int64_t r = 3; /* the output conv, kernel 7 */
    for (int b = 4; b >= 0; b--) {
        r += mrf;
        /* transposed conv, kernel 2s: each output sees two input steps */
        r = (r + s->strides[b] - 1) / s->strides[b] + 1;
    }
    return (int)r;
}

int jt_codec_open(jt_codec *c, const jt_model *m, const char *backend, const char *options, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->model = m;
    if (!backend)
        backend = getenv("JEPATOK_BACKEND");
    jc_error e = {0};
    c->be = jc_backend_open(backend ? backend : "cpu", options, &e);
    if (!c->be) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    if (jt_stage2_model_create(&c->w, &m->cfg, c->be, 0, 1, 0, err, errlen)) {
        jc_backend_free(c->be);
        return -1;
    }
    if (jc_store_copy(c->w.enc, m->w.enc, &e) || jc_store_copy(c->w.gen, m->w.gen, &e)) {
        snprintf(err, errlen, "copying the weights: %s", e.msg);
        jt_codec_close(c);
        return -1;
    }
    c->chunk_frames = 60; /* 24 s: a few hundred MiB of activations for `small` */
    c->enc_context = 8;
    c->dec_context = jt_decoder_reach_frames(&c->w.shape);
    return 0;
}

static void free_graphs(jt_codec_graph *gs)
{
    for (int i = 0; i < JT_CODEC_GRAPHS; i++) {
        jc_graph_free(gs[i].g);
        memset(&gs[i], 0, sizeof gs[i]);
    }
}

void jt_codec_close(jt_codec *c)
{
    free_graphs(c->enc);
    free_graphs(c->dec);
    jt_stage2_model_free(&c->w);
    jc_backend_free(c->be);
    c->be = NULL;
}

/* The cached graph for this many frames, or the least recently used slot
 * emptied for a new one. */
static jt_codec_graph *slot_for(jt_codec *c, jt_codec_graph *gs, int64_t frames)
{
    jt_codec_graph *pick = &gs[0];
    for (int i = 0; i < JT_CODEC_GRAPHS; i++) {
        if (gs[i].g && gs[i].frames == frames) {
            gs[i].last_use = ++c->uses;
            return &gs[i];
        }
        if (!gs[i].g || gs[i].last_use < pick->last_use)
            pick = &gs[i];
    }
    jc_graph_free(pick->g);
    memset(pick, 0, sizeof *pick);
    pick->frames = frames;
    pick->last_use = ++c->uses;
    return pick;
}

static int build(jc_graph *g, jc_tensor *out, int failed, const char *nnerr, char *err, size_t errlen)
{
    jc_error e = {0};
    if (!failed) {
        jc_graph_output(g, out);
        if (jc_graph_build(g, &e) == JC_OK)
            return 0;
    }
    snprintf(err, errlen, "building the graph: %s", failed ? nnerr : e.msg);
    return -1;
}

static jt_codec_graph *encoder_graph(jt_codec *c, int64_t frames, char *err, size_t errlen)
{
    jt_codec_graph *s = slot_for(c, c->enc, frames);
    if (s->g)
        return s;
    const jt_config *cfg = &c->model->cfg;
    int64_t T = frames * jt_config_hop(cfg);
    s->g = jc_graph_new(c->be);
    jt_masks_inputs(s->g, cfg, 1, T, &s->mk);
    s->in = jc_input(s->g, "wave", 3, (int64_t[]){1, 1, T});
    jt_nn m = {.g = s->g, .params = c->w.enc, .cfg = cfg};
    jc_tensor *index = NULL;
    jt_quantize(s->g, cfg, jt_encoder(&m, s->in, &s->mk), &index);
    s->out = index;
    if (build(s->g, s->out, m.failed, m.err, err, errlen)) {
        jc_graph_free(s->g);
        s->g = NULL;
        return NULL;
    }
    return s;
}

static jt_codec_graph *decoder_graph(jt_codec *c, int64_t frames, char *err, size_t errlen)
{
    jt_codec_graph *s = slot_for(c, c->dec, frames);
    if (s->g)
        return s;
    const jt_config *cfg = &c->model->cfg;
    s->g = jc_graph_new(c->be);
    s->in = jc_input(s->g, "index", 3, (int64_t[]){1, cfg->code_dim, frames});
    jt_nn m = {.g = s->g, .params = c->w.gen, .cfg = cfg};
    s->out = jt_decoder(&m, &c->w.shape, jt_dequantize(s->g, cfg, s->in));
    if (build(s->g, s->out, m.failed, m.err, err, errlen)) {
        jc_graph_free(s->g);
        s->g = NULL;
        return NULL;
    }
    return s;
}

/* Window [w0, w1) of frames around the chunk [f0, f0 + C) of F frames. */
static void window(int64_t F, int64_t f0, int64_t C, int64_t ctx, int64_t *w0, int64_t *w1)
{
    int whole = F <= C + 2 * ctx;
    *w0 = whole ? 0 : (f0 - ctx > 0 ? f0 - ctx : 0);
    *w1 = whole ? F : (f0 + C + ctx < F ? f0 + C + ctx : F);
}

/* The sample window of a streaming encode: buf[0] is sample `base`. */
typedef struct {
    jt_codec_pull_fn pull;
    void *user;
    float *buf;
    int64_t base, have, n; /* n: total samples, -1 until the end is seen */
} sample_window;

/* Pull until have >= target or the end. */
static int fill(sample_window *s, int64_t target, char *err, size_t errlen)
{
    while (s->n < 0 && s->have < target) {
        long long got = s->pull(s->user, s->buf + s->have, (size_t)(target - s->have), err, errlen);
        if (got < 0)
            return -1;
        if (got == 0) {
            s->n = s->base + s->have;
            break;
        }
        for (long long i = 0; i < got; i++)
            if (!isfinite(s->buf[s->have + i])) {
                snprintf(err, errlen, "sample %lld is not a finite number", (long long)(s->base + s->have + i));
                return -1;
            }
        s->have += got;
    }
    return 0;
}

/* Streaming encode; the frames go out as digits ([frames][D] int) or,
 * with tokens set, packed ([frames][groups] uint16_t). */
static int encode_core(jt_codec *c, jt_codec_pull_fn pull, void *user, int tokens, void **result, int64_t *frames,
                       int64_t *samples, char *err, size_t errlen)
{
    const jt_config *cfg = &c->model->cfg;
    const jt_fsq_layout *fl = &c->model->fsq;
    int64_t hop = jt_config_hop(cfg), D = cfg->code_dim, G = fl->n_groups;
    int64_t C = c->chunk_frames, X = c->enc_context, cap = (C + 2 * X) * hop;
    size_t per = tokens ? (size_t)G * sizeof(uint16_t) : (size_t)D * sizeof(int);
    sample_window sw = {.pull = pull, .user = user, .n = -1};
    sw.buf = malloc((size_t)(cap + 1) * sizeof *sw.buf);
    float *idx = malloc((size_t)((C + 2 * X) * D) * sizeof *idx);
    int *dig = malloc((size_t)D * sizeof *dig);
    unsigned char *out = NULL;
    int64_t ocap = 0, F = -1, done = 0;
    int r = -1;
    jc_error e = {0};
    if (!sw.buf || !idx || !dig)
        goto oom;
    /* one sample more than the largest window tells whether it is whole */
    if (fill(&sw, cap + 1, err, errlen))
        goto out;
    if (sw.n == 0) {
        snprintf(err, errlen, "empty audio: nothing to encode");
        goto out;
    }
    int whole = 0;
    if (sw.n >= 0) {
        F = jt_frames_for(cfg, sw.n);
        if (F <= C + 2 * X) {
            C = F;
            whole = 1;
        }
    }
    for (int64_t f0 = 0;; f0 += C) {
        if (sw.n >= 0 && f0 >= F)
            break;
        int64_t w0 = whole ? 0 : (f0 - X > 0 ? f0 - X : 0);
        int64_t drop = w0 * hop - sw.base;
        if (drop > 0) {
            memmove(sw.buf, sw.buf + drop, (size_t)(sw.have - drop) * sizeof *sw.buf);
            sw.have -= drop;
            sw.base += drop;
        }
        if (fill(&sw, (f0 + C + X) * hop - sw.base, err, errlen))
            goto out;
        if (sw.n >= 0) {
            F = jt_frames_for(cfg, sw.n);
            if (f0 >= F)
                break;
        }
        int64_t w1 = whole ? F : (sw.n < 0 || f0 + C + X < F ? f0 + C + X : F);
        int64_t W = w1 - w0, len = sw.have < W * hop ? sw.have : W * hop;
        int64_t f1 = sw.n < 0 || f0 + C < F ? f0 + C : F;
        for (int64_t i = len; i < W * hop; i++)
            sw.buf[i] = 0.0f;
        jt_codec_graph *s = encoder_graph(c, W, err, errlen);
        if (!s)
            goto out;
        if (jc_tensor_set(s->in, sw.buf, &e) || jt_masks_set(&s->mk, cfg, &len, &e) || jc_graph_compute(s->g, &e) ||
            jc_tensor_get(s->out, idx, &e)) {
            snprintf(err, errlen, "encoding: %s", e.msg);
            goto out;
        }
        if (f1 > ocap) {
            int64_t nc = ocap * 2 > f1 ? ocap * 2 : f1 + C;
            unsigned char *t = realloc(out, (size_t)nc * per);
            if (!t)
                goto oom;
            out = t;
            ocap = nc;
        }
        for (int64_t f = f0; f < f1; f++) {
            int *d = tokens ? dig : (int *)(void *)(out + (size_t)f * per);
            for (int64_t k = 0; k < D; k++)
                d[k] = (int)lrintf(idx[k * W + (f - w0)]);
            if (tokens)
                jt_fsq_pack(fl, dig, (uint16_t *)(void *)(out + (size_t)f * per));
        }
        done = f1;
    }
    *result = out;
    *frames = done;
    if (samples)
        *samples = sw.n;
    out = NULL;
    r = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    free(out);
    free(sw.buf);
    free(idx);
    free(dig);
    return r;
}

int jt_codec_encode_stream(jt_codec *c, jt_codec_pull_fn pull, void *user, uint16_t **tokens, int64_t *frames,
                           int64_t *samples, char *err, size_t errlen)
{
    void *t = NULL;
    if (encode_core(c, pull, user, 1, &t, frames, samples, err, errlen))
        return -1;
    *tokens = t;
    return 0;
}

int jt_codec_encode_digits_stream(jt_codec *c, jt_codec_pull_fn pull, void *user, int **digits, int64_t *frames,
                                  int64_t *samples, char *err, size_t errlen)
{
    void *d = NULL;
    if (encode_core(c, pull, user, 0, &d, frames, samples, err, errlen))
        return -1;
    *digits = d;
    return 0;
}

/* A whole buffer as a pull source. */
typedef struct {
    const float *pcm;
    int64_t n, pos;
} mem_source;

static long long pull_mem(void *user, float *buf, size_t max, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    mem_source *m = user;
    int64_t k = m->n - m->pos < (int64_t)max ? m->n - m->pos : (int64_t)max;
    memcpy(buf, m->pcm + m->pos, (size_t)k * sizeof *buf);
    m->pos += k;
    return k;
}

/* The whole-buffer checks come before any compute, as they always did. */
static int check_pcm(const float *pcm, int64_t n, char *err, size_t errlen)
{
    if (n < 1) {
        snprintf(err, errlen, "empty audio: nothing to encode");
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(pcm[i])) {
            snprintf(err, errlen, "sample %lld is not a finite number", (long long)i);
            return -1;
        }
    return 0;
}

int jt_codec_encode_digits(jt_codec *c, const float *pcm, int64_t n, int **digits, int64_t *frames, char *err,
                           size_t errlen)
{
    if (check_pcm(pcm, n, err, errlen))
        return -1;
    mem_source m = {pcm, n, 0};
    return jt_codec_encode_digits_stream(c, pull_mem, &m, digits, frames, NULL, err, errlen);
}

int jt_codec_encode(jt_codec *c, const float *pcm, int64_t n, uint16_t **tokens, int64_t *frames, char *err,
                    size_t errlen)
{
    if (check_pcm(pcm, n, err, errlen))
        return -1;
    mem_source m = {pcm, n, 0};
    return jt_codec_encode_stream(c, pull_mem, &m, tokens, frames, NULL, err, errlen);
}

int jt_codec_decode_stream(jt_codec *c, const uint16_t *tokens, int64_t frames, jt_codec_push_fn push, void *user,
                           char *err, size_t errlen)
{
    const jt_config *cfg = &c->model->cfg;
    const jt_fsq_layout *fl = &c->model->fsq;
    int64_t hop = jt_config_hop(cfg), D = cfg->code_dim, F = frames, G = fl->n_groups;
    if (F < 1) {
        snprintf(err, errlen, "no frames to decode");
        return -1;
    }
    int64_t C = c->chunk_frames, X = c->dec_context;
    if (F <= C + 2 * X)
        C = F;
    int64_t Wmax = F < C + 2 * X ? F : C + 2 * X;
    int *dig = malloc((size_t)D * sizeof *dig);
    float *idx = malloc((size_t)(Wmax * D) * sizeof *idx), *wave = malloc((size_t)(Wmax * hop) * sizeof *wave);
    int r = -1;
    if (!dig || !idx || !wave) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int64_t f = 0; f < F; f++)
        if (jt_fsq_unpack(fl, tokens + f * G, dig)) {
            snprintf(err, errlen, "frame %lld: a token is out of its range", (long long)f);
            goto out;
        }
    jc_error e = {0};
    for (int64_t f0 = 0; f0 < F; f0 += C) {
        int64_t w0, w1;
        window(F, f0, C, X, &w0, &w1);
        int64_t W = w1 - w0, f1 = f0 + C < F ? f0 + C : F;
        jt_codec_graph *s = decoder_graph(c, W, err, errlen);
        if (!s)
            goto out;
        for (int64_t f = 0; f < W; f++) {
            jt_fsq_unpack(fl, tokens + (w0 + f) * G, dig);
            for (int64_t d = 0; d < D; d++)
                idx[d * W + f] = (float)dig[d];
        }
        if (jc_tensor_set(s->in, idx, &e) || jc_graph_compute(s->g, &e) || jc_tensor_get(s->out, wave, &e)) {
            snprintf(err, errlen, "decoding: %s", e.msg);
            goto out;
        }
        if (push(user, wave + (f0 - w0) * hop, (size_t)((f1 - f0) * hop), err, errlen))
            goto out;
    }
    r = 0;
out:
    free(dig);
    free(idx);
    free(wave);
    return r;
}

typedef struct {
    float *y;
    size_t n;
} mem_sink;

static int push_mem(void *user, const float *pcm, size_t n, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    mem_sink *m = user;
    memcpy(m->y + m->n, pcm, n * sizeof *pcm);
    m->n += n;
    return 0;
}

int jt_codec_decode(jt_codec *c, const uint16_t *tokens, int64_t frames, float **pcm, char *err, size_t errlen)
{
    if (frames < 1) {
        snprintf(err, errlen, "no frames to decode");
        return -1;
    }
    mem_sink m = {malloc((size_t)(frames * jt_config_hop(&c->model->cfg)) * sizeof(float)), 0};
    if (!m.y) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (jt_codec_decode_stream(c, tokens, frames, push_mem, &m, err, errlen)) {
        free(m.y);
        return -1;
    }
    *pcm = m.y;
    return 0;
}
