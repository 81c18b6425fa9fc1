// reduce.glsl: sum or max over one axis of x seen as [outer, n, inner],
// output [outer, inner].  Included by reduce.comp and reduce_sg.comp (the
// latter with USE_SUBGROUPS, only created when the device reports subgroup
// arithmetic in compute shaders).
//
// TREE = 0: one invocation per output, a serial loop (short axes).
// TREE = 1: one workgroup per output; invocations stride over the axis with
// compensated (Kahan) sums, then combine in shared memory or subgroups.
// TREE = 2: for a long axis with many outputs side by side (inner >= 32:
// a sum over the first axis, the split-K partial sums): a workgroup per 32
// adjacent outputs; its LS/32 lanes of 32 invocations (8, or 32 for long
// axes) walk the axis LS/32 rows apart, so each lane reads 32 consecutive
// floats per row.  TREE 1 would read them one output at a time, a row
// (inner floats) apart: on a GPU one useful word per memory transaction.
// The CPU reference sums in double; compensation keeps long sums (the
// 17 M-element case) within float rounding of it.
#ifdef USE_SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(constant_id = 1) const uint TREE = 0;

layout(push_constant) uniform Params {
    FBuf x;
    FBuf y;
    uint outer;
    uint n;
    uint inner;
    uint is_max;
    uint k_begin;    // TREE: this pass's part of the axis
    uint k_end;
    uint accumulate; // TREE: combine with the previous passes' result
} p;

shared float partial[LS];

void store(uint r, float s)
{
    if (p.accumulate != 0)
        s = p.is_max != 0 ? max(p.y.v[r], s) : p.y.v[r] + s;
    p.y.v[r] = s;
}

// Max or compensated sum of x[base + (first + j*every)*inner], j < steps:
// one invocation's share of an axis (TREE 1 and 2).
float reduce_strided(uint base, uint first, uint steps, uint every)
{
    if (p.is_max != 0) {
        float m = -3.402823466e38;
        for (uint j = 0; j < steps; j++)
            m = max(m, p.x.v[base + (first + j * every) * p.inner]);
        return m;
    }
    precise float s = 0.0, c = 0.0;
    for (uint j = 0; j < steps; j++) {
        precise float v = p.x.v[base + (first + j * every) * p.inner] - c;
        precise float t = s + v;
        c = (t - s) - v;
        s = t;
    }
    return s;
}

void main()
{
    if (TREE == 0) {
        uint r = flat_index(LS);
        if (r >= p.outer * p.inner)
            return;
        uint o = r / p.inner, i = r % p.inner;
        uint base = o * p.n * p.inner + i;
        if (p.is_max != 0) {
            float m = p.x.v[base];
            for (uint k = 1; k < p.n; k++)
                m = max(m, p.x.v[base + k * p.inner]);
            p.y.v[r] = m;
        } else {
            precise float s = 0.0, c = 0.0;
            for (uint k = 0; k < p.n; k++) {
                precise float v = p.x.v[base + k * p.inner] - c;
                precise float t = s + v;
                c = (t - s) - v;
                s = t;
            }
            p.y.v[r] = s;
        }
        return;
    }
    uint lid = gl_LocalInvocationID.x;
    if (TREE == 2) {
        const uint COLS = 32, LANES = LS / COLS;
        uint tiles = (p.inner + COLS - 1) / COLS, tile = flat_group();
        uint o = tile / tiles, i = tile % tiles * COLS + lid % COLS, lane = lid / COLS;
        uint first = p.k_begin + lane;
        uint steps = i < p.inner && first < p.k_end ? (p.k_end - first + LANES - 1) / LANES : 0;
        float acc = reduce_strided(o * p.n * p.inner + i, first, steps, LANES);
        partial[lid] = acc;
        barrier();
        if (lane == 0 && i < p.inner) {
            float s = acc;
            for (uint l = 1; l < LANES; l++)
                s = p.is_max != 0 ? max(s, partial[lid + l * COLS]) : s + partial[lid + l * COLS];
            store(o * p.inner + i, s);
        }
        return;
    }
    uint r = flat_group();
    uint o = r / p.inner, i = r % p.inner;
    uint base = o * p.n * p.inner + i;
    // loops count from 0 (see common.glsl)
    uint first = p.k_begin + lid;
    uint steps = first < p.k_end ? (p.k_end - first + LS - 1) / LS : 0;
    float acc = reduce_strided(base, first, steps, LS);
#ifdef USE_SUBGROUPS
    acc = p.is_max != 0 ? subgroupMax(acc) : subgroupAdd(acc);
    if (subgroupElect())
        partial[gl_SubgroupID] = acc;
    barrier();
    if (lid == 0) {
        float s = partial[0];
        for (uint k = 1; k < gl_NumSubgroups; k++)
            s = p.is_max != 0 ? max(s, partial[k]) : s + partial[k];
        store(r, s);
    }
#else
    partial[lid] = acc;
    barrier();
    for (uint h = LS / 2; h > 0; h >>= 1) {
        if (lid < h)
            partial[lid] = p.is_max != 0 ? max(partial[lid], partial[lid + h]) : partial[lid] + partial[lid + h];
        barrier();
    }
    if (lid == 0)
        store(r, partial[0]);
#endif
}
