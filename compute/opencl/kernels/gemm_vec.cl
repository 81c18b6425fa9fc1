/* gemm_vec.cl: the matrix product for CPU drivers (PoCL).  A CPU driver
 * runs the items of a work-group as a loop; local memory is ordinary memory
 * and every barrier spills the items' private state, so the tiled kernel
 * of gemm.cl runs slowly there.  Here each item owns a VR x 8 block of C in
 * float8 registers and streams A and B from global memory (the CPU's caches
 * do the tiling); explicit vectors make the SIMD independent of whether the
 * driver vectorises across work items.  CONV_ARGS comes from gemm.cl and
 * the operand type and multiply-accumulate (GEMM_OPERAND8, GEMM_MAC8) from
 * gemm_product.cl, which precede this file in the program. */
#define VR 8

__kernel void matmul_vec(__global const float *A, ulong aoff, ulong a_step, __global const float *B, ulong boff,
                         ulong b_step, __global float *C, ulong coff, int M, int N, int K, int ta, int tb)
{
    int n0 = get_global_id(0) * 8, m0 = get_global_id(1) * VR;
    ulong z = get_global_id(2);
    if (n0 >= N || m0 >= M)
        return;
    A += aoff + z * a_step;
    B += boff + z * b_step;
    C += coff + z * (ulong)M * N;
    int lda = ta ? M : K, ldb = tb ? K : N;
    /* rows past M read row m0 again: harmless, and never stored */
    __global const float *arow[VR];
    for (int i = 0; i < VR; i++)
        arow[i] = A + (m0 + i < M ? m0 + i : m0) * (ta ? 1 : (ulong)lda);
    ulong astep = ta ? (ulong)lda : 1;
    float8 acc[VR];
    for (int i = 0; i < VR; i++)
        acc[i] = (float8)(0.0f);
    if (!tb && n0 + 8 <= N) {
        for (int k = 0; k < K; k++) {
            GEMM_OPERAND8 b = TO_OPERAND8(vload8(0, B + (ulong)k * ldb + n0));
            for (int i = 0; i < VR; i++)
                acc[i] = GEMM_MAC8(acc[i], (GEMM_OPERAND8)(TO_OPERAND(arow[i][k * astep])), b);
        }
    } else {
        for (int k = 0; k < K; k++) {
            float t[8];
            for (int j = 0; j < 8; j++)
                t[j] = n0 + j < N ? B[tb ? (ulong)(n0 + j) * ldb + k : (ulong)k * ldb + n0 + j] : 0.0f;
            GEMM_OPERAND8 b = TO_OPERAND8(vload8(0, t));
            for (int i = 0; i < VR; i++)
                acc[i] = GEMM_MAC8(acc[i], (GEMM_OPERAND8)(TO_OPERAND(arow[i][k * astep])), b);
        }
    }
    for (int i = 0; i < VR && m0 + i < M; i++) {
        __global float *c = C + (ulong)(m0 + i) * N + n0;
        if (n0 + 8 <= N) {
            vstore8(acc[i], 0, c);
        } else {
            float t[8];
            vstore8(acc[i], 0, t);
            for (int j = 0; n0 + j < N; j++)
                c[j] = t[j];
        }
    }
}

/* 8 consecutive samples of row[], starting at i0 with the given stride;
 * zero outside [0, len).  The in-range unit-stride case is one vector load. */
float8 load_row8(__global const float *row, int i0, int stride, int len)
{
    if (stride == 1 && i0 >= 0 && i0 + 8 <= len)
        return vload8(0, row + i0);
    float t[8];
    for (int j = 0; j < 8; j++) {
        int i = i0 + j * stride;
        t[j] = i >= 0 && i < len ? row[i] : 0.0f;
    }
    return vload8(0, t);
}

void store_rows8(__global float *y, ulong pitch, int m0, int M, int n0, int N, const float8 *acc,
                 __global const float *bias, int has_bias)
{
    for (int i = 0; i < VR && m0 + i < M; i++) {
        float8 v = has_bias ? acc[i] + (float8)(bias[m0 + i]) : acc[i];
        __global float *dst = y + (ulong)(m0 + i) * pitch + n0;
        if (n0 + 8 <= N) {
            vstore8(v, 0, dst);
        } else {
            float t[8];
            vstore8(v, 0, t);
            for (int j = 0; n0 + j < N; j++)
                dst[j] = t[j];
        }
    }
}

/* Convolution, forward: an item owns VR output channels x 8 output steps
 * and walks the (input channel, tap) pairs, reading x directly. */
__kernel void conv_fwd_vec(__global const float *x, ulong xoff, __global const float *w, ulong woff,
                           __global const float *bias, ulong boff, int has_bias, __global float *y, ulong yoff,
                           CONV_ARGS)
{
    int n0 = get_global_id(0) * 8, m0 = get_global_id(1) * VR, z = get_global_id(2), b = z / G, g = z % G;
    int cin = Cin / G, cout = Cout / G, rows = cin * Kw;
    if (n0 >= Tout || m0 >= cout)
        return;
    __global const float *xg = x + xoff + ((ulong)b * Cin + (ulong)g * cin) * Tin;
    __global const float *wrow[VR];
    for (int i = 0; i < VR; i++)
        wrow[i] = w + woff + (ulong)(g * cout + (m0 + i < cout ? m0 + i : m0)) * rows;
    float8 acc[VR];
    for (int i = 0; i < VR; i++)
        acc[i] = (float8)(0.0f);
    for (int ci = 0; ci < cin; ci++)
        for (int tap = 0; tap < Kw; tap++) {
            GEMM_OPERAND8 v = TO_OPERAND8(load_row8(xg + (ulong)ci * Tin, n0 * stride - pad + tap * dil, stride, Tin));
            int r = ci * Kw + tap;
            for (int i = 0; i < VR; i++)
                acc[i] = GEMM_MAC8(acc[i], (GEMM_OPERAND8)(TO_OPERAND(wrow[i][r])), v);
        }
    store_rows8(y + yoff + ((ulong)b * Cout + (ulong)g * cout) * Tout, Tout, m0, cout, n0, Tout, acc,
                bias + boff + g * cout, has_bias);
}

/* Input gradient (transposed convolution) for any stride: an item owns VR
 * input channels x 8 input positions and gathers the output steps t with
 * t*stride = n + pad - tap*dil.  With phases = stride (the host's choice
 * for dil 1; see conv_bwd_input in gemm.cl), item z = (b*G + g)*phases +
 * rho owns 8 positions of one phase, n = first + (j0 + j)*stride, which
 * only the taps rho + i*stride reach, and for each such tap their output
 * steps are 8 consecutive ones: one vector load, no wasted products. */
__kernel void conv_bwd_input_vec(__global const float *dy, ulong dyoff, __global const float *w, ulong woff,
                                 __global const float *bias, ulong boff, int has_bias, __global float *dx,
                                 ulong dxoff, CONV_ARGS, int phases)
{
    int n0 = get_global_id(0) * 8, m0 = get_global_id(1) * VR, z = get_global_id(2) / phases;
    int rho = get_global_id(2) % phases, b = z / G, g = z % G;
    int cin = Cin / G, cout = Cout / G;
    int first = phase_first(rho, pad, phases), N = (Tin - first + phases - 1) / phases;
    if (n0 >= N || m0 >= cin)
        return;
    __global const float *dyg = dy + dyoff + ((ulong)b * Cout + (ulong)g * cout) * Tout;
    __global const float *wg = w + woff + (ulong)g * cout * cin * Kw;
    int wi[VR]; /* offsets of the item's channels within one output channel's weights */
    for (int i = 0; i < VR; i++)
        wi[i] = (m0 + i < cin ? m0 + i : m0) * Kw;
    float8 acc[VR];
    for (int i = 0; i < VR; i++)
        acc[i] = (float8)(0.0f);
    /* three copies of the loop, so the common cases have no branch inside */
    if (phases > 1) {
        for (int co = 0; co < cout; co++)
            for (int tap = rho; tap < Kw; tap += phases) {
                int t0 = (first + n0 * phases + pad - tap) / phases; /* exact */
                GEMM_OPERAND8 v = TO_OPERAND8(load_row8(dyg + (ulong)co * Tout, t0, 1, Tout));
                __global const float *wc = wg + ((ulong)co * cin) * Kw + tap;
                for (int i = 0; i < VR; i++)
                    acc[i] = GEMM_MAC8(acc[i], (GEMM_OPERAND8)(TO_OPERAND(wc[wi[i]])), v);
            }
        __global float *dxg = dx + dxoff + ((ulong)b * Cin + (ulong)g * cin) * Tin + first;
        for (int i = 0; i < VR && m0 + i < cin; i++) {
            float t[8];
            vstore8(has_bias ? acc[i] + (float8)(bias[boff + g * cin + m0 + i]) : acc[i], 0, t);
            for (int j = 0; j < 8 && n0 + j < N; j++)
                dxg[(ulong)(m0 + i) * Tin + (ulong)(n0 + j) * phases] = t[j];
        }
        return;
    }
    if (stride == 1) {
        for (int co = 0; co < cout; co++)
            for (int tap = 0; tap < Kw; tap++) {
                GEMM_OPERAND8 v = TO_OPERAND8(load_row8(dyg + (ulong)co * Tout, n0 + pad - tap * dil, 1, Tout));
                __global const float *wc = wg + ((ulong)co * cin) * Kw + tap;
                for (int i = 0; i < VR; i++)
                    acc[i] = GEMM_MAC8(acc[i], (GEMM_OPERAND8)(TO_OPERAND(wc[wi[i]])), v);
            }
    } else {
        for (int co = 0; co < cout; co++)
            for (int tap = 0; tap < Kw; tap++) {
                __global const float *row = dyg + (ulong)co * Tout;
                float t[8];
                for (int j = 0; j < 8; j++) {
                    int num = n0 + j + pad - tap * dil;
                    t[j] = num >= 0 && num % stride == 0 && num / stride < Tout ? row[num / stride] : 0.0f;
                }
                GEMM_OPERAND8 v = TO_OPERAND8(vload8(0, t));
                __global const float *wc = wg + ((ulong)co * cin) * Kw + tap;
                for (int i = 0; i < VR; i++)
                    acc[i] = GEMM_MAC8(acc[i], (GEMM_OPERAND8)(TO_OPERAND(wc[wi[i]])), v);
            }
    }
    store_rows8(dx + dxoff + ((ulong)b * Cin + (ulong)g * cin) * Tin, Tin, m0, cin, n0, Tin, acc,
                bias + boff + g * cin, has_bias);
}

/* Weight gradient: an item owns 4 output channels x 4 (input channel, tap)
 * pairs and reduces over batch and time 8 steps at a time, one float8 of
 * partial sums per output; the lanes are added at the end.  t_split as in
 * conv_bwd_weight (gemm.cl). */
#define WB 4
__kernel void conv_bwd_weight_vec(__global const float *x, ulong xoff, __global const float *dy, ulong dyoff,
                                  __global float *dw, ulong dwoff, int B, CONV_ARGS, int t_split)
{
    int n0 = get_global_id(0) * WB, m0 = get_global_id(1) * WB;
    int g = get_global_id(2) % G, split = get_global_id(2) / G;
    int span = t_split ? t_split : Tout, t_lo = split * span, t_hi = min(Tout, t_lo + span);
    int cin = Cin / G, cout = Cout / G, rows = cin * Kw;
    if (n0 >= rows || m0 >= cout)
        return;
    int ci[WB], tap[WB];
    for (int j = 0; j < WB; j++) {
        int r = n0 + j < rows ? n0 + j : n0;
        ci[j] = r / Kw;
        tap[j] = r % Kw;
    }
    float8 acc[WB * WB];
    for (int i = 0; i < WB * WB; i++)
        acc[i] = (float8)(0.0f);
    for (int b = 0; b < B; b++) {
        __global const float *dyb = dy + dyoff + ((ulong)b * Cout + (ulong)g * cout) * Tout;
        __global const float *xb = x + xoff + ((ulong)b * Cin + (ulong)g * cin) * Tin;
        for (int t0 = t_lo; t0 < t_hi; t0 += 8) {
            GEMM_OPERAND8 d[WB], v[WB];
            for (int i = 0; i < WB; i++)
                d[i] = TO_OPERAND8(load_row8(dyb + (ulong)(m0 + i < cout ? m0 + i : m0) * Tout, t0, 1, t_hi));
            for (int j = 0; j < WB; j++) {
                /* steps past t_hi have d = 0, so whatever x holds there is harmless */
                v[j] = TO_OPERAND8(load_row8(xb + (ulong)ci[j] * Tin, t0 * stride - pad + tap[j] * dil, stride, Tin));
            }
            for (int i = 0; i < WB; i++)
                for (int j = 0; j < WB; j++)
                    acc[i * WB + j] = GEMM_MAC8(acc[i * WB + j], d[i], v[j]);
        }
    }
    __global float *dwg = dw + dwoff + ((ulong)split * G + g) * cout * rows;
    for (int i = 0; i < WB && m0 + i < cout; i++)
        for (int j = 0; j < WB && n0 + j < rows; j++) {
            float8 a = acc[i * WB + j];
            float4 h = a.lo + a.hi;
            float2 q = h.lo + h.hi;
            dwg[(ulong)(m0 + i) * rows + n0 + j] = q.x + q.y;
        }
}
