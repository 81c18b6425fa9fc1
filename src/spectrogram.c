/* spectrogram.c: log-spectrogram pictures as PNG (see spectrogram.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "spectrogram.h"
#include "tokens.h"

#define NFFT 512
#define HOP 128
#define ROWS (NFFT / 2) /* bins 1..256, low frequencies at the bottom */
#define GAP 4           /* white rows between signals */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static int chunk(FILE *f, const char *type, const unsigned char *data, uint32_t n)
{
    unsigned char hdr[8];
    put_be32(hdr, n);
    memcpy(hdr + 4, type, 4);
    uint32_t crc = jt_crc32(jt_crc32(0, hdr + 4, 4), data, n);
    unsigned char tail[4];
    put_be32(tail, crc);
    return fwrite(hdr, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) && fwrite(tail, 1, 4, f) == 4 ? 0
                                                                                                              : -1;
}

/* zlib stream of stored blocks around raw (filter byte + row per row). */
static unsigned char *zlib_stored(const unsigned char *raw, size_t n, size_t *out_n)
{
    size_t blocks = n / 65535 + 1;
    unsigned char *z = malloc(2 + n + 5 * blocks + 4), *p = z;
    if (!z)
        return NULL;
    *p++ = 0x78, *p++ = 0x01;
    uint32_t a = 1, b = 0; /* Adler-32 */
    for (size_t i = 0; i < n; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    size_t pos = 0;
    do {
        size_t len = n - pos < 65535 ? n - pos : 65535;
        *p++ = pos + len == n ? 1 : 0;
        *p++ = (unsigned char)len, *p++ = (unsigned char)(len >> 8);
        *p++ = (unsigned char)~len, *p++ = (unsigned char)(~len >> 8);
        memcpy(p, raw + pos, len);
        p += len;
        pos += len;
    } while (pos < n);
    put_be32(p, b << 16 | a);
    *out_n = (size_t)(p + 4 - z);
    return z;
}

int jt_spectrogram_png(const char *path, const float *const *signals, int n_signals, size_t n, int rate)
{
    (void)rate;
    size_t cols = n >= NFFT ? 1 + (n - NFFT) / HOP : 1;
    size_t height = (size_t)n_signals * ROWS + (size_t)(n_signals - 1) * GAP, stride = cols + 1;
    float *db = malloc((size_t)n_signals * ROWS * cols * sizeof *db);
    unsigned char *raw = calloc(height * stride, 1);
    double re[NFFT], im[NFFT];
    if (!db || !raw) {
        free(db);
        free(raw);
        return -1;
    }
    float top = -300;
    for (int s = 0; s < n_signals; s++)
        for (size_t c = 0; c < cols; c++) {
            for (int i = 0; i < NFFT; i++) {
                size_t t = c * HOP + (size_t)i;
                double w = 0.5 - 0.5 * cos(2 * M_PI * i / NFFT);
                re[i] = t < n ? w * signals[s][t] : 0;
                im[i] = 0;
            }
            jt_fft(re, im, NFFT, 0);
            for (int k = 0; k < ROWS; k++) {
                float v = (float)(10 * log10(re[k + 1] * re[k + 1] + im[k + 1] * im[k + 1] + 1e-12));
                db[((size_t)s * ROWS + (size_t)k) * cols + c] = v;
                top = v > top ? v : top;
            }
        }
    memset(raw, 255, height * stride);
    for (int s = 0; s < n_signals; s++)
        for (int k = 0; k < ROWS; k++) {
            unsigned char *row = raw + ((size_t)s * (ROWS + GAP) + (size_t)(ROWS - 1 - k)) * stride;
            row[0] = 0; /* filter: none */
            for (size_t c = 0; c < cols; c++) {
                float v = (db[((size_t)s * ROWS + (size_t)k) * cols + c] - (top - 80)) / 80;
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                row[1 + c] = (unsigned char)(255 - 255 * v); /* loud = dark */
            }
        }
    for (size_t r = 0; r < height; r++)
        raw[r * stride] = 0;
    size_t zn = 0;
    unsigned char *z = zlib_stored(raw, height * stride, &zn);
    free(db);
    free(raw);
    if (!z)
        return -1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    unsigned char ihdr[13];
    put_be32(ihdr, (uint32_t)cols);
    put_be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8, ihdr[9] = 0, ihdr[10] = 0, ihdr[11] = 0, ihdr[12] = 0; /* 8-bit grey */
    int ok = f && fwrite("\x89PNG\r\n\x1a\n", 1, 8, f) == 8 && chunk(f, "IHDR", ihdr, 13) == 0 &&
             chunk(f, "IDAT", z, (uint32_t)zn) == 0 && chunk(f, "IEND", NULL, 0) == 0;
    free(z);
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}
