/* cmd_export.c: `jepatok export`: rewrite a model file, e.g. as float16 for
 * shipping, or write the mean of several (checkpoint averaging: the mean of
 * a run's last checkpoints smooths the noise of small-batch updates; on
 * the shipped model's run, at the end of a learning-rate decay, it changed
 * nothing measurable, models/README).  The model id is
 * recomputed from the values the new file holds, so float16 and float32
 * files of one model have different ids: tokens say exactly which weights
 * made them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: jepatok export MODEL [MODEL...] -o OUT [--f16]\n"
               "Copy a model file (a run's model.safetensors) keeping its metadata, as\n"
               "float32 or, with --f16, float16 (half the size); prints the new model id.\n"
               "Several models (of one architecture, e.g. checkpoints of one run, or a\n"
               "model and a cycle trained from it at another learning rate) are\n"
               "averaged weight by weight; a model named twice counts twice. The\n"
               "metadata and configuration are the last one's, plus averaged_ids, the\n"
               "ids of the models averaged.\n");
}

/* Every weight of acc becomes scale * itself + the same-named weight of src
 * (none when src is NULL). */
static int accumulate(jc_store *acc, const jc_store *src, float scale, char *err, size_t errlen)
{
    jc_error e = {0};
    for (int i = 0; i < jc_store_count(acc); i++) {
        jc_tensor *a = jc_store_at(acc, i), *b = src ? jc_store_find(src, jc_tensor_name(a)) : NULL;
        int64_t n = jc_tensor_nelem(a);
        if (src && (!b || jc_tensor_nelem(b) != n)) {
            snprintf(err, errlen, "weight %s differs", jc_tensor_name(a));
            return -1;
        }
        float *x = malloc((size_t)n * sizeof *x), *y = b ? malloc((size_t)n * sizeof *y) : NULL;
        int bad = !x || (b && !y) || jc_tensor_get(a, x, &e) || (b && jc_tensor_get(b, y, &e));
        for (int64_t k = 0; !bad && k < n; k++)
            x[k] = scale * x[k] + (y ? y[k] : 0.0f);
        bad = bad || jc_tensor_set(a, x, &e);
        free(x);
        free(y);
        if (bad) {
            snprintf(err, errlen, "%s", e.msg[0] ? e.msg : "out of memory");
            return -1;
        }
    }
    return 0;
}

/* acc, opened from the last of paths, becomes the mean of all n models;
 * ids receives their ids, space-separated, in the order given. */
static int average_models(jt_model *acc, char **paths, int n, char *ids, size_t idlen, char *err, size_t errlen)
{
    char *want = jt_config_to_json(&acc->cfg), hex[2 * JT_MODEL_ID_BYTES + 1];
    int r = want ? 0 : -1;
    if (!want)
        snprintf(err, errlen, "out of memory");
    ids[0] = 0;
    for (int i = 0; r == 0 && i < n - 1; i++) { /* the last is acc itself */
        jt_model m;
        char merr[512];
        if (jt_model_open(&m, paths[i], merr, sizeof merr)) {
            snprintf(err, errlen, "%s", merr);
            r = -1;
            break;
        }
        /* training settings may differ (a cycle run at another learning
         * rate averages with its start); the architecture may not */
        jt_config arch = m.cfg;
        jt_config_copy_training(&arch, &acc->cfg);
        char *cfg = jt_config_to_json(&arch);
        if (!cfg || strcmp(cfg, want) != 0)
            snprintf(merr, sizeof merr, "its architecture differs from %.300s's", paths[n - 1]), r = -1;
        else
            r = accumulate(acc->w.enc, m.w.enc, 1.0f, merr, sizeof merr) ||
                        accumulate(acc->w.gen, m.w.gen, 1.0f, merr, sizeof merr) ? -1 : 0;
        if (r)
            snprintf(err, errlen, "averaging %.400s: %s", paths[i], merr);
        jt_model_id_hex(m.id, hex);
        size_t len = strlen(ids);
        snprintf(ids + len, idlen - len, "%s ", hex);
        free(cfg);
        jt_model_close(&m);
    }
    free(want);
    jt_model_id_hex(acc->id, hex);
    strncat(ids, hex, idlen - strlen(ids) - 1);
    if (r == 0 && (accumulate(acc->w.enc, NULL, 1.0f / (float)n, err, errlen) ||
                   accumulate(acc->w.gen, NULL, 1.0f / (float)n, err, errlen)))
        r = -1;
    return r;
}

int jt_cmd_export(int argc, char **argv)
{
    const char *out = NULL;
    char **in = calloc((size_t)argc, sizeof *in);
    int f16 = 0, n_in = 0;
    if (!in)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(in);
            return 0;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--f16")) {
            f16 = 1;
        } else if (argv[i][0] != '-') {
            in[n_in++] = argv[i];
        } else {
            usage(stderr);
            free(in);
            return 2;
        }
    }
    if (!n_in || !out) {
        usage(stderr);
        free(in);
        return 2;
    }
    char err[1024];
    jt_model m;
    if (jt_model_open(&m, in[n_in - 1], err, sizeof err)) {
        fprintf(stderr, "jepatok export: %s\n", err);
        free(in);
        return 1;
    }
    jc_metadata keep = {0};
    for (int i = 0; i < m.md.count; i++)
        if (strcmp(m.md.keys[i], "model_id") != 0 && strcmp(m.md.keys[i], "averaged_ids") != 0)
            jc_metadata_set(&keep, m.md.keys[i], m.md.values[i]);
    size_t idlen = (size_t)n_in * (2 * JT_MODEL_ID_BYTES + 1) + 1;
    char *ids = malloc(idlen);
    int r = ids ? 0 : -1;
    if (!ids)
        snprintf(err, sizeof err, "out of memory");
    else if (n_in > 1 && (r = average_models(&m, in, n_in, ids, idlen, err, sizeof err)) == 0)
        jc_metadata_set(&keep, "averaged_ids", ids);
    uint8_t id[JT_MODEL_ID_BYTES];
    if (r == 0)
        r = jt_model_save(out, &m.w, f16 ? JC_DTYPE_F16 : JC_DTYPE_F32, &keep, id, err, sizeof err);
    if (r)
        fprintf(stderr, "jepatok export: %s\n", err);
    else {
        char hex[2 * JT_MODEL_ID_BYTES + 1];
        jt_model_id_hex(id, hex);
        printf("%s: %s%s, model id %s\n", out, f16 ? "float16" : "float32", n_in > 1 ? ", averaged" : "", hex);
    }
    free(ids);
    free(in);
    jc_metadata_free(&keep);
    jt_model_close(&m);
    return r ? 1 : 0;
}
