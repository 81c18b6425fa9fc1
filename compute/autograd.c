/* autograd.c: reverse-mode differentiation by appending gradient operations
 * to the graph.  Each primitive has one rule below; composites need none. */
#include <stdlib.h>
#include <string.h>

#include "ops_internal.h"

/* Does gradient flow into t at all? */
static int wants_grad(const jc_tensor *t, const char *flows)
{
    if (t->flags & JC_F_STORE)
        return (t->flags & JC_F_TRAINABLE) != 0;
    return flows[t->id];
}

static jc_tensor **grad_slot(jc_graph *g, const jc_tensor *t)
{
    if (t->graph == g)
        return &g->grad_of_node[t->id];
    for (int i = 0; i < g->n_store_grads; i++)
        if (g->store_grads[i].param == t)
            return &g->store_grads[i].grad;
    jc_grad_entry *ng = realloc(g->store_grads, (size_t)(g->n_store_grads + 1) * sizeof *ng);
    if (!ng) {
        jc_graph_fail(g, JC_ERR_NOMEM, "backward: out of memory");
        return NULL;
    }
    g->store_grads = ng;
    g->store_grads[g->n_store_grads] = (jc_grad_entry){t, NULL};
    return &g->store_grads[g->n_store_grads++].grad;
}

static void accumulate(jc_graph *g, const char *flows, jc_tensor *t, jc_tensor *grad)
{
    if (!t || !grad || !wants_grad(t, flows))
        return;
    jc_tensor **slot = grad_slot(g, t);
    if (!slot)
        return;
    *slot = *slot ? jc_add(g, *slot, grad) : grad;
}

static jc_conv_params conv_params_of(const jc_tensor *t)
{
    return (jc_conv_params){t->ip[0], t->ip[1], t->ip[2], t->ip[3], t->ip[4]};
}

/* d bias = dy summed over batch and time -> [C] */
static jc_tensor *bias_grad(jc_graph *g, jc_tensor *dy)
{
    jc_tensor *s = jc_sum(g, jc_sum(g, dy, 2), 0);
    return s ? jc_reshape(g, s, 1, &s->shape[1]) : NULL;
}

static void matmul_backward(jc_graph *g, const char *flows, jc_tensor *t, jc_tensor *dy)
{
    jc_tensor *a = t->src[0], *b = t->src[1];
    int ta = t->ip[0], tb = t->ip[1];
    /* C = op(A) op(B): dA = dC op(B)^T (transposed back if A was), dB likewise */
    if (wants_grad(a, flows)) {
        jc_tensor *da = ta ? jc_matmul(g, b, dy, tb, 1) : jc_matmul(g, dy, b, 0, !tb);
        accumulate(g, flows, a, jc_reduce_to_shape(g, da, a));
    }
    if (wants_grad(b, flows)) {
        jc_tensor *db;
        if (b->ndim == 2 && a->ndim > 2 && !ta) {
            /* shared weight: fold the batch into rows, one big product */
            int64_t rows = jc_tensor_nelem(a) / a->shape[a->ndim - 1];
            jc_tensor *a2 = jc_reshape(g, a, 2, (int64_t[]){rows, a->shape[a->ndim - 1]});
            jc_tensor *dy2 = jc_reshape(g, dy, 2, (int64_t[]){rows, dy->shape[dy->ndim - 1]});
            db = tb ? jc_matmul(g, dy2, a2, 1, 0) : jc_matmul(g, a2, dy2, 1, 0);
        } else {
            db = tb ? jc_matmul(g, dy, a, 1, ta) : jc_matmul(g, a, dy, !ta, 0);
            if (db && b->ndim == 2 && db->ndim > 2) { /* sum over the batch */
                int64_t batch = jc_tensor_nelem(db) / (db->shape[db->ndim - 2] * db->shape[db->ndim - 1]);
                db = jc_reshape(g, db, 3, (int64_t[]){batch, db->shape[db->ndim - 2], db->shape[db->ndim - 1]});
                db = jc_sum(g, db, 0);
            }
        }
        accumulate(g, flows, b, jc_reduce_to_shape(g, db, b));
    }
}

static void binary_backward(jc_graph *g, const char *flows, jc_tensor *t, jc_tensor *dy)
{
    jc_tensor *a = t->src[0], *b = t->src[1];
    jc_tensor *da = NULL, *db = NULL;
    int need_a = wants_grad(a, flows), need_b = wants_grad(b, flows);
    switch ((jc_binary_kind)t->kind) {
    case JC_BIN_ADD: da = dy; db = dy; break;
    case JC_BIN_SUB: da = dy; db = need_b ? jc_scale(g, dy, -1, 0) : NULL; break;
    case JC_BIN_MUL:
        da = need_a ? jc_mul(g, dy, b) : NULL;
        db = need_b ? jc_mul(g, dy, a) : NULL;
        break;
    case JC_BIN_DIV: /* y = a / b: dy/da = 1/b, dy/db = -y/b */
        da = need_a ? jc_div(g, dy, b) : NULL;
        db = need_b ? jc_scale(g, jc_div(g, jc_mul(g, dy, t), b), -1, 0) : NULL;
        break;
    case JC_BIN_MIN:
    case JC_BIN_MAX: { /* the gradient goes to the chosen operand (ties: a) */
        jc_tensor *pick_a = t->kind == JC_BIN_MAX ? jc_binary(g, JC_BIN_GE, a, b) : jc_binary(g, JC_BIN_GE, b, a);
        da = need_a ? jc_mul(g, dy, pick_a) : NULL;
        db = need_b ? jc_mul(g, dy, jc_scale(g, pick_a, -1, 1)) : NULL;
        break;
    }
    case JC_BIN_FSQ_VALUE: da = dy; break; /* straight-through estimator */
    default: break;
    }
    if (need_a && da)
        accumulate(g, flows, a, jc_reduce_to_shape(g, da, a));
    if (need_b && db)
        accumulate(g, flows, b, jc_reduce_to_shape(g, db, b));
}

static void node_backward(jc_graph *g, const char *flows, jc_tensor *t, jc_tensor *dy)
{
    jc_tensor *x = t->src[0];
    switch (t->op) {
    case JC_OP_MATMUL: matmul_backward(g, flows, t, dy); break;
    case JC_OP_CONV1D: {
        jc_conv_params p = conv_params_of(t);
        jc_tensor *w = t->src[1];
        if (wants_grad(x, flows))
            accumulate(g, flows, x, jc_conv1d_bwd_input(g, dy, w, NULL, p, x->shape[2]));
        if (wants_grad(w, flows))
            accumulate(g, flows, w, jc_conv1d_bwd_weight(g, x, dy, p, (int)w->shape[2]));
        if (t->src[2] && wants_grad(t->src[2], flows))
            accumulate(g, flows, t->src[2], bias_grad(g, dy));
        break;
    }
    case JC_OP_CONV1D_BWD_INPUT: { /* y = conv_transpose(x, w) */
        jc_conv_params p = conv_params_of(t);
        jc_tensor *w = t->src[1];
        if (wants_grad(x, flows))
            accumulate(g, flows, x, jc_conv1d(g, dy, w, NULL, p));
        if (wants_grad(w, flows))
            accumulate(g, flows, w, jc_conv1d_bwd_weight(g, dy, x, p, (int)w->shape[2]));
        if (t->src[2] && wants_grad(t->src[2], flows))
            accumulate(g, flows, t->src[2], bias_grad(g, dy));
        break;
    }
    case JC_OP_CONV1D_BWD_WEIGHT:
        jc_graph_fail(g, JC_ERR_UNSUPPORTED, "second derivatives of conv1d are not implemented");
        break;
    case JC_OP_BINARY: binary_backward(g, flows, t, dy); break;
    case JC_OP_UNARY: accumulate(g, flows, x, jc_unary_grad(g, t, dy)); break;
    case JC_OP_SCALE: accumulate(g, flows, x, jc_scale(g, dy, t->fp[0], 0)); break;
    case JC_OP_SUM: accumulate(g, flows, x, jc_expand(g, dy, x->ndim, x->shape)); break;
    case JC_OP_VIEW: accumulate(g, flows, x, jc_reshape(g, dy, x->ndim, x->shape)); break;
    case JC_OP_PERMUTE: {
        int inv[JC_MAX_DIMS];
        for (int i = 0; i < t->ndim; i++)
            inv[t->ip[i]] = i;
        accumulate(g, flows, x, jc_permute(g, dy, inv));
        break;
    }
    case JC_OP_EXPAND: accumulate(g, flows, x, jc_reduce_to_shape(g, dy, x)); break;
    case JC_OP_SLICE: {
        int ax = t->ip[0];
        int64_t before = t->ip[1], after = x->shape[ax] - t->ip[1] - t->shape[ax];
        accumulate(g, flows, x, jc_pad(g, dy, ax, (int)before, (int)after, JC_PAD_ZERO));
        break;
    }
    case JC_OP_PAD:
        if (t->ip[3] == JC_PAD_REFLECT)
            accumulate(g, flows, x, jc_pad_reflect_grad(g, dy, t->ip[0], t->ip[1], t->ip[2]));
        else
            accumulate(g, flows, x, jc_slice(g, dy, t->ip[0], t->ip[1], x->shape[t->ip[0]]));
        break;
    case JC_OP_PAD_REFLECT_GRAD: /* a linear map whose adjoint is the reflect pad */
        accumulate(g, flows, x, jc_pad(g, dy, t->ip[0], t->ip[1], t->ip[2], JC_PAD_REFLECT));
        break;
    case JC_OP_CONCAT: {
        int ax = t->ip[0];
        jc_tensor *b = t->src[1];
        if (wants_grad(x, flows))
            accumulate(g, flows, x, jc_slice(g, dy, ax, 0, x->shape[ax]));
        if (wants_grad(b, flows))
            accumulate(g, flows, b, jc_slice(g, dy, ax, x->shape[ax], b->shape[ax]));
        break;
    }
    case JC_OP_DROPOUT: /* the same mask: same seed and salt */
        accumulate(g, flows, x, jc_dropout_salted(g, dy, t->fp[0], t->ip[0]));
        break;
    case JC_OP_FRAMES: accumulate(g, flows, x, jc_frames_grad(g, dy, t->ip[0], t->ip[1], x->shape[1])); break;
    case JC_OP_FRAMES_GRAD: accumulate(g, flows, x, jc_frames_raw(g, dy, t->ip[0], t->ip[1])); break;
    case JC_OP_SOFTMAX: accumulate(g, flows, x, jc_softmax_grad(g, t, dy)); break;
    /* linear maps, each the other's transpose */
    case JC_OP_RDFT: accumulate(g, flows, x, jc_rdft_node(g, 1, dy, t->src[1])); break;
    case JC_OP_RDFT_ADJOINT: accumulate(g, flows, x, jc_rdft_node(g, 0, dy, t->src[1])); break;
    default:
        jc_graph_fail(g, JC_ERR_UNSUPPORTED, "no gradient rule for operation %d (%s)", (int)t->op, t->name);
        break;
    }
}

jc_status jc_backward(jc_graph *g, jc_tensor *loss, jc_error *err)
{
    if (jc_graph_failed(g))
        return jc_graph_status(g, err);
    if (!loss || loss->graph != g || jc_tensor_nelem(loss) != 1)
        return jc_error_set(err, JC_ERR_INVALID, "backward needs a one-element loss recorded in this graph");
    if (g->grad_of_node)
        return jc_error_set(err, JC_ERR_INVALID, "backward called twice on one graph");
    int n = g->n_nodes; /* only nodes recorded so far take part */
    char *flows = calloc((size_t)n, 1);
    g->grad_of_node = calloc((size_t)g->cap_nodes, sizeof *g->grad_of_node);
    if (!flows || !g->grad_of_node) {
        free(flows);
        return jc_error_set(err, JC_ERR_NOMEM, "backward: out of memory");
    }
    /* forward pass: which nodes depend on a trainable parameter */
    for (int i = 0; i < n; i++) {
        jc_tensor *t = g->nodes[i];
        if (t->op == JC_OP_LEAF || (t->flags & JC_F_NO_GRAD))
            continue;
        for (int s = 0; s < JC_MAX_SRC && !flows[i]; s++)
            if (t->src[s] && wants_grad(t->src[s], flows))
                flows[i] = 1;
    }
    if (!flows[loss->id]) {
        free(flows);
        return jc_error_set(err, JC_ERR_INVALID, "the loss does not depend on any trainable parameter");
    }
    jc_tensor *seed = jc_scalar_constant(g, 1.0f);
    if (seed && loss->ndim != 1)
        seed = jc_reshape(g, seed, loss->ndim, loss->shape);
    g->grad_of_node[loss->id] = seed;
    for (int i = loss->id; i >= 0 && !jc_graph_failed(g); i--) {
        jc_tensor *t = g->nodes[i];
        jc_tensor *dy = g->grad_of_node[i];
        if (!dy || !flows[i])
            continue;
        node_backward(g, flows, t, dy);
    }
    free(flows);
    /* nodes recorded by backward get no slot; grow for later lookups */
    if (g->cap_nodes > n) {
        jc_tensor **ng = realloc(g->grad_of_node, (size_t)g->cap_nodes * sizeof *ng);
        if (ng) {
            memset(ng + n, 0, (size_t)(g->cap_nodes - n) * sizeof *ng);
            g->grad_of_node = ng;
        }
    }
    return jc_graph_status(g, err);
}

jc_tensor *jc_grad(jc_graph *g, const jc_tensor *t)
{
    if (!g->grad_of_node || !t)
        return NULL;
    if (t->graph == g)
        return g->grad_of_node[t->id];
    for (int i = 0; i < g->n_store_grads; i++)
        if (g->store_grads[i].param == t)
            return g->store_grads[i].grad;
    return NULL;
}
