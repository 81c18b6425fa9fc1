#version 450
// GEMM staged through shared memory, for GPUs (the operands, modes and
// output are gemm_operands.glsl's, as in the register kernel gemm.glsl).
//
// A workgroup of WG_N x WG_M invocations computes a BM x BN tile of y
// (BM = WG_M*TM, BN = WG_N*TN).  The reduction runs in slices of TK steps:
// the workgroup first copies the slice's BM x TK block of A and TK x BN
// block of B into shared memory, every invocation reading along the
// operand's contiguous axis (so neighbouring invocations read neighbouring
// addresses), then each invocation multiplies its TM x TN block out of
// shared memory.  Global memory is read once per workgroup instead of once
// per invocation row or column: WG_M (or WG_N) times fewer reads than the
// register kernel, which is what a GPU's bandwidth per FLOP needs.  Rows of
// the shared blocks are padded by one word so that the column-wise stores
// of an A slice read along r do not collide in one memory bank.  fp32
// operands and sums only.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#define GEMM_OPERAND float
#include "gemm_operands.glsl"

layout(constant_id = 5) const uint TK = 16;
const uint BM = WG_M * TM;
const uint BN = WG_N * TN;
const uint A_PITCH = BM + 1;
const uint B_PITCH = BN + 1;
shared float a_tile[TK * A_PITCH];
shared float b_tile[TK * B_PITCH];

void main()
{
    GemmJob job = gemm_job(gl_WorkGroupID.z);
    uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
    uint tid = ly * WG_N + lx, threads = WG_N * WG_M;
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
    // The contiguous axis of each operand: r, except for a transposed
    // matmul A; columns, except for a transposed matmul B, the weight
    // gradient's im2col (time runs along r there) and a strided
    // convolution's im2col (columns are stride samples apart, taps 1).
    bool a_along_r = !(MODE == 0 && p.ta != 0);
    bool b_along_r = MODE == 3 || (MODE == 0 && p.tb != 0) || (MODE == 1 && p.stride > 1 && p.dil == 1);

    float acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            acc[i][j] = 0.0;

    uint steps = job.r_stop > p.r_begin ? job.r_stop - p.r_begin : 0;
    for (uint k0 = 0; k0 < steps; k0 += TK) {
        for (uint idx = tid; idx < BM * TK; idx += threads) {
            uint kk = a_along_r ? idx % TK : idx / BM;
            uint mm = a_along_r ? idx / TK : idx % BM;
            a_tile[kk * A_PITCH + mm] = k0 + kk < steps ? gemm_a(job, gemm_step(job, p.r_begin + k0 + kk), m0 + mm) : 0.0;
        }
        for (uint idx = tid; idx < BN * TK; idx += threads) {
            uint kk = b_along_r ? idx % TK : idx / BN;
            uint nn = b_along_r ? idx / TK : idx % BN;
            b_tile[kk * B_PITCH + nn] = k0 + kk < steps ? gemm_b(job, gemm_step(job, p.r_begin + k0 + kk), n0 + nn) : 0.0;
        }
        memoryBarrierShared();
        barrier();
        for (uint kk = 0; kk < TK; kk++) {
            float av[TM], bv[TN];
            for (uint i = 0; i < TM; i++)
                av[i] = a_tile[kk * A_PITCH + ly + i * WG_M];
            for (uint j = 0; j < TN; j++)
                bv[j] = b_tile[kk * B_PITCH + lx + j * WG_N];
            for (uint i = 0; i < TM; i++)
                for (uint j = 0; j < TN; j++)
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        memoryBarrierShared();
        barrier();
    }

    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            gemm_store(job, m0 + ly + i * WG_M, n0 + lx + j * WG_N, acc[i][j]);
}
