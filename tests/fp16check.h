/* fp16check.h: the checks every GPU backend's fp16-product GEMM must pass,
 * shared by tests/test-vulkan-fp16 and tests/test-opencl-fp16.  On odd
 * shapes (not multiples of any tile) with long reductions, for matmul and
 * both convolution directions an inference graph uses:
 *   - inference graphs: within fp16's error of the CPU backend, and
 *     measurably different from fp32 (so the fp16 kernels ran);
 *   - the backend's switch (JC_VULKAN_FP16=0, JC_OPENCL_FP16=0): bit for
 *     bit the fp32 result;
 *   - training graphs (jc_backward) never use fp16: forward output and
 *     gradients bit for bit those of the switched-off backend. */
#ifndef JC_FP16CHECK_H
#define JC_FP16CHECK_H

#include <stdio.h>

#include "testutil.h"

/* fp16's unit roundoff (round to nearest). */
#define FP16_U (1.0 / 2048.0)
/* Each product a*b picks up three roundings to fp16 (a, b, the product),
 * so its relative error is at most 3u; the sums are fp32 (error ~2^-24 per
 * step, negligible).  With zero-mean inputs the errors of different terms
 * are uncorrelated, so sum_k a_k b_k e_k has variance sum_k (a_k b_k)^2
 * E[e^2], while the result has variance sum_k (a_k b_k)^2: the expected
 * NMSE is E[e^2] <= (3u)^2, whatever K is.  Allowed: (4u)^2 = 2^-18, the
 * extra u for a driver that rounds toward zero (mean error 3u there) and
 * for subnormal products. */
#define FP16_TOL (16.0 * FP16_U * FP16_U)
/* The fp16 result must differ from fp32 by more than (u/8)^2: the fp32
 * kernels' own NMSE against the CPU is ~K * 2^-48 (< 1e-10 here), and
 * random inputs are almost never exactly representable in fp16. */
#define FP16_MIN_DIFF (FP16_U * FP16_U / 64.0)
#define FP16_TOL_FP32 1e-9

typedef struct {
    const char *name;
    int which; /* 0-2: matmul (1 with both transposes), 3: conv1d, 4: transposed conv */
    int n_in;
    int ndim[3];
    int64_t shape[3][4];
} fp16_case;

typedef struct {
    float *y;
    int64_t n;
    float *grad[3];
} fp16_result;

/* One backend's fp16 path: on has it on, off is the same device opened
 * with the path switched off (by off_env, named in the test lines);
 * label prefixes the test lines. */
typedef struct {
    const char *label;
    const char *off_env;
    jc_backend *on, *off;
} fp16_pair;

static inline jc_tensor *fp16_build(jc_graph *g, jc_tensor **in, int which)
{
    switch (which) {
    case 0: return jc_matmul(g, in[0], in[1], 0, 0);
    case 1: return jc_matmul(g, in[0], in[1], 1, 1);
    case 2: return jc_matmul(g, in[0], in[1], 0, 0);
    case 3: return jc_conv1d(g, in[0], in[1], in[2], (jc_conv_params){2, 3, 2, 1, 1});
    default: return jc_conv_transpose1d(g, in[0], in[1], in[2], (jc_conv_params){4, 2, 2, 1, 1}, 1);
    }
}

/* The cases, matmuls first: small and large M (Vulkan picks its tiles by
 * M: > 32, <= 32, <= 8), K up to 4097, and every GEMM mode an inference
 * graph uses (matmul, conv1d, transposed conv = input-gradient kernel). */
#define S3(a, b, c) {a, b, c, 0}
static const fp16_case fp16_cases[] = {
    {"matmul 100x2049 @ 2049x83", 0, 2, {2, 2}, {S3(100, 2049, 0), S3(2049, 83, 0)}},
    {"matmul batched trans_a trans_b [3,1031,29]^T @ [67,1031]^T", 1, 2, {3, 2}, {S3(3, 1031, 29), S3(67, 1031, 0)}},
    {"matmul 5x4097 @ 4097x71", 2, 2, {2, 2}, {S3(5, 4097, 0), S3(4097, 71, 0)}},
    {"conv1d 64->40 k5 stride2 + bias, T 301", 3, 3, {3, 3, 1}, {S3(2, 64, 301), S3(40, 64, 5), S3(40, 0, 0)}},
    {"conv_transpose1d 48->24 k8 stride4 + bias, T 77", 4, 3, {3, 3, 1}, {S3(2, 48, 77), S3(48, 24, 8), S3(24, 0, 0)}},
};
#define FP16_NCASES ((int)(sizeof fp16_cases / sizeof fp16_cases[0]))

static inline void fp16_result_free(fp16_result *r)
{
    free(r->y);
    for (int i = 0; i < 3; i++)
        free(r->grad[i]);
    memset(r, 0, sizeof *r);
}

/* Run case c on be with inputs in_data.  training: append backward of
 * sum(y * r) and read the inputs' gradients too.  allow_fp16 is passed to
 * the graph.  0, or -1 with the error in msg[256]. */
static inline int fp16_run(jc_backend *be, const fp16_case *c, float **in_data, const float *r, int training,
                           int allow_fp16, fp16_result *out, char *msg)
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
    jc_tensor *y = s == JC_OK ? fp16_build(g, p, c->which) : NULL;
    jc_tensor *gt[3] = {0};
    if (s == JC_OK)
        s = tu_run_with_grads(g, y, r, training, p, c->n_in, gt, &err);
    if (s == JC_OK) {
        out->n = jc_tensor_nelem(y);
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

static inline int fp16_same_bits(const float *a, const float *b, int64_t n)
{
    return a && b && memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

static inline void fp16_check_case(jc_backend *cpu, const fp16_pair *p, const fp16_case *c, jc_rng *rng)
{
    float *in_data[3] = {0};
    for (int i = 0; i < c->n_in; i++)
        in_data[i] = tu_random(rng, tu_numel(c->ndim[i], c->shape[i]), -1, 1);
    float *r = tu_random(rng, 1 << 20, -1, 1); /* the gradient seed; longer than any output here */
    char msg[256] = "";
    fp16_result ref = {0}, f16 = {0}, f32 = {0}, off = {0}, tr = {0}, tr_off = {0};
    if (fp16_run(cpu, c, in_data, r, 0, 1, &ref, msg)) {
        tap_ok(0, "%s: CPU reference (%s)", c->name, msg);
        goto done;
    }
    /* inference graph, fp16 allowed (the default) */
    if (fp16_run(p->on, c, in_data, r, 0, 1, &f16, msg) || fp16_run(p->on, c, in_data, r, 0, 0, &f32, msg)) {
        tap_ok(0, "%s %s: run (%s)", p->label, c->name, msg);
        goto done;
    }
    double e16 = tu_nmse(f16.y, ref.y, ref.n), e32 = tu_nmse(f32.y, ref.y, ref.n);
    double d = tu_nmse(f16.y, f32.y, ref.n);
    tap_ok(f16.n == ref.n && e16 <= FP16_TOL, "%s %s: fp16 vs CPU nmse %.2e <= %.2e", p->label, c->name, e16, FP16_TOL);
    tap_ok(f32.n == ref.n && e32 <= FP16_TOL_FP32, "%s %s: fp32 (graph not allowing fp16) vs CPU nmse %.2e <= %.0e",
           p->label, c->name, e32, FP16_TOL_FP32);
    tap_ok(d > FP16_MIN_DIFF, "%s %s: fp16 path ran: nmse against fp32 %.2e > %.2e", p->label, c->name, d,
           FP16_MIN_DIFF);

    /* the switch gives the fp32 kernels' bits */
    if (fp16_run(p->off, c, in_data, r, 0, 1, &off, msg)) {
        tap_ok(0, "%s %s: %s run (%s)", p->label, c->name, p->off_env, msg);
        goto done;
    }
    tap_ok(off.n == f32.n && fp16_same_bits(off.y, f32.y, f32.n), "%s %s: %s equals fp32 bit for bit", p->label,
           c->name, p->off_env);

    /* a training graph on the fp16-capable backend stays fp32: the same bits
     * as the backend that cannot use fp16 at all, forward and backward */
    if (fp16_run(p->on, c, in_data, r, 1, 1, &tr, msg) || fp16_run(p->off, c, in_data, r, 1, 1, &tr_off, msg)) {
        tap_ok(0, "%s %s: training graph (%s)", p->label, c->name, msg);
        goto done;
    }
    int grads_same = 1, n_grads = 0;
    for (int i = 0; i < c->n_in; i++) {
        n_grads += tr.grad[i] != NULL;
        grads_same &= (tr.grad[i] == NULL) == (tr_off.grad[i] == NULL) &&
                      (!tr.grad[i] || fp16_same_bits(tr.grad[i], tr_off.grad[i], tu_numel(c->ndim[i], c->shape[i])));
    }
    tap_ok(fp16_same_bits(tr.y, f32.y, f32.n) && n_grads == c->n_in && grads_same,
           "%s %s: training graph uses fp32: output and %d gradients bit for bit", p->label, c->name, n_grads);
done:
    fp16_result_free(&ref);
    fp16_result_free(&f16);
    fp16_result_free(&f32);
    fp16_result_free(&off);
    fp16_result_free(&tr);
    fp16_result_free(&tr_off);
    free(r);
    for (int i = 0; i < c->n_in; i++)
        free(in_data[i]);
}

/* Every case's checks (5 test lines each) against the CPU backend cpu,
 * inputs drawn from rng. */
static inline void fp16_check_all(jc_backend *cpu, const fp16_pair *p, jc_rng *rng)
{
    for (int i = 0; i < FP16_NCASES; i++)
        fp16_check_case(cpu, p, &fp16_cases[i], rng);
}

/* fp16_check_all against a CPU backend opened here, inputs drawn from
 * seed; then p's two backends and the CPU's are freed. */
static inline void fp16_check_all_and_free(const fp16_pair *p, uint64_t seed)
{
    jc_error err = {0};
    jc_backend *cpu = jc_backend_open("cpu", NULL, &err);
    tu_check(cpu ? JC_OK : err.code, &err, "cpu backend");
    jc_rng rng;
    jc_rng_seed(&rng, seed);
    fp16_check_all(cpu, p, &rng);
    jc_backend_free(p->off);
    jc_backend_free(p->on);
    jc_backend_free(cpu);
}

#endif
