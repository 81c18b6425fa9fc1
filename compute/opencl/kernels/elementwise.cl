/* elementwise.cl: one work item per element.  Global sizes are rounded up
 * to the work-group size, so every kernel checks its bound. */

float binary_value(int kind, float a, float b)
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
        float i = floor((a + 1.0f) * b * 0.5f);
        i = fmin(fmax(i, 0.0f), b - 1.0f);
        return kind == JC_BIN_FSQ_INDEX ? i : (2.0f * i + 1.0f - b) / b;
    }
    }
    return 0.0f;
}

/* Same shapes, no broadcast: the common case gets no index arithmetic. */
__kernel void binary_same(int kind, __global const float *a, ulong aoff, __global const float *b, ulong boff,
                          __global float *y, ulong yoff, uint n)
{
    uint i = get_global_id(0);
    if (i < n)
        y[yoff + i] = binary_value(kind, a[aoff + i], b[boff + i]);
}

/* numpy broadcasting: shapes padded to 4 dims on the left, strides 0 on
 * broadcast axes (computed on the host by jc_broadcast_strides). */
__kernel void binary(int kind, __global const float *a, ulong aoff, __global const float *b, ulong boff,
                     __global float *y, ulong yoff, uint n, uint4 shape, uint4 sa, uint4 sb)
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    uint i3 = i % shape.w, r = i / shape.w;
    uint i2 = r % shape.z;
    r /= shape.z;
    uint i1 = r % shape.y, i0 = r / shape.y;
    ulong ia = (ulong)i0 * sa.x + (ulong)i1 * sa.y + (ulong)i2 * sa.z + (ulong)i3 * sa.w;
    ulong ib = (ulong)i0 * sb.x + (ulong)i1 * sb.y + (ulong)i2 * sb.z + (ulong)i3 * sb.w;
    y[yoff + i] = binary_value(kind, a[aoff + ia], b[boff + ib]);
}

float sigmoid_of(float x) { return x >= 0.0f ? 1.0f / (1.0f + exp(-x)) : exp(x) / (1.0f + exp(x)); }

float unary_value(int kind, float x, float p0, float p1)
{
    switch (kind) {
    case JC_UN_EXP: return exp(x);
    case JC_UN_LOG: return log(x);
    case JC_UN_SIN: return sin(x);
    case JC_UN_COS: return cos(x);
    case JC_UN_SQR: return x * x;
    case JC_UN_SQRT: return sqrt(x);
    case JC_UN_ABS: return fabs(x);
    case JC_UN_TANH: return tanh(x);
    case JC_UN_SIGMOID: return sigmoid_of(x);
    case JC_UN_SOFTPLUS: return x > 20.0f ? x : log1p(exp(x)); /* torch's threshold */
    case JC_UN_GELU: return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f));
    case JC_UN_SILU: return x * sigmoid_of(x);
    case JC_UN_LEAKY_RELU: return x > 0.0f ? x : p0 * x;
    case JC_UN_CLAMP: return fmin(fmax(x, p0), p1);
    case JC_UN_RECIP: return 1.0f / x;
    }
    return 0.0f;
}

float unary_derivative(int kind, float x, float y, float p0, float p1)
{
    switch (kind) {
    case JC_UN_EXP: return y;
    case JC_UN_LOG: return 1.0f / x;
    case JC_UN_SIN: return cos(x);
    case JC_UN_COS: return -sin(x);
    case JC_UN_SQR: return 2.0f * x;
    case JC_UN_SQRT: return 0.5f / y;
    case JC_UN_ABS: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    case JC_UN_TANH: return 1.0f - y * y;
    case JC_UN_SIGMOID: return y * (1.0f - y);
    case JC_UN_SOFTPLUS: return sigmoid_of(x);
    case JC_UN_GELU: {
        float cdf = 0.5f * (1.0f + erf(x * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * exp(-0.5f * x * x);
        return cdf + x * pdf;
    }
    case JC_UN_SILU: {
        float s = sigmoid_of(x);
        return s * (1.0f + x * (1.0f - s));
    }
    case JC_UN_LEAKY_RELU: return x > 0.0f ? 1.0f : p0;
    case JC_UN_CLAMP: return (x >= p0 && x <= p1) ? 1.0f : 0.0f;
    case JC_UN_RECIP: return -y * y;
    }
    return 0.0f;
}

__kernel void unary(int kind, float p0, float p1, __global const float *x, ulong xoff, __global float *y, ulong yoff,
                    uint n)
{
    uint i = get_global_id(0);
    if (i < n)
        y[yoff + i] = unary_value(kind, x[xoff + i], p0, p1);
}

__kernel void unary_grad(int kind, float p0, float p1, __global const float *x, ulong xoff, __global const float *y,
                         ulong yoff, __global const float *dy, ulong dyoff, __global float *dx, ulong dxoff, uint n)
{
    uint i = get_global_id(0);
    if (i < n)
        dx[dxoff + i] = dy[dyoff + i] * unary_derivative(kind, x[xoff + i], y[yoff + i], p0, p1);
}

__kernel void scale(float s, float o, __global const float *x, ulong xoff, __global float *y, ulong yoff, uint n)
{
    uint i = get_global_id(0);
    if (i < n)
        y[yoff + i] = x[xoff + i] * s + o;
}

/* jc_hash_uniform of compute/rng.c, bit for bit: the masks must be the
 * same on every backend.  The 64-bit seed arrives as two halves. */
float hash_uniform(uint seed_lo, uint seed_hi, ulong index)
{
    uint h = seed_lo ^ seed_hi * 0x85ebca6bU;
    h ^= (uint)index * 0x9e3779b9U;
    h ^= (uint)(index >> 32) * 0xc2b2ae35U;
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

__kernel void dropout(uint seed_lo, uint seed_hi, float p, float keep_scale, __global const float *x, ulong xoff,
                      __global float *y, ulong yoff, uint n)
{
    uint i = get_global_id(0);
    if (i < n)
        y[yoff + i] = hash_uniform(seed_lo, seed_hi, i) >= p ? x[xoff + i] * keep_scale : 0.0f;
}

/* AdamW in place.  Learning rate, bias corrections and the clipping scale
 * are read from device tensors, so a training step needs no host round
 * trip between the gradient norm and the update. */
__kernel void adamw(__global float *p, ulong poff, __global const float *g, ulong goff, __global float *m, ulong moff,
                    __global float *v, ulong voff, __global const float *hyper, ulong hoff,
                    __global const float *clip, ulong coff, float b1, float b2, float eps, float wd, uint n)
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    float lr = hyper[hoff + JC_ADAMW_LR], bc1 = hyper[hoff + JC_ADAMW_BC1], bc2 = hyper[hoff + JC_ADAMW_BC2];
    float gi = g[goff + i] * clip[coff];
    float mi = b1 * m[moff + i] + (1.0f - b1) * gi;
    float vi = b2 * v[voff + i] + (1.0f - b2) * gi * gi;
    m[moff + i] = mi;
    v[voff + i] = vi;
    float pi = p[poff + i] * (1.0f - lr * wd); /* decoupled decay first, as torch.optim.AdamW */
    p[poff + i] = pi - lr * (mi * bc1) / (sqrt(vi * bc2) + eps);
}

__kernel void ema(float decay, __global float *t, ulong toff, __global const float *o, ulong ooff, uint n)
{
    uint i = get_global_id(0);
    if (i < n)
        t[toff + i] = decay * t[toff + i] + (1.0f - decay) * o[ooff + i];
}

/* bench ops: 8 independent FMA chains per element, almost no memory traffic */
__kernel void fma_peak(__global const float *x, ulong xoff, __global float *y, ulong yoff, uint n, int iters)
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    float v = x[xoff + i];
    float a0 = v, a1 = v + 1.0f, a2 = v + 2.0f, a3 = v + 3.0f, a4 = v + 4.0f, a5 = v + 5.0f, a6 = v + 6.0f,
          a7 = v + 7.0f;
    for (int it = 0; it < iters; it++) {
        a0 = fma(a0, 0.999f, 0.001f);
        a1 = fma(a1, 0.999f, 0.001f);
        a2 = fma(a2, 0.999f, 0.001f);
        a3 = fma(a3, 0.999f, 0.001f);
        a4 = fma(a4, 0.999f, 0.001f);
        a5 = fma(a5, 0.999f, 0.001f);
        a6 = fma(a6, 0.999f, 0.001f);
        a7 = fma(a7, 0.999f, 0.001f);
    }
    y[yoff + i] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}
