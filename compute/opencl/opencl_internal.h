/* opencl_internal.h: the OpenCL backend's context, the table of driver
 * functions resolved at run time, and the entry points shared by its files. */
#ifndef JC_OPENCL_INTERNAL_H
#define JC_OPENCL_INTERNAL_H

/* OpenCL 1.2 is what PoCL and every vendor driver still offer; at 3.0 the
 * headers mark clCreateCommandQueue deprecated, which breaks -Werror. */
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "../jc_internal.h"

/* Every driver function the backend calls.  The library never links
 * libOpenCL: the loader fills this table with dlsym, so the library starts
 * on machines without any OpenCL installation. */
#define JC_CL_FUNCS(X)                                                                                               \
    X(clGetPlatformIDs, cl_int, (cl_uint, cl_platform_id *, cl_uint *))                                              \
    X(clGetPlatformInfo, cl_int, (cl_platform_id, cl_platform_info, size_t, void *, size_t *))                        \
    X(clGetDeviceIDs, cl_int, (cl_platform_id, cl_device_type, cl_uint, cl_device_id *, cl_uint *))                  \
    X(clGetDeviceInfo, cl_int, (cl_device_id, cl_device_info, size_t, void *, size_t *))                              \
    X(clCreateContext, cl_context,                                                                                   \
      (const cl_context_properties *, cl_uint, const cl_device_id *,                                                 \
       void(CL_CALLBACK *)(const char *, const void *, size_t, void *), void *, cl_int *))                           \
    X(clReleaseContext, cl_int, (cl_context))                                                                        \
    X(clCreateCommandQueue, cl_command_queue, (cl_context, cl_device_id, cl_command_queue_properties, cl_int *))     \
    X(clReleaseCommandQueue, cl_int, (cl_command_queue))                                                             \
    X(clCreateBuffer, cl_mem, (cl_context, cl_mem_flags, size_t, void *, cl_int *))                                  \
    X(clReleaseMemObject, cl_int, (cl_mem))                                                                          \
    X(clEnqueueWriteBuffer, cl_int,                                                                                  \
      (cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint, const cl_event *, cl_event *))      \
    X(clEnqueueReadBuffer, cl_int,                                                                                   \
      (cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint, const cl_event *, cl_event *))            \
    X(clEnqueueFillBuffer, cl_int,                                                                                   \
      (cl_command_queue, cl_mem, const void *, size_t, size_t, size_t, cl_uint, const cl_event *, cl_event *))       \
    X(clEnqueueCopyBuffer, cl_int,                                                                                   \
      (cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint, const cl_event *, cl_event *))            \
    X(clCreateProgramWithSource, cl_program, (cl_context, cl_uint, const char **, const size_t *, cl_int *))         \
    X(clCreateProgramWithBinary, cl_program,                                                                         \
      (cl_context, cl_uint, const cl_device_id *, const size_t *, const unsigned char **, cl_int *, cl_int *))       \
    X(clBuildProgram, cl_int,                                                                                        \
      (cl_program, cl_uint, const cl_device_id *, const char *, void(CL_CALLBACK *)(cl_program, void *), void *))    \
    X(clGetProgramBuildInfo, cl_int, (cl_program, cl_device_id, cl_program_build_info, size_t, void *, size_t *))    \
    X(clGetProgramInfo, cl_int, (cl_program, cl_program_info, size_t, void *, size_t *))                             \
    X(clReleaseProgram, cl_int, (cl_program))                                                                        \
    X(clCreateKernel, cl_kernel, (cl_program, const char *, cl_int *))                                               \
    X(clReleaseKernel, cl_int, (cl_kernel))                                                                          \
    X(clSetKernelArg, cl_int, (cl_kernel, cl_uint, size_t, const void *))                                            \
    X(clGetKernelWorkGroupInfo, cl_int, (cl_kernel, cl_device_id, cl_kernel_work_group_info, size_t, void *, size_t *)) \
    X(clEnqueueNDRangeKernel, cl_int,                                                                                \
      (cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *, cl_uint,                \
       const cl_event *, cl_event *))                                                                                \
    X(clFlush, cl_int, (cl_command_queue))                                                                           \
    X(clFinish, cl_int, (cl_command_queue))

typedef struct {
    void *lib; /* dlopen handle */
#define JC_CL_FIELD(name, ret, args) ret(CL_API_CALL *name) args;
    JC_CL_FUNCS(JC_CL_FIELD)
#undef JC_CL_FIELD
} jc_cl_api;

/* opencl_loader.c: dlopen libOpenCL.so.1 (or libOpenCL.so) and resolve the
 * table.  JC_ERR_DEVICE with the install hint when the library is absent. */
jc_status jc_cl_load(jc_cl_api *api, jc_error *err);
void jc_cl_unload(jc_cl_api *api);
/* "CL_OUT_OF_RESOURCES" etc., or "unknown error" */
const char *jc_cl_error_name(cl_int code);
/* Out-of-memory codes map to JC_ERR_NOMEM, everything else to JC_ERR_DEVICE. */
jc_status jc_cl_status(cl_int code);

/* The kernels, one per name in opencl_program.c's list. */
typedef enum {
    K_BINARY,
    K_BINARY_SAME,
    K_UNARY,
    K_UNARY_GRAD,
    K_SCALE,
    K_DROPOUT,
    K_ADAMW,
    K_EMA,
    K_FMA_PEAK,
    K_REDUCE_ROWS,
    K_REDUCE_COLS,
    K_SOFTMAX_COLS,
    K_SOFTMAX_GROUPS,
    K_SOFTMAX_GRAD_GROUPS,
    K_RDFT,
    K_RDFT_ADJOINT,
    K_GATHER4,
    K_PAD,
    K_PAD_REFLECT_GRAD,
    K_CONCAT,
    K_FRAMES,
    K_FRAMES_GRAD,
    K_MATMUL,
    K_MATMUL_VEC,
    K_CONV_FWD,
    K_CONV_BWD_INPUT,
    K_CONV_BWD_WEIGHT,
    K_CONV_FWD_VEC,
    K_CONV_BWD_INPUT_VEC,
    K_CONV_BWD_WEIGHT_VEC,
    K_DW_FWD,
    K_DW_BWD_INPUT,
    K_DW_BWD_WEIGHT,
    K_COUNT
} jc_cl_kernel_id;

/* The fp16-product GEMM for inference graphs (JC_OPENCL_FP16, see
 * opencl_backend.c); the value is what kernels/gemm_product.cl's
 * JC_GEMM_F16 is defined to. */
enum {
    JC_CL_FP16_OFF = 0,
    JC_CL_FP16_HALF = 1,    /* cl_khr_fp16 half products */
    JC_CL_FP16_EMULATE = 2, /* the same numbers in fp32 arithmetic: for tests */
};

typedef struct {
    jc_cl_api api;
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel kernels[K_COUNT];
    /* the GEMM kernels built with fp16 products (fp16_mode != OFF): the
     * GEMM files alone, so the other entries stay NULL */
    int fp16_mode;
    cl_program program_f16;
    cl_kernel kernels_f16[K_COUNT];
    size_t wg[K_COUNT]; /* work-group size used for the 1-D kernels */
    jc_device_info info;
    uint64_t max_alloc; /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
    int vec_gemm;       /* CPU driver: gemm_vec.cl instead of the tiled kernels */
    int tile, tile_k;   /* the tiled kernels' TS x TS tile of C and TK-deep slices */
    int reduce_lanes;   /* JC_OPENCL_REDUCE_LANES: reduce_cols' lanes per output; 0 = by device */
    size_t acc_bytes;   /* the kernels' acc_t: double with cl_khr_fp64, else float */
    /* Scratch for two-pass reductions; grown before a graph is enqueued,
     * shared by its kernels (the in-order queue serialises them). */
    cl_mem scratch;
    size_t scratch_bytes;
    jc_graph *graph; /* the graph being enqueued (seed, training flag) */
} jc_cl_ctx;

/* opencl_cache.c: program binaries keyed by source, options and driver. */
uint64_t jc_cl_fnv1a(uint64_t h, const void *data, size_t n);
#define JC_FNV_OFFSET 0xcbf29ce484222325ULL
/* Binary for key, malloc'd (caller frees), or NULL when absent or corrupt. */
unsigned char *jc_cl_cache_load(uint64_t key, size_t *size);
/* Best effort: errors are ignored, the cache is only an accelerator. */
void jc_cl_cache_store(uint64_t key, const unsigned char *bin, size_t size);

/* opencl_program.c: build (or load from the cache) the one program holding
 * every kernel, and create the kernels; where fp16_mode is set, also the
 * program of the GEMM kernels with fp16 products. */
jc_status jc_cl_program_build(jc_cl_ctx *c, jc_error *err);
void jc_cl_program_release(jc_cl_ctx *c);

/* opencl_ops.c: enqueue the kernels of one node; the bytes of scratch the
 * node needs (0 for most). */
size_t jc_cl_node_scratch(const jc_cl_ctx *c, const jc_tensor *t);
cl_int jc_cl_enqueue_node(jc_cl_ctx *c, jc_tensor *t);
int jc_cl_node_supported(const jc_tensor *t);

/* generated by opencl.am from the .cl files in kernels/ (opencl_sources.c) */
extern const char *const jc_opencl_source_lines[];
extern const size_t jc_opencl_source_nlines;
/* the .cl file names; file i is lines [start[i], start[i + 1]) */
extern const char *const jc_opencl_source_files[];
extern const size_t jc_opencl_source_file_start[];
extern const size_t jc_opencl_source_nfiles;

#endif
