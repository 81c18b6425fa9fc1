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

/* One row: the operation, repeated reps times in one graph, and its cost per
 * repetition: arithmetic and the least memory traffic it can have (every
 * operand read once, the result written once). */
typedef struct {
    const char *name;
    double flops, bytes;
    int reps;
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

/* Build g with output y (NULL: already marked) and fill its inputs. */
static int finish(jc_graph *g, jc_tensor *y, jc_tensor *const *inputs, int n_inputs, jc_error *err)
{
    if (y)
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
                                 {5, 0}, {6, 0}, {7, 0}, {8, 0}, {9, 0}, {10, 0}, {11, 0}, {13, 0}, {14, 0}};
#define N_ROWS ((int)(sizeof rows / sizeof rows[0]))

/* in[i], declared on first use: every repetition of a row reads the same
 * inputs. */
static jc_tensor *input(jc_graph *g, jc_tensor **in, int i, int ndim, const int64_t *shape)
{
    if (!in[i])
        in[i] = jc_input(g, i ? "b" : "a", ndim, shape);
    return in[i];
}

/* One repetition of op k; fills the row's name and cost. */
static jc_tensor *record_op(jc_graph *g, int k, jc_tensor **in, bench_graph *b)
{
    const double f = sizeof(float);
    int64_t M = 1024, big = 16 << 20;
    switch (k) {
    case 0:
        b->name = "matmul 1024x1024x1024";
        b->flops = 2.0 * M * M * M, b->bytes = 3 * f * M * M;
        return jc_matmul(g, input(g, in, 0, 2, (int64_t[]){M, M}), input(g, in, 1, 2, (int64_t[]){M, M}), 0, 0);
    case 1:
        b->name = "conv1d 256->256 k3, T 4096";
        b->flops = 2.0 * 256 * 256 * 3 * 4096, b->bytes = f * (2 * 256 * 4096 + 256 * 256 * 3);
        return jc_conv1d(g, input(g, in, 0, 3, (int64_t[]){1, 256, 4096}),
                         input(g, in, 1, 3, (int64_t[]){256, 256, 3}), NULL, (jc_conv_params){1, 1, 1, 1, 1});
    case 2:
        b->name = "conv1d 64->128 k16 stride 8, T 24000";
        b->flops = 2.0 * 128 * 64 * 16 * 3000, b->bytes = f * (64 * 24000 + 128 * 3000 + 128 * 64 * 16);
        return jc_conv1d(g, input(g, in, 0, 3, (int64_t[]){1, 64, 24000}),
                         input(g, in, 1, 3, (int64_t[]){128, 64, 16}), NULL, (jc_conv_params){8, 4, 4, 1, 1});
    case 3:
        b->name = "conv_transpose1d 256->128 k16 stride 8, T 512";
        b->flops = 2.0 * 256 * 128 * 16 * 512, b->bytes = f * (256 * 512 + 128 * 4096 + 256 * 128 * 16);
        return jc_conv_transpose1d(g, input(g, in, 0, 3, (int64_t[]){1, 256, 512}),
                                   input(g, in, 1, 3, (int64_t[]){256, 128, 16}), NULL,
                                   (jc_conv_params){8, 4, 4, 1, 1}, 0);
    case 4:
        b->name = "depthwise conv k31, 256 ch, T 4096";
        b->flops = 2.0 * 256 * 31 * 4096, b->bytes = f * (2 * 256 * 4096 + 256 * 31);
        return jc_conv1d(g, input(g, in, 0, 3, (int64_t[]){1, 256, 4096}), input(g, in, 1, 3, (int64_t[]){256, 1, 31}),
                         NULL, (jc_conv_params){1, 15, 15, 1, 256});
    case 5:
        b->name = "add, 16 M floats";
        b->bytes = 3 * f * (double)big;
        return jc_add(g, input(g, in, 0, 1, &big), input(g, in, 1, 1, &big));
    case 6:
        b->name = "mul broadcast [B,C,T]*[B,1,T]";
        b->bytes = f * (2 * 4 * 256 * 16384 + 4 * 16384);
        return jc_mul(g, input(g, in, 0, 3, (int64_t[]){4, 256, 16384}), input(g, in, 1, 3, (int64_t[]){4, 1, 16384}));
    case 7:
        b->name = "exp, 16 M floats";
        b->bytes = 2 * f * (double)big;
        return jc_exp(g, input(g, in, 0, 1, &big));
    case 8:
        b->name = "sum over the last axis [4096, 4096]";
        b->bytes = f * 4096 * 4097;
        return jc_sum(g, input(g, in, 0, 2, (int64_t[]){4096, 4096}), 1);
    case 9:
        b->name = "sum over the first axis [4096, 4096]";
        b->bytes = f * 4096 * 4097;
        return jc_sum(g, input(g, in, 0, 2, (int64_t[]){4096, 4096}), 0);
    case 10:
        b->name = "transpose [4096, 4096]";
        b->bytes = 2 * f * 4096 * 4096;
        return jc_transpose(g, input(g, in, 0, 2, (int64_t[]){4096, 4096}), 0, 1);
    case 12:
        /* the model's GEMMs are small; this one fills a large GPU (1024^3
         * is 256 tiles of 64x64, two waves on 132 multiprocessors) */
        b->name = "matmul 4096x4096x4096";
        b->flops = 2.0 * 64 * M * M * M, b->bytes = 3 * f * 16 * M * M;
        return jc_matmul(g, input(g, in, 0, 2, (int64_t[]){4 * M, 4 * M}),
                         input(g, in, 1, 2, (int64_t[]){4 * M, 4 * M}), 0, 0);
    case 13:
        /* the MR-STFT loss's longest frames (batch 4 x 2 s); 2.5 N log2 N
         * flops a real row, the usual count for a real FFT */
        b->name = "rdft N 2048, 1504 rows";
        b->flops = 1504 * 2.5 * 2048 * 11, b->bytes = f * 1504 * (2048 + 2050);
        return jc_rdft(g, input(g, in, 0, 2, (int64_t[]){1504, 2048}));
    case 14:
        /* the multi-scale discriminator's grouped layers: 4 input and 16
         * output channels a group */
        b->name = "conv1d 64->256 k41 stride 4 groups 16, T 12000";
        b->flops = 2.0 * 256 * 4 * 41 * 3000, b->bytes = f * (64 * 12000 + 256 * 3000 + 256 * 4 * 41);
        return jc_conv1d(g, input(g, in, 0, 3, (int64_t[]){1, 64, 12000}),
                         input(g, in, 1, 3, (int64_t[]){256, 4, 41}), NULL, (jc_conv_params){4, 20, 20, 1, 16});
    default:
        b->name = "softmax [4096, 1024]";
        b->bytes = 2 * f * 4096 * 1024;
        return jc_softmax(g, input(g, in, 0, 2, (int64_t[]){4096, 1024}), 1, NULL);
    }
}

/* Whether arithmetic, not memory traffic, bounds b on a device with peaks
 * p (the roofline; a backend without the FMA peak counts bytes only). */
static int flops_bound(const bench_graph *b, const peaks *p)
{
    double tf = b->flops / (p->fma_gflops * 1e9), tb = b->bytes / (p->bandwidth_gbs * 1e9);
    return isfinite(tf) && tf > tb;
}

/* Seconds one repetition of b needs at least on that device. */
static double bound_seconds(const bench_graph *b, const peaks *p)
{
    return flops_bound(b, p) ? b->flops / (p->fma_gflops * 1e9) : b->bytes / (p->bandwidth_gbs * 1e9);
}

/* Repetitions of a row per graph run: as many as take REPS_SECONDS at the
 * device's peaks, so that a GPU's cost per submission (host calls, the
 * final wait: tens of microseconds) does not count as the operation's; a
 * whole model graph is one submission too.  At most MAX_REPS, and at most
 * REPS_BYTES of results (every repetition keeps its own). */
#define REPS_SECONDS 1e-3
#define MAX_REPS 64
#define REPS_BYTES (512.0 * 1024 * 1024)

static int repetitions(const bench_graph *b, const peaks *p, const jc_tensor *y)
{
    double by_time = ceil(REPS_SECONDS / bound_seconds(b, p));
    double by_memory = floor(REPS_BYTES / (sizeof(float) * (double)jc_tensor_nelem(y)));
    double r = fmin(fmin(by_time, by_memory), MAX_REPS);
    return r >= 1 ? (int)r : 1;
}

/* Record row k on backend be, repeated as repetitions() says for peaks p. */
static jc_graph *make_op(jc_backend *be, int k, int fp16, const peaks *p, bench_graph *b, jc_error *err)
{
    jc_graph *g = jc_graph_new(be);
    jc_graph_allow_fp16(g, fp16);
    jc_tensor *in[2] = {0};
    *b = (bench_graph){0};
    jc_tensor *y = record_op(g, k, in, b);
    b->reps = y ? repetitions(b, p, y) : 1;
    for (int r = 0; y && r < b->reps; r++) {
        if (r > 0)
            y = record_op(g, k, in, b);
        if (y)
            jc_graph_output(g, y);
    }
    int n_in = in[1] ? 2 : 1;
    if (!y || finish(g, NULL, in, n_in, err)) {
        jc_graph_free(g);
        return NULL;
    }
    return g;
}

/* Whether name contains one of the comma-separated words of list. */
static int names_any(const char *name, const char *list)
{
    char word[64];
    for (const char *w = list; *w; w += *w == ',') {
        size_t len = strcspn(w, ",");
        if (len > 0 && len < sizeof word) {
            memcpy(word, w, len);
            word[len] = '\0';
            if (strstr(name, word))
                return 1;
        }
        w += len;
    }
    return 0;
}

int jt_bench_ops(int argc, char **argv)
{
    const char *which = "all", *only = NULL;
    double min_time = 0.2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: jepatok bench ops [--backend cpu|opencl|vulkan|all] [--quick] [--only LIST]\n"
                   "Measures each device's peak (FMA throughput, memory bandwidth, dispatch latency),\n"
                   "then every kind of operation in GFLOP/s or GB/s and as a percentage of the least\n"
                   "time those peaks allow (arithmetic or memory traffic, whichever bounds it; each\n"
                   "operation repeated in one graph run), on every chosen backend side by side.  GEMM\n"
                   "rows also run with fp16 products where that path is on (`jepatok devices` says\n"
                   "where; with JC_VULKAN_COOPMAT=1 they run on Vulkan's matrix units).\n"
                   "  --quick      rounds of 0.05 s instead of 0.2 s\n"
                   "  --only LIST  only the rows whose name contains one of the comma-separated\n"
                   "               words of LIST (e.g. matmul,conv or softmax)\n");
            return 0;
        } else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
            which = argv[++i];
        } else if (!strcmp(argv[i], "--quick")) {
            min_time = 0.05;
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
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
        char row[64];
        /* the row's name, from a recording that is never built */
        jc_graph *probe = jc_graph_new(bes[0]);
        record_op(probe, rows[k].op, (jc_tensor *[2]){0}, &bg);
        jc_graph_free(probe);
        snprintf(row, sizeof row, "%s%s", bg.name, rows[k].fp16 ? ", fp16 products" : "");
        if (only && !names_any(row, only))
            continue;
        printf("%-46s", row);
        for (int b = 0; b < n_be; b++) {
            jc_error err = {0};
            jc_device_info info;
            jc_backend_device_info(bes[b], &info);
            /* a backend without an fp16 path would only time fp32 again */
            if (rows[k].fp16 && !info.fp16_gemm && !info.coopmat_gemm) {
                printf(" %21s", "no fp16 path");
                continue;
            }
            jc_graph *g = make_op(bes[b], rows[k].op, rows[k].fp16, &pk[b], &bg, &err);
            double t = g ? time_graph(g, min_time, &err) / bg.reps : NAN;
            jc_graph_free(g);
            if (!isfinite(t)) {
                printf(" %21s", "unsupported");
                continue;
            }
            /* the rate in the unit of the bound: GFLOP/s where arithmetic
             * bounds the operation on this device, GB/s where memory does */
            double bound = bound_seconds(&bg, &pk[b]);
            int by_flops = flops_bound(&bg, &pk[b]);
            char cell[32];
            snprintf(cell, sizeof cell, "%.1f %s %3.0f%%", (by_flops ? bg.flops : bg.bytes) / t * 1e-9,
                     by_flops ? "GF/s" : "GB/s", 100.0 * bound / t);
            printf(" %21s", cell);
        }
        printf("\n");
        fflush(stdout);
    }
    printf("(percentages of the least time the device's own measured peaks allow: the FMA rate or the\n"
           " bandwidth, whichever bounds the operation on that device (the roofline; the cell's unit says\n"
           " which), for its arithmetic and its least memory traffic.  Each operation is repeated in one\n"
           " graph run until that least time reaches %.0f ms (at most %d times), so a GPU's cost per\n"
           " submission is shared as in a model's graph; best of 3 rounds of >= %.2f s.  Rows without\n"
           " \"fp16\" run fp32 everywhere; fp16 rows (only with JC_VULKAN_FP16=1, JC_VULKAN_COOPMAT=1 or\n"
           " JC_OPENCL_FP16=1; the cooperative-matrix GEMM where it is on) are\n"
           " against the fp32 FMA peak)\n",
           REPS_SECONDS * 1e3, MAX_REPS, min_time);
    for (int b = 0; b < n_be; b++)
        jc_backend_free(bes[b]);
    return 0;
}
