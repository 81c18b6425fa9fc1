/* graph.c: recording operations, then building (prune, plan memory,
 * allocate) and running them on the graph's backend. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jc_internal.h"

jc_graph *jc_graph_new(jc_backend *be)
{
    jc_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->be = be;
    g->training = 1;
    g->allow_fp16 = 1;
    return g;
}

void jc_graph_free(jc_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_arenas; i++)
        g->be->iface->buffer_free(g->be, g->arenas[i]);
    free(g->arenas);
    if (g->const_buf)
        g->be->iface->buffer_free(g->be, g->const_buf);
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i]->host_init);
        free(g->nodes[i]);
    }
    free(g->nodes);
    free(g->exec);
    free(g->grad_of_node);
    free(g->store_grads);
    free(g);
}

jc_backend *jc_graph_backend(const jc_graph *g) { return g->be; }

int jc_graph_failed(jc_graph *g) { return g->err.code != JC_OK; }

void jc_graph_fail(jc_graph *g, jc_status code, const char *fmt, ...)
{
    if (g->err.code != JC_OK)
        return; /* keep the first error: later ones are consequences */
    g->err.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err.msg, sizeof g->err.msg, fmt, ap);
    va_end(ap);
}

jc_status jc_graph_status(const jc_graph *g, jc_error *err)
{
    if (g->err.code != JC_OK && err)
        *err = g->err;
    return g->err.code;
}

jc_tensor *jc_new_node(jc_graph *g, jc_op op, int ndim, const int64_t *shape)
{
    if (jc_graph_failed(g))
        return NULL;
    if (g->built) {
        jc_graph_fail(g, JC_ERR_INVALID, "operation recorded after jc_graph_build");
        return NULL;
    }
    if (ndim < 1 || ndim > JC_MAX_DIMS) {
        jc_graph_fail(g, JC_ERR_INVALID, "tensor with %d dimensions (1 to %d allowed)", ndim, JC_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 1) {
            jc_graph_fail(g, JC_ERR_INVALID, "operation would produce an empty dimension %d (%lld)", i,
                          (long long)shape[i]);
            return NULL;
        }
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 256;
        jc_tensor **nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            jc_graph_fail(g, JC_ERR_NOMEM, "graph: out of memory");
            return NULL;
        }
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    jc_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        jc_graph_fail(g, JC_ERR_NOMEM, "graph: out of memory");
        return NULL;
    }
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->op = op;
    t->graph = g;
    t->id = g->n_nodes;
    snprintf(t->name, sizeof t->name, "#%d", t->id);
    g->nodes[g->n_nodes++] = t;
    return t;
}

jc_tensor *jc_input(jc_graph *g, const char *name, int ndim, const int64_t *shape)
{
    jc_tensor *t = jc_new_node(g, JC_OP_LEAF, ndim, shape);
    if (t) {
        t->flags |= JC_F_INPUT;
        jc_tensor_set_name(t, name);
    }
    return t;
}

jc_tensor *jc_constant(jc_graph *g, const char *name, int ndim, const int64_t *shape, const float *data)
{
    jc_tensor *t = jc_new_node(g, JC_OP_LEAF, ndim, shape);
    if (!t)
        return NULL;
    t->flags |= JC_F_CONST;
    jc_tensor_set_name(t, name);
    t->host_init = calloc((size_t)jc_tensor_nelem(t), sizeof(float));
    if (!t->host_init) {
        jc_graph_fail(g, JC_ERR_NOMEM, "constant '%s': out of memory", name);
        return NULL;
    }
    if (data)
        memcpy(t->host_init, data, jc_tensor_bytes(t));
    return t;
}

jc_tensor *jc_scalar_constant(jc_graph *g, float value)
{
    int64_t one = 1;
    return jc_constant(g, "scalar", 1, &one, &value);
}

void jc_graph_output(jc_graph *g, jc_tensor *t)
{
    if (t)
        t->flags |= JC_F_OUTPUT;
    else
        jc_graph_fail(g, JC_ERR_INVALID, "jc_graph_output of a NULL tensor");
}

void jc_graph_set_seed(jc_graph *g, uint64_t seed) { g->seed = seed; }
void jc_graph_set_training(jc_graph *g, int training) { g->training = training; }
void jc_graph_allow_fp16(jc_graph *g, int allow) { g->allow_fp16 = allow != 0; }

int jc_graph_fp16_ok(const jc_graph *g) { return g->allow_fp16 && !g->has_gradient_ops; }

/* A training graph: jc_backward ran on it, or it updates parameters.  Every
 * recorded node counts, pruned or not, so the answer does not depend on
 * which outputs the caller kept. */
static int records_gradient_ops(const jc_graph *g)
{
    if (g->grad_of_node)
        return 1;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == JC_OP_ADAMW || g->nodes[i]->op == JC_OP_EMA)
            return 1;
    return 0;
}

/* Mark what the outputs and side effects need; everything else is dropped. */
static int prune(jc_graph *g, char *needed)
{
    for (int i = 0; i < g->n_nodes; i++) {
        jc_tensor *t = g->nodes[i];
        if (t->flags & (JC_F_OUTPUT | JC_F_EFFECT | JC_F_INPUT))
            needed[i] = 1;
    }
    int count = 0;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        if (!needed[i])
            continue;
        jc_tensor *t = g->nodes[i];
        for (int s = 0; s < JC_MAX_SRC; s++)
            if (t->src[s] && t->src[s]->graph == g)
                needed[t->src[s]->id] = 1;
        if (t->view_of && t->view_of->graph == g)
            needed[t->view_of->id] = 1;
    }
    for (int i = 0; i < g->n_nodes; i++)
        count += needed[i];
    return count;
}

static jc_status upload_constants(jc_graph *g, jc_error *err)
{
    size_t total = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->flags & JC_F_CONST)
            total += (jc_tensor_bytes(g->nodes[i]) + JC_ALIGN - 1) / JC_ALIGN * JC_ALIGN;
    g->stats.constant_bytes = total;
    if (total == 0)
        return JC_OK;
    jc_status s = g->be->iface->buffer_alloc(g->be, total, &g->const_buf, err);
    if (s)
        return s;
    size_t off = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        jc_tensor *t = g->nodes[i];
        if (!(t->flags & JC_F_CONST))
            continue;
        t->buf = g->const_buf;
        t->offset = off;
        s = g->be->iface->upload(g->be, g->const_buf, off, t->host_init, jc_tensor_bytes(t), err);
        if (s)
            return s;
        free(t->host_init);
        t->host_init = NULL;
        off += (jc_tensor_bytes(t) + JC_ALIGN - 1) / JC_ALIGN * JC_ALIGN;
    }
    return JC_OK;
}

/* The largest buffer the planner may assume: the device's (NVIDIA's Vulkan
 * driver allows 4 GiB in one allocation), unless a test set a smaller one;
 * 0 for no limit. */
static size_t arena_segment(jc_graph *g)
{
    if (!g->max_buffer) {
        jc_device_info info;
        jc_backend_device_info(g->be, &info);
        g->max_buffer = (size_t)info.max_buffer_bytes;
    }
    return g->max_buffer / JC_ALIGN * JC_ALIGN;
}

/* One buffer per segment of the planned address space; each planned
 * tensor's offset becomes an offset in its segment's buffer. */
static jc_status alloc_arenas(jc_graph *g, size_t arena_size, jc_error *err)
{
    size_t seg = arena_segment(g);
    int n = seg ? (int)((arena_size + seg - 1) / seg) : 1;
    g->arenas = calloc((size_t)n, sizeof *g->arenas);
    if (!g->arenas)
        return jc_error_set(err, JC_ERR_NOMEM, "graph: out of memory");
    for (int k = 0; k < n; k++) {
        size_t size = seg && arena_size - (size_t)k * seg > seg ? seg : arena_size - (size_t)k * seg;
        jc_status s = g->be->iface->buffer_alloc(g->be, size, &g->arenas[k], err);
        if (s)
            return s;
        g->n_arenas++;
    }
    for (int i = 0; i < g->n_exec; i++) {
        jc_tensor *t = g->exec[i];
        if (t->view_of || (t->flags & (JC_F_STORE | JC_F_CONST)))
            continue;
        t->buf = g->arenas[seg ? t->offset / seg : 0];
        if (seg)
            t->offset %= seg;
    }
    return JC_OK;
}

jc_status jc_graph_build(jc_graph *g, jc_error *err)
{
    if (jc_graph_failed(g))
        return jc_graph_status(g, err);
    if (g->built)
        return jc_error_set(err, JC_ERR_INVALID, "graph built twice");
    char *needed = calloc((size_t)g->n_nodes + 1, 1);
    if (!needed)
        return jc_error_set(err, JC_ERR_NOMEM, "graph build: out of memory");
    prune(g, needed);
    g->has_gradient_ops = records_gradient_ops(g);
    g->exec = calloc((size_t)g->n_nodes + 1, sizeof *g->exec);
    if (!g->exec) {
        free(needed);
        return jc_error_set(err, JC_ERR_NOMEM, "graph build: out of memory");
    }
    g->n_exec = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        jc_tensor *t = g->nodes[i];
        if (!needed[i] || (t->op == JC_OP_LEAF && !(t->flags & JC_F_INPUT)))
            continue;
        if (t->op != JC_OP_LEAF && t->op != JC_OP_VIEW && !g->be->iface->supports_op(g->be, t)) {
            free(needed);
            return jc_error_set(err, JC_ERR_UNSUPPORTED, "backend %s does not support operation %s on %s",
                                g->be->name, jc_op_name(t->op), t->name);
        }
        g->exec[g->n_exec++] = t;
    }
    g->stats.recorded = g->n_nodes;
    g->stats.nodes = 0;
    for (int i = 0; i < g->n_exec; i++)
        g->stats.nodes += g->exec[i]->op != JC_OP_LEAF && g->exec[i]->op != JC_OP_VIEW;
    free(needed);

    size_t arena_size = 0;
    jc_status s = jc_plan_memory(g, arena_segment(g), &arena_size, err);
    if (s)
        return s;
    if (arena_size > 0) {
        s = alloc_arenas(g, arena_size, err);
        if (s)
            return s;
    }
    s = upload_constants(g, err);
    if (s)
        return s;
    g->built = 1;
    return JC_OK;
}

jc_status jc_graph_compute(jc_graph *g, jc_error *err)
{
    if (!g->built)
        return jc_error_set(err, JC_ERR_INVALID, "jc_graph_compute before jc_graph_build");
    return g->be->iface->graph_compute(g->be, g, err);
}

void jc_graph_get_stats(const jc_graph *g, jc_graph_stats *stats) { *stats = g->stats; }

double jc_graph_macs(const jc_graph *g)
{
    double macs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const jc_tensor *t = g->nodes[i];
        switch (t->op) {
        case JC_OP_MATMUL: {
            const jc_tensor *a = t->src[0];
            int64_t k = t->ip[0] ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
            macs += (double)jc_tensor_nelem(t) * (double)k;
            break;
        }
        case JC_OP_CONV1D: /* every output element: Cin/groups * K products */
            macs += (double)jc_tensor_nelem(t) * (double)(t->src[1]->shape[1] * t->src[1]->shape[2]);
            break;
        case JC_OP_CONV1D_BWD_INPUT: /* the conv it transposes: each input element of it */
            macs += (double)jc_tensor_nelem(t->src[0]) * (double)(t->src[1]->shape[1] * t->src[1]->shape[2]);
            break;
        case JC_OP_CONV1D_BWD_WEIGHT:
            macs += (double)jc_tensor_nelem(t->src[1]) * (double)(t->shape[1] * t->shape[2]);
            break;
        default: break;
        }
    }
    return macs;
}
