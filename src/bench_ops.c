/* bench_ops.c: `jepatok bench ops`: each device's measured peak (FMA
 * throughput, memory bandwidth, dispatch latency, as clpeak and vkpeak do),
 * then every kind of operation as GFLOP/s or GB/s and as a percentage of
 * the peak that bounds it, on the chosen backends side by side. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jc.h"
#include "train_util.h"

typedef enum { BOUND_FLOPS, BOUND_BYTES } bound;

typedef struct {
    const char *name;
    bound by;
    double work; /* flops or bytes per run */
    jc_graph *g;
} bench_graph;

/* Best seconds per run over repeats lasting at least min_time. */
static double time_graph(jc_graph *g, double min_time, jc_error *err)
{
    if (jc_graph_compute(g, err)) /* warm-up: kernel builds, first touches */
        return NAN;
    double best = INFINITY;
    for (int round = 0; round < 3; round++) {
        int reps = 0;
        double t0 = jt_now(), t;
        do {
            if (jc_graph_compute(g, err))
                return NAN;
            reps++;
            t = jt_now() - t0;
        } while (t < min_time);
        best = fmin(best, t / reps);
    }
    return best;
}

/* A graph with one input of the given shape filled with small values. */
static jc_graph *graph_with_input(jc_backend *be, int ndim, const int64_t *shape, jc_tensor **x)
{
    jc_graph *g = jc_graph_new(be);
    *x = jc_input(g, "x", ndim, shape);
    return g;
}

static int finish(jc_graph *g, jc_tensor *y, jc_tensor *const *inputs, int n_inputs, jc_error *err)
{
    jc_graph_output(g, y);
    if (jc_graph_build(g, err))
        return -1;
    for (int i = 0; i < n_inputs; i++) {
        int64_t n = jc_tensor_nelem(inputs[i]);
        float *v = malloc((size_t)n * sizeof *v);
        if (!v)
            return -1;
        for (int64_t k = 0; k < n; k++)
            v[k] = (float)((k * 2654435761u) % 1000) * 1e-3f - 0.5f;
        jc_status s = jc_tensor_set(inputs[i], v, err);
        free(v);
        if (s)
            return -1;
    }
    return 0;
}

typedef struct {
    double fma_gflops, bandwidth_gbs, dispatch_us;
} peaks;

static int measure_peaks(jc_backend *be, double min_time, peaks *p, jc_error *err)
{
    jc_tensor *x;
    /* FMA: 1 M elements x 16 x 256 flops */
    int64_t n = 1 << 20;
    int iters = 256;
    jc_graph *g = graph_with_input(be, 1, &n, &x);
    jc_tensor *y = jc_fma_peak(g, x, iters);
    double t = finish(g, y, &x, 1, err) ? NAN : time_graph(g, min_time, err);
    p->fma_gflops = 16.0 * iters * (double)n / t * 1e-9;
    jc_graph_free(g);
    /* bandwidth: y = 2x + 1 over 32 M floats (read 128 MB, write 128 MB),
     * past every cache */
    n = 32 << 20;
    g = graph_with_input(be, 1, &n, &x);
    y = jc_scale(g, x, 2.0f, 1.0f);
    t = finish(g, y, &x, 1, err) ? NAN : time_graph(g, min_time, err);
    p->bandwidth_gbs = 8.0 * (double)n / t * 1e-9;
    jc_graph_free(g);
    /* dispatch: 256 dependent operations on one element */
    n = 1;
    g = graph_with_input(be, 1, &n, &x);
    y = x;
    for (int i = 0; i < 256; i++)
        y = jc_scale(g, y, 1.0f, 1.0f);
    t = finish(g, y, &x, 1, err) ? NAN : time_graph(g, min_time, err);
    p->dispatch_us = t / 256 * 1e6;
    jc_graph_free(g);
    /* a backend without the FMA kernel still gets its bandwidth-bound rows */
    jc_error_clear(err);
    return isfinite(p->bandwidth_gbs) ? 0 : -1;
}

/* The table's rows: operation k of make_op, and whether its GEMM may use
 * fp16 products.  Every other row pins fp32 (bench graphs are inference
 * graphs, which would otherwise get the fp16 path where it exists), so the
 * fp16 rows sit next to fp32 rows of the same shape. */
typedef struct {
    int op;
    int fp16;
} bench_row;
static const bench_row rows[] = {{0, 0}, {0, 1}, {12, 0}, {1, 0}, {1, 1}, {2, 0}, {3, 0}, {4, 0},
                                 {5, 0}, {6, 0}, {7, 0}, {8, 0}, {9, 0}, {10, 0}, {11, 0}};
#define N_ROWS ((int)(sizeof rows / sizeof rows[0]))

/* Record op k on backend be; work and bound describe what it costs. */
static jc_graph *make_op(jc_backend *be, int k, int fp16, bench_graph *b, jc_error *err)
{
    jc_graph *g = jc_graph_new(be);
    jc_graph_allow_fp16(g, fp16);
    jc_tensor *in[2] = {0}, *y = NULL;
    int n_in = 1;
    int64_t M = 1024, big = 16 << 20;
    switch (k) {
    case 0:
        b->name = "matmul 1024x1024x1024";
        in[0] = jc_input(g, "a", 2, (int64_t[]){M, M});
        in[1] = jc_input(g, "b", 2, (int64_t[]){M, M});
        n_in = 2;
        y = jc_matmul(g, in[0], in[1], 0, 0);
        b->by = BOUND_FLOPS, b->work = 2.0 * M * M * M;
        break;
    case 1:
        b->name = "conv1d 256->256 k3, T 4096";
        in[0] = jc_input(g, "x", 3, (int64_t[]){1, 256, 4096});
        in[1] = jc_input(g, "w", 3, (int64_t[]){256, 256, 3});
        n_in = 2;
        y = jc_conv1d(g, in[0], in[1], NULL, (jc_conv_params){1, 1, 1, 1, 1});
        b->by = BOUND_FLOPS, b->work = 2.0 * 256 * 256 * 3 * 4096;
        break;
    case 2:
        b->name = "conv1d 64->128 k16 stride 8, T 24000";
        in[0] = jc_input(g, "x", 3, (int64_t[]){1, 64, 24000});
        in[1] = jc_input(g, "w", 3, (int64_t[]){128, 64, 16});
        n_in = 2;
        y = jc_conv1d(g, in[0], in[1], NULL, (jc_conv_params){8, 4, 4, 1, 1});
        b->by = BOUND_FLOPS, b->work = 2.0 * 128 * 64 * 16 * 3000;
        break;
    case 3:
        b->name = "conv_transpose1d 256->128 k16 stride 8, T 512";
        in[0] = jc_input(g, "x", 3, (int64_t[]){1, 256, 512});
        in[1] = jc_input(g, "w", 3, (int64_t[]){256, 128, 16});
        n_in = 2;
        y = jc_conv_transpose1d(g, in[0], in[1], NULL, (jc_conv_params){8, 4, 4, 1, 1}, 0);
        b->by = BOUND_FLOPS, b->work = 2.0 * 256 * 128 * 16 * 512;
        break;
    case 4:
        b->name = "depthwise conv k31, 256 ch, T 4096";
        in[0] = jc_input(g, "x", 3, (int64_t[]){1, 256, 4096});
        in[1] = jc_input(g, "w", 3, (int64_t[]){256, 1, 31});
        n_in = 2;
        y = jc_conv1d(g, in[0], in[1], NULL, (jc_conv_params){1, 15, 15, 1, 256});
        b->by = BOUND_FLOPS, b->work = 2.0 * 256 * 31 * 4096;
        break;
    case 5:
        b->name = "add, 16 M floats";
        in[0] = jc_input(g, "a", 1, &big);
        in[1] = jc_input(g, "b", 1, &big);
        n_in = 2;
        y = jc_add(g, in[0], in[1]);
        b->by = BOUND_BYTES, b->work = 12.0 * (double)big;
        break;
    case 6:
        b->name = "mul broadcast [B,C,T]*[B,1,T]";
        in[0] = jc_input(g, "a", 3, (int64_t[]){4, 256, 16384});
        in[1] = jc_input(g, "m", 3, (int64_t[]){4, 1, 16384});
        n_in = 2;
        y = jc_mul(g, in[0], in[1]);
        b->by = BOUND_BYTES, b->work = 8.0 * 4 * 256 * 16384;
        break;
    case 7:
        b->name = "exp, 16 M floats";
        in[0] = jc_input(g, "x", 1, &big);
        y = jc_exp(g, in[0]);
        b->by = BOUND_BYTES, b->work = 8.0 * (double)big;
        break;
    case 8:
        b->name = "sum over the last axis [4096, 4096]";
        in[0] = jc_input(g, "x", 2, (int64_t[]){4096, 4096});
        y = jc_sum(g, in[0], 1);
        b->by = BOUND_BYTES, b->work = 4.0 * 4096 * 4096;
        break;
    case 9:
        b->name = "sum over the first axis [4096, 4096]";
        in[0] = jc_input(g, "x", 2, (int64_t[]){4096, 4096});
        y = jc_sum(g, in[0], 0);
        b->by = BOUND_BYTES, b->work = 4.0 * 4096 * 4096;
        break;
    case 10:
        b->name = "transpose [4096, 4096]";
        in[0] = jc_input(g, "x", 2, (int64_t[]){4096, 4096});
        y = jc_transpose(g, in[0], 0, 1);
        b->by = BOUND_BYTES, b->work = 8.0 * 4096 * 4096;
        break;
    case 12:
        /* the model's GEMMs are small; this one fills a large GPU (1024^3
         * is 256 tiles of 64x64, two waves on 132 multiprocessors) */
        b->name = "matmul 4096x4096x4096";
        in[0] = jc_input(g, "a", 2, (int64_t[]){4 * M, 4 * M});
        in[1] = jc_input(g, "b", 2, (int64_t[]){4 * M, 4 * M});
        n_in = 2;
        y = jc_matmul(g, in[0], in[1], 0, 0);
        b->by = BOUND_FLOPS, b->work = 2.0 * 64 * M * M * M;
        break;
    default:
        b->name = "softmax [4096, 1024] (composite)";
        in[0] = jc_input(g, "x", 2, (int64_t[]){4096, 1024});
        y = jc_softmax(g, in[0], 1, NULL);
        b->by = BOUND_BYTES, b->work = 8.0 * 4096 * 1024; /* the minimum: read once, write once */
        break;
    }
    if (!y || finish(g, y, in, n_in, err)) {
        jc_graph_free(g);
        return NULL;
    }
    return g;
}

int jt_bench_ops(int argc, char **argv)
{
    const char *which = "all";
    double min_time = 0.2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: jepatok bench ops [--backend cpu|opencl|vulkan|all] [--quick]\n"
                   "Measures each device's peak (FMA throughput, memory bandwidth, dispatch latency),\n"
                   "then every kind of operation in GFLOP/s or GB/s and as a percentage of the peak\n"
                   "that bounds it, on every chosen backend side by side.  GEMM rows also run with\n"
                   "fp16 products where that path is on (`jepatok devices` says where).\n");
            return 0;
        } else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
            which = argv[++i];
        } else if (!strcmp(argv[i], "--quick")) {
            min_time = 0.05;
        } else if (strcmp(argv[i], "ops") != 0) {
            fprintf(stderr, "jepatok bench ops: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    const char *const *names = jc_backend_names();
    jc_backend *bes[8];
    peaks pk[8];
    int n_be = 0;
    for (int b = 0; names[b] && n_be < 8; b++) {
        if (strcmp(which, "all") != 0 && strcmp(which, names[b]) != 0)
            continue;
        jc_error err = {0};
        jc_backend *be = jc_backend_open(names[b], NULL, &err);
        if (!be) {
            printf("%s: not available (%s)\n", names[b], err.msg);
            continue;
        }
        jc_device_info info;
        jc_backend_device_info(be, &info);
        if (measure_peaks(be, min_time, &pk[n_be], &err)) {
            printf("%s (%s): peak measurement failed: %s\n", names[b], info.name, err.msg);
            jc_backend_free(be);
            continue;
        }
        printf("%-7s %s (%s, %s)\n        peak: FMA %.1f GFLOP/s, bandwidth %.1f GB/s, dispatch %.2f us\n",
               names[b], info.name, info.vendor, info.driver, pk[n_be].fma_gflops, pk[n_be].bandwidth_gbs,
               pk[n_be].dispatch_us);
        bes[n_be++] = be;
    }
    if (n_be == 0) {
        fprintf(stderr, "jepatok bench ops: no backend '%s' available\n", which);
        return 1;
    }
    printf("\n%-46s", "operation");
    for (int b = 0; b < n_be; b++)
        printf(" %21s", jc_backend_name(bes[b]));
    printf("\n");
    for (int k = 0; k < N_ROWS; k++) {
        bench_graph bg = {0};
        char row[64] = "";
        for (int b = 0; b < n_be; b++) {
            jc_error err = {0};
            jc_device_info info;
            jc_backend_device_info(bes[b], &info);
            /* a backend without the fp16 path would only time fp32 again */
            int skip = rows[k].fp16 && !info.fp16_gemm;
            jc_graph *g = make_op(bes[b], rows[k].op, rows[k].fp16, &bg, &err);
            double t = g && !skip ? time_graph(g, min_time, &err) : NAN;
            jc_graph_free(g);
            if (b == 0) {
                snprintf(row, sizeof row, "%s%s", bg.name, rows[k].fp16 ? ", fp16 products" : "");
                printf("%-46s", row);
            }
            if (skip) {
                printf(" %21s", "no fp16 path");
                continue;
            }
            if (!isfinite(t)) {
                printf(" %21s", "unsupported");
                continue;
            }
            double rate = bg.work / t * 1e-9;
            double peak = bg.by == BOUND_FLOPS ? pk[b].fma_gflops : pk[b].bandwidth_gbs;
            char cell[32];
            if (isfinite(peak))
                snprintf(cell, sizeof cell, "%.1f %s %3.0f%%", rate, bg.by == BOUND_FLOPS ? "GF/s" : "GB/s",
                         100.0 * rate / peak);
            else
                snprintf(cell, sizeof cell, "%.1f %s  n/a", rate, bg.by == BOUND_FLOPS ? "GF/s" : "GB/s");
            printf(" %21s", cell);
        }
        printf("\n");
        fflush(stdout);
    }
    printf("(percentages of the device's own measured peak: FMA for compute-bound operations, bandwidth for\n"
           " memory-bound ones; best of 3 rounds of >= %.2f s.  Rows without \"fp16\" run fp32 everywhere;\n"
           " fp16 rows (only with JC_VULKAN_FP16=1 or JC_OPENCL_FP16=1) are against the fp32 FMA peak)\n",
           min_time);
    for (int b = 0; b < n_be; b++)
        jc_backend_free(bes[b]);
    return 0;
}
