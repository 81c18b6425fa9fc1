/* opencl_program.c: every kernel lives in one program, built once per
 * backend (from the binary cache when possible), with the kernel objects
 * created up front so graph_compute only sets arguments and enqueues.
 * Where the fp16-product GEMM is on, a second program holds the GEMM
 * kernels alone, built from the same files with -DJC_GEMM_F16 (see
 * kernels/gemm_product.cl). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_internal.h"

/* In jc_cl_kernel_id order. */
static const char *const kernel_names[] = {
    "binary", "binary_same", "unary", "unary_grad", "scale", "dropout", "adamw", "ema", "fma_peak",
    "reduce_rows", "reduce_cols", "softmax_cols", "softmax_groups", "softmax_grad_groups", "rdft", "rdft_adjoint", "gather4", "pad", "pad_reflect_grad", "concat", "frames", "frames_grad",
    "matmul", "matmul_vec", "conv_fwd", "conv_bwd_input", "conv_bwd_weight",
    "conv_fwd_vec", "conv_bwd_input_vec", "conv_bwd_weight_vec", "dw_fwd", "dw_bwd_input", "dw_bwd_weight",
};
_Static_assert(sizeof kernel_names / sizeof kernel_names[0] == K_COUNT, "one name per jc_cl_kernel_id");

/* The kernels of the fp16 program, and the files it is built from, in
 * program order (gemm_vec.cl uses gemm.cl's CONV_ARGS). */
static const jc_cl_kernel_id gemm_kernels[] = {
    K_MATMUL,     K_CONV_FWD,     K_CONV_BWD_INPUT,     K_CONV_BWD_WEIGHT,
    K_MATMUL_VEC, K_CONV_FWD_VEC, K_CONV_BWD_INPUT_VEC, K_CONV_BWD_WEIGHT_VEC,
};
static const char *const gemm_files[] = {"common.cl", "gemm_product.cl", "gemm.cl", "gemm_vec.cl"};

/* The operation codes the kernels switch on come from the C enums, so the
 * kernel sources never hold a copy of them that could drift. */
static void build_options(const jc_cl_ctx *c, char *buf, size_t n)
{
    static const char *const bin[] = {"ADD", "SUB", "MUL", "DIV", "MIN", "MAX", "GE", "FSQ_VALUE", "FSQ_INDEX"};
    static const char *const un[] = {"EXP",  "LOG",      "SIN",  "COS",  "SQR",        "SQRT",  "ABS",  "TANH",
                                     "SIGMOID", "SOFTPLUS", "GELU", "SILU", "LEAKY_RELU", "CLAMP", "RECIP"};
    _Static_assert(sizeof bin / sizeof bin[0] == JC_BIN_COUNT, "binary kinds");
    _Static_assert(sizeof un / sizeof un[0] == JC_UN_COUNT, "unary kinds");
    size_t len = (size_t)snprintf(buf, n,
                                  "-cl-std=CL1.2 -DJC_ADAMW_LR=%d -DJC_ADAMW_BC1=%d -DJC_ADAMW_BC2=%d -DTS=%d -DTK=%d",
                                  JC_ADAMW_LR, JC_ADAMW_BC1, JC_ADAMW_BC2, c->tile, c->tile_k);
    for (int i = 0; i < JC_BIN_COUNT && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, " -DJC_BIN_%s=%d", bin[i], i);
    for (int i = 0; i < JC_UN_COUNT && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, " -DJC_UN_%s=%d", un[i], i);
}

static void get_str(jc_cl_ctx *c, cl_device_info what, char *out, size_t n)
{
    out[0] = 0;
    if (c->api.clGetDeviceInfo(c->device, what, n, out, NULL) != CL_SUCCESS)
        out[0] = 0;
    out[n - 1] = 0;
}

static uint64_t cache_key(jc_cl_ctx *c, const char *const *lines, size_t nlines, const char *options)
{
    char s[512];
    uint64_t h = JC_FNV_OFFSET;
    for (size_t i = 0; i < nlines; i++)
        h = jc_cl_fnv1a(h, lines[i], strlen(lines[i]));
    h = jc_cl_fnv1a(h, options, strlen(options) + 1);
    static const cl_device_info parts[] = {CL_DEVICE_NAME, CL_DEVICE_VERSION, CL_DRIVER_VERSION};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        get_str(c, parts[i], s, sizeof s);
        h = jc_cl_fnv1a(h, s, strlen(s) + 1);
    }
    return h;
}

static cl_program from_binary(jc_cl_ctx *c, uint64_t key, const char *options)
{
    size_t size = 0;
    unsigned char *bin = jc_cl_cache_load(key, &size);
    if (!bin)
        return NULL;
    cl_int err = CL_SUCCESS, status = CL_SUCCESS;
    const unsigned char *bins[1] = {bin};
    cl_program p = c->api.clCreateProgramWithBinary(c->context, 1, &c->device, &size, bins, &status, &err);
    free(bin);
    if (p && (err != CL_SUCCESS || status != CL_SUCCESS ||
              c->api.clBuildProgram(p, 1, &c->device, options, NULL, NULL) != CL_SUCCESS)) {
        /* a driver update the key did not catch, or a foreign file */
        c->api.clReleaseProgram(p);
        p = NULL;
    }
    return p;
}

static void save_binary(jc_cl_ctx *c, cl_program p, uint64_t key)
{
    size_t size = 0;
    if (c->api.clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || size == 0)
        return;
    unsigned char *bin = malloc(size);
    unsigned char *bins[1] = {bin};
    if (bin && c->api.clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS)
        jc_cl_cache_store(key, bin, size);
    free(bin);
}

static jc_status build_error(jc_cl_ctx *c, cl_program p, const char *what, cl_int code, jc_error *err)
{
    char log[4096] = "";
    size_t len = 0;
    if (p)
        c->api.clGetProgramBuildInfo(p, c->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, &len);
    log[sizeof log - 1] = 0;
    /* the first lines name the failing file and line: keep those */
    for (char *q = log; *q; q++)
        if (*q == '\n')
            *q = ' ';
    return jc_error_set(err, JC_ERR_DEVICE, "OpenCL (%s): %s build failed (%s): %.300s", c->info.name, what,
                        jc_cl_error_name(code), log[0] ? log : "no build log");
}

/* A program from the given lines: from the cache, else compiled (and then
 * cached).  what names it in errors. */
static jc_status build_program(jc_cl_ctx *c, const char *const *lines, size_t nlines, const char *options,
                               const char *what, cl_program *out, jc_error *err)
{
    uint64_t key = cache_key(c, lines, nlines, options);
    cl_program p = from_binary(c, key, options);
    if (!p) {
        cl_int e = CL_SUCCESS;
        p = c->api.clCreateProgramWithSource(c->context, (cl_uint)nlines, (const char **)lines, NULL, &e);
        if (!p || e != CL_SUCCESS)
            return build_error(c, NULL, what, e, err);
        e = c->api.clBuildProgram(p, 1, &c->device, options, NULL, NULL);
        if (e != CL_SUCCESS) {
            jc_status s = build_error(c, p, what, e, err);
            c->api.clReleaseProgram(p);
            return s;
        }
        save_binary(c, p, key);
    }
    *out = p;
    return JC_OK;
}

/* Kernel k of program p, and the largest power-of-two work-group size (at
 * most 256) it can run: the reduction trees halve it. */
static jc_status create_kernel(jc_cl_ctx *c, cl_program p, jc_cl_kernel_id k, cl_kernel *out, size_t *wg_out,
                               jc_error *err)
{
    cl_int e = CL_SUCCESS;
    *out = c->api.clCreateKernel(p, kernel_names[k], &e);
    if (!*out || e != CL_SUCCESS)
        return jc_error_set(err, JC_ERR_DEVICE, "OpenCL (%s): kernel %s: %s", c->info.name, kernel_names[k],
                            jc_cl_error_name(e));
    size_t max = 0;
    if (c->api.clGetKernelWorkGroupInfo(*out, c->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof max, &max, NULL) !=
        CL_SUCCESS)
        max = 64;
    size_t wg = 1;
    while (wg * 2 <= max && wg * 2 <= 256)
        wg *= 2;
    /* the tiled GEMM kernels are compiled for 16 x 16 work-groups */
    if ((k == K_MATMUL || k == K_CONV_FWD || k == K_CONV_BWD_INPUT || k == K_CONV_BWD_WEIGHT) && wg < 256)
        return jc_error_set(err, JC_ERR_UNSUPPORTED,
                            "OpenCL (%s): kernel %s cannot run 256-item work-groups (at most %zu)", c->info.name,
                            kernel_names[k], wg);
    *wg_out = wg;
    return JC_OK;
}

/* The GEMM files' lines (gemm_files, in that order), malloc'd; NULL when
 * out of memory or a file is missing from the embedded sources. */
static const char **gemm_lines(size_t *n)
{
    size_t first[sizeof gemm_files / sizeof gemm_files[0]], count[sizeof gemm_files / sizeof gemm_files[0]];
    *n = 0;
    for (size_t i = 0; i < sizeof gemm_files / sizeof gemm_files[0]; i++) {
        size_t f = 0;
        while (f < jc_opencl_source_nfiles && strcmp(jc_opencl_source_files[f], gemm_files[i]) != 0)
            f++;
        if (f == jc_opencl_source_nfiles)
            return NULL;
        first[i] = jc_opencl_source_file_start[f];
        count[i] = jc_opencl_source_file_start[f + 1] - first[i];
        *n += count[i];
    }
    const char **lines = malloc(*n * sizeof *lines);
    if (!lines)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < sizeof gemm_files / sizeof gemm_files[0]; i++)
        for (size_t j = 0; j < count[i]; j++)
            lines[at++] = jc_opencl_source_lines[first[i] + j];
    return lines;
}

/* The fp16-product GEMM kernels: gemm_product.cl's JC_GEMM_F16 set to the
 * mode (cl_khr_fp16 half products, or their emulation). */
static jc_status build_fp16(jc_cl_ctx *c, const char *base_options, jc_error *err)
{
    char options[1100];
    snprintf(options, sizeof options, "%s -DJC_GEMM_F16=%d", base_options, c->fp16_mode);
    size_t n = 0;
    const char **lines = gemm_lines(&n);
    if (!lines)
        return jc_error_set(err, JC_ERR_NOMEM, "OpenCL (%s): fp16 GEMM sources: out of memory or incomplete",
                            c->info.name);
    jc_status s = build_program(c, lines, n, options,
                                c->fp16_mode == JC_CL_FP16_EMULATE
                                    ? "fp16 GEMM kernel (emulated, JC_OPENCL_FP16=emulate)"
                                    : "fp16 GEMM kernel (cl_khr_fp16, JC_OPENCL_FP16=1; unset it to run without)",
                                &c->program_f16, err);
    free(lines);
    for (size_t i = 0; s == JC_OK && i < sizeof gemm_kernels / sizeof gemm_kernels[0]; i++) {
        size_t wg = 0;
        s = create_kernel(c, c->program_f16, gemm_kernels[i], &c->kernels_f16[gemm_kernels[i]], &wg, err);
    }
    return s;
}

jc_status jc_cl_program_build(jc_cl_ctx *c, jc_error *err)
{
    char options[1024];
    build_options(c, options, sizeof options);
    jc_status s =
        build_program(c, jc_opencl_source_lines, jc_opencl_source_nlines, options, "kernel", &c->program, err);
    for (int k = 0; s == JC_OK && k < K_COUNT; k++)
        s = create_kernel(c, c->program, (jc_cl_kernel_id)k, &c->kernels[k], &c->wg[k], err);
    if (s == JC_OK && c->fp16_mode != JC_CL_FP16_OFF)
        s = build_fp16(c, options, err);
    return s;
}

static void release_program(jc_cl_ctx *c, cl_program *p, cl_kernel *kernels)
{
    for (int k = 0; k < K_COUNT; k++)
        if (kernels[k]) {
            c->api.clReleaseKernel(kernels[k]);
            kernels[k] = NULL;
        }
    if (*p) {
        c->api.clReleaseProgram(*p);
        *p = NULL;
    }
}

void jc_cl_program_release(jc_cl_ctx *c)
{
    release_program(c, &c->program_f16, c->kernels_f16);
    release_program(c, &c->program, c->kernels);
}
