/* bench_stage1.c: `jepatok bench stage1`: seconds per stage-1 training step
 * and memory, on the same random inputs as scripts/torch_stage1.py so the
 * two can be compared in one run (scripts/bench-stage1.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_step.h"
#include "stage1.h"
#include "train.h"
#include "train_util.h"

int jt_bench_stage1(int argc, char **argv)
{
    static const char *const cmd = "jepatok bench stage1";
    jt_step_bench o = {.config = "small", .batch = 4, .steps = 5, .warmup = 2, .crop_seconds = 4.0};
    jt_config cfg;
    int parsed = jt_step_bench_parse(argc, argv, cmd, 0, &o, &cfg);
    if (parsed == 1)
        printf("usage: jepatok bench stage1 [--config NAME | --model FILE] [--batch N] [--crop-seconds S] [--steps N]\n"
               "                            [--warmup N] [--threads N] [--backend NAME]\n"
               "Seconds per stage-1 training step (forward, backward, clipping, AdamW, EMA) on\n"
               "random full-length clips, median of --steps after --warmup; one JSON line.\n"
               "--model FILE times the configuration model FILE was trained with instead of\n"
               "--config (default small).\n");
    if (parsed)
        return parsed == 1 ? 0 : 2;
    jc_backend *be = jt_step_bench_backend(&o, cmd);
    if (!be)
        return 1;
    int64_t batch = o.batch, steps = o.steps, warmup = o.warmup;
    double crop_s = o.crop_seconds;
    char err[512];
    jc_error e = {0};
    jt_jepa j;
    if (jt_jepa_create(&j, &cfg, be, 1, 0, err, sizeof err)) {
        fprintf(stderr, "jepatok bench stage1: %s\n", err);
        jc_backend_free(be);
        return 1;
    }
    /* the trainer's optimiser, without the lr warm-up */
    jc_adamw_config ac = jt_train_adamw_config(&(jt_train_opts){0}, &cfg);
    ac.warmup_steps = 0;
    jc_adamw *opt = jc_adamw_new(j.online, ac, &e);
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
    double median = jt_median(times, steps);
    jc_graph_stats gs;
    jc_graph_get_stats(s.g, &gs);
    size_t params = (size_t)(jc_store_nelem(j.online, 0) + jc_store_nelem(j.target, 0)) * 4;
    size_t optim = (size_t)jc_store_nelem(jc_adamw_state(opt), 0) * 4;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    jc_device_info info;
    jc_backend_device_info(be, &info);
    char *model_json = jt_step_bench_model_json(&o);
    printf("{\"config\": \"%s\", \"model\": %s, \"batch\": %lld, \"crop_seconds\": %.2f, \"backend\": \"%s\", \"device\": \"%s\", "
           "\"threads\": %d, \"seconds_per_step\": %.4f, \"planned_activation_mib\": %.1f, "
           "\"naive_activation_mib\": %.1f, \"params_and_target_mib\": %.1f, \"optimiser_mib\": %.1f, "
           "\"peak_rss_mib\": %.1f}\n",
           cfg.name, model_json ? model_json : "null", (long long)batch, (double)T / cfg.sample_rate,
           jc_backend_name(be), info.name,
           info.compute_units, median, (double)gs.planned_bytes / 1048576.0,
           (double)gs.naive_bytes / 1048576.0, (double)params / 1048576.0, (double)optim / 1048576.0,
           (double)ru.ru_maxrss / 1024.0);
    free(model_json);
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
