/* ops.c: constructors of the primitive operations: check arguments, infer
 * the output shape, record the node.  Kernels live in the backends. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_internal.h"

/* Fail the graph (once) if any argument is missing: the NULL of an earlier
 * failed operation propagates without extra checks at every call site. */
static int args_ok(jc_graph *g, int n, jc_tensor *const *t)
{
    if (jc_graph_failed(g))
        return 0;
    for (int i = 0; i < n; i++)
        if (!t[i]) {
            jc_graph_fail(g, JC_ERR_INVALID, "NULL tensor passed to an operation");
            return 0;
        }
    return 1;
}
#define ARGS_OK(g, ...) args_ok((g), (int)(sizeof((jc_tensor *[]){__VA_ARGS__}) / sizeof(jc_tensor *)), \
                                (jc_tensor *[]){__VA_ARGS__})

static jc_tensor *node1(jc_graph *g, jc_op op, const jc_tensor *like, jc_tensor *a)
{
    jc_tensor *t = jc_new_node(g, op, like->ndim, like->shape);
    if (t)
        t->src[0] = a;
    return t;
}

/* ------------------------------------------------------------- matmul */

jc_tensor *jc_matmul(jc_graph *g, jc_tensor *a, jc_tensor *b, int trans_a, int trans_b)
{
    if (!ARGS_OK(g, a, b))
        return NULL;
    if (a->ndim < 2 || b->ndim < 2) {
        jc_graph_fail(g, JC_ERR_INVALID, "matmul needs 2-D or more operands (%s, %s)", a->name, b->name);
        return NULL;
    }
    int64_t M = trans_a ? a->shape[a->ndim - 1] : a->shape[a->ndim - 2];
    int64_t K = trans_a ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
    int64_t Kb = trans_b ? b->shape[b->ndim - 1] : b->shape[b->ndim - 2];
    int64_t N = trans_b ? b->shape[b->ndim - 2] : b->shape[b->ndim - 1];
    if (K != Kb) {
        char sa[64], sb[64];
        jc_shape_str(a, sa, sizeof sa);
        jc_shape_str(b, sb, sizeof sb);
        jc_graph_fail(g, JC_ERR_INVALID, "matmul: inner sizes differ (%s%s x %s%s)", sa, trans_a ? "^T" : "", sb,
                      trans_b ? "^T" : "");
        return NULL;
    }
    /* Batch dims: equal, or one operand is a plain matrix shared by all. */
    const jc_tensor *big = a->ndim >= b->ndim ? a : b;
    if (a->ndim > 2 && b->ndim > 2) {
        int same = a->ndim == b->ndim;
        for (int i = 0; same && i < a->ndim - 2; i++)
            same = a->shape[i] == b->shape[i];
        if (!same) {
            jc_graph_fail(g, JC_ERR_INVALID, "matmul: batch dimensions of %s and %s differ", a->name, b->name);
            return NULL;
        }
    }
    int64_t shape[JC_MAX_DIMS];
    memcpy(shape, big->shape, sizeof shape);
    shape[big->ndim - 2] = M;
    shape[big->ndim - 1] = N;
    jc_tensor *t = jc_new_node(g, JC_OP_MATMUL, big->ndim, shape);
    if (t) {
        t->src[0] = a;
        t->src[1] = b;
        t->ip[0] = trans_a;
        t->ip[1] = trans_b;
    }
    return t;
}

/* ------------------------------------------------------------ convolution */

int64_t jc_conv1d_out_len(int64_t t, int k, int stride, int pad_l, int pad_r, int dilation)
{
    int64_t span = (int64_t)dilation * (k - 1) + 1;
    int64_t padded = t + pad_l + pad_r;
    return padded < span ? 0 : (padded - span) / stride + 1;
}

static int conv_params_ok(jc_graph *g, jc_conv_params p, const char *what)
{
    if (p.stride < 1 || p.dilation < 1 || p.groups < 1 || p.pad_left < 0 || p.pad_right < 0) {
        jc_graph_fail(g, JC_ERR_INVALID, "%s: stride %d, dilation %d, groups %d, padding %d/%d", what, p.stride,
                      p.dilation, p.groups, p.pad_left, p.pad_right);
        return 0;
    }
    return 1;
}

static void set_conv_ip(jc_tensor *t, jc_conv_params p)
{
    t->ip[0] = p.stride;
    t->ip[1] = p.pad_left;
    t->ip[2] = p.pad_right;
    t->ip[3] = p.dilation;
    t->ip[4] = p.groups;
}

static int bias_ok(jc_graph *g, const jc_tensor *bias, int64_t channels, const char *what)
{
    if (bias && (bias->ndim != 1 || bias->shape[0] != channels)) {
        jc_graph_fail(g, JC_ERR_INVALID, "%s: bias %s must be [%lld]", what, bias->name, (long long)channels);
        return 0;
    }
    return 1;
}

jc_tensor *jc_conv1d(jc_graph *g, jc_tensor *x, jc_tensor *w, jc_tensor *bias, jc_conv_params p)
{
    if (!ARGS_OK(g, x, w) || !conv_params_ok(g, p, "conv1d"))
        return NULL;
    if (x->ndim != 3 || w->ndim != 3 || x->shape[1] % p.groups || w->shape[0] % p.groups ||
        w->shape[1] * p.groups != x->shape[1]) {
        char sx[64], sw[64];
        jc_shape_str(x, sx, sizeof sx);
        jc_shape_str(w, sw, sizeof sw);
        jc_graph_fail(g, JC_ERR_INVALID, "conv1d: input %s and weight %s (%s) do not fit with %d groups", sx, sw,
                      w->name, p.groups);
        return NULL;
    }
    if (!bias_ok(g, bias, w->shape[0], "conv1d"))
        return NULL;
    int64_t tout = jc_conv1d_out_len(x->shape[2], (int)w->shape[2], p.stride, p.pad_left, p.pad_right, p.dilation);
    int64_t shape[3] = {x->shape[0], w->shape[0], tout};
    jc_tensor *t = jc_new_node(g, JC_OP_CONV1D, 3, shape);
    if (t) {
        t->src[0] = x;
        t->src[1] = w;
        t->src[2] = bias;
        set_conv_ip(t, p);
    }
    return t;
}

/* The gradient of conv1d with respect to its input: also the transposed
 * convolution.  dy [B, Cout, T'], w [Cout, Cin/groups, K] -> [B, Cin, t_in]. */
jc_tensor *jc_conv1d_bwd_input(jc_graph *g, jc_tensor *dy, jc_tensor *w, jc_tensor *bias, jc_conv_params p,
                               int64_t t_in)
{
    if (!ARGS_OK(g, dy, w) || !conv_params_ok(g, p, "conv_transpose1d"))
        return NULL;
    if (dy->ndim != 3 || w->ndim != 3 || dy->shape[1] != w->shape[0] || w->shape[0] % p.groups) {
        jc_graph_fail(g, JC_ERR_INVALID, "conv_transpose1d: input %s and weight %s do not fit", dy->name, w->name);
        return NULL;
    }
    int64_t cin = w->shape[1] * p.groups;
    if (!bias_ok(g, bias, cin, "conv_transpose1d"))
        return NULL;
    if (jc_conv1d_out_len(t_in, (int)w->shape[2], p.stride, p.pad_left, p.pad_right, p.dilation) != dy->shape[2]) {
        jc_graph_fail(g, JC_ERR_INVALID, "conv_transpose1d: output length %lld does not map back to %lld",
                      (long long)t_in, (long long)dy->shape[2]);
        return NULL;
    }
    int64_t shape[3] = {dy->shape[0], cin, t_in};
    jc_tensor *t = jc_new_node(g, JC_OP_CONV1D_BWD_INPUT, 3, shape);
    if (t) {
        t->src[0] = dy;
        t->src[1] = w;
        t->src[2] = bias;
        set_conv_ip(t, p);
    }
    return t;
}

jc_tensor *jc_conv1d_bwd_weight(jc_graph *g, jc_tensor *x, jc_tensor *dy, jc_conv_params p, int k)
{
    if (!ARGS_OK(g, x, dy))
        return NULL;
    int64_t shape[3] = {dy->shape[1], x->shape[1] / p.groups, k};
    jc_tensor *t = jc_new_node(g, JC_OP_CONV1D_BWD_WEIGHT, 3, shape);
    if (t) {
        t->src[0] = x;
        t->src[1] = dy;
        set_conv_ip(t, p);
        t->ip[5] = k;
    }
    return t;
}

jc_tensor *jc_conv_transpose1d(jc_graph *g, jc_tensor *x, jc_tensor *w, jc_tensor *bias, jc_conv_params p,
                               int out_extra)
{
    if (!ARGS_OK(g, x, w))
        return NULL;
    if (x->ndim != 3 || w->ndim != 3) {
        jc_graph_fail(g, JC_ERR_INVALID, "conv_transpose1d needs 3-D input and weight");
        return NULL;
    }
    if (out_extra < 0 || out_extra >= p.stride) {
        jc_graph_fail(g, JC_ERR_INVALID, "conv_transpose1d: out_extra %d must be in [0, stride)", out_extra);
        return NULL;
    }
    int64_t t_out = (x->shape[2] - 1) * p.stride - p.pad_left - p.pad_right + (int64_t)p.dilation * (w->shape[2] - 1) +
                    1 + out_extra;
    return jc_conv1d_bwd_input(g, x, w, bias, p, t_out);
}

/* ------------------------------------------------------------ elementwise */

jc_tensor *jc_binary(jc_graph *g, jc_binary_kind kind, jc_tensor *a, jc_tensor *b)
{
    if (!ARGS_OK(g, a, b))
        return NULL;
    int nd;
    int64_t shape[JC_MAX_DIMS];
    if (!jc_broadcast_shape(a, b, &nd, shape)) {
        char sa[64], sb[64];
        jc_shape_str(a, sa, sizeof sa);
        jc_shape_str(b, sb, sizeof sb);
        jc_graph_fail(g, JC_ERR_INVALID, "cannot broadcast %s %s with %s %s", a->name, sa, b->name, sb);
        return NULL;
    }
    jc_tensor *t = jc_new_node(g, JC_OP_BINARY, nd, shape);
    if (t) {
        t->kind = kind;
        t->src[0] = a;
        t->src[1] = b;
        if (kind == JC_BIN_GE || kind == JC_BIN_FSQ_INDEX)
            t->flags |= JC_F_NO_GRAD;
    }
    return t;
}

jc_tensor *jc_add(jc_graph *g, jc_tensor *a, jc_tensor *b) { return jc_binary(g, JC_BIN_ADD, a, b); }
jc_tensor *jc_sub(jc_graph *g, jc_tensor *a, jc_tensor *b) { return jc_binary(g, JC_BIN_SUB, a, b); }
jc_tensor *jc_mul(jc_graph *g, jc_tensor *a, jc_tensor *b) { return jc_binary(g, JC_BIN_MUL, a, b); }
jc_tensor *jc_div(jc_graph *g, jc_tensor *a, jc_tensor *b) { return jc_binary(g, JC_BIN_DIV, a, b); }
jc_tensor *jc_minimum(jc_graph *g, jc_tensor *a, jc_tensor *b) { return jc_binary(g, JC_BIN_MIN, a, b); }
jc_tensor *jc_maximum(jc_graph *g, jc_tensor *a, jc_tensor *b) { return jc_binary(g, JC_BIN_MAX, a, b); }

jc_tensor *jc_fsq_quantize(jc_graph *g, jc_tensor *z, jc_tensor *levels)
{
    return jc_binary(g, JC_BIN_FSQ_VALUE, z, levels);
}

jc_tensor *jc_fsq_index(jc_graph *g, jc_tensor *z, jc_tensor *levels)
{
    return jc_binary(g, JC_BIN_FSQ_INDEX, z, levels);
}

jc_tensor *jc_scale(jc_graph *g, jc_tensor *a, float scale, float offset)
{
    if (!ARGS_OK(g, a))
        return NULL;
    jc_tensor *t = node1(g, JC_OP_SCALE, a, a);
    if (t) {
        t->fp[0] = scale;
        t->fp[1] = offset;
    }
    return t;
}

jc_tensor *jc_unary(jc_graph *g, jc_unary_kind kind, jc_tensor *a, float p0, float p1)
{
    if (!ARGS_OK(g, a))
        return NULL;
    jc_tensor *t = node1(g, JC_OP_UNARY, a, a);
    if (t) {
        t->kind = kind;
        t->fp[0] = p0;
        t->fp[1] = p1;
    }
    return t;
}

jc_tensor *jc_exp(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_EXP, a, 0, 0); }
jc_tensor *jc_log(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_LOG, a, 0, 0); }
jc_tensor *jc_sin(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_SIN, a, 0, 0); }
jc_tensor *jc_cos(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_COS, a, 0, 0); }
jc_tensor *jc_sqr(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_SQR, a, 0, 0); }
jc_tensor *jc_sqrt(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_SQRT, a, 0, 0); }
jc_tensor *jc_abs(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_ABS, a, 0, 0); }
jc_tensor *jc_tanh(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_TANH, a, 0, 0); }
jc_tensor *jc_sigmoid(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_SIGMOID, a, 0, 0); }
jc_tensor *jc_softplus(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_SOFTPLUS, a, 0, 0); }
jc_tensor *jc_gelu(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_GELU, a, 0, 0); }
jc_tensor *jc_silu(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_SILU, a, 0, 0); }
jc_tensor *jc_reciprocal(jc_graph *g, jc_tensor *a) { return jc_unary(g, JC_UN_RECIP, a, 0, 0); }
jc_tensor *jc_leaky_relu(jc_graph *g, jc_tensor *a, float slope) { return jc_unary(g, JC_UN_LEAKY_RELU, a, slope, 0); }
jc_tensor *jc_clamp(jc_graph *g, jc_tensor *a, float lo, float hi) { return jc_unary(g, JC_UN_CLAMP, a, lo, hi); }

jc_tensor *jc_unary_grad(jc_graph *g, const jc_tensor *fwd, jc_tensor *dy)
{
    if (!ARGS_OK(g, dy))
        return NULL;
    jc_tensor *t = node1(g, JC_OP_UNARY_GRAD, fwd, fwd->src[0]);
    if (t) {
        t->kind = fwd->kind;
        t->src[1] = (jc_tensor *)fwd;
        t->src[2] = dy;
        t->fp[0] = fwd->fp[0];
        t->fp[1] = fwd->fp[1];
    }
    return t;
}

/* ------------------------------------------------------------- reductions */

/* a's axis `axis` (negative: from the end) for an operation along one axis;
 * -1, the graph failed, when a is missing or the axis out of range. */
static int op_axis(jc_graph *g, jc_tensor *a, int axis, const char *what)
{
    if (!ARGS_OK(g, a))
        return -1;
    int ax = jc_norm_axis(a->ndim, axis);
    if (ax < 0)
        jc_graph_fail(g, JC_ERR_INVALID, "%s axis %d out of range for %s", what, axis, a->name);
    return ax;
}

static jc_tensor *reduce(jc_graph *g, jc_op op, jc_tensor *a, int axis)
{
    int ax = op_axis(g, a, axis, "reduction");
    if (ax < 0)
        return NULL;
    int64_t shape[JC_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[ax] = 1;
    jc_tensor *t = jc_new_node(g, op, a->ndim, shape);
    if (t) {
        t->src[0] = a;
        t->ip[0] = ax;
    }
    return t;
}

jc_tensor *jc_sum(jc_graph *g, jc_tensor *a, int axis) { return reduce(g, JC_OP_SUM, a, axis); }

jc_tensor *jc_max(jc_graph *g, jc_tensor *a, int axis)
{
    jc_tensor *t = reduce(g, JC_OP_MAX, a, axis);
    if (t)
        t->flags |= JC_F_NO_GRAD;
    return t;
}

/* ---------------------------------------------------------------- softmax */

/* One operation, not max, exp, sum and divide: each of those passes reads
 * and writes the whole tensor, the fused kernels read it once or twice
 * from a cache and write it once. */
jc_tensor *jc_softmax_fused(jc_graph *g, jc_tensor *a, int axis)
{
    int ax = op_axis(g, a, axis, "softmax");
    if (ax < 0)
        return NULL;
    jc_tensor *t = node1(g, JC_OP_SOFTMAX, a, a);
    if (t)
        t->ip[0] = ax;
    return t;
}

jc_tensor *jc_softmax_grad(jc_graph *g, jc_tensor *y, jc_tensor *dy)
{
    if (!ARGS_OK(g, y, dy))
        return NULL;
    jc_tensor *t = node1(g, JC_OP_SOFTMAX_GRAD, y, y);
    if (t) {
        t->src[1] = dy;
        t->ip[0] = y->ip[0];
    }
    return t;
}

/* ------------------------------------------------------------------- DFT */

/* The real DFT and its transpose: one node whose last axis changes length
 * between N and N + 2; N must be a power of two (the FFT kernels).  The
 * twiddles are a constant of the graph, computed in double here, so every
 * backend uses the same values and none needs sin and cos of its own. */
jc_tensor *jc_rdft_node(jc_graph *g, int adjoint, jc_tensor *a, jc_tensor *twiddles)
{
    if (!ARGS_OK(g, a))
        return NULL;
    int64_t len = a->shape[a->ndim - 1], n = adjoint ? len - 2 : len, m = n / 2;
    if (n < 2 || (n & (n - 1)) || n > ((int64_t)1 << 24)) {
        jc_graph_fail(g, JC_ERR_INVALID, "%s of %s: the last axis (%lld) must be %s", adjoint ? "rdft_adjoint" : "rdft",
                      a->name, (long long)len, adjoint ? "N + 2 for such N" : "a power of two N from 2 to 2^24");
        return NULL;
    }
    if (!twiddles) {
        float *tw = malloc((size_t)(2 * (m + 1)) * sizeof *tw);
        if (!tw) {
            jc_graph_fail(g, JC_ERR_NOMEM, "rdft: out of memory");
            return NULL;
        }
        for (int64_t k = 0; k <= m; k++) {
            tw[k] = (float)cos(2.0 * M_PI * (double)k / (double)n);
            tw[m + 1 + k] = (float)sin(2.0 * M_PI * (double)k / (double)n);
        }
        twiddles = jc_constant(g, "rdft.twiddles", 2, (int64_t[]){2, m + 1}, tw);
        free(tw);
        if (!twiddles)
            return NULL;
    }
    int64_t shape[JC_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = adjoint ? n : n + 2;
    jc_tensor *t = jc_new_node(g, adjoint ? JC_OP_RDFT_ADJOINT : JC_OP_RDFT, a->ndim, shape);
    if (t) {
        t->src[0] = a;
        t->src[1] = twiddles;
        t->ip[0] = (int)n;
        while (((int64_t)2 << t->ip[1]) < n) /* log2(N/2), which every backend's bit reversal needs */
            t->ip[1]++;
    }
    return t;
}

jc_tensor *jc_rdft(jc_graph *g, jc_tensor *x) { return jc_rdft_node(g, 0, x, NULL); }

jc_tensor *jc_rdft_adjoint(jc_graph *g, jc_tensor *y) { return jc_rdft_node(g, 1, y, NULL); }

/* ----------------------------------------------------------------- layout */

jc_tensor *jc_reshape(jc_graph *g, jc_tensor *a, int ndim, const int64_t *shape)
{
    if (!ARGS_OK(g, a))
        return NULL;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    if (n != jc_tensor_nelem(a)) {
        jc_graph_fail(g, JC_ERR_INVALID, "reshape of %s: %lld elements into %lld", a->name,
                      (long long)jc_tensor_nelem(a), (long long)n);
        return NULL;
    }
    jc_tensor *t = jc_new_node(g, JC_OP_VIEW, ndim, shape);
    if (t) {
        t->src[0] = a;
        t->view_of = a;
    }
    return t;
}

jc_tensor *jc_stop_gradient(jc_graph *g, jc_tensor *a)
{
    if (!ARGS_OK(g, a))
        return NULL;
    jc_tensor *t = jc_reshape(g, a, a->ndim, a->shape);
    if (t)
        t->flags |= JC_F_NO_GRAD;
    return t;
}

jc_tensor *jc_permute(jc_graph *g, jc_tensor *a, const int *perm)
{
    if (!ARGS_OK(g, a))
        return NULL;
    int seen[JC_MAX_DIMS] = {0};
    int64_t shape[JC_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= a->ndim || seen[perm[i]]++) {
            jc_graph_fail(g, JC_ERR_INVALID, "permute of %s: not a permutation", a->name);
            return NULL;
        }
        shape[i] = a->shape[perm[i]];
    }
    jc_tensor *t = jc_new_node(g, JC_OP_PERMUTE, a->ndim, shape);
    if (t) {
        t->src[0] = a;
        for (int i = 0; i < JC_MAX_DIMS; i++)
            t->ip[i] = i < a->ndim ? perm[i] : i;
    }
    return t;
}

jc_tensor *jc_transpose(jc_graph *g, jc_tensor *a, int axis0, int axis1)
{
    if (!ARGS_OK(g, a))
        return NULL;
    int a0 = jc_norm_axis(a->ndim, axis0), a1 = jc_norm_axis(a->ndim, axis1);
    if (a0 < 0 || a1 < 0) {
        jc_graph_fail(g, JC_ERR_INVALID, "transpose of %s: axis out of range", a->name);
        return NULL;
    }
    int perm[JC_MAX_DIMS] = {0, 1, 2, 3};
    perm[a0] = a1;
    perm[a1] = a0;
    return jc_permute(g, a, perm);
}

jc_tensor *jc_expand(jc_graph *g, jc_tensor *a, int ndim, const int64_t *shape)
{
    if (!ARGS_OK(g, a))
        return NULL;
    int ok = ndim >= a->ndim;
    for (int i = 0; ok && i < a->ndim; i++) {
        int64_t d = a->shape[i], o = shape[ndim - a->ndim + i];
        ok = d == o || d == 1;
    }
    if (!ok) {
        jc_graph_fail(g, JC_ERR_INVALID, "expand: %s does not broadcast to the requested shape", a->name);
        return NULL;
    }
    jc_tensor *t = jc_new_node(g, JC_OP_EXPAND, ndim, shape);
    if (t)
        t->src[0] = a;
    return t;
}

jc_tensor *jc_slice(jc_graph *g, jc_tensor *a, int axis, int64_t start, int64_t length)
{
    if (!ARGS_OK(g, a))
        return NULL;
    int ax = jc_norm_axis(a->ndim, axis);
    if (ax < 0 || start < 0 || length < 1 || start + length > a->shape[ax]) {
        jc_graph_fail(g, JC_ERR_INVALID, "slice of %s: [%lld, +%lld) outside axis %d", a->name, (long long)start,
                      (long long)length, axis);
        return NULL;
    }
    int64_t shape[JC_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[ax] = length;
    jc_tensor *t = jc_new_node(g, JC_OP_SLICE, a->ndim, shape);
    if (t) {
        t->src[0] = a;
        t->ip[0] = ax;
        t->ip[1] = (int32_t)start;
    }
    return t;
}

static jc_tensor *pad_node(jc_graph *g, jc_op op, jc_tensor *a, int axis, int before, int after, int mode,
                           int64_t new_len)
{
    int ax = jc_norm_axis(a->ndim, axis);
    if (ax < 0 || new_len < 1) {
        jc_graph_fail(g, JC_ERR_INVALID, "pad of %s: bad axis or size", a->name);
        return NULL;
    }
    int64_t shape[JC_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[ax] = new_len;
    jc_tensor *t = jc_new_node(g, op, a->ndim, shape);
    if (t) {
        t->src[0] = a;
        t->ip[0] = ax;
        t->ip[1] = before;
        t->ip[2] = after;
        t->ip[3] = mode;
    }
    return t;
}

jc_tensor *jc_pad(jc_graph *g, jc_tensor *a, int axis, int before, int after, jc_pad_mode mode)
{
    if (!ARGS_OK(g, a))
        return NULL;
    int ax = jc_norm_axis(a->ndim, axis);
    if (ax < 0 || before < 0 || after < 0) {
        jc_graph_fail(g, JC_ERR_INVALID, "pad of %s: bad axis or negative padding", a->name);
        return NULL;
    }
    if (mode == JC_PAD_REFLECT && (before >= a->shape[ax] || after >= a->shape[ax])) {
        jc_graph_fail(g, JC_ERR_INVALID, "reflect pad of %s: padding %d/%d needs length > padding (is %lld)",
                      a->name, before, after, (long long)a->shape[ax]);
        return NULL;
    }
    return pad_node(g, JC_OP_PAD, a, axis, before, after, mode, a->shape[ax] + before + after);
}

jc_tensor *jc_pad_reflect_grad(jc_graph *g, jc_tensor *dy, int axis, int before, int after)
{
    if (!ARGS_OK(g, dy))
        return NULL;
    return pad_node(g, JC_OP_PAD_REFLECT_GRAD, dy, axis, before, after, JC_PAD_REFLECT,
                    dy->shape[axis] - before - after);
}

jc_tensor *jc_concat(jc_graph *g, jc_tensor *a, jc_tensor *b, int axis)
{
    if (!ARGS_OK(g, a, b))
        return NULL;
    int ax = jc_norm_axis(a->ndim, axis);
    int ok = ax >= 0 && a->ndim == b->ndim;
    for (int i = 0; ok && i < a->ndim; i++)
        ok = i == ax || a->shape[i] == b->shape[i];
    if (!ok) {
        jc_graph_fail(g, JC_ERR_INVALID, "concat: %s and %s differ outside axis %d", a->name, b->name, axis);
        return NULL;
    }
    int64_t shape[JC_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[ax] += b->shape[ax];
    jc_tensor *t = jc_new_node(g, JC_OP_CONCAT, a->ndim, shape);
    if (t) {
        t->src[0] = a;
        t->src[1] = b;
        t->ip[0] = ax;
    }
    return t;
}

/* ------------------------------------------------------------- randomness */

jc_tensor *jc_dropout_salted(jc_graph *g, jc_tensor *a, float p, int salt)
{
    jc_tensor *t = node1(g, JC_OP_DROPOUT, a, a);
    if (t) {
        t->fp[0] = p;
        t->ip[0] = salt;
    }
    return t;
}

jc_tensor *jc_dropout(jc_graph *g, jc_tensor *a, float p)
{
    if (!ARGS_OK(g, a))
        return NULL;
    if (!(p >= 0 && p < 1)) {
        jc_graph_fail(g, JC_ERR_INVALID, "dropout probability %g outside [0, 1)", p);
        return NULL;
    }
    if (p == 0)
        return a;
    /* each dropout of the graph draws its own mask from (seed, salt, index) */
    return jc_dropout_salted(g, a, p, ++g->dropout_salt);
}

/* ------------------------------------------------------------------ frames */

jc_tensor *jc_frames_raw(jc_graph *g, jc_tensor *x, int n_fft, int hop)
{
    if (!ARGS_OK(g, x))
        return NULL;
    if (x->ndim != 2 || n_fft < 1 || hop < 1 || x->shape[1] < n_fft) {
        jc_graph_fail(g, JC_ERR_INVALID, "frames of %s: need [B, T] with T >= n_fft (%d)", x->name, n_fft);
        return NULL;
    }
    int64_t shape[3] = {x->shape[0], 1 + (x->shape[1] - n_fft) / hop, n_fft};
    jc_tensor *t = jc_new_node(g, JC_OP_FRAMES, 3, shape);
    if (t) {
        t->src[0] = x;
        t->ip[0] = n_fft;
        t->ip[1] = hop;
    }
    return t;
}

jc_tensor *jc_frames_grad(jc_graph *g, jc_tensor *dy, int n_fft, int hop, int64_t t_len)
{
    if (!ARGS_OK(g, dy))
        return NULL;
    int64_t shape[2] = {dy->shape[0], t_len};
    jc_tensor *t = jc_new_node(g, JC_OP_FRAMES_GRAD, 2, shape);
    if (t) {
        t->src[0] = dy;
        t->ip[0] = n_fft;
        t->ip[1] = hop;
    }
    return t;
}

jc_tensor *jc_fma_peak(jc_graph *g, jc_tensor *x, int iterations)
{
    if (!ARGS_OK(g, x))
        return NULL;
    jc_tensor *t = node1(g, JC_OP_FMA_PEAK, x, x);
    if (t) {
        t->ip[0] = iterations;
        t->flags |= JC_F_NO_GRAD;
    }
    return t;
}
