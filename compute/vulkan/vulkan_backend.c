/* vulkan_backend.c: the backend table entry.  Opening loads libvulkan,
 * creates the device and the pipeline layout; graph_compute records every
 * node of g->exec into one command buffer, submits once and waits once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vulkan_internal.h"

static void vk_free(jc_backend *be)
{
    jc_vk_ctx *c = be->ctx;
    if (c) {
        if (c->scratch)
            jc_vk_buffer_free(be, c->scratch);
        jc_vk_close_device(c);
        jc_vk_unload(&c->f);
        free(c->ranges);
        free(c);
    }
    free(be);
}

static void vk_device_info(const jc_backend *be, jc_device_info *info)
{
    const jc_vk_ctx *c = be->ctx;
    *info = c->info;
}

/* JC_PROFILE: one submit and wait per node, timed on the host. */
static jc_status profiled_compute(jc_vk_ctx *c, jc_graph *g, int level, jc_error *err)
{
    for (int i = 0; i < g->n_exec; i++) {
        double t0 = jc_now_s();
        jc_status s = jc_vk_record_begin(c, err);
        if (s == JC_OK)
            s = jc_vk_record_node(c, g->exec[i], err);
        if (s) {
            c->f.vkEndCommandBuffer(c->cmd);
            return s;
        }
        if ((s = jc_vk_record_end_submit(c, err)))
            return s;
        g->exec[i]->profile_s = jc_now_s() - t0;
    }
    jc_profile_report("vulkan", g, level);
    return JC_OK;
}

/* Grow the scratch buffer to what g's nodes need (allocated before
 * recording: allocation zero-fills through a submit of its own). */
static jc_status ensure_scratch(jc_backend *be, jc_graph *g, jc_error *err)
{
    jc_vk_ctx *c = be->ctx;
    size_t need = 0, have = c->scratch ? jc_tensor_bytes(&c->scratch_t) : 0;
    for (int i = 0; i < g->n_exec; i++) {
        size_t n = jc_vk_node_scratch(c, g->exec[i]);
        need = n > need ? n : need;
    }
    if (need <= have)
        return JC_OK;
    if (c->scratch)
        jc_vk_buffer_free(be, c->scratch);
    c->scratch = NULL;
    jc_status s = jc_vk_buffer_alloc(be, need, &c->scratch, err);
    if (s)
        return s;
    memset(&c->scratch_t, 0, sizeof c->scratch_t);
    snprintf(c->scratch_t.name, sizeof c->scratch_t.name, "scratch");
    c->scratch_t.ndim = 1;
    c->scratch_t.shape[0] = (int64_t)(need / sizeof(float));
    c->scratch_t.buf = c->scratch;
    return JC_OK;
}

static jc_status vk_graph_compute(jc_backend *be, jc_graph *g, jc_error *err)
{
    jc_vk_ctx *c = be->ctx;
    if (c->lost)
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan device %s: device lost earlier; reopen the backend",
                            c->info.name);
    c->graph = g;
    jc_status s0 = ensure_scratch(be, g, err);
    if (s0)
        return s0;
    int profile = jc_profile_level();
    if (profile)
        return profiled_compute(c, g, profile, err);
    jc_status s = jc_vk_record_begin(c, err);
    for (int i = 0; s == JC_OK && i < g->n_exec; i++)
        s = jc_vk_record_node(c, g->exec[i], err);
    if (s) {
        c->f.vkEndCommandBuffer(c->cmd); /* leave it resettable */
        return s;
    }
    s = jc_vk_record_end_submit(c, err);
    if (c->validation_messages)
        fprintf(stderr, "jepatok vulkan: %d validation messages so far (%d dispatches, %d barriers)\n",
                c->validation_messages, c->n_dispatches, c->n_barriers);
    return s;
}

static const jc_backend_iface vk_iface = {
    vk_free, vk_device_info, jc_vk_buffer_alloc, jc_vk_buffer_free, jc_vk_upload, jc_vk_download, jc_vk_supports_op,
    vk_graph_compute,
};

/* options: "device=N" (index among jc_vulkan_devices).  Environment:
 * JC_VULKAN_VALIDATE=1 (validation layer), JC_VULKAN_NO_SUBGROUPS=1, JC_VULKAN_FP16=0|1
 * (fp16 products in inference graphs' GEMMs: off / on; default off),
 * JC_VULKAN_GEMM=tiled[,tk] (shared-memory GEMM), JC_VULKAN_GEMM_TILE=...,
 * JC_VULKAN_NO_DIRECT_DW=1 (depthwise convolutions as GEMMs), JC_VULKAN_DW=gpu|cpu,
 * JC_VULKAN_NO_PIPELINE_CACHE=1, JC_VULKAN_STAGING=1 (force staging copies). */
jc_backend *jc_vulkan_backend_new(const char *options, jc_error *err)
{
    jc_backend *be = calloc(1, sizeof *be);
    jc_vk_ctx *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        jc_error_set(err, JC_ERR_NOMEM, "Vulkan backend: out of memory");
        return NULL;
    }
    be->iface = &vk_iface;
    be->ctx = c;
    snprintf(be->name, sizeof be->name, "vulkan");
    jc_status s = jc_vk_load(&c->f, err);
    if (s == JC_OK)
        s = jc_vk_open_device(c, jc_option_int(options, "device", 0), err);
    if (s == JC_OK)
        s = jc_vk_pipelines_init(c, err);
    if (s) {
        vk_free(be);
        return NULL;
    }
    return be;
}
