#!/bin/sh
# test-vulkan-dw-gpu.sh: the depthwise convolution cases again with the
# direct kernels' GPU plan (JC_VULKAN_DW=gpu: sources staged through shared
# memory, ~1024 workgroups, shorter weight-gradient stages) on whatever
# device runs the tests: on lavapipe, which otherwise gets the CPU plan
# (plain loads, a register window), so both plans of
# shaders/conv_depthwise.comp are checked against the CPU backend.  Its
# test lines say "vulkan dw gpu".
dir=${JEPATOK_BUILDDIR:-.}
JC_VULKAN_DW=gpu JC_TEST_ONLY=depthwise \
    exec "$dir/tests/test-backend-vulkan" vulkan "vulkan dw gpu"
