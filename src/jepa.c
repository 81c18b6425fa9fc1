/* jepa.c: creating the stage-1 model and counting its size and cost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jepa.h"

/* Record the online model once against st so every parameter exists. */
static int record_model(jt_nn *m, jc_graph *g, const jt_config *c, int64_t T, double *enc_macs, double *pred_macs)
{
    jt_masks mk;
    jt_masks_inputs(g, c, 1, T, &mk);
    jc_tensor *wave = jc_input(g, "wave", 3, (int64_t[]){1, 1, T});
    jc_tensor *z = jt_encoder(m, wave, &mk);
    if (enc_macs)
        *enc_macs = jc_graph_macs(g);
    jc_tensor *tok = jt_param(m, "mask_token", 3, (int64_t[]){1, c->code_dim, 1}, JT_INIT_TRUNC_NORMAL, 0.02f);
    jc_tensor *p = jt_predictor(m, z, &mk);
    if (pred_macs)
        *pred_macs = jc_graph_macs(g) - (enc_macs ? *enc_macs : 0);
    return m->failed || !tok || !p ? -1 : 0;
}

int jt_jepa_create(jt_jepa *j, const jt_config *c, jc_backend *be, uint64_t seed, int no_init, char *err,
                   size_t errlen)
{
    memset(j, 0, sizeof *j);
    j->cfg = *c;
    j->be = be;
    j->online = jc_store_new(be);
    j->target = jc_store_new(be);
    jc_rng rng;
    jc_rng_seed(&rng, seed);
    jc_graph *g = jc_graph_new(be);
    jt_nn m = {.g = g, .params = j->online, .rng = &rng, .no_init = no_init, .training = 1, .cfg = &j->cfg};
    int r = record_model(&m, g, &j->cfg, jt_config_hop(c), NULL, NULL);
    jc_error e = {0};
    if (r)
        snprintf(err, errlen, "creating the model: %s", m.failed ? m.err : "graph error");
    else if (jc_graph_status(g, &e))
        snprintf(err, errlen, "creating the model: %s", e.msg), r = -1;
    jc_graph_free(g);
    for (int i = 0; r == 0 && i < jc_store_count(j->online); i++) {
        jc_tensor *t = jc_store_at(j->online, i);
        if (strncmp(jc_tensor_name(t), "enc.", 4) != 0)
            continue;
        int64_t shape[4];
        for (int d = 0; d < jc_tensor_ndim(t); d++)
            shape[d] = jc_tensor_dim(t, d);
        char name[256];
        snprintf(name, sizeof name, "%s%s", JT_TARGET_PREFIX, jc_tensor_name(t));
        if (!jc_store_buffer(j->target, name, jc_tensor_ndim(t), shape, &e)) {
            snprintf(err, errlen, "creating the target encoder: %s", e.msg);
            r = -1;
        }
    }
    if (r == 0 && !no_init && jt_jepa_reset_target(j, &e)) {
        snprintf(err, errlen, "copying the target encoder: %s", e.msg);
        r = -1;
    }
    if (r)
        jt_jepa_free(j);
    return r;
}

jc_status jt_jepa_reset_target(jt_jepa *j, jc_error *err)
{
    size_t plen = strlen(JT_TARGET_PREFIX);
    for (int i = 0; i < jc_store_count(j->target); i++) {
        jc_tensor *t = jc_store_at(j->target, i), *on = jc_store_find(j->online, jc_tensor_name(t) + plen);
        if (!on)
            return jc_error_set(err, JC_ERR_INVALID, "target: '%s' has no online twin", jc_tensor_name(t));
        jc_status s = jc_tensor_copy(t, on, err);
        if (s)
            return s;
    }
    return JC_OK;
}

void jt_jepa_free(jt_jepa *j)
{
    jc_store_free(j->online);
    jc_store_free(j->target);
    j->online = j->target = NULL;
}

int64_t jt_count_params(const jc_store *st, const char *prefix)
{
    int64_t n = 0;
    size_t len = strlen(prefix);
    for (int i = 0; i < jc_store_count(st); i++) {
        jc_tensor *t = jc_store_at(st, i);
        if (strncmp(jc_tensor_name(t), prefix, len) == 0)
            n += jc_tensor_nelem(t);
    }
    return n;
}

int jt_jepa_macs(const jt_jepa *j, double seconds, double *enc_macs, double *pred_macs)
{
    int64_t hop = jt_config_hop(&j->cfg);
    int64_t T = (int64_t)(seconds * j->cfg.sample_rate + hop - 1) / hop * hop;
    jc_graph *g = jc_graph_new(j->be);
    jt_nn m = {.g = g, .params = j->online, .cfg = &j->cfg};
    int r = record_model(&m, g, &j->cfg, T, enc_macs, pred_macs);
    jc_graph_free(g);
    *enc_macs /= seconds;
    *pred_macs /= seconds;
    return r;
}
