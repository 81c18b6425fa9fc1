/* cmd_export.c: `jepatok export`: rewrite a model file, e.g. as float16 for
 * shipping.  The model id is recomputed from the values the new file holds,
 * so float16 and float32 files of one model have different ids: tokens say
 * exactly which weights made them. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "codec.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: jepatok export MODEL -o OUT [--f16]\n"
               "Copy a model file (a run's model.safetensors) keeping its metadata, as\n"
               "float32 or, with --f16, float16 (half the size); prints the new model id.\n");
}

int jt_cmd_export(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int f16 = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--f16")) {
            f16 = 1;
        } else if (argv[i][0] != '-' && !in) {
            in = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!in || !out) {
        usage(stderr);
        return 2;
    }
    char err[1024];
    jt_model m;
    if (jt_model_open(&m, in, err, sizeof err)) {
        fprintf(stderr, "jepatok export: %s\n", err);
        return 1;
    }
    jc_metadata keep = {0};
    for (int i = 0; i < m.md.count; i++)
        if (strcmp(m.md.keys[i], "model_id") != 0)
            jc_metadata_set(&keep, m.md.keys[i], m.md.values[i]);
    uint8_t id[JT_MODEL_ID_BYTES];
    int r = jt_model_save(out, &m.w, f16 ? JC_DTYPE_F16 : JC_DTYPE_F32, &keep, id, err, sizeof err);
    if (r)
        fprintf(stderr, "jepatok export: %s\n", err);
    else {
        char hex[2 * JT_MODEL_ID_BYTES + 1];
        jt_model_id_hex(id, hex);
        printf("%s: %s, model id %s\n", out, f16 ? "float16" : "float32", hex);
    }
    jc_metadata_free(&keep);
    jt_model_close(&m);
    return r ? 1 : 0;
}
