/* lv2-wav.c: audio helpers for tests/test-lv2.sh, which runs the plugin in
 * a real host (lv2apply keeps the input's length, so the input needs the
 * latency's worth of silence after it, and the output is scored after
 * dropping the latency).
 *   lv2-wav pad IN RATE SECONDS OUT   IN at RATE Hz, then SECONDS of silence
 *   lv2-wav score REF DEG DELAY       "stoi S estoi E maxdiff D": DEG from
 *                                     DELAY seconds on against REF, both
 *                                     at 24 kHz (maxdiff: largest |sample
 *                                     difference|) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "metrics.h"

static int pad(const char *in, int rate, double seconds, const char *out)
{
    char err[512];
    jt_audio a;
    if (jt_audio_load(in, rate, &a, err, sizeof err) != JT_AUDIO_OK) {
        fprintf(stderr, "lv2-wav: %s\n", err);
        return 1;
    }
    size_t extra = (size_t)lround(seconds * rate), n = a.frames + extra;
    float *x = calloc(n, sizeof *x);
    int rc = !x;
    if (x) {
        memcpy(x, a.samples, a.frames * sizeof *x);
        if (jt_audio_write(out, x, n, rate, JT_AUDIO_FLOAT32, err, sizeof err) != JT_AUDIO_OK) {
            fprintf(stderr, "lv2-wav: %s\n", err);
            rc = 1;
        }
    }
    free(x);
    jt_audio_free(&a);
    return rc;
}

static int score(const char *ref_path, const char *deg_path, double delay)
{
    char err[512];
    jt_audio ref, deg;
    if (jt_audio_load(ref_path, 24000, &ref, err, sizeof err) != JT_AUDIO_OK ||
        jt_audio_load(deg_path, 24000, &deg, err, sizeof err) != JT_AUDIO_OK) {
        fprintf(stderr, "lv2-wav: %s\n", err);
        return 1;
    }
    size_t skip = (size_t)lround(delay * 24000), n = ref.frames;
    if (deg.frames < skip + n) {
        fprintf(stderr, "lv2-wav: %s: %zu samples, not the %zu needed\n", deg_path, deg.frames, skip + n);
        return 1;
    }
    const float *d = deg.samples + skip;
    double maxdiff = 0;
    for (size_t i = 0; i < n; i++)
        maxdiff = fmax(maxdiff, fabs((double)d[i] - ref.samples[i]));
    printf("stoi %.4f estoi %.4f maxdiff %.3g\n", jt_stoi(ref.samples, d, n, 24000), jt_estoi(ref.samples, d, n, 24000),
           maxdiff);
    jt_audio_free(&ref);
    jt_audio_free(&deg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "pad"))
        return pad(argv[2], atoi(argv[3]), atof(argv[4]), argv[5]);
    if (argc == 5 && !strcmp(argv[1], "score"))
        return score(argv[2], argv[3], atof(argv[4]));
    fprintf(stderr, "usage: lv2-wav pad IN RATE SECONDS OUT | lv2-wav score REF DEG DELAY\n");
    return 2;
}
