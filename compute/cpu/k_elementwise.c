/* k_elementwise.c: binary (broadcasting), unary and their gradients, scale,
 * dropout, and the in-place optimiser updates. */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"

float jc_binary_value(int kind, float a, float b)
{
    switch (kind) {
    case JC_BIN_ADD: return a + b;
    case JC_BIN_SUB: return a - b;
    case JC_BIN_MUL: return a * b;
    case JC_BIN_DIV: return a / b;
    case JC_BIN_MIN: return a <= b ? a : b;
    case JC_BIN_MAX: return a >= b ? a : b;
    case JC_BIN_GE: return a >= b ? 1.0f : 0.0f;
    case JC_BIN_FSQ_VALUE:
    case JC_BIN_FSQ_INDEX: {
        /* level i covers [-1 + 2i/L, -1 + 2(i+1)/L); its value is the centre */
        float i = floorf((a + 1.0f) * b * 0.5f);
        i = fminf(fmaxf(i, 0.0f), b - 1.0f);
        return kind == JC_BIN_FSQ_INDEX ? i : (2.0f * i + 1.0f - b) / b;
    }
    }
    return 0;
}

float jc_unary_value(int kind, float x, float p0, float p1)
{
    switch (kind) {
    case JC_UN_EXP: return expf(x);
    case JC_UN_LOG: return logf(x);
    case JC_UN_SIN: return sinf(x);
    case JC_UN_COS: return cosf(x);
    case JC_UN_SQR: return x * x;
    case JC_UN_SQRT: return sqrtf(x);
    case JC_UN_ABS: return fabsf(x);
    case JC_UN_TANH: return tanhf(x);
    case JC_UN_SIGMOID: return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    case JC_UN_SOFTPLUS: return x > 20.0f ? x : log1pf(expf(x)); /* torch's threshold */
    case JC_UN_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case JC_UN_SILU: return x * jc_unary_value(JC_UN_SIGMOID, x, 0, 0);
    case JC_UN_LEAKY_RELU: return x > 0 ? x : p0 * x;
    case JC_UN_CLAMP: return fminf(fmaxf(x, p0), p1);
    case JC_UN_RECIP: return 1.0f / x;
    }
    return 0;
}

/* d y / d x given the input x and output y */
float jc_unary_derivative(int kind, float x, float y, float p0, float p1)
{
    switch (kind) {
    case JC_UN_EXP: return y;
    case JC_UN_LOG: return 1.0f / x;
    case JC_UN_SIN: return cosf(x);
    case JC_UN_COS: return -sinf(x);
    case JC_UN_SQR: return 2.0f * x;
    case JC_UN_SQRT: return 0.5f / y;
    case JC_UN_ABS: return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    case JC_UN_TANH: return 1.0f - y * y;
    case JC_UN_SIGMOID: return y * (1.0f - y);
    case JC_UN_SOFTPLUS: return jc_unary_value(JC_UN_SIGMOID, x, 0, 0);
    case JC_UN_GELU: {
        float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
        return cdf + x * pdf;
    }
    case JC_UN_SILU: {
        float s = jc_unary_value(JC_UN_SIGMOID, x, 0, 0);
        return s * (1.0f + x * (1.0f - s));
    }
    case JC_UN_LEAKY_RELU: return x > 0 ? 1.0f : p0;
    case JC_UN_CLAMP: return (x >= p0 && x <= p1) ? 1.0f : 0.0f;
    case JC_UN_RECIP: return -y * y;
    }
    return 0;
}

/* --------------------------------------------------------------- binary */

typedef struct {
    jc_tensor *t;
    const float *a, *b;
    float *y;
    int64_t shape[4], sa[4], sb[4]; /* output shape, input strides (0 = broadcast) */
} binary_job;

static void binary_range(void *p, long lo, long hi)
{
    binary_job *j = p;
    int kind = j->t->kind;
    int64_t n3 = j->shape[3];
    for (long row = lo; row < hi; row++) { /* row indexes dims 0..2 */
        int64_t i2 = row % j->shape[2], r = row / j->shape[2];
        int64_t i1 = r % j->shape[1], i0 = r / j->shape[1];
        const float *a = j->a + i0 * j->sa[0] + i1 * j->sa[1] + i2 * j->sa[2];
        const float *b = j->b + i0 * j->sb[0] + i1 * j->sb[1] + i2 * j->sb[2];
        float *y = j->y + row * n3;
        int64_t as = j->sa[3], bs = j->sb[3];
        /* the common cases get a loop the compiler vectorises */
        if (kind == JC_BIN_ADD && as == 1 && bs == 1)
            for (int64_t k = 0; k < n3; k++)
                y[k] = a[k] + b[k];
        else if (kind == JC_BIN_MUL && as == 1 && bs == 1)
            for (int64_t k = 0; k < n3; k++)
                y[k] = a[k] * b[k];
        else if (kind == JC_BIN_SUB && as == 1 && bs == 1) /* the L1 losses' differences */
            for (int64_t k = 0; k < n3; k++)
                y[k] = a[k] - b[k];
        else if (kind == JC_BIN_MUL && as == 1 && bs == 0)
            for (int64_t k = 0; k < n3; k++)
                y[k] = a[k] * b[0];
        else if (kind == JC_BIN_ADD && as == 1 && bs == 0)
            for (int64_t k = 0; k < n3; k++)
                y[k] = a[k] + b[0];
        else
            for (int64_t k = 0; k < n3; k++)
                y[k] = jc_binary_value(kind, a[k * as], b[k * bs]);
    }
}

/* Pad shapes to 4 dims on the left so one loop nest serves every rank. */
static void shape4(const jc_tensor *t, int64_t *s)
{
    for (int i = 0; i < 4; i++)
        s[i] = i < 4 - t->ndim ? 1 : t->shape[i - (4 - t->ndim)];
}

void jc_cpu_binary(jc_cpu_ctx *c, jc_tensor *t)
{
    binary_job j = {.t = t, .a = jc_cpu_data(t->src[0]), .b = jc_cpu_data(t->src[1]), .y = jc_cpu_data(t)};
    int64_t sa[JC_MAX_DIMS], sb[JC_MAX_DIMS];
    jc_broadcast_strides(t->src[0], t->ndim, t->shape, sa);
    jc_broadcast_strides(t->src[1], t->ndim, t->shape, sb);
    shape4(t, j.shape);
    for (int i = 0; i < 4; i++) {
        int k = i - (4 - t->ndim);
        j.sa[i] = k >= 0 ? sa[k] : 0;
        j.sb[i] = k >= 0 ? sb[k] : 0;
    }
    long rows = (long)(j.shape[0] * j.shape[1] * j.shape[2]);
    jc_cpu_parallel(c, rows, (double)j.shape[3], binary_range, &j);
}

/* ---------------------------------------------------------------- unary */

typedef struct {
    jc_tensor *t;
    const float *x, *y, *dy;
    float *out;
} unary_job;

static void unary_range(void *p, long lo, long hi)
{
    unary_job *j = p;
    int kind = j->t->kind;
    float p0 = j->t->fp[0], p1 = j->t->fp[1];
    const float *x = j->x;
    float *y = j->out;
    /* the cheap kinds get loops of their own, which the compiler vectorises
     * (with configure's JT_VEC_CFLAGS: GCC 12's -O2 alone does not); the
     * same expressions as jc_unary_value, so results are identical (except
     * sin and cos, whose vector kernel differs by up to 1.1e-7) */
    switch (kind) {
    case JC_UN_SQR:
        for (long i = lo; i < hi; i++)
            y[i] = x[i] * x[i];
        return;
    case JC_UN_ABS:
        for (long i = lo; i < hi; i++)
            y[i] = fabsf(x[i]);
        return;
    case JC_UN_LEAKY_RELU:
        for (long i = lo; i < hi; i++)
            y[i] = x[i] > 0 ? x[i] : p0 * x[i];
        return;
    case JC_UN_CLAMP:
        for (long i = lo; i < hi; i++)
            y[i] = fminf(fmaxf(x[i], p0), p1);
        return;
    case JC_UN_RECIP:
        for (long i = lo; i < hi; i++)
            y[i] = 1.0f / x[i];
        return;
    case JC_UN_SQRT:
        for (long i = lo; i < hi; i++)
            y[i] = sqrtf(x[i]);
        return;
    case JC_UN_SIN: /* the snake activation's: vectorised, not the C library's (k_sin.c) */
    case JC_UN_COS:
        jc_cpu_sin_array(x + lo, NULL, y + lo, hi - lo, kind == JC_UN_COS);
        return;
    default:
        for (long i = lo; i < hi; i++)
            y[i] = jc_unary_value(kind, x[i], p0, p1);
    }
}

static void unary_grad_range(void *p, long lo, long hi)
{
    unary_job *j = p;
    int kind = j->t->kind;
    float p0 = j->t->fp[0], p1 = j->t->fp[1];
    const float *x = j->x, *dy = j->dy;
    float *dx = j->out;
    const float *y = j->y;
    /* vectorisable loops for the kinds whose derivative is arithmetic, the
     * expressions of jc_unary_derivative (the same results) */
    switch (kind) {
    case JC_UN_LEAKY_RELU:
        for (long i = lo; i < hi; i++)
            dx[i] = dy[i] * (x[i] > 0 ? 1.0f : p0);
        return;
    case JC_UN_SQR:
        for (long i = lo; i < hi; i++)
            dx[i] = dy[i] * (2.0f * x[i]);
        return;
    case JC_UN_ABS: /* every L1 loss: the feature matching's on each feature map */
        for (long i = lo; i < hi; i++)
            dx[i] = dy[i] * (x[i] > 0 ? 1.0f : (x[i] < 0 ? -1.0f : 0.0f));
        return;
    case JC_UN_EXP:
        for (long i = lo; i < hi; i++)
            dx[i] = dy[i] * y[i];
        return;
    case JC_UN_LOG:
        for (long i = lo; i < hi; i++)
            dx[i] = dy[i] * (1.0f / x[i]);
        return;
    case JC_UN_SQRT:
        for (long i = lo; i < hi; i++)
            dx[i] = dy[i] * (0.5f / y[i]);
        return;
    case JC_UN_TANH:
        for (long i = lo; i < hi; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        return;
    case JC_UN_SIGMOID:
        for (long i = lo; i < hi; i++)
            dx[i] = dy[i] * (y[i] * (1.0f - y[i]));
        return;
    case JC_UN_SIN: /* dy cos x, dy (-sin x) */
    case JC_UN_COS:
        jc_cpu_sin_array(x + lo, dy + lo, dx + lo, hi - lo, kind == JC_UN_SIN ? 1 : 2);
        return;
    default:
        for (long i = lo; i < hi; i++)
            dx[i] = dy[i] * jc_unary_derivative(kind, x[i], y[i], p0, p1);
    }
}

void jc_cpu_unary(jc_cpu_ctx *c, jc_tensor *t)
{
    unary_job j = {t, jc_cpu_data(t->src[0]), NULL, NULL, jc_cpu_data(t)};
    jc_cpu_parallel(c, (long)jc_tensor_nelem(t), 8, unary_range, &j);
}

void jc_cpu_unary_grad(jc_cpu_ctx *c, jc_tensor *t)
{
    unary_job j = {t, jc_cpu_data(t->src[0]), jc_cpu_data(t->src[1]), jc_cpu_data(t->src[2]), jc_cpu_data(t)};
    jc_cpu_parallel(c, (long)jc_tensor_nelem(t), 10, unary_grad_range, &j);
}

static void scale_range(void *p, long lo, long hi)
{
    unary_job *j = p;
    float s = j->t->fp[0], o = j->t->fp[1];
    for (long i = lo; i < hi; i++)
        j->out[i] = j->x[i] * s + o;
}

void jc_cpu_scale(jc_cpu_ctx *c, jc_tensor *t)
{
    unary_job j = {t, jc_cpu_data(t->src[0]), NULL, NULL, jc_cpu_data(t)};
    jc_cpu_parallel(c, (long)jc_tensor_nelem(t), 1, scale_range, &j);
}

/* -------------------------------------------------------------- dropout */

typedef struct {
    const float *x;
    float *y;
    uint64_t seed;
    float p, keep_scale;
} dropout_job;

static void dropout_range(void *p, long lo, long hi)
{
    dropout_job *j = p;
    for (long i = lo; i < hi; i++)
        j->y[i] = jc_hash_uniform(j->seed, (uint64_t)i) >= j->p ? j->x[i] * j->keep_scale : 0.0f;
}

void jc_cpu_dropout(jc_cpu_ctx *c, jc_tensor *t)
{
    const float *x = jc_cpu_data(t->src[0]);
    float *y = jc_cpu_data(t);
    int64_t n = jc_tensor_nelem(t);
    if (!c->graph->training) {
        memcpy(y, x, (size_t)n * sizeof *y);
        return;
    }
    dropout_job j = {x, y, c->graph->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)t->ip[0], t->fp[0],
                     1.0f / (1.0f - t->fp[0])};
    jc_cpu_parallel(c, (long)n, 4, dropout_range, &j);
}

/* ------------------------------------------------------------ optimisers */

typedef struct {
    float *p, *m, *v;
    const float *g;
    float lr, bc1, bc2, b1, b2, eps, wd, clip;
} adamw_job;

static void adamw_range(void *arg, long lo, long hi)
{
    adamw_job *j = arg;
    for (long i = lo; i < hi; i++) {
        float g = j->g[i] * j->clip;
        float m = j->b1 * j->m[i] + (1.0f - j->b1) * g;
        float v = j->b2 * j->v[i] + (1.0f - j->b2) * g * g;
        j->m[i] = m;
        j->v[i] = v;
        /* decoupled weight decay first, as torch.optim.AdamW */
        float p = j->p[i] * (1.0f - j->lr * j->wd);
        j->p[i] = p - j->lr * (m * j->bc1) / (sqrtf(v * j->bc2) + j->eps);
    }
}

void jc_cpu_adamw(jc_cpu_ctx *c, jc_tensor *t)
{
    const float *h = jc_cpu_data(t->src[4]);
    adamw_job j = {jc_cpu_data(t->src[0]), jc_cpu_data(t->src[2]), jc_cpu_data(t->src[3]), jc_cpu_data(t->src[1]),
                   h[JC_ADAMW_LR], h[JC_ADAMW_BC1], h[JC_ADAMW_BC2], t->fp[0], t->fp[1], t->fp[2], t->fp[3],
                   jc_cpu_data(t->src[5])[0]};
    jc_cpu_parallel(c, (long)jc_tensor_nelem(t), 12, adamw_range, &j);
}

typedef struct {
    float *target;
    const float *online;
    float decay;
} ema_job;

static void ema_range(void *arg, long lo, long hi)
{
    ema_job *j = arg;
    for (long i = lo; i < hi; i++)
        j->target[i] = j->decay * j->target[i] + (1.0f - j->decay) * j->online[i];
}

void jc_cpu_ema(jc_cpu_ctx *c, jc_tensor *t)
{
    ema_job j = {jc_cpu_data(t->src[0]), jc_cpu_data(t->src[1]), t->fp[0]};
    jc_cpu_parallel(c, (long)jc_tensor_nelem(t), 3, ema_range, &j);
}
