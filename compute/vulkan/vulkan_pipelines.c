/* vulkan_pipelines.c: shader modules and compute pipelines, created on
 * first use and shared by every node that needs the same shader with the
 * same specialization constants (tile sizes, kernel variants), plus the
 * VkPipelineCache kept on disk so later runs skip the driver's compiler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vulkan_internal.h"

static const char *const shader_names[JC_VK_SH_COUNT] = {
    [JC_VK_SH_GEMM] = "gemm",     [JC_VK_SH_GEMM_F16] = "gemm_f16",   [JC_VK_SH_GEMM_TILED] = "gemm_tiled",
    [JC_VK_SH_GEMM_COOPMAT] = "gemm_coopmat",
    [JC_VK_SH_BINARY] = "binary",
    [JC_VK_SH_UNARY] = "unary",   [JC_VK_SH_REDUCE] = "reduce",       [JC_VK_SH_REDUCE_SG] = "reduce_sg",
    [JC_VK_SH_GATHER] = "gather", [JC_VK_SH_AXIS] = "axis",           [JC_VK_SH_FRAMES] = "frames",
    [JC_VK_SH_DROPOUT] = "dropout", [JC_VK_SH_OPTIM] = "optim",   [JC_VK_SH_SOFTMAX] = "softmax",
    [JC_VK_SH_CONV_DW] = "conv_depthwise", [JC_VK_SH_FFT] = "fft",
};

static const jc_vk_spirv *find_spirv(const char *name)
{
    for (const jc_vk_spirv *m = jc_vk_spirv_modules; m->name; m++)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

int jc_vk_have_shaders(void) { return jc_vk_spirv_modules[0].name != NULL; }

int jc_vk_have_shader(const char *name) { return find_spirv(name) != NULL; }

/* ------------------------------------------------------- pipeline cache */

/* mkdir -p; failures are left to the file operations that follow. */
static void make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    mkdir(path, 0755);
}

/* $XDG_CACHE_HOME/jepatok/vulkan/<device uuid>-<driver version>.bin: a
 * cache from another driver version would be rejected by the driver anyway,
 * and keying the name keeps one file per installed device. */
static int cache_path(jc_vk_ctx *c, char *out, size_t n)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[900];
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/jepatok/vulkan", xdg);
    else if (home && home[0])
        snprintf(dir, sizeof dir, "%s/.cache/jepatok/vulkan", home);
    else
        return -1;
    char uuid[2 * VK_UUID_SIZE + 1];
    for (unsigned i = 0; i < VK_UUID_SIZE; i++)
        snprintf(uuid + 2 * i, 3, "%02x", c->props.pipelineCacheUUID[i]);
    VkPhysicalDeviceIDProperties id = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &id};
    c->f.vkGetPhysicalDeviceProperties2(c->phys, &p2);
    char dev[2 * VK_UUID_SIZE + 1];
    for (unsigned i = 0; i < VK_UUID_SIZE; i++)
        snprintf(dev + 2 * i, 3, "%02x", id.deviceUUID[i]);
    int len = snprintf(out, n, "%s/%s-%08x-%.8s.bin", dir, dev, (unsigned)c->props.driverVersion, uuid);
    return len > 0 && (size_t)len < n ? 0 : -1;
}

static void *read_file(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    void *data = NULL;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long len = ftell(fp);
        if (len > 0 && len < (64L << 20) && fseek(fp, 0, SEEK_SET) == 0 && (data = malloc((size_t)len)) != NULL) {
            if (fread(data, 1, (size_t)len, fp) == (size_t)len) {
                *size = (size_t)len;
            } else {
                free(data);
                data = NULL;
            }
        }
    }
    fclose(fp);
    return data;
}

/* Write the cache atomically (temp file + rename) so a crash or a second
 * process never leaves a torn file; any failure (read-only directory, full
 * disk) only costs the next run its compile time. */
static void save_cache(jc_vk_ctx *c)
{
    if (!c->cache || !c->cache_dirty || !c->cache_path[0])
        return;
    size_t size = 0;
    if (c->f.vkGetPipelineCacheData(c->device, c->cache, &size, NULL) != VK_SUCCESS || size == 0)
        return;
    void *data = malloc(size);
    if (!data)
        return;
    if (c->f.vkGetPipelineCacheData(c->device, c->cache, &size, data) == VK_SUCCESS) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", c->cache_path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            make_dirs(dir);
        }
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", c->cache_path, (long)getpid());
        FILE *fp = fopen(tmp, "wb");
        if (fp) {
            int ok = fwrite(data, 1, size, fp) == size;
            ok = (fclose(fp) == 0) && ok;
            if (!ok || rename(tmp, c->cache_path) != 0)
                remove(tmp);
        }
    }
    free(data);
}

jc_status jc_vk_pipelines_init(jc_vk_ctx *c, jc_error *err)
{
    jc_vk_fns *f = &c->f;
    if (!jc_vk_have_shaders())
        return jc_error_set(err, JC_ERR_DEVICE,
                            "Vulkan: built without SPIR-V shaders (no glslc or glslangValidator at configure time)");
    c->n_modules = JC_VK_SH_COUNT;
    c->modules = calloc((size_t)c->n_modules, sizeof *c->modules);
    if (!c->modules)
        return jc_error_set(err, JC_ERR_NOMEM, "Vulkan: out of memory");
    /* every shader reads its tensors' addresses and sizes from push
     * constants: one layout, no descriptor sets */
    VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = JC_VK_PUSH_MAX};
    VkPipelineLayoutCreateInfo li = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &pr,
    };
    VkResult r = f->vkCreatePipelineLayout(c->device, &li, NULL, &c->layout);
    if (r != VK_SUCCESS)
        return jc_vk_fail(c, r, err, "cannot create the pipeline layout");

    size_t size = 0;
    void *data = NULL;
    const char *nocache = getenv("JC_VULKAN_NO_PIPELINE_CACHE");
    if (!(nocache && atoi(nocache) > 0) && cache_path(c, c->cache_path, sizeof c->cache_path) == 0)
        data = read_file(c->cache_path, &size);
    else
        c->cache_path[0] = 0;
    VkPipelineCacheCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = data ? size : 0,
        .pInitialData = data,
    };
    r = f->vkCreatePipelineCache(c->device, &ci, NULL, &c->cache);
    if (r != VK_SUCCESS && data) { /* a corrupt file: start empty */
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        r = f->vkCreatePipelineCache(c->device, &ci, NULL, &c->cache);
    }
    free(data);
    if (r != VK_SUCCESS)
        c->cache = VK_NULL_HANDLE; /* run without one */
    return JC_OK;
}

void jc_vk_pipelines_free(jc_vk_ctx *c)
{
    jc_vk_fns *f = &c->f;
    save_cache(c);
    for (int i = 0; i < c->n_pipelines; i++)
        f->vkDestroyPipeline(c->device, c->pipelines[i].pipeline, NULL);
    free(c->pipelines);
    c->pipelines = NULL;
    c->n_pipelines = c->cap_pipelines = 0;
    for (int i = 0; i < c->n_modules; i++)
        if (c->modules[i])
            f->vkDestroyShaderModule(c->device, c->modules[i], NULL);
    free(c->modules);
    c->modules = NULL;
    c->n_modules = 0;
    if (c->cache)
        f->vkDestroyPipelineCache(c->device, c->cache, NULL);
    if (c->layout)
        f->vkDestroyPipelineLayout(c->device, c->layout, NULL);
    c->cache = VK_NULL_HANDLE;
    c->layout = VK_NULL_HANDLE;
}

jc_status jc_vk_get_pipeline(jc_vk_ctx *c, int shader, const uint32_t *spec, int n_spec, VkPipeline *out, jc_error *err)
{
    jc_vk_fns *f = &c->f;
    for (int i = 0; i < c->n_pipelines; i++) {
        jc_vk_pipeline *p = &c->pipelines[i];
        if (p->shader == shader && p->n_spec == n_spec && memcmp(p->spec, spec, (size_t)n_spec * sizeof *spec) == 0) {
            *out = p->pipeline;
            return JC_OK;
        }
    }
    if (!c->modules[shader]) {
        const jc_vk_spirv *m = find_spirv(shader_names[shader]);
        if (!m)
            return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: shader %s is not embedded in this build",
                                shader_names[shader]);
        VkShaderModuleCreateInfo mi = {
            .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
            .codeSize = m->size,
            .pCode = m->code,
        };
        VkResult r = f->vkCreateShaderModule(c->device, &mi, NULL, &c->modules[shader]);
        if (r != VK_SUCCESS) {
            c->modules[shader] = VK_NULL_HANDLE;
            char what[96];
            snprintf(what, sizeof what, "cannot load shader %s", shader_names[shader]);
            return jc_vk_fail(c, r, err, what);
        }
    }
    if (c->n_pipelines == c->cap_pipelines) {
        int cap = c->cap_pipelines ? 2 * c->cap_pipelines : 32;
        jc_vk_pipeline *np = realloc(c->pipelines, (size_t)cap * sizeof *np);
        if (!np)
            return jc_error_set(err, JC_ERR_NOMEM, "Vulkan: out of memory");
        c->pipelines = np;
        c->cap_pipelines = cap;
    }
    VkSpecializationMapEntry entries[JC_VK_MAX_SPEC];
    for (int i = 0; i < n_spec; i++)
        entries[i] = (VkSpecializationMapEntry){(uint32_t)i, (uint32_t)(i * sizeof(uint32_t)), sizeof(uint32_t)};
    VkSpecializationInfo si = {
        .mapEntryCount = (uint32_t)n_spec,
        .pMapEntries = entries,
        .dataSize = (size_t)n_spec * sizeof(uint32_t),
        .pData = spec,
    };
    VkComputePipelineCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage =
            {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = c->modules[shader],
                .pName = "main",
                .pSpecializationInfo = n_spec ? &si : NULL,
            },
        .layout = c->layout,
    };
    VkPipeline pl;
    VkResult r = f->vkCreateComputePipelines(c->device, c->cache, 1, &pci, NULL, &pl);
    if (r != VK_SUCCESS) {
        char what[96];
        snprintf(what, sizeof what, "cannot create the pipeline of shader %s", shader_names[shader]);
        return jc_vk_fail(c, r, err, what);
    }
    jc_vk_pipeline *p = &c->pipelines[c->n_pipelines++];
    p->shader = shader;
    p->n_spec = n_spec;
    memset(p->spec, 0, sizeof p->spec);
    memcpy(p->spec, spec, (size_t)n_spec * sizeof *spec);
    p->pipeline = pl;
    c->cache_dirty = 1;
    *out = pl;
    return JC_OK;
}
