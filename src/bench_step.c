/* bench_step.c: options, backend and median shared by the training-step
 * benchmarks (see bench_step.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_step.h"
#include "cli.h"
#include "model_file.h"
#include "train.h"

int jt_step_bench_parse(int argc, char **argv, const char *cmd, int with_adversarial, jt_step_bench *b,
                        jt_config *cfg)
{
    for (int i = 1; i < argc; i++) {
        int has = i + 1 < argc;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
        else if (has && !strcmp(argv[i], "--config"))
            b->config = argv[++i];
        else if (has && !strcmp(argv[i], "--model"))
            b->model = argv[++i];
        else if (has && !strcmp(argv[i], "--batch"))
            b->batch = atoll(argv[++i]);
        else if (has && !strcmp(argv[i], "--crop-seconds"))
            b->crop_seconds = atof(argv[++i]);
        else if (has && !strcmp(argv[i], "--steps"))
            b->steps = atoll(argv[++i]);
        else if (has && !strcmp(argv[i], "--warmup"))
            b->warmup = atoll(argv[++i]);
        else if (has && !strcmp(argv[i], "--threads"))
            b->threads = atoll(argv[++i]);
        else if (has && !strcmp(argv[i], "--backend"))
            b->backend = argv[++i];
        else if (with_adversarial && !strcmp(argv[i], "--adversarial"))
            b->adversarial = 1;
        else if (with_adversarial && has && !strcmp(argv[i], "--finetune-encoder"))
            b->finetune_encoder = atof(argv[++i]);
        else if (strcmp(argv[i], cmd + strlen("jepatok bench ")) != 0) {
            fprintf(stderr, "%s: unknown argument '%s'\n", cmd, argv[i]);
            return 2;
        }
    }
    char err[1024];
    int bad_counts = b->batch < 1 || b->steps < 1 || b->warmup < 0 || !(b->crop_seconds > 0);
    if (bad_counts) {
        fprintf(stderr, "%s: counts and --crop-seconds must be positive\n", cmd);
        return 2;
    }
    uint8_t id[JT_MODEL_ID_BYTES];
    if (b->model) { /* the shapes a model file was trained with (a grown decoder, say): its header only */
        if (jt_model_read_header(b->model, cfg, id, NULL, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", cmd, err);
            return 2;
        }
    } else if (jt_cli_config(b->config, cfg, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return 2;
    }
    return 0;
}

jc_backend *jt_step_bench_backend(const jt_step_bench *b, const char *cmd)
{
    jc_error e = {0};
    char opts[64];
    snprintf(opts, sizeof opts, "threads=%lld", (long long)b->threads);
    jc_backend *be = b->threads > 0 && (!b->backend || !strcmp(b->backend, "cpu"))
                         ? jc_backend_open("cpu", opts, &e)
                         : jt_open_backend(b->backend, &e);
    if (!be)
        fprintf(stderr, "%s: %s\n", cmd, e.msg);
    return be;
}

char *jt_step_bench_model_json(const jt_step_bench *b)
{
    json_t *v = b->model ? json_string(b->model) : json_null();
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return text;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double jt_median(double *v, int64_t n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}
