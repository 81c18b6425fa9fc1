/* opencl_program.c: every kernel lives in one program, built once per
 * backend (from the binary cache when possible), with the kernel objects
 * created up front so graph_compute only sets arguments and enqueues. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_internal.h"

/* In jc_cl_kernel_id order. */
static const char *const kernel_names[] = {
    "binary", "binary_same", "unary", "unary_grad", "scale", "dropout", "adamw", "ema", "fma_peak",
    "reduce_rows", "reduce_cols", "gather4", "pad", "pad_reflect_grad", "concat", "frames", "frames_grad",
    "matmul", "matmul_vec", "conv_fwd", "conv_bwd_input", "conv_bwd_weight",
    "conv_fwd_vec", "conv_bwd_input_vec", "conv_bwd_weight_vec", "dw_fwd", "dw_bwd_input", "dw_bwd_weight",
};
_Static_assert(sizeof kernel_names / sizeof kernel_names[0] == K_COUNT, "one name per jc_cl_kernel_id");

/* The operation codes the kernels switch on come from the C enums, so the
 * kernel sources never hold a copy of them that could drift. */
static void build_options(char *buf, size_t n)
{
    static const char *const bin[] = {"ADD", "SUB", "MUL", "DIV", "MIN", "MAX", "GE", "FSQ_VALUE", "FSQ_INDEX"};
    static const char *const un[] = {"EXP",  "LOG",      "SIN",  "COS",  "SQR",        "SQRT",  "ABS",  "TANH",
                                     "SIGMOID", "SOFTPLUS", "GELU", "SILU", "LEAKY_RELU", "CLAMP", "RECIP"};
    _Static_assert(sizeof bin / sizeof bin[0] == JC_BIN_COUNT, "binary kinds");
    _Static_assert(sizeof un / sizeof un[0] == JC_UN_COUNT, "unary kinds");
    size_t len = (size_t)snprintf(buf, n, "-cl-std=CL1.2 -DJC_ADAMW_LR=%d -DJC_ADAMW_BC1=%d -DJC_ADAMW_BC2=%d",
                                  JC_ADAMW_LR, JC_ADAMW_BC1, JC_ADAMW_BC2);
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

static uint64_t cache_key(jc_cl_ctx *c, const char *options)
{
    char s[512];
    uint64_t h = JC_FNV_OFFSET;
    for (size_t i = 0; i < jc_opencl_source_nlines; i++)
        h = jc_cl_fnv1a(h, jc_opencl_source_lines[i], strlen(jc_opencl_source_lines[i]));
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

static jc_status build_error(jc_cl_ctx *c, cl_program p, cl_int code, jc_error *err)
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
    return jc_error_set(err, JC_ERR_DEVICE, "OpenCL (%s): kernel build failed (%s): %.300s", c->info.name,
                        jc_cl_error_name(code), log[0] ? log : "no build log");
}

jc_status jc_cl_program_build(jc_cl_ctx *c, jc_error *err)
{
    char options[1024];
    build_options(options, sizeof options);
    uint64_t key = cache_key(c, options);
    c->program = from_binary(c, key, options);
    if (!c->program) {
        cl_int e = CL_SUCCESS;
        c->program = c->api.clCreateProgramWithSource(c->context, (cl_uint)jc_opencl_source_nlines,
                                                      (const char **)jc_opencl_source_lines, NULL, &e);
        if (!c->program || e != CL_SUCCESS)
            return build_error(c, NULL, e, err);
        e = c->api.clBuildProgram(c->program, 1, &c->device, options, NULL, NULL);
        if (e != CL_SUCCESS) {
            jc_status s = build_error(c, c->program, e, err);
            c->api.clReleaseProgram(c->program);
            c->program = NULL;
            return s;
        }
        save_binary(c, c->program, key);
    }
    for (int k = 0; k < K_COUNT; k++) {
        cl_int e = CL_SUCCESS;
        c->kernels[k] = c->api.clCreateKernel(c->program, kernel_names[k], &e);
        if (!c->kernels[k] || e != CL_SUCCESS)
            return jc_error_set(err, JC_ERR_DEVICE, "OpenCL (%s): kernel %s: %s", c->info.name, kernel_names[k],
                                jc_cl_error_name(e));
        size_t max = 0;
        if (c->api.clGetKernelWorkGroupInfo(c->kernels[k], c->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof max, &max,
                                            NULL) != CL_SUCCESS)
            max = 64;
        /* a power of two (the reduction trees halve it), at most 256 */
        size_t wg = 1;
        while (wg * 2 <= max && wg * 2 <= 256)
            wg *= 2;
        c->wg[k] = wg;
    }
    /* the GEMM kernels are compiled for 16 x 16 work-groups */
    static const jc_cl_kernel_id tiled[] = {K_MATMUL, K_CONV_FWD, K_CONV_BWD_INPUT, K_CONV_BWD_WEIGHT};
    for (size_t i = 0; i < sizeof tiled / sizeof tiled[0]; i++)
        if (c->wg[tiled[i]] < 256)
            return jc_error_set(err, JC_ERR_UNSUPPORTED,
                                "OpenCL (%s): kernel %s cannot run 256-item work-groups (at most %zu)", c->info.name,
                                kernel_names[tiled[i]], c->wg[tiled[i]]);
    return JC_OK;
}

void jc_cl_program_release(jc_cl_ctx *c)
{
    for (int k = 0; k < K_COUNT; k++)
        if (c->kernels[k]) {
            c->api.clReleaseKernel(c->kernels[k]);
            c->kernels[k] = NULL;
        }
    if (c->program) {
        c->api.clReleaseProgram(c->program);
        c->program = NULL;
    }
}
