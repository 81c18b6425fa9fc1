/* test-lv2-stream.c: the plugin's real-time engine (plugins/lv2/stream.c)
 * with stand-in codecs: exact latency, the windows the worker sees,
 * cross-faded seams, the bypass ramp, reset, late and failing chunks. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stream.h"
#include "tap.h"

enum { FRAME = 96, CHUNK = 4, LEFT = 3, RIGHT = 2, MARGIN = 1, XFADE = 24 };
#define LATENCY ((CHUNK + RIGHT + MARGIN) * FRAME)
#define WINDOW ((LEFT + CHUNK + RIGHT) * FRAME)

static float signal_at(long i) { return i < 0 ? 0.0f : (float)sin(0.01 * (double)i) * 0.5f + 0.001f * (float)(i % 7); }

typedef struct {
    float gain;          /* out = gain x in */
    int fail_every;      /* 0, or: window number k with k % fail_every == 1 fails */
    atomic_int gate_closed; /* the codec waits while this is set: a stuck codec */
    int calls, bad_windows, bad_length;
} codec;

/* A stand-in codec that also checks each window against the signal: the
 * k-th window must hold signal samples k*CHUNK*FRAME - LEFT*FRAME onward. */
static int fake_codec(void *user, const float *in, size_t n, float *out)
{
    codec *c = user;
    int k = c->calls++;
    if (n != WINDOW)
        c->bad_length++;
    long start = (long)k * CHUNK * FRAME - LEFT * FRAME;
    for (size_t i = 0; i < n; i++)
        if (in[i] != signal_at(start + (long)i)) {
            c->bad_windows++;
            break;
        }
    while (atomic_load(&c->gate_closed)) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    if (c->fail_every && k % c->fail_every == 1)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = c->gain * in[i];
    return 0;
}

static const jl_stream_layout layout = {FRAME, CHUNK, LEFT, RIGHT, MARGIN, XFADE};

/* Feed total samples of the signal in blocks of varying size (1..max). */
static float *feed(jl_stream *s, long total, size_t max, float wet, int wait)
{
    float *out = calloc((size_t)total, sizeof *out), *in = malloc(max * sizeof *in);
    long t = 0;
    unsigned r = 12345;
    while (t < total) {
        r = r * 1103515245u + 12345u;
        size_t n = 1 + (r >> 8) % max;
        if ((long)n > total - t)
            n = (size_t)(total - t);
        for (size_t i = 0; i < n; i++)
            in[i] = signal_at(t + (long)i);
        jl_stream_run(s, in, out + t, n, wet, wait);
        t += (long)n;
    }
    free(in);
    return out;
}

/* max |out[t] - g x signal[t - LATENCY]| over [from, to) */
static double delayed_error(const float *out, long from, long to, float g)
{
    double e = 0;
    for (long t = from; t < to; t++)
        e = fmax(e, fabs((double)out[t] - (double)g * signal_at(t - LATENCY)));
    return e;
}

int main(void)
{
    const long total = 40 * CHUNK * FRAME + 123;
    codec c = {.gain = 2.0f};
    jl_stream *s = jl_stream_new(&layout, fake_codec, &c);
    tap_ok(s != NULL, "a stream starts");
    tap_ok(jl_stream_latency(s) == LATENCY && jl_stream_window(s) == WINDOW,
       "latency %zu = (chunk + right + margin) frames, window %zu = left + chunk + right", jl_stream_latency(s),
       jl_stream_window(s));

    float *out = feed(s, total, 700, 1.0f, 1);
    double silent = delayed_error(out, 0, LATENCY, 0.0f);
    tap_ok(silent == 0.0, "the first latency's worth of output is silence");
    double err = delayed_error(out, LATENCY, total, 2.0f);
    tap_ok(err < 1e-6, "waiting: output = codec(input) delayed by exactly the latency, seams cross-faded (max error %.2g)",
       err);
    tap_ok(c.bad_windows == 0 && c.bad_length == 0 && c.calls > 30,
       "each of %d windows holds its chunk with left and right context", c.calls);
    tap_ok(jl_stream_dropped(s) == 0, "nothing dropped while waiting");
    free(out);

    /* bypass: the input delayed by the same latency, bit for bit */
    jl_stream_reset(s);
    c.calls = 0;
    out = feed(s, total, 300, 0.0f, 1);
    double dry = delayed_error(out, 0, total, 1.0f);
    tap_ok(dry == 0.0 && c.calls > 30, "bypass: exactly the input, latency samples later; reset restarts the windows");
    free(out);

    /* switching from bypass to the codec ramps over XFADE samples */
    jl_stream_reset(s);
    c.calls = 0;
    float in[1] = {0};
    out = calloc((size_t)total, sizeof *out);
    long sw = LATENCY + 5 * CHUNK * FRAME + 17;
    for (long t = 0; t < total; t++) {
        in[0] = signal_at(t);
        jl_stream_run(s, in, out + t, 1, t < sw ? 0.0f : 1.0f, 1);
    }
    double before = delayed_error(out, 0, sw, 1.0f), after = delayed_error(out, sw + XFADE, total, 2.0f);
    double jump = 0;
    for (long t = sw; t < sw + XFADE + 1; t++)
        jump = fmax(jump, fabs((double)out[t] - out[t - 1]));
    tap_ok(before == 0.0 && after < 1e-6, "wet 0 -> 1: dry before the switch, coded %d samples after it", XFADE);
    tap_ok(jump < 0.05, "no step at the switch (largest sample-to-sample change %.3f)", jump);
    free(out);

    /* a failing codec: its chunks play as silence, the rest stays right */
    jl_stream_reset(s);
    c.calls = 0;
    c.fail_every = 5;
    out = feed(s, total, 500, 1.0f, 1);
    long chunk1 = 1 * CHUNK * FRAME + LATENCY; /* chunk 1 (window 1 failed) plays here */
    double quiet = delayed_error(out, chunk1 + XFADE, chunk1 + CHUNK * FRAME, 0.0f);
    double good = delayed_error(out, chunk1 + 2 * CHUNK * FRAME, chunk1 + 3 * CHUNK * FRAME, 2.0f);
    tap_ok(quiet == 0.0 && good < 1e-6, "a failed window plays as silence; the following chunks are right");
    tap_ok(jl_stream_dropped(s) >= 7, "failed windows are counted (%llu)", (unsigned long long)jl_stream_dropped(s));
    free(out);

    /* restart halfway through a chunk: the windows start afresh from the
     * next sample, as after a reset, but the dropped count stays */
    uint64_t dropped = jl_stream_dropped(s);
    c.fail_every = 0;
    free(feed(s, 5 * CHUNK * FRAME / 2, 200, 1.0f, 1));
    jl_stream_restart(s);
    c.calls = 0;
    c.bad_windows = 0;
    out = feed(s, total, 400, 1.0f, 1);
    err = delayed_error(out, LATENCY, total, 2.0f);
    tap_ok(err < 1e-6 && c.bad_windows == 0 && delayed_error(out, 0, LATENCY, 0.0f) == 0.0,
           "restart: silence for the latency, then codec(input) with windows counted from the restart (max error %.2g)",
           err);
    tap_ok(jl_stream_dropped(s) == dropped, "restart keeps the dropped count (%llu)", (unsigned long long)dropped);
    free(out);
    jl_stream_free(s);

    /* live (no waiting) while the codec is stuck: run() still returns,
     * and the late chunks play as silence and are counted */
    codec stuck = {.gain = 2.0f};
    atomic_store(&stuck.gate_closed, 1);
    s = jl_stream_new(&layout, fake_codec, &stuck);
    out = feed(s, total, 64, 1.0f, 0);
    long nonzero = 0;
    for (long t = 0; t < total; t++)
        nonzero += out[t] != 0.0f;
    long played = (total - LATENCY + CHUNK * FRAME - 1) / (CHUNK * FRAME);
    tap_ok(nonzero == 0 && jl_stream_dropped(s) == (uint64_t)played,
           "live, codec stuck: run() returns, all %ld chunks played are silence and counted (%llu)", played,
           (unsigned long long)jl_stream_dropped(s));
    atomic_store(&stuck.gate_closed, 0);
    jl_stream_free(s);
    free(out);

    /* in-place processing (in == out), as hosts may connect them */
    codec c2 = {.gain = 2.0f};
    s = jl_stream_new(&layout, fake_codec, &c2);
    float *io = malloc((size_t)total * sizeof *io);
    for (long t = 0; t < total; t++)
        io[t] = signal_at(t);
    for (long t = 0; t < total; t += 333)
        jl_stream_run(s, io + t, io + t, (size_t)(total - t < 333 ? total - t : 333), 1.0f, 1);
    err = delayed_error(io, LATENCY, total, 2.0f);
    tap_ok(err < 1e-6, "in place: the same result (max error %.2g)", err);
    free(io);
    jl_stream_free(s);

    jl_stream_layout bad = layout;
    bad.xfade = RIGHT * FRAME + 1;
    tap_ok(jl_stream_new(&bad, fake_codec, &c2) == NULL, "a cross-fade longer than the right context is refused");
    bad = layout;
    bad.chunk_frames = 0;
    tap_ok(jl_stream_new(&bad, fake_codec, &c2) == NULL, "an empty chunk is refused");
    return tap_done();
}
