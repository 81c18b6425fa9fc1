/* opencl_backend.c: the OpenCL backend's devices, buffers and graph
 * execution.  One context, one in-order queue per backend: a graph's
 * kernels are enqueued back to back and the host waits once at the end.
 *
 * Environment:
 *   JC_OPENCL_GEMM=tiled|vec  matrix-product and convolution kernels: the
 *       local-memory tiled ones (default on GPUs) or the register-blocked
 *       float8 ones (default on CPU drivers such as PoCL, ~5x faster there)
 *   JC_OPENCL_NO_CACHE=1      neither read nor write the program-binary cache
 *   JC_OPENCL_FP16=1          fp16 products summed in fp32 in inference
 *       graphs' GEMMs where the device offers cl_khr_fp16 (default off; see
 *       fp16_mode)
 *   JC_OPENCL_FP16=emulate    fp16 products emulated in fp32 arithmetic on
 *       any device: the same numbers, slower; so that tests exercise the
 *       path on drivers without cl_khr_fp16 (PoCL) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_internal.h"

/* ------------------------------------------------------------- devices */

typedef struct {
    cl_platform_id platform;
    cl_device_id device;
} device_ref;

/* Flattened (platform, device) list across every platform; device=N of the
 * options indexes it.  Returns the count, or -1 with err set. */
static int list_devices(jc_cl_api *api, device_ref *out, int max, jc_error *err)
{
    cl_platform_id plats[16];
    cl_uint np = 0;
    cl_int e = api->clGetPlatformIDs(16, plats, &np);
    if (e == -1001 /* CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no driver */ || (e == CL_SUCCESS && np == 0)) {
        jc_error_set(err, JC_ERR_DEVICE,
                     "OpenCL: no platform found (no driver installed: apt-get install pocl-opencl-icd or a GPU "
                     "vendor's OpenCL driver)");
        return -1;
    }
    if (e != CL_SUCCESS) {
        jc_error_set(err, JC_ERR_DEVICE, "OpenCL: clGetPlatformIDs failed (%s)", jc_cl_error_name(e));
        return -1;
    }
    if (np > 16)
        np = 16;
    int n = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devs[32];
        cl_uint nd = 0;
        if (api->clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 32, devs, &nd) != CL_SUCCESS)
            continue; /* CL_DEVICE_NOT_FOUND: a platform without devices */
        for (cl_uint d = 0; d < nd && d < 32; d++, n++)
            if (n < max)
                out[n] = (device_ref){plats[p], devs[d]};
    }
    if (n == 0)
        jc_error_set(err, JC_ERR_DEVICE, "OpenCL: %u platform(s) but no device", np);
    return n;
}

static void dev_str(jc_cl_api *api, cl_device_id d, cl_device_info what, char *out, size_t n)
{
    if (api->clGetDeviceInfo(d, what, n, out, NULL) != CL_SUCCESS)
        out[0] = 0;
    out[n - 1] = 0;
}

/* 1 if the space-separated extension list names ext */
static int has_extension(const char *list, const char *ext)
{
    size_t len = strlen(ext);
    for (const char *p = list; (p = strstr(p, ext)) != NULL; p += len)
        if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == 0))
            return 1;
    return 0;
}

/* The fp16-product GEMM for inference graphs, given whether the device
 * offers cl_khr_fp16.  It only ever serves inference graphs (the codec's
 * encoder and decoder), where ~1e-3 relative error per product buys up to
 * twice the arithmetic rate on GPUs with packed fp16 ALUs.  Unlike
 * Vulkan's, it is OFF unless JC_OPENCL_FP16=1 asks for it: its half
 * kernels have never run on a device (PoCL, the only OpenCL driver of the
 * development machines, has no cl_khr_fp16), and an untested kernel must
 * not be what a user's first GPU run executes.  Turn the default on once
 * tests/test-opencl-fp16 has passed on GPUs. */
static int fp16_mode(int has_khr_fp16)
{
    const char *v = getenv("JC_OPENCL_FP16");
    if (v && !strcmp(v, "emulate"))
        return JC_CL_FP16_EMULATE;
    if (v && atoi(v) > 0 && has_khr_fp16)
        return JC_CL_FP16_HALF;
    return JC_CL_FP16_OFF;
}

static void fill_info(jc_cl_api *api, device_ref r, jc_device_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->backend, sizeof info->backend, "opencl");
    dev_str(api, r.device, CL_DEVICE_NAME, info->name, sizeof info->name);
    dev_str(api, r.device, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    char plat[96] = "", drv[64] = "";
    if (api->clGetPlatformInfo(r.platform, CL_PLATFORM_NAME, sizeof plat, plat, NULL) != CL_SUCCESS)
        plat[0] = 0;
    plat[sizeof plat - 1] = 0;
    dev_str(api, r.device, CL_DRIVER_VERSION, drv, sizeof drv);
    snprintf(info->driver, sizeof info->driver, "%s %s", plat, drv);
    cl_ulong mem = 0;
    cl_uint cu = 0;
    cl_device_type type = 0;
    api->clGetDeviceInfo(r.device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
    api->clGetDeviceInfo(r.device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    api->clGetDeviceInfo(r.device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    info->memory_bytes = mem;
    info->compute_units = (int)cu;
    info->is_cpu_driver = (type & CL_DEVICE_TYPE_CPU) != 0;
    char ext[8192];
    dev_str(api, r.device, CL_DEVICE_EXTENSIONS, ext, sizeof ext);
    info->fp16 = has_extension(ext, "cl_khr_fp16");
    info->fp16_gemm = fp16_mode(info->fp16) != JC_CL_FP16_OFF;
    info->subgroup_size = 0;      /* OpenCL 1.2 has no portable query */
    info->cooperative_matrix = 0; /* no such thing in OpenCL C 1.2 */
}

int jc_opencl_devices(jc_device_info *out, int max, jc_error *err)
{
    jc_cl_api api;
    if (jc_cl_load(&api, err) != JC_OK)
        return 0;
    device_ref refs[64];
    int n = list_devices(&api, refs, 64, err);
    if (n < 0)
        n = 0;
    for (int i = 0; i < n && i < max && i < 64; i++)
        fill_info(&api, refs[i], &out[i]);
    jc_cl_unload(&api);
    return n;
}

/* ------------------------------------------------------------ backend */

static void release_ctx(jc_cl_ctx *c)
{
    if (c->scratch)
        c->api.clReleaseMemObject(c->scratch);
    jc_cl_program_release(c);
    if (c->queue)
        c->api.clReleaseCommandQueue(c->queue);
    if (c->context)
        c->api.clReleaseContext(c->context);
    jc_cl_unload(&c->api);
    free(c);
}

static void ocl_free(jc_backend *be)
{
    jc_cl_ctx *c = be->ctx;
    if (c->queue)
        c->api.clFinish(c->queue);
    release_ctx(c);
    free(be);
}

static void ocl_device_info(const jc_backend *be, jc_device_info *info)
{
    const jc_cl_ctx *c = be->ctx;
    *info = c->info;
}

static jc_status ocl_fail(jc_cl_ctx *c, cl_int e, const char *what, jc_error *err)
{
    jc_status s = jc_cl_status(e);
    return jc_error_set(err, s, "OpenCL (%s): %s: %s%s", c->info.name, what, jc_cl_error_name(e),
                        s == JC_ERR_NOMEM ? " (out of device memory or resources)" : "");
}

static jc_status ocl_buffer_alloc(jc_backend *be, size_t size, jc_buffer **out, jc_error *err)
{
    jc_cl_ctx *c = be->ctx;
    /* whole 256-byte units: non-empty, and a multiple of the fill pattern */
    size_t rounded = (size + 255) / 256 * 256;
    if (rounded == 0)
        rounded = 256;
    if (rounded > c->max_alloc)
        return jc_error_set(err, JC_ERR_NOMEM,
                            "OpenCL (%s): a buffer of %.1f MiB exceeds the device's largest allocation "
                            "(CL_DEVICE_MAX_MEM_ALLOC_SIZE %.1f MiB)",
                            c->info.name, (double)size / 1048576.0, (double)c->max_alloc / 1048576.0);
    jc_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return jc_error_set(err, JC_ERR_NOMEM, "OpenCL: out of host memory");
    cl_int e = CL_SUCCESS;
    cl_mem m = c->api.clCreateBuffer(c->context, CL_MEM_READ_WRITE, rounded, NULL, &e);
    if (!m || e != CL_SUCCESS) {
        free(b);
        return ocl_fail(c, e, "cannot allocate a buffer", err);
    }
    /* Zero it, and wait: many drivers allocate lazily, so this is where an
     * out-of-memory condition shows up rather than in a later kernel. */
    cl_float zero = 0.0f;
    e = c->api.clEnqueueFillBuffer(c->queue, m, &zero, sizeof zero, 0, rounded, 0, NULL, NULL);
    if (e == CL_SUCCESS)
        e = c->api.clFinish(c->queue);
    if (e != CL_SUCCESS) {
        c->api.clReleaseMemObject(m);
        free(b);
        char what[96];
        snprintf(what, sizeof what, "cannot allocate %.1f MiB", (double)size / 1048576.0);
        return ocl_fail(c, e, what, err);
    }
    b->be = be;
    b->size = size;
    b->impl = m;
    *out = b;
    return JC_OK;
}

static void ocl_buffer_free(jc_backend *be, jc_buffer *b)
{
    jc_cl_ctx *c = be->ctx;
    if (!b)
        return;
    /* the driver keeps the memory until commands using it have finished */
    c->api.clReleaseMemObject((cl_mem)b->impl);
    free(b);
}

static jc_status ocl_upload(jc_backend *be, jc_buffer *b, size_t off, const void *src, size_t n, jc_error *err)
{
    jc_cl_ctx *c = be->ctx;
    if (off + n > b->size)
        return jc_error_set(err, JC_ERR_INVALID, "OpenCL: upload past the end of a buffer");
    if (n == 0)
        return JC_OK;
    cl_int e = c->api.clEnqueueWriteBuffer(c->queue, (cl_mem)b->impl, CL_TRUE, off, n, src, 0, NULL, NULL);
    return e == CL_SUCCESS ? JC_OK : ocl_fail(c, e, "upload", err);
}

static jc_status ocl_download(jc_backend *be, const jc_buffer *b, size_t off, void *dst, size_t n, jc_error *err)
{
    jc_cl_ctx *c = be->ctx;
    if (off + n > b->size)
        return jc_error_set(err, JC_ERR_INVALID, "OpenCL: download past the end of a buffer");
    if (n == 0)
        return JC_OK;
    cl_int e = c->api.clEnqueueReadBuffer(c->queue, (cl_mem)b->impl, CL_TRUE, off, n, dst, 0, NULL, NULL);
    return e == CL_SUCCESS ? JC_OK : ocl_fail(c, e, "download", err);
}

static int ocl_supports_op(const jc_backend *be, const jc_tensor *t)
{
    (void)be;
    return jc_cl_node_supported(t);
}

static jc_status ocl_graph_compute(jc_backend *be, jc_graph *g, jc_error *err)
{
    jc_cl_ctx *c = be->ctx;
    c->graph = g;
    size_t need = 0;
    for (int i = 0; i < g->n_exec; i++) {
        size_t s = jc_cl_node_scratch(c, g->exec[i]);
        need = s > need ? s : need;
    }
    if (need > c->scratch_bytes) {
        if (c->scratch)
            c->api.clReleaseMemObject(c->scratch);
        c->scratch_bytes = 0;
        cl_int e = CL_SUCCESS;
        c->scratch = c->api.clCreateBuffer(c->context, CL_MEM_READ_WRITE, need, NULL, &e);
        if (!c->scratch || e != CL_SUCCESS) {
            c->scratch = NULL;
            return ocl_fail(c, e, "cannot allocate reduction scratch", err);
        }
        c->scratch_bytes = need;
    }
    /* JC_PROFILE: wait after each node and time it on the host */
    int profile = jc_profile_level();
    for (int i = 0; i < g->n_exec; i++) {
        jc_tensor *t = g->exec[i];
        double t0 = profile ? jc_now_s() : 0;
        cl_int e = jc_cl_enqueue_node(c, t);
        if (e == CL_SUCCESS && profile) {
            e = c->api.clFinish(c->queue);
            t->profile_s = jc_now_s() - t0;
        }
        if (e != CL_SUCCESS) {
            c->api.clFinish(c->queue); /* leave nothing in flight behind an error */
            char what[160];
            snprintf(what, sizeof what, "enqueueing %s (operation %d)", t->name, (int)t->op);
            return ocl_fail(c, e, what, err);
        }
    }
    cl_int e = c->api.clFinish(c->queue);
    if (e != CL_SUCCESS)
        return ocl_fail(c, e, "running the graph (device lost or a kernel failed)", err);
    if (profile)
        jc_profile_report("opencl", g, profile);
    return JC_OK;
}

static const jc_backend_iface ocl_iface = {
    ocl_free, ocl_device_info, ocl_buffer_alloc, ocl_buffer_free, ocl_upload, ocl_download, ocl_supports_op,
    ocl_graph_compute,
};

/* The tiled GEMM kernels' tile: 64 x 64 of C in 16-deep slices, or
 * JC_OPENCL_GEMM_TILE=ts,tk (tuning: ts 32, 64 or 128; tk 8, 16 or 32; the
 * 16 x 16 items must load a slice of each operand in whole rounds). */
static void gemm_tile(jc_cl_ctx *c)
{
    c->tile = 64;
    c->tile_k = 16;
    const char *e = getenv("JC_OPENCL_GEMM_TILE");
    int ts, tk;
    if (e && sscanf(e, "%d,%d", &ts, &tk) == 2 && (ts == 32 || ts == 64 || ts == 128) &&
        (tk == 8 || tk == 16 || tk == 32) && ts * tk % 256 == 0) {
        c->tile = ts;
        c->tile_k = tk;
    }
}

/* options: "device=N" indexes the flattened device list (default 0). */
jc_backend *jc_opencl_backend_new(const char *options, jc_error *err)
{
    jc_cl_ctx *c = calloc(1, sizeof *c);
    jc_backend *be = calloc(1, sizeof *be);
    if (!c || !be) {
        free(c);
        free(be);
        jc_error_set(err, JC_ERR_NOMEM, "OpenCL backend: out of memory");
        return NULL;
    }
    if (jc_cl_load(&c->api, err) != JC_OK) {
        free(c);
        free(be);
        return NULL;
    }
    device_ref refs[64];
    int n = list_devices(&c->api, refs, 64, err);
    int want = jc_option_int(options, "device", 0);
    if (n > 0 && (want < 0 || want >= n || want >= 64))
        jc_error_set(err, JC_ERR_DEVICE, "OpenCL: device %d requested but %d found (device=0..%d)", want, n, n - 1);
    if (n <= 0 || want < 0 || want >= n || want >= 64)
        goto fail;
    c->platform = refs[want].platform;
    c->device = refs[want].device;
    fill_info(&c->api, refs[want], &c->info);

    char cver[64] = "", ext[8192] = "";
    dev_str(&c->api, c->device, CL_DEVICE_OPENCL_C_VERSION, cver, sizeof cver);
    int major = 0, minor = 0;
    if (sscanf(cver, "OpenCL C %d.%d", &major, &minor) != 2 || major * 10 + minor < 12) {
        jc_error_set(err, JC_ERR_UNSUPPORTED, "OpenCL (%s): needs OpenCL C 1.2, device offers '%s'", c->info.name,
                     cver);
        goto fail;
    }
    dev_str(&c->api, c->device, CL_DEVICE_EXTENSIONS, ext, sizeof ext);
    c->acc_bytes = has_extension(ext, "cl_khr_fp64") ? sizeof(cl_double) : sizeof(cl_float);
    const char *gemm_env = getenv("JC_OPENCL_GEMM");
    c->vec_gemm = gemm_env ? strcmp(gemm_env, "vec") == 0 : c->info.is_cpu_driver;
    gemm_tile(c);
    const char *lanes_env = getenv("JC_OPENCL_REDUCE_LANES");
    c->reduce_lanes = lanes_env ? atoi(lanes_env) : 0;
    c->fp16_mode = fp16_mode(c->info.fp16);
    cl_ulong max_alloc = 0;
    c->api.clGetDeviceInfo(c->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL);
    c->max_alloc = max_alloc;
    c->info.max_buffer_bytes = max_alloc;

    cl_int e = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)c->platform, 0};
    c->context = c->api.clCreateContext(props, 1, &c->device, NULL, NULL, &e);
    if (!c->context || e != CL_SUCCESS) {
        ocl_fail(c, e, "cannot create a context", err);
        goto fail;
    }
    c->queue = c->api.clCreateCommandQueue(c->context, c->device, 0, &e); /* in order */
    if (!c->queue || e != CL_SUCCESS) {
        ocl_fail(c, e, "cannot create a command queue", err);
        goto fail;
    }
    if (jc_cl_program_build(c, err) != JC_OK)
        goto fail;
    be->iface = &ocl_iface;
    be->ctx = c;
    snprintf(be->name, sizeof be->name, "opencl");
    return be;
fail:
    release_ctx(c);
    free(be);
    return NULL;
}
