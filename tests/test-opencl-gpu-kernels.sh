#!/bin/sh
# test-opencl-gpu-kernels.sh: every OpenCL op test again with the kernels
# GPUs get, which the CPU driver here would otherwise not run: the
# local-memory GEMM and convolution kernels of kernels/gemm.cl
# (JC_OPENCL_GEMM=tiled; CPU drivers get gemm_vec.cl's register blocks) and
# column reductions split over 8 lanes per output (JC_OPENCL_REDUCE_LANES=8;
# CPU drivers get one item per output).  Matmuls, convolutions, their
# gradients (the input gradient by output phase when strided, the weight
# gradient with split-K), transposed convolutions and reductions over
# leading axes, against the CPU backend.  Its test lines say
# "opencl gpu-kernels".
dir=${JEPATOK_BUILDDIR:-.}
JC_OPENCL_GEMM=tiled JC_OPENCL_REDUCE_LANES=8 \
    exec "$dir/tests/test-backend-opencl" opencl "opencl gpu-kernels"
