/* jc.h: the jepatok compute layer.
 *
 * float32 tensors up to 4-D (row-major, last axis fastest), a graph that
 * records operations, reverse-mode autograd that appends gradient operations
 * to the same graph, a memory planner, and backends that execute a whole
 * graph.  Nothing here knows about speech.
 *
 * Life cycle of a computation:
 *   be = jc_backend_open("cpu", NULL, &err);
 *   st = jc_store_new(be);                 persistent tensors (parameters)
 *   w  = jc_store_param(st, "w", 2, (int64_t[]){4, 3}, &err);
 *   g  = jc_graph_new(be);
 *   x  = jc_input(g, "x", 2, (int64_t[]){8, 4});
 *   y  = jc_matmul(g, x, w, 0, 0); ...; loss = jc_mean_all(g, ...);
 *   jc_backward(g, loss, &err);            appends d loss / d (every param)
 *   jc_graph_output(g, loss);
 *   jc_graph_build(g, &err);               prune, plan memory, allocate
 *   jc_tensor_set(x, data, &err); jc_graph_compute(g, &err);
 *   jc_tensor_get(loss, &value, &err);
 *
 * Errors are values: every fallible call returns jc_status and fills an
 * optional jc_error with a message; nothing here exits or prints.
 * There is no global state: all state hangs off a backend, store or graph.
 */
#ifndef JC_H
#define JC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ errors */
typedef enum {
    JC_OK = 0,
    JC_ERR_INVALID,     /* bad argument, shape mismatch, misuse of the API */
    JC_ERR_NOMEM,       /* host or device memory exhausted */
    JC_ERR_IO,          /* file system error */
    JC_ERR_FORMAT,      /* corrupt, truncated or mismatching file */
    JC_ERR_UNSUPPORTED, /* backend lacks an operation or feature */
    JC_ERR_DEVICE,      /* driver missing, device lost, kernel build failed */
    JC_ERR_NUMERIC      /* NaN or Inf detected */
} jc_status;

typedef struct {
    jc_status code;
    char msg[512];
} jc_error;

const char *jc_status_name(jc_status s);
/* Record an error (if err is not NULL) and return code. */
jc_status jc_error_set(jc_error *err, jc_status code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void jc_error_clear(jc_error *err);

/* ---------------------------------------------------------------- backends */
typedef struct jc_backend jc_backend;

typedef struct {
    char backend[16];    /* "cpu", "opencl", "vulkan" */
    char name[128];      /* device name */
    char vendor[64];
    char driver[128];
    uint64_t memory_bytes;
    uint64_t max_buffer_bytes; /* largest single buffer; 0: no limit but memory */
    int compute_units;   /* cores / CUs */
    int is_cpu_driver;   /* 1 for the CPU backend, PoCL, lavapipe */
    int fp16;            /* fp16 arithmetic available */
    int subgroup_size;   /* 0 if unknown or unsupported */
    int cooperative_matrix; /* VK_KHR_cooperative_matrix */
    int coopmat_m, coopmat_n, coopmat_k; /* its fp16 x fp16 -> fp32 subgroup shape (0: none) */
    int fp16_gemm;       /* GEMMs of inference graphs use fp16 products (see
                            jc_graph_allow_fp16): capable and not switched off */
    int coopmat_gemm;    /* they run on the matrix units (cooperative matrix; Vulkan:
                            JC_VULKAN_COOPMAT=1 and a shader compiler that knows it) */
    int coopmat_shader;  /* this build embeds that GEMM's shader */
} jc_device_info;

/* name: "cpu", "opencl", "vulkan" (those built in), or "auto": the first
 * real GPU (Vulkan, then OpenCL), else the CPU backend; never a CPU driver
 * such as PoCL or lavapipe, which are for testing.  options may be NULL;
 * comma-separated: "threads=N" and "gemm=own|cblas" (cpu), "device=N" (GPU
 * backends: index among that backend's devices); with options NULL they
 * may follow the name after a colon ("cpu:threads=2").  A missing driver is an
 * error (JC_ERR_DEVICE) naming the cause: nothing falls back silently. */
jc_backend *jc_backend_open(const char *name, const char *options, jc_error *err);
/* Names of the backends compiled in, NULL-terminated. */
const char *const *jc_backend_names(void);
/* Devices of one backend: fills up to max entries, returns how many exist
 * (0 with err set when the driver is missing). */
int jc_backend_devices(const char *name, jc_device_info *out, int max, jc_error *err);
void jc_backend_free(jc_backend *be);
const char *jc_backend_name(const jc_backend *be);
void jc_backend_device_info(const jc_backend *be, jc_device_info *info);

/* ----------------------------------------------------------------- tensors */
#define JC_MAX_DIMS 4

typedef struct jc_tensor jc_tensor;

int jc_tensor_ndim(const jc_tensor *t);
int64_t jc_tensor_dim(const jc_tensor *t, int axis); /* negative counts from the end */
int64_t jc_tensor_nelem(const jc_tensor *t);
const char *jc_tensor_name(const jc_tensor *t);
void jc_tensor_set_name(jc_tensor *t, const char *name);
/* Copy host floats into / out of a tensor that has memory: store tensors at
 * any time, graph inputs, constants and outputs after jc_graph_build. */
jc_status jc_tensor_set(jc_tensor *t, const float *data, jc_error *err);
jc_status jc_tensor_get(const jc_tensor *t, float *data, jc_error *err);
jc_status jc_tensor_fill(jc_tensor *t, float value, jc_error *err);
/* dst <- src (same element count; may be on different backends). */
jc_status jc_tensor_copy(jc_tensor *dst, const jc_tensor *src, jc_error *err);

/* ------------------------------------------------------------------ stores */
/* A store owns named persistent tensors on one backend: the parameters of a
 * model, optimiser moments, an EMA copy.  Store tensors outlive graphs and
 * can be used by any number of graphs of the same backend. */
typedef struct jc_store jc_store;

jc_store *jc_store_new(jc_backend *be);
void jc_store_free(jc_store *st);
/* A trainable parameter (jc_backward computes its gradient), zero-filled. */
jc_tensor *jc_store_param(jc_store *st, const char *name, int ndim, const int64_t *shape, jc_error *err);
/* A persistent tensor that never receives a gradient, zero-filled. */
jc_tensor *jc_store_buffer(jc_store *st, const char *name, int ndim, const int64_t *shape, jc_error *err);
int jc_store_count(const jc_store *st);
jc_tensor *jc_store_at(const jc_store *st, int i);
jc_tensor *jc_store_find(const jc_store *st, const char *name);
int jc_tensor_is_param(const jc_tensor *t);
/* Mark a store parameter as frozen (no gradient) or trainable again. */
void jc_tensor_set_trainable(jc_tensor *t, int trainable);
int64_t jc_store_nelem(const jc_store *st, int params_only);
jc_backend *jc_store_backend(const jc_store *st);
/* Copy every tensor of src into the tensor of the same name in dst. */
jc_status jc_store_copy(jc_store *dst, const jc_store *src, jc_error *err);

/* ------------------------------------------------------------------ graphs */
typedef struct jc_graph jc_graph;

typedef struct {
    size_t planned_bytes;   /* arena size after the planner reused buffers */
    size_t naive_bytes;     /* sum of all planned tensors' sizes */
    size_t constant_bytes;  /* graph-owned constants */
    int nodes;              /* operations that will run */
    int recorded;           /* operations recorded (before pruning) */
} jc_graph_stats;

jc_graph *jc_graph_new(jc_backend *be);
void jc_graph_free(jc_graph *g);
jc_backend *jc_graph_backend(const jc_graph *g);
/* Any error met while recording (shape mismatch...) is sticky: the graph
 * records it, later calls return NULL, and jc_graph_build reports it. */
jc_status jc_graph_status(const jc_graph *g, jc_error *err);

/* A leaf whose contents the host sets before each compute. */
jc_tensor *jc_input(jc_graph *g, const char *name, int ndim, const int64_t *shape);
/* A leaf with fixed contents copied now (data may be NULL for zeros). */
jc_tensor *jc_constant(jc_graph *g, const char *name, int ndim, const int64_t *shape, const float *data);
jc_tensor *jc_scalar_constant(jc_graph *g, float value);
/* Keep t alive (and readable) after compute. */
void jc_graph_output(jc_graph *g, jc_tensor *t);
/* Seed of the graph's random operations (dropout): the host changes it per
 * step; the same seed gives the same masks on every backend. */
void jc_graph_set_seed(jc_graph *g, uint64_t seed);
/* Evaluation mode turns dropout into identity. */
void jc_graph_set_training(jc_graph *g, int training);
/* GEMMs and convolutions with fp16 products summed in fp32 (relative error
 * ~1e-3 per product, fp16's range) where the backend offers them
 * (jc_device_info.fp16_gemm: Vulkan devices with shaderFloat16 only with
 * JC_VULKAN_FP16=1, OpenCL devices with cl_khr_fp16 only with
 * JC_OPENCL_FP16=1).  Allowed by default, but only ever used in
 * inference graphs: a graph with gradient (jc_backward) or optimiser
 * operations runs fp32 throughout, since fp16 products in gradients need
 * loss scaling we do not do.  allow = 0 keeps this graph fp32. */
void jc_graph_allow_fp16(jc_graph *g, int allow);

jc_status jc_graph_build(jc_graph *g, jc_error *err);
jc_status jc_graph_compute(jc_graph *g, jc_error *err);
void jc_graph_get_stats(const jc_graph *g, jc_graph_stats *stats);
/* Multiply-adds of the matmuls and convolutions recorded so far. */
double jc_graph_macs(const jc_graph *g);

/* --------------------------------------------------------------- autograd */
/* Append to g the operations computing d loss / d t for every trainable store
 * parameter (and every recorded tensor on the path). loss must have one
 * element. */
jc_status jc_backward(jc_graph *g, jc_tensor *loss, jc_error *err);
/* The gradient of t after jc_backward (NULL if t does not affect the loss). */
jc_tensor *jc_grad(jc_graph *g, const jc_tensor *t);

/* ------------------------------------------------------------- operations */
/* All operations return a new tensor (NULL after a recording error).  Axes
 * may be negative (from the end).  Binary operations broadcast like numpy. */

/* Batched matrix product: a [..., M, K] (or [..., K, M] if trans_a) times
 * b [..., K, N] (or [..., N, K] if trans_b); leading dims broadcast. */
jc_tensor *jc_matmul(jc_graph *g, jc_tensor *a, jc_tensor *b, int trans_a, int trans_b);

typedef struct {
    int stride, pad_left, pad_right, dilation, groups;
} jc_conv_params;
/* x [B, Cin, T], w [Cout, Cin/groups, K], bias [Cout] or NULL -> [B, Cout, T'] */
jc_tensor *jc_conv1d(jc_graph *g, jc_tensor *x, jc_tensor *w, jc_tensor *bias, jc_conv_params p);
/* Transposed convolution as PyTorch: x [B, Cin, T], w [Cin, Cout/groups, K];
 * out length = (T-1)*stride - pad_left - pad_right + dilation*(K-1) + 1 + out_extra. */
jc_tensor *jc_conv_transpose1d(jc_graph *g, jc_tensor *x, jc_tensor *w, jc_tensor *bias,
                               jc_conv_params p, int out_extra);
/* 2-D convolution with a (K, 1) kernel on x [B, C, H, W]: a conv1d along H
 * applied to every column w. weight [Cout, Cin, K]. */
jc_tensor *jc_conv2d_k1(jc_graph *g, jc_tensor *x, jc_tensor *w, jc_tensor *bias, jc_conv_params p);

jc_tensor *jc_add(jc_graph *g, jc_tensor *a, jc_tensor *b);
jc_tensor *jc_sub(jc_graph *g, jc_tensor *a, jc_tensor *b);
jc_tensor *jc_mul(jc_graph *g, jc_tensor *a, jc_tensor *b);
jc_tensor *jc_div(jc_graph *g, jc_tensor *a, jc_tensor *b);
jc_tensor *jc_minimum(jc_graph *g, jc_tensor *a, jc_tensor *b);
jc_tensor *jc_maximum(jc_graph *g, jc_tensor *a, jc_tensor *b);
/* a * scale + offset */
jc_tensor *jc_scale(jc_graph *g, jc_tensor *a, float scale, float offset);

jc_tensor *jc_exp(jc_graph *g, jc_tensor *a);
jc_tensor *jc_log(jc_graph *g, jc_tensor *a);
jc_tensor *jc_sin(jc_graph *g, jc_tensor *a);
jc_tensor *jc_cos(jc_graph *g, jc_tensor *a);
jc_tensor *jc_sqr(jc_graph *g, jc_tensor *a);
jc_tensor *jc_sqrt(jc_graph *g, jc_tensor *a);
jc_tensor *jc_abs(jc_graph *g, jc_tensor *a);
jc_tensor *jc_tanh(jc_graph *g, jc_tensor *a);
jc_tensor *jc_sigmoid(jc_graph *g, jc_tensor *a);
jc_tensor *jc_softplus(jc_graph *g, jc_tensor *a);
jc_tensor *jc_gelu(jc_graph *g, jc_tensor *a);       /* exact (erf) form */
jc_tensor *jc_silu(jc_graph *g, jc_tensor *a);
jc_tensor *jc_leaky_relu(jc_graph *g, jc_tensor *a, float slope);
jc_tensor *jc_clamp(jc_graph *g, jc_tensor *a, float lo, float hi);
jc_tensor *jc_reciprocal(jc_graph *g, jc_tensor *a);

/* Reductions keep the reduced axis with length 1. */
jc_tensor *jc_sum(jc_graph *g, jc_tensor *a, int axis);
jc_tensor *jc_mean(jc_graph *g, jc_tensor *a, int axis);
jc_tensor *jc_var(jc_graph *g, jc_tensor *a, int axis); /* population variance */
jc_tensor *jc_max(jc_graph *g, jc_tensor *a, int axis); /* no gradient: used under stop-gradient */
jc_tensor *jc_sum_all(jc_graph *g, jc_tensor *a);       /* -> [1] */
jc_tensor *jc_mean_all(jc_graph *g, jc_tensor *a);      /* -> [1] */
jc_tensor *jc_logsumexp(jc_graph *g, jc_tensor *a, int axis);
/* Softmax along axis; mask (broadcastable, 1 = keep, 0 = drop) may be NULL. */
jc_tensor *jc_softmax(jc_graph *g, jc_tensor *a, int axis, jc_tensor *mask);

/* Normalisation over the last axis, then * gamma + beta (either may be NULL). */
jc_tensor *jc_layer_norm(jc_graph *g, jc_tensor *x, jc_tensor *gamma, jc_tensor *beta, float eps);
/* GroupNorm with one group on x [B, C, T]: statistics over C and the valid
 * time steps (mask [B, 1, T] of 1/0, or NULL for all), then per-channel
 * gamma/beta [C] (NULL allowed). */
jc_tensor *jc_group_norm1(jc_graph *g, jc_tensor *x, jc_tensor *mask, jc_tensor *gamma, jc_tensor *beta,
                          float eps);
/* Gated linear unit: first half * sigmoid(second half) along axis. */
jc_tensor *jc_glu(jc_graph *g, jc_tensor *a, int axis);
/* Inverted dropout with probability p; identity in evaluation mode. */
jc_tensor *jc_dropout(jc_graph *g, jc_tensor *a, float p);

typedef enum { JC_PAD_ZERO = 0, JC_PAD_REFLECT = 1 } jc_pad_mode;
jc_tensor *jc_pad(jc_graph *g, jc_tensor *a, int axis, int before, int after, jc_pad_mode mode);
jc_tensor *jc_slice(jc_graph *g, jc_tensor *a, int axis, int64_t start, int64_t length);
jc_tensor *jc_concat(jc_graph *g, jc_tensor *a, jc_tensor *b, int axis);
jc_tensor *jc_reshape(jc_graph *g, jc_tensor *a, int ndim, const int64_t *shape);
/* perm[i] = source axis of output axis i. */
jc_tensor *jc_permute(jc_graph *g, jc_tensor *a, const int *perm);
jc_tensor *jc_transpose(jc_graph *g, jc_tensor *a, int axis0, int axis1);
/* Materialise a broadcast of a to shape. */
jc_tensor *jc_expand(jc_graph *g, jc_tensor *a, int ndim, const int64_t *shape);
/* Average pooling along the last axis of [B, C, T], padding counted as zeros
 * (PyTorch's count_include_pad=True default). */
jc_tensor *jc_avg_pool1d(jc_graph *g, jc_tensor *a, int kernel, int stride, int padding);
/* STFT framing: x [B, T] -> [B, F, n_fft] with frame f = x[f*hop : f*hop+n_fft]
 * (F = 1 + (T - n_fft) / hop), each multiplied by window [n_fft] (may be NULL). */
jc_tensor *jc_frames(jc_graph *g, jc_tensor *x, int n_fft, int hop, jc_tensor *window);
/* Real DFT along the last axis, whose length N is a power of two:
 * x [..., N] -> [..., 2 (N/2 + 1)], the N/2 + 1 real parts then the
 * imaginary parts of X[k] = sum_n x[n] exp(-2 pi i k n / N), k = 0..N/2.
 * Computed by FFT; the GPU backends take N up to 4096.  jc_rdft_adjoint
 * is its transpose (the gradient's map):
 * y [..., 2 (N/2 + 1)] -> x [..., N] with
 * x[n] = sum_k re[k] cos(2 pi k n / N) - im[k] sin(2 pi k n / N). */
jc_tensor *jc_rdft(jc_graph *g, jc_tensor *x);
jc_tensor *jc_rdft_adjoint(jc_graph *g, jc_tensor *y);
/* Magnitude STFT |S| [B, F, n_fft/2+1] of x [B, T]: reflect padding of n_fft/2
 * (centre=True), periodic Hann window; the DFT by jc_rdft when n_fft is a
 * power of two up to 4096 (what the GPU backends transform), else by
 * matrix product. */
jc_tensor *jc_stft_magnitude(jc_graph *g, jc_tensor *x, int n_fft, int hop);

/* Losses -> [1]: mean over elements where mask (broadcastable to a, 1/0) is
 * set, or over all elements if mask is NULL. */
jc_tensor *jc_l1_loss(jc_graph *g, jc_tensor *a, jc_tensor *b, jc_tensor *mask);
jc_tensor *jc_mse_loss(jc_graph *g, jc_tensor *a, jc_tensor *b, jc_tensor *mask);

/* FSQ: quantise z (already bounded in (-1, 1)) to levels[d] levels
 * (2i+1-L)/L, i = 0..L-1; levels broadcasts against z.  Straight-through
 * gradient: d out / d z = 1.  jc_fsq_index gives i (as float, no gradient). */
jc_tensor *jc_fsq_quantize(jc_graph *g, jc_tensor *z, jc_tensor *levels);
jc_tensor *jc_fsq_index(jc_graph *g, jc_tensor *z, jc_tensor *levels);
/* Identity forward, no gradient flows back. */
jc_tensor *jc_stop_gradient(jc_graph *g, jc_tensor *a);

/* Benchmark only (jepatok bench ops): for each element, 8 independent chains
 * of `iterations` fused multiply-adds started from x; 16 * iterations flops
 * per element, nearly no memory traffic: the device's FMA peak. */
jc_tensor *jc_fma_peak(jc_graph *g, jc_tensor *x, int iterations);

/* ----------------------------------------------------------- randomness */
/* One seedable generator (splitmix64 -> counter based), bitwise reproducible. */
typedef struct {
    uint64_t state;
} jc_rng;
void jc_rng_seed(jc_rng *r, uint64_t seed);
uint64_t jc_rng_next(jc_rng *r);
double jc_rng_uniform(jc_rng *r);           /* [0, 1) */
double jc_rng_normal(jc_rng *r);            /* N(0, 1) */
int64_t jc_rng_below(jc_rng *r, int64_t n); /* uniform in [0, n) */
/* Counter-based uniform in [0,1) from (seed, index): the same on every backend. */
float jc_hash_uniform(uint64_t seed, uint64_t index);

/* Initialisers write host values into a store tensor. */
jc_status jc_init_normal(jc_tensor *t, jc_rng *r, float std, jc_error *err);
jc_status jc_init_trunc_normal(jc_tensor *t, jc_rng *r, float std, float lo, float hi, jc_error *err);
jc_status jc_init_uniform(jc_tensor *t, jc_rng *r, float lo, float hi, jc_error *err);

/* ------------------------------------------------------------ optimisers */
typedef struct {
    float lr;           /* peak learning rate */
    float beta1, beta2;
    float eps;
    float weight_decay; /* decoupled (AdamW) */
    int warmup_steps;   /* linear warm-up from 0 to lr over this many steps */
    float clip_norm;    /* global gradient-norm clipping; <= 0 disables */
    /* Half-cosine decay from lr at step decay_start to 0 at decay_end (and 0
     * after it); decay_end <= decay_start keeps lr constant after warm-up. */
    int64_t decay_start, decay_end;
} jc_adamw_config;

typedef struct jc_adamw jc_adamw;

/* Creates first and second moments for every trainable parameter of params
 * in a store of its own (jc_adamw_state), named "<param>.m" / "<param>.v". */
jc_adamw *jc_adamw_new(jc_store *params, jc_adamw_config cfg, jc_error *err);
void jc_adamw_free(jc_adamw *opt);
jc_store *jc_adamw_state(jc_adamw *opt);
/* Append to g (after jc_backward) the clipping and update operations for
 * every trainable parameter that has a gradient in g.  grad_norm (if not
 * NULL) receives a tensor holding the global gradient norm before clipping. */
jc_status jc_adamw_append(jc_adamw *opt, jc_graph *g, jc_tensor **grad_norm, jc_error *err);
/* Call before each compute of a graph holding the update: advances the step
 * counter and uploads learning rate and bias corrections. */
jc_status jc_adamw_begin_step(jc_adamw *opt, jc_error *err);
int64_t jc_adamw_step(const jc_adamw *opt);
void jc_adamw_set_step(jc_adamw *opt, int64_t step); /* when resuming */
float jc_adamw_lr_at(const jc_adamw *opt, int64_t step);

/* Append target <- decay * target + (1 - decay) * online for every tensor of
 * target to g, matched by name in online after removing target_prefix
 * (may be NULL) from the target's names; runs after the updates appended
 * before it. */
jc_status jc_ema_append(jc_graph *g, jc_store *target, jc_store *online, const char *target_prefix, float decay,
                        jc_error *err);

/* ------------------------------------------------------------ checkpoints */
/* safetensors: 8-byte little-endian header length, JSON header
 * {name: {dtype: F32|F16|BF16, shape, data_offsets}, "__metadata__": {str: str}},
 * then raw little-endian data.  Writes are atomic (temp file + rename).
 * A scalar shape [] in a file matches a tensor of shape [1]. */

/* Key/value strings (configuration, step).  Start from a zeroed struct;
 * loading replaces the contents only on success. */
typedef struct {
    int count;
    char **keys;
    char **values;
} jc_metadata;

/* Copies both strings; replaces an existing key. */
jc_status jc_metadata_set(jc_metadata *md, const char *key, const char *value);
const char *jc_metadata_get(const jc_metadata *md, const char *key);
void jc_metadata_free(jc_metadata *md);

typedef enum { JC_DTYPE_F32 = 0, JC_DTYPE_F16 = 1 } jc_dtype;

/* Save tensors of any number of stores (NULL-terminated array); a name
 * repeated across them is JC_ERR_INVALID.  dtype F16 rounds to nearest even
 * (for shipping). */
jc_status jc_safetensors_save(const char *path, jc_store *const *stores, const jc_metadata *md, jc_dtype dtype,
                              jc_error *err);
/* Round every tensor of st to the values a file of dtype stores (F16:
 * nearest even), so a model saved as F16 computes exactly what it will
 * compute after loading. */
jc_status jc_store_round(jc_store *st, jc_dtype dtype, jc_error *err);
/* Strict load (F32, F16 and BF16 files are accepted): every tensor of every store must be present with the same
 * shape and the file must hold nothing else; any mismatch is an error
 * naming the tensor.  md (may be NULL) receives the metadata. */
jc_status jc_safetensors_load(const char *path, jc_store *const *stores, jc_metadata *md, jc_error *err);
/* The same checks for every tensor of the stores, but the file may hold
 * more tensors (read past, not stored): loading the encoder out of a
 * training checkpoint that also holds the predictor and optimiser state. */
jc_status jc_safetensors_load_subset(const char *path, jc_store *const *stores, jc_metadata *md, jc_error *err);
/* Read only the metadata (configuration) of a file. */
jc_status jc_safetensors_read_metadata(const char *path, jc_metadata *md, jc_error *err);

#ifdef __cplusplus
}
#endif
#endif
