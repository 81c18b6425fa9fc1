/* test-vulkan-fp16.c: the Vulkan backend's fp16-product GEMM
 * (shaders/gemm_f16.comp).  On odd shapes (not multiples of any tile) with
 * long reductions, for matmul and both convolution directions:
 *   - inference graphs: within fp16's error of the CPU backend, and
 *     measurably different from the fp32 shader (so the fp16 one ran);
 *   - JC_VULKAN_FP16=0: bit for bit the fp32 shader's result;
 *   - training graphs (jc_backward) never use fp16: forward output and
 *     gradients bit for bit those of the fp32 shader.
 * Skips only when there is no Vulkan driver or no shaderFloat16. */
#include <stdio.h>

#include "testutil.h"

/* fp16's unit roundoff (round to nearest). */
#define U16 (1.0 / 2048.0)
/* Each product a*b picks up three roundings to fp16 (a, b, the product),
 * so its relative error is at most 3u; the sums are fp32 (error ~2^-24 per
 * step, negligible).  With zero-mean inputs the errors of different terms
 * are uncorrelated, so sum_k a_k b_k e_k has variance sum_k (a_k b_k)^2
 * E[e^2], while the result has variance sum_k (a_k b_k)^2: the expected
 * NMSE is E[e^2] <= (3u)^2, whatever K is.  Allowed: (4u)^2 = 2^-18, the
 * extra u for a driver that rounds toward zero (mean error 3u there) and
 * for subnormal products. */
#define TOL_FP16 (16.0 * U16 * U16)
/* The fp16 result must differ from fp32 by more than (u/8)^2: the fp32
 * shader's own NMSE against the CPU is ~K * 2^-48 (< 1e-10 here), and
 * random inputs are almost never exactly representable in fp16. */
#define MIN_DIFF (U16 * U16 / 64.0)
#define TOL_FP32 1e-9

static jc_backend *cpu, *vk, *vk_off; /* vk_off: opened with JC_VULKAN_FP16=0 */
static jc_rng rng;

/* sum (a-b)^2 / sum b^2 */
static double nmse(const float *a, const float *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (!(num == num))
        return INFINITY;
    return den > 0 ? num / den : num;
}

typedef struct {
    const char *name;
    int which;
    int n_in;
    int ndim[3];
    int64_t shape[3][4];
} gemm_case;

static jc_tensor *build(jc_graph *g, jc_tensor **in, int which)
{
    switch (which) {
    case 0: return jc_matmul(g, in[0], in[1], 0, 0);
    case 1: return jc_matmul(g, in[0], in[1], 1, 1);
    case 2: return jc_matmul(g, in[0], in[1], 0, 0);
    case 3: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){2, 3, 2, 1, 1});
    default: return jc_conv_transpose1d(g, in[0], in[1], in[2], (jc_conv_params){4, 2, 2, 1, 1}, 1);
    }
}

/* Every tile path of vulkan_ops.c's gemm_tiles (M > 32, M <= 32, M <= 8)
 * and every GEMM mode an inference graph uses (matmul, conv1d, transposed
 * conv = input-gradient kernel). */
#define S3(a, b, c) {a, b, c, 0}
static const gemm_case cases[] = {
    {"matmul 100x2049 @ 2049x83", 0, 2, {2, 2}, {S3(100, 2049, 0), S3(2049, 83, 0)}},
    {"matmul batched trans_a trans_b [3,1031,29]^T @ [67,1031]^T", 1, 2, {3, 2}, {S3(3, 1031, 29), S3(67, 1031, 0)}},
    {"matmul 5x4097 @ 4097x71", 2, 2, {2, 2}, {S3(5, 4097, 0), S3(4097, 71, 0)}},
    {"conv1d 64->40 k5 stride2 + bias, T 301", 3, 3, {3, 3, 1}, {S3(2, 64, 301), S3(40, 64, 5), S3(40, 0, 0)}},
    {"conv_transpose1d 48->24 k8 stride4 + bias, T 77", 4, 3, {3, 3, 1}, {S3(2, 48, 77), S3(48, 24, 8), S3(24, 0, 0)}},
};

typedef struct {
    float *y;
    int64_t n;
    float *grad[3];
} result;

static void result_free(result *r)
{
    free(r->y);
    for (int i = 0; i < 3; i++)
        free(r->grad[i]);
    memset(r, 0, sizeof *r);
}

/* Run one case on be.  training: append backward of sum(y * R) and read
 * the inputs' gradients too.  allow_fp16 is passed to the graph. */
static int run(jc_backend *be, const gemm_case *c, float **in_data, const float *r, int training, int allow_fp16,
               result *out, char *msg)
{
    jc_error err = {0};
    memset(out, 0, sizeof *out);
    jc_store *st = jc_store_new(be);
    jc_tensor *p[3];
    jc_status s = JC_OK;
    for (int i = 0; s == JC_OK && i < c->n_in; i++) {
        char name[8];
        snprintf(name, sizeof name, "in%d", i);
        p[i] = jc_store_param(st, name, c->ndim[i], c->shape[i], &err);
        s = p[i] ? jc_tensor_set(p[i], in_data[i], &err) : JC_ERR_INVALID;
    }
    jc_graph *g = jc_graph_new(be);
    jc_graph_allow_fp16(g, allow_fp16);
    jc_tensor *y = s == JC_OK ? build(g, p, c->which) : NULL;
    jc_tensor *gt[3] = {0};
    if (s == JC_OK)
        s = jc_graph_status(g, &err);
    if (s == JC_OK) {
        jc_graph_output(g, y);
        out->n = jc_tensor_nelem(y);
        if (training) {
            int64_t shape[4] = {jc_tensor_dim(y, 0), jc_tensor_dim(y, 1), jc_tensor_dim(y, 2), jc_tensor_dim(y, 3)};
            jc_tensor *rt = jc_constant(g, "R", jc_tensor_ndim(y), shape, r);
            s = jc_backward(g, jc_sum_all(g, jc_mul(g, y, rt)), &err);
            for (int i = 0; s == JC_OK && i < c->n_in; i++)
                if ((gt[i] = jc_grad(g, p[i])) != NULL)
                    jc_graph_output(g, gt[i]);
        }
    }
    if (s == JC_OK)
        s = jc_graph_build(g, &err);
    if (s == JC_OK)
        s = jc_graph_compute(g, &err);
    if (s == JC_OK) {
        out->y = malloc((size_t)out->n * sizeof *out->y);
        s = jc_tensor_get(y, out->y, &err);
        for (int i = 0; s == JC_OK && i < c->n_in; i++) {
            if (!gt[i])
                continue;
            out->grad[i] = malloc((size_t)tu_numel(c->ndim[i], c->shape[i]) * sizeof(float));
            s = jc_tensor_get(gt[i], out->grad[i], &err);
        }
    }
    if (s != JC_OK)
        snprintf(msg, 256, "%.250s", err.msg);
    jc_graph_free(g);
    jc_store_free(st);
    return s == JC_OK ? 0 : -1;
}

static int same_bits(const float *a, const float *b, int64_t n)
{
    return a && b && memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

static void check_case(const gemm_case *c)
{
    float *in_data[3] = {0};
    for (int i = 0; i < c->n_in; i++)
        in_data[i] = tu_random(&rng, tu_numel(c->ndim[i], c->shape[i]), -1, 1);
    float *r = tu_random(&rng, 1 << 20, -1, 1); /* the gradient seed; longer than any output here */
    char msg[256] = "";
    result ref = {0}, f16 = {0}, f32 = {0}, off = {0}, tr = {0}, tr_off = {0};
    if (run(cpu, c, in_data, r, 0, 1, &ref, msg)) {
        tap_ok(0, "%s: CPU reference (%s)", c->name, msg);
        goto done;
    }
    /* inference graph, fp16 allowed (the default) */
    if (run(vk, c, in_data, r, 0, 1, &f16, msg) || run(vk, c, in_data, r, 0, 0, &f32, msg)) {
        tap_ok(0, "%s: Vulkan run (%s)", c->name, msg);
        goto done;
    }
    double e16 = nmse(f16.y, ref.y, ref.n), e32 = nmse(f32.y, ref.y, ref.n), d = nmse(f16.y, f32.y, ref.n);
    tap_ok(f16.n == ref.n && e16 <= TOL_FP16, "%s: fp16 vs CPU nmse %.2e <= %.2e", c->name, e16, TOL_FP16);
    tap_ok(f32.n == ref.n && e32 <= TOL_FP32, "%s: fp32 (graph not allowing fp16) vs CPU nmse %.2e <= %.0e",
           c->name, e32, TOL_FP32);
    tap_ok(d > MIN_DIFF, "%s: fp16 path ran: nmse against fp32 %.2e > %.2e", c->name, d, MIN_DIFF);

    /* the switch: JC_VULKAN_FP16=0 gives the fp32 shader's bits */
    if (run(vk_off, c, in_data, r, 0, 1, &off, msg)) {
        tap_ok(0, "%s: JC_VULKAN_FP16=0 run (%s)", c->name, msg);
        goto done;
    }
    tap_ok(off.n == f32.n && same_bits(off.y, f32.y, f32.n), "%s: JC_VULKAN_FP16=0 equals fp32 bit for bit",
           c->name);

    /* a training graph on the fp16-capable backend stays fp32: the same bits
     * as the backend that cannot use fp16 at all, forward and backward */
    if (run(vk, c, in_data, r, 1, 1, &tr, msg) || run(vk_off, c, in_data, r, 1, 1, &tr_off, msg)) {
        tap_ok(0, "%s: training graph (%s)", c->name, msg);
        goto done;
    }
    int grads_same = 1, n_grads = 0;
    for (int i = 0; i < c->n_in; i++) {
        n_grads += tr.grad[i] != NULL;
        grads_same &= (tr.grad[i] == NULL) == (tr_off.grad[i] == NULL) &&
                      (!tr.grad[i] || same_bits(tr.grad[i], tr_off.grad[i], tu_numel(c->ndim[i], c->shape[i])));
    }
    tap_ok(same_bits(tr.y, f32.y, f32.n) && n_grads == c->n_in && grads_same,
           "%s: training graph uses fp32: output and %d gradients bit for bit", c->name, n_grads);
done:
    result_free(&ref);
    result_free(&f16);
    result_free(&f32);
    result_free(&off);
    result_free(&tr);
    result_free(&tr_off);
    free(r);
    for (int i = 0; i < c->n_in; i++)
        free(in_data[i]);
}

static jc_backend *open_vulkan(void)
{
    jc_error err = {0};
    jc_backend *be = jc_backend_open("vulkan", NULL, &err);
    if (!be) {
        if (err.code == JC_ERR_DEVICE || err.code == JC_ERR_UNSUPPORTED) {
            char reason[600];
            snprintf(reason, sizeof reason, "vulkan backend unavailable: %s", err.msg);
            tap_skip_all(reason);
        }
        printf("Bail out! vulkan: %s\n", err.msg);
        exit(1);
    }
    return be;
}

int main(void)
{
    /* the test decides the switch itself, whatever the caller's environment */
    unsetenv("JC_VULKAN_FP16");
    vk = open_vulkan();
    jc_device_info info;
    jc_backend_device_info(vk, &info);
    tap_diag("vulkan device: %s (%s), driver %s", info.name, info.vendor, info.driver);
    if (!info.fp16) {
        jc_backend_free(vk);
        tap_skip_all("the Vulkan device has no shaderFloat16");
    }
    setenv("JC_VULKAN_FP16", "0", 1);
    vk_off = open_vulkan();
    unsetenv("JC_VULKAN_FP16");
    jc_device_info info_off;
    jc_backend_device_info(vk_off, &info_off);
    tap_ok(info.fp16_gemm == 1, "device reports the fp16 GEMM on by default");
    tap_ok(info_off.fp16_gemm == 0, "JC_VULKAN_FP16=0: device reports it off");

    jc_error err = {0};
    cpu = jc_backend_open("cpu", NULL, &err);
    tu_check(cpu ? JC_OK : err.code, &err, "cpu backend");
    jc_rng_seed(&rng, 1616);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    jc_backend_free(vk_off);
    jc_backend_free(vk);
    jc_backend_free(cpu);
    return tap_done();
}
