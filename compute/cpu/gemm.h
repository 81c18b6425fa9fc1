/* gemm.h: single-precision matrix products for the CPU backend.
 * Row-major: C[M x N] = alpha * op(A) * op(B) + beta * C, where op(A) is
 * A [M x K] (lda >= K) or, if trans_a, A^T with A stored [K x M] (lda >= M);
 * likewise B is [K x N] (ldb >= N) or, if trans_b, stored [N x K] (ldb >= K).
 * beta == 0 means C is write-only (NaNs in C are not propagated). */
#ifndef JC_CPU_GEMM_H
#define JC_CPU_GEMM_H

#include "threadpool.h"

/* Our own cache-blocked kernel, parallel over the pool (tp may be NULL for
 * one thread). Deterministic for a given thread count: every element of C is
 * reduced in the same order whatever the scheduling. */
void jc_sgemm_own(jc_threadpool *tp, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Straightforward triple loop, the reference the tests compare against. */
void jc_sgemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc);

/* Which implementation jc_sgemm uses. */
typedef enum { JC_GEMM_OWN = 0, JC_GEMM_CBLAS = 1 } jc_gemm_impl;
/* 1 if the library was built with CBLAS. */
int jc_sgemm_have_cblas(void);
/* Dispatch: CBLAS when impl is JC_GEMM_CBLAS and it was found at build time,
 * else our own kernel. */
void jc_sgemm(jc_gemm_impl impl, jc_threadpool *tp, int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The SIMD level the CPU kernels use: the best this CPU runs, lowered by
 * JC_GEMM_ISA=generic|avx2 (read on every call, for the tests). */
enum { JC_ISA_GENERIC = 0, JC_ISA_AVX2 = 1, JC_ISA_AVX512 = 2 };
int jc_cpu_simd_isa(void);

#endif
