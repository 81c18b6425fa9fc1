#version 450
// Reductions combining through subgroup arithmetic (see reduce.glsl).
#extension GL_GOOGLE_include_directive : require
#define USE_SUBGROUPS 1
#include "reduce.glsl"
