#version 450
// softmax.comp: the fused softmax (GRAD 0) and its gradient (GRAD 1,
// dx = y * (dy - sum(dy * y))) over one axis of a tensor seen as
// [outer, n, inner], one result column per (outer, inner) pair.
// GROUP 0: an invocation per column, a serial loop (axes under 64).
// GROUP 1: a workgroup per column; its invocations stride over the axis and
// combine in shared memory.  Each pass reads the column again rather than
// keeping it in shared memory, so any length fits; for the lengths softmax
// sees (attention rows of a few thousand) the later passes read from cache.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64; // a power of two
layout(constant_id = 1) const uint GROUP = 0;
layout(constant_id = 2) const uint GRAD = 0;

layout(push_constant) uniform Params {
    FBuf a;   // x, or y (the softmax) for the gradient
    FBuf b;   // dy for the gradient
    FBuf y;   // the softmax, or dx
    uint columns;
    uint n;
    uint inner;
} p;

shared float part[LS];

// v combined over the workgroup (max or sum); every invocation gets it.
float group_combine(float v, bool is_max)
{
    uint l = gl_LocalInvocationID.x;
    barrier(); // an earlier call's reads of part[0] are done
    part[l] = v;
    barrier();
    for (uint h = LS / 2; h > 0; h >>= 1) {
        if (l < h)
            part[l] = is_max ? max(part[l], part[l + h]) : part[l] + part[l + h];
        barrier();
    }
    return part[0];
}

void main()
{
    uint col = GROUP == 0 ? flat_index(LS) : flat_group();
    if (col >= p.columns) // whole workgroups only, for GROUP 1
        return;
    uint first = GROUP == 0 ? 0 : gl_LocalInvocationID.x, every = GROUP == 0 ? 1 : LS;
    // loops count from 0 (see common.glsl); the host keeps steps <= 32768
    uint steps = first < p.n ? (p.n - first + every - 1) / every : 0;
    uint base = col / p.inner * p.n * p.inner + col % p.inner, step = every * p.inner;
    base += first * p.inner;
    if (GRAD == 0) {
        float m = -3.402823466e38;
        for (uint j = 0; j < steps; j++)
            m = max(m, p.a.v[base + j * step]);
        if (GROUP == 1)
            m = group_combine(m, true);
        float s = 0.0;
        for (uint j = 0; j < steps; j++)
            s += exp(p.a.v[base + j * step] - m);
        if (GROUP == 1)
            s = group_combine(s, false);
        for (uint j = 0; j < steps; j++)
            p.y.v[base + j * step] = exp(p.a.v[base + j * step] - m) / s;
    } else {
        float d = 0.0;
        for (uint j = 0; j < steps; j++)
            d += p.b.v[base + j * step] * p.a.v[base + j * step];
        if (GROUP == 1)
            d = group_combine(d, false);
        for (uint j = 0; j < steps; j++)
            p.y.v[base + j * step] = p.a.v[base + j * step] * (p.b.v[base + j * step] - d);
    }
}
