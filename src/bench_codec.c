/* bench_codec.c: `jepatok bench codec`: encode and decode real-time factors
 * of a configuration (random weights: the speed does not depend on them)
 * or of a model file, on a synthetic signal of any length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "codec.h"
#include "train_util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: jepatok bench codec [--config NAME | --model PATH] [--seconds S] [--threads N]\n"
               "                           [--backend NAME]\n"
               "Encode and decode S seconds (default 30) of a synthetic voiced signal; prints one\n"
               "JSON line with seconds and real-time factors, cold (first call: graphs built)\n"
               "and warm (second call), and the peak resident memory.\n");
}

int jt_bench_codec(int argc, char **argv)
{
    const char *cfg_name = "small", *model = NULL, *backend = NULL;
    double seconds = 30;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        int has = i + 1 < argc;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (has && !strcmp(argv[i], "--config")) {
            cfg_name = argv[++i];
        } else if (has && !strcmp(argv[i], "--model")) {
            model = argv[++i];
        } else if (has && !strcmp(argv[i], "--seconds")) {
            seconds = atof(argv[++i]);
        } else if (has && !strcmp(argv[i], "--threads")) {
            threads = atoi(argv[++i]);
        } else if (has && !strcmp(argv[i], "--backend")) {
            backend = argv[++i];
        } else {
            fprintf(stderr, "jepatok bench codec: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char err[1024], opts[32];
    jt_config cfg;
    jt_model m;
    if (!(seconds > 0) || (!model && jt_cli_config(cfg_name, &cfg, err, sizeof err))) {
        fprintf(stderr, "jepatok bench codec: %s\n", seconds > 0 ? err : "--seconds must be positive");
        return 2;
    }
    if (model ? jt_model_open(&m, model, err, sizeof err) : jt_model_random(&m, &cfg, 1, err, sizeof err)) {
        fprintf(stderr, "jepatok bench codec: %s\n", err);
        return 1;
    }
    snprintf(opts, sizeof opts, "threads=%d", threads);
    jt_codec c;
    if (jt_codec_open(&c, &m, backend, threads > 0 ? opts : NULL, err, sizeof err)) {
        fprintf(stderr, "jepatok bench codec: %s\n", err);
        jt_model_close(&m);
        return 1;
    }
    int rate = m.cfg.sample_rate;
    int64_t n = (int64_t)(seconds * rate);
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t t = 0; x && t < n; t++) { /* a vowel-like tone with a moving pitch */
        double ts = (double)t / rate, f0 = 120 + 30 * sin(2 * M_PI * 0.7 * ts), v = 0;
        for (int h = 1; h <= 8; h++)
            v += sin(2 * M_PI * f0 * h * ts) / h;
        x[t] = (float)(0.2 * v * (0.6 + 0.4 * sin(2 * M_PI * 3 * ts)));
    }
    double enc[2] = {0}, dec[2] = {0};
    int status = x ? 0 : 1;
    for (int rep = 0; rep < 2 && status == 0; rep++) {
        uint16_t *tok = NULL;
        float *y = NULL;
        int64_t frames = 0;
        double t0 = jt_now();
        status = jt_codec_encode(&c, x, n, &tok, &frames, err, sizeof err) != 0;
        double t1 = jt_now();
        if (!status)
            status = jt_codec_decode(&c, tok, frames, &y, err, sizeof err) != 0;
        enc[rep] = t1 - t0;
        dec[rep] = jt_now() - t1;
        free(tok);
        free(y);
    }
    if (status) {
        fprintf(stderr, "jepatok bench codec: %s\n", x ? err : "out of memory");
    } else {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        jc_device_info info;
        jc_backend_device_info(c.be, &info);
        printf("{\"config\": \"%s\", \"backend\": \"%s\", \"device\": \"%s\", \"seconds_audio\": %.1f, "
               "\"chunk_frames\": %d, \"encode_s\": %.3f, \"decode_s\": %.3f, \"rtf_encode\": %.4f, "
               "\"rtf_decode\": %.4f, \"rtf\": %.4f, \"rtf_cold\": %.4f, \"max_rss_mib\": %.0f}\n",
               m.cfg.name, jc_backend_name(c.be), info.name, seconds, c.chunk_frames, enc[1], dec[1],
               enc[1] / seconds, dec[1] / seconds, (enc[1] + dec[1]) / seconds, (enc[0] + dec[0]) / seconds,
               ru.ru_maxrss / 1024.0);
    }
    free(x);
    jt_codec_close(&c);
    jt_model_close(&m);
    return status;
}
