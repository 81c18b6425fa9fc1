/* cpu_backend.c: the reference backend.  Host memory, a thread pool, GEMM
 * through our own kernel or CBLAS, and one kernel per primitive.  Every
 * other backend is tested against this one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu_internal.h"

static float *grow(float **buf, size_t *have, size_t n)
{
    if (n > *have) {
        free(*buf);
        *buf = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
        *have = *buf ? n : 0;
    }
    return *buf;
}

float *jc_cpu_scratch(jc_cpu_ctx *c, size_t n) { return grow(&c->scratch, &c->scratch_floats, n); }

float *jc_cpu_outer_scratch(jc_cpu_ctx *c, size_t n) { return grow(&c->outer, &c->outer_floats, n); }

typedef struct {
    jc_range_fn fn;
    void *arg;
    long n;
} range_job;

static void range_worker(void *p, int ith, int nth)
{
    range_job *job = p;
    long lo, hi;
    jc_split_range(job->n, ith, nth, &lo, &hi);
    if (lo < hi)
        job->fn(job->arg, lo, hi);
}

void jc_cpu_parallel(jc_cpu_ctx *c, long n, double cost, jc_range_fn fn, void *arg)
{
    /* below ~32k operations a wake-up costs more than it saves */
    if (c->nthreads == 1 || n < 2 || (double)n * cost < 32768.0) {
        if (n > 0)
            fn(arg, 0, n);
        return;
    }
    range_job job = {fn, arg, n};
    jc_threadpool_run(c->pool, range_worker, &job);
}

static void cpu_free(jc_backend *be)
{
    jc_cpu_ctx *c = be->ctx;
    jc_threadpool_free(c->pool);
    free(c->scratch);
    free(c->outer);
    free(c);
    free(be);
}

static void fill_info(int nthreads, jc_gemm_impl gemm, jc_device_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->backend, sizeof info->backend, "cpu");
    info->name[0] = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(info->name, sizeof info->name, "%s", colon + 2);
                    info->name[strcspn(info->name, "\n")] = 0;
                }
                break;
            }
        fclose(f);
    }
    if (!info->name[0])
        snprintf(info->name, sizeof info->name, "host CPU");
    snprintf(info->vendor, sizeof info->vendor, "host");
    snprintf(info->driver, sizeof info->driver, "jepatok cpu, %d threads, GEMM: %s", nthreads,
             gemm == JC_GEMM_CBLAS ? "CBLAS" : "own kernel");
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    info->memory_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    info->compute_units = nthreads;
    info->is_cpu_driver = 1;
}

static void cpu_device_info(const jc_backend *be, jc_device_info *info)
{
    const jc_cpu_ctx *c = be->ctx;
    fill_info(c->nthreads, c->gemm, info);
}

static jc_status cpu_buffer_alloc(jc_backend *be, size_t size, jc_buffer **out, jc_error *err)
{
    jc_buffer *b = calloc(1, sizeof *b);
    size_t rounded = (size + 63) / 64 * 64;
    if (rounded == 0)
        rounded = 64;
    void *mem = b ? aligned_alloc(64, rounded) : NULL;
    if (!mem) {
        free(b);
        return jc_error_set(err, JC_ERR_NOMEM, "cpu: cannot allocate %zu bytes", size);
    }
    memset(mem, 0, rounded);
    b->be = be;
    b->size = size;
    b->impl = mem;
    *out = b;
    return JC_OK;
}

static void cpu_buffer_free(jc_backend *be, jc_buffer *b)
{
    (void)be;
    if (b) {
        free(b->impl);
        free(b);
    }
}

static jc_status cpu_upload(jc_backend *be, jc_buffer *b, size_t off, const void *src, size_t n, jc_error *err)
{
    (void)be;
    if (off + n > b->size)
        return jc_error_set(err, JC_ERR_INVALID, "cpu: upload past the end of a buffer");
    memcpy((char *)b->impl + off, src, n);
    return JC_OK;
}

static jc_status cpu_download(jc_backend *be, const jc_buffer *b, size_t off, void *dst, size_t n, jc_error *err)
{
    (void)be;
    if (off + n > b->size)
        return jc_error_set(err, JC_ERR_INVALID, "cpu: download past the end of a buffer");
    memcpy(dst, (const char *)b->impl + off, n);
    return JC_OK;
}

static int cpu_supports_op(const jc_backend *be, const jc_tensor *t)
{
    (void)be;
    return t->op < JC_OP_COUNT;
}

static jc_status run_node(jc_cpu_ctx *c, jc_tensor *t)
{
    switch (t->op) {
    case JC_OP_LEAF:
    case JC_OP_VIEW: return JC_OK;
    case JC_OP_MATMUL: return jc_cpu_matmul(c, t);
    case JC_OP_CONV1D: return jc_cpu_conv1d(c, t);
    case JC_OP_CONV1D_BWD_INPUT: return jc_cpu_conv1d_bwd_input(c, t);
    case JC_OP_CONV1D_BWD_WEIGHT: return jc_cpu_conv1d_bwd_weight(c, t);
    case JC_OP_BINARY: jc_cpu_binary(c, t); return JC_OK;
    case JC_OP_UNARY: jc_cpu_unary(c, t); return JC_OK;
    case JC_OP_UNARY_GRAD: jc_cpu_unary_grad(c, t); return JC_OK;
    case JC_OP_SCALE: jc_cpu_scale(c, t); return JC_OK;
    case JC_OP_SUM:
    case JC_OP_MAX: jc_cpu_reduce(c, t); return JC_OK;
    case JC_OP_PERMUTE: jc_cpu_permute(c, t); return JC_OK;
    case JC_OP_EXPAND: jc_cpu_expand(c, t); return JC_OK;
    case JC_OP_SLICE: jc_cpu_slice(c, t); return JC_OK;
    case JC_OP_PAD: jc_cpu_pad(c, t); return JC_OK;
    case JC_OP_PAD_REFLECT_GRAD: jc_cpu_pad_reflect_grad(c, t); return JC_OK;
    case JC_OP_CONCAT: jc_cpu_concat(c, t); return JC_OK;
    case JC_OP_DROPOUT: jc_cpu_dropout(c, t); return JC_OK;
    case JC_OP_FRAMES: jc_cpu_frames(c, t); return JC_OK;
    case JC_OP_FRAMES_GRAD: jc_cpu_frames_grad(c, t); return JC_OK;
    case JC_OP_ADAMW: jc_cpu_adamw(c, t); return JC_OK;
    case JC_OP_EMA: jc_cpu_ema(c, t); return JC_OK;
    case JC_OP_FMA_PEAK: jc_cpu_fma_peak(c, t); return JC_OK;
    case JC_OP_SOFTMAX:
    case JC_OP_SOFTMAX_GRAD: jc_cpu_softmax(c, t); return JC_OK;
    case JC_OP_RDFT:
    case JC_OP_RDFT_ADJOINT: return jc_cpu_rdft(c, t);
    case JC_OP_COUNT: break;
    }
    return JC_ERR_UNSUPPORTED;
}

static jc_status cpu_graph_compute(jc_backend *be, jc_graph *g, jc_error *err)
{
    jc_cpu_ctx *c = be->ctx;
    c->graph = g;
    int profile = jc_profile_level();
    for (int i = 0; i < g->n_exec; i++) {
        double t0 = profile ? jc_now_s() : 0;
        jc_status s = run_node(c, g->exec[i]);
        if (profile)
            g->exec[i]->profile_s = jc_now_s() - t0;
        if (s == JC_ERR_NOMEM)
            return jc_error_set(err, s, "cpu: out of memory computing %s", g->exec[i]->name);
        if (s)
            return jc_error_set(err, s, "cpu: cannot compute %s (operation %d)", g->exec[i]->name,
                                (int)g->exec[i]->op);
    }
    if (profile)
        jc_profile_report("cpu", g, profile);
    return JC_OK;
}

static const jc_backend_iface cpu_iface = {
    cpu_free, cpu_device_info, cpu_buffer_alloc, cpu_buffer_free, cpu_upload, cpu_download, cpu_supports_op,
    cpu_graph_compute,
};

static int default_threads(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("JC_NUM_THREADS");
    if (env && atoi(env) > 0)
        return atoi(env);
    return ncpu > 0 ? (int)ncpu : 1;
}

/* Our kernel by default: it matches OpenBLAS at the model's shapes (jepatok
 * bench), is deterministic for a thread count, and shares our pool instead
 * of running a second set of spinning threads.  JC_GEMM=cblas opts in. */
static jc_gemm_impl default_gemm(void)
{
    const char *env = getenv("JC_GEMM");
    if (env && strcmp(env, "cblas") == 0 && jc_sgemm_have_cblas())
        return JC_GEMM_CBLAS;
    return JC_GEMM_OWN;
}

int jc_cpu_devices(jc_device_info *out, int max, jc_error *err)
{
    (void)err;
    if (max > 0)
        fill_info(default_threads(), default_gemm(), out);
    return 1;
}

/* options: comma-separated "threads=N", "gemm=own|cblas"; the environment
 * (JC_NUM_THREADS, JC_GEMM) gives the defaults. */
jc_backend *jc_cpu_backend_new(const char *options, jc_error *err)
{
    int threads = jc_option_int(options, "threads", default_threads());
    if (threads < 1)
        threads = 1;
    jc_gemm_impl gemm = default_gemm();
    if (options && strstr(options, "gemm=own"))
        gemm = JC_GEMM_OWN;
    else if (options && strstr(options, "gemm=cblas"))
        gemm = jc_sgemm_have_cblas() ? JC_GEMM_CBLAS : JC_GEMM_OWN;
    jc_backend *be = calloc(1, sizeof *be);
    jc_cpu_ctx *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        jc_error_set(err, JC_ERR_NOMEM, "cpu backend: out of memory");
        return NULL;
    }
    c->pool = jc_threadpool_new(threads);
    if (!c->pool) {
        free(be);
        free(c);
        jc_error_set(err, JC_ERR_NOMEM, "cpu backend: cannot start threads");
        return NULL;
    }
    c->nthreads = jc_threadpool_size(c->pool);
    c->gemm = gemm;
    be->iface = &cpu_iface;
    be->ctx = c;
    snprintf(be->name, sizeof be->name, "cpu");
    return be;
}
