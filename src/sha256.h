/* sha256.h: SHA-256 (FIPS 180-4), for model ids. */
#ifndef JT_SHA256_H
#define JT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char buf[64];
    size_t fill;
} jt_sha256;

void jt_sha256_init(jt_sha256 *s);
void jt_sha256_update(jt_sha256 *s, const void *data, size_t n);
void jt_sha256_final(jt_sha256 *s, unsigned char out[32]);

#endif
