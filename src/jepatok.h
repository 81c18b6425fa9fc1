/* jepatok.h: the jepatok C API: speech to tokens and back.
 *
 * jepatok turns speech into 2.5 frames per second of 19 tokens each (47.5
 * tokens/s, 640 bit/s with the shipped model) and decodes tokens back to
 * speech.  This header is the whole public interface of libjepatok;
 * compile and link with
 *     cc prog.c $(pkg-config --cflags --libs jepatok)
 *
 * Objects:
 *   jepatok_model    a model file loaded into memory.  Read-only after
 *                    jepatok_model_open: one model may be shared by any
 *                    number of contexts in any number of threads.
 *   jepatok_context  one user's working state on one compute backend (its
 *                    own copy of the weights, cached graphs, buffers).  A
 *                    context is used by one thread at a time; give each
 *                    thread its own.  Free every context of a model before
 *                    closing the model.
 *
 * Audio is mono float PCM, nominally in [-1, 1], at any sample rate from
 * JEPATOK_MIN_RATE to JEPATOK_MAX_RATE: the library resamples to and from
 * the model's rate (24 kHz) itself.
 *
 * Tokens: frames x tokens_per_frame uint16_t values, frame after frame.
 * Token k of a frame lies in [0, radix[k]) (jepatok_model_radices).  A
 * token packs several quantiser digits in mixed radix (jepatok_pack,
 * jepatok_unpack); most users never need the digits.
 *
 * Errors: every function that can fail returns a jepatok_status (0 =
 * JEPATOK_OK, negative = error) or NULL, and fills the jepatok_error the
 * caller passes (which may be NULL) with the code and a message naming the
 * cause.  On success the error is cleared (code 0, empty message).
 * Nothing is printed, nothing exits.
 *
 * There is no global state: everything lives in models and contexts.
 * Memory returned by the library (tokens, PCM) is released with
 * jepatok_free. */
#ifndef JEPATOK_H
#define JEPATOK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ errors */

typedef enum {
    JEPATOK_OK = 0,
    JEPATOK_ERR_INVALID = -1, /* bad argument: NULL, empty input, rate out of range, digit out of range */
    JEPATOK_ERR_IO = -2,      /* a file cannot be opened or read */
    JEPATOK_ERR_FORMAT = -3,  /* a file is not a jepatok model, or is truncated or corrupt */
    JEPATOK_ERR_MODEL = -4,   /* tokens that this model cannot have made (a token out of its range) */
    JEPATOK_ERR_DEVICE = -5,  /* the backend cannot be opened (no driver, no such device) or failed computing */
    JEPATOK_ERR_NOMEM = -6,   /* out of memory */
    JEPATOK_ERR_NUMERIC = -7  /* NaN or infinite sample in the input */
} jepatok_status;

typedef struct {
    int code;          /* a jepatok_status */
    char message[512]; /* what went wrong, naming the file, sample or token; "" on success */
} jepatok_error;

/* A short name for a status code ("ok", "invalid argument", "I/O error"...);
 * never NULL, also for unknown codes. */
const char *jepatok_status_name(int code);

/* The library's version, e.g. "0.1.0". */
const char *jepatok_version(void);

/* Sample rates accepted by jepatok_encode and jepatok_decode, in Hz. */
#define JEPATOK_MIN_RATE 1000
#define JEPATOK_MAX_RATE 768000

/* Bytes of a model id. */
#define JEPATOK_MODEL_ID_BYTES 16

/* ------------------------------------------------------------------- model */

typedef struct jepatok_model jepatok_model;

/* Load a model file (model.safetensors as `jepatok train stage2` writes
 * it).  path NULL: the default model: $JEPATOK_MODEL if set, else the
 * model installed with jepatok.  The weights are checked against the model
 * id stored in the file; a file that fails the check is refused
 * (JEPATOK_ERR_FORMAT).  Returns NULL on failure (JEPATOK_ERR_IO,
 * JEPATOK_ERR_FORMAT, JEPATOK_ERR_NOMEM). */
jepatok_model *jepatok_model_open(const char *path, jepatok_error *err);
/* Release a model (NULL is allowed).  Its contexts must be freed first. */
void jepatok_model_close(jepatok_model *m);

/* The getters below take a model returned by jepatok_model_open (not NULL).
 * The model's own sample rate in Hz (24000). */
int jepatok_model_sample_rate(const jepatok_model *m);
/* Samples per frame at the model's rate (9600). */
int jepatok_model_hop(const jepatok_model *m);
/* Frames per second (2.5). */
double jepatok_model_frame_rate(const jepatok_model *m);
/* Tokens per frame (19). */
int jepatok_model_tokens_per_frame(const jepatok_model *m);
/* Bits of information per frame: the sum of log2 of the radices (256). */
double jepatok_model_bits_per_frame(const jepatok_model *m);
/* The radix of each token of a frame (18 x 16384 and 16): writes
 * min(max, tokens per frame) values to out and returns tokens per frame. */
int jepatok_model_radices(const jepatok_model *m, uint16_t *out, int max);
/* Quantiser digits per frame (128), and the number of levels of each
 * digit (4): writes min(max, digits per frame) values to out and returns
 * digits per frame. */
int jepatok_model_digits_per_frame(const jepatok_model *m);
int jepatok_model_levels(const jepatok_model *m, uint16_t *out, int max);
/* The model id: 16 bytes of SHA-256 over the weights.  Tokens made by one
 * model mean nothing to another; store the id with tokens you keep. */
void jepatok_model_id(const jepatok_model *m, uint8_t id[JEPATOK_MODEL_ID_BYTES]);
/* The id as 32 lower-case hex digits (valid while the model is open). */
const char *jepatok_model_id_hex(const jepatok_model *m);
/* The file the model was loaded from (valid while the model is open). */
const char *jepatok_model_path(const jepatok_model *m);
/* Frames jepatok_encode makes of n samples at rate: the input is
 * resampled to round(n * 24000 / rate) samples, then every started frame
 * counts.  0 when rate is out of range. */
size_t jepatok_model_frames_for(const jepatok_model *m, size_t n, int rate);
/* Samples jepatok_decode returns for frames frames at rate when asked for
 * n_samples = 0: round(frames * hop * rate / 24000).  0 when rate is out
 * of range. */
size_t jepatok_model_samples_for(const jepatok_model *m, size_t frames, int rate);

/* ----------------------------------------------------------------- context */

typedef struct jepatok_context jepatok_context;

/* A context computing with model m on a backend.  backend: "cpu",
 * "opencl", "vulkan" or "auto" (the first real GPU, else the CPU),
 * optionally followed by ":" and comma-separated options, e.g.
 * "cpu:threads=2" or "vulkan:device=1"; NULL: $JEPATOK_BACKEND, else
 * "cpu".  A missing driver is an error (JEPATOK_ERR_DEVICE): nothing falls
 * back to another backend silently.  Returns NULL on failure. */
jepatok_context *jepatok_context_new(const jepatok_model *m, const char *backend, jepatok_error *err);
/* Release a context (NULL is allowed). */
void jepatok_context_free(jepatok_context *c);
/* The backend the context computes on ("cpu", "opencl", "vulkan"). */
const char *jepatok_context_backend(const jepatok_context *c);

/* ------------------------------------------------------------ encode/decode */

/* Encode n samples (n >= 1, all finite) of mono PCM at rate Hz.  On
 * success *tokens receives *frames x tokens_per_frame tokens (free with
 * jepatok_free) and *frames = jepatok_model_frames_for(m, n, rate); the
 * last frame is padded with silence.  On failure *tokens = NULL and
 * *frames = 0.  Errors: JEPATOK_ERR_INVALID (NULL, n = 0, rate out of
 * range), JEPATOK_ERR_NUMERIC (a NaN or infinite sample), JEPATOK_ERR_DEVICE,
 * JEPATOK_ERR_NOMEM. */
int jepatok_encode(jepatok_context *c, const float *pcm, size_t n, int rate, uint16_t **tokens, size_t *frames,
                   jepatok_error *err);

/* Decode frames frames of tokens to mono PCM at rate Hz.  *pcm receives
 * exactly n_samples samples (free with jepatok_free); n_samples = 0 means
 * all that the tokens cover, jepatok_model_samples_for(m, frames, rate).
 * To get back an encoded clip's length, pass the n given to
 * jepatok_encode.  n_samples may exceed what the tokens cover by at most
 * one frame; samples past the decoded audio are zero.  On failure
 * *pcm = NULL.  Errors: JEPATOK_ERR_INVALID (NULL, frames = 0, rate out of
 * range, n_samples too large), JEPATOK_ERR_MODEL (a token outside its
 * radix: tokens of another model?), JEPATOK_ERR_DEVICE, JEPATOK_ERR_NOMEM. */
int jepatok_decode(jepatok_context *c, const uint16_t *tokens, size_t frames, int rate, size_t n_samples,
                   float **pcm, jepatok_error *err);

/* --------------------------------------------------------------- packing */

/* Digits -> tokens for frames frames: digits holds frames x
 * digits_per_frame values, digit d of a frame in [0, levels[d]); tokens
 * receives frames x tokens_per_frame values.  Within a token, digits pack
 * big-endian: token = sum_k digit_k * prod_{j>k} levels_j.  A digit out
 * of range is JEPATOK_ERR_INVALID (naming frame and digit); tokens may
 * then be partly written.  frames = 0 does nothing and succeeds. */
int jepatok_pack(const jepatok_model *m, const uint16_t *digits, size_t frames, uint16_t *tokens,
                 jepatok_error *err);
/* Tokens -> digits, the inverse of jepatok_pack.  A token out of its
 * radix's range is JEPATOK_ERR_INVALID (naming frame and token); digits
 * may then be partly written. */
int jepatok_unpack(const jepatok_model *m, const uint16_t *tokens, size_t frames, uint16_t *digits,
                   jepatok_error *err);

/* Release memory returned by jepatok_encode or jepatok_decode (NULL is
 * allowed). */
void jepatok_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
