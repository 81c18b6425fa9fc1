/* profile.c: JC_PROFILE=1 on every backend: the time of each operation kind
 * in a graph run, printed to stderr after the run; JC_PROFILE=2 adds the
 * elementwise ops' time by kind and the slowest single nodes with their
 * shapes.  The backends time each node
 * with the host clock around a run that has finished on the device (the
 * GPU backends then wait after every node, so a profiled run is slower
 * than a plain one, but the kind that dominates is the same). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "jc_internal.h"

double jc_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int jc_profile_level(void)
{
    const char *v = getenv("JC_PROFILE");
    return v ? (atoi(v) > 1 ? 2 : 1) : 0;
}

static const char *const op_names[JC_OP_COUNT] = {
    "leaf", "view", "matmul", "conv1d", "conv1d_bwd_input", "conv1d_bwd_weight", "binary", "unary",
    "unary_grad", "scale", "sum", "max", "permute", "expand", "slice", "pad", "pad_reflect_grad", "concat",
    "dropout", "frames", "frames_grad", "adamw", "ema", "fma_peak", "softmax", "softmax_grad", "rdft", "rdft_adjoint"};

const char *jc_op_name(jc_op op) { return op >= 0 && op < JC_OP_COUNT ? op_names[op] : "unknown"; }

static const char *const unary_names[JC_UN_COUNT] = {"exp",     "log",      "sin",  "cos",  "sqr",
                                                     "sqrt",    "abs",      "tanh", "sigmoid", "softplus",
                                                     "gelu",    "silu",     "leaky_relu", "clamp", "recip"};
static const char *const binary_names[JC_BIN_COUNT] = {"add", "sub", "mul", "div", "min", "max", "ge",
                                                       "fsq_value", "fsq_index"};

/* The elementwise ops are many kernels under one op: their time by kind. */
static void report_kinds(const jc_graph *g, jc_op op, const char *const *names, int n_kinds, double total)
{
    enum { MAX_KINDS = (int)JC_UN_COUNT > (int)JC_BIN_COUNT ? (int)JC_UN_COUNT : (int)JC_BIN_COUNT };
    double times[MAX_KINDS] = {0};
    int counts[MAX_KINDS] = {0};
    for (int i = 0; i < g->n_exec; i++) {
        const jc_tensor *t = g->exec[i];
        if (t->op == op && t->kind >= 0 && t->kind < n_kinds) {
            times[t->kind] += t->profile_s;
            counts[t->kind]++;
        }
    }
    for (int k = 0; k < n_kinds; k++)
        if (times[k] > 0.005 * total)
            fprintf(stderr, "    %-10s %-10s %5d ops %8.1f ms %5.1f%%\n", op_names[op], names[k], counts[k],
                    times[k] * 1e3, 100 * times[k] / total);
}

static int slower_first(const void *a, const void *b)
{
    const jc_tensor *const *x = a, *const *y = b;
    double tx = (*x)->profile_s, ty = (*y)->profile_s;
    return (tx < ty) - (tx > ty);
}

void jc_profile_report(const char *backend, const jc_graph *g, int level)
{
    double times[JC_OP_COUNT] = {0}, total = 0;
    int counts[JC_OP_COUNT] = {0};
    for (int i = 0; i < g->n_exec; i++) {
        const jc_tensor *t = g->exec[i];
        times[t->op] += t->profile_s;
        counts[t->op]++;
        total += t->profile_s;
    }
    fprintf(stderr, "%s profile: %.1f ms\n", backend, total * 1e3);
    for (int k = 0; k < JC_OP_COUNT; k++)
        if (times[k] > 0.005 * total)
            fprintf(stderr, "  %-18s %5d ops %8.1f ms %5.1f%%\n", op_names[k], counts[k], times[k] * 1e3,
                    100 * times[k] / total);
    if (level < 2)
        return;
    report_kinds(g, JC_OP_UNARY, unary_names, JC_UN_COUNT, total);
    report_kinds(g, JC_OP_UNARY_GRAD, unary_names, JC_UN_COUNT, total);
    report_kinds(g, JC_OP_BINARY, binary_names, JC_BIN_COUNT, total);
    jc_tensor **order = malloc((size_t)g->n_exec * sizeof *order);
    if (!order)
        return;
    for (int i = 0; i < g->n_exec; i++)
        order[i] = g->exec[i];
    qsort(order, (size_t)g->n_exec, sizeof *order, slower_first);
    for (int i = 0; i < g->n_exec && i < 15; i++) {
        const jc_tensor *t = order[i];
        char shape[64], src[64] = "";
        jc_shape_str(t, shape, sizeof shape);
        if (t->src[0])
            jc_shape_str(t->src[0], src, sizeof src);
        fprintf(stderr, "  %8.2f ms  %-18s %s <- %s  ip %d,%d,%d,%d,%d\n", t->profile_s * 1e3, op_names[t->op], shape,
                src, t->ip[0], t->ip[1], t->ip[2], t->ip[3], t->ip[4]);
    }
    free(order);
}
