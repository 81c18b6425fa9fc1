/* jc_internal.h: the structures shared by the compute layer and its backends.
 * Not installed: users see only jc.h. */
#ifndef JC_INTERNAL_H
#define JC_INTERNAL_H

#include "jc.h"

#define JC_MAX_SRC 6
#define JC_MAX_IPARAMS 8
#define JC_MAX_FPARAMS 4
#define JC_NAME_LEN 96
/* Offsets inside an arena are aligned for every GPU API's storage-buffer
 * offset rule (minStorageBufferOffsetAlignment is at most 256). */
#define JC_ALIGN 256

/* Operations the backends implement.  Everything else in jc.h (mean, var,
 * softmax, layer_norm, losses, STFT...) is composed from these, so a new
 * backend has a short list to write, and fused kernels can be added later
 * behind the same constructors. */
typedef enum {
    JC_OP_LEAF = 0,         /* input, constant or store tensor: no kernel */
    JC_OP_VIEW,             /* reshape / stop-gradient: aliases src[0] */
    JC_OP_MATMUL,           /* ip: trans_a, trans_b */
    JC_OP_CONV1D,           /* src: x, w, [bias]; ip: stride, pad_l, pad_r, dilation, groups */
    JC_OP_CONV1D_BWD_INPUT, /* src: dy, w, [bias]; output is dx (= conv_transpose1d); ip as CONV1D */
    JC_OP_CONV1D_BWD_WEIGHT,/* src: x, dy; output is dw; ip as CONV1D, ip[5] = K */
    JC_OP_BINARY,           /* kind: jc_binary_kind, numpy broadcasting */
    JC_OP_UNARY,            /* kind: jc_unary_kind; fp: kind parameters */
    JC_OP_UNARY_GRAD,       /* src: x, y, dy -> dx; kind and fp as the forward */
    JC_OP_SCALE,            /* fp[0] * x + fp[1] */
    JC_OP_SUM,              /* ip[0] axis, kept with length 1 */
    JC_OP_MAX,              /* ip[0] axis */
    JC_OP_PERMUTE,          /* ip[0..3] source axis of each output axis */
    JC_OP_EXPAND,           /* broadcast src to the output shape */
    JC_OP_SLICE,            /* ip: axis, start */
    JC_OP_PAD,              /* ip: axis, before, after, mode */
    JC_OP_PAD_REFLECT_GRAD, /* ip: axis, before, after: folds reflected gradients back */
    JC_OP_CONCAT,           /* ip[0] axis */
    JC_OP_DROPOUT,          /* fp[0] p; ip[0] salt; uses the graph's seed */
    JC_OP_FRAMES,           /* ip: n_fft, hop */
    JC_OP_FRAMES_GRAD,      /* overlap-add of frame gradients; ip: n_fft, hop */
    JC_OP_ADAMW,            /* src: param, grad, m, v, hyper, clip scale; fp: b1, b2, eps, wd; in place */
    JC_OP_EMA,              /* src: target, online; fp[0] decay; in place on target */
    JC_OP_FMA_PEAK,         /* benchmark only: 8 chains of ip[0] FMAs per element (bench ops) */
    JC_OP_SOFTMAX,          /* ip[0] axis: exp(x - max) / sum, fused */
    JC_OP_SOFTMAX_GRAD,     /* src: y (the softmax), dy -> dx = y * (dy - sum(dy * y)); ip[0] axis */
    JC_OP_RDFT,             /* real DFT along the last axis -> [..., 2 (N/2+1)]; src: x, twiddles; ip: N (a power of two), log2(N/2) */
    JC_OP_RDFT_ADJOINT,     /* its transpose: [..., 2 (N/2+1)] -> [..., N]; src and ip as RDFT */
    JC_OP_COUNT
} jc_op;

/* The GPU backends transform a row of the real DFT in shared memory (2 x
 * N/2 floats, 16 KiB at this N, the least Vulkan promises); longer rows
 * are an error there, not a fallback. */
#define JC_RDFT_GPU_MAX_N 4096

typedef enum {
    JC_BIN_ADD, JC_BIN_SUB, JC_BIN_MUL, JC_BIN_DIV, JC_BIN_MIN, JC_BIN_MAX,
    JC_BIN_GE,        /* 1 where a >= b else 0 */
    JC_BIN_FSQ_VALUE, /* a = z, b = levels: quantised value */
    JC_BIN_FSQ_INDEX, /* a = z, b = levels: level index */
    JC_BIN_COUNT
} jc_binary_kind;

typedef enum {
    JC_UN_EXP, JC_UN_LOG, JC_UN_SIN, JC_UN_COS, JC_UN_SQR, JC_UN_SQRT, JC_UN_ABS, JC_UN_TANH,
    JC_UN_SIGMOID, JC_UN_SOFTPLUS, JC_UN_GELU, JC_UN_SILU, JC_UN_LEAKY_RELU, JC_UN_CLAMP,
    JC_UN_RECIP,
    JC_UN_COUNT
} jc_unary_kind;

/* ADAMW reads its step-dependent scalars from a small store tensor so the
 * host updates 5 floats per step instead of re-recording the graph. */
enum { JC_ADAMW_LR, JC_ADAMW_BC1, JC_ADAMW_BC2, JC_ADAMW_HYPER_N };

/* Flags of a tensor. */
enum {
    JC_F_STORE = 1 << 0,     /* lives in a jc_store */
    JC_F_TRAINABLE = 1 << 1, /* store parameter that receives a gradient */
    JC_F_INPUT = 1 << 2,     /* graph input set by the host */
    JC_F_CONST = 1 << 3,     /* graph constant */
    JC_F_OUTPUT = 1 << 4,    /* kept alive after compute */
    JC_F_EFFECT = 1 << 5,    /* writes persistent memory: always runs */
    JC_F_NO_GRAD = 1 << 6    /* gradient does not flow through this op */
};

typedef struct jc_buffer {
    struct jc_backend *be;
    size_t size;
    void *impl; /* backend's handle; host pointer for the CPU backend */
} jc_buffer;

struct jc_tensor {
    int ndim;
    int64_t shape[JC_MAX_DIMS];
    jc_op op;
    int kind;
    jc_tensor *src[JC_MAX_SRC];
    int32_t ip[JC_MAX_IPARAMS];
    float fp[JC_MAX_FPARAMS];
    int flags;
    char name[JC_NAME_LEN];

    /* Storage: buf + offset.  Views and in-place ops alias their base. */
    jc_tensor *view_of;
    jc_buffer *buf;
    size_t offset;

    struct jc_graph *graph; /* NULL for store tensors */
    struct jc_store *store;
    int id;                 /* index in graph->nodes, or in the store */
    float *host_init;       /* constants: contents until the graph is built */
    double profile_s;       /* JC_PROFILE: seconds of this node in the last profiled run */
};

typedef struct {
    void (*free)(struct jc_backend *be);
    void (*device_info)(const struct jc_backend *be, jc_device_info *info);
    jc_status (*buffer_alloc)(struct jc_backend *be, size_t size, jc_buffer **out, jc_error *err);
    void (*buffer_free)(struct jc_backend *be, jc_buffer *buf);
    jc_status (*upload)(struct jc_backend *be, jc_buffer *buf, size_t offset, const void *src, size_t n,
                        jc_error *err);
    jc_status (*download)(struct jc_backend *be, const jc_buffer *buf, size_t offset, void *dst, size_t n,
                          jc_error *err);
    /* buffer_alloc returns zero-filled memory. */
    /* Returns 1 if the backend can run this node. */
    int (*supports_op)(const struct jc_backend *be, const jc_tensor *node);
    jc_status (*graph_compute)(struct jc_backend *be, struct jc_graph *g, jc_error *err);
} jc_backend_iface;

struct jc_backend {
    const jc_backend_iface *iface;
    void *ctx;
    char name[16];
};

typedef struct {
    const jc_tensor *param;
    jc_tensor *grad;
} jc_grad_entry;

struct jc_graph {
    jc_backend *be;
    jc_tensor **nodes; /* every recorded tensor, in recording order */
    int n_nodes, cap_nodes;
    jc_tensor **exec;  /* the operations to run, in order (after build) */
    int n_exec;
    /* gradients, after jc_backward */
    jc_tensor **grad_of_node; /* indexed by node id (cap_nodes long) */
    jc_grad_entry *store_grads;
    int n_store_grads;

    /* The planned tensors' memory: one buffer, or several where it exceeds
     * the device's largest buffer (max_buffer, from the device; a test may
     * set it smaller before the build), each holding whole tensors. */
    jc_buffer **arenas;
    int n_arenas;
    size_t max_buffer;
    jc_buffer *const_buf;
    uint64_t seed;
    int training;
    int allow_fp16;        /* jc_graph_allow_fp16 */
    int has_gradient_ops;  /* backward or optimiser operations recorded (set by build) */
    int built;
    int dropout_salt;
    jc_error err; /* sticky recording error */
    jc_graph_stats stats;
};

struct jc_store {
    jc_backend *be;
    jc_tensor **t;
    int n, cap;
};

/* graph.c */
jc_tensor *jc_new_node(jc_graph *g, jc_op op, int ndim, const int64_t *shape);
int jc_graph_failed(jc_graph *g); /* 1 if a recording error is pending */
void jc_graph_fail(jc_graph *g, jc_status code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* 1 if the backend may run g's GEMMs with fp16 products: an inference
 * graph (no gradient or optimiser operations) whose owner allows it. */
int jc_graph_fp16_ok(const jc_graph *g);
/* Tensor whose storage t uses (follows views). */
jc_tensor *jc_storage_base(jc_tensor *t);

/* shape helpers (tensor.c) */
int jc_norm_axis(int ndim, int axis); /* -1 if out of range */
int jc_same_shape(const jc_tensor *a, const jc_tensor *b);
size_t jc_tensor_bytes(const jc_tensor *t);
/* t viewed as [outer, n, inner] around axis (n = its length), as the
 * reductions and softmax kernels of every backend walk it. */
void jc_split_axis(const jc_tensor *t, int axis, int64_t *outer, int64_t *n, int64_t *inner);
void jc_shape_str(const jc_tensor *t, char *buf, size_t n);

/* Split-K for a convolution's weight gradient on the GPU backends: its
 * reduction runs over every (batch, time) step, while its output (cout x
 * cin*K per group) is often a few tiles, so a few workgroups would each
 * loop over all of it (HiFi-GAN's 12-channel layers at 48000 samples:
 * 35 ms each on an H200).  Given the workgroups (or, for kernels whose
 * driver picks the workgroup, items) the product has without a split,
 * returns the time steps per split (a multiple of 8; each workgroup then
 * writes a partial dw to scratch, and a sum over the splits follows), or 0
 * where splitting does not pay.  Splits aim at 1024 workgroups in all on
 * GPUs, enough to fill a large one several times, and 16 on CPU drivers, a
 * few per core. */
static inline int64_t jc_conv_weight_split(int64_t B, int64_t Tout, int64_t workgroups, int is_cpu_driver)
{
    int64_t wanted = is_cpu_driver ? 16 : 1024;
    int64_t splits = (wanted + workgroups - 1) / workgroups;
    if (splits > B * Tout / 256) /* at least 256 steps of reduction each */
        splits = B * Tout / 256;
    if (splits > Tout / 8)
        splits = Tout / 8;
    if (splits < 2)
        return 0;
    return ((Tout + splits - 1) / splits + 7) / 8 * 8;
}

/* Output phases of a convolution's input gradient (= transposed
 * convolution) on the GPU backends: output column n receives only the taps
 * k with n + pad - k*dil a multiple of stride.  With dil 1 those are
 * k = (n + pad) mod stride + i*stride, so the kernels split the columns
 * into `stride` phases and reduce each over its own ceil(K/stride) taps
 * per channel, instead of gathering over all K and multiplying by zero
 * stride-1 times in stride (7 of 8 for HiFi-GAN's x8 upsampling).  With
 * dil > 1 a phase's taps are not every stride-th one: 1, a masked gather
 * over every tap. */
static inline int jc_conv_input_phases(int stride, int dil) { return stride > 1 && dil == 1 ? stride : 1; }

/* profile.c: JC_PROFILE (0 unset, 1 per operation kind, 2 also the slowest
 * nodes); after a run whose nodes' profile_s were filled, the report. */
double jc_now_s(void);
int jc_profile_level(void);
/* "conv1d", "rdft", ...: an operation's name in profiles and errors */
const char *jc_op_name(jc_op op);
void jc_profile_report(const char *backend, const jc_graph *g, int level);
/* numpy broadcast of two shapes; returns 0 if incompatible. */
int jc_broadcast_shape(const jc_tensor *a, const jc_tensor *b, int *ndim, int64_t *shape);
/* strides (in elements) of t seen through an output shape of ndim dims,
 * right-aligned, 0 on broadcast axes. */
void jc_broadcast_strides(const jc_tensor *t, int ndim, const int64_t *out_shape, int64_t *strides);

/* planner.c: assigns offsets to g->exec's tensors in one address space
 * cut into segments of `segment` bytes (0: one segment), no tensor across
 * a boundary, so that segment k can be buffer k; fills g->stats. */
jc_status jc_plan_memory(jc_graph *g, size_t segment, size_t *arena_size, jc_error *err);

/* Backend constructors and device enumeration (backend.c's table).  Each
 * GPU backend lives in its own directory and is compiled in when configure
 * finds its headers (JC_WITH_OPENCL, JC_WITH_VULKAN). */
jc_backend *jc_cpu_backend_new(const char *options, jc_error *err);
int jc_cpu_devices(jc_device_info *out, int max, jc_error *err);
jc_backend *jc_opencl_backend_new(const char *options, jc_error *err);
int jc_opencl_devices(jc_device_info *out, int max, jc_error *err);
jc_backend *jc_vulkan_backend_new(const char *options, jc_error *err);
int jc_vulkan_devices(jc_device_info *out, int max, jc_error *err);
/* Value of "key=" in a comma-separated option string, or dflt. */
int jc_option_int(const char *options, const char *key, int dflt);

/* The length of a conv1d output. */
int64_t jc_conv1d_out_len(int64_t t, int k, int stride, int pad_l, int pad_r, int dilation);

#endif
