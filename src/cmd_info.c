/* cmd_info.c: `jepatok info`: sizes, cost and rates of a configuration. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "fsq.h"
#include "decoder.h"
#include "jepa.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: jepatok info [--config NAME|FILE.json | --model M] [--json]\n"
               "\n"
               "Parameter counts of every component, multiply-adds per second of audio,\n"
               "frame rate, tokens per second and bit rate of a configuration (and the\n"
               "keys in which it differs from the preset it is named after), and the\n"
               "model file (default: the model encode and decode use): path, id, and what\n"
               "its metadata records (training steps, data).\n"
               "  --model M       describe model file M and its configuration\n"
               "  --config NAME   paper, small (default) or tiny, or a JSON file of overrides\n"
               "                  applied to the small configuration\n"
               "  --json          machine-readable output\n");
}

/* NAME or a JSON file of overrides on top of "small". */
int jt_cli_config(const char *arg, jt_config *c, char *err, size_t errlen)
{
    if (jt_config_preset(arg, c) == 0)
        return jt_config_validate(c, err, errlen);
    if (strstr(arg, ".json")) {
        jt_config_preset("small", c);
        return jt_config_load_overrides(c, arg, err, errlen);
    }
    snprintf(err, errlen, "unknown configuration '%s' (paper, small, tiny or a .json file)", arg);
    return -1;
}

int jt_cmd_info(int argc, char **argv)
{
    const char *cfg_name = "small", *model = NULL;
    int as_json = 0, cfg_given = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            cfg_name = argv[++i];
            cfg_given = 1;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else {
            fprintf(stderr, "jepatok info: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char err[1024], path[4096];
    jt_config c;
    /* the model: the one named, else the default unless a configuration was asked for */
    jt_model m = {0};
    int have_model = 0;
    if (model || !cfg_given) {
        /* path names the model in the report below; the default's name is
         * written into it directly (never snprintf'd onto itself) */
        if (model)
            snprintf(path, sizeof path, "%s", model);
        else
            jt_model_default_path(path, sizeof path);
        have_model = jt_model_open(&m, path, err, sizeof err) == 0;
        if (!have_model && model) {
            fprintf(stderr, "jepatok info: %s\n", err);
            return 1;
        }
    }
    if (have_model)
        c = m.cfg;
    else if (jt_cli_config(cfg_name, &c, err, sizeof err)) {
        fprintf(stderr, "jepatok info: %s\n", err);
        return 1;
    }
    jc_error e = {0};
    jc_backend *be = jc_backend_open("cpu", "threads=1", &e);
    jt_jepa j;
    if (!be || jt_jepa_create(&j, &c, be, 0, 1, err, sizeof err)) {
        fprintf(stderr, "jepatok info: %s\n", be ? err : e.msg);
        jc_backend_free(be);
        return 1;
    }
    double enc_macs = 0, pred_macs = 0, dec_macs = 0, seconds = 16.0;
    jt_jepa_macs(&j, seconds, &enc_macs, &pred_macs);
    jc_store *s2 = jc_store_new(be);
    if (jt_stage2_create(s2, s2, &c, NULL, &dec_macs, err, sizeof err)) {
        fprintf(stderr, "jepatok info: %s\n", err);
        jc_store_free(s2);
        jt_jepa_free(&j);
        jc_backend_free(be);
        return 1;
    }
    int64_t n_dec = jt_count_params(s2, "dec."), n_mpd = jt_count_params(s2, "mpd."),
            n_msd = jt_count_params(s2, "msd.");
    jt_fsq_layout f;
    jt_fsq_layout_init(&f, &c);
    double fps = (double)c.sample_rate / jt_config_hop(&c);
    const char *changed[64]; /* more than the configuration has fields */
    int changed_max = (int)(sizeof changed / sizeof changed[0]);
    int changed_n = jt_config_changed_keys(&c, changed, changed_max);
    changed_n = changed_n > changed_max ? changed_max : changed_n;
    int64_t n_enc = jt_count_params(j.online, "enc."), n_pred = jt_count_params(j.online, "pred.");
    int64_t n_tok = jt_count_params(j.online, "mask_token"), n_target = jt_count_params(j.target, JT_TARGET_PREFIX "enc.");
    if (as_json) {
        json_t *root = json_object(), *params = json_object(), *macs = json_object();
        json_object_set_new(root, "config", json_string(c.name));
        if (changed_n >= 0) { /* the keys that differ from the preset */
            json_t *keys = json_array();
            for (int k = 0; k < changed_n; k++)
                json_array_append_new(keys, json_string(changed[k]));
            json_object_set_new(root, "config_changed", keys);
        }
        json_object_set_new(params, "encoder", json_integer(n_enc));
        json_object_set_new(params, "predictor", json_integer(n_pred));
        json_object_set_new(params, "mask_token", json_integer(n_tok));
        json_object_set_new(params, "target", json_integer(n_target));
        json_object_set_new(params, "decoder", json_integer(n_dec));
        json_object_set_new(params, "mpd", json_integer(n_mpd));
        json_object_set_new(params, "msd", json_integer(n_msd));
        json_object_set_new(root, "params", params);
        json_object_set_new(macs, "encoder_per_second", json_real(enc_macs));
        json_object_set_new(macs, "predictor_per_second", json_real(pred_macs));
        json_object_set_new(macs, "decoder_per_second", json_real(dec_macs));
        json_object_set_new(macs, "measured_on_seconds", json_real(seconds));
        json_object_set_new(root, "macs", macs);
        json_t *dch = json_array();
        for (int i = 0; i < 6; i++)
            json_array_append_new(dch, json_integer(c.dec_channels[i]));
        json_object_set_new(root, "decoder_channels", dch);
        json_object_set_new(root, "sample_rate", json_integer(c.sample_rate));
        json_object_set_new(root, "hop", json_integer(jt_config_hop(&c)));
        json_object_set_new(root, "frames_per_second", json_real(fps));
        json_object_set_new(root, "tokens_per_frame", json_integer(f.n_groups));
        json_object_set_new(root, "tokens_per_second", json_real(fps * f.n_groups));
        json_object_set_new(root, "bits_per_second", json_real(fps * jt_fsq_bits_per_frame(&f)));
        if (model || !cfg_given) {
            json_t *mj = json_object();
            json_object_set_new(mj, "path", json_string(path));
            json_object_set_new(mj, "loaded", json_boolean(have_model));
            if (have_model) {
                char hex[2 * JT_MODEL_ID_BYTES + 1];
                jt_model_id_hex(m.id, hex);
                json_object_set_new(mj, "id", json_string(hex));
                for (int i = 0; i < m.md.count; i++)
                    if (strcmp(m.md.keys[i], "config") != 0)
                        json_object_set_new(mj, m.md.keys[i], json_string(m.md.values[i]));
            } else {
                json_object_set_new(mj, "error", json_string(err));
            }
            json_object_set_new(root, "model", mj);
        }
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(root);
    } else {
        printf("configuration: %s", c.name);
        for (int k = 0; k < changed_n; k++)
            printf("%s%s", k ? ", " : ", changed: ", changed[k]);
        printf("\n");
        printf("parameters:\n");
        printf("  encoder     %12lld\n", (long long)n_enc);
        printf("  predictor   %12lld  (+ %lld mask token)\n", (long long)n_pred, (long long)n_tok);
        printf("  target      %12lld  (EMA copy of the encoder)\n", (long long)n_target);
        printf("  decoder     %12lld  (channels %d -> %d %d %d %d %d)\n", (long long)n_dec, c.dec_channels[0],
               c.dec_channels[1], c.dec_channels[2], c.dec_channels[3], c.dec_channels[4], c.dec_channels[5]);
        printf("  mpd         %12lld  (multi-period discriminator)\n", (long long)n_mpd);
        printf("  msd         %12lld  (multi-scale discriminator)\n", (long long)n_msd);
        printf("multiply-adds per second of audio: encoder %.3g (on %.0f s), predictor %.3g, decoder %.3g\n",
               enc_macs, seconds, pred_macs, dec_macs);
        printf("frames: %.1f per second (hop %d samples at %d Hz)\n", fps, jt_config_hop(&c), c.sample_rate);
        printf("tokens: %d per frame, %.1f per second, %.0f bit/s\n", f.n_groups, fps * f.n_groups,
               fps * jt_fsq_bits_per_frame(&f));
        if (have_model) {
            char hex[2 * JT_MODEL_ID_BYTES + 1];
            jt_model_id_hex(m.id, hex);
            printf("model: %s\n  id %s\n", path, hex);
            for (int i = 0; i < m.md.count; i++)
                if (strcmp(m.md.keys[i], "config") != 0 && strcmp(m.md.keys[i], "model_id") != 0)
                    printf("  %s: %s\n", m.md.keys[i], m.md.values[i]);
        } else if (!cfg_given) {
            printf("model: none loaded (%s)\n", err);
        }
    }
    if (have_model)
        jt_model_close(&m);
    jc_store_free(s2);
    jt_jepa_free(&j);
    jc_backend_free(be);
    return 0;
}
