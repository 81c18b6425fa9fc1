// gemm.glsl: the GEMM kernel shared by gemm.comp (fp32 products) and
// gemm_f16.comp (fp16 products, fp32 sums).  The includer defines
// GEMM_OPERAND, the type operands are converted to as they are loaded, and
// GEMM_MAC(acc, a, b), one multiply-accumulate into an fp32 accumulator.
//
// Register-blocked GEMM, y[M, N] = A[M, R] B[R, N] (+ bias), for batched
// matmul and, as implicit GEMMs (the im2col matrix is never stored), for
// the three convolution kernels.  Each invocation keeps a TM x TN block of
// accumulators in registers; rows and columns are interleaved across the
// workgroup so neighbouring invocations read neighbouring addresses.  No
// shared memory: on CPU drivers (lavapipe) barriers cost more than they
// save, and register blocking already gives the reuse.
//
// MODE 0 matmul: z = batch item; ta/tb select the transposed layouts.
// MODE 1 conv1d: z = b*G + g; A = w[g] [cout, cin*K]; B = im2col(x) [cin*K, Tout].
// MODE 2 conv1d input gradient (= transposed conv): z = b*G + g;
//        y = dx [cin, Tin]; reduction over (co, k); B gathers dy.
// MODE 3 conv1d weight gradient: z = split*G + g; y = dw [cout, cin*K];
//        reduction over (b, t); A = dy, B = im2col(x)^T.  With t_split
//        (split-K, see jc_conv_weight_split), workgroup z covers the time
//        steps [split*t_split, +t_split) of every batch item and writes its
//        partial dw to slab `split` of y (scratch); R is then B*t_split.
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint WG_N = 16;
layout(constant_id = 1) const uint WG_M = 16;
layout(constant_id = 2) const uint TM = 4;
layout(constant_id = 3) const uint TN = 4;
layout(constant_id = 4) const uint MODE = 0;

layout(push_constant) uniform Params {
    FBuf a;    // MODE 0: a; 1, 2: w; 3: dy
    FBuf b;    // MODE 0: b; 1, 3: x; 2: dy
    FBuf bias;
    FBuf y;
    uint M;
    uint N;
    uint R;
    uint ta;
    uint tb;
    uint a_step;
    uint b_step;
    uint Cin;
    uint Cout;
    uint K;
    uint stride;
    int pad;
    uint dil;
    uint Tin;
    uint Tout;
    uint G;
    uint has_bias;
    uint r_begin;    // this pass's part of the reduction (see common.glsl)
    uint r_end;
    uint accumulate; // add to y (later passes) instead of bias
    uint t_split;    // MODE 3: time steps per split, 0 for none
} p;

void main()
{
    uint z = gl_WorkGroupID.z;
    uint row0 = gl_WorkGroupID.y * WG_M * TM + gl_LocalInvocationID.y;
    uint col0 = gl_WorkGroupID.x * WG_N * TN + gl_LocalInvocationID.x;
    uint cin = p.Cin / p.G, cout = p.Cout / p.G;
    uint g = z % p.G, bi = z / p.G;
    // MODE 3: this workgroup's time steps, tk of them from t_lo; bi is the split
    uint span = p.t_split != 0 ? p.t_split : p.Tout;
    uint t_lo = MODE == 3 ? bi * span : 0;
    uint tk = MODE == 3 ? min(span, p.Tout - t_lo) : 0;
    uint r_stop = MODE == 3 ? min(p.r_end, p.R / span * tk) : p.r_end;

    // Row and column bases that do not depend on the reduction index.
    uint abase = 0, bbase = 0;
    if (MODE == 0) {
        abase = z * p.a_step;
        bbase = z * p.b_step;
    } else if (MODE == 1) {
        abase = g * cout * p.R;
        bbase = (bi * p.Cin + g * cin) * p.Tin;
    } else if (MODE == 2) {
        abase = g * cout * cin * p.K;
        bbase = (bi * p.Cout + g * cout) * p.Tout;
    }
    // MODE 3: per column, the input channel and tap of column n = ci*K + k
    uint colc[TN], colk[TN];
    for (uint j = 0; j < TN; j++) {
        uint col = col0 + j * WG_N;
        colc[j] = col / p.K;
        colk[j] = col % p.K;
    }

    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    uint steps = r_stop > p.r_begin ? r_stop - p.r_begin : 0;
    for (uint step = 0; step < steps; step++) {
        uint r = p.r_begin + step;
        GEMM_OPERAND av[TM], bv[TN];
        if (MODE == 0) {
            for (uint i = 0; i < TM; i++) {
                uint row = row0 + i * WG_M;
                av[i] = GEMM_OPERAND(row < p.M ? p.a.v[abase + (p.ta != 0 ? r * p.M + row : row * p.R + r)] : 0.0);
            }
            for (uint j = 0; j < TN; j++) {
                uint col = col0 + j * WG_N;
                bv[j] = GEMM_OPERAND(col < p.N ? p.b.v[bbase + (p.tb != 0 ? col * p.R + r : r * p.N + col)] : 0.0);
            }
        } else if (MODE == 1) {
            uint ci = r / p.K, k = r - ci * p.K;
            int off = int(k * p.dil) - p.pad;
            for (uint i = 0; i < TM; i++) {
                uint row = row0 + i * WG_M;
                av[i] = GEMM_OPERAND(row < p.M ? p.a.v[abase + row * p.R + r] : 0.0);
            }
            for (uint j = 0; j < TN; j++) {
                uint col = col0 + j * WG_N;
                int ti = int(col * p.stride) + off;
                bv[j] = GEMM_OPERAND((col < p.N && ti >= 0 && ti < int(p.Tin)) ? p.b.v[bbase + ci * p.Tin + uint(ti)] : 0.0);
            }
        } else if (MODE == 2) {
            uint co = r / p.K, k = r - co * p.K;
            int off = p.pad - int(k * p.dil);
            for (uint i = 0; i < TM; i++) {
                uint row = row0 + i * WG_M;
                av[i] = GEMM_OPERAND(row < p.M ? p.a.v[abase + (co * cin + row) * p.K + k] : 0.0);
            }
            for (uint j = 0; j < TN; j++) {
                uint col = col0 + j * WG_N;
                int num = int(col) + off;
                uint t = uint(num) / p.stride;
                bool ok = col < p.N && num >= 0 && uint(num) == t * p.stride && t < p.Tout;
                bv[j] = GEMM_OPERAND(ok ? p.b.v[bbase + co * p.Tout + t] : 0.0);
            }
        } else {
            uint b = r / tk, t = t_lo + (r - b * tk);
            uint arow = (b * p.Cout + g * cout) * p.Tout + t;
            uint xrow = (b * p.Cin + g * cin) * p.Tin;
            int tb0 = int(t * p.stride) - p.pad;
            for (uint i = 0; i < TM; i++) {
                uint row = row0 + i * WG_M;
                av[i] = GEMM_OPERAND(row < p.M ? p.a.v[arow + row * p.Tout] : 0.0);
            }
            for (uint j = 0; j < TN; j++) {
                uint col = col0 + j * WG_N;
                int ti = tb0 + int(colk[j] * p.dil);
                bv[j] = GEMM_OPERAND((col < p.N && ti >= 0 && ti < int(p.Tin)) ? p.b.v[xrow + colc[j] * p.Tin + uint(ti)] : 0.0);
            }
        }
        for (uint i = 0; i < TM; i++)
            for (uint j = 0; j < TN; j++)
                acc[i][j] = GEMM_MAC(acc[i][j], av[i], bv[j]);
    }

    uint ybase;
    if (MODE == 0)
        ybase = z * p.M * p.N;
    else if (MODE == 1)
        ybase = (bi * p.Cout + g * cout) * p.Tout;
    else if (MODE == 2)
        ybase = (bi * p.Cin + g * cin) * p.Tin;
    else
        ybase = (bi * p.G + g) * cout * p.N;
    for (uint i = 0; i < TM; i++) {
        uint row = row0 + i * WG_M;
        if (row >= p.M)
            continue;
        float bias = 0.0;
        if (p.has_bias != 0 && p.accumulate == 0)
            bias = p.bias.v[(MODE == 2 ? g * cin : g * cout) + row];
        for (uint j = 0; j < TN; j++) {
            uint col = col0 + j * WG_N;
            if (col < p.N) {
                uint o = ybase + row * p.N + col;
                p.y.v[o] = acc[i][j] + (p.accumulate != 0 ? p.y.v[o] : bias);
            }
        }
    }
}
