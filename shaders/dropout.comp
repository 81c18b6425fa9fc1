#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Inverted dropout.  The mask is jc_hash_uniform (compute/rng.c) of the
// host-mixed 64-bit seed and the element index: 32-bit arithmetic only, so
// every backend draws the same mask.
layout(local_size_x = 256) in;

layout(push_constant) uniform Params {
    FBuf x;
    FBuf y;
    uint seed_lo;
    uint seed_hi;
    float prob;
    float keep_scale;
    uint n;
} p;

float hash_uniform(uint lo, uint hi, uint index)
{
    uint h = lo ^ (hi * 0x85ebca6bu);
    h ^= index * 0x9e3779b9u; // the index's high word is 0 below 2^32 elements
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return float(h >> 8) * (1.0 / 16777216.0);
}

void main()
{
    uint i = flat_index(256);
    if (i >= p.n)
        return;
    p.y.v[i] = hash_uniform(p.seed_lo, p.seed_hi, i) >= p.prob ? p.x.v[i] * p.keep_scale : 0.0;
}
