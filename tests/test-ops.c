/* test-ops.c: every operation's forward result against a plain reference
 * computed here in double precision, on odd shapes. */
#include <stdio.h>

#include "ops_internal.h" /* jc_conv1d_bwd_weight: the weight gradient op itself */
#include "testutil.h"

#define MAXIN 4

typedef struct {
    int n;
    int ndim[MAXIN];
    int64_t shape[MAXIN][4];
    float lo, hi; /* input value range */
} inputs;

typedef jc_tensor *(*build_fn)(jc_graph *g, jc_tensor **in, const void *ctx);
typedef void (*ref_fn)(float **in, const inputs *spec, const void *ctx, double *out, const jc_tensor *y);

static jc_backend *be;
static jc_rng rng;

/* Build op(inputs), run it, compare with ref. */
static void check(const char *name, const inputs *spec, build_fn build, ref_fn ref, const void *ctx, double tol)
{
    jc_error err = {0};
    jc_graph *g = jc_graph_new(be);
    jc_tensor *in[MAXIN];
    float *data[MAXIN];
    for (int i = 0; i < spec->n; i++) {
        in[i] = jc_input(g, "in", spec->ndim[i], spec->shape[i]);
        data[i] = tu_random(&rng, tu_numel(spec->ndim[i], spec->shape[i]), spec->lo, spec->hi);
    }
    jc_tensor *y = build(g, in, ctx);
    if (y)
        jc_graph_output(g, y);
    jc_status s = jc_graph_build(g, &err);
    for (int i = 0; s == JC_OK && i < spec->n; i++)
        s = jc_tensor_set(in[i], data[i], &err);
    if (s == JC_OK)
        s = jc_graph_compute(g, &err);
    if (s != JC_OK) {
        tap_ok(0, "forward %s (%s)", name, err.msg);
    } else {
        int64_t n = jc_tensor_nelem(y);
        float *got = malloc((size_t)n * sizeof *got);
        double *want = calloc((size_t)n, sizeof *want);
        jc_tensor_get(y, got, &err);
        ref(data, spec, ctx, want, y);
        double e = tu_rel_err(got, want, n);
        if (!tap_ok(e <= tol, "forward %s (rel err %.2e)", name, e))
            tap_diag("tolerance %.1e", tol);
        free(got);
        free(want);
    }
    for (int i = 0; i < spec->n; i++)
        free(data[i]);
    jc_graph_free(g);
}

/* ---------------------------------------------------------------- matmul */

typedef struct {
    int ta, tb;
} mm_ctx;

static jc_tensor *build_mm(jc_graph *g, jc_tensor **in, const void *c)
{
    const mm_ctx *m = c;
    return jc_matmul(g, in[0], in[1], m->ta, m->tb);
}

static void ref_mm(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    const mm_ctx *m = c;
    int nda = s->ndim[0], ndb = s->ndim[1];
    int64_t M = jc_tensor_dim(y, -2), N = jc_tensor_dim(y, -1);
    int64_t K = m->ta ? s->shape[0][nda - 2] : s->shape[0][nda - 1];
    int64_t batch = jc_tensor_nelem(y) / (M * N);
    int64_t sa = nda > 2 ? M * K : 0, sb = ndb > 2 ? K * N : 0;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double acc = 0;
                for (int64_t k = 0; k < K; k++) {
                    double av = m->ta ? in[0][b * sa + k * M + i] : in[0][b * sa + i * K + k];
                    double bv = m->tb ? in[1][b * sb + j * K + k] : in[1][b * sb + k * N + j];
                    acc += av * bv;
                }
                out[(b * M + i) * N + j] = acc;
            }
}

static void test_matmul(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            mm_ctx c = {ta, tb};
            int64_t M = 13, K = 7, N = 19;
            inputs s = {2, {3, 2}, {{3, ta ? K : M, ta ? M : K}, {tb ? N : K, tb ? K : N}}, -1, 1};
            char name[64];
            snprintf(name, sizeof name, "matmul batched x shared ta=%d tb=%d", ta, tb);
            check(name, &s, build_mm, ref_mm, &c, 1e-5);
            inputs s2 = {2, {4, 4}, {{2, 3, ta ? K : M, ta ? M : K}, {2, 3, tb ? N : K, tb ? K : N}}, -1, 1};
            snprintf(name, sizeof name, "matmul 4-D batched ta=%d tb=%d", ta, tb);
            check(name, &s2, build_mm, ref_mm, &c, 1e-5);
        }
    mm_ctx c = {0, 0};
    inputs big = {2, {2, 2}, {{67, 131}, {131, 45}}, -1, 1};
    check("matmul 67x131x45", &big, build_mm, ref_mm, &c, 1e-5);
}

/* ----------------------------------------------------------- convolution */

typedef struct {
    jc_conv_params p;
    int bias, out_extra;
} conv_ctx;

static jc_tensor *build_conv(jc_graph *g, jc_tensor **in, const void *c)
{
    const conv_ctx *cc = c;
    return jc_conv1d(g, in[0], in[1], cc->bias ? in[2] : NULL, cc->p);
}

static void ref_conv(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    const conv_ctx *cc = c;
    int64_t B = s->shape[0][0], Cin = s->shape[0][1], T = s->shape[0][2];
    int64_t Cout = s->shape[1][0], K = s->shape[1][2], To = jc_tensor_dim(y, 2);
    int G = cc->p.groups;
    int64_t cin_g = Cin / G, cout_g = Cout / G;
    for (int64_t b = 0; b < B; b++)
        for (int64_t co = 0; co < Cout; co++)
            for (int64_t t = 0; t < To; t++) {
                double acc = cc->bias ? in[2][co] : 0;
                int64_t gi = co / cout_g;
                for (int64_t ci = 0; ci < cin_g; ci++)
                    for (int64_t k = 0; k < K; k++) {
                        int64_t ti = t * cc->p.stride - cc->p.pad_left + k * cc->p.dilation;
                        if (ti >= 0 && ti < T)
                            acc += (double)in[1][(co * cin_g + ci) * K + k] * in[0][(b * Cin + gi * cin_g + ci) * T + ti];
                    }
                out[(b * Cout + co) * To + t] = acc;
            }
}

static jc_tensor *build_convt(jc_graph *g, jc_tensor **in, const void *c)
{
    const conv_ctx *cc = c;
    return jc_conv_transpose1d(g, in[0], in[1], cc->bias ? in[2] : NULL, cc->p, cc->out_extra);
}

static void ref_convt(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    const conv_ctx *cc = c;
    int64_t B = s->shape[0][0], Cin = s->shape[0][1], T = s->shape[0][2];
    int64_t cout_g = s->shape[1][1], K = s->shape[1][2], To = jc_tensor_dim(y, 2);
    int G = cc->p.groups;
    int64_t Cout = cout_g * G, cin_g = Cin / G;
    for (int64_t b = 0; b < B; b++)
        for (int64_t co = 0; co < Cout; co++)
            for (int64_t t = 0; t < To; t++)
                out[(b * Cout + co) * To + t] = cc->bias ? in[2][co] : 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t ci = 0; ci < Cin; ci++)
            for (int64_t s_ = 0; s_ < T; s_++)
                for (int64_t j = 0; j < cout_g; j++)
                    for (int64_t k = 0; k < K; k++) {
                        int64_t t = s_ * cc->p.stride - cc->p.pad_left + k * cc->p.dilation;
                        int64_t co = (ci / cin_g) * cout_g + j;
                        if (t >= 0 && t < To)
                            out[(b * Cout + co) * To + t] += (double)in[0][(b * Cin + ci) * T + s_] * in[1][(ci * cout_g + j) * K + k];
                    }
}

static void test_conv(void)
{
    struct {
        const char *name;
        int B, Cin, Cout, T, K;
        jc_conv_params p;
        int bias;
    } cases[] = {
        {"k3 pad1", 2, 5, 7, 37, 3, {1, 1, 1, 1, 1}, 1},
        {"stride3 asym pad", 2, 5, 6, 41, 6, {3, 2, 4, 1, 1}, 1},
        {"dilation5", 1, 4, 3, 50, 3, {1, 5, 5, 5, 1}, 0},
        {"groups3", 2, 6, 9, 23, 5, {2, 2, 2, 1, 3}, 1},
        {"depthwise k31", 2, 6, 6, 45, 31, {1, 15, 15, 1, 6}, 1},
        {"depthwise stride2", 1, 4, 4, 33, 4, {2, 2, 1, 1, 4}, 0},
        {"1x1", 3, 9, 11, 17, 1, {1, 0, 0, 1, 1}, 1},
        {"long blocked", 1, 3, 4, 40000, 7, {1, 3, 3, 1, 1}, 1},
        {"groups4 stride4 k41 (multi-scale discriminator)", 2, 16, 64, 401, 41, {4, 20, 20, 1, 4}, 1},
    };
    /* strided and grouped ones take the CPU's phase-stacked path; each runs
     * again with JC_CONV=gemm, the im2col + GEMM path */
    for (size_t n = 0; n < 2 * (sizeof cases / sizeof cases[0]); n++) {
        size_t i = n % (sizeof cases / sizeof cases[0]);
        int gemm = n >= sizeof cases / sizeof cases[0];
        if (gemm && ((cases[i].p.stride == 1 && cases[i].p.groups == 1) || cases[i].p.groups == cases[i].Cin))
            continue;
        if (gemm)
            setenv("JC_CONV", "gemm", 1);
        conv_ctx c = {cases[i].p, cases[i].bias, 0};
        inputs s = {3,
                    {3, 3, 1},
                    {{cases[i].B, cases[i].Cin, cases[i].T},
                     {cases[i].Cout, cases[i].Cin / cases[i].p.groups, cases[i].K},
                     {cases[i].Cout}},
                    -1,
                    1};
        char name[96];
        snprintf(name, sizeof name, "conv1d %s%s", cases[i].name, gemm ? " (JC_CONV=gemm)" : "");
        check(name, &s, build_conv, ref_conv, &c, 1e-5);
        unsetenv("JC_CONV");
    }
    struct {
        const char *name;
        int B, Cin, Cout, T, K, extra;
        jc_conv_params p;
    } tcases[] = {
        {"stride4 k8 pad2 extra1", 2, 6, 5, 11, 8, 1, {4, 2, 2, 1, 1}},
        {"stride5 k10 pad3", 1, 3, 4, 9, 10, 0, {5, 3, 3, 1, 1}},
        {"stride1 k3", 2, 4, 4, 13, 3, 0, {1, 1, 1, 1, 1}},
        {"groups2 stride2", 1, 4, 6, 10, 4, 1, {2, 1, 1, 1, 2}},
        {"depthwise stride3 dil2", 1, 5, 5, 7, 3, 2, {3, 1, 1, 2, 5}},
        {"stride6 k12 pad3 (decoder upsampling)", 2, 16, 8, 20, 12, 0, {6, 3, 3, 1, 1}},
        {"stride2 k9 pad4 (many taps a phase)", 2, 5, 3, 31, 9, 1, {2, 4, 4, 1, 1}},
    };
    for (size_t n = 0; n < 2 * (sizeof tcases / sizeof tcases[0]); n++) {
        size_t i = n % (sizeof tcases / sizeof tcases[0]);
        int gemm = n >= sizeof tcases / sizeof tcases[0];
        if (gemm && ((tcases[i].p.stride == 1 && tcases[i].p.groups == 1) || tcases[i].p.groups == tcases[i].Cin))
            continue;
        if (gemm)
            setenv("JC_CONV", "gemm", 1);
        conv_ctx c = {tcases[i].p, 1, tcases[i].extra};
        inputs s = {3,
                    {3, 3, 1},
                    {{tcases[i].B, tcases[i].Cin, tcases[i].T},
                     {tcases[i].Cin, tcases[i].Cout / tcases[i].p.groups, tcases[i].K},
                     {tcases[i].Cout}},
                    -1,
                    1};
        char name[96];
        snprintf(name, sizeof name, "conv_transpose1d %s%s", tcases[i].name, gemm ? " (JC_CONV=gemm)" : "");
        check(name, &s, build_convt, ref_convt, &c, 1e-5);
        unsetenv("JC_CONV");
    }
}

/* Stride-1 single-group convolutions go to the CPU backend's direct kernel
 * when it is faster (few channels, long rows) and to im2col + GEMM otherwise;
 * JC_CONV=direct|gemm forces a path and JC_GEMM_ISA=avx2|generic a lower
 * SIMD level, so every kernel and edge of the direct path is checked against
 * the reference here, whatever this CPU runs by default. */
typedef struct {
    const char *name;
    int B, Cin, Cout, T, K;
    jc_conv_params p;
    int bias;
} direct_case;

static const direct_case direct_cases[] = {
    {"16ch k3 d1 T1001", 2, 16, 16, 1001, 3, {1, 1, 1, 1, 1}, 1},
    {"16ch k7 d3 T1237", 1, 16, 16, 1237, 7, {1, 9, 9, 3, 1}, 1},
    {"16ch k11 d5 3 items", 3, 16, 16, 1500, 11, {1, 25, 25, 5, 1}, 0},
    {"32ch k7 d1 asym pad", 2, 32, 32, 777, 7, {1, 2, 5, 1, 1}, 1},
    {"32ch k11 d3 no pad", 1, 32, 24, 1100, 11, {1, 0, 0, 3, 1}, 1},
    {"16ch k11 d5 T1", 2, 16, 16, 1, 11, {1, 25, 25, 5, 1}, 1},
    {"16ch k3 T7", 3, 16, 16, 7, 3, {1, 1, 1, 1, 1}, 0},
    {"9->13 k5 left pad only", 1, 9, 13, 333, 5, {1, 4, 0, 1, 1}, 1},
    {"pad past the kernel", 2, 5, 7, 40, 3, {1, 10, 7, 1, 1}, 1},
    {"16->1 k7", 2, 16, 1, 1003, 7, {1, 3, 3, 1, 1}, 1},
    {"1->16 k7", 1, 1, 16, 999, 7, {1, 3, 3, 1, 1}, 0},
    {"64ch k11 d5 T60", 2, 64, 64, 60, 11, {1, 25, 25, 5, 1}, 1},
    {"5->7 k3 d3 long", 1, 5, 7, 5000, 3, {1, 3, 3, 3, 1}, 1},
    {"70->19 k1", 2, 70, 19, 301, 1, {1, 0, 0, 1, 1}, 1},
    {"dilation past the row", 2, 16, 16, 50, 3, {1, 100, 100, 100, 1}, 1},
    {"24ch k3 d400 T1000", 1, 24, 24, 1000, 3, {1, 400, 400, 400, 1}, 1},
    {"40ch k5 d37 T333", 2, 40, 40, 333, 5, {1, 70, 80, 37, 1}, 0},
};

static inputs direct_inputs(const direct_case *dc)
{
    inputs s = {3, {3, 3, 1}, {{dc->B, dc->Cin, dc->T}, {dc->Cout, dc->Cin, dc->K}, {dc->Cout}}, -1, 1};
    return s;
}

/* Largest difference of two paths' outputs relative to 1 + the largest
 * |gemm| value; infinite when one failed or their sizes differ, NaN-aware. */
static double path_diff(const float *gemm, int64_t n1, const float *direct, int64_t n2)
{
    double m = gemm && direct && n1 == n2 ? 0 : INFINITY, scale = 0;
    for (int64_t k = 0; gemm && direct && n1 == n2 && k < n1; k++) {
        double d = fabs((double)gemm[k] - direct[k]);
        m = d > m || d != d ? d : m;
        scale = fabs(gemm[k]) > scale ? fabs(gemm[k]) : scale;
    }
    return m / (1 + scale);
}

/* Builds g (output y), sets its n_in inputs, computes it and returns y's
 * values (*n of them); NULL on failure, named.  Frees g. */
static float *run_and_free(jc_graph *g, jc_tensor **in, int n_in, float **data, jc_tensor *y, int64_t *n,
                           const char *name)
{
    jc_error err = {0};
    float *out = NULL;
    jc_status st = y ? JC_OK : jc_error_set(&err, JC_ERR_INVALID, "no output");
    if (st == JC_OK) {
        jc_graph_output(g, y);
        st = jc_graph_build(g, &err);
    }
    for (int i = 0; st == JC_OK && i < n_in; i++)
        st = jc_tensor_set(in[i], data[i], &err);
    if (st == JC_OK)
        st = jc_graph_compute(g, &err);
    if (st == JC_OK) {
        *n = jc_tensor_nelem(y);
        out = malloc((size_t)*n * sizeof *out);
        if (jc_tensor_get(y, out, &err) != JC_OK) {
            free(out);
            out = NULL;
        }
    } else {
        tap_diag("%s: %s", name, err.msg);
    }
    jc_graph_free(g);
    return out;
}

/* y of one case on backend b, from the given inputs; NULL on failure. */
static float *run_direct_case(jc_backend *b, const direct_case *dc, float **data, int64_t *n)
{
    jc_graph *g = jc_graph_new(b);
    inputs s = direct_inputs(dc);
    jc_tensor *in[3];
    for (int i = 0; i < 3; i++)
        in[i] = jc_input(g, "in", s.ndim[i], s.shape[i]);
    jc_tensor *y = jc_conv1d(g, in[0], in[1], dc->bias ? in[2] : NULL, dc->p);
    return run_and_free(g, in, 3, data, y, n, dc->name);
}

static void test_conv_direct(void)
{
    static const char *isas[] = {NULL, "avx2", "generic"};
    const char *isa0 = getenv("JC_GEMM_ISA"), *conv0 = getenv("JC_CONV");
    size_t nc = sizeof direct_cases / sizeof direct_cases[0];
    for (size_t i = 0; i < nc; i++) {
        const direct_case *dc = &direct_cases[i];
        conv_ctx c = {dc->p, dc->bias, 0};
        inputs s = direct_inputs(dc);
        char name[128];
        setenv("JC_CONV", "direct", 1);
        for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
            if (isas[k])
                setenv("JC_GEMM_ISA", isas[k], 1);
            snprintf(name, sizeof name, "conv1d direct %s%s%s", dc->name, isas[k] ? " isa=" : "",
                     isas[k] ? isas[k] : "");
            check(name, &s, build_conv, ref_conv, &c, 1e-5);
            if (isa0)
                setenv("JC_GEMM_ISA", isa0, 1);
            else
                unsetenv("JC_GEMM_ISA");
        }
        unsetenv("JC_CONV");
        snprintf(name, sizeof name, "conv1d default path %s", dc->name);
        check(name, &s, build_conv, ref_conv, &c, 1e-5);
    }
    /* the two paths against each other, on the same inputs */
    for (size_t i = 0; i < nc; i++) {
        const direct_case *dc = &direct_cases[i];
        inputs s = direct_inputs(dc);
        float *data[3];
        for (int k = 0; k < 3; k++)
            data[k] = tu_random(&rng, tu_numel(s.ndim[k], s.shape[k]), -1, 1);
        int64_t n1 = 0, n2 = 0;
        setenv("JC_CONV", "gemm", 1);
        float *yg = run_direct_case(be, dc, data, &n1);
        setenv("JC_CONV", "direct", 1);
        float *yd = run_direct_case(be, dc, data, &n2);
        double rel = path_diff(yg, n1, yd, n2);
        tap_ok(rel <= 1e-5, "conv1d direct vs im2col+GEMM %s (rel diff %.2e)", dc->name, rel);
        free(yg);
        free(yd);
        for (int k = 0; k < 3; k++)
            free(data[k]);
    }
    /* the direct path gives the same bits whatever the thread count */
    if (!getenv("JC_TEST_BACKEND") || !strcmp(getenv("JC_TEST_BACKEND"), "cpu")) {
        jc_error err = {0};
        jc_backend *b1 = jc_backend_open("cpu", "threads=1", &err), *b3 = jc_backend_open("cpu", "threads=3", &err);
        setenv("JC_CONV", "direct", 1);
        for (size_t i = 0; b1 && b3 && i < nc; i++) {
            const direct_case *dc = &direct_cases[i];
            inputs s = direct_inputs(dc);
            float *data[3];
            for (int k = 0; k < 3; k++)
                data[k] = tu_random(&rng, tu_numel(s.ndim[k], s.shape[k]), -1, 1);
            int64_t n1 = 0, n3 = 0;
            float *y1 = run_direct_case(b1, dc, data, &n1), *y3 = run_direct_case(b3, dc, data, &n3);
            tap_ok(y1 && y3 && n1 == n3 && !memcmp(y1, y3, (size_t)n1 * sizeof *y1),
                   "conv1d direct %s: 1 and 3 threads give identical results", dc->name);
            free(y1);
            free(y3);
            for (int k = 0; k < 3; k++)
                free(data[k]);
        }
        jc_backend_free(b1);
        jc_backend_free(b3);
    }
    if (conv0)
        setenv("JC_CONV", conv0, 1);
    else
        unsetenv("JC_CONV");
}

/* The weight gradient dw[co, ci, k] = sum_{b,t} dy[b, co, t] x[b, ci, t - pad_l + k dil]
 * of stride-1 single-group convolutions has a direct CPU kernel too
 * (k_conv_direct_dw.c): every ISA's kernel against a plain loop, against the
 * im2col + GEMM path, and for the same bits at any thread count.  Lengths
 * are odd (tails shorter than a vector), pads cross both edges or reach past
 * the input, and rows span several chunks. */
typedef struct {
    const char *name;
    int B, Cin, Cout, T, K;
    jc_conv_params p;
} dw_case;

static const dw_case dw_cases[] = {
    {"12ch k3 d1 T1001 B3", 3, 12, 12, 1001, 3, {1, 1, 1, 1, 1}},
    {"12ch k7 d3 T1237", 1, 12, 12, 1237, 7, {1, 9, 9, 3, 1}},
    {"12ch k11 d5 T1501 B3", 3, 12, 12, 1501, 11, {1, 25, 25, 5, 1}},
    {"12ch k11 d5 T20011 many chunks", 1, 12, 12, 20011, 11, {1, 25, 25, 5, 1}},
    {"17->3 k11 d4 asym pad", 1, 17, 3, 777, 11, {1, 7, 33, 4, 1}},
    {"3->17 k7 d2 left pad only", 3, 3, 17, 333, 7, {1, 12, 0, 2, 1}},
    {"1->12 k3 d5", 1, 1, 12, 999, 3, {1, 5, 5, 5, 1}},
    {"12->1 k7 d1 B3", 3, 12, 1, 1003, 7, {1, 3, 3, 1, 1}},
    {"1->1 k1 T37 B3", 3, 1, 1, 37, 1, {1, 0, 0, 1, 1}},
    {"17ch k1 T301", 1, 17, 17, 301, 1, {1, 0, 0, 1, 1}},
    {"17ch k3 d2 right pad B3", 3, 17, 17, 129, 3, {1, 0, 4, 2, 1}},
    {"17->12 k7 d5 no pad", 1, 17, 12, 2000, 7, {1, 0, 0, 5, 1}},
    {"3ch k11 d3 T5 pad past the row", 1, 3, 3, 5, 11, {1, 15, 15, 3, 1}},
    {"12ch k3 T7 pad past the kernel B3", 3, 12, 12, 7, 3, {1, 10, 7, 1, 1}},
    {"12ch k11 d5 T1 B3", 3, 12, 12, 1, 11, {1, 25, 25, 5, 1}},
    {"12ch k3 d400 T1000", 1, 12, 12, 1000, 3, {1, 400, 400, 400, 1}},
    {"24ch k5 d1 T4099 B3", 3, 24, 24, 4099, 5, {1, 2, 2, 1, 1}},
    {"97->99 k7 d2 T4501 (threads split channels)", 1, 97, 99, 4501, 7, {1, 6, 6, 2, 1}},
};

static int64_t dw_tout(const dw_case *dc)
{
    return dc->T + dc->p.pad_left + dc->p.pad_right - (int64_t)dc->p.dilation * (dc->K - 1);
}

static inputs dw_inputs(const dw_case *dc)
{
    inputs s = {2, {3, 3}, {{dc->B, dc->Cin, dc->T}, {dc->B, dc->Cout, dw_tout(dc)}}, -1, 1};
    return s;
}

static jc_tensor *build_dw(jc_graph *g, jc_tensor **in, const void *c)
{
    const dw_case *dc = c;
    return jc_conv1d_bwd_weight(g, in[0], in[1], dc->p, dc->K);
}

static void ref_dw(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)s;
    (void)y;
    const dw_case *dc = c;
    int64_t tout = dw_tout(dc);
    for (int co = 0; co < dc->Cout; co++)
        for (int ci = 0; ci < dc->Cin; ci++)
            for (int k = 0; k < dc->K; k++) {
                double acc = 0;
                for (int b = 0; b < dc->B; b++)
                    for (int64_t t = 0; t < tout; t++) {
                        int64_t ti = t - dc->p.pad_left + (int64_t)k * dc->p.dilation;
                        if (ti >= 0 && ti < dc->T)
                            acc += (double)in[1][((int64_t)b * dc->Cout + co) * tout + t] *
                                   in[0][((int64_t)b * dc->Cin + ci) * dc->T + ti];
                    }
                out[((int64_t)co * dc->Cin + ci) * dc->K + k] = acc;
            }
}

/* dw of one case on backend b from the given inputs; NULL on failure. */
static float *run_dw_case(jc_backend *b, const dw_case *dc, float **data, int64_t *n)
{
    jc_graph *g = jc_graph_new(b);
    inputs s = dw_inputs(dc);
    jc_tensor *in[2];
    for (int i = 0; i < 2; i++)
        in[i] = jc_input(g, "in", s.ndim[i], s.shape[i]);
    jc_tensor *y = build_dw(g, in, dc);
    return run_and_free(g, in, 2, data, y, n, dc->name);
}

static void restore_env(const char *name, const char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

/* Too long for the double-precision reference loop (~1e9 terms), so only
 * against the GEMM path and across thread counts: chunks long enough that
 * several share one slot of partial sums, with fewer than 64 output
 * channels. */
static const dw_case dw_long_cases[] = {
    {"64->60 k11 d1 T25601 (chunks share slots)", 1, 64, 60, 25601, 11, {1, 5, 5, 1, 1}},
};

/* JC_CONV=gemm against JC_CONV=direct on the same inputs. */
static void dw_vs_gemm(const dw_case *dc)
{
    inputs s = dw_inputs(dc);
    float *data[2];
    for (int k = 0; k < 2; k++)
        data[k] = tu_random(&rng, tu_numel(s.ndim[k], s.shape[k]), -1, 1);
    int64_t n1 = 0, n2 = 0;
    setenv("JC_CONV", "gemm", 1);
    float *yg = run_dw_case(be, dc, data, &n1);
    setenv("JC_CONV", "direct", 1);
    float *yd = run_dw_case(be, dc, data, &n2);
    double rel = path_diff(yg, n1, yd, n2);
    tap_ok(rel <= 1e-5, "conv1d dw direct vs im2col+GEMM %s (rel diff %.2e)", dc->name, rel);
    free(yg);
    free(yd);
    for (int k = 0; k < 2; k++)
        free(data[k]);
}

/* The same bits from the backends in bt (1, 2 and 3 threads). */
static void dw_threads(const dw_case *dc, jc_backend **bt, const char *isa)
{
    inputs s = dw_inputs(dc);
    float *data[2];
    for (int d = 0; d < 2; d++)
        data[d] = tu_random(&rng, tu_numel(s.ndim[d], s.shape[d]), -1, 1);
    int64_t n[3] = {0, 0, 0};
    float *y[3];
    for (int t = 0; t < 3; t++)
        y[t] = run_dw_case(bt[t], dc, data, &n[t]);
    int same = y[0] && y[1] && y[2] && n[0] == n[1] && n[0] == n[2] &&
               !memcmp(y[0], y[1], (size_t)n[0] * sizeof *y[0]) && !memcmp(y[0], y[2], (size_t)n[0] * sizeof *y[0]);
    tap_ok(same, "conv1d dw direct %s%s%s: 1, 2 and 3 threads give identical results", dc->name, isa ? " isa=" : "",
           isa ? isa : "");
    for (int t = 0; t < 3; t++)
        free(y[t]);
    for (int d = 0; d < 2; d++)
        free(data[d]);
}

static void test_conv_direct_dw(void)
{
    static const char *isas[] = {NULL, "avx2", "generic"};
    const char *isa0 = getenv("JC_GEMM_ISA"), *conv0 = getenv("JC_CONV");
    size_t nc = sizeof dw_cases / sizeof dw_cases[0], nl = sizeof dw_long_cases / sizeof dw_long_cases[0];
    char name[128];
    for (size_t i = 0; i < nc; i++) {
        const dw_case *dc = &dw_cases[i];
        inputs s = dw_inputs(dc);
        setenv("JC_CONV", "direct", 1);
        for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
            if (isas[k])
                setenv("JC_GEMM_ISA", isas[k], 1);
            snprintf(name, sizeof name, "conv1d dw direct %s%s%s", dc->name, isas[k] ? " isa=" : "",
                     isas[k] ? isas[k] : "");
            check(name, &s, build_dw, ref_dw, dc, 1e-5);
            restore_env("JC_GEMM_ISA", isa0);
        }
        unsetenv("JC_CONV");
        snprintf(name, sizeof name, "conv1d dw default path %s", dc->name);
        check(name, &s, build_dw, ref_dw, dc, 1e-5);
    }
    for (size_t i = 0; i < nc + nl; i++)
        dw_vs_gemm(i < nc ? &dw_cases[i] : &dw_long_cases[i - nc]);
    /* the chunking depends on the shape only: same bits for every thread
     * count, with every ISA's kernel */
    if (!getenv("JC_TEST_BACKEND") || !strcmp(getenv("JC_TEST_BACKEND"), "cpu")) {
        jc_error err = {0};
        jc_backend *bt[3] = {jc_backend_open("cpu", "threads=1", &err), jc_backend_open("cpu", "threads=2", &err),
                             jc_backend_open("cpu", "threads=3", &err)};
        setenv("JC_CONV", "direct", 1);
        for (size_t k = 0; bt[0] && bt[1] && bt[2] && k < sizeof isas / sizeof isas[0]; k++) {
            if (isas[k])
                setenv("JC_GEMM_ISA", isas[k], 1);
            for (size_t i = 0; i < nc + nl; i++)
                dw_threads(i < nc ? &dw_cases[i] : &dw_long_cases[i - nc], bt, isas[k]);
            restore_env("JC_GEMM_ISA", isa0);
        }
        for (int t = 0; t < 3; t++)
            jc_backend_free(bt[t]);
    }
    restore_env("JC_CONV", conv0);
}

static jc_tensor *build_conv2d(jc_graph *g, jc_tensor **in, const void *c)
{
    (void)c;
    return jc_conv2d_k1(g, in[0], in[1], in[2], (jc_conv_params){3, 2, 2, 1, 1});
}

static void ref_conv2d(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)c;
    int64_t B = s->shape[0][0], C = s->shape[0][1], H = s->shape[0][2], W = s->shape[0][3];
    int64_t Co = s->shape[1][0], K = s->shape[1][2], Ho = jc_tensor_dim(y, 2);
    for (int64_t b = 0; b < B; b++)
        for (int64_t co = 0; co < Co; co++)
            for (int64_t h = 0; h < Ho; h++)
                for (int64_t w = 0; w < W; w++) {
                    double acc = in[2][co];
                    for (int64_t ci = 0; ci < C; ci++)
                        for (int64_t k = 0; k < K; k++) {
                            int64_t hi = h * 3 - 2 + k;
                            if (hi >= 0 && hi < H)
                                acc += (double)in[1][(co * C + ci) * K + k] * in[0][((b * C + ci) * H + hi) * W + w];
                        }
                    out[((b * Co + co) * Ho + h) * W + w] = acc;
                }
}

/* ------------------------------------------------- elementwise and unary */

typedef struct {
    int kind; /* index into the table below */
} bin_ctx;

static jc_tensor *(*const bin_ops[])(jc_graph *, jc_tensor *, jc_tensor *) = {jc_add, jc_sub, jc_mul, jc_div,
                                                                             jc_minimum, jc_maximum};
static const char *const bin_names[] = {"add", "sub", "mul", "div", "minimum", "maximum"};

static jc_tensor *build_bin(jc_graph *g, jc_tensor **in, const void *c)
{
    return bin_ops[((const bin_ctx *)c)->kind](g, in[0], in[1]);
}

static double bin_ref(int kind, double a, double b)
{
    switch (kind) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return a < b ? a : b;
    default: return a > b ? a : b;
    }
}

/* numpy broadcasting index of output element i in an input of rank nd */
static int64_t bcast_index(int64_t i, const jc_tensor *y, int nd, const int64_t *shape)
{
    int64_t idx = 0, stride = 1;
    for (int ax = jc_tensor_ndim(y) - 1, ai = nd - 1; ax >= 0; ax--, ai--) {
        int64_t coord = i % jc_tensor_dim(y, ax);
        i /= jc_tensor_dim(y, ax);
        if (ai >= 0) {
            if (shape[ai] != 1)
                idx += coord * stride;
            stride *= shape[ai];
        }
    }
    return idx;
}

static void ref_bin(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    int kind = ((const bin_ctx *)c)->kind;
    for (int64_t i = 0; i < jc_tensor_nelem(y); i++)
        out[i] = bin_ref(kind, in[0][bcast_index(i, y, s->ndim[0], s->shape[0])],
                         in[1][bcast_index(i, y, s->ndim[1], s->shape[1])]);
}

static void test_binary(void)
{
    inputs shapes[] = {
        {2, {3, 3}, {{2, 3, 5}, {2, 3, 5}}, 0.5f, 2},
        {2, {3, 2}, {{4, 1, 7}, {3, 1}}, 0.5f, 2},
        {2, {1, 4}, {{1}, {2, 3, 1, 5}}, 0.5f, 2},
        {2, {4, 3}, {{2, 3, 4, 5}, {3, 1, 5}}, 0.5f, 2},
    };
    for (int k = 0; k < 6; k++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            bin_ctx c = {k};
            char name[64];
            snprintf(name, sizeof name, "%s broadcast case %zu", bin_names[k], si);
            check(name, &shapes[si], build_bin, ref_bin, &c, 1e-6);
        }
}

typedef struct {
    const char *name;
    jc_tensor *(*op)(jc_graph *, jc_tensor *);
    double (*ref)(double);
    float lo, hi;
} unary_case;

static double r_sqr(double x) { return x * x; }
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_softplus(double x) { return x > 20 ? x : log1p(exp(x)); }
static double r_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double r_silu(double x) { return x / (1 + exp(-x)); }
static double r_recip(double x) { return 1 / x; }
static jc_tensor *leaky(jc_graph *g, jc_tensor *a) { return jc_leaky_relu(g, a, 0.1f); }
static double r_leaky(double x) { return x > 0 ? x : 0.1 * x; }
static jc_tensor *clampf(jc_graph *g, jc_tensor *a) { return jc_clamp(g, a, -0.5f, 0.7f); }
static double r_clamp(double x) { return x < -0.5 ? -0.5 : (x > 0.7 ? 0.7 : x); }
static jc_tensor *scale_op(jc_graph *g, jc_tensor *a) { return jc_scale(g, a, -1.5f, 0.25f); }
static double r_scale(double x) { return -1.5 * x + 0.25; }
static jc_tensor *stopg(jc_graph *g, jc_tensor *a) { return jc_stop_gradient(g, a); }
static double r_ident(double x) { return x; }

static const unary_case unary_cases[] = {
    {"exp", jc_exp, exp, -3, 3},          {"log", jc_log, log, 0.01f, 5},
    {"sin", jc_sin, sin, -6, 6},          {"cos", jc_cos, cos, -6, 6},
    {"sqr", jc_sqr, r_sqr, -3, 3},        {"sqrt", jc_sqrt, sqrt, 0, 9},
    {"abs", jc_abs, fabs, -3, 3},         {"tanh", jc_tanh, tanh, -4, 4},
    {"sigmoid", jc_sigmoid, r_sigmoid, -30, 30}, {"softplus", jc_softplus, r_softplus, -30, 30},
    {"gelu", jc_gelu, r_gelu, -5, 5},     {"silu", jc_silu, r_silu, -8, 8},
    {"leaky_relu", leaky, r_leaky, -3, 3}, {"clamp", clampf, r_clamp, -2, 2},
    {"reciprocal", jc_reciprocal, r_recip, 0.2f, 4}, {"scale", scale_op, r_scale, -3, 3},
    {"stop_gradient", stopg, r_ident, -3, 3},
};

static jc_tensor *build_unary(jc_graph *g, jc_tensor **in, const void *c)
{
    return ((const unary_case *)c)->op(g, in[0]);
}

static void ref_unary(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)s;
    for (int64_t i = 0; i < jc_tensor_nelem(y); i++)
        out[i] = ((const unary_case *)c)->ref(in[0][i]);
}

static void test_unary(void)
{
    for (size_t i = 0; i < sizeof unary_cases / sizeof unary_cases[0]; i++) {
        inputs s = {1, {3}, {{3, 17, 29}}, unary_cases[i].lo, unary_cases[i].hi};
        check(unary_cases[i].name, &s, build_unary, ref_unary, &unary_cases[i], 2e-6);
    }
}

/* ------------------------------------------------------------ reductions */

typedef struct {
    int which; /* 0 sum 1 mean 2 var 3 max 4 logsumexp 5 softmax 6 softmax masked */
    int axis;
} red_ctx;

static jc_tensor *build_red(jc_graph *g, jc_tensor **in, const void *c)
{
    const red_ctx *r = c;
    switch (r->which) {
    case 0: return jc_sum(g, in[0], r->axis);
    case 1: return jc_mean(g, in[0], r->axis);
    case 2: return jc_var(g, in[0], r->axis);
    case 3: return jc_max(g, in[0], r->axis);
    case 4: return jc_logsumexp(g, in[0], r->axis);
    case 5: return jc_softmax(g, in[0], r->axis, NULL);
    default: return jc_softmax(g, in[0], r->axis, in[1]);
    }
}

static void ref_red(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)y;
    const red_ctx *r = c;
    int nd = s->ndim[0];
    int ax = r->axis < 0 ? r->axis + nd : r->axis;
    int64_t outer = 1, inner = 1, n = s->shape[0][ax];
    for (int i = 0; i < ax; i++)
        outer *= s->shape[0][i];
    for (int i = ax + 1; i < nd; i++)
        inner *= s->shape[0][i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *x = in[0] + o * n * inner + i;
            double sum = 0, sq = 0, mx = -INFINITY;
            for (int64_t k = 0; k < n; k++) {
                sum += x[k * inner];
                if (x[k * inner] > mx)
                    mx = x[k * inner];
            }
            double mean = sum / n, lse = 0;
            for (int64_t k = 0; k < n; k++) {
                sq += (x[k * inner] - mean) * (x[k * inner] - mean);
                lse += exp(x[k * inner] - mx);
            }
            double vals[5] = {sum, mean, sq / n, mx, mx + log(lse)};
            if (r->which < 5) {
                out[o * inner + i] = vals[r->which];
                continue;
            }
            /* softmax, masked entries (mask broadcast over outer) excluded */
            double z = 0;
            for (int64_t k = 0; k < n; k++) {
                int keep = r->which == 5 || in[1][k * inner + i] > 0.5f;
                z += keep ? exp(x[k * inner] - mx) : 0;
            }
            for (int64_t k = 0; k < n; k++) {
                int keep = r->which == 5 || in[1][k * inner + i] > 0.5f;
                out[(o * n + k) * inner + i] = keep ? exp(x[k * inner] - mx) / z : 0;
            }
        }
}

static void test_reductions(void)
{
    static const char *names[] = {"sum", "mean", "var", "max", "logsumexp", "softmax"};
    for (int w = 0; w < 6; w++)
        for (int axis = -3; axis < 3; axis += 2) {
            red_ctx c = {w, axis};
            inputs s = {1, {3}, {{5, 7, 9}}, -3, 3};
            char name[64];
            snprintf(name, sizeof name, "%s axis %d", names[w], axis);
            check(name, &s, build_red, ref_red, &c, 2e-6);
        }
}

/* --------------------------------------------------------- normalisation */

static jc_tensor *build_ln(jc_graph *g, jc_tensor **in, const void *c)
{
    (void)c;
    return jc_layer_norm(g, in[0], in[1], in[2], 1e-5f);
}

static void ref_ln(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)c;
    (void)y;
    int64_t C = s->shape[0][s->ndim[0] - 1], rows = tu_numel(s->ndim[0], s->shape[0]) / C;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in[0] + r * C;
        double m = 0, v = 0;
        for (int64_t k = 0; k < C; k++)
            m += x[k];
        m /= C;
        for (int64_t k = 0; k < C; k++)
            v += (x[k] - m) * (x[k] - m);
        v /= C;
        for (int64_t k = 0; k < C; k++)
            out[r * C + k] = (x[k] - m) / sqrt(v + 1e-5) * in[1][k] + in[2][k];
    }
}

typedef struct {
    int masked;
} gn_ctx;

static jc_tensor *build_gn(jc_graph *g, jc_tensor **in, const void *c)
{
    const gn_ctx *gc = c;
    return jc_group_norm1(g, in[0], gc->masked ? in[3] : NULL, in[1], in[2], 1e-5f);
}

static void ref_gn(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)y;
    const gn_ctx *gc = c;
    int64_t B = s->shape[0][0], C = s->shape[0][1], T = s->shape[0][2];
    for (int64_t b = 0; b < B; b++) {
        double m = 0, v = 0, cnt = 0;
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t t = 0; t < T; t++)
                if (!gc->masked || in[3][b * T + t] > 0.5f) {
                    m += in[0][(b * C + ch) * T + t];
                    cnt++;
                }
        m /= cnt;
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t t = 0; t < T; t++)
                if (!gc->masked || in[3][b * T + t] > 0.5f)
                    v += (in[0][(b * C + ch) * T + t] - m) * (in[0][(b * C + ch) * T + t] - m);
        v /= cnt;
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t t = 0; t < T; t++) {
                int keep = !gc->masked || in[3][b * T + t] > 0.5f;
                double xh = (in[0][(b * C + ch) * T + t] - m) / sqrt(v + 1e-5);
                out[(b * C + ch) * T + t] = keep ? xh * in[1][ch] + in[2][ch] : 0;
            }
    }
}

/* A mask input drawn in [0,1] is binarised by the reference at 0.5; the
 * graph needs exact 0/1, so masks go through this rounding builder. */
static jc_tensor *binarise(jc_graph *g, jc_tensor *m)
{
    return jc_fsq_index(g, jc_scale(g, m, 2, -1), jc_scalar_constant(g, 2));
}

static jc_tensor *build_gn_masked(jc_graph *g, jc_tensor **in, const void *c)
{
    (void)c;
    return jc_group_norm1(g, in[0], binarise(g, in[3]), in[1], in[2], 1e-5f);
}

static jc_tensor *build_softmax_masked(jc_graph *g, jc_tensor **in, const void *c)
{
    (void)c;
    return jc_softmax(g, in[0], 1, binarise(g, in[1]));
}

static jc_tensor *build_glu(jc_graph *g, jc_tensor **in, const void *c)
{
    (void)c;
    return jc_glu(g, in[0], 1);
}

static void ref_glu(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)c;
    (void)y;
    int64_t B = s->shape[0][0], C = s->shape[0][1] / 2, T = s->shape[0][2];
    for (int64_t b = 0; b < B; b++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t t = 0; t < T; t++)
                out[(b * C + ch) * T + t] = in[0][(b * 2 * C + ch) * T + t] /
                                            (1 + exp(-(double)in[0][(b * 2 * C + C + ch) * T + t]));
}

static void test_norms(void)
{
    inputs s = {3, {3, 1, 1}, {{2, 5, 11}, {11}, {11}}, -2, 2};
    check("layer_norm", &s, build_ln, ref_ln, NULL, 2e-5);
    gn_ctx plain = {0};
    inputs gs = {4, {3, 1, 1, 3}, {{3, 5, 17}, {5}, {5}, {3, 1, 17}}, -2, 2};
    check("group_norm1", &gs, build_gn, ref_gn, &plain, 2e-5);
    gn_ctx masked = {1};
    gs.lo = 0;
    gs.hi = 1;
    check("group_norm1 masked", &gs, build_gn_masked, ref_gn, &masked, 2e-5);
    red_ctx c = {6, 1};
    inputs ms = {2, {3, 2}, {{5, 7, 3}, {7, 3}}, 0.0f, 1.0f};
    check("softmax masked binarised", &ms, build_softmax_masked, ref_red, &c, 2e-6);
    inputs gl = {1, {3}, {{2, 8, 9}}, -3, 3};
    check("glu", &gl, build_glu, ref_glu, NULL, 2e-6);
}

/* ---------------------------------------------------------------- layout */

typedef struct {
    int which;
} lay_ctx;

static jc_tensor *build_layout(jc_graph *g, jc_tensor **in, const void *c)
{
    switch (((const lay_ctx *)c)->which) {
    case 0: return jc_pad(g, in[0], 2, 3, 4, JC_PAD_ZERO);
    case 1: return jc_pad(g, in[0], -1, 4, 5, JC_PAD_REFLECT);
    case 2: return jc_slice(g, in[0], 1, 2, 3);
    case 3: return jc_concat(g, in[0], in[1], 1);
    case 4: return jc_permute(g, in[0], (int[]){2, 0, 1});
    case 5: return jc_transpose(g, in[0], 0, 2);
    case 6: return jc_expand(g, jc_slice(g, in[0], 1, 1, 1), 4, (int64_t[]){2, 3, 5, 7});
    case 7: return jc_reshape(g, in[0], 2, (int64_t[]){15, 7});
    default: return jc_pad(g, in[0], 1, 2, 1, JC_PAD_REFLECT);
    }
}

static void ref_layout(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    int which = ((const lay_ctx *)c)->which;
    /* input [3, 5, 7] (second input [3, 2, 7] for concat) */
    (void)s;
    int64_t n = jc_tensor_nelem(y);
    for (int64_t i = 0; i < n; i++) {
        int64_t d2 = jc_tensor_dim(y, -1), d1 = jc_tensor_dim(y, -2);
        int64_t k = i % d2, j = (i / d2) % d1, a = i / (d2 * d1);
        double v = 0;
        switch (which) {
        case 0: v = (k >= 3 && k < 10) ? in[0][(a * 5 + j) * 7 + k - 3] : 0; break;
        case 1: {
            int64_t p = k - 4;
            if (p < 0) p = -p;
            if (p > 6) p = 12 - p;
            v = in[0][(a * 5 + j) * 7 + p];
            break;
        }
        case 2: v = in[0][(a * 5 + j + 2) * 7 + k]; break;
        case 3: v = j < 5 ? in[0][(a * 5 + j) * 7 + k] : in[1][(a * 2 + j - 5) * 7 + k]; break;
        case 4: v = in[0][(j * 5 + k) * 7 + a]; break;         /* y[a,j,k] = x[j,k,a] */
        case 5: v = in[0][(k * 5 + j) * 7 + a]; break;         /* y[a,j,k] = x[k,j,a] */
        case 6: v = in[0][((i / (5 * 7)) % 3 * 5 + 1) * 7 + k]; break; /* x[:,1:2,:] broadcast */
        case 7: v = in[0][i]; break;
        default: {
            int64_t p = j - 2;
            if (p < 0) p = -p;
            if (p > 4) p = 8 - p;
            v = in[0][(a * 5 + p) * 7 + k];
            break;
        }
        }
        out[i] = v;
    }
}

static void test_layout(void)
{
    static const char *names[] = {"pad zero", "pad reflect last axis", "slice", "concat", "permute",
                                  "transpose", "expand", "reshape", "pad reflect middle axis"};
    for (int w = 0; w < 9; w++) {
        lay_ctx c = {w};
        inputs s = {2, {3, 3}, {{3, 5, 7}, {3, 2, 7}}, -1, 1};
        check(names[w], &s, build_layout, ref_layout, &c, 0);
    }
}

/* ------------------------------------------------- pooling, STFT, losses */

static jc_tensor *build_pool(jc_graph *g, jc_tensor **in, const void *c)
{
    (void)c;
    return jc_avg_pool1d(g, in[0], 4, 2, 2);
}

static void ref_pool(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)c;
    int64_t rows = s->shape[0][0] * s->shape[0][1], T = s->shape[0][2], To = jc_tensor_dim(y, 2);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t t = 0; t < To; t++) {
            double acc = 0;
            for (int k = 0; k < 4; k++) {
                int64_t ti = t * 2 - 2 + k;
                if (ti >= 0 && ti < T)
                    acc += in[0][r * T + ti];
            }
            out[r * To + t] = acc / 4; /* padding counts as zeros */
        }
}

typedef struct {
    int n_fft, hop;
} stft_ctx;

static jc_tensor *build_stft(jc_graph *g, jc_tensor **in, const void *c)
{
    const stft_ctx *sc = c;
    return jc_stft_magnitude(g, in[0], sc->n_fft, sc->hop);
}

static void ref_stft(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    const stft_ctx *sc = c;
    int64_t B = s->shape[0][0], T = s->shape[0][1], F = jc_tensor_dim(y, 1), bins = sc->n_fft / 2 + 1;
    int half = sc->n_fft / 2;
    for (int64_t b = 0; b < B; b++)
        for (int64_t f = 0; f < F; f++)
            for (int64_t k = 0; k < bins; k++) {
                double re = 0, im = 0;
                for (int n = 0; n < sc->n_fft; n++) {
                    int64_t p = f * sc->hop + n - half; /* reflect padding */
                    if (p < 0) p = -p;
                    if (p >= T) p = 2 * (T - 1) - p;
                    double w = 0.5 - 0.5 * cos(2 * M_PI * n / sc->n_fft);
                    double ang = 2 * M_PI * (double)k * n / sc->n_fft;
                    re += w * in[0][b * T + p] * cos(ang);
                    im -= w * in[0][b * T + p] * sin(ang);
                }
                out[(b * F + f) * bins + k] = sqrt(re * re + im * im + 1e-9);
            }
}

/* The real DFT and its transpose against the sums that define them, in
 * double with exact angles; 15 rows (not a multiple of the CPU kernel's
 * four lanes), N from 2 to 2048. */
typedef struct {
    int n, adjoint;
} dft_ctx;

static jc_tensor *build_dft(jc_graph *g, jc_tensor **in, const void *c)
{
    const dft_ctx *d = c;
    return d->adjoint ? jc_rdft_adjoint(g, in[0]) : jc_rdft(g, in[0]);
}

static void ref_dft(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)s;
    (void)y;
    const dft_ctx *d = c;
    int64_t n = d->n, bins = n / 2 + 1;
    double *cs = malloc((size_t)n * 2 * sizeof *cs);
    for (int64_t q = 0; q < n; q++) {
        cs[2 * q] = cos(2 * M_PI * (double)q / (double)n);
        cs[2 * q + 1] = sin(2 * M_PI * (double)q / (double)n);
    }
    for (int64_t r = 0; r < 15; r++) {
        const float *x = in[0] + r * (d->adjoint ? 2 * bins : n);
        double *o = out + r * (d->adjoint ? n : 2 * bins);
        if (!d->adjoint)
            for (int64_t k = 0; k < bins; k++) {
                double re = 0, im = 0;
                for (int64_t t = 0; t < n; t++) {
                    int64_t q = (k * t) % n;
                    re += x[t] * cs[2 * q];
                    im -= x[t] * cs[2 * q + 1];
                }
                o[k] = re;
                o[bins + k] = im;
            }
        else
            for (int64_t t = 0; t < n; t++) {
                double acc = 0;
                for (int64_t k = 0; k < bins; k++) {
                    int64_t q = (k * t) % n;
                    acc += x[k] * cs[2 * q] - x[bins + k] * cs[2 * q + 1];
                }
                o[t] = acc;
            }
    }
    free(cs);
}

static void test_dft(void)
{
    static const int sizes[] = {2, 4, 8, 64, 2048};
    for (int i = 0; i < 5; i++)
        for (int adjoint = 0; adjoint < 2; adjoint++) {
            dft_ctx d = {sizes[i], adjoint};
            inputs ds = {1, {3}, {{3, 5, adjoint ? sizes[i] + 2 : sizes[i]}}, -1, 1};
            char name[64];
            snprintf(name, sizeof name, "%s N %d [3, 5, %d]", adjoint ? "rdft_adjoint" : "rdft", sizes[i],
                     (int)ds.shape[0][2]);
            check(name, &ds, build_dft, ref_dft, &d, 1e-6);
        }
}

typedef struct {
    int mse, masked;
} loss_ctx;

static jc_tensor *build_loss(jc_graph *g, jc_tensor **in, const void *c)
{
    const loss_ctx *l = c;
    jc_tensor *mask = l->masked ? binarise(g, in[2]) : NULL;
    return l->mse ? jc_mse_loss(g, in[0], in[1], mask) : jc_l1_loss(g, in[0], in[1], mask);
}

static void ref_loss(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)y;
    const loss_ctx *l = c;
    int64_t n = tu_numel(s->ndim[0], s->shape[0]), T = s->shape[0][2];
    double acc = 0, cnt = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t b = i / (s->shape[0][1] * T), t = i % T;
        if (l->masked && !(in[2][b * T + t] > 0.5f))
            continue;
        double d = (double)in[0][i] - in[1][i];
        acc += l->mse ? d * d : fabs(d);
        cnt++;
    }
    out[0] = acc / cnt;
}

static jc_tensor *build_fsq(jc_graph *g, jc_tensor **in, const void *c)
{
    int index = *(const int *)c;
    float lv[3] = {4, 5, 8};
    jc_tensor *levels = jc_constant(g, "levels", 2, (int64_t[]){3, 1}, lv);
    jc_tensor *z = jc_tanh(g, in[0]);
    return index ? jc_fsq_index(g, z, levels) : jc_fsq_quantize(g, z, levels);
}

static void ref_fsq(float **in, const inputs *s, const void *c, double *out, const jc_tensor *y)
{
    (void)s;
    int index = *(const int *)c;
    const double lv[3] = {4, 5, 8};
    for (int64_t i = 0; i < jc_tensor_nelem(y); i++) {
        double L = lv[(i / jc_tensor_dim(y, 2)) % 3];
        double z = tanhf(in[0][i]);
        double k = floor((z + 1) * L / 2);
        if (k < 0) k = 0;
        if (k > L - 1) k = L - 1;
        out[i] = index ? k : (2 * k + 1 - L) / L;
    }
}

static void test_misc(void)
{
    inputs ps = {1, {3}, {{2, 3, 21}}, -1, 1};
    check("avg_pool1d k4 s2 p2", &ps, build_pool, ref_pool, NULL, 1e-6);
    /* powers of two go through jc_rdft, 12 through the DFT matrix */
    stft_ctx sc[] = {{16, 4}, {64, 16}, {128, 32}, {12, 5}};
    for (int i = 0; i < 4; i++) {
        inputs ss = {1, {2}, {{2, 301}}, -1, 1};
        char name[64];
        snprintf(name, sizeof name, "stft_magnitude n_fft %d hop %d", sc[i].n_fft, sc[i].hop);
        check(name, &ss, build_stft, ref_stft, &sc[i], 2e-5);
    }
    for (int mse = 0; mse < 2; mse++)
        for (int masked = 0; masked < 2; masked++) {
            loss_ctx l = {mse, masked};
            inputs ls = {3, {3, 3, 3}, {{2, 3, 13}, {2, 3, 13}, {2, 1, 13}}, 0, 1};
            char name[64];
            snprintf(name, sizeof name, "%s loss%s", mse ? "mse" : "l1", masked ? " masked" : "");
            check(name, &ls, build_loss, ref_loss, &l, 1e-6);
        }
    for (int index = 0; index < 2; index++) {
        inputs fs = {1, {3}, {{2, 3, 50}}, -3, 3};
        check(index ? "fsq_index levels 4,5,8" : "fsq_quantize levels 4,5,8", &fs, build_fsq, ref_fsq, &index, 1e-7);
    }
    inputs cs = {3, {4, 3, 1}, {{2, 3, 10, 4}, {5, 3, 4}, {5}}, -1, 1};
    check("conv2d_k1 stride3 pad2", &cs, build_conv2d, ref_conv2d, NULL, 1e-5);
}

/* Dropout: statistics, scaling, reproducibility and evaluation mode. */
static void test_dropout(void)
{
    jc_error err = {0};
    int64_t n = 20000;
    float *ones = malloc((size_t)n * sizeof *ones), *a = malloc((size_t)n * sizeof *a),
          *b = malloc((size_t)n * sizeof *b);
    for (int64_t i = 0; i < n; i++)
        ones[i] = 1;
    jc_graph *g = jc_graph_new(be);
    jc_tensor *x = jc_input(g, "x", 1, &n);
    jc_tensor *y = jc_dropout(g, x, 0.3f);
    jc_graph_output(g, y);
    tu_check(jc_graph_build(g, &err), &err, "build");
    jc_tensor_set(x, ones, &err);
    jc_graph_set_seed(g, 7);
    jc_graph_compute(g, &err);
    jc_tensor_get(y, a, &err);
    int64_t zeros = 0, scaled = 0;
    for (int64_t i = 0; i < n; i++) {
        zeros += a[i] == 0;
        scaled += fabsf(a[i] - 1 / 0.7f) < 1e-6f;
    }
    double frac = (double)zeros / n;
    tap_ok(fabs(frac - 0.3) < 0.02 && zeros + scaled == n, "dropout p=0.3 drops %.3f, keeps scaled by 1/(1-p)", frac);
    jc_graph_compute(g, &err);
    jc_tensor_get(y, b, &err);
    tap_ok(memcmp(a, b, (size_t)n * sizeof *a) == 0, "dropout same seed gives the same mask");
    jc_graph_set_seed(g, 8);
    jc_graph_compute(g, &err);
    jc_tensor_get(y, b, &err);
    tap_ok(memcmp(a, b, (size_t)n * sizeof *a) != 0, "dropout new seed gives a new mask");
    jc_graph_set_training(g, 0);
    jc_graph_compute(g, &err);
    jc_tensor_get(y, b, &err);
    tap_ok(memcmp(ones, b, (size_t)n * sizeof *a) == 0, "dropout is identity in evaluation mode");
    jc_graph_free(g);
    free(ones);
    free(a);
    free(b);
}

/* Recording errors are values: a bad shape fails the graph with a message. */
static void test_errors(void)
{
    jc_error err = {0};
    jc_graph *g = jc_graph_new(be);
    jc_tensor *a = jc_input(g, "a", 2, (int64_t[]){3, 4});
    jc_tensor *b = jc_input(g, "b", 2, (int64_t[]){5, 6});
    jc_tensor *c = jc_matmul(g, a, b, 0, 0);
    jc_tensor *d = jc_add(g, c, a); /* NULL propagates */
    jc_status s = jc_graph_build(g, &err);
    tap_ok(c == NULL && d == NULL && s == JC_ERR_INVALID && strstr(err.msg, "inner sizes"),
           "shape mismatch is reported at build (%s)", err.msg);
    jc_graph_free(g);
    jc_backend *none = jc_backend_open("no-such-backend", NULL, &err);
    tap_ok(none == NULL && err.code == JC_ERR_UNSUPPORTED, "unknown backend is an error value (%s)", err.msg);
    none = jc_backend_open("cpu", "threads=1,thread=2", &err);
    tap_ok(none == NULL && err.code == JC_ERR_INVALID && strstr(err.msg, "thread=2"),
           "an unknown backend option is an error naming it (%s)", err.msg);
    jc_backend *one = jc_backend_open("cpu", "threads=1,gemm=own", &err);
    tap_ok(one != NULL, "known options open (%s)", one ? "cpu" : err.msg);
    jc_backend_free(one);
}

int main(void)
{
    be = tu_backend();
    jc_rng_seed(&rng, 1234);
    test_matmul();
    test_conv();
    test_conv_direct();
    test_conv_direct_dw();
    test_binary();
    test_unary();
    test_reductions();
    test_norms();
    test_layout();
    test_misc();
    test_dft();
    test_dropout();
    test_errors();
    jc_backend_free(be);
    return tap_done();
}
