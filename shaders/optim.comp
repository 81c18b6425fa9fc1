#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// In-place optimiser updates on store tensors: AdamW (mode 0) with the
// step-dependent scalars read from device memory (hyper: lr, bias
// corrections; clip: the global-norm clip factor) so a recorded graph
// needs no host values per step; EMA (mode 1): target <- d*target + (1-d)*online.
layout(local_size_x = 256) in;

layout(push_constant) uniform Params {
    FBuf param;
    FBuf grad;  // EMA: online
    FBuf m;
    FBuf v;
    FBuf hyper;
    FBuf clip;
    float b1;   // EMA: decay
    float b2;
    float eps;
    float wd;
    uint mode;
    uint n;
} p;

void main()
{
    uint i = flat_index(256);
    if (i >= p.n)
        return;
    if (p.mode == 1) {
        p.param.v[i] = p.b1 * p.param.v[i] + (1.0 - p.b1) * p.grad.v[i];
        return;
    }
    float lr = p.hyper.v[0], bc1 = p.hyper.v[1], bc2 = p.hyper.v[2];
    float g = p.grad.v[i] * p.clip.v[0];
    float m = p.b1 * p.m.v[i] + (1.0 - p.b1) * g;
    float v = p.b2 * p.v.v[i] + (1.0 - p.b2) * g * g;
    p.m.v[i] = m;
    p.v.v[i] = v;
    float w = p.param.v[i] * (1.0 - lr * p.wd); // decoupled decay first, as torch.optim.AdamW
    p.param.v[i] = w - lr * (m * bc1) / (sqrt(v * bc2) + p.eps);
}
