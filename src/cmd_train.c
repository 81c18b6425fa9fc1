/* cmd_train.c: `jepatok train stage1|stage2`: option parsing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "train.h"
#include "train_util.h"

jc_backend *jt_open_backend(const char *name, jc_error *err)
{
    if (!name)
        name = getenv("JEPATOK_BACKEND");
    if (!name)
        name = "cpu";
    jc_backend *be = jc_backend_open(name, NULL, err);
    if (be && strncmp(name, "auto", 4) == 0 && (name[4] == 0 || name[4] == ':')) {
        jc_device_info info;
        jc_backend_device_info(be, &info);
        fprintf(stderr, "backend auto: picked %s (%s)\n", jc_backend_name(be), info.name);
    }
    return be;
}

jc_backend *jt_train_begin(const jt_train_opts *o, const char *cmd)
{
    if (jt_mkdirs(o->out)) {
        fprintf(stderr, "%s: cannot create %s\n", cmd, o->out);
        return NULL;
    }
    jc_error e = {0};
    jc_backend *be = jt_open_backend(o->backend, &e);
    if (!be)
        fprintf(stderr, "%s: %s\n", cmd, e.msg);
    return be;
}

jc_adamw_config jt_train_adamw_config(const jt_train_opts *o, const jt_config *c)
{
    jc_adamw_config ac = {c->lr, c->beta1, c->beta2, 1e-8f, c->weight_decay, c->warmup_steps, c->clip_norm, 0, 0};
    if (o->decay_from > 0) {
        ac.decay_start = o->decay_from;
        ac.decay_end = o->steps;
    }
    return ac;
}

void jt_train_report_skipped(const jt_data *data)
{
    char skipped[1024];
    int n_skip = jt_data_skipped(data, skipped, sizeof skipped);
    if (n_skip)
        fprintf(stderr, "skipped %d unusable file(s): %s\n", n_skip, skipped);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: jepatok train stage1 --data PATH --out DIR [options]\n"
            "\n"
            "Stage 1: self-supervised JEPA training of the encoder (masked-frame\n"
            "prediction in latent space against an EMA target encoder).\n"
            "  --data PATH          directory of audio files (searched recursively) or a\n"
            "                       text file listing them; any rate and channel count\n"
            "  --out DIR            run directory: checkpoint.safetensors, metrics.jsonl,\n"
            "                       loss.svg\n"
            "  --config NAME        paper, small (default), tiny, or FILE.json overrides\n"
            "  --steps N            total optimiser steps (default 1000)\n"
            "  --batch N            clips per batch (default 8)\n"
            "  --crop-seconds S     random crop length (default 4; at least 0.8)\n"
            "  --lr LR              peak learning rate (default: the configuration's, 1.5e-4)\n"
            "  --lr-decay-from N    from step N to --steps, every learning rate falls to 0\n"
            "                       along a half cosine (default: constant after warm-up;\n"
            "                       give it again with --resume)\n"
            "  --seed N             seed of initialisation, data order, masks (default 1)\n"
            "  --backend NAME       cpu, opencl, vulkan or auto (default $JEPATOK_BACKEND or cpu),\n"
            "                       optionally with options: cpu:threads=2, vulkan:device=1\n"
            "  --log-every N        metrics every N steps (default 10)\n"
            "  --checkpoint-every N checkpoint and loss picture every N steps (default 200)\n"
            "  --resume             continue the run in DIR from its checkpoint, exactly\n"
            "\n"
            "usage: jepatok train stage2 --encoder STAGE1|--init MODEL --data PATH --out DIR [options]\n"
            "\n"
            "Stage 2: FSQ on the frozen stage-1 encoder and a HiFi-GAN decoder with\n"
            "multi-period and multi-scale discriminators (from the configuration's\n"
            "disc_start step).  The options above, with these defaults: --batch 4,\n"
            "--crop-seconds 2; and:\n"
            "  --encoder PATH       stage-1 run directory or checkpoint (strict load)\n"
            "  --finetune-encoder S train the encoder too, at S times the learning rate\n"
            "                       (default 0: frozen)\n"
            "  --init MODEL         start the encoder and the decoder from a model file\n"
            "                       (e.g. the shipped one, to train it further; replaces\n"
            "                       --encoder); the configuration is then MODEL's, and a\n"
            "                       --config FILE.json overrides it: wider dec_channels\n"
            "                       grow the decoder (the model's weights fill the larger\n"
            "                       tensors; the grown model decodes as the original\n"
            "                       until the new channels have learnt)\n"
            "  --keep-models        also keep the model of every checkpoint as\n"
            "                       DIR/models/STEP.safetensors (to pick the best on a\n"
            "                       validation set, or to average the last few with\n"
            "                       jepatok export)\n"
            "  DIR receives checkpoint.safetensors, model.safetensors (the tokenizer that\n"
            "  encode and decode load), metrics.jsonl, loss.svg and spectrogram.png (an\n"
            "  input above its reconstruction, at every checkpoint).\n");
}

int jt_cmd_train(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    int stage2 = strcmp(argv[1], "stage2") == 0;
    if (!stage2 && strcmp(argv[1], "stage1") != 0) {
        fprintf(stderr, "jepatok train: unknown stage '%s' (stage1 or stage2)\n", argv[1]);
        return 2;
    }
    jt_train_opts o = {.steps = 1000, .batch = stage2 ? 4 : 8, .log_every = 10,
                       .checkpoint_every = 200, .crop_seconds = stage2 ? 2.0 : 4.0, .seed = 1};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--resume")) {
            o.resume = 1;
        } else if (has && !strcmp(a, "--data")) {
            o.data = argv[++i];
        } else if (has && !strcmp(a, "--out")) {
            o.out = argv[++i];
        } else if (has && !strcmp(a, "--config")) {
            o.config = argv[++i];
        } else if (has && !strcmp(a, "--backend")) {
            o.backend = argv[++i];
        } else if (has && !strcmp(a, "--steps")) {
            o.steps = atoll(argv[++i]);
        } else if (has && !strcmp(a, "--batch")) {
            o.batch = atoll(argv[++i]);
        } else if (has && !strcmp(a, "--crop-seconds")) {
            o.crop_seconds = atof(argv[++i]);
        } else if (has && !strcmp(a, "--lr")) {
            o.lr = (float)atof(argv[++i]);
        } else if (has && !strcmp(a, "--lr-decay-from")) {
            o.decay_from = atoll(argv[++i]);
        } else if (has && !strcmp(a, "--seed")) {
            o.seed = strtoull(argv[++i], NULL, 10);
        } else if (has && !strcmp(a, "--log-every")) {
            o.log_every = atoll(argv[++i]);
        } else if (has && !strcmp(a, "--checkpoint-every")) {
            o.checkpoint_every = atoll(argv[++i]);
        } else if (stage2 && has && !strcmp(a, "--encoder")) {
            o.encoder = argv[++i];
        } else if (stage2 && has && !strcmp(a, "--init")) {
            o.init = argv[++i];
        } else if (stage2 && !strcmp(a, "--keep-models")) {
            o.keep_models = 1;
        } else if (stage2 && has && !strcmp(a, "--finetune-encoder")) {
            o.finetune_encoder = atof(argv[++i]);
        } else {
            fprintf(stderr, "jepatok train %s: unknown or incomplete option '%s'\n", argv[1], a);
            usage(stderr);
            return 2;
        }
    }
    if (!o.data || !o.out || o.steps < 1 || o.batch < 1 || o.log_every < 1 || o.checkpoint_every < 1 ||
        !(o.crop_seconds > 0) || !(o.finetune_encoder >= 0)) {
        fprintf(stderr, "jepatok train %s: --data and --out are required; counts must be positive\n", argv[1]);
        return 2;
    }
    return stage2 ? jt_train_stage2(&o) : jt_train_stage1(&o);
}
