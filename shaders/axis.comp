#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Data movement along one axis of [outer, n, inner], one output element per
// invocation (a gather, so no two invocations write the same element):
// mode 0 slice, 1 zero pad, 2 reflect pad, 3 gradient of reflect pad,
// 4 concat of x (n_in long) and x2 (n_in2 long).
layout(local_size_x = 256) in;

layout(push_constant) uniform Params {
    FBuf x;
    FBuf x2;
    FBuf y;
    uint n_in;
    uint n_in2;
    uint n_out;
    uint inner;
    int start; // slice start, or pad before
    int after;
    uint mode;
    uint n;
} p;

void main()
{
    uint idx = flat_index(256);
    if (idx >= p.n)
        return;
    uint i = idx % p.inner, r = idx / p.inner;
    int k = int(r % p.n_out);
    uint o = r / p.n_out;
    int n_in = int(p.n_in);
    float v = 0.0;
    if (p.mode == 0) {
        v = p.x.v[(o * p.n_in + uint(k + p.start)) * p.inner + i];
    } else if (p.mode == 1 || p.mode == 2) {
        int src = k - p.start;
        if (p.mode == 2) // reflect without repeating the edge
            src = src < 0 ? -src : (src >= n_in ? 2 * (n_in - 1) - src : src);
        if (src >= 0 && src < n_in)
            v = p.x.v[(o * p.n_in + uint(src)) * p.inner + i];
    } else if (p.mode == 3) {
        // x is the gradient of the padded tensor (n_in long); output k
        // gathers every padded position that reflects onto it, in the
        // order the CPU's scatter adds them
        int n = int(p.n_out), before = p.start;
        uint row = o * p.n_in;
        if (k >= 1 && k <= before)
            v += p.x.v[(row + uint(before - k)) * p.inner + i];
        v += p.x.v[(row + uint(k + before)) * p.inner + i];
        int q = 2 * (n - 1) - k;
        if (q >= n && q < n + p.after)
            v += p.x.v[(row + uint(q + before)) * p.inner + i];
    } else {
        if (k < n_in)
            v = p.x.v[(o * p.n_in + uint(k)) * p.inner + i];
        else
            v = p.x2.v[(o * p.n_in2 + uint(k - n_in)) * p.inner + i];
    }
    p.y.v[idx] = v;
}
