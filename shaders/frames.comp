#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// STFT framing of x [B, T] into [B, F, N] (mode 0) and its gradient, the
// overlap-add of frame gradients back to [B, T] written as a gather
// (mode 1).
layout(local_size_x = 256) in;

layout(push_constant) uniform Params {
    FBuf x;
    FBuf y;
    uint T;
    uint F;
    uint N;
    uint hop;
    uint mode;
    uint n;
} p;

void main()
{
    uint idx = flat_index(256);
    if (idx >= p.n)
        return;
    if (p.mode == 0) {
        uint j = idx % p.N, r = idx / p.N;
        uint b = r / p.F, f = r % p.F;
        p.y.v[idx] = p.x.v[b * p.T + f * p.hop + j];
        return;
    }
    uint b = idx / p.T, t = idx % p.T;
    int f_lo = t >= p.N ? int((t - p.N) / p.hop) + 1 : 0;
    int f_hi = min(int(t / p.hop), int(p.F) - 1);
    float s = 0.0;
    for (int j = 0; j <= f_hi - f_lo; j++) { // from 0: see common.glsl
        uint f = uint(f_lo + j);
        s += p.x.v[(b * p.F + f) * p.N + (t - f * p.hop)];
    }
    p.y.v[idx] = s;
}
