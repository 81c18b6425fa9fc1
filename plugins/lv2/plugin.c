/* plugin.c: the jepatok LV2 plugin: mono speech through the codec at 640
 * bit/s (encode and decode), to hear what the tokens keep.
 *
 * The codec runs on windows of a few seconds on a worker thread
 * (stream.h); run() only copies samples, so it is real-time safe, and the
 * fixed latency is reported on the latency port (lv2:latency), which
 * hosts use to keep the track aligned.  When the host renders offline
 * (lv2:freeWheeling set) run() waits for the worker instead of playing a
 * late chunk as silence, so an export never has holes.  lv2:enabled
 * switches between the codec and the input delayed by the same latency.
 *
 * Reproducible renders: the codec's output depends on where its chunk
 * seams fall in the audio, and left to itself the plugin would count them
 * from its activation, an arbitrary moment before an export in a DAW (two
 * exports of one Ardour session differed).  So when free-wheeling starts,
 * an offline render is starting: the plugin restarts the codec there, and
 * a host that renders the same way each time (Ardour does:
 * scripts/check-lv2-ardour.sh) gets the same bits each time.
 *
 * The model is the default one (libjepatok's rule: $JEPATOK_MODEL, else
 * the installed default model); the backend is $JEPATOK_BACKEND, else
 * the CPU with two threads, leaving the host's audio threads room. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lv2/core/lv2.h>
#include <lv2/log/logger.h>
#include <lv2/urid/urid.h>

#include "library.h"
#include "stream.h"

#define JL_URI "urn:jepatok:lv2:codec"

/* Chunks of 4 frames (1.6 s) with 6 frames of context before and 2 after,
 * and 2 frames of time for the worker: 3.2 s of latency, the codec run on
 * 3x the audio.  More right context would change fewer tokens at chunk
 * seams but adds latency; the test measures what these cost against
 * encoding a clip whole.  Two frames of margin, not one: a chunk took
 * 240 ms of the worker on 2 cores (scripts/bench-lv2.sh), too close to
 * 400 ms for a host that is busy too. */
enum { CHUNK_FRAMES = 4, LEFT_FRAMES = 6, RIGHT_FRAMES = 2, MARGIN_FRAMES = 2 };

enum { PORT_IN, PORT_OUT, PORT_LATENCY, PORT_ENABLED, PORT_FREEWHEEL, PORT_DROPPED, PORT_COUNT };

typedef struct {
    jl_library lib;
    jepatok_model *model;
    jepatok_context *ctx;
    jl_stream *stream;
    LV2_Log_Logger log; /* the host's log, else stderr */
    int rate;
    const float *in;
    float *out, *latency, *dropped;
    const float *enabled, *freewheel;
    int was_freewheeling;
} jl_plugin;

/* The worker's callback: the window through encode and decode. */
static int codec_window(void *user, const float *in, size_t n, float *out)
{
    jl_plugin *p = user;
    uint16_t *tokens = NULL;
    float *pcm = NULL;
    size_t frames = 0;
    jepatok_error err = {0};
    /* a NaN from the host would make encode refuse the whole window */
    float *clean = out;
    for (size_t i = 0; i < n; i++)
        clean[i] = isfinite(in[i]) ? in[i] : 0.0f;
    if (p->lib.encode(p->ctx, clean, n, p->rate, &tokens, &frames, &err) != 0 ||
        p->lib.decode(p->ctx, tokens, frames, p->rate, n, &pcm, &err) != 0) {
        p->lib.free(tokens);
        return -1;
    }
    memcpy(out, pcm, n * sizeof *out);
    p->lib.free(tokens);
    p->lib.free(pcm);
    return 0;
}

static void cleanup(LV2_Handle h)
{
    jl_plugin *p = h;
    if (!p)
        return;
    jl_stream_free(p->stream); /* first: the worker uses the context */
    if (p->ctx)
        p->lib.context_free(p->ctx);
    if (p->model)
        p->lib.model_close(p->model);
    jl_library_close(&p->lib);
    free(p);
}

static LV2_Handle instantiate(const LV2_Descriptor *d, double rate, const char *bundle,
                              const LV2_Feature *const *features)
{
    (void)d;
    (void)bundle;
    char msg[600];
    jepatok_error err = {0};
    jl_plugin *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    LV2_URID_Map *map = NULL;
    LV2_Log_Log *log = NULL;
    for (int i = 0; features && features[i]; i++) {
        if (!strcmp(features[i]->URI, LV2_URID__map))
            map = features[i]->data;
        else if (!strcmp(features[i]->URI, LV2_LOG__log))
            log = features[i]->data;
    }
    lv2_log_logger_init(&p->log, map, log);
    p->rate = (int)lround(rate);
    if (rate < JEPATOK_MIN_RATE || rate > JEPATOK_MAX_RATE || fabs(rate - p->rate) > 1e-6) {
        lv2_log_error(&p->log, "jepatok.lv2: sample rate %g Hz is not supported\n", rate);
        free(p);
        return NULL;
    }
    if (jl_library_open(&p->lib, msg, sizeof msg) != 0) {
        lv2_log_error(&p->log, "jepatok.lv2: %s\n", msg);
        free(p);
        return NULL;
    }
    const char *backend = getenv("JEPATOK_BACKEND");
    if (!(p->model = p->lib.model_open(NULL, &err)) ||
        !(p->ctx = p->lib.context_new(p->model, backend && *backend ? backend : "cpu:threads=2", &err))) {
        lv2_log_error(&p->log, "jepatok.lv2: %s\n", err.message);
        cleanup(p);
        return NULL;
    }
    /* a frame at the host's rate; every common rate gives whole samples */
    jl_stream_layout lay = {
        .frame = (size_t)lround((double)p->lib.model_hop(p->model) * rate / p->lib.model_sample_rate(p->model)),
        .chunk_frames = CHUNK_FRAMES,
        .left_frames = LEFT_FRAMES,
        .right_frames = RIGHT_FRAMES,
        .margin_frames = MARGIN_FRAMES,
        .xfade = (size_t)lround(rate / 100.0), /* 10 ms */
    };
    if (!(p->stream = jl_stream_new(&lay, codec_window, p))) {
        lv2_log_error(&p->log, "jepatok.lv2: out of memory or threads\n");
        cleanup(p);
        return NULL;
    }
    /* one window of silence now, outside the audio thread's time: the
     * backend builds its graphs on first use, which could make the first
     * chunk late */
    size_t w = jl_stream_window(p->stream);
    float *silence = calloc(2 * w, sizeof *silence);
    int warm = silence ? codec_window(p, silence, w, silence + w) : -1;
    free(silence);
    if (warm != 0) {
        lv2_log_error(&p->log, "jepatok.lv2: the codec failed on silence (backend %s)\n", p->lib.context_backend(p->ctx));
        cleanup(p);
        return NULL;
    }
    return p;
}

static void connect_port(LV2_Handle h, uint32_t port, void *data)
{
    jl_plugin *p = h;
    switch (port) {
    case PORT_IN: p->in = data; break;
    case PORT_OUT: p->out = data; break;
    case PORT_LATENCY: p->latency = data; break;
    case PORT_ENABLED: p->enabled = data; break;
    case PORT_FREEWHEEL: p->freewheel = data; break;
    case PORT_DROPPED: p->dropped = data; break;
    }
}

static void activate(LV2_Handle h)
{
    jl_plugin *p = h;
    jl_stream_reset(p->stream);
    p->was_freewheeling = 0;
}

static void run(LV2_Handle h, uint32_t n)
{
    jl_plugin *p = h;
    float wet = p->enabled ? (*p->enabled > 0.5f ? 1.0f : 0.0f) : 1.0f;
    int wait = p->freewheel && *p->freewheel > 0.5f;
    if (wait && !p->was_freewheeling) /* a render starts: waiting is allowed now */
        jl_stream_restart(p->stream);
    p->was_freewheeling = wait;
    if (p->in && p->out)
        jl_stream_run(p->stream, p->in, p->out, n, wet, wait);
    if (p->latency)
        *p->latency = (float)jl_stream_latency(p->stream);
    if (p->dropped)
        *p->dropped = (float)jl_stream_dropped(p->stream);
}

static const LV2_Descriptor descriptor = {
    .URI = JL_URI,
    .instantiate = instantiate,
    .connect_port = connect_port,
    .activate = activate,
    .run = run,
    .deactivate = NULL,
    .cleanup = cleanup,
    .extension_data = NULL,
};

LV2_SYMBOL_EXPORT const LV2_Descriptor *lv2_descriptor(uint32_t index) { return index == 0 ? &descriptor : NULL; }
