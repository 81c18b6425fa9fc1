/* gemm_product.cl: the multiply-accumulate of the GEMM kernels (gemm.cl,
 * gemm_vec.cl) and the type their operands are held in.  Nothing else in
 * those files depends on the arithmetic, so opencl_program.c builds them a
 * second time with -DJC_GEMM_F16=N for the fp16-product GEMM of inference
 * graphs, and no GEMM code exists twice.
 *
 *   JC_GEMM_F16 undefined: fp32 operands, fma (what the kernels always did).
 *   JC_GEMM_F16=1: cl_khr_fp16 half arithmetic.  Operands are rounded to
 *     half as they are loaded; each product is a half multiply (what GPUs
 *     with packed fp16 ALUs run at twice the fp32 rate) and is added to an
 *     fp32 accumulator, so the error per product is about 3 * 2^-11 (two
 *     operand roundings, one product rounding) and does not grow with K.
 *     Range is fp16's: values or products past 65504 become infinite.
 *     UNTESTED on the development machines: PoCL, their only OpenCL
 *     driver, has no cl_khr_fp16.  tests/test-opencl-fp16 runs this branch
 *     on any device that advertises cl_khr_fp16 (a GPU).  Without one, a
 *     compiler still checks it (half multiplies in the IR):
 *       cat common.cl gemm_product.cl gemm.cl gemm_vec.cl > g.cl
 *       clang -x cl -cl-std=CL1.2 -Xclang -finclude-default-header
 *             -Xclang -cl-ext=+cl_khr_fp16 -target spir64 -DJC_GEMM_F16=1
 *             -c -emit-llvm g.cl   (one command line)
 *   JC_GEMM_F16=2: the same numbers without cl_khr_fp16, for testing on
 *     PoCL (JC_OPENCL_FP16=emulate): operands and products are rounded to
 *     fp16 through vstore_half_rte / vload_half (core OpenCL 1.2).  The
 *     product of two fp16 values is exact in fp32 (11 + 11 significant
 *     bits, exponents well inside fp32's range), so rounding it once gives
 *     the IEEE fp16 product, bit for bit where the device's half multiply
 *     rounds to nearest and keeps subnormals.  Slower than fp32: the
 *     conversions go through memory.  A test mode, not an optimisation.
 *
 * GEMM_OPERAND(8): the type (vector of 8) operands are held in;
 * TO_OPERAND(8)(x): a float (float8) loaded from memory, as an operand;
 * GEMM_MAC(8)(acc, a, b): acc + a * b into the fp32 accumulator acc. */
#if !defined(JC_GEMM_F16)
#define GEMM_OPERAND float
#define GEMM_OPERAND8 float8
#define TO_OPERAND(x) (x)
#define TO_OPERAND8(x) (x)
#define GEMM_MAC(acc, a, b) fma(a, b, acc)
#define GEMM_MAC8(acc, a, b) fma(a, b, acc)

#elif JC_GEMM_F16 == 1
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#define GEMM_OPERAND half
#define GEMM_OPERAND8 half8
#define TO_OPERAND(x) convert_half_rte(x)
#define TO_OPERAND8(x) convert_half8_rte(x)
#define GEMM_MAC(acc, a, b) ((acc) + convert_float((a) * (b)))
#define GEMM_MAC8(acc, a, b) ((acc) + convert_float8((a) * (b)))

#elif JC_GEMM_F16 == 2
/* half is a storage-only type here: the value goes through a ushort's
 * bytes, which vstore_half_rte writes and vload_half reads */
float round_to_half(float x)
{
    ushort h;
    vstore_half_rte(x, 0, (__private half *)&h);
    return vload_half(0, (__private const half *)&h);
}

float8 round_to_half8(float8 x)
{
    ushort8 h;
    vstore_half8_rte(x, 0, (__private half *)&h);
    return vload_half8(0, (__private const half *)&h);
}

#define GEMM_OPERAND float
#define GEMM_OPERAND8 float8
#define TO_OPERAND(x) round_to_half(x)
#define TO_OPERAND8(x) round_to_half8(x)
#define GEMM_MAC(acc, a, b) ((acc) + round_to_half((a) * (b)))
#define GEMM_MAC8(acc, a, b) ((acc) + round_to_half8((a) * (b)))

#else
#error "JC_GEMM_F16 must be 1 (cl_khr_fp16) or 2 (emulated)"
#endif
