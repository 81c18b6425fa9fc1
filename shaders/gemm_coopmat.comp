#version 450
// GEMM on the device's matrix units through VK_KHR_cooperative_matrix
// (tensor cores, matrix cores, XMX): fp16 products summed in fp32, for
// inference graphs, like gemm_f16.comp (the same error bound: two operand
// roundings and one product rounding per term, fp32 sums; fp16's range).
// The operands, modes and output are gemm_operands.glsl's, as in every
// GEMM kernel here.
//
// A workgroup is WG_M subgroups of WG_N (= the subgroup size the device
// reports) invocations and computes a BM x BN tile of y.  That takes the
// device to run it as exactly WG_M subgroups: true of NVIDIA's and
// lavapipe's fixed sizes; a device whose subgroup size varies (Intel, AMD)
// would need the pipeline to require the size (VK_EXT_subgroup_size_control),
// which is not done yet.  Of the tile, subgroup s owns rows [s*TM*LM, +TM*LM)
// and all BN = TN*LN columns, as TM x TN accumulators of LM x LN (the
// device's cooperative-matrix shape, LM x LK times LK x LN).  The
// reduction runs in slices of TK steps: the workgroup stages the slice's
// BM x TK block of A and TK x BN block of B in shared memory as fp16, as
// gemm_tiled.comp does in fp32 (reading along each operand's contiguous
// axis, zeros past the edges), then each subgroup multiplies its blocks
// LK steps at a time.  At the end each accumulator goes through a small
// per-subgroup shared area to gemm_store, which adds bias or the earlier
// passes' sums and writes only inside y.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#include "common.glsl"
#define GEMM_OPERAND float16_t
#include "gemm_operands.glsl"

layout(constant_id = 5) const uint TK = 32;
layout(constant_id = 6) const uint LM = 16;
layout(constant_id = 7) const uint LN = 16;
layout(constant_id = 8) const uint LK = 16;
const uint BM = WG_M * TM * LM;
const uint BN = TN * LN;
// Rows padded by 8 halves (16 bytes): matrix loads keep their alignment
// and consecutive rows start in different memory banks.
const uint A_PITCH = TK + 8;
const uint B_PITCH = BN + 8;
shared float16_t a_tile[BM * A_PITCH];
shared float16_t b_tile[TK * B_PITCH];
shared float c_tile[WG_M * LM * LN];

void main()
{
    GemmJob job = gemm_job(gl_WorkGroupID.z);
    uint tid = gl_LocalInvocationID.y * WG_N + gl_LocalInvocationID.x, threads = WG_N * WG_M;
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
    uint sg = gl_SubgroupID;
    // each operand's contiguous axis, as in gemm_tiled.comp
    bool a_along_r = !(MODE == 0 && p.ta != 0);
    bool b_along_r = MODE == 3 || (MODE == 0 && p.tb != 0) || (MODE == 1 && p.stride > 1 && p.dil == 1);

    coopmat<float, gl_ScopeSubgroup, LM, LN, gl_MatrixUseAccumulator> acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++)
            acc[i][j] = coopmat<float, gl_ScopeSubgroup, LM, LN, gl_MatrixUseAccumulator>(0.0);

    uint steps = job.r_stop > p.r_begin ? job.r_stop - p.r_begin : 0;
    for (uint k0 = 0; k0 < steps; k0 += TK) {
        for (uint idx = tid; idx < BM * TK; idx += threads) {
            uint kk = a_along_r ? idx % TK : idx / BM;
            uint mm = a_along_r ? idx / TK : idx % BM;
            a_tile[mm * A_PITCH + kk] =
                k0 + kk < steps ? gemm_a(job, gemm_step(job, p.r_begin + k0 + kk), m0 + mm) : float16_t(0.0);
        }
        for (uint idx = tid; idx < BN * TK; idx += threads) {
            uint kk = b_along_r ? idx % TK : idx / BN;
            uint nn = b_along_r ? idx / TK : idx % BN;
            b_tile[kk * B_PITCH + nn] =
                k0 + kk < steps ? gemm_b(job, gemm_step(job, p.r_begin + k0 + kk), n0 + nn) : float16_t(0.0);
        }
        barrier();
        for (uint kk = 0; kk < TK; kk += LK) {
            coopmat<float16_t, gl_ScopeSubgroup, LM, LK, gl_MatrixUseA> a[TM];
            for (uint i = 0; i < TM; i++)
                coopMatLoad(a[i], a_tile, ((sg * TM + i) * LM) * A_PITCH + kk, A_PITCH,
                            gl_CooperativeMatrixLayoutRowMajor);
            for (uint j = 0; j < TN; j++) {
                coopmat<float16_t, gl_ScopeSubgroup, LK, LN, gl_MatrixUseB> b;
                coopMatLoad(b, b_tile, kk * B_PITCH + j * LN, B_PITCH, gl_CooperativeMatrixLayoutRowMajor);
                for (uint i = 0; i < TM; i++)
                    acc[i][j] = coopMatMulAdd(a[i], b, acc[i][j]);
            }
        }
        barrier();
    }

    uint area = sg * LM * LN;
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) {
            coopMatStore(acc[i][j], c_tile, area, LN, gl_CooperativeMatrixLayoutRowMajor);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            for (uint e = gl_SubgroupInvocationID; e < LM * LN; e += gl_SubgroupSize)
                gemm_store(job, m0 + (sg * TM + i) * LM + e / LN, n0 + j * LN + e % LN, c_tile[area + e]);
            subgroupBarrier();
        }
}
