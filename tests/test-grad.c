/* test-grad.c: every operation's backward against central finite
 * differences.  loss = sum(op(inputs) * R) with a fixed random R, so every
 * output element's gradient path is exercised with a different weight. */
#include <stdio.h>

#include "testutil.h"

#define MAXIN 4
#define SAMPLES 10 /* elements checked per input */

typedef jc_tensor *(*gbuild)(jc_graph *g, jc_tensor **in, const void *ctx);
typedef void (*fixup_fn)(float **v, const int64_t *n);

typedef struct {
    int n;
    int ndim[MAXIN];
    int64_t shape[MAXIN][4];
    float lo, hi;
    unsigned constant_mask; /* bit i: input i is data, not differentiated */
    fixup_fn fixup;         /* moves values away from kinks */
    float step;             /* finite-difference step (relative); 0 = 1e-2 */
} gspec;

static jc_backend *be;
static jc_rng rng;

static jc_tensor *record_loss(jc_graph *g, jc_tensor **p, gbuild b, const void *ctx, const float *r, jc_tensor **y)
{
    *y = b(g, p, ctx);
    if (!*y)
        return NULL;
    jc_tensor *rt = jc_constant(g, "R", jc_tensor_ndim(*y), (int64_t[]){jc_tensor_dim(*y, 0), jc_tensor_dim(*y, 1),
                                jc_tensor_dim(*y, 2), jc_tensor_dim(*y, 3)}, r);
    return jc_sum_all(g, jc_mul(g, *y, rt));
}

static float loss_value(jc_graph *g, jc_tensor *loss)
{
    jc_error err = {0};
    float v = NAN;
    if (jc_graph_compute(g, &err) == JC_OK)
        jc_tensor_get(loss, &v, &err);
    return v;
}

static void grad_check(const char *name, const gspec *s, gbuild build, const void *ctx)
{
    jc_error err = {0};
    jc_store *st = jc_store_new(be);
    jc_tensor *p[MAXIN];
    float *v[MAXIN];
    int64_t n[MAXIN];
    for (int i = 0; i < s->n; i++) {
        n[i] = tu_numel(s->ndim[i], s->shape[i]);
        char pname[16];
        snprintf(pname, sizeof pname, "in%d", i);
        p[i] = (s->constant_mask >> i) & 1 ? jc_store_buffer(st, pname, s->ndim[i], s->shape[i], &err)
                                            : jc_store_param(st, pname, s->ndim[i], s->shape[i], &err);
        v[i] = tu_random(&rng, n[i], s->lo, s->hi);
    }
    if (s->fixup)
        s->fixup(v, n);
    for (int i = 0; i < s->n; i++)
        jc_tensor_set(p[i], v[i], &err);

    /* the analytic graph: loss, backward, gradients as outputs */
    jc_graph *ga = jc_graph_new(be);
    jc_tensor *y;
    /* R must match y's shape: find it from a throwaway recording */
    jc_graph *probe = jc_graph_new(be);
    jc_tensor *py = build(probe, p, ctx);
    int64_t ny = py ? jc_tensor_nelem(py) : 1;
    jc_graph_free(probe);
    float *r = tu_random(&rng, ny, -1, 1);
    jc_tensor *loss = record_loss(ga, p, build, ctx, r, &y);
    jc_status status = jc_backward(ga, loss, &err);
    jc_tensor *grads[MAXIN] = {0};
    for (int i = 0; status == JC_OK && i < s->n; i++)
        if (!((s->constant_mask >> i) & 1)) {
            grads[i] = jc_grad(ga, p[i]);
            if (grads[i])
                jc_graph_output(ga, grads[i]);
        }
    if (status == JC_OK)
        status = jc_graph_build(ga, &err);
    if (status == JC_OK)
        status = jc_graph_compute(ga, &err);

    /* the numeric graph: forward only */
    jc_graph *gn = jc_graph_new(be);
    jc_tensor *yn;
    jc_tensor *loss_n = record_loss(gn, p, build, ctx, r, &yn);
    jc_graph_output(gn, loss_n);
    if (status == JC_OK)
        status = jc_graph_build(gn, &err);
    if (status != JC_OK) {
        tap_ok(0, "grad %s (%s)", name, err.msg);
        goto done;
    }
    double worst = 0;
    int missing = 0;
    for (int i = 0; i < s->n; i++) {
        if ((s->constant_mask >> i) & 1)
            continue;
        if (!grads[i]) {
            missing = 1;
            continue;
        }
        float *ga_v = malloc((size_t)n[i] * sizeof *ga_v);
        jc_tensor_get(grads[i], ga_v, &err);
        for (int k = 0; k < SAMPLES && k < n[i]; k++) {
            int64_t idx = n[i] <= SAMPLES ? k : jc_rng_below(&rng, n[i]);
            float x0 = v[i][idx], eps = (s->step > 0 ? s->step : 1e-2f) * fmaxf(1.0f, fabsf(x0));
            v[i][idx] = x0 + eps;
            jc_tensor_set(p[i], v[i], &err);
            double lp = loss_value(gn, loss_n);
            v[i][idx] = x0 - eps;
            jc_tensor_set(p[i], v[i], &err);
            double lm = loss_value(gn, loss_n);
            v[i][idx] = x0;
            jc_tensor_set(p[i], v[i], &err);
            double num = (lp - lm) / (2.0 * eps), ana = ga_v[idx];
            double e = fabs(num - ana) / fmax(1.0, fmax(fabs(num), fabs(ana)));
            if (!(e <= worst))
                worst = e;
        }
        free(ga_v);
    }
    if (!tap_ok(!missing && worst < 1e-2, "grad %s backward vs finite differences (worst %.1e)", name, worst))
        tap_diag("missing gradient: %d", missing);
done:
    free(r);
    for (int i = 0; i < s->n; i++)
        free(v[i]);
    jc_graph_free(ga);
    jc_graph_free(gn);
    jc_store_free(st);
}

/* ----------------------------------------------------------- the cases */

static jc_tensor *b_matmul(jc_graph *g, jc_tensor **in, const void *c)
{
    const int *t = c;
    return jc_matmul(g, in[0], in[1], t[0], t[1]);
}

typedef struct {
    jc_conv_params p;
    int transpose, out_extra;
} conv_case;

static jc_tensor *b_conv(jc_graph *g, jc_tensor **in, const void *c)
{
    const conv_case *cc = c;
    return cc->transpose ? jc_conv_transpose1d(g, in[0], in[1], in[2], cc->p, cc->out_extra)
                         : jc_conv1d(g, in[0], in[1], in[2], cc->p);
}

static jc_tensor *b_conv2d(jc_graph *g, jc_tensor **in, const void *c)
{
    (void)c;
    return jc_conv2d_k1(g, in[0], in[1], in[2], (jc_conv_params){2, 1, 2, 1, 1});
}

static void test_linear_algebra(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int t[2] = {ta, tb};
            gspec s = {2, {3, 2}, {{2, ta ? 5 : 3, ta ? 3 : 5}, {tb ? 4 : 5, tb ? 5 : 4}}, -1, 1, 0, NULL, 0};
            char name[64];
            snprintf(name, sizeof name, "matmul shared ta=%d tb=%d", ta, tb);
            grad_check(name, &s, b_matmul, t);
            gspec s2 = {2, {3, 3}, {{2, ta ? 5 : 3, ta ? 3 : 5}, {2, tb ? 4 : 5, tb ? 5 : 4}}, -1, 1, 0, NULL, 0};
            snprintf(name, sizeof name, "matmul batched ta=%d tb=%d", ta, tb);
            grad_check(name, &s2, b_matmul, t);
        }
    struct {
        const char *name;
        int B, Cin, Cout, T, K;
        conv_case c;
    } cases[] = {
        {"conv1d k3 pad1", 2, 3, 4, 11, 3, {{1, 1, 1, 1, 1}, 0, 0}},
        {"conv1d stride2 asym pad dil2", 2, 3, 2, 17, 4, {{2, 1, 3, 2, 1}, 0, 0}},
        {"conv1d groups2", 1, 4, 6, 9, 3, {{1, 1, 1, 1, 2}, 0, 0}},
        /* the CPU's phase-stacked path: stride, groups, K not a multiple of
         * the stride, padding on both sides */
        {"conv1d stride3 k7 groups2 pad2,1", 2, 4, 6, 20, 7, {{3, 2, 1, 1, 2}, 0, 0}},
        {"conv1d stride2 k9 pad4,3", 2, 3, 4, 23, 9, {{2, 4, 3, 1, 1}, 0, 0}},
        {"conv1d depthwise k7", 2, 3, 3, 12, 7, {{1, 3, 3, 1, 3}, 0, 0}},
        {"conv1d 1x1", 2, 3, 5, 6, 1, {{1, 0, 0, 1, 1}, 0, 0}},
        {"conv_transpose1d stride3 k6 pad1 extra2", 2, 3, 4, 5, 6, {{3, 1, 1, 1, 1}, 1, 2}},
        {"conv_transpose1d groups3 stride2", 1, 3, 6, 4, 4, {{2, 1, 1, 1, 3}, 1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int G = cases[i].c.p.groups;
        gspec s = {3, {3, 3, 1}, {{cases[i].B, cases[i].Cin, cases[i].T}, {0}, {0}}, -1, 1, 0, NULL, 0};
        if (cases[i].c.transpose) {
            s.shape[1][0] = cases[i].Cin; s.shape[1][1] = cases[i].Cout / G; s.shape[1][2] = cases[i].K;
        } else {
            s.shape[1][0] = cases[i].Cout; s.shape[1][1] = cases[i].Cin / G; s.shape[1][2] = cases[i].K;
        }
        s.shape[2][0] = cases[i].Cout;
        grad_check(cases[i].name, &s, b_conv, &cases[i].c);
    }
    gspec s = {3, {4, 3, 1}, {{2, 2, 9, 3}, {3, 2, 3}, {3}}, -1, 1, 0, NULL, 0};
    grad_check("conv2d_k1 stride2", &s, b_conv2d, NULL);
}

static jc_tensor *(*const bin_ops[])(jc_graph *, jc_tensor *, jc_tensor *) = {jc_add, jc_sub, jc_mul, jc_div,
                                                                             jc_minimum, jc_maximum};
static const char *const bin_names[] = {"add", "sub", "mul", "div", "minimum", "maximum"};

static jc_tensor *b_bin(jc_graph *g, jc_tensor **in, const void *c)
{
    return bin_ops[*(const int *)c](g, in[0], in[1]);
}

/* min/max: keep the operands apart so no sample sits on the tie */
static void apart(float **v, const int64_t *n)
{
    for (int64_t i = 0; i < n[0]; i++)
        v[0][i] = (i % 2 ? 1.0f : -1.0f) * (0.2f + fabsf(v[0][i]));
    for (int64_t i = 0; i < n[1]; i++)
        v[1][i] = 0.05f * v[1][i];
}

static void test_elementwise(void)
{
    for (int k = 0; k < 6; k++) {
        gspec s = {2, {3, 2}, {{3, 4, 5}, {4, 1}}, 0.5f, 2, 0, k >= 4 ? apart : NULL, 0};
        char name[64];
        snprintf(name, sizeof name, "%s broadcast", bin_names[k]);
        grad_check(name, &s, b_bin, &k);
    }
}

typedef struct {
    const char *name;
    jc_tensor *(*op)(jc_graph *, jc_tensor *);
    float lo, hi;
    fixup_fn fix;
} un_case;

static void away_from_zero(float **v, const int64_t *n)
{
    for (int64_t i = 0; i < n[0]; i++)
        if (fabsf(v[0][i]) < 0.1f)
            v[0][i] += v[0][i] < 0 ? -0.2f : 0.2f;
}

static void away_from_clamp(float **v, const int64_t *n)
{
    for (int64_t i = 0; i < n[0]; i++)
        if (fabsf(v[0][i] + 0.5f) < 0.05f || fabsf(v[0][i] - 0.7f) < 0.05f)
            v[0][i] += 0.12f;
}

static jc_tensor *leaky(jc_graph *g, jc_tensor *a) { return jc_leaky_relu(g, a, 0.1f); }
static jc_tensor *clampf(jc_graph *g, jc_tensor *a) { return jc_clamp(g, a, -0.5f, 0.7f); }
static jc_tensor *scale_op(jc_graph *g, jc_tensor *a) { return jc_scale(g, a, -1.5f, 0.25f); }

static const un_case un_cases[] = {
    {"exp", jc_exp, -2, 2, NULL},          {"log", jc_log, 0.3f, 3, NULL},
    {"sin", jc_sin, -3, 3, NULL},          {"cos", jc_cos, -3, 3, NULL},
    {"sqr", jc_sqr, -2, 2, NULL},          {"sqrt", jc_sqrt, 0.3f, 4, NULL},
    {"abs", jc_abs, -2, 2, away_from_zero}, {"tanh", jc_tanh, -2, 2, NULL},
    {"sigmoid", jc_sigmoid, -4, 4, NULL},  {"softplus", jc_softplus, -4, 4, NULL},
    {"gelu", jc_gelu, -3, 3, NULL},        {"silu", jc_silu, -4, 4, NULL},
    {"leaky_relu", leaky, -2, 2, away_from_zero}, {"clamp", clampf, -1.5f, 1.5f, away_from_clamp},
    {"reciprocal", jc_reciprocal, 0.5f, 3, NULL}, {"scale", scale_op, -2, 2, NULL},
};

static jc_tensor *b_unary(jc_graph *g, jc_tensor **in, const void *c)
{
    return ((const un_case *)c)->op(g, in[0]);
}

static void test_unary(void)
{
    for (size_t i = 0; i < sizeof un_cases / sizeof un_cases[0]; i++) {
        gspec s = {1, {2}, {{5, 7}}, un_cases[i].lo, un_cases[i].hi, 0, un_cases[i].fix, 0};
        grad_check(un_cases[i].name, &s, b_unary, &un_cases[i]);
    }
}

/* ---------------------------------------------------- composite and misc */

static jc_tensor *b_misc(jc_graph *g, jc_tensor **in, const void *c)
{
    int w = *(const int *)c;
    jc_tensor *mask01 = NULL;
    switch (w) {
    case 0: return jc_sum(g, in[0], 1);
    case 1: return jc_mean(g, in[0], -1);
    case 2: return jc_var(g, in[0], 0);
    case 3: return jc_logsumexp(g, in[0], 1);
    case 4: return jc_softmax(g, in[0], -1, NULL);
    case 5:
        mask01 = jc_constant(g, "mask", 2, (int64_t[]){1, 6}, (float[]){1, 1, 0, 1, 0, 1});
        return jc_softmax(g, in[0], -1, mask01);
    case 6: return jc_layer_norm(g, in[0], in[1], in[2], 1e-5f);
    case 7: return jc_group_norm1(g, in[0], NULL, in[1], in[2], 1e-5f);
    case 8:
        mask01 = jc_constant(g, "mask", 3, (int64_t[]){2, 1, 6}, (float[]){1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1});
        return jc_group_norm1(g, in[0], mask01, in[1], in[2], 1e-5f);
    case 9: return jc_glu(g, in[0], 1);
    case 10: return jc_dropout(g, in[0], 0.4f);
    case 11: return jc_pad(g, in[0], -1, 2, 3, JC_PAD_ZERO);
    case 12: return jc_pad(g, in[0], -1, 3, 4, JC_PAD_REFLECT);
    case 13: return jc_slice(g, in[0], 1, 1, 2);
    case 14: return jc_concat(g, in[0], jc_sqr(g, in[0]), 1);
    case 15: return jc_reshape(g, jc_sqr(g, in[0]), 2, (int64_t[]){8, 6});
    case 16: return jc_permute(g, in[0], (int[]){2, 0, 1});
    case 17: return jc_transpose(g, in[0], 1, 2);
    case 18: return jc_expand(g, jc_sum(g, in[0], 1), 4, (int64_t[]){2, 2, 4, 6});
    case 19: return jc_avg_pool1d(g, in[0], 4, 2, 2);
    case 20: return jc_frames(g, jc_reshape(g, in[0], 2, (int64_t[]){2, 24}), 8, 3, NULL);
    case 21: return jc_stft_magnitude(g, jc_reshape(g, in[0], 2, (int64_t[]){2, 24}), 8, 2);
    case 22: return jc_l1_loss(g, in[0], in[1], NULL);
    case 23: return jc_mse_loss(g, in[0], in[1], NULL);
    case 24:
        mask01 = jc_constant(g, "mask", 3, (int64_t[]){2, 1, 6}, (float[]){1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0});
        return jc_mse_loss(g, in[0], in[1], mask01);
    case 25: return jc_sum_all(g, in[0]);
    case 26: return jc_mean_all(g, in[0]);
    case 28: return jc_rdft(g, jc_reshape(g, in[0], 2, (int64_t[]){6, 8}));
    case 29: return jc_rdft_adjoint(g, jc_reshape(g, in[0], 2, (int64_t[]){8, 6}));
    default: return jc_pad(g, in[0], 1, 1, 2, JC_PAD_REFLECT);
    }
}

/* l1: keep |a - b| away from zero */
static void l1_apart(float **v, const int64_t *n)
{
    for (int64_t i = 0; i < n[0]; i++)
        if (fabsf(v[0][i] - v[1][i]) < 0.1f)
            v[0][i] += 0.25f;
}

static void test_misc(void)
{
    static const char *names[] = {"sum", "mean", "var", "logsumexp", "softmax", "softmax masked",
                                  "layer_norm", "group_norm1", "group_norm1 masked", "glu", "dropout",
                                  "pad zero", "pad reflect", "slice", "concat", "reshape", "permute",
                                  "transpose", "expand", "avg_pool1d", "frames", "stft_magnitude",
                                  "l1 loss", "mse loss", "mse loss masked", "sum_all", "mean_all",
                                  "pad reflect middle axis", "rdft N 8", "rdft_adjoint N 4"};
    for (int w = 0; w < 30; w++) {
        gspec s = {1, {3}, {{2, 4, 6}}, -1, 1, 0, NULL, 0};
        if (w == 6) {
            s.n = 3;
            s.ndim[1] = s.ndim[2] = 1;
            s.shape[1][0] = s.shape[2][0] = 6;
        } else if (w == 7 || w == 8) {
            s.n = 3;
            s.ndim[1] = s.ndim[2] = 1;
            s.shape[1][0] = s.shape[2][0] = 4;
        } else if (w >= 22 && w <= 24) {
            s.n = 2;
            s.ndim[1] = 3;
            memcpy(s.shape[1], s.shape[0], sizeof s.shape[0]);
            s.fixup = w == 22 ? l1_apart : NULL;
        } else if (w == 21) {
            s.step = 3e-3f; /* |S| of the real DC/Nyquist bins is |re|: curved near 0 */
        }
        grad_check(names[w], &s, b_misc, &w);
    }
}

/* FSQ is piecewise constant, so finite differences say 0: check instead that
 * the straight-through gradient passes dy unchanged; stop_gradient blocks. */
static void test_straight_through(void)
{
    jc_error err = {0};
    jc_store *st = jc_store_new(be);
    int64_t shape[2] = {3, 8};
    jc_tensor *z = jc_store_param(st, "z", 2, shape, &err);
    float *zv = tu_random(&rng, 24, -0.99f, 0.99f), *rv = tu_random(&rng, 24, -1, 1);
    jc_tensor_set(z, zv, &err);
    jc_graph *g = jc_graph_new(be);
    jc_tensor *levels = jc_scalar_constant(g, 4);
    jc_tensor *rt = jc_constant(g, "R", 2, shape, rv);
    jc_tensor *q = jc_fsq_quantize(g, z, levels);
    /* y = q * R + z * stop_gradient(z): d/dz = R + stop_gradient(z) */
    jc_tensor *loss = jc_sum_all(g, jc_add(g, jc_mul(g, q, rt), jc_mul(g, z, jc_stop_gradient(g, z))));
    jc_status s = jc_backward(g, loss, &err);
    jc_tensor *gz = jc_grad(g, z);
    if (gz)
        jc_graph_output(g, gz);
    if (s == JC_OK)
        s = jc_graph_build(g, &err);
    if (s == JC_OK)
        s = jc_graph_compute(g, &err);
    float got[24];
    jc_tensor_get(gz, got, &err);
    double e = 0;
    for (int i = 0; i < 24; i++)
        e = fmax(e, fabs(got[i] - (rv[i] + zv[i])));
    tap_ok(s == JC_OK && e < 1e-6, "grad fsq straight-through and stop_gradient (err %.1e)", e);
    jc_graph_free(g);
    jc_store_free(st);
    free(zv);
    free(rv);
}

int main(void)
{
    be = tu_backend();
    jc_rng_seed(&rng, 99);
    test_linear_algebra();
    test_elementwise();
    test_unary();
    test_misc();
    test_straight_through();
    jc_backend_free(be);
    return tap_done();
}
