/* stage1.c: the stage-1 training step graph (see stage1.h). */
#include <stdio.h>

#include "stage1.h"

int jt_stage1_step_build(jt_stage1_step *s, jt_jepa *j, jc_adamw *opt, int64_t B, int64_t T, char *err,
                         size_t errlen)
{
    const jt_config *c = &j->cfg;
    int64_t hop = jt_config_hop(c);
    if (T % hop || T < hop) {
        snprintf(err, errlen, "stage 1: clip length %lld is not a positive multiple of %lld", (long long)T,
                 (long long)hop);
        return -1;
    }
    jc_graph *g = jc_graph_new(j->be);
    *s = (jt_stage1_step){.g = g, .B = B, .T = T, .F = T / hop};
    jt_masks_inputs(g, c, B, T, &s->mk);
    s->wave = jc_input(g, "wave", 3, (int64_t[]){B, 1, T});
    s->jmask = jc_input(g, "jepa_mask", 3, (int64_t[]){B, 1, s->F});

    jt_nn online = {.g = g, .params = j->online, .training = 1, .cfg = c};
    jt_nn target = {.g = g, .params = j->target, .training = 0, .cfg = c, .prefix = "target"};
    jc_tensor *wave_online = s->wave;
    if (c->mask_waveform) { /* the online encoder hears nothing of the masked frames */
        jc_tensor *up = jc_expand(g, jc_reshape(g, s->jmask, 4, (int64_t[]){B, 1, s->F, 1}), 4,
                                  (int64_t[]){B, 1, s->F, hop});
        jc_tensor *keep = jc_scale(g, jc_reshape(g, up, 3, (int64_t[]){B, 1, T}), -1.0f, 1.0f);
        wave_online = jc_mul(g, s->wave, keep);
    }
    jc_tensor *z = jt_encoder(&online, wave_online, &s->mk);
    jc_tensor *tok = jt_param(&online, "mask_token", 3, (int64_t[]){1, c->code_dim, 1}, JT_INIT_CONST, 0);
    /* z where visible, the learned token where masked */
    jc_tensor *ctx = jc_add(g, z, jc_mul(g, jc_sub(g, tok, z), s->jmask));
    s->pred = jt_predictor(&online, ctx, &s->mk);
    s->target = jc_stop_gradient(g, jt_encoder(&target, s->wave, &s->mk));
    /* sum over masked frames and dims / (masked frames * D) */
    s->loss = jc_mse_loss(g, s->pred, s->target, s->jmask);
    if (online.failed || target.failed) {
        snprintf(err, errlen, "stage 1: %s", online.failed ? online.err : target.err);
        jt_stage1_step_free(s);
        return -1;
    }
    jc_graph_output(g, s->loss);
    jc_graph_output(g, s->pred);
    jc_graph_output(g, s->target);
    jc_error e = {0};
    jc_status st = JC_OK;
    if (opt) {
        st = jc_backward(g, s->loss, &e);
        if (st == JC_OK)
            st = jc_adamw_append(opt, g, &s->grad_norm, &e);
        if (st == JC_OK)
            st = jc_ema_append(g, j->target, j->online, JT_TARGET_PREFIX, c->ema_decay, &e);
    }
    if (st == JC_OK)
        st = jc_graph_build(g, &e);
    if (st != JC_OK) {
        snprintf(err, errlen, "stage 1 graph: %s", e.msg);
        jt_stage1_step_free(s);
        return -1;
    }
    return 0;
}

void jt_stage1_step_free(jt_stage1_step *s)
{
    jc_graph_free(s->g);
    s->g = NULL;
}
