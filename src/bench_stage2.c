/* bench_stage2.c: `jepatok bench stage2`: seconds per stage-2 training step
 * (generator step, and with --adversarial the discriminator step too) and
 * memory, on the same kind of random input as scripts/torch_stage2.py so
 * the two can be compared in one run (scripts/bench-stage2.sh).  The steps
 * are those of `jepatok train stage2` (src/train_stage2.c), the encoder
 * frozen unless --finetune-encoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_step.h"
#include "stage2.h"
#include "train.h"
#include "train_util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: jepatok bench stage2 [--config NAME | --model FILE] [--batch N] [--crop-seconds S] [--steps N]\n"
               "                            [--warmup N] [--threads N] [--backend NAME] [--adversarial]\n"
               "                            [--finetune-encoder S]\n"
               "Seconds per stage-2 training step (frozen encoder, decoder, L1 + MRSTFT, backward,\n"
               "clipping, AdamW; with --adversarial also the LSGAN and feature-matching terms and\n"
               "the discriminator step; with --finetune-encoder S > 0 the encoder's backward and\n"
               "AdamW too, at S times the learning rate, as train stage2) on random clips, median\n"
               "of --steps after --warmup; one JSON line.  --model FILE times the configuration\n"
               "model FILE was trained with (the shipped model's grown decoder, say) instead of\n"
               "--config (default small).\n");
}

int jt_bench_stage2(int argc, char **argv)
{
    static const char *const cmd = "jepatok bench stage2";
    jt_step_bench o = {.config = "small", .batch = 4, .steps = 3, .warmup = 1, .crop_seconds = 0.8};
    jt_config cfg;
    int parsed = jt_step_bench_parse(argc, argv, cmd, 1, &o, &cfg);
    if (parsed)
        usage(parsed == 1 ? stdout : stderr);
    if (parsed)
        return parsed == 1 ? 0 : 2;
    jc_backend *be = jt_step_bench_backend(&o, cmd);
    if (!be)
        return 1;
    int64_t batch = o.batch, steps = o.steps, warmup = o.warmup;
    int adversarial = o.adversarial;
    double crop_s = o.crop_seconds;
    char err[512];
    jc_error e = {0};
    jt_stage2 m;
    if (jt_stage2_model_create(&m, &cfg, be, 1, 0, adversarial, err, sizeof err)) {
        fprintf(stderr, "jepatok bench stage2: %s\n", err);
        jc_backend_free(be);
        return 1;
    }
    /* the trainer's optimisers (src/train_stage2.c), without the lr warm-up */
    jc_adamw_config gc = jt_train_adamw_config(&(jt_train_opts){0}, &cfg);
    gc.warmup_steps = 0;
    jc_adamw_config dc = gc;
    dc.lr = cfg.lr_disc;
    jc_adamw *opt_gen = jc_adamw_new(m.gen, gc, &e);
    jc_adamw *opt_disc = opt_gen && adversarial ? jc_adamw_new(m.disc, dc, &e) : NULL;
    jc_adamw_config ec = gc;
    ec.lr = cfg.lr * (float)o.finetune_encoder;
    jc_adamw *opt_enc = opt_gen && o.finetune_encoder > 0 ? jc_adamw_new(m.enc, ec, &e) : NULL;
    int64_t hop = jt_config_hop(&cfg), T = ((int64_t)(crop_s * cfg.sample_rate) + hop - 1) / hop * hop;
    jt_gen_step gs = {0};
    jt_disc_step ds = {0};
    int status = 1;
    float *wave = NULL, *ones = NULL;
    int64_t *len = NULL;
    double *times = NULL;
    if (!opt_gen || (adversarial && !opt_disc) || (o.finetune_encoder > 0 && !opt_enc)) {
        fprintf(stderr, "jepatok bench stage2: %s\n", e.msg);
        goto out;
    }
    if (jt_gen_step_build(&gs, &m, opt_gen, opt_enc, batch, T, adversarial, err, sizeof err) ||
        (adversarial && jt_disc_step_build(&ds, &m, opt_disc, batch, T, err, sizeof err))) {
        fprintf(stderr, "jepatok bench stage2: %s\n", err);
        goto out;
    }
    wave = malloc((size_t)(batch * T) * sizeof *wave);
    ones = malloc((size_t)(batch * T) * sizeof *ones);
    len = malloc((size_t)batch * sizeof *len);
    times = malloc((size_t)steps * sizeof *times);
    if (!wave || !ones || !len || !times) {
        fprintf(stderr, "jepatok bench stage2: out of memory\n");
        goto out;
    }
    jc_rng r;
    jc_rng_seed(&r, 7);
    for (int64_t i = 0; i < batch * T; i++) {
        wave[i] = 0.1f * (float)jc_rng_normal(&r);
        ones[i] = 1.0f;
    }
    for (int64_t b = 0; b < batch; b++)
        len[b] = T;
    jc_status st = jc_tensor_set(gs.wave, wave, &e);
    if (!st)
        st = jc_tensor_set(gs.smask, ones, &e);
    if (!st)
        st = jt_masks_set(&gs.mk, &cfg, len, &e);
    if (!st && adversarial)
        st = jc_tensor_set(ds.real, wave, &e);
    float loss_g = 0, loss_d = 0;
    for (int64_t k = 0; !st && k < warmup + steps; k++) {
        double t0 = jt_now();
        st = jc_adamw_begin_step(opt_gen, &e);
        if (!st && opt_enc)
            st = jc_adamw_begin_step(opt_enc, &e);
        if (!st)
            st = jc_graph_compute(gs.g, &e);
        if (!st && adversarial) {
            st = jc_tensor_copy(ds.fake, gs.fake, &e);
            if (!st)
                st = jc_adamw_begin_step(opt_disc, &e);
            if (!st)
                st = jc_graph_compute(ds.g, &e);
            if (!st)
                st = jc_tensor_get(ds.loss, &loss_d, &e);
        }
        if (!st)
            st = jc_tensor_get(gs.loss, &loss_g, &e); /* waits for the device */
        if (k >= warmup)
            times[k - warmup] = jt_now() - t0;
    }
    if (st) {
        fprintf(stderr, "jepatok bench stage2: %s\n", e.msg);
        goto out;
    }
    double median = jt_median(times, steps);
    jc_graph_stats gst, dst = {0};
    jc_graph_get_stats(gs.g, &gst);
    if (adversarial)
        jc_graph_get_stats(ds.g, &dst);
    size_t params = (size_t)(jc_store_nelem(m.enc, 0) + jc_store_nelem(m.gen, 0) +
                             (m.disc ? jc_store_nelem(m.disc, 0) : 0)) * 4;
    size_t optim = (size_t)(jc_store_nelem(jc_adamw_state(opt_gen), 0) +
                            (opt_disc ? jc_store_nelem(jc_adamw_state(opt_disc), 0) : 0) +
                            (opt_enc ? jc_store_nelem(jc_adamw_state(opt_enc), 0) : 0)) * 4;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    jc_device_info info;
    jc_backend_device_info(be, &info);
    char *model_json = jt_step_bench_model_json(&o);
    printf("{\"config\": \"%s\", \"model\": %s, \"batch\": %lld, \"crop_seconds\": %.2f, \"adversarial\": %s, "
           "\"finetune_encoder\": %g, \"backend\": \"%s\", "
           "\"device\": \"%s\", \"threads\": %d, \"seconds_per_step\": %.4f, \"planned_activation_mib\": %.1f, "
           "\"planned_disc_activation_mib\": %.1f, \"params_mib\": %.1f, \"optimiser_mib\": %.1f, "
           "\"peak_rss_mib\": %.1f, \"loss_g\": %.6g, \"loss_d\": %.6g}\n",
           cfg.name, model_json ? model_json : "null", (long long)batch, (double)T / cfg.sample_rate,
           adversarial ? "true" : "false",
           o.finetune_encoder, jc_backend_name(be), info.name, info.compute_units, median,
           (double)gst.planned_bytes / 1048576.0, (double)dst.planned_bytes / 1048576.0,
           (double)params / 1048576.0, (double)optim / 1048576.0, (double)ru.ru_maxrss / 1024.0, loss_g, loss_d);
    free(model_json);
    status = 0;
out:
    free(wave);
    free(ones);
    free(len);
    free(times);
    jt_gen_step_free(&gs);
    jt_disc_step_free(&ds);
    jc_adamw_free(opt_gen);
    jc_adamw_free(opt_disc);
    jc_adamw_free(opt_enc);
    jt_stage2_model_free(&m);
    jc_backend_free(be);
    return status;
}
