/* audio.h: load and save speech audio as mono float32 at a chosen rate.
 *
 * Every part of jepatok that touches audio files (evaluation, the training
 * data pipeline, the encode/decode commands) goes through this module so
 * that files are read, downmixed and resampled the same way everywhere:
 *
 *   - any container/codec libsndfile reads (WAV, FLAC, Ogg Vorbis/Opus, MP3,
 *     AIFF, ...);
 *   - channels are downmixed by averaging (never by taking the first one,
 *     which would drop a speaker recorded on the right channel);
 *   - the rate is converted with libsoxr at high quality (SOXR_HQ: 20-bit,
 *     band edge at 91% of the lower Nyquist), never silently rejected;
 *   - samples are float32, nominally in [-1, 1]; NaN or Inf samples make the
 *     load fail because every later stage (metrics, training) would turn
 *     them into garbage without saying why.
 *
 * Errors are returned as values (negative jt_audio_status codes) together
 * with a message naming the file and the cause; nothing is printed.
 */
#ifndef JT_AUDIO_H
#define JT_AUDIO_H

#include <stddef.h>

/* A mono signal.  samples is owned (free it with jt_audio_free). */
typedef struct jt_audio {
    float *samples;     /* frames values, mono, at rate */
    size_t frames;      /* number of samples after resampling */
    int rate;           /* sampling rate of samples (the requested rate) */
    int orig_rate;      /* what the file said */
    int orig_channels;  /* channel count of the file (before the downmix) */
    size_t orig_frames; /* frames actually decoded from the file */
} jt_audio;

/* Status codes (0 = success).  Messages carry the details. */
typedef enum jt_audio_status {
    JT_AUDIO_OK = 0,
    JT_AUDIO_EARG = -1,       /* bad argument (NULL, rate <= 0) */
    JT_AUDIO_EUNREADABLE = -2, /* cannot open/read the file (errno text) */
    JT_AUDIO_ENOTAUDIO = -3,  /* readable, but libsndfile does not know it */
    JT_AUDIO_EEMPTY = -4,     /* empty file, or zero audio frames */
    JT_AUDIO_ENONFINITE = -5, /* NaN or Inf sample (position reported) */
    JT_AUDIO_ENOMEM = -6,     /* allocation failed */
    JT_AUDIO_ERESAMPLE = -7,  /* libsoxr failed */
    JT_AUDIO_EWRITE = -8      /* cannot create/write/rename the output */
} jt_audio_status;

/* Output sample formats for jt_audio_write (always a WAV container). */
typedef enum jt_audio_format {
    JT_AUDIO_PCM16 = 0, /* 16-bit PCM; values outside [-1, 1] are clipped */
    JT_AUDIO_FLOAT32 = 1 /* IEEE float, lossless for our samples */
} jt_audio_format;

/* Load path into out as mono float32 at target_rate (Hz, > 0).
 * On success returns JT_AUDIO_OK and fills *out (free with jt_audio_free).
 * On failure returns a negative jt_audio_status, leaves *out zeroed, and
 * writes "PATH: cause" into err (if err != NULL and errlen > 0). */
int jt_audio_load(const char *path, int target_rate, jt_audio *out, char *err, size_t errlen);

/* Release the samples of a; a becomes all zero.  Safe on a zeroed struct. */
void jt_audio_free(jt_audio *a);

/* Resample n mono samples from in_rate to out_rate with libsoxr (HQ).
 * *out (malloc'd, caller frees) receives round(n * out_rate / in_rate)
 * samples; the filter delay is compensated, so sample t of the input and
 * sample t * out_rate / in_rate of the output line up.  Equal rates copy.
 * Returns JT_AUDIO_OK or a negative status with a message in err. */
int jt_audio_resample(const float *in, size_t n, int in_rate, int out_rate, float **out,
                      size_t *out_n, char *err, size_t errlen);

/* Write n mono samples at rate to path as a WAV file in format fmt.
 * Atomic: the data goes to a temporary file in the same directory which is
 * renamed over path only once complete, so readers never see a half file
 * and a failed write leaves any previous path untouched.  Non-finite
 * samples are rejected (JT_AUDIO_ENONFINITE) before anything is written. */
int jt_audio_write(const char *path, const float *x, size_t n, int rate, jt_audio_format fmt,
                   char *err, size_t errlen);

/* ------------------------------------------------------------ streaming
 * The same operations in pieces, so that a file of any length needs memory
 * for one block only.  jt_audio_load, jt_audio_resample and jt_audio_write
 * are built from these, so the two ways give the same samples. */

/* Incremental rate conversion (libsoxr, HQ, as jt_audio_resample).  Feed
 * blocks with push, then call it once more with last = 1 (in may be NULL):
 * the total output is then exactly round(total_in * out_rate / in_rate)
 * samples, the same as jt_audio_resample of the concatenated input.  Each
 * output block goes to emit (which returns 0, or nonzero to stop with the
 * message it wrote into err). */
typedef struct jt_audio_resampler jt_audio_resampler;
typedef int (*jt_audio_emit_fn)(void *user, const float *y, size_t n, char *err, size_t errlen);
int jt_audio_resampler_open(jt_audio_resampler **r, int in_rate, int out_rate, char *err, size_t errlen);
int jt_audio_resampler_push(jt_audio_resampler *r, const float *in, size_t n, int last, jt_audio_emit_fn emit,
                            void *user, char *err, size_t errlen);
void jt_audio_resampler_close(jt_audio_resampler *r);

/* A file read block by block: downmixed to mono, resampled to target_rate,
 * checked for NaN/Inf, with the errors and messages of jt_audio_load
 * (messages start with the path). */
typedef struct jt_audio_reader jt_audio_reader;
int jt_audio_reader_open(jt_audio_reader **r, const char *path, int target_rate, char *err, size_t errlen);
/* Up to max samples into buf: the count, 0 at the end, or a negative
 * jt_audio_status with a message in err. */
long long jt_audio_reader_read(jt_audio_reader *r, float *buf, size_t max, char *err, size_t errlen);
int jt_audio_reader_orig_rate(const jt_audio_reader *r);
int jt_audio_reader_orig_channels(const jt_audio_reader *r);
/* Frames decoded from the file so far (all of them once read returned 0);
 * the number frames() the file header promises, -1 when unknown. */
size_t jt_audio_reader_orig_frames(const jt_audio_reader *r);
long long jt_audio_reader_expected_frames(const jt_audio_reader *r);
/* Samples at target_rate handed out so far. */
size_t jt_audio_reader_frames(const jt_audio_reader *r);
void jt_audio_reader_close(jt_audio_reader *r);

/* A WAV file written block by block into a temporary file next to path:
 * commit renames it over path (atomic), abort removes it.  Exactly one of
 * them must be called after a successful open; both free w. */
typedef struct jt_audio_writer jt_audio_writer;
int jt_audio_writer_open(jt_audio_writer **w, const char *path, int rate, jt_audio_format fmt, char *err,
                         size_t errlen);
/* Non-finite samples are refused (JT_AUDIO_ENONFINITE, frame counted from
 * the start of the file) before any of the block is written. */
int jt_audio_writer_write(jt_audio_writer *w, const float *x, size_t n, char *err, size_t errlen);
int jt_audio_writer_commit(jt_audio_writer *w, char *err, size_t errlen);
void jt_audio_writer_abort(jt_audio_writer *w);

#endif
