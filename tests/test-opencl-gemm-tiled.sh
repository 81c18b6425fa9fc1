#!/bin/sh
# test-opencl-gemm-tiled.sh: every OpenCL op test again with the
# local-memory GEMM and convolution kernels (JC_OPENCL_GEMM=tiled,
# kernels/gemm.cl), the default on GPUs, which the CPU driver here would
# otherwise not run (it gets the register-block kernels of gemm_vec.cl):
# matmuls, convolutions, their gradients (the input gradient by output
# phase when strided, the weight gradient with split-K) and transposed
# convolutions, against the CPU backend.  Its test lines say
# "opencl gemm_tiled".
dir=${JEPATOK_BUILDDIR:-.}
JC_OPENCL_GEMM=tiled exec "$dir/tests/test-backend-opencl" opencl "opencl gemm_tiled"
