/* codec.h: the tokenizer at run time: 24 kHz speech -> tokens -> speech.
 *
 * A jt_model is a loaded model file (read-only host copy of the weights);
 * a jt_codec is one user's working state on one backend: its own copy of
 * the weights, its graphs, its buffers.  Several codecs (threads) can share
 * one model; a codec is used by one thread at a time.
 *
 * Chunked processing bounds compute memory for audio of any length:
 * frames are processed in chunks of chunk_frames, each with context frames
 * on both sides that are computed and thrown away.
 *   decode: the decoder is convolutional; dec_context is its receptive
 *     field in frames (jt_decoder_reach_frames), so chunked decoding equals
 *     whole-file decoding up to float rounding.
 *   encode: the Conformer's attention and the DAAM statistics span the whole
 *     input, so no finite context is exact; enc_context frames on each side
 *     make chunk boundaries rare sources of different tokens (measured in
 *     the tests and BENCHMARKS.md).
 * Inputs up to chunk_frames + 2 * context frames are processed whole.
 *
 * The streaming forms (jt_codec_encode_stream, jt_codec_decode_stream) hold
 * one window of samples at a time (chunk_frames + 2 * context frames), so
 * memory does not grow with the length of the audio; only the tokens (38
 * bytes a frame for 19 tokens) are held whole.  The whole-buffer functions
 * are wrappers over them: the two give bitwise the same results. */
#ifndef JT_CODEC_H
#define JT_CODEC_H

#include "fsq.h"
#include "model_file.h"

typedef struct {
    jt_config cfg;
    jt_fsq_layout fsq;
    jc_backend *host; /* CPU, one thread: holds the master weights */
    jt_stage2 w;
    uint8_t id[JT_MODEL_ID_BYTES];
    jc_metadata md;
    char path[4096];
} jt_model;

int jt_model_open(jt_model *m, const char *path, char *err, size_t errlen);
/* A model with random weights (benchmarks: speed does not depend on them). */
int jt_model_random(jt_model *m, const jt_config *c, uint64_t seed, char *err, size_t errlen);
void jt_model_close(jt_model *m);

#define JT_CODEC_GRAPHS 3

typedef struct {
    jc_graph *g;
    int64_t frames;
    jt_masks mk;
    jc_tensor *in, *out;
    uint64_t last_use;
} jt_codec_graph;

typedef struct {
    const jt_model *model;
    jc_backend *be;
    jt_stage2 w;
    int chunk_frames, enc_context, dec_context;
    jt_codec_graph enc[JT_CODEC_GRAPHS], dec[JT_CODEC_GRAPHS];
    uint64_t uses;
} jt_codec;

/* backend: NULL = $JEPATOK_BACKEND or cpu; options as jc_backend_open. */
int jt_codec_open(jt_codec *c, const jt_model *m, const char *backend, const char *options, char *err, size_t errlen);
void jt_codec_close(jt_codec *c);
/* Receptive field of the decoder, one side, in frames. */
int jt_decoder_reach_frames(const jt_decoder_shape *s);

/* n samples at 24 kHz (n >= 1, finite) -> *frames x tokens-per-frame
 * tokens (malloc'd).  0, or -1 with a message. */
int jt_codec_encode(jt_codec *c, const float *pcm, int64_t n, uint16_t **tokens, int64_t *frames, char *err,
                    size_t errlen);
/* Level indices instead of tokens: [frames][128] digits (malloc'd). */
int jt_codec_encode_digits(jt_codec *c, const float *pcm, int64_t n, int **digits, int64_t *frames, char *err,
                           size_t errlen);
/* frames x tokens-per-frame tokens -> frames * 9600 samples at 24 kHz
 * (malloc'd).  Tokens out of range are an error. */
int jt_codec_decode(jt_codec *c, const uint16_t *tokens, int64_t frames, float **pcm, char *err, size_t errlen);

/* Streaming encode: pull hands out 24 kHz samples (up to max into buf; the
 * count, 0 at the end, or < 0 with a message in err).  Same windows and
 * results as jt_codec_encode; *samples receives the number of samples
 * pulled.  0, or -1 with a message. */
typedef long long (*jt_codec_pull_fn)(void *user, float *buf, size_t max, char *err, size_t errlen);
int jt_codec_encode_stream(jt_codec *c, jt_codec_pull_fn pull, void *user, uint16_t **tokens, int64_t *frames,
                           int64_t *samples, char *err, size_t errlen);
int jt_codec_encode_digits_stream(jt_codec *c, jt_codec_pull_fn pull, void *user, int **digits, int64_t *frames,
                                  int64_t *samples, char *err, size_t errlen);
/* Streaming decode: the frames * 9600 samples of jt_codec_decode go to push
 * in order, one chunk at a time (push returns 0, or nonzero to stop with a
 * message in err).  All tokens are checked before the first push. */
typedef int (*jt_codec_push_fn)(void *user, const float *pcm, size_t n, char *err, size_t errlen);
int jt_codec_decode_stream(jt_codec *c, const uint16_t *tokens, int64_t frames, jt_codec_push_fn push, void *user,
                           char *err, size_t errlen);

#endif
