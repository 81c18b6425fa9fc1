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
    uint64_t x, tw, y;
    uint32_t rows, n, bits;
} fft_pc;

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

typedef struct {
    uint64_t x, w, bias, y;
    uint32_t C, Tin, Tout, K, stride, pad, dil, has_bias, accumulate, k_begin, k_end, period, tile, tiles, taps,
        units, row_units, groups;
} dw_pc;

_Static_assert(sizeof(gemm_pc) <= JC_VK_PUSH_MAX, "push constants");
_Static_assert(sizeof(dw_pc) <= JC_VK_PUSH_MAX, "push constants");
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

/* The cooperative-matrix GEMM's shape (shaders/gemm_coopmat.comp): 4
 * subgroups of the device's subgroup size, each 2 x 2 matrices of the
 * device's LM x LN shape, slices of 2 LK; every GEMM shape takes it (the
 * matrix units make even a half-empty tile cheap).  Tuned on nothing yet:
 * lavapipe is the only driver it has run on.  0 when it is off or its
 * shared memory would not fit. */
static int coopmat_tiles(const jc_vk_ctx *c, uint32_t *spec)
{
    if (!c->info.coopmat_gemm || c->info.subgroup_size <= 0)
        return 0;
    uint32_t lm = (uint32_t)c->info.coopmat_m, ln = (uint32_t)c->info.coopmat_n, lk = (uint32_t)c->info.coopmat_k;
    uint32_t wg_m = 4, tm = 2, tn = 2, tk = 2 * lk;
    size_t bm = wg_m * tm * lm, bn = tn * ln;
    size_t shared = 2 * (bm * (tk + 8) + tk * (bn + 8)) + 4 * (size_t)wg_m * lm * ln;
    if (shared > c->props.limits.maxComputeSharedMemorySize)
        return 0;
    uint32_t s[9] = {(uint32_t)c->info.subgroup_size, wg_m, tm, tn, spec[4], tk, lm, ln, lk};
    memcpy(spec, s, sizeof s);
    return 1;
}

/* The cooperative-matrix GEMM comes first where it is on (inference
 * graphs, JC_VULKAN_COOPMAT=1), with its own tiles (coopmat_tiles).  The
 * other variants take the same tiles, push constants and grid, so
 * JC_VULKAN_GEMM_TILE tunes them all.  The fp16-product one
 * (shaders/gemm_f16.comp) differs only in the arithmetic; only inference
 * graphs get it (jc_graph_fp16_ok, jc_vk_fp16_allowed_by_env).  The
 * shared-memory one (shaders/gemm_tiled.comp, JC_VULKAN_GEMM=tiled) takes
 * the general tile shape only (M > 32: the few-row shapes are one row of
 * invocations, with nothing to share), fp32 only, and only when its two
 * slices fit the device's shared memory; spec[5] is its slice depth. */
static int gemm_shader(const jc_vk_ctx *c, uint32_t M, uint32_t *spec)
{
    if (c->graph && jc_graph_fp16_ok(c->graph) && coopmat_tiles(c, spec))
        return JC_VK_SH_GEMM_COOPMAT;
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

/* The same for the cooperative-matrix kernel: per slice its invocations
 * loop over their share of both slices' loads and over the slice's LK
 * steps, each loading TM + TN matrices. */
static uint32_t coopmat_pass_steps(const uint32_t *spec)
{
    uint32_t threads = spec[0] * spec[1], bm = spec[1] * spec[2] * spec[6], bn = spec[3] * spec[7];
    uint32_t tk = spec[5], lk = spec[8];
    uint32_t per_slice =
        (bm * tk + threads - 1) / threads + (bn * tk + threads - 1) / threads + tk / lk * (spec[2] + spec[3]) + 1;
    uint32_t steps = MAX_LOOP / per_slice * tk;
    return steps < tk ? tk : steps;
}

static jc_status run_gemm(jc_vk_ctx *c, gemm_pc *pc, uint32_t mode, uint32_t batch, const jc_vk_access *acc,
                          int n_acc, jc_error *err)
{
    uint32_t spec[9];
    gemm_tiles(c, pc->M, mode, spec);
    int shader = gemm_shader(c, pc->M, spec);
    int n_spec = shader == JC_VK_SH_GEMM_COOPMAT ? 9 : shader == JC_VK_SH_GEMM_TILED ? 6 : 5;
    uint32_t span = shader == JC_VK_SH_GEMM_COOPMAT ? coopmat_pass_steps(spec)
                    : shader == JC_VK_SH_GEMM_TILED ? tiled_pass_steps(spec)
                                                     : MAX_LOOP;
    /* the rows and columns of y a workgroup covers */
    uint32_t bm = shader == JC_VK_SH_GEMM_COOPMAT ? spec[1] * spec[2] * spec[6] : spec[1] * spec[2];
    uint32_t bn = shader == JC_VK_SH_GEMM_COOPMAT ? spec[3] * spec[7] : spec[0] * spec[3];
    uint32_t gx = (pc->N + bn - 1) / bn;
    uint32_t gy = (pc->M + bm - 1) / bm;
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

static jc_status reduce_axis(jc_vk_ctx *c, const jc_tensor *x, const jc_tensor *y, int64_t outer, int64_t n,
                             int64_t inner, int is_max, jc_error *err);

/* ------------------------------------------------ depthwise convolutions */

/* Convolutions with one channel per group (Cin = Cout = groups) run as
 * direct loops over the taps (shaders/conv_depthwise.comp): as implicit
 * GEMMs they are products with one row per group, which leaves nearly all
 * of a GEMM tile idle (1.7 GFLOP/s on lavapipe, 2-4 % of an H200's peak).
 * The sizes below are in invocations and floats. */
#define DW_LOCAL 256
#define DW_SHARED 4096u /* 16 KiB of shared memory: every Vulkan device has it */

static uint32_t div_up(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

/* Whether t, a convolution or one of its gradients, is depthwise and goes
 * to the direct kernels.  They are fp32 only: the fp16-product GEMM is for
 * large products, not these. */
static int dw_direct(const jc_vk_ctx *c, const jc_tensor *t)
{
    const jc_tensor *x, *y; /* the forward convolution's input and output */
    switch (t->op) {
    case JC_OP_CONV1D: x = t->src[0], y = t; break;
    case JC_OP_CONV1D_BWD_INPUT: x = t, y = t->src[0]; break;
    case JC_OP_CONV1D_BWD_WEIGHT: x = t->src[0], y = t->src[1]; break;
    default: return 0;
    }
    return c->direct_dw && t->ip[4] == x->shape[1] && t->ip[4] == y->shape[1];
}

/* Workgroups that keep the device busy: GPUs want several per compute
 * unit (an H200 holds ~1000 of 256 invocations at once); lavapipe runs one
 * per thread, and more only add overhead (as jc_conv_weight_split). */
static uint64_t dw_target(const jc_vk_ctx *c) { return c->dw_gpu ? 1024 : 16; }

/* Staging through shared memory pays on GPUs, where it turns K global
 * loads per output into one; on lavapipe a shared load costs what a global
 * one does and the barriers come on top (the bench's k31 row: 60-80 ms
 * staged, 24 ms plain). */
static int dw_staged(const jc_vk_ctx *c) { return c->dw_gpu; }

static void dw_geom(dw_pc *pc, const jc_tensor *x, const jc_tensor *y, int64_t K, const jc_tensor *t)
{
    pc->C = u32(x->shape[1]);
    pc->Tin = u32(x->shape[2]);
    pc->Tout = u32(y->shape[2]);
    pc->K = u32(K);
    pc->stride = (uint32_t)t->ip[0];
    pc->pad = (uint32_t)t->ip[1];
    pc->dil = (uint32_t)t->ip[3];
}

/* Forward (mode 0) and input gradient (mode 1): a workgroup per DW_LOCAL *
 * per outputs of a row, in passes over the taps where the source span of
 * all of them does not fit the shared memory (large K * dilation) or an
 * invocation would loop past lavapipe's limit (MAX_LOOP above). */
static jc_status rec_dw(jc_vk_ctx *c, jc_tensor *t, uint32_t mode, jc_error *err)
{
    const jc_tensor *src = t->src[0], *w = t->src[1], *bias = t->src[2];
    dw_pc pc = {.x = jc_vk_addr(src), .w = jc_vk_addr(w), .y = jc_vk_addr(t)};
    dw_geom(&pc, mode == 0 ? src : t, mode == 0 ? t : src, w->shape[2], t);
    if (bias) {
        pc.bias = jc_vk_addr(bias);
        pc.has_bias = 1;
    }
    /* taps k with k*dil = o + pad (mod stride) reach output o: they repeat
     * every stride / gcd(stride, dil) taps */
    uint32_t a = pc.stride, b = pc.dil;
    while (b) {
        uint32_t r = a % b;
        a = b;
        b = r;
    }
    pc.period = pc.stride / a;
    uint64_t rows = (uint64_t)t->shape[0] * pc.C, n_dst = mode == 0 ? pc.Tout : pc.Tin;
    /* the input gradient's outputs go by phase (see row_tile in the
     * shader): `stride` sequences of n_seq outputs per row */
    uint32_t ostep = mode == 0 ? 1 : pc.stride, n_seq = div_up(n_dst, ostep);
    /* sequences shorter than a workgroup: the rows laid end to end,
     * without staging (a tile per row would leave most invocations idle) */
    int short_rows = n_seq < DW_LOCAL, staged = dw_staged(c) && !short_rows;
    if (staged && mode == 0 && (DW_LOCAL - 1) * pc.stride + 1 > DW_SHARED)
        staged = 0; /* strides past 16: the outputs' own span does not fit */
    uint32_t window = !c->dw_gpu && !short_rows && pc.dil == 1 && (mode == 1 || pc.stride == 1);
    /* outputs per invocation: each weight load serves all of them (with
     * the window each source load too; lavapipe measured fastest at 16
     * with it, 8 without), halved while that leaves too few workgroups or
     * tiles over twice as long as the sequences; staged, their span must
     * fit */
    uint32_t per = window ? 16 : c->dw_gpu ? 4 : 8;
    for (;;) {
        uint64_t groups = short_rows ? div_up(rows * n_dst, DW_LOCAL * per)
                                     : rows * ostep * div_up(n_seq, DW_LOCAL * per);
        int fits = !staged || mode == 1 || (DW_LOCAL * per - 1) * pc.stride + 1 <= DW_SHARED;
        if (per == 1 || (fits && groups >= dw_target(c) && (short_rows || DW_LOCAL * per / 2 < n_seq)))
            break;
        per /= 2;
    }
    uint32_t tile = DW_LOCAL * per, taps = pc.K;
    /* per invocation: the staging loads, then per outputs times a search
     * over `period` taps and the taps themselves */
    int64_t loop = (int64_t)(MAX_LOOP / per) - pc.period - DW_SHARED / DW_LOCAL - 2;
    if (taps > loop)
        taps = loop > 1 ? (uint32_t)loop : 1;
    if (staged) { /* the pass's span fits the shared memory */
        uint32_t fit = mode == 0 ? (DW_SHARED - 1 - (tile - 1) * pc.stride) / pc.dil + 1
                                 : (DW_SHARED - tile) * pc.stride / pc.dil + 1;
        if (taps > fit)
            taps = fit;
    }
    pc.units = u32((int64_t)(rows * n_dst));
    pc.tiles = short_rows ? 0 : ostep * div_up(n_seq, tile);
    uint64_t groups = short_rows ? div_up(rows * n_dst, tile) : rows * pc.tiles;
    pc.groups = u32((int64_t)groups);
    uint32_t spec[6] = {DW_LOCAL, mode, per, (uint32_t)staged, staged ? DW_SHARED : DW_LOCAL, window};
    jc_vk_access acc[4] = {{src, 0}, {w, 0}, {t, 1}, {bias ? bias : w, 0}};
    jc_status s = JC_OK;
    pc.k_begin = 0;
    do {
        pc.k_end = pc.K - pc.k_begin > taps ? pc.k_begin + taps : pc.K;
        pc.accumulate = pc.k_begin > 0;
        s = jc_vk_dispatch_1d(c, JC_VK_SH_CONV_DW, spec, 6, &pc, sizeof pc, groups * DW_LOCAL, DW_LOCAL, acc, 4,
                              err);
        pc.k_begin = pc.k_end;
    } while (s == JC_OK && pc.k_begin < pc.K);
    return s;
}

/* The weight gradient's plan (MODE 2 in shaders/conv_depthwise.comp): taps
 * per workgroup, steps per stage, stages per split; returns the splits
 * (partial sums in scratch when more than 1).  Deterministic in t, so
 * jc_vk_node_scratch sizes the scratch the recording uses. */
static uint32_t dw_weight_plan(const jc_vk_ctx *c, const jc_tensor *t, dw_pc *pc, uint32_t *spec)
{
    const jc_tensor *x = t->src[0], *dy = t->src[1];
    dw_geom(pc, x, dy, t->shape[2], t);
    int staged = dw_staged(c);
    /* up to a workgroup of taps, whose x span for one step takes at most
     * half the shared memory */
    uint32_t taps = pc->K < DW_LOCAL ? pc->K : DW_LOCAL;
    if (staged && (taps - 1) * pc->dil + 1 > DW_SHARED / 2)
        taps = (DW_SHARED / 2 - 1) / pc->dil + 1;
    uint32_t blocks = div_up(pc->K, taps), phases = DW_LOCAL / taps;
    /* stages of 1024 steps, less where dy's and x's spans would not fit
     * together, or where shorter stages are needed for enough workgroups */
    uint32_t tile = 4 * DW_LOCAL;
    if (staged && tile * (pc->stride + 1) > DW_SHARED + pc->stride - 1 - (taps - 1) * pc->dil)
        tile = (DW_SHARED + pc->stride - 1 - (taps - 1) * pc->dil) / (pc->stride + 1);
    uint64_t B = (uint64_t)x->shape[0], rowsets = (uint64_t)pc->C * blocks;
    while (tile > DW_LOCAL && rowsets * B * div_up(pc->Tout, tile) < dw_target(c))
        tile /= 2;
    pc->tile = tile;
    pc->row_units = div_up(pc->Tout, tile);
    pc->units = u32((int64_t)(B * pc->row_units));
    /* lavapipe's limit: per stage an invocation loops over its steps and
     * the staging loads; at the end over the phases */
    uint32_t span = (tile - 1) * pc->stride + (taps - 1) * pc->dil + 1;
    uint32_t per_unit = div_up(tile, phases) + (staged ? div_up(tile, DW_LOCAL) + div_up(span, DW_LOCAL) : 0) + 2;
    uint32_t max_units = (MAX_LOOP - DW_LOCAL) / per_unit;
    uint64_t splits = (dw_target(c) + rowsets - 1) / rowsets;
    if (splits < div_up(pc->units, max_units))
        splits = div_up(pc->units, max_units);
    if (splits > pc->units)
        splits = pc->units;
    pc->tiles = div_up(pc->units, splits); /* stages per split */
    splits = div_up(pc->units, pc->tiles);
    pc->taps = taps;
    pc->groups = u32((int64_t)(splits * rowsets));
    spec[0] = DW_LOCAL;
    spec[1] = 2;
    spec[2] = 1;
    spec[3] = (uint32_t)staged;
    spec[4] = staged ? DW_SHARED : DW_LOCAL;
    return (uint32_t)splits;
}

static jc_status rec_dw_weight(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    const jc_tensor *x = t->src[0], *dy = t->src[1];
    dw_pc pc = {.x = jc_vk_addr(x), .w = jc_vk_addr(dy), .y = jc_vk_addr(t)};
    uint32_t spec[5];
    uint32_t splits = dw_weight_plan(c, t, &pc, spec);
    const jc_tensor *out = splits > 1 ? &c->scratch_t : t;
    pc.y = jc_vk_addr(out);
    jc_vk_access acc[3] = {{x, 0}, {dy, 0}, {out, 1}};
    jc_status s = jc_vk_dispatch_1d(c, JC_VK_SH_CONV_DW, spec, 5, &pc, sizeof pc, (uint64_t)pc.groups * DW_LOCAL,
                                    DW_LOCAL, acc, 3, err);
    if (s || splits == 1)
        return s;
    return reduce_axis(c, &c->scratch_t, t, 1, splits, jc_tensor_nelem(t), 0, err);
}

static jc_status rec_conv(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    if (dw_direct(c, t))
        return rec_dw(c, t, 0, err);
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
    if (dw_direct(c, t))
        return rec_dw(c, t, 1, err);
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
    if (t->op == JC_OP_CONV1D_BWD_WEIGHT && dw_direct(c, t)) {
        dw_pc pc;
        uint32_t spec[5], splits = dw_weight_plan(c, t, &pc, spec);
        return splits > 1 ? (size_t)splits * jc_tensor_bytes(t) : 0;
    }
    int64_t splits;
    if (t->op != JC_OP_CONV1D_BWD_WEIGHT || !weight_split(c, t, &splits))
        return 0;
    return (size_t)splits * jc_tensor_bytes(t);
}

static jc_status rec_conv_bwd_weight(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    if (dw_direct(c, t))
        return rec_dw_weight(c, t, err);
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

/* -------------------------------------------------------------------- DFT */

/* shaders/fft.comp: a workgroup of 64 per row, the row's FFT in shared
 * memory (rows up to JC_RDFT_GPU_MAX_N) */
static jc_status rec_rdft(jc_vk_ctx *c, jc_tensor *t, jc_error *err)
{
    int64_t n = t->ip[0], len = t->shape[t->ndim - 1];
    fft_pc pc = {.x = jc_vk_addr(t->src[0]), .tw = jc_vk_addr(t->src[1]), .y = jc_vk_addr(t),
                 .rows = u32(jc_tensor_nelem(t) / len), .n = u32(n), .bits = (uint32_t)t->ip[1]};
    jc_vk_access acc[3] = {{t->src[0], 0}, {t->src[1], 0}, {t, 1}};
    uint32_t spec[2] = {64, t->op == JC_OP_RDFT_ADJOINT};
    return jc_vk_dispatch_1d(c, JC_VK_SH_FFT, spec, 2, &pc, sizeof pc, pc.rows, 1, acc, 3, err);
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
    case JC_OP_RDFT:
    case JC_OP_RDFT_ADJOINT: return t->ip[0] <= JC_RDFT_GPU_MAX_N;
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
    case JC_OP_RDFT:
    case JC_OP_RDFT_ADJOINT: return rec_rdft(c, t, err);
    case JC_OP_COUNT: break;
    }
    return jc_error_set(err, JC_ERR_UNSUPPORTED, "Vulkan: operation %d (%s) not implemented", (int)t->op, t->name);
}
