/* cmd_bench.c: `jepatok bench`: speeds of the compute layer measured as
 * ratios inside one run (the machines are shared and noisy): our GEMM
 * against CBLAS, each convolution against the GEMM it reduces to, and the
 * memory planner's peak against the sum of a training graph's tensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "jc.h"
/* The raw GEMM entry points are the CPU backend's; the bench compares them
 * directly, so it reaches below the public API on purpose. */
#include "cpu/gemm.h"
#include "cpu/threadpool.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds per call: best of 3 rounds, each repeating until min_time. */
typedef void (*bench_fn)(void *arg);
static double time_it(bench_fn fn, void *arg, double min_time)
{
    fn(arg); /* warm-up: page faults, caches, lazy allocations */
    double best = INFINITY;
    for (int round = 0; round < 3; round++) {
        int reps = 0;
        double t0 = now(), t;
        do {
            fn(arg);
            reps++;
            t = now() - t0;
        } while (t < min_time);
        if (t / reps < best)
            best = t / reps;
    }
    return best;
}

/* ------------------------------------------------------------------ GEMM */

typedef struct {
    jc_gemm_impl impl;
    jc_threadpool *tp;
    int ta, tb, M, N, K;
    float *A, *B, *C;
} gemm_arg;

static void run_gemm(void *p)
{
    gemm_arg *g = p;
    jc_sgemm(g->impl, g->tp, g->ta, g->tb, g->M, g->N, g->K, 1.0f, g->A, g->ta ? g->M : g->K, g->B,
             g->tb ? g->K : g->N, 0.0f, g->C, g->N);
}

static float *random_floats(size_t n)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = (float)((double)(i * 2654435761u % 1000) / 500.0 - 1.0);
    return v;
}

static double gemm_gflops(jc_gemm_impl impl, jc_threadpool *tp, int ta, int tb, int M, int N, int K, double min_time)
{
    gemm_arg g = {impl, tp, ta, tb, M, N, K, random_floats((size_t)M * K), random_floats((size_t)K * N),
                  random_floats((size_t)M * N)};
    double t = time_it(run_gemm, &g, min_time);
    free(g.A);
    free(g.B);
    free(g.C);
    return 2.0 * M * N * K / t * 1e-9;
}

/* ---------------------------------------------------------- convolutions */

typedef struct {
    const char *name;
    int cin, cout, k, stride, dilation, t_in;
    int transpose;
} conv_shape;

typedef struct {
    jc_graph *g;
} graph_arg;

static void run_graph(void *p)
{
    jc_error err;
    jc_graph_compute(((graph_arg *)p)->g, &err);
}

/* The three GEMM shapes a convolution reduces to.  In conv terms (for a
 * transposed conv, of the conv it is the gradient of): Cs channels on the
 * strided side, Cb*k rows of the column matrix, Ts time steps on the strided
 * side.  Pass 0: Y = W X (NN), pass 1: dX = W^T dY (TN), pass 2: dW = dY X^T (NT). */
static void conv_gemm_shape(int pass, int cs, int cbk, int ts, int *g)
{
    int shapes[3][5] = {{0, 0, cs, ts, cbk}, {1, 0, cbk, ts, cs}, {0, 1, cs, cbk, ts}};
    memcpy(g, shapes[pass], sizeof shapes[pass]);
}

/* One conv layer's pass (which = 0 forward, 1 input gradient, 2 weight
 * gradient) in GFLOP/s; gemm[5] receives (ta, tb, M, N, K) of its GEMM. */
static double conv_gflops(jc_backend *be, const conv_shape *s, int which, double min_time, int *gemm)
{
    jc_error err = {0};
    jc_store *st = jc_store_new(be);
    jc_graph *g = jc_graph_new(be);
    int pad = s->transpose ? (s->k - s->stride) / 2 : s->dilation * (s->k - 1) / 2;
    jc_conv_params p = {s->stride, pad, pad, s->dilation, 1};
    int64_t wshape[3] = {s->transpose ? s->cin : s->cout, s->transpose ? s->cout : s->cin, s->k};
    jc_tensor *w = jc_store_param(st, "w", 3, wshape, &err);
    jc_rng r;
    jc_rng_seed(&r, 1);
    jc_init_normal(w, &r, 0.05f, &err);
    jc_tensor *x = jc_store_param(st, "x", 3, (int64_t[]){1, s->cin, s->t_in}, &err);
    jc_init_normal(x, &r, 1.0f, &err);
    jc_tensor *y = s->transpose ? jc_conv_transpose1d(g, x, w, NULL, p, 0) : jc_conv1d(g, x, w, NULL, p);
    jc_tensor *out = y;
    if (which > 0 && y) { /* gradients of sum(y^2)/2, so dy = y */
        jc_tensor *loss = jc_scale(g, jc_sum_all(g, jc_sqr(g, y)), 0.5f, 0);
        jc_backward(g, loss, &err);
        out = jc_grad(g, which == 1 ? x : w);
    }
    double gf = NAN;
    if (out) {
        int64_t t_strided = s->transpose ? s->t_in : jc_tensor_dim(y, 2);
        int cs = s->transpose ? s->cin : s->cout, cbk = (s->transpose ? s->cout : s->cin) * s->k;
        /* a transposed conv's forward is the input-gradient pass and vice versa */
        int pass = s->transpose && which < 2 ? 1 - which : which;
        conv_gemm_shape(pass, cs, cbk, (int)t_strided, gemm);
        jc_graph_output(g, out);
        if (jc_graph_build(g, &err) == JC_OK) {
            graph_arg a = {g};
            double t = time_it(run_graph, &a, min_time);
            if (which > 0) { /* the gradient graph also runs the forward pass: take it out */
                jc_graph *fg = jc_graph_new(be);
                jc_tensor *fy = s->transpose ? jc_conv_transpose1d(fg, x, w, NULL, p, 0) : jc_conv1d(fg, x, w, NULL, p);
                jc_graph_output(fg, jc_scale(fg, jc_sum_all(fg, jc_sqr(fg, fy)), 0.5f, 0));
                jc_graph_build(fg, &err);
                graph_arg fa = {fg};
                t -= time_it(run_graph, &fa, min_time);
                jc_graph_free(fg);
            }
            gf = 2.0 * cs * (double)t_strided * cbk / t * 1e-9;
        }
    }
    jc_graph_free(g);
    jc_store_free(st);
    return gf;
}

/* ------------------------------------------------------- memory planner */

/* A training step of a small encoder-like stack: strided conv, SnakeBeta,
 * residual units with dilations, group norm, an L1 loss, backward, AdamW. */
static void planner_report(jc_backend *be)
{
    jc_error err = {0};
    jc_store *st = jc_store_new(be);
    jc_graph *g = jc_graph_new(be);
    int64_t T = 24000;
    jc_tensor *x = jc_input(g, "audio", 3, (int64_t[]){2, 1, T});
    jc_tensor *h = x;
    int cin = 1, chans[3] = {32, 64, 128}, strides[3] = {4, 4, 5};
    for (int b = 0; b < 3; b++) {
        char name[64];
        snprintf(name, sizeof name, "b%d.down", b);
        jc_tensor *w = jc_store_param(st, name, 3, (int64_t[]){chans[b], cin, 2 * strides[b]}, &err);
        h = jc_conv1d(g, h, w, NULL, (jc_conv_params){strides[b], strides[b] / 2, strides[b] / 2, 1, 1});
        snprintf(name, sizeof name, "b%d.alpha", b);
        jc_tensor *a = jc_store_param(st, name, 3, (int64_t[]){1, chans[b], 1}, &err);
        jc_tensor *sa = jc_scale(g, jc_softplus(g, a), 1, 0.01f);
        h = jc_add(g, h, jc_mul(g, jc_reciprocal(g, sa), jc_sqr(g, jc_sin(g, jc_mul(g, h, sa)))));
        for (int u = 0; u < 3; u++) {
            int dil = u == 0 ? 1 : (u == 1 ? 3 : 9);
            snprintf(name, sizeof name, "b%d.res%d.c1", b, u);
            jc_tensor *w1 = jc_store_param(st, name, 3, (int64_t[]){chans[b], chans[b], 3}, &err);
            snprintf(name, sizeof name, "b%d.res%d.c2", b, u);
            jc_tensor *w2 = jc_store_param(st, name, 3, (int64_t[]){chans[b], chans[b], 3}, &err);
            jc_tensor *r = jc_conv1d(g, jc_leaky_relu(g, h, 0.1f), w1, NULL, (jc_conv_params){1, dil, dil, dil, 1});
            r = jc_conv1d(g, jc_leaky_relu(g, r, 0.1f), w2, NULL, (jc_conv_params){1, 1, 1, 1, 1});
            h = jc_add(g, h, r);
        }
        h = jc_group_norm1(g, h, NULL, NULL, NULL, 1e-5f);
        cin = chans[b];
    }
    jc_tensor *target = jc_input(g, "target", 3, (int64_t[]){2, 128, jc_tensor_dim(h, 2)});
    jc_tensor *loss = jc_l1_loss(g, h, target, NULL);
    jc_graph_output(g, loss);
    jc_backward(g, loss, &err);
    jc_adamw *opt = jc_adamw_new(st, (jc_adamw_config){1e-4f, 0.8f, 0.99f, 1e-8f, 1e-3f, 0, 1.0f, 0, 0}, &err);
    if (opt)
        jc_adamw_append(opt, g, NULL, &err);
    if (jc_graph_build(g, &err) == JC_OK) {
        jc_graph_stats s;
        jc_graph_get_stats(g, &s);
        printf("\nmemory planner, training step of a 3-block conv encoder (batch 2, 1 s audio, %d ops):\n", s.nodes);
        printf("  planned arena %.1f MiB, sum of tensors %.1f MiB, ratio %.2f (target <= 0.60)\n",
               (double)s.planned_bytes / 1048576.0, (double)s.naive_bytes / 1048576.0,
               (double)s.planned_bytes / (double)s.naive_bytes);
    } else {
        printf("planner graph failed: %s\n", err.msg);
    }
    jc_adamw_free(opt);
    jc_graph_free(g);
    jc_store_free(st);
}

static void bench_usage(FILE *f)
{
    fprintf(f, "usage: jepatok bench [compute] [--threads N] [--quick]\n"
               "       jepatok bench ops --help      (every backend: peaks and operations)\n"
               "       jepatok bench stage1 --help   (stage-1 training step time)\n"
               "       jepatok bench stage2 --help   (stage-2 training step time)\n"
               "       jepatok bench codec --help    (encode and decode real-time factors)\n"
               "\n"
               "Measures, on the CPU backend, in one run:\n"
               "  GEMM at the paper model's shapes: own kernel vs CBLAS (OpenBLAS), GFLOP/s and ratio\n"
               "  conv1d / conv_transpose1d forward and gradients vs the GEMM they reduce to\n"
               "  the memory planner's peak vs the sum of tensors of a training graph\n"
               "OpenBLAS reads OPENBLAS_CORETYPE at start-up; the value in effect is printed.\n"
               "  --threads N   CPU threads (default: all cores)\n"
               "  --quick       shorter timings (noisier)\n");
}

int jt_cmd_bench(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "stage1") == 0)
        return jt_bench_stage1(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "stage2") == 0)
        return jt_bench_stage2(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "codec") == 0)
        return jt_bench_codec(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ops") == 0)
        return jt_bench_ops(argc - 1, argv + 1);
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            bench_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "compute") != 0) {
            fprintf(stderr, "jepatok bench: unknown argument '%s'\n", argv[i]);
            bench_usage(stderr);
            return 2;
        }
    }
    if (threads < 1)
        threads = 1;
    double min_time = quick ? 0.05 : 0.3;
    char opts[64];
    snprintf(opts, sizeof opts, "threads=%d,gemm=own", threads);
    jc_error err = {0};
    jc_backend *be = jc_backend_open("cpu", opts, &err);
    if (!be) {
        fprintf(stderr, "jepatok bench: %s\n", err.msg);
        return 1;
    }
    jc_device_info info;
    jc_backend_device_info(be, &info);
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    printf("device: %s, %d threads\n", info.name, threads);
    printf("OpenBLAS: %s (OPENBLAS_CORETYPE=%s)\n", jc_sgemm_have_cblas() ? "linked" : "not built in",
           coretype ? coretype : "unset, autodetect");
    jc_threadpool *tp = jc_threadpool_new(threads);

    static const struct {
        int ta, tb, M, N, K;
        const char *what;
    } gemms[] = {
        {0, 0, 512, 4096, 1536, "enc res conv 512ch k3"},
        {0, 0, 256, 4096, 768, "enc res conv 256ch k3"},
        {0, 0, 128, 4096, 384, "enc res conv 128ch k3"},
        {0, 0, 64, 4096, 192, "enc res conv 64ch k3"},
        {0, 0, 1024, 1024, 1024, "square"},
        {0, 1, 4096, 512, 128, "conformer FF in (x W^T)"},
        {0, 1, 4096, 128, 512, "conformer FF out"},
        {0, 1, 512, 1536, 4096, "weight grad dY X^T"},
        {1, 0, 1536, 4096, 512, "input grad W^T dY"},
    };
    /* paper-model layers on 1 s of audio (batch 1) */
    static const conv_shape convs[] = {
        {"enc b1 res k3 64ch", 64, 64, 3, 1, 1, 24000, 0},
        {"enc b2 down k16 s8", 64, 128, 16, 8, 1, 24000, 0},
        {"enc b3 res k3 d9 256ch", 256, 256, 3, 1, 9, 375, 0},
        {"enc b5 res k3 512ch", 512, 512, 3, 1, 1, 400, 0},
        {"dec up k12 s6 512ch", 512, 512, 12, 6, 1, 50, 1},
        {"dec up k16 s8 128->64", 128, 64, 16, 8, 1, 3000, 1},
        {"dec MRF k7 d3 256ch", 256, 256, 7, 1, 3, 1500, 0},
        {"dec MRF k11 d5 64ch", 64, 64, 11, 1, 5, 24000, 0},
        {"small dec MRF k11 d5 16ch", 16, 16, 11, 1, 5, 24000, 0},
    };
    static const char *which_name[] = {"forward", "grad input", "grad weight"};
    printf("\nconvolutions, own GEMM (GFLOP/s)  pass          conv    GEMM (shape)           conv/GEMM\n");
    double worst = INFINITY;
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++)
        for (int which = 0; which < 3; which++) {
            int gs[5] = {0};
            double conv = conv_gflops(be, &convs[i], which, min_time, gs);
            double gemm = gemm_gflops(JC_GEMM_OWN, tp, gs[0], gs[1], gs[2], gs[3], gs[4], min_time);
            printf("  %-28s %-11s %6.1f  %6.1f %c%c(%d,%d,%d)  %5.2f\n", convs[i].name, which_name[which], conv, gemm,
                   gs[0] ? 'T' : 'N', gs[1] ? 'T' : 'N', gs[2], gs[3], gs[4], conv / gemm);
            if (conv / gemm < worst)
                worst = conv / gemm;
        }
    printf("  lowest conv/GEMM: %.2f (target >= 0.70)\n", worst);
    /* CBLAS last: OpenBLAS's idle threads spin for a while after each call
     * and would slow down whatever runs next in this process. */
    size_t n_gemm = sizeof gemms / sizeof gemms[0];
    double own[16], blas[16];
    for (size_t i = 0; i < n_gemm; i++)
        own[i] = gemm_gflops(JC_GEMM_OWN, tp, gemms[i].ta, gemms[i].tb, gemms[i].M, gemms[i].N, gemms[i].K, min_time);
    for (size_t i = 0; i < n_gemm; i++)
        blas[i] = jc_sgemm_have_cblas() ? gemm_gflops(JC_GEMM_CBLAS, tp, gemms[i].ta, gemms[i].tb, gemms[i].M,
                                                       gemms[i].N, gemms[i].K, min_time)
                                        : NAN;
    printf("\nGEMM (GFLOP/s)                         M     N     K    own  CBLAS  own/CBLAS\n");
    double sum_ratio = 0;
    int n_ratio = 0;
    for (size_t i = 0; i < n_gemm; i++) {
        printf("  %-30s %c%c %5d %5d %5d %6.1f %6.1f %6.2f\n", gemms[i].what, gemms[i].ta ? 'T' : 'N',
               gemms[i].tb ? 'T' : 'N', gemms[i].M, gemms[i].N, gemms[i].K, own[i], blas[i], own[i] / blas[i]);
        if (!isnan(blas[i])) {
            sum_ratio += own[i] / blas[i];
            n_ratio++;
        }
    }
    if (n_ratio)
        printf("  mean own/CBLAS: %.2f (target >= 0.90)\n", sum_ratio / n_ratio);
    planner_report(be);
    jc_threadpool_free(tp);
    jc_backend_free(be);
    return 0;
}
