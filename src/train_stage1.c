/* train_stage1.c: `jepatok train stage1`: the JEPA encoder's self-
 * supervised training loop (MODEL.md, stage 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"
#include "masking.h"
#include "stage1.h"
#include "train.h"
#include "train_util.h"

/* Standard deviation over valid frames, averaged over clips and dims: the
 * collapse monitor (a representation that stops varying in time). */
static double mean_frame_std(const float *x, const int64_t *frames, int64_t B, int64_t D, int64_t F)
{
    double acc = 0;
    int64_t n = 0;
    for (int64_t b = 0; b < B; b++) {
        if (frames[b] < 2)
            continue;
        for (int64_t d = 0; d < D; d++) {
            const float *v = x + (b * D + d) * F;
            double m = 0, s = 0;
            for (int64_t t = 0; t < frames[b]; t++)
                m += v[t];
            m /= (double)frames[b];
            for (int64_t t = 0; t < frames[b]; t++)
                s += (v[t] - m) * (v[t] - m);
            acc += sqrt(s / (double)frames[b]);
            n++;
        }
    }
    return n ? acc / (double)n : 0;
}

static int save_checkpoint(const jt_train_opts *o, jt_jepa *j, jc_adamw *opt, int64_t step, int64_t data_index,
                           char *err, size_t errlen)
{
    char path[4096], num[32];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", o->out);
    jc_metadata md = {0};
    char *cfg = jt_config_to_json(&j->cfg);
    jc_metadata_set(&md, "format", "jepatok-stage1-checkpoint");
    jc_metadata_set(&md, "config", cfg ? cfg : "{}");
    snprintf(num, sizeof num, "%lld", (long long)step);
    jc_metadata_set(&md, "step", num);
    snprintf(num, sizeof num, "%lld", (long long)data_index);
    jc_metadata_set(&md, "data_index", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)o->seed);
    jc_metadata_set(&md, "seed", num);
    free(cfg);
    jc_store *stores[] = {j->online, j->target, jc_adamw_state(opt), NULL};
    jc_error e = {0};
    jc_status s = jc_safetensors_save(path, stores, &md, JC_DTYPE_F32, &e);
    jc_metadata_free(&md);
    if (s)
        snprintf(err, errlen, "%s", e.msg);
    return s ? -1 : 0;
}

static int64_t meta_int(const jc_metadata *md, const char *key)
{
    const char *v = jc_metadata_get(md, key);
    return v ? strtoll(v, NULL, 10) : -1;
}

int jt_train_stage1(const jt_train_opts *o)
{
    char err[1024];
    jt_config cfg;
    jc_metadata md = {0};
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o->out);
    if (o->resume) { /* the run's own configuration wins over --config */
        jc_error e = {0};
        if (jc_safetensors_read_metadata(ckpt, &md, &e)) {
            fprintf(stderr, "jepatok train stage1: cannot resume: %s\n", e.msg);
            return 1;
        }
        const char *fmt = jc_metadata_get(&md, "format");
        if (!fmt || strcmp(fmt, "jepatok-stage1-checkpoint") != 0 ||
            jt_config_from_json(&cfg, jc_metadata_get(&md, "config") ? jc_metadata_get(&md, "config") : "", err,
                                sizeof err)) {
            fprintf(stderr, "jepatok train stage1: %s is not a stage-1 checkpoint\n", ckpt);
            jc_metadata_free(&md);
            return 1;
        }
    } else if (jt_cli_config(o->config ? o->config : "small", &cfg, err, sizeof err)) {
        fprintf(stderr, "jepatok train stage1: %s\n", err);
        return 1;
    }
    if (o->lr > 0)
        cfg.lr = o->lr;
    jc_backend *be = jt_train_begin(o, "jepatok train stage1");
    if (!be) {
        jc_metadata_free(&md);
        return 1;
    }
    jc_error e = {0};
    int status = 1;
    jt_jepa j = {0};
    jc_adamw *opt = NULL;
    jt_data *data = NULL;
    jt_stage1_step s = {0};
    FILE *metrics = NULL;
    float *jm = NULL, *pred = NULL, *target = NULL;
    int64_t *frames = NULL;
    if (jt_jepa_create(&j, &cfg, be, o->seed, 0, err, sizeof err))
        goto out;
    jc_adamw_config ac = jt_train_adamw_config(o, &cfg);
    opt = jc_adamw_new(j.online, ac, &e);
    if (!opt) {
        snprintf(err, sizeof err, "%s", e.msg);
        goto out;
    }
    int64_t step = 0, data_index = 0;
    if (o->resume) {
        jc_store *stores[] = {j.online, j.target, jc_adamw_state(opt), NULL};
        if (jc_safetensors_load(ckpt, stores, NULL, &e)) {
            snprintf(err, sizeof err, "cannot resume: %s", e.msg);
            goto out;
        }
        step = meta_int(&md, "step");
        data_index = meta_int(&md, "data_index");
        jc_adamw_set_step(opt, step);
        fprintf(stderr, "resuming %s at step %lld\n", o->out, (long long)step);
    }
    int64_t hop = jt_config_hop(&cfg);
    int64_t crop = ((int64_t)(o->crop_seconds * cfg.sample_rate) + hop - 1) / hop * hop;
    if (crop < 2 * hop)
        crop = 2 * hop; /* at least two frames: one masked, one visible */
    jt_data_config dc = {o->batch, crop, cfg.sample_rate, o->seed, data_index, cfg.aug_gain_p, cfg.aug_noise_p, 3};
    data = jt_data_open(o->data, &dc, err, sizeof err);
    if (!data)
        goto out;
    if (jt_stage1_step_build(&s, &j, opt, o->batch, crop, err, sizeof err))
        goto out;
    jc_graph_stats gs;
    jc_graph_get_stats(s.g, &gs);
    jc_device_info info;
    jc_backend_device_info(be, &info);
    fprintf(stderr, "stage 1: config %s, %lld files, batch %lld x %.2f s, %lld steps on %s (%s); graph %d ops, "
                    "%.0f MiB planned\n",
            cfg.name, (long long)jt_data_files(data), (long long)o->batch, (double)crop / cfg.sample_rate,
            (long long)o->steps, jc_backend_name(be), info.name, gs.nodes, (double)gs.planned_bytes / 1048576.0);
    metrics = jt_metrics_open(o->out, step);
    int64_t B = o->batch, F = s.F, D = cfg.code_dim;
    jm = calloc((size_t)(B * F), sizeof *jm);
    pred = malloc((size_t)(B * D * F) * sizeof *pred);
    target = malloc((size_t)(B * D * F) * sizeof *target);
    frames = malloc((size_t)B * sizeof *frames);
    if (!metrics || !jm || !pred || !target || !frames) {
        snprintf(err, sizeof err, "cannot open %s/metrics.jsonl or out of memory", o->out);
        goto out;
    }
    jt_progress prog;
    jt_progress_start(&prog, step, o->steps);
    double t0 = jt_now();
    while (step < o->steps) {
        const jt_batch *bt;
        if (jt_data_next(data, &bt, err, sizeof err))
            goto out;
        step++;
        /* masks drawn from (seed, step): a resumed run draws the same */
        jc_rng mr;
        jc_rng_seed(&mr, o->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)step);
        int64_t masked = 0, valid = 0;
        for (int64_t b = 0; b < B; b++) {
            int64_t n = frames[b] = jt_frames_for(&cfg, bt->lengths[b]);
            masked += jt_span_mask(&mr, &cfg, (int)n, jm + b * F);
            memset(jm + b * F + n, 0, (size_t)(F - n) * sizeof *jm);
            valid += n;
        }
        jc_status st = jc_tensor_set(s.wave, bt->wave, &e);
        if (!st)
            st = jc_tensor_set(s.jmask, jm, &e);
        if (!st)
            st = jt_masks_set(&s.mk, &cfg, bt->lengths, &e);
        if (!st)
            st = jc_adamw_begin_step(opt, &e);
        jc_graph_set_seed(s.g, o->seed ^ ((uint64_t)step * 0xd1b54a32d192ed03ULL));
        if (!st)
            st = jc_graph_compute(s.g, &e);
        float loss = NAN, gnorm = NAN;
        if (!st)
            st = jc_tensor_get(s.loss, &loss, &e);
        if (!st)
            st = jc_tensor_get(s.grad_norm, &gnorm, &e);
        if (st) {
            snprintf(err, sizeof err, "step %lld: %s", (long long)step, e.msg);
            goto out;
        }
        if (!isfinite(loss) || !isfinite(gnorm)) {
            snprintf(err, sizeof err, "step %lld: the loss or gradient is not finite (loss %g, gradient norm %g); "
                     "the last checkpoint is in %s", (long long)step, loss, gnorm, o->out);
            goto out;
        }
        if (step % o->log_every == 0 || step == o->steps || step == 1) {
            jc_tensor_get(s.pred, pred, &e);
            jc_tensor_get(s.target, target, &e);
            double ps = mean_frame_std(pred, frames, B, D, F), ts = mean_frame_std(target, frames, B, D, F);
            fprintf(metrics,
                    "{\"step\": %lld, \"loss\": %.6g, \"pred_std\": %.5g, \"target_std\": %.5g, "
                    "\"masked_fraction\": %.4f, \"lr\": %.6g, \"grad_norm\": %.5g, \"seconds\": %.2f}\n",
                    (long long)step, loss, ps, ts, valid ? (double)masked / (double)valid : 0.0,
                    jc_adamw_lr_at(opt, step), gnorm, jt_now() - t0);
            fflush(metrics);
            if (ps < 0.01 || ts < 0.01)
                fprintf(stderr, "\nwarning: step %lld: representation collapse? std over frames of predictions %.4f, "
                                "of targets %.4f (< 0.01)\n", (long long)step, ps, ts);
        }
        char extra[64];
        snprintf(extra, sizeof extra, "loss %.4f", loss);
        jt_progress_update(&prog, step, extra);
        if (step % o->checkpoint_every == 0 || step == o->steps) {
            if (save_checkpoint(o, &j, opt, step, bt->next_index, err, sizeof err))
                goto out;
            static const char *const keys[] = {"loss"};
            jt_plot_metrics(o->out, keys, 1, "stage 1: masked-frame prediction loss");
        }
    }
    jt_progress_end(&prog);
    jt_train_report_skipped(data);
    fprintf(stderr, "done: %lld steps; checkpoint %s/checkpoint.safetensors\n", (long long)step, o->out);
    status = 0;
out:
    if (status)
        fprintf(stderr, "\njepatok train stage1: %s\n", err);
    if (metrics)
        fclose(metrics);
    free(jm);
    free(pred);
    free(target);
    free(frames);
    jt_stage1_step_free(&s);
    jt_data_close(data);
    jc_adamw_free(opt);
    jt_jepa_free(&j);
    jc_metadata_free(&md);
    jc_backend_free(be);
    return status;
}
