// gemm.glsl: the register-blocked GEMM kernel, shared by gemm.comp (fp32
// products) and gemm_f16.comp (fp16 products, fp32 sums).  The includer
// defines GEMM_OPERAND, the type operands are converted to as they are
// loaded, and GEMM_MAC(acc, a, b), one multiply-accumulate into an fp32
// accumulator.  The modes (matmul and the three implicit-GEMM
// convolutions) and the operand addressing are in gemm_operands.glsl.
//
// Each invocation keeps a TM x TN block of accumulators in registers; rows
// and columns are interleaved across the workgroup so neighbouring
// invocations read neighbouring addresses.  No shared memory: on CPU
// drivers (lavapipe) barriers cost more than they save, and register
// blocking already gives the reuse (gemm_tiled.comp is the shared-memory
// variant, for GPUs).
#include "gemm_operands.glsl"

void main()
{
    GemmJob job = gemm_job(gl_WorkGroupID.z);
    uint row0 = gl_WorkGroupID.y * WG_M * TM + gl_LocalInvocationID.y;
    uint col0 = gl_WorkGroupID.x * WG_N * TN + gl_LocalInvocationID.x;

    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    uint steps = job.r_stop > p.r_begin ? job.r_stop - p.r_begin : 0;
    for (uint step = 0; step < steps; step++) {
        GemmStep s = gemm_step(job, p.r_begin + step);
        GEMM_OPERAND av[TM], bv[TN];
        for (uint i = 0; i < TM; i++)
            av[i] = gemm_a(job, s, row0 + i * WG_M);
        for (uint j = 0; j < TN; j++)
            bv[j] = gemm_b(job, s, col0 + j * WG_N);
        for (uint i = 0; i < TM; i++)
            for (uint j = 0; j < TN; j++)
                acc[i][j] = GEMM_MAC(acc[i][j], av[i], bv[j]);
    }

    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            gemm_store(job, row0 + i * WG_M, col0 + j * WG_N, acc[i][j]);
}
