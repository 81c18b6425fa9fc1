#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Binary operations with numpy broadcasting: the host passes the output
// shape padded to 4-D and each input's strides (0 on broadcast axes).
layout(local_size_x = 256) in;

layout(push_constant) uniform Params {
    FBuf a;
    FBuf b;
    FBuf y;
    uint shape[4];
    uint sa[4];
    uint sb[4];
    int kind;
    uint n;
} p;

// kinds as jc_binary_kind
float binary_value(int kind, float a, float b)
{
    switch (kind) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return a <= b ? a : b;
    case 5: return a >= b ? a : b;
    case 6: return a >= b ? 1.0 : 0.0;
    default: {
        float i = floor((a + 1.0) * b * 0.5);
        i = min(max(i, 0.0), b - 1.0);
        return kind == 8 ? i : (2.0 * i + 1.0 - b) / b;
    }
    }
}

void main()
{
    uint idx = flat_index(256);
    if (idx >= p.n)
        return;
    uint i3 = idx % p.shape[3], r = idx / p.shape[3];
    uint i2 = r % p.shape[2];
    r /= p.shape[2];
    uint i1 = r % p.shape[1], i0 = r / p.shape[1];
    uint ia = i0 * p.sa[0] + i1 * p.sa[1] + i2 * p.sa[2] + i3 * p.sa[3];
    uint ib = i0 * p.sb[0] + i1 * p.sb[1] + i2 * p.sb[2] + i3 * p.sb[3];
    p.y.v[idx] = binary_value(p.kind, p.a.v[ia], p.b.v[ib]);
}
