/* opencl_ops.c: from a graph node to kernel launches.  Arguments are set
 * and the kernels enqueued on the backend's in-order queue; nothing here
 * waits for the device, so a whole graph is submitted without a host round
 * trip per operation. */
#include <string.h>

#include "opencl_internal.h"

/* Elements past which a row is reduced in several chunks (two passes). */
#define REDUCE_CHUNK 65536

/* ------------------------------------------------------ argument helper */

typedef struct {
    jc_cl_ctx *c;
    cl_kernel k;
    cl_uint i;
    cl_int err;
} kargs;

static kargs args_of(jc_cl_ctx *c, jc_cl_kernel_id id) { return (kargs){c, c->kernels[id], 0, CL_SUCCESS}; }

/* A GEMM kernel: its fp16-product build (kernels/gemm_product.cl) for
 * inference graphs where that path is on (see jc_graph_fp16_ok and
 * opencl_backend.c's fp16_mode), else the fp32 one.  Both take the same
 * arguments and tiles, so they differ only in the arithmetic. */
static kargs gemm_args_of(jc_cl_ctx *c, jc_cl_kernel_id id)
{
    kargs a = args_of(c, id);
    if (c->fp16_mode != JC_CL_FP16_OFF && c->graph && jc_graph_fp16_ok(c->graph) && c->kernels_f16[id])
        a.k = c->kernels_f16[id];
    return a;
}

static void arg_raw(kargs *a, size_t size, const void *v)
{
    if (a->err == CL_SUCCESS)
        a->err = a->c->api.clSetKernelArg(a->k, a->i, size, v);
    a->i++;
}

static void arg_i(kargs *a, int v)
{
    cl_int x = v;
    arg_raw(a, sizeof x, &x);
}

static void arg_u(kargs *a, uint64_t v)
{
    cl_uint x = (cl_uint)v;
    arg_raw(a, sizeof x, &x);
}

static void arg_ul(kargs *a, uint64_t v)
{
    cl_ulong x = v;
    arg_raw(a, sizeof x, &x);
}

static void arg_f(kargs *a, float v)
{
    cl_float x = v;
    arg_raw(a, sizeof x, &x);
}

static void arg_u4(kargs *a, const int64_t *v)
{
    cl_uint4 x;
    for (int i = 0; i < 4; i++)
        x.s[i] = (cl_uint)v[i];
    arg_raw(a, sizeof x, &x);
}

static void arg_mem(kargs *a, cl_mem m) { arg_raw(a, sizeof m, &m); }

static void arg_local(kargs *a, size_t bytes) { arg_raw(a, bytes, NULL); }

/* A tensor is two arguments: its storage's buffer and offset in floats
 * (planner offsets are JC_ALIGN-aligned, so the division is exact). */
static void arg_t(kargs *a, const jc_tensor *t)
{
    jc_tensor *base = jc_storage_base((jc_tensor *)t);
    arg_mem(a, (cl_mem)base->buf->impl);
    arg_ul(a, base->offset / sizeof(float));
}

/* ---------------------------------------------------------- launching */

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* one item per element, rounded up to whole work-groups */
static cl_int run_1d(kargs *a, jc_cl_kernel_id id, size_t n)
{
    if (a->err != CL_SUCCESS || n == 0)
        return a->err;
    size_t local = a->c->wg[id], global = round_up(n, local);
    return a->c->api.clEnqueueNDRangeKernel(a->c->queue, a->k, 1, NULL, &global, &local, 0, NULL, NULL);
}

static cl_int run_groups(kargs *a, jc_cl_kernel_id id, size_t groups)
{
    if (a->err != CL_SUCCESS || groups == 0)
        return a->err;
    size_t local = a->c->wg[id], global = groups * local;
    return a->c->api.clEnqueueNDRangeKernel(a->c->queue, a->k, 1, NULL, &global, &local, 0, NULL, NULL);
}

/* the tiled GEMM kernels: tile x tile blocks of C (64 unless tuned), 16 x
 * 16 items each */
static cl_int run_tiles(kargs *a, int64_t M, int64_t N, int64_t batch)
{
    if (a->err != CL_SUCCESS || M == 0 || N == 0 || batch == 0)
        return a->err;
    size_t ts = (size_t)a->c->tile, local[3] = {16, 16, 1};
    size_t global[3] = {((size_t)N + ts - 1) / ts * 16, ((size_t)M + ts - 1) / ts * 16, (size_t)batch};
    return a->c->api.clEnqueueNDRangeKernel(a->c->queue, a->k, 3, NULL, global, local, 0, NULL, NULL);
}

/* gemm_vec.cl: one item per bm x bn block of C; the driver picks the
 * work-group size (CPU drivers have no preference worth overriding) */
static cl_int run_blocks(kargs *a, int64_t M, int64_t N, int64_t batch, int bm, int bn)
{
    if (a->err != CL_SUCCESS || M == 0 || N == 0 || batch == 0)
        return a->err;
    size_t global[3] = {(size_t)(N + bn - 1) / (size_t)bn, (size_t)(M + bm - 1) / (size_t)bm, (size_t)batch};
    return a->c->api.clEnqueueNDRangeKernel(a->c->queue, a->k, 3, NULL, global, NULL, 0, NULL, NULL);
}

/* --------------------------------------------------------------- shapes */

/* shape and per-axis strides right-aligned into 4 dims */
static void pad4(int ndim, const int64_t *shape, const int64_t *strides, int64_t *s4, int64_t *st4)
{
    for (int i = 0; i < 4; i++) {
        int k = i - (4 - ndim);
        s4[i] = k >= 0 ? shape[k] : 1;
        if (st4)
            st4[i] = k >= 0 ? strides[k] : 0;
    }
}

static int is_depthwise(int cin, int cout, int groups) { return groups == cin && groups == cout; }

/* ------------------------------------------------------------ operations */

static cl_int op_binary(jc_cl_ctx *c, jc_tensor *t)
{
    const jc_tensor *a = t->src[0], *b = t->src[1];
    int64_t n = jc_tensor_nelem(t);
    if (jc_same_shape(a, t) && jc_same_shape(b, t)) {
        kargs k = args_of(c, K_BINARY_SAME);
        arg_i(&k, t->kind);
        arg_t(&k, a);
        arg_t(&k, b);
        arg_t(&k, t);
        arg_u(&k, (uint64_t)n);
        return run_1d(&k, K_BINARY_SAME, (size_t)n);
    }
    int64_t sa[JC_MAX_DIMS], sb[JC_MAX_DIMS], s4[4], sa4[4], sb4[4];
    jc_broadcast_strides(a, t->ndim, t->shape, sa);
    jc_broadcast_strides(b, t->ndim, t->shape, sb);
    pad4(t->ndim, t->shape, sa, s4, sa4);
    pad4(t->ndim, t->shape, sb, s4, sb4);
    kargs k = args_of(c, K_BINARY);
    arg_i(&k, t->kind);
    arg_t(&k, a);
    arg_t(&k, b);
    arg_t(&k, t);
    arg_u(&k, (uint64_t)n);
    arg_u4(&k, s4);
    arg_u4(&k, sa4);
    arg_u4(&k, sb4);
    return run_1d(&k, K_BINARY, (size_t)n);
}

static cl_int op_unary(jc_cl_ctx *c, jc_tensor *t)
{
    int64_t n = jc_tensor_nelem(t);
    jc_cl_kernel_id id = t->op == JC_OP_UNARY ? K_UNARY : K_UNARY_GRAD;
    kargs k = args_of(c, id);
    arg_i(&k, t->kind);
    arg_f(&k, t->fp[0]);
    arg_f(&k, t->fp[1]);
    arg_t(&k, t->src[0]);
    if (id == K_UNARY_GRAD) {
        arg_t(&k, t->src[1]);
        arg_t(&k, t->src[2]);
    }
    arg_t(&k, t);
    arg_u(&k, (uint64_t)n);
    return run_1d(&k, id, (size_t)n);
}

static cl_int op_scale(jc_cl_ctx *c, jc_tensor *t)
{
    int64_t n = jc_tensor_nelem(t);
    kargs k = args_of(c, K_SCALE);
    arg_f(&k, t->fp[0]);
    arg_f(&k, t->fp[1]);
    arg_t(&k, t->src[0]);
    arg_t(&k, t);
    arg_u(&k, (uint64_t)n);
    return run_1d(&k, K_SCALE, (size_t)n);
}

static cl_int op_dropout(jc_cl_ctx *c, jc_tensor *t)
{
    int64_t n = jc_tensor_nelem(t);
    if (!c->graph->training) { /* evaluation: identity */
        jc_tensor *xs = jc_storage_base(t->src[0]), *ys = jc_storage_base(t);
        return c->api.clEnqueueCopyBuffer(c->queue, (cl_mem)xs->buf->impl, (cl_mem)ys->buf->impl, xs->offset,
                                          ys->offset, (size_t)n * sizeof(float), 0, NULL, NULL);
    }
    /* the seed mixing of the CPU backend, in 64 bits on the host */
    uint64_t seed = c->graph->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)t->ip[0];
    kargs k = args_of(c, K_DROPOUT);
    arg_u(&k, seed & 0xffffffffu);
    arg_u(&k, seed >> 32);
    arg_f(&k, t->fp[0]);
    arg_f(&k, 1.0f / (1.0f - t->fp[0]));
    arg_t(&k, t->src[0]);
    arg_t(&k, t);
    arg_u(&k, (uint64_t)n);
    return run_1d(&k, K_DROPOUT, (size_t)n);
}

static cl_int op_adamw(jc_cl_ctx *c, jc_tensor *t)
{
    int64_t n = jc_tensor_nelem(t);
    kargs k = args_of(c, K_ADAMW);
    arg_t(&k, t->src[0]); /* param */
    arg_t(&k, t->src[1]); /* grad */
    arg_t(&k, t->src[2]); /* m */
    arg_t(&k, t->src[3]); /* v */
    arg_t(&k, t->src[4]); /* hyper */
    arg_t(&k, t->src[5]); /* clip scale */
    for (int i = 0; i < 4; i++)
        arg_f(&k, t->fp[i]);
    arg_u(&k, (uint64_t)n);
    return run_1d(&k, K_ADAMW, (size_t)n);
}

static cl_int op_ema(jc_cl_ctx *c, jc_tensor *t)
{
    int64_t n = jc_tensor_nelem(t);
    kargs k = args_of(c, K_EMA);
    arg_f(&k, t->fp[0]);
    arg_t(&k, t->src[0]);
    arg_t(&k, t->src[1]);
    arg_u(&k, (uint64_t)n);
    return run_1d(&k, K_EMA, (size_t)n);
}

static cl_int op_fma_peak(jc_cl_ctx *c, jc_tensor *t)
{
    int64_t n = jc_tensor_nelem(t);
    kargs k = args_of(c, K_FMA_PEAK);
    arg_t(&k, t->src[0]);
    arg_t(&k, t);
    arg_u(&k, (uint64_t)n);
    arg_i(&k, t->ip[0]);
    return run_1d(&k, K_FMA_PEAK, (size_t)n);
}

/* chunks a row of n elements is split into for the first pass */
static int64_t reduce_chunks(int64_t n)
{
    int64_t chunks = n / REDUCE_CHUNK;
    if (chunks > 1024)
        chunks = 1024;
    return chunks < 2 ? 1 : chunks;
}

static cl_int reduce_rows(jc_cl_ctx *c, cl_mem x, uint64_t xoff, cl_mem y, uint64_t yoff, int64_t rows, int64_t n,
                          int64_t chunks, int is_max)
{
    int64_t chunk = (n + chunks - 1) / chunks;
    kargs k = args_of(c, K_REDUCE_ROWS);
    arg_mem(&k, x);
    arg_ul(&k, xoff);
    arg_mem(&k, y);
    arg_ul(&k, yoff);
    arg_u(&k, (uint64_t)n);
    arg_u(&k, (uint64_t)chunk);
    arg_u(&k, (uint64_t)chunks);
    arg_i(&k, is_max);
    arg_local(&k, c->wg[K_REDUCE_ROWS] * c->acc_bytes);
    return run_groups(&k, K_REDUCE_ROWS, (size_t)(rows * chunks));
}

/* Lanes per output of reduce_cols: on GPUs a long axis is split over up
 * to 8 lanes (a work-group of 32 outputs x lanes, within the kernel's
 * work-group size), so that a sum over the first axis of a square matrix
 * runs n x 8 items rather than n; on CPU drivers one item per output.
 * JC_OPENCL_REDUCE_LANES=1|2|4|8 forces a count (tests of the GPU path). */
static int64_t reduce_lanes(const jc_cl_ctx *c, int64_t n)
{
    int64_t forced = c->reduce_lanes, lanes = 1;
    while (lanes < 8 && lanes * 2 * 32 <= (int64_t)c->wg[K_REDUCE_COLS] &&
           (forced ? lanes < forced : !c->info.is_cpu_driver && n >= 64 * lanes))
        lanes *= 2;
    return lanes;
}

static cl_int reduce_cols(jc_cl_ctx *c, cl_mem x, uint64_t xoff, cl_mem y, uint64_t yoff, int64_t outer, int64_t n,
                          int64_t inner, int is_max)
{
    int64_t outputs = outer * inner, lanes = reduce_lanes(c, n);
    kargs k = args_of(c, K_REDUCE_COLS);
    arg_mem(&k, x);
    arg_ul(&k, xoff);
    arg_mem(&k, y);
    arg_ul(&k, yoff);
    arg_u(&k, (uint64_t)outputs);
    arg_u(&k, (uint64_t)n);
    arg_u(&k, (uint64_t)inner);
    arg_i(&k, is_max);
    arg_u(&k, (uint64_t)lanes);
    arg_local(&k, (size_t)(32 * lanes) * c->acc_bytes);
    if (lanes == 1)
        return run_1d(&k, K_REDUCE_COLS, (size_t)outputs);
    if (k.err != CL_SUCCESS || outputs == 0)
        return k.err;
    size_t local[2] = {32, (size_t)lanes}, global[2] = {((size_t)outputs + 31) / 32 * 32, (size_t)lanes};
    return c->api.clEnqueueNDRangeKernel(c->queue, k.k, 2, NULL, global, local, 0, NULL, NULL);
}

static cl_int op_reduce(jc_cl_ctx *c, jc_tensor *t)
{
    const jc_tensor *x = t->src[0];
    int is_max = t->op == JC_OP_MAX;
    int64_t outer, n, inner;
    jc_split_axis(x, t->ip[0], &outer, &n, &inner);
    jc_tensor *xs = jc_storage_base((jc_tensor *)x), *ys = jc_storage_base(t);
    cl_mem xm = (cl_mem)xs->buf->impl, ym = (cl_mem)ys->buf->impl;
    uint64_t xoff = xs->offset / sizeof(float), yoff = ys->offset / sizeof(float);
    if (inner > 1)
        return reduce_cols(c, xm, xoff, ym, yoff, outer, n, inner, is_max);
    int64_t chunks = reduce_chunks(n);
    if (chunks == 1)
        return reduce_rows(c, xm, xoff, ym, yoff, outer, n, 1, is_max);
    /* partial results of every (row, chunk) in scratch, then one pass over them */
    cl_int e = reduce_rows(c, xm, xoff, c->scratch, 0, outer, n, chunks, is_max);
    if (e == CL_SUCCESS)
        e = reduce_rows(c, c->scratch, 0, ym, yoff, outer, chunks, 1, is_max);
    return e;
}

static cl_int run_gather(jc_cl_ctx *c, jc_tensor *t, const jc_tensor *src, uint64_t src_extra, const int64_t *shape4,
                         const int64_t *st4)
{
    int64_t n = jc_tensor_nelem(t);
    jc_tensor *xs = jc_storage_base((jc_tensor *)src);
    kargs k = args_of(c, K_GATHER4);
    arg_mem(&k, (cl_mem)xs->buf->impl);
    arg_ul(&k, xs->offset / sizeof(float) + src_extra);
    arg_t(&k, t);
    arg_u(&k, (uint64_t)n);
    arg_u4(&k, shape4);
    arg_u4(&k, st4);
    return run_1d(&k, K_GATHER4, (size_t)n);
}

static cl_int op_permute(jc_cl_ctx *c, jc_tensor *t)
{
    const jc_tensor *x = t->src[0];
    int64_t xs[JC_MAX_DIMS], st[JC_MAX_DIMS], s4[4], st4[4];
    int64_t s = 1;
    for (int i = x->ndim - 1; i >= 0; i--) {
        xs[i] = s;
        s *= x->shape[i];
    }
    for (int i = 0; i < t->ndim; i++)
        st[i] = xs[t->ip[i]];
    pad4(t->ndim, t->shape, st, s4, st4);
    return run_gather(c, t, x, 0, s4, st4);
}

static cl_int op_expand(jc_cl_ctx *c, jc_tensor *t)
{
    int64_t st[JC_MAX_DIMS], s4[4], st4[4];
    jc_broadcast_strides(t->src[0], t->ndim, t->shape, st);
    pad4(t->ndim, t->shape, st, s4, st4);
    return run_gather(c, t, t->src[0], 0, s4, st4);
}

static cl_int op_slice(jc_cl_ctx *c, jc_tensor *t)
{
    int64_t outer, n_out, inner, n_in = t->src[0]->shape[t->ip[0]];
    jc_split_axis(t, t->ip[0], &outer, &n_out, &inner);
    int64_t s4[4] = {1, outer, n_out, inner}, st4[4] = {0, n_in * inner, inner, 1};
    return run_gather(c, t, t->src[0], (uint64_t)t->ip[1] * (uint64_t)inner, s4, st4);
}

static cl_int op_pad(jc_cl_ctx *c, jc_tensor *t)
{
    int grad = t->op == JC_OP_PAD_REFLECT_GRAD;
    int64_t outer, n_out, inner, n_in = t->src[0]->shape[t->ip[0]];
    jc_split_axis(t, t->ip[0], &outer, &n_out, &inner);
    int64_t total = jc_tensor_nelem(t);
    jc_cl_kernel_id id = grad ? K_PAD_REFLECT_GRAD : K_PAD;
    kargs k = args_of(c, id);
    arg_t(&k, t->src[0]);
    arg_t(&k, t);
    arg_u(&k, (uint64_t)total);
    arg_u(&k, (uint64_t)n_in);
    arg_u(&k, (uint64_t)n_out);
    arg_u(&k, (uint64_t)inner);
    arg_i(&k, t->ip[1]);
    if (!grad)
        arg_i(&k, t->ip[3] == JC_PAD_REFLECT);
    return run_1d(&k, id, (size_t)total);
}

static cl_int op_concat(jc_cl_ctx *c, jc_tensor *t)
{
    int64_t outer, n, inner;
    jc_split_axis(t, t->ip[0], &outer, &n, &inner);
    int64_t total = jc_tensor_nelem(t);
    kargs k = args_of(c, K_CONCAT);
    arg_t(&k, t->src[0]);
    arg_t(&k, t->src[1]);
    arg_t(&k, t);
    arg_u(&k, (uint64_t)total);
    arg_u(&k, (uint64_t)t->src[0]->shape[t->ip[0]]);
    arg_u(&k, (uint64_t)t->src[1]->shape[t->ip[0]]);
    arg_u(&k, (uint64_t)inner);
    return run_1d(&k, K_CONCAT, (size_t)total);
}

static cl_int op_frames(jc_cl_ctx *c, jc_tensor *t)
{
    int grad = t->op == JC_OP_FRAMES_GRAD;
    /* frames: src [B, T] -> t [B, F, N]; grad: src [B, F, N] -> t [B, T] */
    const jc_tensor *fr = grad ? t->src[0] : t, *sig = grad ? t : t->src[0];
    int64_t total = jc_tensor_nelem(t);
    jc_cl_kernel_id id = grad ? K_FRAMES_GRAD : K_FRAMES;
    kargs k = args_of(c, id);
    arg_t(&k, t->src[0]);
    arg_t(&k, t);
    arg_u(&k, (uint64_t)total);
    arg_u(&k, (uint64_t)sig->shape[1]);
    arg_u(&k, (uint64_t)fr->shape[1]);
    arg_u(&k, (uint64_t)fr->shape[2]);
    arg_u(&k, (uint64_t)t->ip[1]);
    return run_1d(&k, id, (size_t)total);
}

static cl_int op_matmul(jc_cl_ctx *c, jc_tensor *t)
{
    const jc_tensor *a = t->src[0], *b = t->src[1];
    int ta = t->ip[0], tb = t->ip[1];
    int64_t M = t->shape[t->ndim - 2], N = t->shape[t->ndim - 1];
    int64_t K = ta ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
    int64_t batch = jc_tensor_nelem(t) / (M * N);
    jc_cl_kernel_id id = c->vec_gemm ? K_MATMUL_VEC : K_MATMUL;
    kargs k = gemm_args_of(c, id);
    arg_t(&k, a);
    arg_ul(&k, a->ndim > 2 ? (uint64_t)(M * K) : 0);
    arg_t(&k, b);
    arg_ul(&k, b->ndim > 2 ? (uint64_t)(K * N) : 0);
    arg_t(&k, t);
    arg_i(&k, (int)M);
    arg_i(&k, (int)N);
    arg_i(&k, (int)K);
    arg_i(&k, ta);
    arg_i(&k, tb);
    if (id == K_MATMUL_VEC)
        return run_blocks(&k, M, N, batch, 8, 8);
    return run_tiles(&k, M, N, batch);
}

/* geometry arguments of the convolution kernels (CONV_ARGS / DW_ARGS) */
static void conv_geom_args(kargs *k, const jc_tensor *x, const jc_tensor *y, const jc_tensor *w, const jc_tensor *t,
                           int depthwise)
{
    arg_i(k, (int)x->shape[1]);
    arg_i(k, (int)x->shape[2]);
    if (!depthwise)
        arg_i(k, (int)y->shape[1]);
    arg_i(k, (int)y->shape[2]);
    if (!depthwise)
        arg_i(k, t->ip[4]);
    arg_i(k, (int)w->shape[2]);
    arg_i(k, t->ip[0]); /* stride */
    arg_i(k, t->ip[1]); /* left padding; the right one only sets the output length */
    arg_i(k, t->ip[3]); /* dilation */
}

static void arg_bias(kargs *k, const jc_tensor *bias, const jc_tensor *fallback)
{
    arg_t(k, bias ? bias : fallback); /* any valid buffer when there is none */
    arg_i(k, bias != NULL);
}

/* Time steps per split of weight gradient t, 0 for none, for the
 * depthwise kernel (a direct loop of its own) or for another operation
 * (see jc_conv_weight_split); *splits gets their number.  The tiled kernel
 * has a workgroup per tile, the vec kernel (CPU drivers) an item per 4 x 4
 * block. */
static int64_t weight_split(const jc_cl_ctx *c, const jc_tensor *t, int64_t *splits)
{
    *splits = 1;
    const jc_tensor *x = t->src[0], *dy = t->src[1];
    if (t->op != JC_OP_CONV1D_BWD_WEIGHT || is_depthwise((int)x->shape[1], (int)dy->shape[1], t->ip[4]))
        return 0;
    int64_t G = t->ip[4], M = dy->shape[1] / G, N = x->shape[1] / G * t->shape[2];
    int64_t block = c->vec_gemm ? 4 : c->tile, tout = dy->shape[2];
    int64_t units = (M + block - 1) / block * ((N + block - 1) / block) * G;
    int64_t ts = jc_conv_weight_split(x->shape[0], tout, units, c->info.is_cpu_driver);
    if (ts)
        *splits = (tout + ts - 1) / ts;
    return ts;
}

static cl_int op_conv(jc_cl_ctx *c, jc_tensor *t)
{
    /* x [B, Cin, Tin] and y [B, Cout, Tout] of the forward convolution */
    const jc_tensor *x, *y, *w = NULL, *bias = NULL;
    switch (t->op) {
    case JC_OP_CONV1D: x = t->src[0], y = t, w = t->src[1], bias = t->src[2]; break;
    case JC_OP_CONV1D_BWD_INPUT: x = t, y = t->src[0], w = t->src[1], bias = t->src[2]; break;
    default: x = t->src[0], y = t->src[1], w = t; break; /* weight gradient */
    }
    int B = (int)x->shape[0], G = t->ip[4];
    int dw = is_depthwise((int)x->shape[1], (int)y->shape[1], G), vec = c->vec_gemm && !dw;
    int64_t cin = x->shape[1] / G, cout = y->shape[1] / G, taps = w->shape[2];
    /* M x N of the product each group computes, and the batch of groups */
    int64_t M, N, batch = (int64_t)B * G;
    jc_cl_kernel_id id;
    switch (t->op) {
    case JC_OP_CONV1D:
        id = dw ? K_DW_FWD : vec ? K_CONV_FWD_VEC : K_CONV_FWD;
        M = cout, N = y->shape[2];
        break;
    case JC_OP_CONV1D_BWD_INPUT:
        id = dw ? K_DW_BWD_INPUT : vec ? K_CONV_BWD_INPUT_VEC : K_CONV_BWD_INPUT;
        M = cin, N = x->shape[2];
        break;
    default:
        id = dw ? K_DW_BWD_WEIGHT : vec ? K_CONV_BWD_WEIGHT_VEC : K_CONV_BWD_WEIGHT;
        M = cout, N = cin * taps, batch = G;
        break;
    }
    /* the depthwise kernels are direct loops, no GEMM: always fp32 */
    kargs k = dw ? args_of(c, id) : gemm_args_of(c, id);
    int64_t splits, t_split = weight_split(c, t, &splits);
    if (t->op == JC_OP_CONV1D_BWD_WEIGHT) {
        arg_t(&k, x);
        arg_t(&k, y);
        if (t_split) { /* partial sums to scratch; their sum below */
            arg_mem(&k, c->scratch);
            arg_ul(&k, 0);
        } else {
            arg_t(&k, t);
        }
        arg_i(&k, B);
    } else {
        arg_t(&k, t->src[0]); /* x (forward) or dy (input gradient) */
        arg_t(&k, w);
        arg_bias(&k, bias, w);
        arg_t(&k, t);
        if (dw)
            arg_u(&k, (uint64_t)jc_tensor_nelem(t));
    }
    conv_geom_args(&k, x, y, w, t, dw);
    if (t->op == JC_OP_CONV1D_BWD_INPUT && !dw) {
        int phases = jc_conv_input_phases(t->ip[0], t->ip[3]); /* see conv_bwd_input in gemm.cl */
        arg_i(&k, phases);
        int64_t cols = (N + phases - 1) / phases;
        return vec ? run_blocks(&k, M, cols, batch * phases, 8, 8) : run_tiles(&k, M, cols, batch * phases);
    }
    if (t->op == JC_OP_CONV1D_BWD_WEIGHT && !dw) {
        arg_i(&k, (int)t_split);
        cl_int e = vec ? run_blocks(&k, M, N, batch * splits, 4, 4) : run_tiles(&k, M, N, batch * splits);
        if (e != CL_SUCCESS || !t_split)
            return e;
        jc_tensor *ts = jc_storage_base(t);
        int64_t n = jc_tensor_nelem(t);
        return reduce_cols(c, c->scratch, 0, (cl_mem)ts->buf->impl, ts->offset / sizeof(float), 1, splits, n, 0);
    }
    if (id == K_DW_BWD_WEIGHT) {
        arg_local(&k, c->wg[id] * c->acc_bytes);
        return run_groups(&k, id, (size_t)(x->shape[1] * taps));
    }
    if (dw)
        return run_1d(&k, id, (size_t)jc_tensor_nelem(t));
    if (vec)
        return run_blocks(&k, M, N, batch, 8, 8);
    return run_tiles(&k, M, N, batch);
}

/* ---------------------------------------------------------------- softmax */

/* kernels/softmax.cl: a work-group per column for axes of 64 or more, as
 * reduce_rows does for sums; else an item per column. */
static cl_int op_softmax(jc_cl_ctx *c, jc_tensor *t)
{
    int grad = t->op == JC_OP_SOFTMAX_GRAD;
    int64_t outer, n, inner;
    jc_split_axis(t, t->ip[0], &outer, &n, &inner);
    size_t columns = (size_t)(outer * inner);
    if (n < 64) {
        kargs k = args_of(c, K_SOFTMAX_COLS);
        arg_t(&k, t->src[0]);
        arg_t(&k, grad ? t->src[1] : t->src[0]);
        arg_t(&k, t);
        arg_u(&k, columns);
        arg_u(&k, (uint64_t)n);
        arg_u(&k, (uint64_t)inner);
        arg_i(&k, grad);
        return run_1d(&k, K_SOFTMAX_COLS, columns);
    }
    jc_cl_kernel_id id = grad ? K_SOFTMAX_GRAD_GROUPS : K_SOFTMAX_GROUPS;
    kargs k = args_of(c, id);
    for (int i = 0; i <= grad; i++)
        arg_t(&k, t->src[i]);
    arg_t(&k, t);
    arg_u(&k, (uint64_t)n);
    arg_u(&k, (uint64_t)inner);
    arg_local(&k, c->wg[id] * c->acc_bytes);
    return run_groups(&k, id, columns);
}

/* -------------------------------------------------------------------- DFT */

/* kernels/fft.cl: a work-group per row, the row's FFT in local memory */
static cl_int op_rdft(jc_cl_ctx *c, jc_tensor *t)
{
    jc_cl_kernel_id id = t->op == JC_OP_RDFT_ADJOINT ? K_RDFT_ADJOINT : K_RDFT;
    int64_t n = t->ip[0], len = t->shape[t->ndim - 1];
    kargs k = args_of(c, id);
    arg_t(&k, t->src[0]);
    arg_t(&k, t->src[1]);
    arg_t(&k, t);
    arg_u(&k, (uint64_t)n);
    arg_u(&k, (uint64_t)t->ip[1]);
    arg_local(&k, (size_t)n * sizeof(float));
    return run_groups(&k, id, (size_t)(jc_tensor_nelem(t) / len));
}

/* ------------------------------------------------------------- dispatch */

int jc_cl_node_supported(const jc_tensor *t)
{
    switch (t->op) {
    case JC_OP_MATMUL:
    case JC_OP_CONV1D:
    case JC_OP_CONV1D_BWD_INPUT:
    case JC_OP_CONV1D_BWD_WEIGHT:
    case JC_OP_BINARY:
    case JC_OP_UNARY:
    case JC_OP_UNARY_GRAD:
    case JC_OP_SCALE:
    case JC_OP_SUM:
    case JC_OP_MAX:
    case JC_OP_PERMUTE:
    case JC_OP_EXPAND:
    case JC_OP_SLICE:
    case JC_OP_PAD:
    case JC_OP_PAD_REFLECT_GRAD:
    case JC_OP_CONCAT:
    case JC_OP_DROPOUT:
    case JC_OP_FRAMES:
    case JC_OP_FRAMES_GRAD:
    case JC_OP_ADAMW:
    case JC_OP_EMA:
    case JC_OP_FMA_PEAK:
    case JC_OP_SOFTMAX:
    case JC_OP_SOFTMAX_GRAD: break;
    case JC_OP_RDFT:
    case JC_OP_RDFT_ADJOINT:
        if (t->ip[0] > JC_RDFT_GPU_MAX_N)
            return 0;
        break;
    default: return 0;
    }
    /* the kernels index elements with 32-bit integers */
    for (int s = 0; s < JC_MAX_SRC; s++)
        if (t->src[s] && jc_tensor_nelem(t->src[s]) >= ((int64_t)1 << 32))
            return 0;
    return jc_tensor_nelem(t) < ((int64_t)1 << 32);
}

size_t jc_cl_node_scratch(const jc_cl_ctx *c, const jc_tensor *t)
{
    int64_t splits;
    if (weight_split(c, t, &splits))
        return (size_t)splits * jc_tensor_bytes(t);
    if (t->op != JC_OP_SUM && t->op != JC_OP_MAX)
        return 0;
    int64_t outer, n, inner;
    jc_split_axis(t->src[0], t->ip[0], &outer, &n, &inner);
    int64_t chunks = reduce_chunks(n);
    return inner == 1 && chunks > 1 ? (size_t)(outer * chunks) * sizeof(float) : 0;
}

cl_int jc_cl_enqueue_node(jc_cl_ctx *c, jc_tensor *t)
{
    switch (t->op) {
    case JC_OP_LEAF:
    case JC_OP_VIEW: return CL_SUCCESS;
    case JC_OP_MATMUL: return op_matmul(c, t);
    case JC_OP_CONV1D:
    case JC_OP_CONV1D_BWD_INPUT:
    case JC_OP_CONV1D_BWD_WEIGHT: return op_conv(c, t);
    case JC_OP_BINARY: return op_binary(c, t);
    case JC_OP_UNARY:
    case JC_OP_UNARY_GRAD: return op_unary(c, t);
    case JC_OP_SCALE: return op_scale(c, t);
    case JC_OP_SUM:
    case JC_OP_MAX: return op_reduce(c, t);
    case JC_OP_PERMUTE: return op_permute(c, t);
    case JC_OP_EXPAND: return op_expand(c, t);
    case JC_OP_SLICE: return op_slice(c, t);
    case JC_OP_PAD:
    case JC_OP_PAD_REFLECT_GRAD: return op_pad(c, t);
    case JC_OP_CONCAT: return op_concat(c, t);
    case JC_OP_DROPOUT: return op_dropout(c, t);
    case JC_OP_FRAMES:
    case JC_OP_FRAMES_GRAD: return op_frames(c, t);
    case JC_OP_ADAMW: return op_adamw(c, t);
    case JC_OP_EMA: return op_ema(c, t);
    case JC_OP_FMA_PEAK: return op_fma_peak(c, t);
    case JC_OP_SOFTMAX:
    case JC_OP_SOFTMAX_GRAD: return op_softmax(c, t);
    case JC_OP_RDFT:
    case JC_OP_RDFT_ADJOINT: return op_rdft(c, t);
    case JC_OP_COUNT: break;
    }
    return CL_INVALID_OPERATION;
}
