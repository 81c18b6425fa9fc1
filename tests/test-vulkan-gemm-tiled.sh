#!/bin/sh
# test-vulkan-gemm-tiled.sh: every Vulkan op test again with the
# shared-memory GEMM (JC_VULKAN_GEMM=tiled, shaders/gemm_tiled.comp) in
# place of the register kernel, at the GPUs' tile shape (16 x 16
# invocations of 4 x 4) rather than lavapipe's.  Every product with more
# than 32 rows goes through it: matmuls (both transposes), convolutions,
# their input and weight gradients (split-K too) and transposed
# convolutions, against the CPU backend.  Its test lines say
# "vulkan gemm_tiled".
dir=${JEPATOK_BUILDDIR:-.}
JC_VULKAN_GEMM=tiled JC_VULKAN_GEMM_TILE=16,16,4,4 \
    exec "$dir/tests/test-backend-vulkan" vulkan "vulkan gemm_tiled"
