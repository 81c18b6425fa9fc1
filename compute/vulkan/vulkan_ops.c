/* vulkan_ops.c: one recording function per primitive operation: fill the
 * shader's push constants (tensor addresses, sizes) and dispatch.  The
 * structs below mirror the push-constant blocks of shaders/ (the .comp files) (std430:
 * addresses first, then 32-bit values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vulkan_internal.h"

#define LOCAL 256 /* local size of the element-wise shaders */
/* lavapipe ends an invocation's loops after 65535 iterations in total:
 * reductions longer than this many iterations per invocation are split
 * into passes that accumulate into the output (cheap elsewhere: one more
 * dispatch per 32768 steps of a reduction). */
#define MAX_LOOP 32768u

typedef struct {
    uint64_t a, b, y;
    uint32_t shape[4], sa[4], sb[4];
    int32_t kind;
    uint32_t n;
} binary_pc;

typedef struct {
    uint64_t x, y, dy, out;
    int32_t kind, mode;
    float p0, p1;
    uint32_t n;
} unary_pc;

typedef struct {
    uint64_t x, y;
    uint32_t outer, n, inner, is_max, k_begin, k_end, accumulate;
} reduce_pc;

typedef struct {
    uint64_t a, b, y;
    uint32_t columns, n, inner;
} softmax_pc;

typedef struct {
    uint64_t x, y;
    uint32_t shape[4], st[4], n;
} gather_pc;

typedef struct {
    uint64_t x, x2, y;
    uint32_t n_in, n_in2, n_out, inner;
    int32_t start, after;
    uint32_t mode, n;
} axis_pc;

typedef struct {
    uint64_t x, y;
    uint32_t T, F, N, hop, mode, n;
} frames_pc;

typedef struct {
    uint64_t x, y;
    uint32_t seed_lo, seed_hi;
    float prob, keep_scale;
    uint32_t n;
} dropout_pc;

typedef struct {
    uint64_t param, grad, m, v, hyper, clip;
    float b1, b2, eps, wd;
    uint32_t mode, n;
} optim_pc;

typedef struct {
    uint64_t a, b, bias, y;
    uint32_t M, N, R, ta, tb, a_step, b_step, Cin, Cout, K, stride;
    int32_t pad;
    uint32_t dil, Tin, Tout, G, has_bias, r_begin, r_end, accumulate, t_split, phases;
} gemm_pc;

_Static_assert(sizeof(gemm_pc) <= JC_VK_PUSH_MAX, "push constants");
_Static_assert(sizeof(binary_pc) <= JC_VK_PUSH_MAX, "push constants");
_Static_assert(sizeof(optim_pc) <= JC_VK_PUSH_MAX, "push constants");

static uint32_t u32(int64_t v) { return (uint32_t)v; }

/* Pad a shape and per-axis strides to 4-D on the left. */
static void pad4(const jc_tensor *t, const int64_t *strides, uint32_t *shape4, uint32_t *st4)
{
    int off = 4 - t->ndim;
    for (int i = 0; i < 4; i++) {
        shape4[i] = i < off ? 1 : u32(t->shape[i - off]);
        st4[i] = i < off ? 0 : u32(strides[i - off]);
    }
}

/* ------------------------------------------------------------------ GEMM */

/* Tile shapes (specialization constants).  On CPU drivers (lavapipe) an
 * invocation is one SIMD lane and registers are plentiful: 8 lanes along N
 * (the vector width) with a 16 x 16 block each measured fastest (1024^3:
 * ~4-7 GFLOP/s against ~1.5 for 4 x 4 blocks).  On GPUs, 16 x 16
 * invocations of 4 x 4 keep register pressure low.  For few rows
 * (depthwise and single-channel convolutions, vector products) one row of
 * invocations with TM covering the rows, so none idles on a missing row.
 * JC_VULKAN_GEMM_TILE=wg_n,wg_m,tm,tn overrides the general case (tuning). */
static void gemm_tiles(const jc_vk_ctx *c, uint32_t M, uint32_t mode, uint32_t *spec)
{
    uint32_t wg_n = 16, wg_m = 16, tm = 4, tn = 4;
    if (M <= 8) {
        wg_n = 64;
        wg_m = 1;
        tm = M <= 1 ? 1 : M <= 2 ? 2 : M <= 4 ? 4 : 8;
        tn = 4;
    } else if (M <= 32) {
        wg_n = 32;
        wg_m = 4;
        tm = 4;
        tn = 4;
    } else {
        if (c->info.is_cpu_driver) {
            wg_n = 8;
            wg_m = 2;
            tm = 16;
            tn = 16;
        }
        const char *e = getenv("JC_VULKAN_GEMM_TILE");
        unsigned v[4];
        if (e && sscanf(e, "%u,%u,%u,%u", &v[0], &v[1], &v[2], &v[3]) == 4 && v[0] * v[1] <= 1024 && v[2] <= 32 &&
            v[3] <= 32 && v[0] * v[1] * v[2] * v[3] > 0) {
            wg_n = v[0];
            wg_m = v[1];
            tm = v[2];
            tn = v[3];
        }
    }
    spec[0] = wg_n;
    spec[1] = wg_m;
    spec[2] = tm;
    spec[3] = tn;
    spec[4] = mode;
}

/* The variants take the same tiles, push constants and grid, so
 * JC_VULKAN_GEMM_TILE tunes them all.  The fp16-product one
 * (shaders/gemm_f16.comp) differs only in the arithmetic; only inference
 * graphs get it (jc_graph_fp16_ok, jc_vk_fp16_allowed_by_env).  The
 * shared-memory one (shaders/gemm_tiled.comp, JC_VULKAN_GEMM=tiled) takes
 * the general tile shape only (M > 32: the few-row shapes are one row of
 * invocations, with nothing to share), fp32 only, and only when its two
 * slices fit the device's shared memory; spec[5] is its slice depth. */
static int gemm_shader(const jc_vk_ctx *c, uint32_t M, uint32_t *spec)
{
    if (c->info.fp16_gemm && c->graph && jc_graph_fp16_ok(c->graph))
        return JC_VK_SH_GEMM_F16;
    uint32_t tk = c->gemm_tiled_tk, bm = spec[1] * spec[2], bn = spec[0] * spec[3];
    if (tk && M > 32 && (size_t)tk * (bm + 1 + bn + 1) * sizeof(float) <= c->props.limits.maxComputeSharedMemorySize) {
        spec[5] = tk;
        return JC_VK_SH_GEMM_TILED;
    }
    return JC_VK_SH_GEMM;
}

/* Reduction steps per pass of the shared-memory kernel.  lavapipe's limit
 * counts every loop iteration of an invocation (MAX_LOOP above), and per
 * TK-step slice that kernel's invocations loop over their share of both
 * slices' loads and over the TK steps: with few invocations per workgroup
 * (lavapipe's 8 x 2) that is ~180 iterations a slice, so passes of MAX_LOOP
 * steps would overrun the limit. */
static uint32_t tiled_pass_steps(const uint32_t *spec)
{
    uint32_t threads = spec[0] * spec[1], bm = spec[1] * spec[2], bn = spec[0] * spec[3], tk = spec[5];
    uint32_t per_slice = (bm * tk + threads - 1) / threads + (bn * tk + threads - 1) / threads + tk + 1;
    uint32_t steps = MAX_LOOP / per_slice * tk;
    return steps < tk ? tk : steps;
}

static jc_status run_gemm(jc_vk_ctx *c, gemm_pc *pc, uint32_t mode, uint32_t batch, const jc_vk_access *acc,
                          int n_acc, jc_error *err)
{
    uint32_t spec[6];
    gemm_tiles(c, pc->M, mode, spec);
    int shader = gemm_shader(c, pc->M, spec);
    int n_spec = shader == JC_VK_SH_GEMM_TILED ? 6 : 5;
    uint32_t span = shader == JC_VK_SH_GEMM_TILED ? tiled_pass_steps(spec) : MAX_LOOP;
    uint32_t gx = (pc->N + spec[0] * spec[3] - 1) / (spec[0] * spec[3]);
    uint32_t gy = (pc->M + spec[1] * spec[2] - 1) / (spec[1] * spec[2]);
    jc_status s = JC_OK;
    pc->r_begin = 0;
    do {
        pc->r_end = pc->R - pc->r_begin > span ? pc->r_begin + span : pc->R;
        pc->accumulate = pc->r_begin > 0;
        s = jc_vk_dispatch(c, shader, spec, n_spec, pc, sizeof *pc, gx, gy, batch, acc, n_acc, err);
        pc->r_begin = pc->r_end;
    } while (s == JC_OK && pc->r_begin < pc->R);
    return s;
}

static jc_status rec_matmul(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *a = t->src[0], *b = t->src[1];
    gemm_pc pc = {.a = jc_vk_addr(a), .b = jc_vk_addr(b), .y = jc_vk_addr(t)};
    pc.ta = (uint32_t)t->ip[0];
    pc.tb = (uint32_t)t->ip[1];
    pc.M = u32(t->shape[t->ndim - 2]);
    pc.N = u32(t->shape[t->ndim - 1]);
    pc.R = u32(pc.ta ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1]);
    uint32_t batch = u32(jc_tensor_nelem(t) / ((int64_t)pc.M * pc.N));
    /* leading dims as the CPU reference: a 2-D operand is shared by every item */
    pc.a_step = a->ndim > 2 ? pc.M * pc.R : 0;
    pc.b_step = b->ndim > 2 ? pc.R * pc.N : 0;
    jc_vk_access acc[3] = {{a, 0}, {b, 0}, {t, 1}};
    return run_gemm(c, &pc, 0, batch, acc, 3, err);
}

/* Convolution geometry; x is the signal side [B, Cin, Tin], y the output
 * side [B, Cout, Tout] (for the input gradient, x = dx and y = dy). */
static void conv_geom(gemm_pc *pc, const jc_tensor *x, const jc_tensor *y, int64_t K, const jc_tensor *t)
{
    pc->Cin = u32(x->shape[1]);
    pc->Cout = u32(y->shape[1]);
    pc->Tin = u32(x->shape[2]);
    pc->Tout = u32(y->shape[2]);
    pc->K = u32(K);
    pc->stride = (uint32_t)t->ip[0];
    pc->pad = t->ip[1];
    pc->dil = (uint32_t)t->ip[3];
    pc->G = (uint32_t)t->ip[4];
}

static jc_status rec_conv(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *x = t->src[0], *w = t->src[1], *bias = t->src[2];
    gemm_pc pc = {.a = jc_vk_addr(w), .b = jc_vk_addr(x), .y = jc_vk_addr(t)};
    conv_geom(&pc, x, t, w->shape[2], t);
    pc.M = pc.Cout / pc.G;
    pc.N = pc.Tout;
    pc.R = pc.Cin / pc.G * pc.K;
    jc_vk_access acc[4] = {{x, 0}, {w, 0}, {t, 1}, {bias ? bias : x, 0}};
    if (bias) {
        pc.bias = jc_vk_addr(bias);
        pc.has_bias = 1;
    }
    return run_gemm(c, &pc, 1, u32(x->shape[0]) * pc.G, acc, 4, err);
}

static jc_status rec_conv_bwd_input(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *dy = t->src[0], *w = t->src[1], *bias = t->src[2];
    gemm_pc pc = {.a = jc_vk_addr(w), .b = jc_vk_addr(dy), .y = jc_vk_addr(t)};
    conv_geom(&pc, t, dy, w->shape[2], t);
    /* by output phase (see MODE 2 in shaders/gemm_operands.glsl) where the
     * grid's z count still fits the device */
    uint64_t items = (uint64_t)t->shape[0] * pc.G;
    pc.phases = (uint32_t)jc_conv_input_phases((int)pc.stride, (int)pc.dil);
    if (items * pc.phases > c->max_groups[2])
        pc.phases = 1;
    pc.M = pc.Cin / pc.G;
    pc.N = (pc.Tin + pc.phases - 1) / pc.phases;
    pc.R = pc.Cout / pc.G * ((pc.K + pc.phases - 1) / pc.phases);
    jc_vk_access acc[4] = {{dy, 0}, {w, 0}, {t, 1}, {bias ? bias : dy, 0}};
    if (bias) {
        pc.bias = jc_vk_addr(bias);
        pc.has_bias = 1;
    }
    return run_gemm(c, &pc, 2, u32((int64_t)items) * pc.phases, acc, 4, err);
}

static jc_status reduce_axis(jc_vk_ctx *c, const jc_tensor *x, const jc_tensor *y, int64_t outer, int64_t n,
                             int64_t inner, int is_max, jc_error *err);

/* Time steps per split of t's weight gradient, 0 for none (see
 * jc_conv_weight_split); *splits gets their number. */
static int64_t weight_split(const jc_vk_ctx *c, const jc_tensor *t, int64_t *splits)
{
    const jc_tensor *x = t->src[0], *dy = t->src[1];
    uint32_t spec[5];
    uint32_t M = u32(dy->shape[1] / t->ip[4]), N = u32(x->shape[1] / t->ip[4] * t->shape[2]);
    gemm_tiles(c, M, 3, spec);
    int64_t groups = (int64_t)((N + spec[0] * spec[3] - 1) / (spec[0] * spec[3])) *
                     ((M + spec[1] * spec[2] - 1) / (spec[1] * spec[2])) * t->ip[4];
    int64_t tout = dy->shape[2];
    int64_t ts = jc_conv_weight_split(x->shape[0], tout, groups, c->info.is_cpu_driver);
    *splits = ts ? (tout + ts - 1) / ts : 1;
    return ts;
}

size_t jc_vk_node_scratch(const jc_vk_ctx *c, const jc_tensor *t)
{
    int64_t splits;
    if (t->op != JC_OP_CONV1D_BWD_WEIGHT || !weight_split(c, t, &splits))
        return 0;
    return (size_t)splits * jc_tensor_bytes(t);
}

static jc_status rec_conv_bwd_weight(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *x = t->src[0], *dy = t->src[1];
    gemm_pc pc = {.a = jc_vk_addr(dy), .b = jc_vk_addr(x), .y = jc_vk_addr(t)};
    conv_geom(&pc, x, dy, t->shape[2], t);
    pc.M = pc.Cout / pc.G;
    pc.N = pc.Cin / pc.G * pc.K;
    pc.R = u32(x->shape[0]) * pc.Tout;
    int64_t splits;
    pc.t_split = u32(weight_split(c, t, &splits));
    if (pc.t_split == 0) {
        jc_vk_access acc[3] = {{x, 0}, {dy, 0}, {t, 1}};
        return run_gemm(c, &pc, 3, pc.G, acc, 3, err);
    }
    /* one partial dw per split in scratch, then their sum */
    pc.R = u32(x->shape[0]) * pc.t_split;
    pc.y = jc_vk_addr(&c->scratch_t);
    jc_vk_access acc[3] = {{x, 0}, {dy, 0}, {&c->scratch_t, 1}};
    jc_status s = run_gemm(c, &pc, 3, pc.G * u32(splits), acc, 3, err);
    if (s)
        return s;
    return reduce_axis(c, &c->scratch_t, t, 1, splits, jc_tensor_nelem(t), 0, err);
}

/* ----------------------------------------------------------- element-wise */

static jc_status rec_binary(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *a = t->src[0], *b = t->src[1];
    binary_pc pc = {.a = jc_vk_addr(a), .b = jc_vk_addr(b), .y = jc_vk_addr(t), .kind = t->kind};
    int64_t sa[JC_MAX_DIMS], sb[JC_MAX_DIMS];
    jc_broadcast_strides(a, t->ndim, t->shape, sa);
    jc_broadcast_strides(b, t->ndim, t->shape, sb);
    pad4(t, sa, pc.shape, pc.sa);
    pad4(t, sb, pc.shape, pc.sb);
    pc.n = u32(jc_tensor_nelem(t));
    jc_vk_access acc[3] = {{a, 0}, {b, 0}, {t, 1}};
    return jc_vk_dispatch_1d(c, JC_VK_SH_BINARY, NULL, 0, &pc, sizeof pc, pc.n, LOCAL, acc, 3, err);
}

static jc_status rec_unary(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *x = t->src[0];
    unary_pc pc = {.x = jc_vk_addr(x), .out = jc_vk_addr(t), .kind = t->kind, .p0 = t->fp[0], .p1 = t->fp[1]};
    pc.n = u32(jc_tensor_nelem(t));
    jc_vk_access acc[4] = {{x, 0}, {t, 1}, {x, 0}, {x, 0}};
    if (t->op == JC_OP_SCALE) {
        pc.mode = 2;
    } else if (t->op == JC_OP_FMA_PEAK) {
        pc.mode = 3;
        pc.kind = t->ip[0];
    } else if (t->op == JC_OP_UNARY_GRAD) {
        pc.mode = 1;
        pc.y = jc_vk_addr(t->src[1]);
        pc.dy = jc_vk_addr(t->src[2]);
        acc[2].t = t->src[1];
        acc[3].t = t->src[2];
    }
    return jc_vk_dispatch_1d(c, JC_VK_SH_UNARY, NULL, 0, &pc, sizeof pc, pc.n, LOCAL, acc, 4, err);
}

static jc_status rec_dropout(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *x = t->src[0];
    dropout_pc pc = {.x = jc_vk_addr(x), .y = jc_vk_addr(t), .prob = 0.0f, .keep_scale = 1.0f};
    if (c->graph->training) { /* evaluation: p = 0 and scale 1 copy x exactly */
        /* 64-bit seed mixing on the host, as the CPU reference */
        uint64_t seed = c->graph->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)t->ip[0];
        pc.seed_lo = (uint32_t)seed;
        pc.seed_hi = (uint32_t)(seed >> 32);
        pc.prob = t->fp[0];
        pc.keep_scale = 1.0f / (1.0f - t->fp[0]);
    }
    pc.n = u32(jc_tensor_nelem(t));
    jc_vk_access acc[2] = {{x, 0}, {t, 1}};
    return jc_vk_dispatch_1d(c, JC_VK_SH_DROPOUT, NULL, 0, &pc, sizeof pc, pc.n, LOCAL, acc, 2, err);
}

static jc_status rec_optim(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    optim_pc pc = {.param = jc_vk_addr(t->src[0]), .grad = jc_vk_addr(t->src[1])};
    pc.n = u32(jc_tensor_nelem(t));
    if (t->op == JC_OP_EMA) {
        pc.mode = 1;
        pc.b1 = t->fp[0];
        jc_vk_access acc[2] = {{t->src[0], 1}, {t->src[1], 0}};
        return jc_vk_dispatch_1d(c, JC_VK_SH_OPTIM, NULL, 0, &pc, sizeof pc, pc.n, LOCAL, acc, 2, err);
    }
    pc.m = jc_vk_addr(t->src[2]);
    pc.v = jc_vk_addr(t->src[3]);
    pc.hyper = jc_vk_addr(t->src[4]);
    pc.clip = jc_vk_addr(t->src[5]);
    pc.b1 = t->fp[0];
    pc.b2 = t->fp[1];
    pc.eps = t->fp[2];
    pc.wd = t->fp[3];
    jc_vk_access acc[6] = {{t->src[0], 1}, {t->src[1], 0}, {t->src[2], 1},
                           {t->src[3], 1}, {t->src[4], 0}, {t->src[5], 0}};
    return jc_vk_dispatch_1d(c, JC_VK_SH_OPTIM, NULL, 0, &pc, sizeof pc, pc.n, LOCAL, acc, 6, err);
}

/* --------------------------------------------------------- reductions */

/* groups workgroups of shader sh (spec: local size, tree mode) over the
 * axis in passes of at most span elements, later passes combining with
 * the earlier result (lavapipe's loop limit: see shaders/common.glsl). */
static jc_status reduce_passes(jc_vk_ctx *c, int sh, const uint32_t *spec, reduce_pc *pc, uint64_t groups,
                               uint32_t span, const jc_vk_access *acc, jc_error *err)
{
    jc_status s = JC_OK;
    do {
        pc->k_end = pc->n - pc->k_begin > span ? pc->k_begin + span : pc->n;
        pc->accumulate = pc->k_begin > 0;
        s = jc_vk_dispatch_1d(c, sh, spec, 2, pc, sizeof *pc, groups, 1, acc, 2, err);
        pc->k_begin = pc->k_end;
    } while (s == JC_OK && pc->k_begin < pc->n);
    return s;
}

/* y[outer, inner] = sum (or max) over n of x[outer, n, inner] */
static jc_status reduce_axis(jc_vk_ctx *c, const jc_tensor *x, const jc_tensor *y, int64_t outer, int64_t n,
                             int64_t inner, int is_max, jc_error *err)
{
    reduce_pc pc = {.x = jc_vk_addr(x), .y = jc_vk_addr(y), .outer = u32(outer), .n = u32(n), .inner = u32(inner),
                    .is_max = (uint32_t)is_max};
    jc_vk_access acc[2] = {{x, 0}, {y, 1}};
    uint64_t outputs = (uint64_t)outer * (uint64_t)inner;
    /* a long axis under 32 or more side-by-side outputs: a workgroup per 32
     * of them, lanes of 32 reading along rows (TREE 2 in shaders/reduce.glsl);
     * 32 lanes for long axes where the device allows 1024 invocations, so a
     * GPU has enough loads in flight with few workgroups */
    if (n >= 64 && inner >= 32) {
        const VkPhysicalDeviceLimits *lim = &c->props.limits;
        uint32_t lanes = n >= 1024 && lim->maxComputeWorkGroupInvocations >= 1024 &&
                                 lim->maxComputeWorkGroupSize[0] >= 1024
                             ? 32
                             : 8;
        uint32_t spec[2] = {32 * lanes, 2};
        uint64_t tiles = (uint64_t)outer * (uint64_t)((inner + 31) / 32);
        return reduce_passes(c, JC_VK_SH_REDUCE, spec, &pc, tiles, lanes * MAX_LOOP, acc, err);
    }
    /* a workgroup per output once the axis is long enough to share; else an
     * invocation per output */
    if (n >= 64) {
        uint32_t ls = n >= 1024 ? 256 : 64;
        uint32_t spec[2] = {ls, 1};
        int sh = c->use_subgroups ? JC_VK_SH_REDUCE_SG : JC_VK_SH_REDUCE;
        return reduce_passes(c, sh, spec, &pc, outputs, ls * MAX_LOOP, acc, err);
    }
    uint32_t spec[2] = {64, 0};
    return jc_vk_dispatch_1d(c, JC_VK_SH_REDUCE, spec, 2, &pc, sizeof pc, outputs, 64, acc, 2, err);
}

static jc_status rec_reduce(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    int64_t outer, n, inner;
    jc_split_axis(t->src[0], t->ip[0], &outer, &n, &inner);
    return reduce_axis(c, t->src[0], t, outer, n, inner, t->op == JC_OP_MAX, err);
}

/* ---------------------------------------------------------------- softmax */

/* Invocations of a softmax workgroup for an axis of n (shaders/softmax.comp,
 * GROUP 1); 0 for an invocation per column (GROUP 0). */
static uint32_t softmax_group_size(int64_t n) { return n < 64 ? 0 : n < 1024 ? 64 : 256; }

/* lavapipe's loop limit: an invocation walks at most MAX_LOOP steps of the
 * axis, and the passes cannot be split (each needs the whole column's
 * maximum or sum); past that the operation is not offered. */
static int softmax_fits(const jc_tensor *t)
{
    int64_t outer, n, inner;
    jc_split_axis(t, t->ip[0], &outer, &n, &inner);
    uint32_t ls = softmax_group_size(n);
    return n <= (int64_t)(ls ? ls : 1) * MAX_LOOP;
}

static jc_status rec_softmax(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    int grad = t->op == JC_OP_SOFTMAX_GRAD;
    const jc_tensor *b = grad ? t->src[1] : t->src[0];
    int64_t outer, n, inner;
    jc_split_axis(t, t->ip[0], &outer, &n, &inner);
    softmax_pc pc = {.a = jc_vk_addr(t->src[0]), .b = jc_vk_addr(b), .y = jc_vk_addr(t),
                     .columns = u32(outer * inner), .n = u32(n), .inner = u32(inner)};
    jc_vk_access acc[3] = {{t->src[0], 0}, {b, 0}, {t, 1}};
    uint32_t ls = softmax_group_size(n);
    uint32_t spec[3] = {ls ? ls : 64, ls != 0, (uint32_t)grad};
    return jc_vk_dispatch_1d(c, JC_VK_SH_SOFTMAX, spec, 3, &pc, sizeof pc, pc.columns, ls ? 1 : 64, acc, 3, err);
}

/* ---------------------------------------------------------- data movement */

static jc_status rec_gather(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *x = t->src[0];
    int64_t st[JC_MAX_DIMS];
    if (t->op == JC_OP_PERMUTE) {
        int64_t xs[JC_MAX_DIMS], s = 1;
        for (int i = x->ndim - 1; i >= 0; i--) {
            xs[i] = s;
            s *= x->shape[i];
        }
        for (int i = 0; i < t->ndim; i++)
            st[i] = xs[t->ip[i]];
    } else {
        jc_broadcast_strides(x, t->ndim, t->shape, st);
    }
    gather_pc pc = {.x = jc_vk_addr(x), .y = jc_vk_addr(t)};
    pad4(t, st, pc.shape, pc.st);
    pc.n = u32(jc_tensor_nelem(t));
    jc_vk_access acc[2] = {{x, 0}, {t, 1}};
    return jc_vk_dispatch_1d(c, JC_VK_SH_GATHER, NULL, 0, &pc, sizeof pc, pc.n, LOCAL, acc, 2, err);
}

static jc_status rec_axis(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *x = t->src[0], *x2 = t->op == JC_OP_CONCAT ? t->src[1] : t->src[0];
    int axis = t->ip[0];
    int64_t outer, n_out, inner;
    jc_split_axis(t, axis, &outer, &n_out, &inner);
    axis_pc pc = {.x = jc_vk_addr(x), .x2 = jc_vk_addr(x2), .y = jc_vk_addr(t)};
    pc.n_in = u32(x->shape[axis]);
    pc.n_in2 = u32(x2->shape[axis]);
    pc.n_out = u32(n_out);
    pc.inner = u32(inner);
    switch (t->op) {
    case JC_OP_SLICE:
        pc.mode = 0;
        pc.start = t->ip[1];
        break;
    case JC_OP_PAD:
        pc.mode = t->ip[3] == JC_PAD_REFLECT ? 2 : 1;
        pc.start = t->ip[1];
        pc.after = t->ip[2];
        break;
    case JC_OP_PAD_REFLECT_GRAD:
        pc.mode = 3;
        pc.start = t->ip[1];
        pc.after = t->ip[2];
        break;
    default:
        pc.mode = 4;
        break;
    }
    pc.n = u32(jc_tensor_nelem(t));
    jc_vk_access acc[3] = {{x, 0}, {x2, 0}, {t, 1}};
    return jc_vk_dispatch_1d(c, JC_VK_SH_AXIS, NULL, 0, &pc, sizeof pc, pc.n, LOCAL, acc, 3, err);
}

static jc_status rec_frames(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *x = t->src[0];
    frames_pc pc = {.x = jc_vk_addr(x), .y = jc_vk_addr(t), .hop = (uint32_t)t->ip[1]};
    if (t->op == JC_OP_FRAMES) { /* x [B, T] -> [B, F, N] */
        pc.T = u32(x->shape[1]);
        pc.F = u32(t->shape[1]);
        pc.N = u32(t->shape[2]);
        pc.mode = 0;
    } else { /* frame gradients [B, F, N] -> [B, T] */
        pc.T = u32(t->shape[1]);
        pc.F = u32(x->shape[1]);
        pc.N = u32(x->shape[2]);
        pc.mode = 1;
    }
    pc.n = u32(jc_tensor_nelem(t));
    jc_vk_access acc[2] = {{x, 0}, {t, 1}};
    return jc_vk_dispatch_1d(c, JC_VK_SH_FRAMES, NULL, 0, &pc, sizeof pc, pc.n, LOCAL, acc, 2, err);
}

/* ------------------------------------------------------------- dispatch */

/* Indices in the shaders are 32-bit: larger tensors (16 GiB) are refused
 * before the graph runs rather than wrapped around. */
static int fits32(const jc_tensor *t) { return t == NULL || jc_tensor_nelem(t) < ((int64_t)1 << 32); }

int jc_vk_supports_op(const jc_backend *be, const jc_tensor *t)
{
    for (int i = 0; i < JC_MAX_SRC; i++)
        if (!fits32(t->src[i]))
            return 0;
    if (!fits32(t))
        return 0;
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
    case JC_OP_EMA: return 1;
    case JC_OP_SOFTMAX:
    case JC_OP_SOFTMAX_GRAD: return softmax_fits(t);
    case JC_OP_FMA_PEAK: /* lavapipe cuts loops past 65535 iterations: refuse rather than mis-measure */
        return !((const jc_vk_ctx *)be->ctx)->info.is_cpu_driver || t->ip[0] <= 32768;
    default: return 0;
    }
}

jc_status jc_vk_record_node(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    switch (t->op) {
    case JC_OP_LEAF:
    case JC_OP_VIEW: return JC_OK;
    case JC_OP_MATMUL: return rec_matmul(c, t, err);
    case JC_OP_CONV1D: return rec_conv(c, t, err);
    case JC_OP_CONV1D_BWD_INPUT: return rec_conv_bwd_input(c, t, err);
    case JC_OP_CONV1D_BWD_WEIGHT: return rec_conv_bwd_weight(c, t, err);
    case JC_OP_BINARY: return rec_binary(c, t, err);
    case JC_OP_UNARY:
    case JC_OP_UNARY_GRAD:
    case JC_OP_SCALE:
    case JC_OP_FMA_PEAK: return rec_unary(c, t, err);
    case JC_OP_SUM:
    case JC_OP_MAX: return rec_reduce(c, t, err);
    case JC_OP_PERMUTE:
    case JC_OP_EXPAND: return rec_gather(c, t, err);
    case JC_OP_SLICE:
    case JC_OP_PAD:
    case JC_OP_PAD_REFLECT_GRAD:
    case JC_OP_CONCAT: return rec_axis(c, t, err);
    case JC_OP_DROPOUT: return rec_dropout(c, t, err);
    case JC_OP_FRAMES:
    case JC_OP_FRAMES_GRAD: return rec_frames(c, t, err);
    case JC_OP_ADAMW:
    case JC_OP_EMA: return rec_optim(c, t, err);
    case JC_OP_SOFTMAX:
    case JC_OP_SOFTMAX_GRAD: return rec_softmax(c, t, err);
    case JC_OP_COUNT: break;
    }
    return jc_error_set(err, JC_ERR_UNSUPPORTED, "Vulkan: operation %d (%s) not implemented", (int)t->op, t->name);
}
