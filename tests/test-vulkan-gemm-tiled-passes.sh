#!/bin/sh
# test-vulkan-gemm-tiled-passes.sh: the shared-memory GEMM
# (JC_VULKAN_GEMM=tiled) at lavapipe's own tile shape (8 x 2 invocations
# of 16 x 16), where each invocation loops ~180 times per 16-step slice,
# on the op case whose reduction (33001 steps) needs several passes to
# stay under lavapipe's 65535 loop iterations per invocation
# (tiled_pass_steps in compute/vulkan/vulkan_ops.c).  The full op suite
# runs through the tiled kernel at the GPUs' shape in
# test-vulkan-gemm-tiled.sh.
dir=${JEPATOK_BUILDDIR:-.}
JC_VULKAN_GEMM=tiled JC_TEST_ONLY="long reduction" \
    exec "$dir/tests/test-backend-vulkan" vulkan "vulkan gemm_tiled"
