/* tokens.c: .jtok token files and .npy export (format in tokens.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokens.h"

uint32_t jt_crc32(uint32_t crc, const void *data, size_t n)
{
    /* bitwise CRC-32 (polynomial 0xEDB88320): token files are small, a
     * table would buy nothing measurable */
    const uint8_t *p = data;
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* Write buf to path through a temporary file in the same directory. */
static int write_atomic(const char *path, const uint8_t *buf, size_t n, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int ok = fwrite(buf, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int jt_tokens_write(const char *path, const jt_tokens *t, char *err, size_t errlen)
{
    size_t N = t->per_frame, head = 44 + 2 * N, body = 2 * (size_t)t->frames * N, n = head + body + 4;
    if (N == 0 || N > 64) {
        snprintf(err, errlen, "%s: %zu tokens per frame (1 to 64 allowed)", path, N);
        return -1;
    }
    uint8_t *buf = malloc(n);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memcpy(buf, "JTOK", 4);
    put16(buf + 4, 1);
    put16(buf + 6, (uint16_t)N);
    memcpy(buf + 8, t->model_id, JT_MODEL_ID_BYTES);
    put32(buf + 24, t->sample_rate);
    put64(buf + 28, t->samples);
    put64(buf + 36, t->frames);
    for (size_t k = 0; k < N; k++)
        put16(buf + 44 + 2 * k, t->radix[k]);
    for (size_t i = 0; i < t->frames * N; i++)
        put16(buf + head + 2 * i, t->tokens[i]);
    put32(buf + head + body, jt_crc32(0, buf, head + body));
    int r = write_atomic(path, buf, n, err, errlen);
    free(buf);
    return r;
}

int jt_tokens_read(const char *path, jt_tokens *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    rewind(f);
    int r = -1;
    if (size < 48) {
        snprintf(err, errlen, "%s: %s", path, size < 0 ? "cannot read" : "too short to be a token file (truncated?)");
        goto done;
    }
    buf = malloc((size_t)size);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errlen, "%s: cannot read", path);
        goto done;
    }
    if (memcmp(buf, "JTOK", 4) != 0) {
        snprintf(err, errlen, "%s: not a jepatok token file (bad magic)", path);
        goto done;
    }
    if (get16(buf + 4) != 1) {
        snprintf(err, errlen, "%s: token file version %u is not supported (this is version 1)", path, get16(buf + 4));
        goto done;
    }
    size_t N = get16(buf + 6);
    uint64_t F = get64(buf + 36);
    size_t head = 44 + 2 * N;
    if (N == 0 || N > 64 || F > ((uint64_t)1 << 40) || (uint64_t)size != head + 2 * F * N + 4) {
        snprintf(err, errlen, "%s: size %ld does not match %llu frames of %zu tokens (truncated or corrupt)", path,
                 size, (unsigned long long)F, N);
        goto done;
    }
    if (get32(buf + size - 4) != jt_crc32(0, buf, (size_t)size - 4)) {
        snprintf(err, errlen, "%s: checksum mismatch (the file is corrupt)", path);
        goto done;
    }
    t->per_frame = (uint16_t)N;
    memcpy(t->model_id, buf + 8, JT_MODEL_ID_BYTES);
    t->sample_rate = get32(buf + 24);
    t->samples = get64(buf + 28);
    t->frames = F;
    for (size_t k = 0; k < N; k++) {
        t->radix[k] = get16(buf + 44 + 2 * k);
        if (t->radix[k] < 2) {
            snprintf(err, errlen, "%s: radix %u of token %zu is invalid", path, t->radix[k], k);
            goto done;
        }
    }
    t->tokens = malloc(F * N * sizeof *t->tokens + 1);
    if (!t->tokens) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < F * N; i++) {
        t->tokens[i] = get16(buf + head + 2 * i);
        if (t->tokens[i] >= t->radix[i % N]) {
            snprintf(err, errlen, "%s: token %u at frame %zu position %zu is out of range (radix %u)", path,
                     t->tokens[i], i / N, i % N, t->radix[i % N]);
            goto done;
        }
    }
    r = 0;
done:
    if (r)
        jt_tokens_free(t);
    free(buf);
    fclose(f);
    return r;
}

void jt_tokens_free(jt_tokens *t)
{
    free(t->tokens);
    t->tokens = NULL;
}

int jt_tokens_write_npy(const char *path, const jt_tokens *t, char *err, size_t errlen)
{
    char dict[128];
    int dl = snprintf(dict, sizeof dict, "{'descr': '<u2', 'fortran_order': False, 'shape': (%llu, %u), }",
                      (unsigned long long)t->frames, t->per_frame);
    /* magic(6) + version(2) + header length(2) + dict + padding + '\n' is a
     * multiple of 64, as NumPy writes it */
    size_t header = 10 + (size_t)dl + 1, pad = (64 - header % 64) % 64, hl = (size_t)dl + pad + 1;
    size_t body = 2 * (size_t)t->frames * t->per_frame, n = 10 + hl + body;
    uint8_t *buf = malloc(n);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    put16(buf + 8, (uint16_t)hl);
    memcpy(buf + 10, dict, (size_t)dl);
    memset(buf + 10 + dl, ' ', pad);
    buf[10 + hl - 1] = '\n';
    for (size_t i = 0; i < (size_t)t->frames * t->per_frame; i++)
        put16(buf + 10 + hl + 2 * i, t->tokens[i]);
    int r = write_atomic(path, buf, n, err, errlen);
    free(buf);
    return r;
}
