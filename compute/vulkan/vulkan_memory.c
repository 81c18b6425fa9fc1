/* vulkan_memory.c: one VkBuffer (with its own allocation) per jc_buffer.
 * The planner already packs a graph's tensors into one arena, so buffers
 * are few and large; no sub-allocator is needed.  Transfers go through
 * mapped memory when the tensors' memory is host visible (lavapipe), else
 * through a temporary staging buffer and a copy on the queue. */
#include <stdlib.h>
#include <string.h>

#include "vulkan_internal.h"

/* Staging copies move at most this much per submit, bounding host memory. */
#define STAGING_CHUNK ((size_t)64 << 20)

jc_status jc_vk_submit_wait(jc_vk_ctx *c, jc_error *err, const char *what)
{
    jc_vk_fns *f = &c->f;
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &c->cmd};
    VkResult r = f->vkResetFences(c->device, 1, &c->fence);
    if (r == VK_SUCCESS)
        r = f->vkQueueSubmit(c->queue, 1, &si, c->fence);
    if (r == VK_SUCCESS)
        r = f->vkWaitForFences(c->device, 1, &c->fence, VK_TRUE, UINT64_MAX);
    return r == VK_SUCCESS ? JC_OK : jc_vk_fail(c, r, err, what);
}

static jc_status lost(jc_vk_ctx *c, jc_error *err)
{
    return jc_error_set(err, JC_ERR_DEVICE, "Vulkan device %s: device lost earlier; reopen the backend", c->info.name);
}

/* A buffer with memory of the given type; addressable from shaders. */
static jc_status make_buffer(jc_vk_ctx *c, size_t size, uint32_t type, int map, jc_vk_buffer *b, jc_error *err)
{
    jc_vk_fns *f = &c->f;
    memset(b, 0, sizeof *b);
    b->size = size;
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult r = f->vkCreateBuffer(c->device, &bci, NULL, &b->buffer);
    if (r != VK_SUCCESS)
        return jc_vk_fail(c, r, err, "cannot create a buffer");
    VkMemoryRequirements req;
    f->vkGetBufferMemoryRequirements(c->device, b->buffer, &req);
    if (!(req.memoryTypeBits & (1u << type))) {
        f->vkDestroyBuffer(c->device, b->buffer, NULL);
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan device %s: buffers cannot use memory type %u", c->info.name,
                            (unsigned)type);
    }
    VkMemoryAllocateFlagsInfo fl = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
        .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT,
    };
    VkMemoryAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .pNext = &fl,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    r = f->vkAllocateMemory(c->device, &ai, NULL, &b->memory);
    if (r == VK_SUCCESS)
        r = f->vkBindBufferMemory(c->device, b->buffer, b->memory, 0);
    if (r == VK_SUCCESS && map)
        r = f->vkMapMemory(c->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->map);
    if (r != VK_SUCCESS) {
        if (b->memory)
            f->vkFreeMemory(c->device, b->memory, NULL);
        f->vkDestroyBuffer(c->device, b->buffer, NULL);
        if (r == VK_ERROR_DEVICE_LOST)
            c->lost = 1;
        jc_status code = r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY ||
                                 r == VK_ERROR_MEMORY_MAP_FAILED
                             ? JC_ERR_NOMEM
                             : JC_ERR_DEVICE;
        return jc_error_set(err, code, "Vulkan device %s: cannot allocate %zu bytes: %s (VkResult %d)", c->info.name,
                            size, jc_vk_result_str(r), (int)r);
    }
    VkBufferDeviceAddressInfo dai = {.sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO, .buffer = b->buffer};
    b->addr = f->vkGetBufferDeviceAddress(c->device, &dai);
    return JC_OK;
}

static void drop_buffer(jc_vk_ctx *c, jc_vk_buffer *b)
{
    if (b->map)
        c->f.vkUnmapMemory(c->device, b->memory);
    c->f.vkDestroyBuffer(c->device, b->buffer, NULL);
    c->f.vkFreeMemory(c->device, b->memory, NULL);
}

static jc_status begin_cmd(jc_vk_ctx *c, jc_error *err)
{
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = c->f.vkResetCommandBuffer(c->cmd, 0);
    if (r == VK_SUCCESS)
        r = c->f.vkBeginCommandBuffer(c->cmd, &bi);
    return r == VK_SUCCESS ? JC_OK : jc_vk_fail(c, r, err, "cannot begin a command buffer");
}

static jc_status end_submit(jc_vk_ctx *c, jc_error *err, const char *what)
{
    VkResult r = c->f.vkEndCommandBuffer(c->cmd);
    if (r != VK_SUCCESS)
        return jc_vk_fail(c, r, err, "cannot end a command buffer");
    return jc_vk_submit_wait(c, err, what);
}

jc_status jc_vk_buffer_alloc(jc_backend *be, size_t size, jc_buffer **out, jc_error *err)
{
    jc_vk_ctx *c = be->ctx;
    if (c->lost)
        return lost(c, err);
    /* whole 256-byte blocks: kernels may address up to the aligned end */
    size_t rounded = (size + JC_ALIGN - 1) / JC_ALIGN * JC_ALIGN;
    if (rounded == 0)
        rounded = JC_ALIGN;
    if (c->max_alloc && rounded > c->max_alloc)
        return jc_error_set(err, JC_ERR_NOMEM,
                            "Vulkan device %s: out of device memory: %zu bytes in one buffer, the device allows %llu",
                            c->info.name, size, (unsigned long long)c->max_alloc);
    jc_buffer *buf = calloc(1, sizeof *buf);
    jc_vk_buffer *vb = calloc(1, sizeof *vb);
    if (!buf || !vb) {
        free(buf);
        free(vb);
        return jc_error_set(err, JC_ERR_NOMEM, "Vulkan: out of host memory");
    }
    jc_status s = make_buffer(c, rounded, c->mem_device, c->direct_map, vb, err);
    if (s == JC_OK) {
        if (vb->map) {
            memset(vb->map, 0, rounded);
        } else {
            s = begin_cmd(c, err);
            if (s == JC_OK) {
                c->f.vkCmdFillBuffer(c->cmd, vb->buffer, 0, VK_WHOLE_SIZE, 0);
                s = end_submit(c, err, "zero-filling a buffer");
            }
            if (s)
                drop_buffer(c, vb);
        }
    }
    if (s) {
        free(buf);
        free(vb);
        return s;
    }
    buf->be = be;
    buf->size = size;
    buf->impl = vb;
    *out = buf;
    return JC_OK;
}

void jc_vk_buffer_free(jc_backend *be, jc_buffer *buf)
{
    if (!buf)
        return;
    jc_vk_ctx *c = be->ctx;
    jc_vk_buffer *vb = buf->impl;
    if (vb) {
        /* the queue is idle between calls: every submit waits for its fence */
        drop_buffer(c, vb);
        free(vb);
    }
    free(buf);
}

/* Host <-> device through a staging buffer, in chunks. */
static jc_status staged_copy(jc_vk_ctx *c, jc_vk_buffer *dev, size_t off, void *host, size_t n, int upload,
                             jc_error *err)
{
    jc_vk_buffer st;
    size_t chunk = n < STAGING_CHUNK ? n : STAGING_CHUNK;
    jc_status s = make_buffer(c, chunk, c->mem_staging, 1, &st, err);
    if (s)
        return s;
    for (size_t done = 0; s == JC_OK && done < n; done += chunk) {
        size_t len = n - done < chunk ? n - done : chunk;
        if (upload)
            memcpy(st.map, (const char *)host + done, len);
        s = begin_cmd(c, err);
        if (s)
            break;
        VkBufferCopy region = {.srcOffset = upload ? 0 : off + done, .dstOffset = upload ? off + done : 0,
                               .size = len};
        if (upload)
            c->f.vkCmdCopyBuffer(c->cmd, st.buffer, dev->buffer, 1, &region);
        else
            c->f.vkCmdCopyBuffer(c->cmd, dev->buffer, st.buffer, 1, &region);
        VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT};
        c->f.vkCmdPipelineBarrier(c->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                  VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0,
                                  NULL, 0, NULL);
        s = end_submit(c, err, upload ? "uploading" : "downloading");
        if (s == JC_OK && !upload)
            memcpy((char *)host + done, st.map, len);
    }
    drop_buffer(c, &st);
    return s;
}

jc_status jc_vk_upload(jc_backend *be, jc_buffer *buf, size_t off, const void *src, size_t n, jc_error *err)
{
    jc_vk_ctx *c = be->ctx;
    jc_vk_buffer *vb = buf->impl;
    if (off + n > buf->size)
        return jc_error_set(err, JC_ERR_INVALID, "Vulkan: upload past the end of a buffer");
    if (c->lost)
        return lost(c, err);
    if (vb->map) {
        memcpy((char *)vb->map + off, src, n);
        return JC_OK;
    }
    return staged_copy(c, vb, off, (void *)src, n, 1, err);
}

jc_status jc_vk_download(jc_backend *be, const jc_buffer *buf, size_t off, void *dst, size_t n, jc_error *err)
{
    jc_vk_ctx *c = be->ctx;
    jc_vk_buffer *vb = buf->impl;
    if (off + n > buf->size)
        return jc_error_set(err, JC_ERR_INVALID, "Vulkan: download past the end of a buffer");
    if (c->lost)
        return lost(c, err);
    if (vb->map) {
        memcpy(dst, (const char *)vb->map + off, n);
        return JC_OK;
    }
    return staged_copy(c, vb, off, dst, n, 0, err);
}
