/* gemm.cl: one tiled, register-blocked matrix product, used directly for
 * matmul and as an implicit GEMM for the convolutions: their kernels differ
 * only in how a tile of A or B is gathered (im2col is done on the fly while
 * loading, so no column matrix is ever stored).
 *
 * A work-group of LW x LW items computes a TS x TS tile of C; each item
 * holds RB x RB accumulators for rows ly + LW*i and columns lx + LW*j
 * (strided, so neighbouring items read neighbouring local-memory words).
 * The K loop stages TK-deep slices of A and B in local memory; the row
 * pitch TS + 1 keeps column-wise stores free of bank conflicts.  Edges are
 * zero-filled on load and masked on store, so any size works.
 *
 * Operands are staged as GEMM_OPERAND and multiplied with GEMM_MAC
 * (gemm_product.cl, which precedes this file): fp32 and fma normally,
 * fp16 products in the fp16 build of these kernels; the accumulators are
 * fp32 either way. */
/* TS and TK: defaults, or the host's (JC_OPENCL_GEMM_TILE, a build option) */
#ifndef TS
#define TS 64
#endif
#ifndef TK
#define TK 16
#endif
#define LW 16
#define RB (TS / LW)
#define TSP (TS + 1)
#define LOADS (TS * TK / (LW * LW))

void mac_tile(__local const GEMM_OPERAND *As, __local const GEMM_OPERAND *Bs, float *acc, int lx, int ly)
{
    for (int kk = 0; kk < TK; kk++) {
        GEMM_OPERAND a[RB], b[RB];
        for (int i = 0; i < RB; i++)
            a[i] = As[kk * TSP + ly + LW * i];
        for (int j = 0; j < RB; j++)
            b[j] = Bs[kk * TSP + lx + LW * j];
        for (int i = 0; i < RB; i++)
            for (int j = 0; j < RB; j++)
                acc[i * RB + j] = GEMM_MAC(acc[i * RB + j], a[i], b[j]);
    }
}

/* C[z] = op(A[z]) op(B[z]); a_step / b_step are 0 for an operand shared by
 * the whole batch. */
__kernel __attribute__((reqd_work_group_size(LW, LW, 1))) void
matmul(__global const float *A, ulong aoff, ulong a_step, __global const float *B, ulong boff, ulong b_step,
       __global float *C, ulong coff, int M, int N, int K, int ta, int tb)
{
    __local GEMM_OPERAND As[TK * TSP], Bs[TK * TSP];
    int lx = get_local_id(0), ly = get_local_id(1), tid = ly * LW + lx;
    int n0 = get_group_id(0) * TS, m0 = get_group_id(1) * TS;
    ulong z = get_global_id(2);
    A += aoff + z * a_step;
    B += boff + z * b_step;
    C += coff + z * (ulong)M * N;
    int lda = ta ? M : K, ldb = tb ? K : N;
    float acc[RB * RB];
    for (int i = 0; i < RB * RB; i++)
        acc[i] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TK) {
        for (int l = 0; l < LOADS; l++) {
            int idx = tid + l * LW * LW, kk, mm, nn;
            /* read along the contiguous axis of each operand */
            if (ta) {
                mm = idx % TS;
                kk = idx / TS;
            } else {
                kk = idx % TK;
                mm = idx / TK;
            }
            int m = m0 + mm, k = k0 + kk;
            As[kk * TSP + mm] = TO_OPERAND((m < M && k < K) ? A[ta ? (ulong)k * lda + m : (ulong)m * lda + k] : 0.0f);
            if (tb) {
                kk = idx % TK;
                nn = idx / TK;
            } else {
                nn = idx % TS;
                kk = idx / TS;
            }
            int n = n0 + nn;
            k = k0 + kk;
            Bs[kk * TSP + nn] = TO_OPERAND((n < N && k < K) ? B[tb ? (ulong)n * ldb + k : (ulong)k * ldb + n] : 0.0f);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        mac_tile(As, Bs, acc, lx, ly);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int i = 0; i < RB; i++) {
        int m = m0 + ly + LW * i;
        for (int j = 0; j < RB; j++) {
            int n = n0 + lx + LW * j;
            if (m < M && n < N)
                C[(ulong)m * N + n] = acc[i * RB + j];
        }
    }
}

/* Convolution geometry shared by the three kernels below.  Per group g:
 * cin = Cin/G input and cout = Cout/G output channels, Kw taps. */
#define CONV_ARGS int Cin, int Tin, int Cout, int Tout, int G, int Kw, int stride, int pad, int dil

/* y[b, g*cout + m, n] = sum_r w[g*cout + m, r] * col[r, n] + bias, where
 * r = (ci, k) and col[r, n] = x[b, g*cin + ci, n*stride - pad + k*dil]. */
__kernel __attribute__((reqd_work_group_size(LW, LW, 1))) void
conv_fwd(__global const float *x, ulong xoff, __global const float *w, ulong woff, __global const float *bias,
         ulong boff, int has_bias, __global float *y, ulong yoff, CONV_ARGS)
{
    __local GEMM_OPERAND As[TK * TSP], Bs[TK * TSP];
    int lx = get_local_id(0), ly = get_local_id(1), tid = ly * LW + lx;
    int n0 = get_group_id(0) * TS, m0 = get_group_id(1) * TS;
    int z = get_global_id(2), b = z / G, g = z % G;
    int cin = Cin / G, cout = Cout / G, rows = cin * Kw;
    int M = cout, N = Tout, K = rows;
    __global const float *wg = w + woff + (ulong)g * cout * rows;
    __global const float *xg = x + xoff + ((ulong)b * Cin + (ulong)g * cin) * Tin;
    float acc[RB * RB];
    for (int i = 0; i < RB * RB; i++)
        acc[i] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TK) {
        for (int l = 0; l < LOADS; l++) {
            int idx = tid + l * LW * LW;
            int kk = idx % TK, mm = idx / TK, m = m0 + mm, k = k0 + kk;
            As[kk * TSP + mm] = TO_OPERAND((m < M && k < K) ? wg[(ulong)m * rows + k] : 0.0f);
            /* read along the contiguous axis: time (columns) at unit
             * stride; taps when strided (columns stride samples apart) */
            int taps_fast = stride > 1 && dil == 1;
            int nn = taps_fast ? idx / TK : idx % TS, n = n0 + nn;
            kk = taps_fast ? idx % TK : idx / TS;
            k = k0 + kk;
            float v = 0.0f;
            if (n < N && k < K) {
                int ci = k / Kw, tap = k - ci * Kw;
                int ti = n * stride - pad + tap * dil;
                if (ti >= 0 && ti < Tin)
                    v = xg[(ulong)ci * Tin + ti];
            }
            Bs[kk * TSP + nn] = TO_OPERAND(v);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        mac_tile(As, Bs, acc, lx, ly);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    __global float *yg = y + yoff + ((ulong)b * Cout + (ulong)g * cout) * Tout;
    for (int i = 0; i < RB; i++) {
        int m = m0 + ly + LW * i;
        float bv = (has_bias && m < M) ? bias[boff + g * cout + m] : 0.0f;
        for (int j = 0; j < RB; j++) {
            int n = n0 + lx + LW * j;
            if (m < M && n < N)
                yg[(ulong)m * Tout + n] = has_bias ? acc[i * RB + j] + bv : acc[i * RB + j];
        }
    }
}

/* The first column n of output phase rho, (n + pad) % phases == rho. */
int phase_first(int rho, int pad, int phases) { return ((rho - pad) % phases + phases) % phases; }

/* The input gradient (= transposed convolution) as a gather, valid for any
 * stride: dx[b, g*cin + m, n] = sum over r = (co, k) of
 * w[g*cout + co, m, k] * dy[b, g*cout + co, t] where t*stride = n + pad - k*dil.
 * Column n only receives the taps with n + pad - k*dil a multiple of
 * stride.  With phases = stride (the host's choice for dil 1), work-group
 * z = (b*G + g)*phases + rho covers the columns n with (n + pad) % stride
 * == rho, grid column j being n = n0 + j*stride, and reduces over their
 * taps k = rho + i*stride only: ceil(Kw/stride) per channel, not Kw with
 * all but one in stride multiplied by zero.  phases 1: every tap, masked. */
__kernel __attribute__((reqd_work_group_size(LW, LW, 1))) void
conv_bwd_input(__global const float *dy, ulong dyoff, __global const float *w, ulong woff, __global const float *bias,
               ulong boff, int has_bias, __global float *dx, ulong dxoff, CONV_ARGS, int phases)
{
    __local GEMM_OPERAND As[TK * TSP], Bs[TK * TSP];
    int lx = get_local_id(0), ly = get_local_id(1), tid = ly * LW + lx;
    int n0 = get_group_id(0) * TS, m0 = get_group_id(1) * TS;
    int z = get_global_id(2), rho = z % phases, b = z / phases / G, g = z / phases % G;
    int first = phase_first(rho, pad, phases), taps = (Kw + phases - 1) / phases;
    int cin = Cin / G, cout = Cout / G;
    int M = cin, N = (Tin - first + phases - 1) / phases, K = cout * taps;
    __global const float *wg = w + woff + (ulong)g * cout * cin * Kw;
    __global const float *dyg = dy + dyoff + ((ulong)b * Cout + (ulong)g * cout) * Tout;
    float acc[RB * RB];
    for (int i = 0; i < RB * RB; i++)
        acc[i] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TK) {
        for (int l = 0; l < LOADS; l++) {
            int idx = tid + l * LW * LW;
            int kk = idx % TK, mm = idx / TK, m = m0 + mm, k = k0 + kk;
            float v = 0.0f;
            if (m < M && k < K) {
                int co = k / taps, tap = rho + (k - co * taps) * phases;
                if (tap < Kw)
                    v = wg[((ulong)co * cin + m) * Kw + tap];
            }
            As[kk * TSP + mm] = TO_OPERAND(v);
            int nn = idx % TS, n = n0 + nn;
            kk = idx / TS;
            k = k0 + kk;
            v = 0.0f;
            if (n < N && k < K) {
                int co = k / taps, tap = rho + (k - co * taps) * phases;
                int num = first + n * phases + pad - tap * dil;
                if (tap < Kw && num >= 0 && num % stride == 0 && num / stride < Tout)
                    v = dyg[(ulong)co * Tout + num / stride];
            }
            Bs[kk * TSP + nn] = TO_OPERAND(v);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        mac_tile(As, Bs, acc, lx, ly);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    __global float *dxg = dx + dxoff + ((ulong)b * Cin + (ulong)g * cin) * Tin;
    for (int i = 0; i < RB; i++) {
        int m = m0 + ly + LW * i;
        float bv = (has_bias && m < M) ? bias[boff + g * cin + m] : 0.0f;
        for (int j = 0; j < RB; j++) {
            int n = n0 + lx + LW * j;
            if (m < M && n < N)
                dxg[(ulong)m * Tin + first + n * phases] = has_bias ? acc[i * RB + j] + bv : acc[i * RB + j];
        }
    }
}

/* The weight gradient, with the batch folded into the reduction:
 * dw[g*cout + m, r] = sum over q = (b, t) of dy[b, g*cout + m, t] * col_b[r, t].
 * With t_split (split-K, see jc_conv_weight_split), work-group z = split*G + g
 * covers the time steps [split*t_split, +t_split) of every batch item and
 * writes its partial dw to slab `split` of dw (scratch). */
__kernel __attribute__((reqd_work_group_size(LW, LW, 1))) void
conv_bwd_weight(__global const float *x, ulong xoff, __global const float *dy, ulong dyoff, __global float *dw,
                ulong dwoff, int B, CONV_ARGS, int t_split)
{
    __local GEMM_OPERAND As[TK * TSP], Bs[TK * TSP];
    int lx = get_local_id(0), ly = get_local_id(1), tid = ly * LW + lx;
    int n0 = get_group_id(0) * TS, m0 = get_group_id(1) * TS;
    int g = get_global_id(2) % G, split = get_global_id(2) / G;
    int span = t_split ? t_split : Tout, t_lo = split * span, tk = min(span, Tout - t_lo);
    int cin = Cin / G, cout = Cout / G, rows = cin * Kw;
    int M = cout, N = rows, K = B * tk;
    float acc[RB * RB];
    for (int i = 0; i < RB * RB; i++)
        acc[i] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TK) {
        for (int l = 0; l < LOADS; l++) {
            /* both operands are contiguous along t: k runs fastest */
            int idx = tid + l * LW * LW;
            int kk = idx % TK, mm = idx / TK, m = m0 + mm, k = k0 + kk;
            float v = 0.0f;
            if (m < M && k < K) {
                int b = k / tk, t = t_lo + k - b * tk;
                v = dy[dyoff + ((ulong)b * Cout + (ulong)g * cout + m) * Tout + t];
            }
            As[kk * TSP + mm] = TO_OPERAND(v);
            int nn = mm, n = n0 + nn;
            v = 0.0f;
            if (n < N && k < K) {
                int b = k / tk, t = t_lo + k - b * tk;
                int ci = n / Kw, tap = n - ci * Kw;
                int ti = t * stride - pad + tap * dil;
                if (ti >= 0 && ti < Tin)
                    v = x[xoff + ((ulong)b * Cin + (ulong)g * cin + ci) * Tin + ti];
            }
            Bs[kk * TSP + nn] = TO_OPERAND(v);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        mac_tile(As, Bs, acc, lx, ly);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    __global float *dwg = dw + dwoff + ((ulong)split * G + g) * cout * rows;
    for (int i = 0; i < RB; i++) {
        int m = m0 + ly + LW * i;
        for (int j = 0; j < RB; j++) {
            int n = n0 + lx + LW * j;
            if (m < M && n < N)
                dwg[(ulong)m * rows + n] = acc[i * RB + j];
        }
    }
}
