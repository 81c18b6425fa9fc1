/* stream.c: fixed-latency chunked processing on a worker thread (stream.h).
 *
 * Clocks, all in samples at the host's rate:
 *   t, the input clock: samples received so far (owned by jl_stream_run,
 *      published to the worker as `written`);
 *   o = t - latency, the output clock: the sample now being played.
 * Chunk j is requested when t reaches the end of its window and is done
 * when the worker has written its output.  The reader plays chunk j only
 * once done > j.  Input and output live in power-of-two rings sized so
 * that neither side can overwrite what the other still needs unless the
 * worker falls a whole window behind, which the worker detects.
 *
 * Synchronisation: `requested` and `done` are atomics with release/acquire
 * ordering (the output samples written before done is raised are visible
 * to the reader that sees it); two semaphores wake the worker (work) and a
 * waiting reader (ready).  sem_post is the only call jl_stream_run makes
 * when it does not wait. */
#include "stream.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct jl_stream {
    jl_stream_layout lay;
    jl_process_fn process;
    void *user;
    int64_t chunk, left, right, latency, window; /* samples */

    float *in_ring, *out_ring, *win_in, *win_out;
    size_t in_mask, out_mask;

    /* reader side (the thread calling jl_stream_run) */
    int64_t t;
    int64_t last_drop;  /* the last chunk counted as dropped by the reader */
    float gain;         /* current wet gain; < 0 before the first run */

    _Atomic int64_t written;
    _Atomic uint64_t requested, done, dropped;
    atomic_int quit;
    sem_t work, ready;
    pthread_t thread;
    int thread_started;
};

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* The worker's part: window j in, chunk j (plus its cross-fade tail) out. */
static void process_chunk(jl_stream *s, uint64_t j)
{
    const int64_t start = (int64_t)j * s->chunk - s->left;
    const size_t w = (size_t)s->window, x = s->lay.xfade;
    const int64_t in_size = (int64_t)s->in_mask + 1;
    int ok = 1;

    /* already played whole (a live host ran ahead): nothing to gain */
    if (atomic_load_explicit(&s->written, memory_order_acquire) - s->latency >= (int64_t)(j + 1) * s->chunk)
        ok = 0;
    if (ok) {
        for (size_t i = 0; i < w; i++) {
            int64_t idx = start + (int64_t)i;
            s->win_in[i] = idx < 0 ? 0.0f : s->in_ring[(size_t)idx & s->in_mask];
        }
        /* the reader may have overwritten the window's start meanwhile */
        if (atomic_load_explicit(&s->written, memory_order_acquire) - start > in_size)
            ok = 0;
    }
    if (ok && s->process(s->user, s->win_in, w, s->win_out) != 0) {
        ok = 0;
        atomic_fetch_add(&s->dropped, 1);
    }
    if (!ok)
        memset(s->win_out, 0, w * sizeof *s->win_out);

    const float *src = s->win_out + s->left;
    const size_t base = (size_t)j * (size_t)s->chunk;
    for (size_t i = 0; i < x; i++) {
        float *dst = &s->out_ring[(base + i) & s->out_mask];
        if (j == 0) {
            *dst = src[i];
        } else {
            /* the previous chunk left its right-context version here */
            float g = ((float)i + 0.5f) / (float)x;
            *dst = *dst * (1.0f - g) + src[i] * g;
        }
    }
    for (size_t i = x; i < (size_t)s->chunk + x; i++)
        s->out_ring[(base + i) & s->out_mask] = src[i];
}

static void *worker_main(void *arg)
{
    jl_stream *s = arg;
    for (;;) {
        sem_wait(&s->work);
        if (atomic_load(&s->quit))
            break;
        for (;;) {
            uint64_t j = atomic_load_explicit(&s->done, memory_order_relaxed);
            if (j >= atomic_load_explicit(&s->requested, memory_order_acquire))
                break;
            process_chunk(s, j);
            atomic_store_explicit(&s->done, j + 1, memory_order_release);
            sem_post(&s->ready);
        }
    }
    return NULL;
}

jl_stream *jl_stream_new(const jl_stream_layout *lay, jl_process_fn process, void *user)
{
    if (!lay || !process || lay->frame < 1 || lay->chunk_frames < 1 || lay->left_frames < 0 ||
        lay->right_frames < 0 || lay->margin_frames < 0 || lay->xfade > (size_t)lay->right_frames * lay->frame ||
        lay->xfade > (size_t)lay->chunk_frames * lay->frame)
        return NULL;
    jl_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->lay = *lay;
    s->process = process;
    s->user = user;
    s->chunk = (int64_t)lay->chunk_frames * (int64_t)lay->frame;
    s->left = (int64_t)lay->left_frames * (int64_t)lay->frame;
    s->right = (int64_t)lay->right_frames * (int64_t)lay->frame;
    s->window = s->left + s->chunk + s->right;
    s->latency = s->chunk + s->right + (int64_t)lay->margin_frames * (int64_t)lay->frame;
    /* input: the window being copied, everything the dry path still needs
     * (latency behind), and two chunks of slack for a late worker */
    size_t in_size = pow2_at_least((size_t)(s->window + s->latency + 2 * s->chunk));
    /* output: the chunk being played and those the worker may write
     * meanwhile (the margin's worth, the next one and its cross-fade tail) */
    size_t out_size = pow2_at_least((size_t)(3 * s->chunk + s->latency) + lay->xfade);
    s->in_mask = in_size - 1;
    s->out_mask = out_size - 1;
    s->in_ring = calloc(in_size, sizeof(float));
    s->out_ring = calloc(out_size, sizeof(float));
    s->win_in = calloc((size_t)s->window, sizeof(float));
    s->win_out = calloc((size_t)s->window, sizeof(float));
    s->gain = -1.0f;
    s->last_drop = -1;
    if (!s->in_ring || !s->out_ring || !s->win_in || !s->win_out || sem_init(&s->work, 0, 0) != 0) {
        jl_stream_free(s);
        return NULL;
    }
    if (sem_init(&s->ready, 0, 0) != 0) {
        sem_destroy(&s->work);
        jl_stream_free(s);
        return NULL;
    }
    if (pthread_create(&s->thread, NULL, worker_main, s) != 0) {
        sem_destroy(&s->work);
        sem_destroy(&s->ready);
        jl_stream_free(s);
        return NULL;
    }
    s->thread_started = 1;
    return s;
}

void jl_stream_free(jl_stream *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        atomic_store(&s->quit, 1);
        sem_post(&s->work);
        pthread_join(s->thread, NULL);
        sem_destroy(&s->work);
        sem_destroy(&s->ready);
    }
    free(s->in_ring);
    free(s->out_ring);
    free(s->win_in);
    free(s->win_out);
    free(s);
}

size_t jl_stream_latency(const jl_stream *s) { return (size_t)s->latency; }

size_t jl_stream_window(const jl_stream *s) { return (size_t)s->window; }

uint64_t jl_stream_dropped(const jl_stream *s) { return atomic_load(&((jl_stream *)s)->dropped); }

void jl_stream_restart(jl_stream *s)
{
    while (atomic_load(&s->done) < atomic_load(&s->requested))
        sem_wait(&s->ready);
    while (sem_trywait(&s->ready) == 0)
        ;
    atomic_store(&s->requested, 0);
    atomic_store(&s->done, 0);
    atomic_store(&s->written, 0);
    memset(s->in_ring, 0, (s->in_mask + 1) * sizeof(float));
    memset(s->out_ring, 0, (s->out_mask + 1) * sizeof(float));
    s->t = 0;
    s->last_drop = -1;
    s->gain = -1.0f;
}

void jl_stream_reset(jl_stream *s)
{
    jl_stream_restart(s);
    atomic_store(&s->dropped, 0);
}

/* Is chunk k's output there?  With wait, until it is. */
static int chunk_ready(jl_stream *s, uint64_t k, int wait)
{
    if (atomic_load_explicit(&s->done, memory_order_acquire) > k)
        return 1;
    if (!wait) {
        if (s->last_drop != (int64_t)k) {
            s->last_drop = (int64_t)k;
            atomic_fetch_add(&s->dropped, 1);
        }
        return 0;
    }
    while (atomic_load_explicit(&s->done, memory_order_acquire) <= k)
        sem_wait(&s->ready);
    return 1;
}

void jl_stream_run(jl_stream *s, const float *in, float *out, size_t n, float wet, int wait)
{
    const float step = s->lay.xfade ? 1.0f / (float)s->lay.xfade : 1.0f;
    wet = wet < 0.0f ? 0.0f : wet > 1.0f ? 1.0f : wet;
    if (s->gain < 0.0f)
        s->gain = wet;
    size_t pos = 0;
    while (pos < n) {
        /* request every chunk whose window is complete (only this thread
         * writes requested, so a relaxed read sees its own last store) */
        uint64_t requested = atomic_load_explicit(&s->requested, memory_order_relaxed);
        int64_t window_end = (int64_t)(requested + 1) * s->chunk + s->right;
        if (s->t >= window_end) {
            atomic_store_explicit(&s->requested, requested + 1, memory_order_release);
            sem_post(&s->work);
            continue;
        }
        /* a segment that crosses no window end and no chunk of the output */
        size_t m = n - pos;
        if ((int64_t)m > window_end - s->t)
            m = (size_t)(window_end - s->t);
        int64_t o = s->t - s->latency;
        int ready = 0;
        if (o < 0) {
            if ((int64_t)m > -o)
                m = (size_t)-o;
        } else {
            uint64_t k = (uint64_t)(o / s->chunk);
            if ((int64_t)m > (int64_t)(k + 1) * s->chunk - o)
                m = (size_t)((int64_t)(k + 1) * s->chunk - o);
            ready = chunk_ready(s, k, wait);
        }
        /* input first: out may alias in */
        for (size_t i = 0; i < m; i++)
            s->in_ring[((size_t)s->t + i) & s->in_mask] = in[pos + i];
        atomic_store_explicit(&s->written, s->t + (int64_t)m, memory_order_release);
        for (size_t i = 0; i < m; i++) {
            int64_t oi = o + (int64_t)i;
            float dry = oi < 0 ? 0.0f : s->in_ring[(size_t)oi & s->in_mask];
            float coded = ready ? s->out_ring[(size_t)oi & s->out_mask] : 0.0f;
            if (s->gain < wet)
                s->gain = s->gain + step < wet ? s->gain + step : wet;
            else if (s->gain > wet)
                s->gain = s->gain - step > wet ? s->gain - step : wet;
            out[pos + i] = s->gain * coded + (1.0f - s->gain) * dry;
        }
        s->t += (int64_t)m;
        pos += m;
    }
}
