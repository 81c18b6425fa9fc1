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

int jt_codec_encode_digits(jt_codec *c, const float *pcm, int64_t n, int **digits, int64_t *frames, char *err,
                           size_t errlen)
{
    const jt_config *cfg = &c->model->cfg;
    int64_t hop = jt_config_hop(cfg), D = cfg->code_dim;
    if (n < 1) {
        snprintf(err, errlen, "empty audio: nothing to encode");
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(pcm[i])) {
            snprintf(err, errlen, "sample %lld is not a finite number", (long long)i);
            return -1;
        }
    int64_t F = jt_frames_for(cfg, n), C = c->chunk_frames, X = c->enc_context;
    if (F <= C + 2 * X)
        C = F;
    int *out = malloc((size_t)(F * D) * sizeof *out);
    float *wave = NULL, *idx = NULL;
    int r = -1;
    if (!out)
        goto oom;
    jc_error e = {0};
    for (int64_t f0 = 0; f0 < F; f0 += C) {
        int64_t w0, w1;
        window(F, f0, C, X, &w0, &w1);
        int64_t W = w1 - w0, s0 = w0 * hop, len = n - s0 < W * hop ? n - s0 : W * hop;
        jt_codec_graph *s = encoder_graph(c, W, err, errlen);
        if (!s)
            goto out;
        free(wave);
        free(idx);
        wave = calloc((size_t)(W * hop), sizeof *wave);
        idx = malloc((size_t)(W * D) * sizeof *idx);
        if (!wave || !idx)
            goto oom;
        memcpy(wave, pcm + s0, (size_t)len * sizeof *wave);
        if (jc_tensor_set(s->in, wave, &e) || jt_masks_set(&s->mk, cfg, &len, &e) || jc_graph_compute(s->g, &e) ||
            jc_tensor_get(s->out, idx, &e)) {
            snprintf(err, errlen, "encoding: %s", e.msg);
            goto out;
        }
        int64_t f1 = f0 + C < F ? f0 + C : F;
        for (int64_t f = f0; f < f1; f++)
            for (int64_t d = 0; d < D; d++)
                out[f * D + d] = (int)lrintf(idx[d * W + (f - w0)]);
    }
    *digits = out;
    *frames = F;
    out = NULL;
    r = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    free(out);
    free(wave);
    free(idx);
    return r;
}

int jt_codec_encode(jt_codec *c, const float *pcm, int64_t n, uint16_t **tokens, int64_t *frames, char *err,
                    size_t errlen)
{
    int *digits = NULL;
    if (jt_codec_encode_digits(c, pcm, n, &digits, frames, err, errlen))
        return -1;
    const jt_fsq_layout *f = &c->model->fsq;
    uint16_t *t = malloc((size_t)(*frames * f->n_groups) * sizeof *t);
    for (int64_t i = 0; t && i < *frames; i++)
        jt_fsq_pack(f, digits + i * f->dims, t + i * f->n_groups);
    free(digits);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *tokens = t;
    return 0;
}

int jt_codec_decode(jt_codec *c, const uint16_t *tokens, int64_t frames, float **pcm, char *err, size_t errlen)
{
    const jt_config *cfg = &c->model->cfg;
    const jt_fsq_layout *fl = &c->model->fsq;
    int64_t hop = jt_config_hop(cfg), D = cfg->code_dim, F = frames;
    if (F < 1) {
        snprintf(err, errlen, "no frames to decode");
        return -1;
    }
    int *digits = malloc((size_t)(F * D) * sizeof *digits);
    float *out = malloc((size_t)(F * hop) * sizeof *out), *idx = NULL, *wave = NULL;
    int r = -1;
    if (!digits || !out) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int64_t f = 0; f < F; f++)
        if (jt_fsq_unpack(fl, tokens + f * fl->n_groups, digits + f * D)) {
            snprintf(err, errlen, "frame %lld: a token is out of its range", (long long)f);
            goto out;
        }
    int64_t C = c->chunk_frames, X = c->dec_context;
    if (F <= C + 2 * X)
        C = F;
    jc_error e = {0};
    for (int64_t f0 = 0; f0 < F; f0 += C) {
        int64_t w0, w1;
        window(F, f0, C, X, &w0, &w1);
        int64_t W = w1 - w0, f1 = f0 + C < F ? f0 + C : F;
        jt_codec_graph *s = decoder_graph(c, W, err, errlen);
        if (!s)
            goto out;
        free(idx);
        free(wave);
        idx = malloc((size_t)(W * D) * sizeof *idx);
        wave = malloc((size_t)(W * hop) * sizeof *wave);
        if (!idx || !wave) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        for (int64_t d = 0; d < D; d++)
            for (int64_t f = 0; f < W; f++)
                idx[d * W + f] = (float)digits[(w0 + f) * D + d];
        if (jc_tensor_set(s->in, idx, &e) || jc_graph_compute(s->g, &e) || jc_tensor_get(s->out, wave, &e)) {
            snprintf(err, errlen, "decoding: %s", e.msg);
            goto out;
        }
        memcpy(out + f0 * hop, wave + (f0 - w0) * hop, (size_t)((f1 - f0) * hop) * sizeof *out);
    }
    *pcm = out;
    out = NULL;
    r = 0;
out:
    free(digits);
    free(out);
    free(idx);
    free(wave);
    return r;
}
