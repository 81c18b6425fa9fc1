/* layout.cl: data movement.  One work item per output element; sizes are
 * below 2^32 elements (the host checks), so index arithmetic is 32-bit. */

/* y[i0,i1,i2,i3] = x[i0*st.x + i1*st.y + i2*st.z + i3*st.w]: permute,
 * expand (stride 0 on broadcast axes) and slice (offset start * inner). */
__kernel void gather4(__global const float *x, ulong xoff, __global float *y, ulong yoff, uint n, uint4 shape,
                      uint4 st)
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    uint i3 = i % shape.w, r = i / shape.w;
    uint i2 = r % shape.z;
    r /= shape.z;
    uint i1 = r % shape.y, i0 = r / shape.y;
    y[yoff + i] = x[xoff + (ulong)i0 * st.x + (ulong)i1 * st.y + (ulong)i2 * st.z + (ulong)i3 * st.w];
}

/* [outer, n_in, inner] -> [outer, n_out, inner] with `before` leading
 * elements; reflect mirrors without repeating the edge (numpy "reflect"). */
__kernel void pad(__global const float *x, ulong xoff, __global float *y, ulong yoff, uint total, uint n_in,
                  uint n_out, uint inner, int before, int reflect)
{
    uint gid = get_global_id(0);
    if (gid >= total)
        return;
    uint i = gid % inner, r = gid / inner;
    uint k = r % n_out, o = r / n_out;
    int src = (int)k - before;
    if (reflect) {
        if (src < 0)
            src = -src;
        else if (src >= (int)n_in)
            src = 2 * ((int)n_in - 1) - src;
    }
    y[yoff + gid] = (src >= 0 && src < (int)n_in) ? x[xoff + ((ulong)o * n_in + (uint)src) * inner + i] : 0.0f;
}

/* Gradient of reflect padding as a gather, so no two work items write the
 * same element: position s of the unpadded axis (n_out long) receives the
 * padded positions mirrored onto it, added in increasing padded index as
 * the CPU's scatter loop does (left mirror, itself, right mirror). */
__kernel void pad_reflect_grad(__global const float *dy, ulong dyoff, __global float *dx, ulong dxoff, uint total,
                               uint n_in, uint n_out, uint inner, int before)
{
    uint gid = get_global_id(0);
    if (gid >= total)
        return;
    uint i = gid % inner, r = gid / inner;
    int s = (int)(r % n_out);
    uint o = r / n_out;
    int n = (int)n_out, nin = (int)n_in;
    __global const float *d = dy + dyoff + (ulong)o * n_in * inner + i;
    float acc = 0.0f;
    int kl = before - s;
    if (s > 0 && s <= before && kl < nin)
        acc += d[(ulong)kl * inner];
    if (s + before < nin)
        acc += d[(ulong)(s + before) * inner];
    int kr = 2 * (n - 1) - s + before;
    if (s <= n - 2 && kr < nin)
        acc += d[(ulong)kr * inner];
    dx[dxoff + gid] = acc;
}

__kernel void concat(__global const float *a, ulong aoff, __global const float *b, ulong boff, __global float *y,
                     ulong yoff, uint total, uint na, uint nb, uint inner)
{
    uint gid = get_global_id(0);
    if (gid >= total)
        return;
    uint i = gid % inner, r = gid / inner;
    uint k = r % (na + nb), o = r / (na + nb);
    y[yoff + gid] = k < na ? a[aoff + ((ulong)o * na + k) * inner + i] : b[boff + ((ulong)o * nb + (k - na)) * inner + i];
}

/* x [B, T] -> y [B, F, N], frame f starting at f * hop */
__kernel void frames(__global const float *x, ulong xoff, __global float *y, ulong yoff, uint total, uint T, uint F,
                     uint N, uint hop)
{
    uint gid = get_global_id(0);
    if (gid >= total)
        return;
    uint j = gid % N, r = gid / N;
    uint f = r % F, b = r / F;
    y[yoff + gid] = x[xoff + (ulong)b * T + f * hop + j];
}

/* overlap-add of frame gradients, gathered per output sample */
__kernel void frames_grad(__global const float *dy, ulong dyoff, __global float *dx, ulong dxoff, uint total, uint T,
                          uint F, uint N, uint hop)
{
    uint gid = get_global_id(0);
    if (gid >= total)
        return;
    uint t = gid % T, b = gid / T;
    uint f_lo = t >= N ? (t - N) / hop + 1 : 0, f_hi = t / hop;
    if (f_hi > F - 1)
        f_hi = F - 1;
    float s = 0.0f;
    for (uint f = f_lo; f <= f_hi; f++)
        s += dy[dyoff + ((ulong)b * F + f) * N + (t - f * hop)];
    dx[dxoff + gid] = s;
}
