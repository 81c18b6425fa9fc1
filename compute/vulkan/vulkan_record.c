/* vulkan_record.c: a whole graph goes into one command buffer, one submit
 * and one fence wait.  Between dispatches a barrier is recorded only where
 * there is a hazard: a read of memory written since the last barrier (RAW),
 * or a write to memory read or written since then (WAR: the planner reuses
 * arena ranges; WAW).  Independent nodes in a row share no barrier and may
 * overlap on the device. */
#include <stdlib.h>
#include <string.h>

#include "vulkan_internal.h"

VkDeviceAddress jc_vk_addr(const jc_tensor *t)
{
    jc_tensor *base = jc_storage_base((jc_tensor *)t);
    const jc_vk_buffer *vb = base->buf->impl;
    return vb->addr + base->offset;
}

static void range_of(const jc_tensor *t, jc_vk_range *r)
{
    jc_tensor *base = jc_storage_base((jc_tensor *)t);
    r->buf = base->buf;
    r->off = base->offset;
    r->size = jc_tensor_bytes(t);
}

static int overlaps(const jc_vk_range *a, const jc_vk_range *b)
{
    return a->buf == b->buf && a->off < b->off + b->size && b->off < a->off + a->size;
}

jc_status jc_vk_record_begin(jc_vk_ctx *c, jc_error *err)
{
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = c->f.vkResetCommandBuffer(c->cmd, 0);
    if (r == VK_SUCCESS)
        r = c->f.vkBeginCommandBuffer(c->cmd, &bi);
    if (r != VK_SUCCESS)
        return jc_vk_fail(c, r, err, "cannot begin a command buffer");
    c->n_ranges = 0;
    c->bound = VK_NULL_HANDLE;
    c->n_dispatches = c->n_barriers = 0;
    return JC_OK;
}

static void barrier(jc_vk_ctx *c)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    c->f.vkCmdPipelineBarrier(c->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                              &mb, 0, NULL, 0, NULL);
    c->n_ranges = 0;
    c->n_barriers++;
}

jc_status jc_vk_dispatch(jc_vk_ctx *c, int shader, const uint32_t *spec, int n_spec, const void *push,
                         size_t push_size, uint32_t gx, uint32_t gy, uint32_t gz, const jc_vk_access *acc, int n_acc,
                         jc_error *err)
{
    if (gx > c->max_groups[0] || gy > c->max_groups[1] || gz > c->max_groups[2])
        return jc_error_set(err, JC_ERR_UNSUPPORTED, "Vulkan device %s: %u x %u x %u workgroups exceed the limits",
                            c->info.name, gx, gy, gz);
    VkPipeline pl;
    jc_status s = jc_vk_get_pipeline(c, shader, spec, n_spec, &pl, err);
    if (s)
        return s;
    int need = 0;
    for (int i = 0; i < n_acc && !need; i++) {
        jc_vk_range r;
        range_of(acc[i].t, &r);
        for (int j = 0; j < c->n_ranges && !need; j++)
            need = (acc[i].write || c->ranges[j].write) && overlaps(&r, &c->ranges[j]);
    }
    if (need)
        barrier(c);
    if (c->n_ranges + n_acc > c->cap_ranges) {
        int cap = 2 * (c->n_ranges + n_acc) + 16;
        jc_vk_range *nr = realloc(c->ranges, (size_t)cap * sizeof *nr);
        if (!nr)
            return jc_error_set(err, JC_ERR_NOMEM, "Vulkan: out of memory");
        c->ranges = nr;
        c->cap_ranges = cap;
    }
    for (int i = 0; i < n_acc; i++) {
        range_of(acc[i].t, &c->ranges[c->n_ranges]);
        c->ranges[c->n_ranges++].write = acc[i].write;
    }
    if (pl != c->bound) {
        c->f.vkCmdBindPipeline(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pl);
        c->bound = pl;
    }
    c->f.vkCmdPushConstants(c->cmd, c->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, (uint32_t)push_size, push);
    c->f.vkCmdDispatch(c->cmd, gx, gy, gz);
    c->n_dispatches++;
    return JC_OK;
}

jc_status jc_vk_dispatch_1d(jc_vk_ctx *c, int shader, const uint32_t *spec, int n_spec, const void *push,
                            size_t push_size, uint64_t n, uint32_t local_size, const jc_vk_access *acc, int n_acc,
                            jc_error *err)
{
    uint64_t groups = (n + local_size - 1) / local_size;
    uint64_t gx = groups < c->max_groups[0] ? groups : c->max_groups[0];
    uint64_t gy = (groups + gx - 1) / gx;
    return jc_vk_dispatch(c, shader, spec, n_spec, push, push_size, (uint32_t)gx, (uint32_t)gy, 1, acc, n_acc, err);
}

jc_status jc_vk_record_end_submit(jc_vk_ctx *c, jc_error *err)
{
    /* make the results visible to the host's reads after the fence */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT};
    c->f.vkCmdPipelineBarrier(c->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                              VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0,
                              NULL);
    VkResult r = c->f.vkEndCommandBuffer(c->cmd);
    if (r != VK_SUCCESS)
        return jc_vk_fail(c, r, err, "cannot end the command buffer");
    return jc_vk_submit_wait(c, err, "running the graph");
}
