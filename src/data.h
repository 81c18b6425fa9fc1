/* data.h: the training data pipeline.
 *
 * A data argument is a text file of audio paths (one per line, relative to
 * the list's directory; '#' starts a comment) or a directory searched
 * recursively for .wav .flac .ogg .oga .opus .mp3 files.  Files are decoded
 * (jt_audio: any rate and channel count -> 24 kHz mono) and cropped at
 * random to at most crop_samples.
 *
 * Determinism: the examples form one stream; example i belongs to epoch
 * i / N, whose order is a permutation seeded by (seed, epoch), and its crop
 * position and augmentation are drawn from a generator seeded by (seed, i).
 * Nothing depends on thread timing, so a run resumed from "next stream
 * index" continues exactly.  Unreadable or silent files are skipped (the
 * decision depends only on the file) and reported once.
 *
 * A background thread keeps a few batches ready so compute never waits on
 * disk in steady state. */
#ifndef JT_DATA_H
#define JT_DATA_H

#include <stddef.h>
#include <stdint.h>

typedef struct jt_data jt_data;

typedef struct {
    int64_t batch;          /* clips per batch */
    int64_t crop_samples;   /* a multiple of the hop */
    int sample_rate;        /* 24000 */
    uint64_t seed;
    int64_t start_index;    /* stream position to start from (resume) */
    float gain_p, noise_p;  /* augmentation probabilities (0.3, 0.2) */
    int prefetch;           /* batches kept ready (default 3) */
} jt_data_config;

typedef struct {
    float *wave;          /* [batch, crop_samples], zero-padded */
    int64_t *lengths;     /* valid samples per clip */
    int64_t next_index;   /* stream position after this batch */
    int64_t first_index;  /* stream position of its first clip */
} jt_batch;

/* Open and scan; the files are read lazily.  NULL with a message if the
 * path is unreadable or holds no audio file. */
jt_data *jt_data_open(const char *path, const jt_data_config *cfg, char *err, size_t errlen);
void jt_data_close(jt_data *d);
int64_t jt_data_files(const jt_data *d);
/* The next batch in stream order (blocks until the loader has it); the
 * batch stays valid until the next call.  -1 with a message when every file
 * is unusable. */
int jt_data_next(jt_data *d, const jt_batch **out, char *err, size_t errlen);
/* Files skipped so far, and up to n of their names with reasons. */
int jt_data_skipped(const jt_data *d, char *report, size_t n);

#endif
