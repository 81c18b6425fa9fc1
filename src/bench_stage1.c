/* bench_stage1.c: `jepatok bench stage1`: seconds per stage-1 training step
 * and memory, on the same random inputs as scripts/torch_stage1.py so the
 * two can be compared in one run (scripts/bench-stage1.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "stage1.h"
#include "train.h"
#include "train_util.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int jt_bench_stage1(int argc, char **argv)
{
    const char *cfg_name = "small", *backend = NULL;
    int64_t batch = 4, steps = 5, warmup = 2, threads = 0;
    double crop_s = 4.0;
    for (int i = 1; i < argc; i++) {
        int has = i + 1 < argc;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: jepatok bench stage1 [--config NAME] [--batch N] [--crop-seconds S] [--steps N]\n"
                   "                            [--warmup N] [--threads N] [--backend NAME]\n"
                   "Seconds per stage-1 training step (forward, backward, clipping, AdamW, EMA) on\n"
                   "random full-length clips, median of --steps after --warmup; one JSON line.\n");
            return 0;
        } else if (has && !strcmp(argv[i], "--config"))
            cfg_name = argv[++i];
        else if (has && !strcmp(argv[i], "--batch"))
            batch = atoll(argv[++i]);
        else if (has && !strcmp(argv[i], "--crop-seconds"))
            crop_s = atof(argv[++i]);
        else if (has && !strcmp(argv[i], "--steps"))
            steps = atoll(argv[++i]);
        else if (has && !strcmp(argv[i], "--warmup"))
            warmup = atoll(argv[++i]);
        else if (has && !strcmp(argv[i], "--threads"))
            threads = atoll(argv[++i]);
        else if (has && !strcmp(argv[i], "--backend"))
            backend = argv[++i];
        else if (strcmp(argv[i], "stage1") != 0) {
            fprintf(stderr, "jepatok bench stage1: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    char err[512];
    jt_config cfg;
    if (jt_cli_config(cfg_name, &cfg, err, sizeof err) || batch < 1 || steps < 1) {
        fprintf(stderr, "jepatok bench stage1: %s\n", batch < 1 || steps < 1 ? "counts must be positive" : err);
        return 2;
    }
    jc_error e = {0};
    char opts[64];
    snprintf(opts, sizeof opts, "threads=%lld", (long long)threads);
    jc_backend *be = threads > 0 && (!backend || !strcmp(backend, "cpu")) ? jc_backend_open("cpu", opts, &e)
                                                                          : jt_open_backend(backend, &e);
    if (!be) {
        fprintf(stderr, "jepatok bench stage1: %s\n", e.msg);
        return 1;
    }
    jt_jepa j;
    if (jt_jepa_create(&j, &cfg, be, 1, 0, err, sizeof err)) {
        fprintf(stderr, "jepatok bench stage1: %s\n", err);
        jc_backend_free(be);
        return 1;
    }
    jc_adamw *opt = jc_adamw_new(j.online, (jc_adamw_config){cfg.lr, cfg.beta1, cfg.beta2, 1e-8f, cfg.weight_decay,
                                                             0, cfg.clip_norm},
                                 &e);
    int64_t hop = jt_config_hop(&cfg), T = ((int64_t)(crop_s * cfg.sample_rate) + hop - 1) / hop * hop;
    jt_stage1_step s;
    int status = 1;
    float *wave = NULL, *jm = NULL;
    int64_t *len = NULL;
    if (!opt || jt_stage1_step_build(&s, &j, opt, batch, T, err, sizeof err)) {
        fprintf(stderr, "jepatok bench stage1: %s\n", opt ? err : e.msg);
        goto out;
    }
    wave = malloc((size_t)(batch * T) * sizeof *wave);
    jm = malloc((size_t)(batch * s.F) * sizeof *jm);
    len = malloc((size_t)batch * sizeof *len);
    jc_rng r;
    jc_rng_seed(&r, 7);
    for (int64_t i = 0; i < batch * T; i++)
        wave[i] = 0.1f * (float)jc_rng_normal(&r);
    for (int64_t i = 0; i < batch * s.F; i++)
        jm[i] = (float)(i % 2); /* half the frames masked */
    for (int64_t b = 0; b < batch; b++)
        len[b] = T;
    jc_tensor_set(s.wave, wave, &e);
    jc_tensor_set(s.jmask, jm, &e);
    jt_masks_set(&s.mk, &cfg, len, &e);
    double *times = malloc((size_t)steps * sizeof *times);
    for (int64_t k = 0; k < warmup + steps; k++) {
        double t0 = jt_now();
        jc_adamw_begin_step(opt, &e);
        if (jc_graph_compute(s.g, &e)) {
            fprintf(stderr, "jepatok bench stage1: %s\n", e.msg);
            free(times);
            goto out;
        }
        float loss;
        jc_tensor_get(s.loss, &loss, &e); /* waits for the device */
        if (k >= warmup)
            times[k - warmup] = jt_now() - t0;
    }
    qsort(times, (size_t)steps, sizeof *times, cmp_double);
    jc_graph_stats gs;
    jc_graph_get_stats(s.g, &gs);
    size_t params = (size_t)(jc_store_nelem(j.online, 0) + jc_store_nelem(j.target, 0)) * 4;
    size_t optim = (size_t)jc_store_nelem(jc_adamw_state(opt), 0) * 4;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    jc_device_info info;
    jc_backend_device_info(be, &info);
    printf("{\"config\": \"%s\", \"batch\": %lld, \"crop_seconds\": %.2f, \"backend\": \"%s\", \"device\": \"%s\", "
           "\"threads\": %d, \"seconds_per_step\": %.4f, \"planned_activation_mib\": %.1f, "
           "\"naive_activation_mib\": %.1f, \"params_and_target_mib\": %.1f, \"optimiser_mib\": %.1f, "
           "\"peak_rss_mib\": %.1f}\n",
           cfg.name, (long long)batch, (double)T / cfg.sample_rate, jc_backend_name(be), info.name,
           info.compute_units, times[steps / 2], (double)gs.planned_bytes / 1048576.0,
           (double)gs.naive_bytes / 1048576.0, (double)params / 1048576.0, (double)optim / 1048576.0,
           (double)ru.ru_maxrss / 1024.0);
    free(times);
    status = 0;
out:
    free(wave);
    free(jm);
    free(len);
    if (opt)
        jt_stage1_step_free(&s);
    jc_adamw_free(opt);
    jt_jepa_free(&j);
    jc_backend_free(be);
    return status;
}
