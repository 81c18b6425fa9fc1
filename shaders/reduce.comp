#version 450
// Reductions with shared-memory combination (see reduce.glsl).
#extension GL_GOOGLE_include_directive : require
#include "reduce.glsl"
