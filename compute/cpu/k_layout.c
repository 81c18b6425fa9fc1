/* k_layout.c: reductions and data movement.  Most view a tensor as
 * [outer, n, inner] around one axis. */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"

/* ------------------------------------------------------------ reductions */

typedef struct {
    const float *x;
    float *y;
    int64_t n, inner;
    int is_max;
} reduce_job;

/* One work item = one outer index and a block of up to REDUCE_BLOCK
 * neighbouring inner indices: rows of the reduced axis are read
 * contiguously, while every output still adds its n values in the same
 * order (bitwise the same result as one output at a time). */
#define REDUCE_BLOCK 256

static void reduce_range(void *p, long lo, long hi)
{
    reduce_job *j = p;
    long blocks = (long)((j->inner + REDUCE_BLOCK - 1) / REDUCE_BLOCK);
    double acc[REDUCE_BLOCK];
    float mx[REDUCE_BLOCK];
    for (long w = lo; w < hi; w++) {
        int64_t o = w / blocks, i0 = (w % blocks) * REDUCE_BLOCK;
        int64_t len = j->inner - i0 < REDUCE_BLOCK ? j->inner - i0 : REDUCE_BLOCK;
        const float *x = j->x + o * j->n * j->inner + i0;
        float *y = j->y + o * j->inner + i0;
        if (j->is_max) {
            for (int64_t i = 0; i < len; i++)
                mx[i] = x[i];
            for (int64_t k = 1; k < j->n; k++)
                for (int64_t i = 0; i < len; i++)
                    mx[i] = fmaxf(mx[i], x[k * j->inner + i]);
            for (int64_t i = 0; i < len; i++)
                y[i] = mx[i];
        } else if (len == 1) {
            /* double accumulation: accurate, and the order is fixed */
            double s = 0;
            for (int64_t k = 0; k < j->n; k++)
                s += x[k * j->inner];
            y[0] = (float)s;
        } else {
            for (int64_t i = 0; i < len; i++)
                acc[i] = 0;
            for (int64_t k = 0; k < j->n; k++)
                for (int64_t i = 0; i < len; i++)
                    acc[i] += x[k * j->inner + i];
            for (int64_t i = 0; i < len; i++)
                y[i] = (float)acc[i];
        }
    }
}

void jc_cpu_reduce(jc_cpu_ctx *c, jc_tensor *t)
{
    const jc_tensor *x = t->src[0];
    int64_t outer, n, inner;
    jc_split_axis(x, t->ip[0], &outer, &n, &inner);
    reduce_job j = {jc_cpu_data(x), jc_cpu_data(t), n, inner, t->op == JC_OP_MAX};
    long blocks = (long)((inner + REDUCE_BLOCK - 1) / REDUCE_BLOCK);
    jc_cpu_parallel(c, (long)outer * blocks, (double)(n * (inner < REDUCE_BLOCK ? inner : REDUCE_BLOCK)),
                    reduce_range, &j);
}

/* ----------------------------------------------------- permute and expand */

typedef struct {
    const float *x;
    float *y;
    int64_t shape[4];   /* output shape, padded to 4 */
    int64_t strides[4]; /* input stride of each output axis */
} gather_job;

static void gather_range(void *p, long lo, long hi)
{
    gather_job *j = p;
    for (long row = lo; row < hi; row++) {
        int64_t i2 = row % j->shape[2], r = row / j->shape[2];
        int64_t i1 = r % j->shape[1], i0 = r / j->shape[1];
        const float *x = j->x + i0 * j->strides[0] + i1 * j->strides[1] + i2 * j->strides[2];
        float *y = j->y + row * j->shape[3];
        int64_t s3 = j->strides[3];
        if (s3 == 1)
            memcpy(y, x, (size_t)j->shape[3] * sizeof *y);
        else
            for (int64_t k = 0; k < j->shape[3]; k++)
                y[k] = x[k * s3];
    }
}

/* A transpose of the last two axes (the input contiguous along output
 * axis 2, strided along axis 3): row by row, every output element would
 * come from another cache line.  Instead a work item takes TRANSPOSE_TILE
 * rows and walks them in TRANSPOSE_TILE-column tiles, so the lines read
 * for one column serve the tile's next columns too. */
#define TRANSPOSE_TILE 32

static void transpose_range(void *p, long lo, long hi)
{
    gather_job *j = p;
    int64_t n2 = j->shape[2], n3 = j->shape[3], s3 = j->strides[3];
    long blocks = (long)((n2 + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE);
    for (long w = lo; w < hi; w++) {
        int64_t r = w / blocks, i2_0 = (w % blocks) * TRANSPOSE_TILE;
        int64_t i1 = r % j->shape[1], i0 = r / j->shape[1];
        int64_t rows = n2 - i2_0 < TRANSPOSE_TILE ? n2 - i2_0 : TRANSPOSE_TILE;
        const float *x = j->x + i0 * j->strides[0] + i1 * j->strides[1] + i2_0;
        float *y = j->y + (r * n2 + i2_0) * n3;
        for (int64_t k0 = 0; k0 < n3; k0 += TRANSPOSE_TILE) {
            int64_t k1 = k0 + TRANSPOSE_TILE < n3 ? k0 + TRANSPOSE_TILE : n3;
            for (int64_t i = 0; i < rows; i++)
                for (int64_t k = k0; k < k1; k++)
                    y[i * n3 + k] = x[i + k * s3];
        }
    }
}

static void run_gather(jc_cpu_ctx *c, jc_tensor *t, const int64_t *strides_nd)
{
    gather_job j = {jc_cpu_data(t->src[0]), jc_cpu_data(t), {1, 1, 1, 1}, {0, 0, 0, 0}};
    int off = 4 - t->ndim;
    for (int i = 0; i < t->ndim; i++) {
        j.shape[off + i] = t->shape[i];
        j.strides[off + i] = strides_nd[i];
    }
    if (j.strides[2] == 1 && j.strides[3] > 1 && j.shape[2] > 1) {
        long blocks = (long)((j.shape[2] + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE);
        jc_cpu_parallel(c, (long)(j.shape[0] * j.shape[1]) * blocks, (double)(TRANSPOSE_TILE * j.shape[3]),
                        transpose_range, &j);
        return;
    }
    jc_cpu_parallel(c, (long)(j.shape[0] * j.shape[1] * j.shape[2]), (double)j.shape[3], gather_range, &j);
}

void jc_cpu_permute(jc_cpu_ctx *c, jc_tensor *t)
{
    const jc_tensor *x = t->src[0];
    int64_t xs[JC_MAX_DIMS], st[JC_MAX_DIMS];
    int64_t s = 1;
    for (int i = x->ndim - 1; i >= 0; i--) {
        xs[i] = s;
        s *= x->shape[i];
    }
    for (int i = 0; i < t->ndim; i++)
        st[i] = xs[t->ip[i]];
    run_gather(c, t, st);
}

void jc_cpu_expand(jc_cpu_ctx *c, jc_tensor *t)
{
    int64_t st[JC_MAX_DIMS];
    jc_broadcast_strides(t->src[0], t->ndim, t->shape, st);
    run_gather(c, t, st);
}

/* ------------------------------------------------- slice, pad, concat */

typedef struct {
    const float *x;
    float *y;
    int64_t n_in, n_out, inner;
    int64_t start;    /* slice: first index taken */
    int64_t before;   /* pad: leading elements */
    int mode;         /* pad mode */
} axis_job;

static void slice_range(void *p, long lo, long hi)
{
    axis_job *j = p;
    for (long o = lo; o < hi; o++)
        memcpy(j->y + o * j->n_out * j->inner, j->x + (o * j->n_in + j->start) * j->inner,
               (size_t)(j->n_out * j->inner) * sizeof(float));
}

void jc_cpu_slice(jc_cpu_ctx *c, jc_tensor *t)
{
    int64_t outer, n_out, inner, n_in = t->src[0]->shape[t->ip[0]];
    jc_split_axis(t, t->ip[0], &outer, &n_out, &inner);
    axis_job j = {jc_cpu_data(t->src[0]), jc_cpu_data(t), n_in, n_out, inner, t->ip[1], 0, 0};
    jc_cpu_parallel(c, (long)outer, (double)(n_out * inner), slice_range, &j);
}

/* Source index of padded position k (reflect without repeating the edge). */
static int64_t reflect_index(int64_t k, int64_t before, int64_t n)
{
    int64_t p = k - before;
    if (p < 0)
        return -p;
    if (p >= n)
        return 2 * (n - 1) - p;
    return p;
}

static void pad_range(void *p, long lo, long hi)
{
    axis_job *j = p;
    for (long o = lo; o < hi; o++) {
        const float *x = j->x + o * j->n_in * j->inner;
        float *y = j->y + o * j->n_out * j->inner;
        for (int64_t k = 0; k < j->n_out; k++) {
            int64_t src = k - j->before;
            if (j->mode == JC_PAD_REFLECT)
                src = reflect_index(k, j->before, j->n_in);
            if (src >= 0 && src < j->n_in)
                memcpy(y + k * j->inner, x + src * j->inner, (size_t)j->inner * sizeof(float));
            else
                memset(y + k * j->inner, 0, (size_t)j->inner * sizeof(float));
        }
    }
}

void jc_cpu_pad(jc_cpu_ctx *c, jc_tensor *t)
{
    int64_t outer, n_out, inner, n_in = t->src[0]->shape[t->ip[0]];
    jc_split_axis(t, t->ip[0], &outer, &n_out, &inner);
    axis_job j = {jc_cpu_data(t->src[0]), jc_cpu_data(t), n_in, n_out, inner, 0, t->ip[1], t->ip[3]};
    jc_cpu_parallel(c, (long)outer, (double)(n_out * inner), pad_range, &j);
}

static void pad_reflect_grad_range(void *p, long lo, long hi)
{
    axis_job *j = p; /* x: gradient of the padded tensor (n_in long), y: n_out */
    for (long o = lo; o < hi; o++) {
        const float *dy = j->x + o * j->n_in * j->inner;
        float *dx = j->y + o * j->n_out * j->inner;
        memset(dx, 0, (size_t)(j->n_out * j->inner) * sizeof(float));
        for (int64_t k = 0; k < j->n_in; k++) {
            int64_t src = reflect_index(k, j->before, j->n_out);
            for (int64_t i = 0; i < j->inner; i++)
                dx[src * j->inner + i] += dy[k * j->inner + i];
        }
    }
}

void jc_cpu_pad_reflect_grad(jc_cpu_ctx *c, jc_tensor *t)
{
    int64_t outer, n_out, inner, n_in = t->src[0]->shape[t->ip[0]];
    jc_split_axis(t, t->ip[0], &outer, &n_out, &inner);
    axis_job j = {jc_cpu_data(t->src[0]), jc_cpu_data(t), n_in, n_out, inner, 0, t->ip[1], JC_PAD_REFLECT};
    jc_cpu_parallel(c, (long)outer, (double)(n_in * inner), pad_reflect_grad_range, &j);
}

typedef struct {
    const float *a, *b;
    float *y;
    int64_t na, nb, inner;
} concat_job;

static void concat_range(void *p, long lo, long hi)
{
    concat_job *j = p;
    size_t sa = (size_t)(j->na * j->inner), sb = (size_t)(j->nb * j->inner);
    for (long o = lo; o < hi; o++) {
        memcpy(j->y + o * (sa + sb), j->a + o * sa, sa * sizeof(float));
        memcpy(j->y + o * (sa + sb) + sa, j->b + o * sb, sb * sizeof(float));
    }
}

void jc_cpu_concat(jc_cpu_ctx *c, jc_tensor *t)
{
    int64_t outer, n, inner;
    jc_split_axis(t, t->ip[0], &outer, &n, &inner);
    concat_job j = {jc_cpu_data(t->src[0]), jc_cpu_data(t->src[1]), jc_cpu_data(t), t->src[0]->shape[t->ip[0]],
                    t->src[1]->shape[t->ip[0]], inner};
    jc_cpu_parallel(c, (long)outer, (double)(n * inner), concat_range, &j);
}

/* ---------------------------------------------------------------- frames */

typedef struct {
    const float *x;
    float *y;
    int64_t T, F, N, hop;
} frames_job;

static void frames_range(void *p, long lo, long hi)
{
    frames_job *j = p;
    for (long r = lo; r < hi; r++) { /* r = b * F + f */
        int64_t b = r / j->F, f = r % j->F;
        memcpy(j->y + r * j->N, j->x + b * j->T + f * j->hop, (size_t)j->N * sizeof(float));
    }
}

void jc_cpu_frames(jc_cpu_ctx *c, jc_tensor *t)
{
    frames_job j = {jc_cpu_data(t->src[0]), jc_cpu_data(t), t->src[0]->shape[1], t->shape[1], t->shape[2], t->ip[1]};
    jc_cpu_parallel(c, (long)(t->shape[0] * t->shape[1]), (double)j.N, frames_range, &j);
}

static void frames_grad_range(void *p, long lo, long hi)
{
    frames_job *j = p; /* x: frame gradients [B, F, N]; y: [B, T] */
    for (long r = lo; r < hi; r++) { /* r = b * T + t: gather, so threads never share outputs */
        int64_t b = r / j->T, t = r % j->T;
        int64_t f_lo = t >= j->N ? (t - j->N) / j->hop + 1 : 0, f_hi = t / j->hop;
        if (f_hi > j->F - 1)
            f_hi = j->F - 1;
        float s = 0;
        for (int64_t f = f_lo; f <= f_hi; f++)
            s += j->x[(b * j->F + f) * j->N + (t - f * j->hop)];
        j->y[r] = s;
    }
}

void jc_cpu_frames_grad(jc_cpu_ctx *c, jc_tensor *t)
{
    const jc_tensor *dy = t->src[0];
    frames_job j = {jc_cpu_data(dy), jc_cpu_data(t), t->shape[1], dy->shape[1], dy->shape[2], t->ip[1]};
    jc_cpu_parallel(c, (long)(t->shape[0] * t->shape[1]), (double)(j.N / j.hop + 1), frames_grad_range, &j);
}
