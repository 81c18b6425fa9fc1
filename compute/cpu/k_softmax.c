/* k_softmax.c: the fused softmax and its gradient.  The tensor is viewed as
 * [outer, n, inner] around the axis; a work item is one outer index and a
 * block of up to SOFTMAX_BLOCK neighbouring inner indices, whose n values
 * are visited in passes (max, then exp and sum, then the division) while
 * they sit in cache.  Sums are accumulated in double, in a fixed order. */
#include <math.h>

#include "cpu_internal.h"

#define SOFTMAX_BLOCK 64

typedef struct {
    const float *a, *b; /* softmax: x; gradient: y and dy */
    float *out;
    int64_t n, inner;
    long blocks; /* of SOFTMAX_BLOCK inner indices per outer index */
} softmax_job;

/* The block of item w: its first element's offset and its width. */
static int64_t block_of(const softmax_job *j, long w, int64_t *len)
{
    int64_t o = w / j->blocks, i0 = (w % j->blocks) * SOFTMAX_BLOCK;
    *len = j->inner - i0 < SOFTMAX_BLOCK ? j->inner - i0 : SOFTMAX_BLOCK;
    return o * j->n * j->inner + i0;
}

static void softmax_range(void *p, long lo, long hi)
{
    const softmax_job *j = p;
    int64_t n = j->n, st = j->inner, len;
    float m[SOFTMAX_BLOCK];
    double s[SOFTMAX_BLOCK];
    for (long w = lo; w < hi; w++) {
        int64_t off = block_of(j, w, &len);
        const float *x = j->a + off;
        float *y = j->out + off;
        for (int64_t i = 0; i < len; i++) {
            m[i] = -INFINITY;
            s[i] = 0;
        }
        for (int64_t k = 0; k < n; k++)
            for (int64_t i = 0; i < len; i++)
                m[i] = fmaxf(m[i], x[k * st + i]);
        for (int64_t k = 0; k < n; k++)
            for (int64_t i = 0; i < len; i++) {
                float e = expf(x[k * st + i] - m[i]);
                y[k * st + i] = e;
                s[i] += e;
            }
        for (int64_t k = 0; k < n; k++)
            for (int64_t i = 0; i < len; i++)
                y[k * st + i] /= (float)s[i];
    }
}

/* dx = y * (dy - sum over the axis of dy * y) */
static void softmax_grad_range(void *p, long lo, long hi)
{
    const softmax_job *j = p;
    int64_t n = j->n, st = j->inner, len;
    double d[SOFTMAX_BLOCK];
    for (long w = lo; w < hi; w++) {
        int64_t off = block_of(j, w, &len);
        const float *y = j->a + off, *dy = j->b + off;
        float *dx = j->out + off;
        for (int64_t i = 0; i < len; i++)
            d[i] = 0;
        for (int64_t k = 0; k < n; k++)
            for (int64_t i = 0; i < len; i++)
                d[i] += (double)dy[k * st + i] * y[k * st + i];
        for (int64_t k = 0; k < n; k++)
            for (int64_t i = 0; i < len; i++)
                dx[k * st + i] = y[k * st + i] * (dy[k * st + i] - (float)d[i]);
    }
}

void jc_cpu_softmax(jc_cpu_ctx *c, jc_tensor *t)
{
    int grad = t->op == JC_OP_SOFTMAX_GRAD;
    int64_t outer;
    softmax_job j = {jc_cpu_data(t->src[0]), grad ? jc_cpu_data(t->src[1]) : NULL, jc_cpu_data(t), 0, 0, 0};
    jc_split_axis(t, t->ip[0], &outer, &j.n, &j.inner);
    j.blocks = (long)((j.inner + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK);
    double cost = 3.0 * (double)j.n * (double)(j.inner < SOFTMAX_BLOCK ? j.inner : SOFTMAX_BLOCK);
    jc_cpu_parallel(c, (long)outer * j.blocks, cost, grad ? softmax_grad_range : softmax_range, &j);
}
