/* conv_depthwise.cl: convolutions with one channel per group (Cin = Cout =
 * G).  An implicit GEMM would use one row of a 64-row tile; a direct loop
 * over the taps is both simpler and faster.  Same geometry arguments as the
 * GEMM kernels (Cin = Cout = C). */
#define DW_ARGS int C, int Tin, int Tout, int Kw, int stride, int pad, int dil

/* one work item per output sample; taps added in the CPU's order */
__kernel void dw_fwd(__global const float *x, ulong xoff, __global const float *w, ulong woff,
                     __global const float *bias, ulong boff, int has_bias, __global float *y, ulong yoff, uint total,
                     DW_ARGS)
{
    uint gid = get_global_id(0);
    if (gid >= total)
        return;
    uint t = gid % (uint)Tout, r = gid / (uint)Tout;
    int c = (int)(r % (uint)C);
    __global const float *xr = x + xoff + (ulong)r * Tin;
    __global const float *wc = w + woff + (ulong)c * Kw;
    float s = has_bias ? bias[boff + c] : 0.0f;
    int base = (int)t * stride - pad;
    for (int k = 0; k < Kw; k++) {
        int ti = base + k * dil;
        if (ti >= 0 && ti < Tin)
            s += wc[k] * xr[ti];
    }
    y[yoff + gid] = s;
}

/* Input gradient gathered per input sample.  Taps are visited from the
 * last to the first so the contributing output steps come in increasing
 * order, as in the CPU's scatter loop. */
__kernel void dw_bwd_input(__global const float *dy, ulong dyoff, __global const float *w, ulong woff,
                           __global const float *bias, ulong boff, int has_bias, __global float *dx, ulong dxoff,
                           uint total, DW_ARGS)
{
    uint gid = get_global_id(0);
    if (gid >= total)
        return;
    uint ti = gid % (uint)Tin, r = gid / (uint)Tin;
    int c = (int)(r % (uint)C);
    __global const float *dyr = dy + dyoff + (ulong)r * Tout;
    __global const float *wc = w + woff + (ulong)c * Kw;
    float s = has_bias ? bias[boff + c] : 0.0f;
    for (int k = Kw - 1; k >= 0; k--) {
        int num = (int)ti + pad - k * dil;
        if (num >= 0 && num % stride == 0 && num / stride < Tout)
            s += wc[k] * dyr[num / stride];
    }
    dx[dxoff + gid] = s;
}

/* Weight gradient: one work-group per (channel, tap) reducing over batch
 * and time in local memory. */
__kernel void dw_bwd_weight(__global const float *x, ulong xoff, __global const float *dy, ulong dyoff,
                            __global float *dw, ulong dwoff, int B, DW_ARGS, __local acc_t *part)
{
    uint lid = get_local_id(0), wg = get_local_size(0);
    int c = get_group_id(0) / Kw, k = get_group_id(0) % Kw;
    uint n = (uint)B * (uint)Tout;
    acc_t s = 0;
    for (uint q = lid; q < n; q += wg) {
        int b = q / (uint)Tout, t = q % (uint)Tout;
        int ti = t * stride - pad + k * dil;
        if (ti >= 0 && ti < Tin)
            s += (acc_t)dy[dyoff + ((ulong)b * C + c) * Tout + t] * x[xoff + ((ulong)b * C + c) * Tin + ti];
    }
    part[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint w = wg / 2; w > 0; w /= 2) {
        if (lid < w)
            part[lid] += part[lid + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        dw[dwoff + get_group_id(0)] = (float)part[0];
}
