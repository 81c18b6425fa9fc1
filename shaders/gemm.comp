#version 450
// GEMM with fp32 operands and products (see gemm.glsl): the reference path,
// and the only one in training graphs.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#define GEMM_OPERAND float
#define GEMM_MAC(acc, a, b) fma(a, b, acc)
#include "gemm.glsl"
