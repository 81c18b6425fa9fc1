/* train_stage2.c: `jepatok train stage2`: the decoder (HiFi-GAN) and its
 * discriminators on top of a stage-1 encoder (MODEL.md, stage 2). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "metrics.h"
#include "model_file.h"
#include "model_grow.h"
#include "spectrogram.h"
#include "stage2.h"
#include "train.h"
#include "train_util.h"

#define CHECKPOINT_FORMAT "jepatok-stage2-checkpoint"

typedef struct {
    const jt_train_opts *o;
    /* where the weights came from, recorded in the checkpoint and the model
     * file: "stage1" (--encoder: a stage-1 encoder) or "init" (--init: a
     * whole model to continue from); origin may be NULL */
    const char *origin_key, *origin;
    /* with --init, the id of the model continued ("" without): the path
     * alone names a file that later changes (models/default.safetensors) */
    char init_id[2 * JT_MODEL_ID_BYTES + 1];
    jt_stage2 m;
    jc_adamw *opt_gen, *opt_disc, *opt_enc;
} run;

static void add_int(jc_metadata *md, const char *key, long long v)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", v);
    jc_metadata_set(md, key, num);
}

static int save_checkpoint(run *r, int64_t step, int64_t data_index, char *err, size_t errlen)
{
    const jt_train_opts *o = r->o;
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", o->out);
    jc_metadata md = {0};
    char *cfg = jt_config_to_json(&r->m.cfg), scale[32];
    jc_metadata_set(&md, "format", CHECKPOINT_FORMAT);
    jc_metadata_set(&md, "config", cfg ? cfg : "{}");
    free(cfg);
    add_int(&md, "step", step);
    add_int(&md, "disc_step", jc_adamw_step(r->opt_disc));
    add_int(&md, "data_index", data_index);
    add_int(&md, "seed", (long long)o->seed);
    if (r->origin)
        jc_metadata_set(&md, r->origin_key, r->origin);
    if (r->init_id[0])
        jc_metadata_set(&md, "init_id", r->init_id);
    snprintf(scale, sizeof scale, "%g", o->finetune_encoder);
    jc_metadata_set(&md, "finetune_encoder", scale);
    jc_store *stores[8] = {r->m.enc, r->m.gen, r->m.disc, jc_adamw_state(r->opt_gen), jc_adamw_state(r->opt_disc)};
    if (r->opt_enc)
        stores[5] = jc_adamw_state(r->opt_enc);
    jc_error e = {0};
    int bad = jc_safetensors_save(path, stores, &md, JC_DTYPE_F32, &e) != JC_OK;
    if (bad)
        snprintf(err, errlen, "%s", e.msg);
    jc_metadata_free(&md);
    if (bad)
        return -1;
    /* the tokenizer as encode/decode load it */
    jc_metadata info = {0};
    add_int(&info, "stage2_steps", step);
    if (r->origin)
        jc_metadata_set(&info, r->origin_key, r->origin);
    if (r->init_id[0])
        jc_metadata_set(&info, "init_id", r->init_id);
    snprintf(path, sizeof path, "%s/model.safetensors", o->out);
    bad = jt_model_save(path, &r->m, JC_DTYPE_F32, &info, NULL, err, errlen);
    if (!bad && o->keep_models) {
        snprintf(path, sizeof path, "%s/models", o->out);
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %.900s: %s", path, strerror(errno));
            bad = -1;
        } else { /* a hard link to the file just written: the next checkpoint
                    replaces model.safetensors by a rename, the link keeps this one */
            char kept[4200];
            snprintf(kept, sizeof kept, "%s/models/%06lld.safetensors", o->out, (long long)step);
            snprintf(path, sizeof path, "%s/model.safetensors", o->out);
            if (link(path, kept) != 0) /* e.g. a file system without hard links */
                bad = jt_model_save(kept, &r->m, JC_DTYPE_F32, &info, NULL, err, errlen);
        }
    }
    jc_metadata_free(&info);
    return bad;
}

static int64_t meta_int(const jc_metadata *md, const char *key)
{
    const char *v = jc_metadata_get(md, key);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* A stage-1 run directory means its checkpoint. */
static void encoder_file(const char *arg, char *path, size_t n)
{
    struct stat sb;
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(path, n, "%s/checkpoint.safetensors", arg);
    else
        snprintf(path, n, "%s", arg);
}

/* --init continues a model as it was configured: its own configuration,
 * with --config's JSON overrides on top (e.g. wider dec_channels, another
 * learning rate); a preset name replaces it. */
static int init_config(const jt_train_opts *o, jt_config *cfg, char *err, size_t errlen)
{
    if (o->config && !strstr(o->config, ".json"))
        return jt_cli_config(o->config, cfg, err, errlen);
    jc_metadata md = {0};
    jc_error e = {0};
    if (jc_safetensors_read_metadata(o->init, &md, &e)) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    const char *cj = jc_metadata_get(&md, "config");
    int r = -1;
    if (!cj)
        snprintf(err, errlen, "%.900s: not a jepatok model (no configuration)", o->init);
    else
        r = jt_config_from_json(cfg, cj, err, errlen);
    jc_metadata_free(&md);
    if (r == 0 && o->config)
        r = jt_config_load_overrides(cfg, o->config, err, errlen);
    return r == 0 ? jt_config_validate(cfg, err, errlen) : -1;
}

static int read_config(const jt_train_opts *o, const char *ckpt, jt_config *cfg, jc_metadata *md, char *err,
                       size_t errlen)
{
    if (!o->resume && o->init)
        return init_config(o, cfg, err, errlen);
    if (!o->resume)
        return jt_cli_config(o->config ? o->config : "small", cfg, err, errlen);
    jc_error e = {0};
    if (jc_safetensors_read_metadata(ckpt, md, &e)) {
        snprintf(err, errlen, "cannot resume: %s", e.msg);
        return -1;
    }
    const char *fmt = jc_metadata_get(md, "format"), *cj = jc_metadata_get(md, "config");
    if (!fmt || strcmp(fmt, CHECKPOINT_FORMAT) != 0 || !cj || jt_config_from_json(cfg, cj, err, errlen)) {
        snprintf(err, errlen, "%.900s is not a stage-2 checkpoint", ckpt);
        return -1;
    }
    return 0;
}

static int create_optimisers(run *r, char *err, size_t errlen)
{
    const jt_config *c = &r->m.cfg;
    jc_error e = {0};
    jc_adamw_config gc = jt_train_adamw_config(r->o, c);
    jc_adamw_config dc = gc;
    dc.lr = c->lr_disc;
    r->opt_gen = jc_adamw_new(r->m.gen, gc, &e);
    r->opt_disc = r->opt_gen ? jc_adamw_new(r->m.disc, dc, &e) : NULL;
    if (r->opt_disc && r->o->finetune_encoder > 0) {
        jc_adamw_config ec = gc;
        ec.lr = c->lr * (float)r->o->finetune_encoder;
        r->opt_enc = jc_adamw_new(r->m.enc, ec, &e);
        if (!r->opt_enc)
            r->opt_disc = NULL;
    }
    if (!r->opt_gen || !r->opt_disc) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    return 0;
}

/* Per-sample validity [B, 1, T] of a batch. */
static void sample_mask(const jt_batch *bt, int64_t B, int64_t T, float *mask)
{
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            mask[b * T + t] = t < bt->lengths[b] ? 1.0f : 0.0f;
}

static float get1(jc_tensor *t)
{
    float v = NAN;
    jc_error e = {0};
    if (t)
        jc_tensor_get(t, &v, &e);
    return t ? v : 0.0f;
}

int jt_train_stage2(const jt_train_opts *o)
{
    char err[1024], ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o->out);
    jt_config cfg;
    jc_metadata md = {0};
    if (read_config(o, ckpt, &cfg, &md, err, sizeof err)) {
        fprintf(stderr, "jepatok train stage2: %s\n", err);
        jc_metadata_free(&md);
        return 1;
    }
    if (!o->resume && !o->encoder == !o->init) {
        fprintf(stderr, "jepatok train stage2: one of --encoder STAGE1_DIR_OR_FILE and --init MODEL is required\n");
        jc_metadata_free(&md);
        return 2;
    }
    if (o->lr > 0)
        cfg.lr = o->lr;
    jc_backend *be = jt_train_begin(o, "jepatok train stage2");
    if (!be) {
        jc_metadata_free(&md);
        return 1;
    }
    jc_error e = {0};
    int status = 1;
    run r = {.o = o,
             .origin_key = o->init ? "init" : "stage1",
             .origin = o->resume ? NULL : o->init ? o->init : o->encoder};
    jt_data *data = NULL;
    jt_gen_step gs = {0};
    jt_disc_step ds = {0};
    FILE *metrics = NULL;
    float *mask = NULL, *fake = NULL;
    if (jt_stage2_model_create(&r.m, &cfg, be, o->seed, 0, 1, err, sizeof err) ||
        create_optimisers(&r, err, sizeof err))
        goto out;
    if (!r.opt_enc) /* frozen: no gradient, no optimiser state */
        for (int i = 0; i < jc_store_count(r.m.enc); i++)
            jc_tensor_set_trainable(jc_store_at(r.m.enc, i), 0);
    int64_t step = 0, data_index = 0;
    if (o->resume) {
        jc_store *stores[8] = {r.m.enc, r.m.gen, r.m.disc, jc_adamw_state(r.opt_gen), jc_adamw_state(r.opt_disc)};
        if (r.opt_enc)
            stores[5] = jc_adamw_state(r.opt_enc);
        if (jc_safetensors_load(ckpt, stores, NULL, &e)) {
            snprintf(err, sizeof err, "cannot resume: %s", e.msg);
            goto out;
        }
        /* the weights came from the checkpoint: keep recording their origin
         * (a resumed run's model file equals an uninterrupted run's) */
        r.origin_key = jc_metadata_get(&md, "init") ? "init" : "stage1";
        r.origin = jc_metadata_get(&md, r.origin_key);
        const char *init_id = jc_metadata_get(&md, "init_id");
        if (init_id)
            snprintf(r.init_id, sizeof r.init_id, "%s", init_id);
        step = meta_int(&md, "step");
        data_index = meta_int(&md, "data_index");
        jc_adamw_set_step(r.opt_gen, step);
        jc_adamw_set_step(r.opt_disc, meta_int(&md, "disc_step"));
        if (r.opt_enc)
            jc_adamw_set_step(r.opt_enc, step);
        fprintf(stderr, "resuming %s at step %lld\n", o->out, (long long)step);
    } else if (o->init) { /* the encoder and decoder of a model file, the decoder possibly widened */
        char gerr[900];
        uint8_t id[JT_MODEL_ID_BYTES];
        if (jt_model_grow_from(&r.m, o->init, id, gerr, sizeof gerr)) {
            snprintf(err, sizeof err, "starting from %s: %s", o->init, gerr);
            goto out;
        }
        jt_model_id_hex(id, r.init_id);
    } else {
        char path[4096];
        encoder_file(o->encoder, path, sizeof path);
        jc_store *stores[] = {r.m.enc, NULL};
        if (jc_safetensors_load_subset(path, stores, NULL, &e)) {
            snprintf(err, sizeof err, "loading the stage-1 encoder: %s", e.msg);
            goto out;
        }
    }
    int64_t hop = jt_config_hop(&cfg);
    int64_t T = ((int64_t)(o->crop_seconds * cfg.sample_rate) + hop - 1) / hop * hop, B = o->batch;
    if (T < hop)
        T = hop;
    jt_data_config dcfg = {B, T, cfg.sample_rate, o->seed, data_index, cfg.aug_gain_p, cfg.aug_noise_p, 3};
    data = jt_data_open(o->data, &dcfg, err, sizeof err);
    if (!data)
        goto out;
    metrics = jt_metrics_open(o->out, step);
    mask = malloc((size_t)(B * T) * sizeof *mask);
    fake = malloc((size_t)(B * T) * sizeof *fake);
    if (!metrics || !mask || !fake) {
        snprintf(err, sizeof err, "cannot open %s/metrics.jsonl or out of memory", o->out);
        goto out;
    }
    jc_device_info info;
    jc_backend_device_info(be, &info);
    fprintf(stderr, "stage 2: config %s, %lld files, batch %lld x %.2f s, %lld steps on %s (%s); encoder %s, "
                    "discriminators from step %d\n",
            cfg.name, (long long)jt_data_files(data), (long long)B, (double)T / cfg.sample_rate, (long long)o->steps,
            jc_backend_name(be), info.name, r.opt_enc ? "fine-tuned" : "frozen", cfg.disc_start);
    jt_progress prog;
    jt_progress_start(&prog, step, o->steps);
    double t0 = jt_now();
    while (step < o->steps) {
        const jt_batch *bt;
        if (jt_data_next(data, &bt, err, sizeof err))
            goto out;
        step++;
        int adversarial = step >= cfg.disc_start;
        if (!gs.g || gs.adversarial != adversarial) { /* the graphs change once, at disc_start */
            jt_gen_step_free(&gs);
            if (jt_gen_step_build(&gs, &r.m, r.opt_gen, r.opt_enc, B, T, adversarial, err, sizeof err) ||
                (adversarial && jt_disc_step_build(&ds, &r.m, r.opt_disc, B, T, err, sizeof err)))
                goto out;
        }
        sample_mask(bt, B, T, mask);
        jc_status st = jc_tensor_set(gs.wave, bt->wave, &e);
        if (!st)
            st = jc_tensor_set(gs.smask, mask, &e);
        if (!st)
            st = jt_masks_set(&gs.mk, &cfg, bt->lengths, &e);
        if (!st)
            st = jc_adamw_begin_step(r.opt_gen, &e);
        if (!st && r.opt_enc)
            st = jc_adamw_begin_step(r.opt_enc, &e);
        jc_graph_set_seed(gs.g, o->seed ^ ((uint64_t)step * 0xd1b54a32d192ed03ULL));
        if (!st)
            st = jc_graph_compute(gs.g, &e);
        float loss_d = 0;
        if (!st && adversarial) {
            st = jc_tensor_copy(ds.fake, gs.fake, &e);
            if (!st)
                st = jc_tensor_set(ds.real, bt->wave, &e);
            if (!st)
                st = jc_adamw_begin_step(r.opt_disc, &e);
            if (!st)
                st = jc_graph_compute(ds.g, &e);
            loss_d = get1(ds.loss);
        }
        if (st) {
            snprintf(err, sizeof err, "step %lld: %s", (long long)step, e.msg);
            goto out;
        }
        float loss_g = get1(gs.loss), gnorm = get1(gs.grad_norm);
        if (!isfinite(loss_g) || !isfinite(loss_d) || !isfinite(gnorm)) {
            snprintf(err, sizeof err, "step %lld: a loss or gradient is not finite (generator %g, discriminator %g, "
                     "gradient norm %g); the last checkpoint is in %s", (long long)step, loss_g, loss_d, gnorm, o->out);
            goto out;
        }
        int checkpoint = step % o->checkpoint_every == 0 || step == o->steps;
        if (step % o->log_every == 0 || step == o->steps || step == 1 || checkpoint) {
            jc_tensor_get(gs.fake, fake, &e);
            int64_t n0 = bt->lengths[0];
            double mel = jt_mel_distance(bt->wave, fake, (size_t)n0, cfg.sample_rate);
            fprintf(metrics,
                    "{\"step\": %lld, \"loss_g\": %.6g, \"loss_d\": %.6g, \"mel_l1\": %.5g, \"stft\": %.5g, "
                    "\"l1\": %.5g, \"fm\": %.5g, \"adv\": %.5g, \"lr\": %.6g, \"grad_norm\": %.5g, \"seconds\": %.2f",
                    (long long)step, loss_g, loss_d, mel, get1(gs.stft), get1(gs.l1), get1(gs.fm), get1(gs.adv),
                    jc_adamw_lr_at(r.opt_gen, step), gnorm, jt_now() - t0);
            if (gs.stoi) /* only in runs that train with them */
                fprintf(metrics, ", \"stoi_loss\": %.5g", get1(gs.stoi));
            if (gs.estoi)
                fprintf(metrics, ", \"estoi_loss\": %.5g", get1(gs.estoi));
            fputs("}\n", metrics);
            fflush(metrics);
            if (checkpoint) {
                char png[4200];
                snprintf(png, sizeof png, "%s/spectrogram.png", o->out);
                const float *pair[2] = {bt->wave, fake};
                jt_spectrogram_png(png, pair, 2, (size_t)n0, cfg.sample_rate);
            }
        }
        char extra[96];
        snprintf(extra, sizeof extra, "G %.4f D %.4f", loss_g, loss_d);
        jt_progress_update(&prog, step, extra);
        if (checkpoint) {
            if (save_checkpoint(&r, step, bt->next_index, err, sizeof err))
                goto out;
            static const char *const keys[] = {"loss_g", "stft", "mel_l1", "loss_d"};
            jt_plot_metrics(o->out, keys, 4, "stage 2: generator, MR-STFT, mel L1, discriminator");
        }
    }
    jt_progress_end(&prog);
    jt_train_report_skipped(data);
    fprintf(stderr, "done: %lld steps; tokenizer %s/model.safetensors\n", (long long)step, o->out);
    status = 0;
out:
    if (status)
        fprintf(stderr, "\njepatok train stage2: %s\n", err);
    if (metrics)
        fclose(metrics);
    free(mask);
    free(fake);
    jt_gen_step_free(&gs);
    jt_disc_step_free(&ds);
    jt_data_close(data);
    jc_adamw_free(r.opt_gen);
    jc_adamw_free(r.opt_disc);
    jc_adamw_free(r.opt_enc);
    jt_stage2_model_free(&r.m);
    jc_metadata_free(&md);
    jc_backend_free(be);
    return status;
}
