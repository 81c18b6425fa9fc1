/* softmax.cl: the fused softmax (grad 0) and its gradient (grad 1,
 * dx = y * (dy - sum(dy * y))) over one axis of a tensor seen as
 * [outer, n, inner], one result column per (outer, inner) pair.  a is x, or
 * y for the gradient; b is dy (gradient only).  Each pass reads the column
 * again rather than keeping it in local memory, so any length fits; for the
 * lengths softmax sees the later passes read from cache. */

/* One item's share of a column: the max, sum of exp(a - m) or sum of
 * b * a over the values first, first + every, ... (step: every * inner),
 * and the pass that writes the result.  exp runs in float (acc_t may be
 * double, slow on many GPUs); sums in acc_t. */
float column_max(__global const float *a, uint steps, ulong step)
{
    float m = -INFINITY;
    for (uint j = 0; j < steps; j++)
        m = fmax(m, a[j * step]);
    return m;
}

acc_t column_sum(__global const float *a, __global const float *b, uint steps, ulong step, float m, int grad)
{
    acc_t s = 0;
    for (uint j = 0; j < steps; j++)
        s += grad ? (acc_t)(b[j * step] * a[j * step]) : (acc_t)exp(a[j * step] - m);
    return s;
}

void column_write(__global const float *a, __global const float *b, __global float *out, uint steps, ulong step,
                  float m, float s, int grad)
{
    for (uint j = 0; j < steps; j++)
        out[j * step] = grad ? a[j * step] * (b[j * step] - s) : exp(a[j * step] - m) / s;
}

/* Short axes: one item per column. */
__kernel void softmax_cols(__global const float *a, ulong aoff, __global const float *b, ulong boff,
                           __global float *out, ulong ooff, uint columns, uint n, uint inner, int grad)
{
    uint col = get_global_id(0);
    if (col >= columns)
        return;
    ulong base = (ulong)(col / inner) * n * inner + col % inner;
    a += aoff + base;
    b += boff + base;
    float m = grad ? 0 : column_max(a, n, inner);
    float s = (float)column_sum(a, b, n, inner, m, grad);
    column_write(a, b, out + ooff + base, n, inner, m, s, grad);
}

/* Long axes: one work-group (a power of two, like reduce_rows) per column,
 * its items striding over the axis and combining in local memory.  The
 * barriers stay out of branches and every index is derived again after
 * them (PoCL 3.1: see reduce_cols). */

/* This item's share of its work-group's column: the offset of its first
 * value, their count (*steps) and the step between them. */
ulong group_share(uint n, uint inner, uint *steps, ulong *step)
{
    uint col = get_group_id(0), first = get_local_id(0), every = get_local_size(0);
    *steps = first < n ? (n - first + every - 1) / every : 0;
    *step = (ulong)every * inner;
    return (ulong)(col / inner) * n * inner + col % inner + (ulong)first * inner;
}

/* part[0] = v combined over the work-group; ends with a barrier */
void group_combine(__local acc_t *part, acc_t v, int is_max)
{
    uint lid = get_local_id(0);
    part[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint w = get_local_size(0) / 2; w > 0; w /= 2) {
        if (lid < w)
            part[lid] = combine(part[lid], part[lid + w], is_max);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

__kernel void softmax_groups(__global const float *x, ulong xoff, __global float *y, ulong yoff, uint n, uint inner,
                             __local acc_t *part)
{
    uint steps;
    ulong step, base = group_share(n, inner, &steps, &step);
    group_combine(part, column_max(x + xoff + base, steps, step), 1);
    float m = (float)part[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* part[0] read by all before it is overwritten */
    base = group_share(n, inner, &steps, &step);
    group_combine(part, column_sum(x + xoff + base, x, steps, step, m, 0), 0);
    float s = (float)part[0];
    base = group_share(n, inner, &steps, &step);
    column_write(x + xoff + base, x, y + yoff + base, steps, step, m, s, 0);
}

__kernel void softmax_grad_groups(__global const float *y, ulong yoff, __global const float *dy, ulong dyoff,
                                  __global float *dx, ulong dxoff, uint n, uint inner, __local acc_t *part)
{
    uint steps;
    ulong step, base = group_share(n, inner, &steps, &step);
    group_combine(part, column_sum(y + yoff + base, dy + dyoff + base, steps, step, 0, 1), 0);
    float d = (float)part[0];
    base = group_share(n, inner, &steps, &step);
    column_write(y + yoff + base, dy + dyoff + base, dx + dxoff + base, steps, step, 0, d, 1);
}
