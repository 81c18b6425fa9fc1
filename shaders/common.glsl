// common.glsl: what every compute shader of the Vulkan backend shares.
// Tensors are reached through 64-bit buffer device addresses passed in push
// constants, not descriptors: no descriptor sets to manage, and no 128 MiB
// maxStorageBufferRange limit per tensor (lavapipe's binding limit).
#extension GL_EXT_buffer_reference : require

layout(buffer_reference, std430, buffer_reference_align = 4) buffer FBuf {
    float v[];
};

// Element index of this invocation in a 1-D problem dispatched as a 2-D grid
// of workgroups (the host splits counts above maxComputeWorkGroupCount[0]).
uint flat_index(uint local_size)
{
    return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * local_size + gl_LocalInvocationID.x;
}

// Workgroup index in such a grid, for kernels with one workgroup per item.
uint flat_group()
{
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

// lavapipe (Mesa 22.3 llvmpipe) guards against endless loops by ending an
// invocation's loops after 65535 iterations, and loops whose counter starts
// from a large value were seen to end early as well.  So every long loop
// here counts from 0, and the host splits long reductions into passes of at
// most 32768 steps (r_begin/r_end, k_begin/k_end) that accumulate into the
// output.
