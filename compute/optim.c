/* optim.c: AdamW and EMA as in-place graph operations, so a whole training
 * step (forward, backward, clipping, update, EMA) is one graph run with no
 * host round trip; the host only uploads the step's learning rate and bias
 * corrections (three floats). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_internal.h"

struct jc_adamw {
    jc_store *params;
    jc_store *state;  /* moments "<name>.m", "<name>.v" */
    jc_store *hyper_store;
    jc_tensor *hyper; /* [lr, 1/(1-b1^t), 1/(1-b2^t)] */
    jc_adamw_config cfg;
    int64_t step;
};

jc_adamw *jc_adamw_new(jc_store *params, jc_adamw_config cfg, jc_error *err)
{
    jc_adamw *opt = calloc(1, sizeof *opt);
    if (!opt) {
        jc_error_set(err, JC_ERR_NOMEM, "adamw: out of memory");
        return NULL;
    }
    opt->params = params;
    opt->cfg = cfg;
    opt->state = jc_store_new(jc_store_backend(params));
    opt->hyper_store = jc_store_new(jc_store_backend(params));
    if (!opt->state || !opt->hyper_store)
        goto fail;
    for (int i = 0; i < jc_store_count(params); i++) {
        jc_tensor *p = jc_store_at(params, i);
        if (!jc_tensor_is_param(p))
            continue;
        char name[JC_NAME_LEN + 4];
        snprintf(name, sizeof name, "%s.m", p->name);
        if (!jc_store_buffer(opt->state, name, p->ndim, p->shape, err))
            goto fail;
        snprintf(name, sizeof name, "%s.v", p->name);
        if (!jc_store_buffer(opt->state, name, p->ndim, p->shape, err))
            goto fail;
    }
    opt->hyper = jc_store_buffer(opt->hyper_store, "adamw.hyper", 1, (int64_t[]){JC_ADAMW_HYPER_N}, err);
    if (!opt->hyper)
        goto fail;
    return opt;
fail:
    if (err && err->code == JC_OK)
        jc_error_set(err, JC_ERR_NOMEM, "adamw: out of memory");
    jc_adamw_free(opt);
    return NULL;
}

void jc_adamw_free(jc_adamw *opt)
{
    if (!opt)
        return;
    jc_store_free(opt->state);
    jc_store_free(opt->hyper_store);
    free(opt);
}

jc_store *jc_adamw_state(jc_adamw *opt) { return opt->state; }
int64_t jc_adamw_step(const jc_adamw *opt) { return opt->step; }
void jc_adamw_set_step(jc_adamw *opt, int64_t step) { opt->step = step; }

float jc_adamw_lr_at(const jc_adamw *opt, int64_t step)
{
    if (opt->cfg.warmup_steps > 0 && step < opt->cfg.warmup_steps)
        return opt->cfg.lr * (float)step / (float)opt->cfg.warmup_steps;
    int64_t start = opt->cfg.decay_start, end = opt->cfg.decay_end;
    if (end <= start || step <= start)
        return opt->cfg.lr;
    if (step >= end)
        return 0.0f;
    double progress = (double)(step - start) / (double)(end - start);
    return (float)(opt->cfg.lr * 0.5 * (1.0 + cos(M_PI * progress)));
}

static jc_tensor *moment(jc_adamw *opt, const jc_tensor *p, const char *suffix)
{
    char name[JC_NAME_LEN + 4];
    snprintf(name, sizeof name, "%s.%s", p->name, suffix);
    return jc_store_find(opt->state, name);
}

jc_status jc_adamw_append(jc_adamw *opt, jc_graph *g, jc_tensor **grad_norm, jc_error *err)
{
    if (jc_graph_failed(g))
        return jc_graph_status(g, err);
    jc_store *ps = opt->params;
    /* global gradient norm over every parameter that has a gradient */
    jc_tensor *sumsq = NULL;
    for (int i = 0; i < jc_store_count(ps); i++) {
        jc_tensor *p = jc_store_at(ps, i), *gr = jc_grad(g, p);
        if (!gr || !jc_tensor_is_param(p))
            continue;
        jc_tensor *s = jc_sum_all(g, jc_sqr(g, gr));
        sumsq = sumsq ? jc_add(g, sumsq, s) : s;
    }
    if (!sumsq)
        return jc_error_set(err, JC_ERR_INVALID, "adamw: no parameter has a gradient in this graph");
    jc_tensor *norm = jc_sqrt(g, sumsq);
    if (grad_norm) {
        *grad_norm = norm;
        jc_graph_output(g, norm);
    }
    jc_tensor *clip;
    if (opt->cfg.clip_norm > 0) /* min(1, max_norm / (norm + 1e-6)) as torch's clip_grad_norm_ */
        clip = jc_minimum(g, jc_scalar_constant(g, 1.0f),
                          jc_scale(g, jc_reciprocal(g, jc_scale(g, norm, 1.0f, 1e-6f)), opt->cfg.clip_norm, 0));
    else
        clip = jc_scalar_constant(g, 1.0f);

    for (int i = 0; i < jc_store_count(ps) && !jc_graph_failed(g); i++) {
        jc_tensor *p = jc_store_at(ps, i), *gr = jc_grad(g, p);
        if (!gr || !jc_tensor_is_param(p))
            continue;
        jc_tensor *m = moment(opt, p, "m"), *v = moment(opt, p, "v");
        if (!m || !v)
            return jc_error_set(err, JC_ERR_INVALID, "adamw: parameter '%s' was not trainable when the optimiser "
                                "was created", p->name);
        jc_tensor *u = jc_new_node(g, JC_OP_ADAMW, p->ndim, p->shape);
        if (!u)
            break;
        u->src[0] = p;
        u->src[1] = gr;
        u->src[2] = m;
        u->src[3] = v;
        u->src[4] = opt->hyper;
        u->src[5] = clip;
        u->fp[0] = opt->cfg.beta1;
        u->fp[1] = opt->cfg.beta2;
        u->fp[2] = opt->cfg.eps;
        u->fp[3] = opt->cfg.weight_decay;
        u->view_of = p;
        u->flags |= JC_F_EFFECT | JC_F_NO_GRAD;
        snprintf(u->name, sizeof u->name, "adamw(%.80s)", p->name);
    }
    return jc_graph_status(g, err);
}

jc_status jc_adamw_begin_step(jc_adamw *opt, jc_error *err)
{
    opt->step++;
    double t = (double)opt->step;
    float h[JC_ADAMW_HYPER_N];
    h[JC_ADAMW_LR] = jc_adamw_lr_at(opt, opt->step);
    h[JC_ADAMW_BC1] = (float)(1.0 / (1.0 - pow(opt->cfg.beta1, t)));
    h[JC_ADAMW_BC2] = (float)(1.0 / (1.0 - pow(opt->cfg.beta2, t)));
    return jc_tensor_set(opt->hyper, h, err);
}

/* The last in-place update of t recorded in g, so readers run after it. */
static jc_tensor *latest_version(jc_graph *g, jc_tensor *t)
{
    for (int i = g->n_nodes - 1; i >= 0; i--)
        if (g->nodes[i]->view_of == t && (g->nodes[i]->flags & JC_F_EFFECT))
            return g->nodes[i];
    return t;
}

jc_status jc_ema_append(jc_graph *g, jc_store *target, jc_store *online, const char *target_prefix, float decay,
                        jc_error *err)
{
    if (jc_graph_failed(g))
        return jc_graph_status(g, err);
    size_t plen = target_prefix ? strlen(target_prefix) : 0;
    for (int i = 0; i < jc_store_count(target); i++) {
        jc_tensor *tt = jc_store_at(target, i);
        const char *name = tt->name;
        if (plen && strncmp(name, target_prefix, plen) == 0)
            name += plen;
        jc_tensor *on = jc_store_find(online, name);
        if (!on || !jc_same_shape(on, tt))
            return jc_error_set(err, JC_ERR_INVALID, "ema: tensor '%s' missing or of another shape in the online "
                                "store", tt->name);
        jc_tensor *u = jc_new_node(g, JC_OP_EMA, tt->ndim, tt->shape);
        if (!u)
            break;
        u->src[0] = latest_version(g, tt);
        u->src[1] = latest_version(g, on);
        u->fp[0] = decay;
        u->view_of = tt;
        u->flags |= JC_F_EFFECT | JC_F_NO_GRAD;
        snprintf(u->name, sizeof u->name, "ema(%.80s)", tt->name);
    }
    return jc_graph_status(g, err);
}
