#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// conv_depthwise.comp: convolutions with one channel per group (Cin = Cout
// = groups, w [C, 1, K]) as direct loops over the taps.  As an implicit
// GEMM each group is a product with a single row, which leaves nearly all
// of a GEMM tile idle.  MODE selects the operation:
//
// MODE 0 forward, y[b,c,t] = bias[c] + sum_k w[c,k] x[b,c,t*stride - pad + k*dil].
// MODE 1 input gradient (= depthwise transposed convolution), as a gather:
//        dx[b,c,i] = bias[c] + sum over the taps k with i + pad - k*dil =
//        t*stride of w[c,k] dy[b,c,t].  No atomics: each dx is one
//        invocation's sum.
//   Rows at least a workgroup long: a workgroup computes LS*PER adjacent
//   outputs of one (b, c) row, invocation i the outputs i, i + LS, ...
//   (neighbours read and write neighbours).  With STAGED (GPUs) it first
//   copies the source span those outputs read (their own span plus the
//   (K-1)*dil halo, zeros in the padding) to shared memory, so each source
//   sample comes from global memory once per workgroup instead of once per
//   tap.  With WINDOW (CPU drivers, dilation 1, forward at stride 1)
//   invocation i computes PER consecutive outputs instead, sliding a
//   window of sources through registers.  The input gradient at stride > 1
//   goes by output phase (see row_tile).  Shorter rows (the Conformer's
//   few frames per row): the rows' outputs numbered end to end, LS*PER per
//   workgroup, plain loads.  Taps are split into passes [k_begin, k_end)
//   that accumulate into the output, so a span fits SH and no invocation
//   loops past lavapipe's limit (see common.glsl).
//
// MODE 2 weight gradient, dw[c,k] = sum over b, t of dy[b,c,t] x[b,c,t*stride - pad + k*dil].
//   The reduction runs over B*T steps (48000 for a second of audio) while
//   the output is C*K values, few for few channels: a workgroup per (c, k)
//   or per c looping over all of B*T would leave a GPU nearly idle and
//   read each x sample K times.  So each (b, c) row is cut into stages of
//   `tile` steps, and a workgroup reduces a run of `tiles` consecutive
//   stages (a split) for one channel and a block of up to LS taps: per
//   stage it stages dy and the x span (with the halo) in shared memory,
//   and its invocations, `taps` of them per time phase, each sum one tap
//   over every P-th step (P = LS / taps), so one sweep over the stage
//   serves all the block's taps.  At the end the P phases of each tap are
//   added in shared memory, and the split writes its partial dw to slab
//   `split` of y ([splits, C, K] in scratch) for the host to sum (or y is
//   dw itself when there is one split).  The host picks the splits so the
//   device has enough workgroups and no invocation loops past lavapipe's
//   limit.
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 256;
layout(constant_id = 1) const uint MODE = 0;
layout(constant_id = 2) const uint PER = 4;    // MODE 0, 1: outputs per invocation
layout(constant_id = 3) const uint STAGED = 1; // read the sources through shared memory
layout(constant_id = 4) const uint SH = 4096;  // shared floats (at least LS)
layout(constant_id = 5) const uint WINDOW = 0; // MODE 0, 1: consecutive outputs per invocation

layout(push_constant) uniform Params {
    FBuf x;    // MODE 0, 2: x [B, C, Tin]; MODE 1: dy [B, C, Tout]
    FBuf w;    // MODE 0, 1: w [C, 1, K];   MODE 2: dy
    FBuf bias;
    FBuf y;    // MODE 0: y; 1: dx; 2: dw or the splits' partials [splits, C, K]
    uint C;
    uint Tin;  // the convolution's input and output lengths
    uint Tout;
    uint K;
    uint stride;
    uint pad;
    uint dil;
    uint has_bias;
    uint accumulate; // MODE 0, 1: add to y (later tap passes) instead of bias
    uint k_begin;    // MODE 0, 1: this pass's taps
    uint k_end;
    uint period;     // MODE 1: taps reaching one output are this many apart
    uint tile;       // MODE 2: steps per stage
    uint tiles;      // MODE 0, 1: workgroups per row, 0 for short rows; 2: stages per split
    uint taps;       // MODE 2: taps per workgroup
    uint units;      // MODE 0, 1: outputs in all; 2: stages in all, B * row_units
    uint row_units;  // MODE 2: stages per (b, c) row
    uint groups;     // workgroups in all (the grid may be larger)
} p;

shared float sh[SH];

// Sample s of the source row starting at src, zero outside [0, n).
float global_source(uint src, int s, uint n)
{
    return s >= 0 && s < int(n) ? p.x.v[src + uint(s)] : 0.0;
}

// The same from shared memory, staged from position lo, with STAGED.
float source(uint src, int s, int lo, uint n)
{
    return STAGED != 0 ? sh[s - lo] : global_source(src, s, n);
}

// Copy count samples of the row at src from position lo to sh[at...],
// zeros outside [0, n); the caller's barrier makes them visible.
void stage(FBuf buf, uint src, int lo, uint count, uint n, uint at)
{
    uint lid = gl_LocalInvocationID.x;
    uint loads = (count + LS - 1) / LS;
    for (uint i = 0; i < loads; i++) {
        uint m = i * LS + lid;
        int s = lo + int(m);
        if (m < count)
            sh[at + m] = s >= 0 && s < int(n) ? buf.v[src + uint(s)] : 0.0;
    }
}

// acc plus this pass's taps of output o (channel c) of the source row at
// src, read from global memory: one output's loop, for short rows.
float output_taps(float acc, uint src, uint n_src, uint c, uint o)
{
    uint kb = p.k_begin, ke = p.k_end;
    if (MODE == 0) { // taps in the CPU's order
        for (uint i = 0; i < ke - kb; i++) { // from 0: see common.glsl
            uint k = kb + i;
            acc += p.w.v[c * p.K + k] * global_source(src, int(o * p.stride + k * p.dil) - int(p.pad), n_src);
        }
        return acc;
    }
    // input gradient: tap k reaches o when k*dil = o + pad (mod stride),
    // which holds for every period-th tap from the first (if any within
    // `period` taps of kb); at stride 1 every tap
    uint kf = kb, n = ke - kb;
    if (p.stride > 1) { // (skips integer divisions: CPU drivers scalarise them)
        uint r = (o + p.pad) % p.stride;
        kf = ke;
        for (uint i = 0; i < p.period && kf == ke; i++)
            if (kb + i < ke && (kb + i) * p.dil % p.stride == r)
                kf = kb + i;
        n = kf < ke ? (ke - 1 - kf) / p.period + 1 : 0;
    }
    // from the last tap down (increasing t, the CPU's order); t steps by
    // period*dil/stride: one division per output, not per tap
    uint k = kf + (n - 1) * p.period;
    int t = n > 0 ? (int(o + p.pad) - int(k * p.dil)) / int(p.stride) : 0; // exact
    int t_step = int(p.period * p.dil / p.stride);
    for (uint i = 0; i < n; i++) {
        acc += p.w.v[c * p.K + k] * global_source(src, t, n_src);
        k -= p.period;
        t += t_step;
    }
    return acc;
}

float initial(uint at, uint c)
{
    return p.accumulate != 0 ? p.y.v[at] : p.has_bias != 0 ? p.bias.v[c] : 0.0;
}

// Rows shorter than a workgroup: output q of the rows laid end to end.
void short_rows(uint g)
{
    uint n_src = MODE == 0 ? p.Tin : p.Tout, n_dst = MODE == 0 ? p.Tout : p.Tin;
    for (uint j = 0; j < PER; j++) {
        uint q = (g * PER + j) * LS + gl_LocalInvocationID.x;
        if (q >= p.units)
            break;
        uint row = q / n_dst, o = q - row * n_dst, c = row % p.C;
        p.y.v[q] = output_taps(initial(q, c), row * n_src, n_src, c, o);
    }
}

// Rows at least a workgroup long: LS*PER outputs of one row.  For the
// input gradient at stride > 1 the row's outputs are taken by phase,
// o = phase + stride*m (the workgroups of a phase `tiles / stride` apart):
// the taps reaching an output depend only on its phase (k*dil = phase +
// pad mod stride: every period-th tap from the first), so within a
// workgroup they are the same for every output, and dx at m reads dy at
// m + c_k, a stride-1 convolution of dy.  (The GEMM path's phase split,
// MODE 2 in gemm_operands.glsl, for the same reason.)  So both operations
// become: output m of the workgroup's sequence, step i reads source
// m*a + c0 + i*d with the weight of tap k0 + i*kstep.
void row_tile(uint g)
{
    uint lid = gl_LocalInvocationID.x;
    uint row = g / p.tiles, c = row % p.C;
    uint n_src = MODE == 0 ? p.Tin : p.Tout, n_dst = MODE == 0 ? p.Tout : p.Tin;
    uint src = row * n_src, dst = row * n_dst;
    uint ostep = MODE == 0 ? 1 : p.stride, per_phase = p.tiles / ostep, tile = g % p.tiles;
    uint phase = tile / per_phase, m0 = tile % per_phase * LS * PER; // the workgroup's first output
    uint kb = p.k_begin, ke = p.k_end;
    uint n, k0;
    int kstep, a, c0, d;
    if (MODE == 0) { // taps in the CPU's order
        n = ke - kb;
        k0 = kb;
        kstep = 1;
        a = int(p.stride);
        c0 = int(kb * p.dil) - int(p.pad);
        d = int(p.dil);
    } else {
        uint r = (phase + p.pad) % p.stride, kf = ke;
        for (uint i = 0; i < p.period && kf == ke; i++)
            if (kb + i < ke && (kb + i) * p.dil % p.stride == r)
                kf = kb + i;
        n = kf < ke ? (ke - 1 - kf) / p.period + 1 : 0;
        k0 = kf + (n - 1) * p.period; // from the last tap: increasing t, the CPU's order
        kstep = -int(p.period);
        a = 1;
        c0 = n > 0 ? (int(phase + p.pad) - int(k0 * p.dil)) / int(p.stride) : 0; // exact
        d = int(p.period * p.dil / p.stride);
    }
    // the source span [lo, hi] of the workgroup's outputs in this pass
    int lo = int(m0) * a + c0, hi = int(m0 + LS * PER - 1) * a + c0 + int(max(n, 1u) - 1) * d;
    if (STAGED != 0) {
        stage(p.x, src, lo, uint(hi - lo + 1), n_src, 0);
        barrier();
    }

    float acc[PER];
    uint m[PER]; // the invocation's outputs: o = phase + ostep*m
    for (uint j = 0; j < PER; j++) {
        m[j] = WINDOW != 0 ? m0 + lid * PER + j : m0 + lid + j * LS;
        uint o = phase + ostep * m[j];
        acc[j] = o < n_dst ? initial(dst + o, c) : 0.0;
    }
    if (WINDOW != 0) {
        // a = d = 1 (stride 1 and dilation 1, or the input gradient at
        // dilation 1): output m[0] + j reads source base + j + i at step
        // i, so a step's PER sources are the previous step's shifted by
        // one, plus one load: PER + n - 1 loads for PER*n products (loads
        // bound lavapipe, where this variant runs)
        int base = int(m[0]) + c0;
        float win[PER];
        for (uint j = 0; j < PER; j++)
            win[j] = source(src, base + int(j), lo, n_src);
        for (uint i = 0; i < n; i++) {
            float wk = p.w.v[c * p.K + uint(int(k0) + int(i) * kstep)];
            for (uint j = 0; j < PER; j++)
                acc[j] += wk * win[j];
            for (uint j = 0; j + 1 < PER; j++)
                win[j] = win[j + 1];
            if (i + 1 < n)
                win[PER - 1] = source(src, base + int(PER + i), lo, n_src);
        }
    } else {
        // each weight loaded once for PER outputs
        for (uint i = 0; i < n; i++) {
            float wk = p.w.v[c * p.K + uint(int(k0) + int(i) * kstep)];
            for (uint j = 0; j < PER; j++)
                acc[j] += wk * source(src, int(m[j]) * a + c0 + int(i) * d, lo, n_src);
        }
    }
    for (uint j = 0; j < PER; j++) {
        uint o = phase + ostep * m[j];
        if (o < n_dst)
            p.y.v[dst + o] = acc[j];
    }
}

void weight_grad(uint g)
{
    uint lid = gl_LocalInvocationID.x;
    uint blocks = (p.K + p.taps - 1) / p.taps;
    uint kb = g % blocks * p.taps, c = g / blocks % p.C, split = g / blocks / p.C;
    uint nk = min(p.taps, p.K - kb), phases = LS / nk;
    uint kl = lid % nk, ph = lid / nk; // this invocation's tap (from kb) and phase
    uint u0 = split * p.tiles, nu = min(p.tiles, p.units - u0);
    float acc = 0.0;
    for (uint it = 0; it < nu; it++) {
        uint u = u0 + it;
        uint b = u / p.row_units, t0 = u % p.row_units * p.tile;
        uint n = min(p.tile, p.Tout - t0);
        uint xrow = (b * p.C + c) * p.Tin, dyrow = (b * p.C + c) * p.Tout + t0;
        int lo = int(t0 * p.stride + kb * p.dil) - int(p.pad); // x of step t0, tap kb
        if (STAGED != 0) {
            barrier(); // the previous stage is read
            stage(p.w, dyrow, 0, n, n, 0);
            stage(p.x, xrow, lo, (n - 1) * p.stride + (nk - 1) * p.dil + 1, p.Tin, p.tile);
            barrier();
        }
        uint steps = ph < min(n, phases) ? (n - 1 - ph) / phases + 1 : 0;
        for (uint i = 0; i < steps; i++) {
            uint t = ph + i * phases;
            int s = int(t * p.stride + kl * p.dil); // from lo
            float d = STAGED != 0 ? sh[t] : p.w.v[dyrow + t];
            float xv = STAGED != 0 ? sh[p.tile + uint(s)] : global_source(xrow, lo + s, p.Tin);
            acc += d * xv;
        }
    }
    barrier();
    sh[lid] = acc;
    barrier();
    if (lid < nk) {
        float s = 0.0;
        for (uint j = 0; j < phases; j++)
            s += sh[lid + j * nk];
        p.y.v[(split * p.C + c) * p.K + kb + lid] = s;
    }
}

void main()
{
    uint g = flat_group();
    if (g >= p.groups) // the whole workgroup: no barrier is skipped by part of one
        return;
    if (MODE == 2)
        weight_grad(g);
    else if (p.tiles == 0)
        short_rows(g);
    else
        row_tile(g);
}
