/* tokens.h: the token file (.jtok) and .npy export.
 *
 * .jtok, version 1, all integers little-endian:
 *   offset  size  field
 *        0     4  magic "JTOK"
 *        4     2  version (1)
 *        6     2  tokens per frame N (19)
 *        8    16  model id (the first 16 bytes of the model's weight hash)
 *       24     4  sample rate of the original audio (Hz)
 *       28     8  sample count of the original audio
 *       36     8  frames F
 *       44   2*N  radix of each token position (16384 ... 16)
 *    44+2N  2*F*N tokens, frame after frame (uint16)
 *      end     4  CRC-32 (IEEE, as zlib) of every byte before it
 * Readers reject a wrong magic or version, a size that does not match F and
 * N, a bad checksum, and any token >= its radix, each with the reason.
 *
 * .npy export: a standard NumPy v1.0 file of shape [F, N], dtype '<u2'
 * (numpy.load reads it). */
#ifndef JT_TOKENS_H
#define JT_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#define JT_MODEL_ID_BYTES 16

typedef struct {
    uint8_t model_id[JT_MODEL_ID_BYTES];
    uint32_t sample_rate;
    uint64_t samples;
    uint64_t frames;
    uint16_t per_frame;
    uint16_t radix[64];
    uint16_t *tokens; /* frames * per_frame, owned */
} jt_tokens;

uint32_t jt_crc32(uint32_t crc, const void *data, size_t n);
/* Write atomically (temp file + rename).  0, or -1 with a message. */
int jt_tokens_write(const char *path, const jt_tokens *t, char *err, size_t errlen);
/* Read and validate; t->tokens is allocated.  0, or -1 with the reason. */
int jt_tokens_read(const char *path, jt_tokens *t, char *err, size_t errlen);
void jt_tokens_free(jt_tokens *t);
/* [frames, per_frame] uint16 as .npy, atomically. */
int jt_tokens_write_npy(const char *path, const jt_tokens *t, char *err, size_t errlen);

#endif
