/* common.cl: definitions every kernel file uses.  The kernel files are
 * concatenated in the order opencl.am lists them into one program, so this
 * file comes first.  The JC_BIN_* and JC_UN_* numbers arrive as -D build
 * options generated from jc_internal.h's enums, so they cannot drift. */

/* The CPU reference rounds every multiply and add separately (C11 with
 * -ffp-contract=off); contracting a*b+c into fma here would move FSQ level
 * boundaries and dropout-free results by an ulp, enough to flip an index. */
#pragma OPENCL FP_CONTRACT OFF

/* Reductions accumulate in double where the device has it, as the CPU
 * backend does; sums over tens of millions of elements stay within float
 * rounding of the reference.  Without fp64 they fall back to float. */
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double acc_t;
#else
typedef float acc_t;
#endif

