/* stream.h: a window codec made real-time: fixed latency, work on a thread.
 *
 * The tokenizer turns a whole window of audio into tokens and back; a
 * plugin gets a few hundred samples per call and must return at once.
 * jl_stream cuts the input into chunks of chunk_frames frames and hands
 * each chunk, with left_frames of context before it and right_frames
 * after it, to a worker thread that runs the codec (the process
 * callback) on the whole window and keeps the chunk's part of the result.
 * Successive chunks overlap by xfade samples taken from the right context
 * and are cross-faded there, so chunk seams do not click.
 *
 * Timeline: chunk j covers output samples [j B, (j+1) B), B = chunk_frames
 * x frame.  Its window ends right_frames x frame after the chunk, so the
 * worker can start it once that much input has arrived, and then has
 * margin_frames x frame of audio time to finish before its first sample
 * is played.  The latency is therefore fixed:
 *     (chunk_frames + right_frames + margin_frames) x frame samples,
 * and output sample t is input sample t - latency (through the codec).
 *
 * jl_stream_run is real-time safe when wait = 0: no allocation, no lock,
 * no waiting; a chunk that is not ready in time (worker too slow) plays
 * as silence and is counted.  With wait = 1 (an offline render, the
 * host's free-wheeling mode) it waits for the worker, so no chunk is lost
 * however fast the host calls it.  One thread calls jl_stream_run. */
#ifndef JL_STREAM_H
#define JL_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* Window in -> window out, n samples each; 0 on success.  On failure the
 * chunk plays as silence.  Called on the worker thread only. */
typedef int (*jl_process_fn)(void *user, const float *in, size_t n, float *out);

typedef struct {
    size_t frame;   /* samples per codec frame at the host's rate */
    int chunk_frames, left_frames, right_frames, margin_frames;
    size_t xfade;   /* cross-fade length in samples, <= right_frames x frame */
} jl_stream_layout;

typedef struct jl_stream jl_stream;

/* Allocates every buffer and starts the worker.  NULL on a bad layout or
 * when memory or a thread cannot be had. */
jl_stream *jl_stream_new(const jl_stream_layout *layout, jl_process_fn process, void *user);
/* Stops the worker (waiting for the window in progress) and frees. */
void jl_stream_free(jl_stream *s);
/* Latency in samples (see above). */
size_t jl_stream_latency(const jl_stream *s);
/* Window length in samples: what process receives. */
size_t jl_stream_window(const jl_stream *s);
/* Back to the start: silence in, nothing queued, the dropped count
 * zeroed.  Waits for the worker to go idle: not real-time safe (LV2
 * activate). */
void jl_stream_reset(jl_stream *s);
/* The same, keeping the dropped count: what came before no longer
 * matters to what comes after (an offline render starting).  Waits like
 * jl_stream_reset. */
void jl_stream_restart(jl_stream *s);
/* n samples in, n samples out (in and out may be the same buffer).
 * wet: the gain of the codec's output, 0..1; the rest is the input
 * delayed by the same latency (a bypass that keeps the timing).  The gain
 * moves towards wet by 1/xfade per sample, so switching does not click. */
void jl_stream_run(jl_stream *s, const float *in, float *out, size_t n, float wet, int wait);
/* Chunks that played as silence because they were late or failed. */
uint64_t jl_stream_dropped(const jl_stream *s);

#endif
