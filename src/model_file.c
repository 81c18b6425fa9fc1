/* model_file.c: saving and loading the tokenizer file (see model_file.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_file.h"
#include "sha256.h"

#ifndef JT_MODEL_DIR
#define JT_MODEL_DIR "/usr/local/share/jepatok"
#endif

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(jc_tensor_name(*(jc_tensor *const *)a), jc_tensor_name(*(jc_tensor *const *)b));
}

int jt_model_id(const jt_stage2 *m, uint8_t id[JT_MODEL_ID_BYTES], char *err, size_t errlen)
{
    int n_enc = jc_store_count(m->enc), n = n_enc + jc_store_count(m->gen);
    jc_tensor **all = malloc((size_t)n * sizeof *all);
    if (!all) {
        snprintf(err, errlen, "model id: out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++)
        all[i] = i < n_enc ? jc_store_at(m->enc, i) : jc_store_at(m->gen, i - n_enc);
    qsort(all, (size_t)n, sizeof *all, cmp_tensor_name);
    jt_sha256 h;
    jt_sha256_init(&h);
    int r = 0;
    for (int i = 0; i < n && r == 0; i++) {
        jc_tensor *t = all[i];
        jt_sha256_update(&h, jc_tensor_name(t), strlen(jc_tensor_name(t)) + 1);
        unsigned char le[8 * (JC_MAX_DIMS + 1)];
        int nd = jc_tensor_ndim(t);
        for (int d = 0; d <= nd; d++) {
            uint64_t v = d == 0 ? (uint64_t)nd : (uint64_t)jc_tensor_dim(t, d - 1);
            for (int k = 0; k < 8; k++)
                le[8 * d + k] = (unsigned char)(v >> (8 * k));
        }
        jt_sha256_update(&h, le, 8 * (size_t)(nd + 1));
        size_t ne = (size_t)jc_tensor_nelem(t);
        float *v = malloc((ne ? ne : 1) * sizeof *v);
        unsigned char *bytes = malloc((ne ? ne : 1) * 4);
        jc_error e = {0};
        if (!v || !bytes || jc_tensor_get(t, v, &e)) {
            snprintf(err, errlen, "model id: %s", v && bytes ? e.msg : "out of memory");
            r = -1;
        } else {
            for (size_t k = 0; k < ne; k++) {
                uint32_t u;
                memcpy(&u, &v[k], 4);
                for (int b = 0; b < 4; b++)
                    bytes[4 * k + b] = (unsigned char)(u >> (8 * b));
            }
            jt_sha256_update(&h, bytes, 4 * ne);
        }
        free(v);
        free(bytes);
    }
    free(all);
    unsigned char full[32];
    jt_sha256_final(&h, full);
    memcpy(id, full, JT_MODEL_ID_BYTES);
    return r;
}

void jt_model_id_hex(const uint8_t id[JT_MODEL_ID_BYTES], char hex[2 * JT_MODEL_ID_BYTES + 1])
{
    for (int i = 0; i < JT_MODEL_ID_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
}

int jt_model_save(const char *path, const jt_stage2 *m, jc_dtype dtype, const jc_metadata *extra,
                  uint8_t id_out[JT_MODEL_ID_BYTES], char *err, size_t errlen)
{
    /* work on a copy: rounding to F16 must not touch the caller's weights */
    jt_stage2 copy;
    if (jt_stage2_model_create(&copy, &m->cfg, m->be, 0, 1, 0, err, errlen))
        return -1;
    jc_error e = {0};
    uint8_t id[JT_MODEL_ID_BYTES];
    int r = -1;
    jc_metadata md = {0};
    char *cfg = jt_config_to_json(&m->cfg);
    if (jc_store_copy(copy.enc, m->enc, &e) || jc_store_copy(copy.gen, m->gen, &e) ||
        jc_store_round(copy.enc, dtype, &e) || jc_store_round(copy.gen, dtype, &e)) {
        snprintf(err, errlen, "saving %s: %s", path, e.msg);
        goto out;
    }
    if (jt_model_id(&copy, id, err, errlen))
        goto out;
    char hex[2 * JT_MODEL_ID_BYTES + 1];
    jt_model_id_hex(id, hex);
    for (int i = 0; extra && i < extra->count; i++)
        jc_metadata_set(&md, extra->keys[i], extra->values[i]);
    jc_metadata_set(&md, "format", "jepatok-model");
    jc_metadata_set(&md, "config", cfg ? cfg : "{}");
    jc_metadata_set(&md, "model_id", hex);
    jc_store *stores[] = {copy.enc, copy.gen, NULL};
    if (jc_safetensors_save(path, stores, &md, dtype, &e)) {
        snprintf(err, errlen, "%s", e.msg);
        goto out;
    }
    if (id_out)
        memcpy(id_out, id, sizeof id);
    r = 0;
out:
    free(cfg);
    jc_metadata_free(&md);
    jt_stage2_model_free(&copy);
    return r;
}

static int parse_hex_id(const char *hex, uint8_t id[JT_MODEL_ID_BYTES])
{
    if (!hex || strlen(hex) != 2 * JT_MODEL_ID_BYTES)
        return -1;
    for (int i = 0; i < JT_MODEL_ID_BYTES; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        id[i] = (uint8_t)v;
    }
    return 0;
}

int jt_model_read_header(const char *path, jt_config *cfg, uint8_t id[JT_MODEL_ID_BYTES], jc_metadata *md, char *err,
                         size_t errlen)
{
    jc_metadata got = {0};
    jc_error e = {0};
    if (jc_safetensors_read_metadata(path, &got, &e)) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    const char *fmt = jc_metadata_get(&got, "format"), *cj = jc_metadata_get(&got, "config");
    char cerr[256];
    if (!fmt || strcmp(fmt, "jepatok-model") != 0 || !cj ||
        parse_hex_id(jc_metadata_get(&got, "model_id"), id)) {
        snprintf(err, errlen, "%s: not a jepatok model (no format \"jepatok-model\", config and model_id; a "
                              "training checkpoint is not a model: use the run's model.safetensors)", path);
        jc_metadata_free(&got);
        return -1;
    }
    if (jt_config_from_json(cfg, cj, cerr, sizeof cerr) || jt_config_validate(cfg, cerr, sizeof cerr)) {
        snprintf(err, errlen, "%s: bad configuration: %s", path, cerr);
        jc_metadata_free(&got);
        return -1;
    }
    if (md)
        *md = got;
    else
        jc_metadata_free(&got);
    return 0;
}

int jt_model_load(const char *path, jc_backend *be, jt_stage2 *m, uint8_t id[JT_MODEL_ID_BYTES], jc_metadata *md,
                  char *err, size_t errlen)
{
    jc_metadata got = {0};
    jc_error e = {0};
    jt_config cfg;
    uint8_t want[JT_MODEL_ID_BYTES];
    memset(m, 0, sizeof *m);
    if (jt_model_read_header(path, &cfg, want, &got, err, errlen))
        return -1;
    int r = -1;
    if (jt_stage2_model_create(m, &cfg, be, 0, 1, 0, err, errlen))
        goto out;
    jc_store *stores[] = {m->enc, m->gen, NULL};
    if (jc_safetensors_load(path, stores, NULL, &e)) {
        snprintf(err, errlen, "%s", e.msg);
        goto out;
    }
    if (jt_model_id(m, id, err, errlen))
        goto out;
    if (memcmp(id, want, JT_MODEL_ID_BYTES) != 0) {
        snprintf(err, errlen, "%s: the weights do not match the model id in the file (corrupt or edited file)", path);
        goto out;
    }
    r = 0;
out:
    if (r)
        jt_stage2_model_free(m);
    if (r == 0 && md) {
        jc_metadata_free(md);
        *md = got;
    } else {
        jc_metadata_free(&got);
    }
    return r;
}

const char *jt_model_default_path(char *buf, size_t n)
{
    const char *env = getenv("JEPATOK_MODEL");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return buf;
    }
#ifdef JT_SOURCE_MODEL_DIR
    snprintf(buf, n, "%s/default.safetensors", JT_SOURCE_MODEL_DIR);
    if (access(buf, R_OK) == 0)
        return buf;
#endif
    snprintf(buf, n, "%s/default.safetensors", JT_MODEL_DIR);
    return buf;
}
