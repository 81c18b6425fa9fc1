/* test-backend.c: one backend against the CPU backend.  Built once per GPU
 * backend with -DTEST_BACKEND='"opencl"' (or "vulkan"); a name on the
 * command line overrides it, and a second word names it in the test lines
 * (for a variant of the backend that the caller's environment selects).
 * For every operation, forward and backward on odd shapes (not multiples
 * of any work-group size), a tensor past the 128 MiB storage-binding
 * limit, and 20 training steps of a small conv net whose loss curve must
 * match the CPU's.  Skips only when the driver or device is absent. */
#include <stdio.h>

#include "jc_internal.h" /* JC_RDFT_GPU_MAX_N */
#include "testutil.h"

#ifndef TEST_BACKEND
#define TEST_BACKEND "opencl"
#endif

#define MAXIN 3

static const char *bname, *label; /* backend; its name in the test lines */
static jc_backend *cpu, *dev;
static jc_rng rng;

typedef jc_tensor *(*build_fn)(jc_graph *g, jc_tensor **in, int which);

typedef struct {
    const char *name;
    int which; /* passed to the builder */
    int n;
    int ndim[MAXIN];
    int64_t shape[MAXIN][4];
    float lo, hi;
    int no_grad; /* forward only (piecewise constant ops) */
} op_case;

/* Run the case on one backend: forward output, then gradients of
 * sum(y * R) for every input.  Returns 0 on success. */
static int run_case(jc_backend *be, const op_case *c, build_fn build, float **in_data, const float *r, float **out,
                    int64_t *out_n, float **grads, char *msg)
{
    jc_error err = {0};
    jc_store *st = jc_store_new(be);
    jc_tensor *p[MAXIN];
    for (int i = 0; i < c->n; i++) {
        char name[8];
        snprintf(name, sizeof name, "in%d", i);
        p[i] = jc_store_param(st, name, c->ndim[i], c->shape[i], &err);
        if (!p[i] || jc_tensor_set(p[i], in_data[i], &err)) {
            snprintf(msg, 256, "%.250s", err.msg);
            jc_store_free(st);
            return -1;
        }
    }
    jc_graph *g = jc_graph_new(be);
    jc_graph_set_seed(g, 42);
    jc_tensor *y = build(g, p, c->which);
    jc_tensor *grad_t[MAXIN] = {0};
    jc_status s = tu_run_with_grads(g, y, r, !c->no_grad, p, c->n, grad_t, &err);
    if (s == JC_OK) {
        *out_n = jc_tensor_nelem(y);
        *out = malloc((size_t)*out_n * sizeof **out);
        s = jc_tensor_get(y, *out, &err);
        for (int i = 0; s == JC_OK && i < c->n; i++) {
            grads[i] = NULL;
            if (!grad_t[i])
                continue;
            grads[i] = malloc((size_t)tu_numel(c->ndim[i], c->shape[i]) * sizeof(float));
            s = jc_tensor_get(grad_t[i], grads[i], &err);
        }
    }
    if (s != JC_OK)
        snprintf(msg, 256, "%.250s", err.msg);
    jc_graph_free(g);
    jc_store_free(st);
    return s == JC_OK ? 0 : -1;
}

static void compare_case(const op_case *c, build_fn build, double tol)
{
    float *in_data[MAXIN];
    for (int i = 0; i < c->n; i++)
        in_data[i] = tu_random(&rng, tu_numel(c->ndim[i], c->shape[i]), c->lo, c->hi);
    /* R is sized from a CPU dry run */
    float *ref = NULL, *got = NULL, *gref[MAXIN] = {0}, *ggot[MAXIN] = {0};
    int64_t n_ref = 0, n_got = 0;
    char msg[256] = "";
    float *r = tu_random(&rng, 1 << 22, -1, 1); /* large enough for every case below but the big one */
    op_case fwd_only = *c;
    fwd_only.no_grad = 1;
    int ok_cpu = run_case(cpu, &fwd_only, build, in_data, r, &ref, &n_ref, gref, msg) == 0;
    free(ref);
    ref = NULL;
    if (ok_cpu && n_ref > (1 << 22)) { /* the binding-limit case needs a bigger R */
        free(r);
        r = tu_random(&rng, n_ref, -1, 1);
    }
    ok_cpu = ok_cpu && run_case(cpu, c, build, in_data, r, &ref, &n_ref, gref, msg) == 0;
    if (!ok_cpu) {
        tap_ok(0, "%s %s: CPU reference failed (%s)", label, c->name, msg);
        goto done;
    }
    if (run_case(dev, c, build, in_data, r, &got, &n_got, ggot, msg) != 0) {
        tap_ok(0, "%s %s forward (%s)", label, c->name, msg);
        goto done;
    }
    double e = tu_nmse(got, ref, n_ref);
    tap_ok(n_got == n_ref && e <= tol, "%s %s forward (nmse %.1e)", label, c->name, e);
    if (!c->no_grad) {
        double worst = 0;
        int missing = 0;
        for (int i = 0; i < c->n; i++) {
            if (!gref[i] || !ggot[i]) {
                missing += (gref[i] != NULL) != (ggot[i] != NULL);
                continue;
            }
            double ge = tu_nmse(ggot[i], gref[i], tu_numel(c->ndim[i], c->shape[i]));
            if (!(ge <= worst))
                worst = ge;
        }
        tap_ok(!missing && worst <= tol, "%s %s backward (nmse %.1e)", label, c->name, worst);
    }
done:
    free(r);
    free(ref);
    free(got);
    for (int i = 0; i < c->n; i++) {
        free(in_data[i]);
        free(gref[i]);
        free(ggot[i]);
    }
}

static jc_tensor *b_ops(jc_graph *g, jc_tensor **in, int w)
{
    jc_tensor *levels;
    switch (w) {
    case 0: return jc_matmul(g, in[0], in[1], 0, 0);
    case 1: return jc_matmul(g, in[0], in[1], 1, 1);
    case 2: return jc_matmul(g, in[0], in[1], 0, 1);
    case 3: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){1, 2, 2, 2, 1});
    case 4: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){3, 5, 2, 1, 1});
    case 5: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){1, 15, 15, 1, 19});
    case 6: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){2, 1, 1, 1, 3});
    case 7: return jc_conv_transpose1d(g, in[0], in[1], in[2], (jc_conv_params){5, 3, 3, 1, 1}, 1);
    case 8: return jc_conv2d_k1(g, in[0], in[1], in[2], (jc_conv_params){3, 2, 2, 1, 1});
    case 9: return jc_add(g, in[0], in[1]);
    case 10: return jc_sub(g, in[0], in[1]);
    case 11: return jc_mul(g, in[0], in[1]);
    case 12: return jc_div(g, in[0], in[1]);
    case 13: return jc_maximum(g, in[0], in[1]);
    case 14: return jc_minimum(g, in[0], in[1]);
    case 15: return jc_scale(g, in[0], -0.7f, 0.3f);
    case 16: return jc_exp(g, in[0]);
    case 17: return jc_log(g, in[0]);
    case 18: return jc_sin(g, in[0]);
    case 19: return jc_cos(g, in[0]);
    case 20: return jc_sqr(g, in[0]);
    case 21: return jc_sqrt(g, in[0]);
    case 22: return jc_abs(g, in[0]);
    case 23: return jc_tanh(g, in[0]);
    case 24: return jc_sigmoid(g, in[0]);
    case 25: return jc_softplus(g, in[0]);
    case 26: return jc_gelu(g, in[0]);
    case 27: return jc_silu(g, in[0]);
    case 28: return jc_leaky_relu(g, in[0], 0.1f);
    case 29: return jc_clamp(g, in[0], -0.4f, 0.6f);
    case 30: return jc_reciprocal(g, in[0]);
    case 31: return jc_sum(g, in[0], 1);
    case 32: return jc_mean(g, in[0], -1);
    case 33: return jc_var(g, in[0], 0);
    case 34: return jc_max(g, in[0], 2);
    case 35: return jc_logsumexp(g, in[0], -1);
    case 36: return jc_softmax(g, in[0], -1, NULL);
    case 37: return jc_layer_norm(g, in[0], in[1], in[2], 1e-5f);
    case 38: return jc_group_norm1(g, in[0], NULL, in[1], in[2], 1e-5f);
    case 39: return jc_glu(g, in[0], 1);
    case 40: return jc_dropout(g, in[0], 0.3f);
    case 41: return jc_pad(g, in[0], -1, 5, 3, JC_PAD_ZERO);
    case 42: return jc_pad(g, in[0], -1, 6, 7, JC_PAD_REFLECT);
    case 43: return jc_slice(g, in[0], -1, 3, 50);
    case 44: return jc_concat(g, in[0], in[1], 1);
    case 45: return jc_permute(g, in[0], (int[]){2, 0, 1});
    case 46: return jc_expand(g, jc_sum(g, in[0], 1), 3, (int64_t[]){3, 5, 67});
    case 47: return jc_avg_pool1d(g, in[0], 4, 2, 2);
    case 48: return jc_stft_magnitude(g, in[0], 64, 16);
    case 49: return jc_l1_loss(g, in[0], in[1], NULL);
    case 50: return jc_mse_loss(g, in[0], in[1], NULL);
    case 51:
        levels = jc_scalar_constant(g, 4);
        return jc_fsq_quantize(g, jc_tanh(g, in[0]), levels);
    case 52:
        levels = jc_scalar_constant(g, 5);
        return jc_fsq_index(g, jc_tanh(g, in[0]), levels);
    case 53: return jc_pad(g, in[0], 1, 2, 2, JC_PAD_REFLECT);
    /* long signals, few channels: the weight gradient's split-K path */
    case 55: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){1, 3, 3, 1, 1});
    case 56: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){2, 4, 3, 2, 2});
    /* more than 32 rows in each GEMM mode: the GPU tile shapes (and Vulkan's
     * shared-memory GEMM, tests/test-vulkan-gemm-tiled.sh) */
    case 57: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){2, 2, 1, 1, 1});
    case 58: return jc_conv_transpose1d(g, in[0], in[1], in[2], (jc_conv_params){4, 2, 2, 1, 1}, 1);
    /* long axes under many side-by-side outputs (the GPUs' column-tile reductions) */
    case 59: return jc_sum(g, in[0], 0);
    case 60: return jc_max(g, in[0], 1);
    /* the fused softmax's kernels: an item per column (short axis), a
     * workgroup per column (long axis, strided or not), wide workgroups
     * (axes of 1024 or more), and the mask around it */
    case 70: return jc_softmax(g, in[0], 1, NULL);
    case 71: return jc_softmax(g, in[0], 0, NULL);
    case 72: return jc_softmax(g, in[0], -1, NULL);
    case 73: return jc_softmax(g, in[0], -1, jc_fsq_index(g, in[1], jc_scalar_constant(g, 2)));
    /* the real DFT: rows not a multiple of any work-group count, N from
     * 2 to the GPU backends' largest (their backward is the other one) */
    case 74: return jc_rdft(g, in[0]);
    case 75: return jc_rdft_adjoint(g, in[0]);
    /* depthwise (groups = channels): the GPU backends' direct kernels */
    case 61: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){2, 5, 4, 2, 13});
    case 62: return jc_conv_transpose1d(g, in[0], in[1], in[2], (jc_conv_params){3, 2, 2, 2, 11}, 1);
    case 63: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){1, 4, 4, 1, 5});
    case 64: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){1, 1994, 1994, 997, 3});
    case 65: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){1, 4100, 4100, 1, 3});
    case 66: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){1, 15, 15, 1, 257});
    case 67: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){1, 15, 15, 1, 67});
    case 68: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){2, 6, 5, 2, 7});
    case 69: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){2, 2, 2, 1, 3});
    default: /* past the binding limit: 2 x 17.25 M floats = 138 MB per tensor */
        return jc_sum(g, jc_mul(g, in[0], in[1]), 1);
    }
}

#define S3(a, b, c) {a, b, c, 0}
static const op_case cases[] = {
    {"matmul", 0, 2, {3, 2}, {S3(3, 37, 29), S3(29, 67, 0)}, -1, 1, 0},
    {"matmul trans_a trans_b", 1, 2, {3, 2}, {S3(2, 29, 37), S3(67, 29, 0)}, -1, 1, 0},
    {"matmul batched trans_b", 2, 2, {3, 3}, {S3(5, 17, 13), S3(5, 19, 13)}, -1, 1, 0},
    /* a reduction longer than one pass of the GPU kernels (32768 steps) */
    {"matmul long reduction 40x33001 @ 33001x9", 0, 2, {2, 2}, {S3(40, 33001, 0), S3(33001, 9, 0)}, -1, 1, 0},
    {"conv1d k3 dil2", 3, 3, {3, 3, 1}, {S3(2, 5, 131), S3(7, 5, 3), S3(7, 0, 0)}, -1, 1, 0},
    {"conv1d stride3 asym pad k8", 4, 3, {3, 3, 1}, {S3(2, 6, 133), S3(9, 6, 8), S3(9, 0, 0)}, -1, 1, 0},
    {"conv1d depthwise k31", 5, 3, {3, 3, 1}, {S3(2, 19, 77), S3(19, 1, 31), S3(19, 0, 0)}, -1, 1, 0},
    {"conv1d groups3 stride2", 6, 3, {3, 3, 1}, {S3(1, 9, 61), S3(6, 3, 3), S3(6, 0, 0)}, -1, 1, 0},
    {"conv_transpose1d stride5 k10", 7, 3, {3, 3, 1}, {S3(2, 7, 23), S3(7, 5, 10), S3(5, 0, 0)}, -1, 1, 0},
    {"conv2d_k1 stride3", 8, 3, {4, 3, 1}, {{2, 3, 22, 5}, S3(4, 3, 5), S3(4, 0, 0)}, -1, 1, 0},
    {"add broadcast", 9, 2, {3, 2}, {S3(3, 5, 67), S3(5, 1, 0)}, -1, 1, 0},
    {"sub broadcast", 10, 2, {3, 3}, {S3(3, 5, 67), S3(1, 5, 67)}, -1, 1, 0},
    {"mul broadcast", 11, 2, {3, 1}, {S3(3, 5, 67), S3(67, 0, 0)}, -1, 1, 0},
    {"div broadcast", 12, 2, {3, 3}, {S3(3, 5, 67), S3(3, 1, 1)}, 0.5f, 2, 0},
    {"maximum", 13, 2, {3, 3}, {S3(3, 5, 67), S3(3, 5, 67)}, -1, 1, 0},
    {"minimum", 14, 2, {3, 3}, {S3(3, 5, 67), S3(3, 5, 67)}, -1, 1, 0},
    {"scale", 15, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"exp", 16, 1, {3}, {S3(3, 5, 67)}, -2, 2, 0},
    {"log", 17, 1, {3}, {S3(3, 5, 67)}, 0.1f, 3, 0},
    {"sin", 18, 1, {3}, {S3(3, 5, 67)}, -4, 4, 0},
    {"cos", 19, 1, {3}, {S3(3, 5, 67)}, -4, 4, 0},
    {"sqr", 20, 1, {3}, {S3(3, 5, 67)}, -2, 2, 0},
    {"sqrt", 21, 1, {3}, {S3(3, 5, 67)}, 0.1f, 4, 0},
    {"abs", 22, 1, {3}, {S3(3, 5, 67)}, -2, 2, 0},
    {"tanh", 23, 1, {3}, {S3(3, 5, 67)}, -3, 3, 0},
    {"sigmoid", 24, 1, {3}, {S3(3, 5, 67)}, -8, 8, 0},
    {"softplus", 25, 1, {3}, {S3(3, 5, 67)}, -25, 25, 0},
    {"gelu", 26, 1, {3}, {S3(3, 5, 67)}, -4, 4, 0},
    {"silu", 27, 1, {3}, {S3(3, 5, 67)}, -6, 6, 0},
    {"leaky_relu", 28, 1, {3}, {S3(3, 5, 67)}, -2, 2, 0},
    {"clamp", 29, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"reciprocal", 30, 1, {3}, {S3(3, 5, 67)}, 0.3f, 3, 0},
    {"sum axis 1", 31, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"mean last axis", 32, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"var axis 0", 33, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"max axis 2", 34, 1, {3}, {S3(3, 5, 67)}, -1, 1, 1},
    {"logsumexp", 35, 1, {3}, {S3(3, 5, 67)}, -3, 3, 0},
    {"softmax", 36, 1, {3}, {S3(3, 5, 67)}, -3, 3, 0},
    {"layer_norm", 37, 3, {3, 1, 1}, {S3(3, 5, 67), S3(67, 0, 0), S3(67, 0, 0)}, -1, 1, 0},
    {"group_norm1", 38, 3, {3, 1, 1}, {S3(3, 5, 67), S3(5, 0, 0), S3(5, 0, 0)}, -1, 1, 0},
    {"glu", 39, 1, {3}, {S3(3, 6, 67)}, -2, 2, 0},
    {"dropout", 40, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"pad zero", 41, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"pad reflect", 42, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"slice", 43, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"concat", 44, 2, {3, 3}, {S3(3, 5, 67), S3(3, 2, 67)}, -1, 1, 0},
    {"permute", 45, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"expand", 46, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"avg_pool1d", 47, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"stft_magnitude", 48, 1, {2}, {S3(2, 1001, 0)}, -1, 1, 0},
    {"l1 loss", 49, 2, {3, 3}, {S3(3, 5, 67), S3(3, 5, 67)}, -1, 1, 0},
    {"mse loss", 50, 2, {3, 3}, {S3(3, 5, 67), S3(3, 5, 67)}, -1, 1, 0},
    {"fsq_quantize", 51, 1, {3}, {S3(3, 5, 67)}, -2, 2, 0},
    {"fsq_index", 52, 1, {3}, {S3(3, 5, 67)}, -2, 2, 1},
    {"pad reflect middle axis", 53, 1, {3}, {S3(3, 5, 67)}, -1, 1, 0},
    {"conv1d long signal k7 (split-K weight gradient)", 55, 3, {3, 3, 1},
     {S3(2, 3, 9001), S3(4, 3, 7), S3(4, 0, 0)}, -1, 1, 0},
    {"conv1d long signal groups2 stride2 dil2 (split-K)", 56, 3, {3, 3, 1},
     {S3(1, 6, 12001), S3(4, 3, 5), S3(4, 0, 0)}, -1, 1, 0},
    {"conv1d wide 40->36 k5 stride2", 57, 3, {3, 3, 1}, {S3(2, 40, 53), S3(36, 40, 5), S3(36, 0, 0)}, -1, 1, 0},
    {"conv_transpose1d wide 48->40 k8 stride4", 58, 3, {3, 3, 1},
     {S3(2, 48, 19), S3(48, 40, 8), S3(40, 0, 0)}, -1, 1, 0},
    {"sum over a long first axis [1030, 70]", 59, 1, {2}, {S3(1030, 70, 0)}, -1, 1, 0},
    {"max over a long middle axis [2, 100, 45]", 60, 1, {3}, {S3(2, 100, 45)}, -1, 1, 1},
    {"softmax short middle axis [3, 40, 7]", 70, 1, {3}, {S3(3, 40, 7)}, -3, 3, 0},
    {"softmax long first axis [100, 3, 5]", 71, 1, {3}, {S3(100, 3, 5)}, -3, 3, 0},
    {"softmax long last axis [2, 1500]", 72, 1, {2}, {S3(2, 1500, 0)}, -3, 3, 0},
    {"softmax masked [2, 3, 70], mask [2, 1, 70]", 73, 2, {3, 3}, {S3(2, 3, 70), S3(2, 1, 70)}, -3, 3, 0},
    {"rdft N 2 [3, 5, 2]", 74, 1, {3}, {S3(3, 5, 2)}, -1, 1, 0},
    {"rdft N 64 [7, 64]", 74, 1, {2}, {S3(7, 64, 0)}, -1, 1, 0},
    {"rdft N 4096 [3, 4096]", 74, 1, {2}, {S3(3, 4096, 0)}, -1, 1, 0},
    {"rdft_adjoint N 8 [2, 9, 10]", 75, 1, {3}, {S3(2, 9, 10)}, -1, 1, 0},
    {"rdft_adjoint N 2048 [5, 2050]", 75, 1, {2}, {S3(5, 2050, 0)}, -1, 1, 0},
    /* depthwise with stride, dilation and bias on odd channel counts (the
     * GPU backends' direct kernels) */
    {"conv1d depthwise 13 ch stride2 dil2 k7", 61, 3, {3, 3, 1}, {S3(3, 13, 301), S3(13, 1, 7), S3(13, 0, 0)}, -1, 1,
     0},
    {"conv_transpose1d depthwise 11 ch stride3 dil2 k6", 62, 3, {3, 3, 1},
     {S3(2, 11, 397), S3(11, 1, 6), S3(11, 0, 0)}, -1, 1, 0},
    /* the weight gradient split over time; taps that reach past the shared
     * memory (dilation 997) or past lavapipe's loop limit (K 8200) in passes */
    {"conv1d depthwise long signal 5 ch k9", 63, 3, {3, 3, 1}, {S3(2, 5, 30001), S3(5, 1, 9), S3(5, 0, 0)}, -1, 1, 0},
    {"conv1d depthwise dil997 k5", 64, 3, {3, 3, 1}, {S3(1, 3, 9001), S3(3, 1, 5), S3(3, 0, 0)}, -1, 1, 0},
    {"conv1d depthwise k8200", 65, 3, {3, 3, 1}, {S3(2, 3, 4000), S3(3, 1, 8200), S3(3, 0, 0)}, -1, 1, 0},
    /* rows of many workgroups (several outputs per invocation), and many
     * rows of a few frames (the Conformer's) */
    {"conv1d depthwise 257 ch k31 T 4001", 66, 3, {3, 3, 1}, {S3(1, 257, 4001), S3(257, 1, 31), S3(257, 0, 0)}, -1, 1,
     0},
    {"conv1d depthwise 67 ch k31 T 40", 67, 3, {3, 3, 1}, {S3(16, 67, 40), S3(67, 1, 31), S3(67, 0, 0)}, -1, 1, 0},
    /* input gradients at stride > 1 on rows long enough to go by phase */
    {"conv1d depthwise 7 ch stride2 dil2 k5 T 3001", 68, 3, {3, 3, 1}, {S3(2, 7, 3001), S3(7, 1, 5), S3(7, 0, 0)}, -1,
     1, 0},
    {"conv1d depthwise 3 ch stride2 k4 T 6000", 69, 3, {3, 3, 1}, {S3(2, 3, 6000), S3(3, 1, 4), S3(3, 0, 0)}, -1, 1, 0},
    {"mul+sum past the 128 MiB binding limit", 54, 2, {2, 2}, {S3(2, 17250000, 0), S3(2, 17250000, 0)}, -1, 1, 0},
};

/* 20 steps of a small conv net from the same initial weights: the loss
 * curves must agree step by step. */
static int train_curve(jc_backend *be, float *losses)
{
    jc_error err = {0};
    jc_rng r;
    jc_rng_seed(&r, 3);
    jc_store *ps = jc_store_new(be);
    jc_tensor *w1 = jc_store_param(ps, "c1", 3, (int64_t[]){8, 1, 7}, &err);
    jc_tensor *w2 = jc_store_param(ps, "c2", 3, (int64_t[]){8, 8, 3}, &err);
    jc_tensor *w3 = jc_store_param(ps, "c3", 3, (int64_t[]){1, 8, 1}, &err);
    jc_init_normal(w1, &r, 0.3f, &err);
    jc_init_normal(w2, &r, 0.2f, &err);
    jc_init_normal(w3, &r, 0.3f, &err);
    jc_adamw *opt = jc_adamw_new(ps, (jc_adamw_config){0.01f, 0.8f, 0.99f, 1e-8f, 1e-3f, 5, 1.0f, 0, 0}, &err);
    jc_graph *g = jc_graph_new(be);
    int64_t B = 4, T = 101;
    jc_tensor *x = jc_input(g, "x", 3, (int64_t[]){B, 1, T}), *y = jc_input(g, "y", 3, (int64_t[]){B, 1, 51});
    jc_tensor *h = jc_leaky_relu(g, jc_conv1d(g, x, w1, NULL, (jc_conv_params){1, 3, 3, 1, 1}), 0.1f);
    h = jc_silu(g, jc_conv1d(g, h, w2, NULL, (jc_conv_params){2, 1, 1, 1, 1}));
    h = jc_group_norm1(g, h, NULL, NULL, NULL, 1e-5f);
    jc_tensor *loss = jc_l1_loss(g, jc_conv1d(g, h, w3, NULL, (jc_conv_params){1, 0, 0, 1, 1}), y, NULL);
    jc_graph_output(g, loss);
    jc_status s = jc_backward(g, loss, &err);
    if (s == JC_OK)
        s = jc_adamw_append(opt, g, NULL, &err);
    if (s == JC_OK)
        s = jc_graph_build(g, &err);
    float xv[4 * 101], yv[4 * 51];
    for (int step = 0; s == JC_OK && step < 20; step++) {
        for (int i = 0; i < B * T; i++)
            xv[i] = (float)sin(0.3 * i * (1 + i / T)) + 0.1f * (float)jc_rng_normal(&r);
        for (int i = 0; i < B * 51; i++)
            yv[i] = (float)(1 + i / 51) / 4.0f;
        jc_tensor_set(x, xv, &err);
        jc_tensor_set(y, yv, &err);
        jc_adamw_begin_step(opt, &err);
        s = jc_graph_compute(g, &err);
        if (s == JC_OK)
            s = jc_tensor_get(loss, &losses[step], &err);
    }
    if (s != JC_OK)
        tap_diag("%s training: %s", jc_backend_name(be), err.msg);
    jc_graph_free(g);
    jc_adamw_free(opt);
    jc_store_free(ps);
    return s == JC_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    bname = argc > 1 ? argv[1] : TEST_BACKEND;
    label = argc > 2 ? argv[2] : bname;
    jc_error err = {0};
    dev = tu_open(bname, 1);
    jc_device_info info;
    jc_backend_device_info(dev, &info);
    tap_diag("%s device: %s (%s), driver %s", bname, info.name, info.vendor, info.driver);
    cpu = jc_backend_open("cpu", NULL, &err);
    jc_rng_seed(&rng, 2024);
    const char *only = getenv("JC_TEST_ONLY"); /* substring filter while developing */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!only || strstr(cases[i].name, only))
            compare_case(&cases[i], b_ops, 1e-9);
    if (!only) {
        /* past the GPU backends' longest DFT row: an error, not a fallback */
        jc_graph *g = jc_graph_new(dev);
        jc_tensor *x = jc_input(g, "x", 2, (int64_t[]){2, 2 * JC_RDFT_GPU_MAX_N});
        jc_graph_output(g, jc_rdft(g, x));
        jc_status s = jc_graph_build(g, &err);
        tap_ok(s == JC_ERR_UNSUPPORTED && strstr(err.msg, "rdft"), "%s rdft N %d refused: %s", label,
               2 * JC_RDFT_GPU_MAX_N, err.msg);
        jc_graph_free(g);
        float lc[20], ld[20];
        int okc = train_curve(cpu, lc) == 0, okd = okc && train_curve(dev, ld) == 0;
        double worst = 0;
        for (int i = 0; okd && i < 20; i++)
            worst = fmax(worst, fabs(ld[i] - lc[i]) / fmax(1e-6, fabs(lc[i])));
        tap_ok(okd && worst < 1e-3, "%s conv net 20 training steps: loss %.4f -> %.4f, CPU %.4f -> %.4f (max rel diff %.1e)",
               label, okd ? ld[0] : NAN, okd ? ld[19] : NAN, okc ? lc[0] : NAN, okc ? lc[19] : NAN, worst);
    }
    jc_backend_free(dev);
    jc_backend_free(cpu);
    return tap_done();
}
