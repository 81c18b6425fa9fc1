// gemm_operands.glsl: what the two GEMM kernels share, y[M, N] = A[M, R]
// B[R, N] (+ bias): their specialization and push constants and, for each
// MODE, where an element of A or B is read (im2col and its transposes are
// done on the fly, never stored) and where an element of y goes.
// gemm.glsl keeps its operands in registers, gemm_tiled.comp stages them
// in shared memory; the modes are defined once, here.  The includer
// defines GEMM_OPERAND (the type operands are converted to as they are
// loaded).
//
// MODE 0 matmul: z = batch item; ta/tb select the transposed layouts.
// MODE 1 conv1d: z = b*G + g; A = w[g] [cout, cin*K]; B = im2col(x) [cin*K, Tout].
// MODE 2 conv1d input gradient (= transposed conv): z = (b*G + g)*phases
//        + rho; y = dx [cin, Tin]; reduction over (co, k); B gathers dy.
//        Output column n receives only the taps k with n + pad - k*dil a
//        multiple of stride; with phases = stride (dil 1), workgroup z
//        covers the columns n with (n + pad) % stride == rho, whose taps
//        are k = rho + j*stride: ceil(K/stride) per channel instead of K,
//        none of them wasted on a zero (phases 1: every tap, masked).
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
    uint phases;     // MODE 2: stride when split by output phase, else 1
} p;

// One workgroup's share of the problem, from its z index.
struct GemmJob {
    uint g;      // group of a grouped convolution
    uint bi;     // MODE 1, 2: batch item; MODE 3: split
    uint cin;    // channels per group
    uint cout;
    uint t_lo;   // MODE 3: the split's first time step
    uint tk;     // MODE 3: and its number of time steps
    uint rho;    // MODE 2: output phase; its first column; taps per channel
    uint n0;
    uint kp;
    uint abase;  // offsets that do not depend on the reduction index
    uint bbase;
    uint r_stop; // end of this pass's reduction
};

GemmJob gemm_job(uint z)
{
    GemmJob j;
    uint G = max(p.G, 1u); // matmuls leave the convolution fields 0
    j.cin = p.Cin / G;
    j.cout = p.Cout / G;
    uint phases = MODE == 2 ? max(p.phases, 1u) : 1u;
    j.rho = z % phases;
    j.g = z / phases % G;
    j.bi = z / phases / G;
    // (rho - pad) mod phases, kept non-negative: GLSL leaves % of negatives undefined
    int ph = int(phases);
    j.n0 = uint(int(j.rho) - p.pad + ph * (abs(p.pad) / ph + 1)) % phases;
    j.kp = (p.K + phases - 1) / phases;
    uint span = p.t_split != 0 ? p.t_split : p.Tout;
    j.t_lo = MODE == 3 ? j.bi * span : 0;
    j.tk = MODE == 3 ? min(span, p.Tout - j.t_lo) : 0;
    j.r_stop = MODE == 3 ? min(p.r_end, p.R / span * j.tk) : p.r_end;
    j.abase = 0;
    j.bbase = 0;
    if (MODE == 0) {
        j.abase = z * p.a_step;
        j.bbase = z * p.b_step;
    } else if (MODE == 1) {
        j.abase = j.g * j.cout * p.R;
        j.bbase = (j.bi * p.Cin + j.g * j.cin) * p.Tin;
    } else if (MODE == 2) {
        j.abase = j.g * j.cout * j.cin * p.K;
        j.bbase = (j.bi * p.Cout + j.g * j.cout) * p.Tout;
    }
    return j;
}

// The output column of grid column col: MODE 2 with phases steps through
// one phase's columns.
uint gemm_out_col(GemmJob j, uint col)
{
    return MODE == 2 ? j.n0 + col * max(p.phases, 1u) : col;
}

// What a reduction step r contributes to every row's A and every column's
// B address, computed once per step: the register kernel reuses it across
// its TM rows and TN columns (as a hand-hoisted loop would), the tiled
// kernel makes one per staged element.
struct GemmStep {
    uint r;
    uint a_off;  // MODE 2, 3: A's address for row 0 (rows step by a_pitch)
    uint b_off;  // MODE 1, 2, 3: the input row of B's gather
    int shift;   // MODE 1, 3: input position = col*stride + shift; 2: n + shift
    bool live;   // MODE 2: the tap exists (phases round K up)
};

GemmStep gemm_step(GemmJob j, uint r)
{
    GemmStep s;
    s.r = r;
    s.a_off = 0;
    s.b_off = 0;
    s.shift = 0;
    s.live = true;
    if (MODE == 1) {
        uint ci = r / p.K, k = r - ci * p.K;
        s.b_off = j.bbase + ci * p.Tin;
        s.shift = int(k * p.dil) - p.pad;
    } else if (MODE == 2) {
        uint co = r / j.kp, k = j.rho + (r - co * j.kp) * max(p.phases, 1u);
        s.live = k < p.K;
        s.a_off = j.abase + co * j.cin * p.K + k;
        s.b_off = j.bbase + co * p.Tout;
        s.shift = p.pad - int(k * p.dil);
    } else if (MODE == 3) {
        uint b = r / j.tk, t = j.t_lo + (r - b * j.tk);
        s.a_off = (b * p.Cout + j.g * j.cout) * p.Tout + t;
        s.b_off = (b * p.Cin + j.g * j.cin) * p.Tin;
        s.shift = int(t * p.stride) - p.pad;
    }
    return s;
}

// A[row, r], 0 past the last row.  Addresses first, then one guarded load,
// so the arithmetic is shared by the calls of one step.
GEMM_OPERAND gemm_a(GemmJob j, GemmStep s, uint row)
{
    uint o;
    if (MODE == 0)
        o = j.abase + (p.ta != 0 ? s.r * p.M + row : row * p.R + s.r);
    else if (MODE == 1)
        o = j.abase + row * p.R + s.r;
    else if (MODE == 2)
        o = s.a_off + row * p.K;
    else
        o = s.a_off + row * p.Tout;
    return GEMM_OPERAND(row < p.M && s.live ? p.a.v[o] : 0.0);
}

// B[r, col], 0 past the last column and in the convolutions' padding.
GEMM_OPERAND gemm_b(GemmJob j, GemmStep s, uint col)
{
    uint o;
    bool ok = col < p.N;
    if (MODE == 0) {
        o = j.bbase + (p.tb != 0 ? col * p.R + s.r : s.r * p.N + col);
    } else if (MODE == 1) {
        int ti = int(col * p.stride) + s.shift;
        ok = ok && ti >= 0 && ti < int(p.Tin);
        o = s.b_off + uint(ti);
    } else if (MODE == 2) {
        uint n = gemm_out_col(j, col);
        int num = int(n) + s.shift;
        uint t = uint(num) / p.stride;
        ok = ok && s.live && n < p.Tin && num >= 0 && uint(num) == t * p.stride && t < p.Tout;
        o = s.b_off + t;
    } else {
        uint ci = col / p.K, k = col - ci * p.K;
        int ti = s.shift + int(k * p.dil);
        ok = ok && ti >= 0 && ti < int(p.Tin);
        o = s.b_off + ci * p.Tin + uint(ti);
    }
    return GEMM_OPERAND(ok ? p.b.v[o] : 0.0);
}

// y[row, col] = acc (+ bias, or + y for a later pass of a long reduction);
// nothing outside y.
void gemm_store(GemmJob j, uint row, uint col, float acc)
{
    uint n = gemm_out_col(j, col), width = MODE == 2 ? p.Tin : p.N;
    if (row >= p.M || col >= p.N || n >= width)
        return;
    uint ybase;
    if (MODE == 0)
        ybase = gl_WorkGroupID.z * p.M * p.N;
    else if (MODE == 1)
        ybase = (j.bi * p.Cout + j.g * j.cout) * p.Tout;
    else if (MODE == 2)
        ybase = (j.bi * p.Cin + j.g * j.cin) * p.Tin;
    else
        ybase = (j.bi * max(p.G, 1u) + j.g) * j.cout * p.N;
    uint o = ybase + row * width + n;
    if (p.accumulate != 0)
        acc += p.y.v[o];
    else if (p.has_bias != 0)
        acc += p.bias.v[(MODE == 2 ? j.g * j.cin : j.g * j.cout) + row];
    p.y.v[o] = acc;
}
