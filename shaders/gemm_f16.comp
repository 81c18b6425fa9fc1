#version 450
// GEMM with fp16 products and fp32 sums (see gemm.glsl), for inference
// graphs on devices with shaderFloat16 (compute/vulkan/vulkan_ops.c decides).
// Operands are read as fp32 and rounded to fp16 as they are loaded; each
// product is an fp16 multiply (the operation GPUs with packed half-precision
// ALUs run at twice the fp32 rate), and is added to an fp32 accumulator, so
// the error grows with the reduction length only as fp32 sums do: relative
// error about 3 * 2^-11 per product (two operand roundings, one product
// rounding), independent of K.  Range is fp16's: operands or products past
// 65504 become infinite, which is why the host can switch this path off
// (JC_VULKAN_FP16=0, or per graph).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#include "common.glsl"
#define GEMM_OPERAND float16_t
#define GEMM_MAC(acc, a, b) ((acc) + float((a) * (b)))
#include "gemm.glsl"
