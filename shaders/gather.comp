#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// permute and expand: y[i0,i1,i2,i3] = x[sum ik * stride[k]], with the
// host giving the input stride of each output axis (0 where broadcast).
layout(local_size_x = 256) in;

layout(push_constant) uniform Params {
    FBuf x;
    FBuf y;
    uint shape[4];
    uint st[4];
    uint n;
} p;

void main()
{
    uint idx = flat_index(256);
    if (idx >= p.n)
        return;
    uint i3 = idx % p.shape[3], r = idx / p.shape[3];
    uint i2 = r % p.shape[2];
    r /= p.shape[2];
    uint i1 = r % p.shape[1], i0 = r / p.shape[1];
    p.y.v[idx] = p.x.v[i0 * p.st[0] + i1 * p.st[1] + i2 * p.st[2] + i3 * p.st[3]];
}
