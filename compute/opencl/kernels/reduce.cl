/* reduce.cl: SUM and MAX over one axis of x viewed as [outer, n, inner].
 * No work_group_reduce built-ins (OpenCL 2.0, absent from PoCL): a tree
 * in local memory whose size the host passes (a power of two). */

acc_t combine(acc_t a, acc_t b, int is_max) { return is_max ? fmax(a, b) : a + b; }

/* inner == 1: one work-group per (row, chunk of the row).  With one chunk
 * the result goes straight to y; with several, the host runs this kernel
 * again over the partial results (two passes keep a GPU busy when there
 * are few long rows, as in a global sum). */
__kernel void reduce_rows(__global const float *x, ulong xoff, __global float *y, ulong yoff, uint n, uint chunk,
                          uint chunks, int is_max, __local acc_t *part)
{
    uint lid = get_local_id(0), wg = get_local_size(0);
    uint grp = get_group_id(0), row = grp / chunks, c = grp % chunks;
    uint lo = c * chunk, hi = min(n, lo + chunk);
    __global const float *xr = x + xoff + (ulong)row * n;
    acc_t s = is_max ? -INFINITY : 0;
    for (uint k = lo + lid; k < hi; k += wg)
        s = combine(s, xr[k], is_max);
    part[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint w = wg / 2; w > 0; w /= 2) {
        if (lid < w)
            part[lid] = combine(part[lid], part[lid + w], is_max);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        y[yoff + grp] = (float)part[0];
}

/* inner > 1: item (g, lane) sums the rows lane, lane + lanes, ... of
 * output g; neighbouring items along dimension 0 read neighbouring
 * addresses, so the loads coalesce.  lanes 1 (CPU drivers: the driver
 * picks the work-group): one item per output, straight to y.  lanes > 1
 * (GPUs, long axes: more items in flight than outputs alone give):
 * work-groups of 32 x lanes items, the lanes combined in local memory. */
__kernel void reduce_cols(__global const float *x, ulong xoff, __global float *y, ulong yoff, uint outputs, uint n,
                          uint inner, int is_max, uint lanes, __local acc_t *part)
{
    uint gid = get_global_id(0), lane = get_global_id(1);
    uint o = gid / inner, i = gid % inner;
    __global const float *p = x + xoff + (ulong)o * n * inner + i;
    acc_t s = is_max ? -INFINITY : 0;
    if (gid < outputs)
        for (uint k = lane; k < n; k += lanes)
            s = combine(s, p[(ulong)k * inner], is_max);
    if (lanes > 1) {
        uint lx = get_local_id(0), w = get_local_size(0);
        part[lane * w + lx] = s;
        barrier(CLK_LOCAL_MEM_FENCE);
        /* everything from local memory and the work-item functions again:
         * PoCL 3.1 was seen to hand lane 0 another lane's private sum
         * after this barrier (2-D work-groups) */
        gid = get_global_id(0);
        lane = get_global_id(1);
        s = part[lx];
        for (uint l = 1; l < lanes; l++)
            s = combine(s, part[l * w + lx], is_max);
    }
    if (lane == 0 && gid < outputs)
        y[yoff + gid] = (float)s;
}
