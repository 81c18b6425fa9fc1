/* vulkan_device.c: instance, physical-device enumeration and description,
 * logical device with one compute queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vulkan_internal.h"

jc_status jc_vk_fail(jc_vk_ctx *c, VkResult r, jc_error *err, const char *what)
{
    if (r == VK_ERROR_DEVICE_LOST)
        c->lost = 1;
    jc_status code = (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) ? JC_ERR_NOMEM
                                                                                               : JC_ERR_DEVICE;
    return jc_error_set(err, code, "Vulkan device %s: %s: %s (VkResult %d)", c->info.name, what, jc_vk_result_str(r),
                        (int)r);
}

static int have_layer(jc_vk_fns *f, const char *name)
{
    uint32_t n = 0;
    if (f->vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    VkLayerProperties *p = calloc(n, sizeof *p);
    int found = 0;
    if (p && f->vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            found |= strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

jc_status jc_vk_create_instance(jc_vk_fns *f, int validate, VkInstance *out, jc_error *err)
{
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "jepatok",
        .pEngineName = "jepatok compute",
        .apiVersion = VK_API_VERSION_1_2,
    };
    const char *layers[1] = {"VK_LAYER_KHRONOS_validation"};
    const char *exts[1] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    int with_layer = validate && have_layer(f, layers[0]);
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
        .enabledLayerCount = with_layer ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = with_layer ? 1 : 0,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = f->vkCreateInstance(&ci, NULL, out);
    if (r != VK_SUCCESS)
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: cannot create an instance: %s (VkResult %d)",
                            jc_vk_result_str(r), (int)r);
    jc_status s = jc_vk_load_instance(f, *out, err);
    if (s) {
        PFN_vkDestroyInstance destroy = (PFN_vkDestroyInstance)f->vkGetInstanceProcAddr(*out, "vkDestroyInstance");
        if (destroy)
            destroy(*out, NULL);
        return s;
    }
    return JC_OK;
}

static const char *vendor_name(uint32_t id)
{
    switch (id) {
    case 0x1002: return "AMD";
    case 0x1010: return "ImgTec";
    case 0x10de: return "NVIDIA";
    case 0x13b5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x8086: return "Intel";
    case 0x106b: return "Apple";
    case 0x10005: return "Mesa";
    default: return NULL;
    }
}

static int has_extension(jc_vk_fns *f, VkPhysicalDevice pd, const char *name)
{
    uint32_t n = 0;
    if (f->vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    VkExtensionProperties *e = calloc(n, sizeof *e);
    int found = 0;
    if (e && f->vkEnumerateDeviceExtensionProperties(pd, NULL, &n, e) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            found |= strcmp(e[i].extensionName, name) == 0;
    free(e);
    return found;
}

/* Off by default on every device; JC_VULKAN_FP16=1 turns it on.  The
 * graphs that may use it are inference graphs (the codec's encoder and
 * decoder), where fp16 products cost ~1e-3 relative error per product for
 * up to twice the arithmetic rate on GPUs with packed fp16 ALUs.  But
 * where measured it bought nothing: on lavapipe 0.7-0.8x the fp32 rate,
 * and on an NVIDIA H200 (the only GPU measured, 2026-12-04) 0.89x at
 * 1024^3 and 0.99x on a convolution (BENCHMARKS.md).  Less accurate and
 * not faster buys nothing; a GPU where it pays can turn it on. */
int jc_vk_fp16_allowed_by_env(void)
{
    const char *v = getenv("JC_VULKAN_FP16");
    return v && atoi(v) > 0;
}

/* Off by default: JC_VULKAN_COOPMAT=1 turns the cooperative-matrix GEMM
 * on for inference graphs, where the device and this build can run it.
 * It has passed its tests only on lavapipe (Mesa 26.1, a CPU driver whose
 * matrix units are emulated); it stays off until a GPU has run the tests
 * and measured it faster (BENCHMARKS.md). */
static int coopmat_allowed_by_env(void)
{
    const char *v = getenv("JC_VULKAN_COOPMAT");
    return v && atoi(v) > 0;
}

/* The subgroup shape for fp16 x fp16 + fp32 -> fp32, 16 x 16 x 16 where
 * offered (every vendor's tensor-core shape), else the first such one;
 * none: the m, n, k fields stay 0. */
static void coopmat_shape(jc_vk_fns *f, VkPhysicalDevice pd, jc_device_info *info)
{
    uint32_t n = 0;
    if (!f->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR ||
        f->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR(pd, &n, NULL) != VK_SUCCESS || n == 0)
        return;
    jc_vk_coopmat_properties *p = calloc(n, sizeof *p);
    if (!p)
        return;
    for (uint32_t i = 0; i < n; i++)
        p[i].sType = JC_VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR;
    if (f->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR(pd, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++) {
            const jc_vk_coopmat_properties *q = &p[i];
            if (q->AType != JC_VK_COMPONENT_FLOAT16 || q->BType != JC_VK_COMPONENT_FLOAT16 ||
                q->CType != JC_VK_COMPONENT_FLOAT32 || q->ResultType != JC_VK_COMPONENT_FLOAT32 ||
                q->scope != JC_VK_SCOPE_SUBGROUP || q->saturatingAccumulation)
                continue;
            int square16 = q->MSize == 16 && q->NSize == 16 && q->KSize == 16;
            if (info->coopmat_m == 0 || square16) {
                info->coopmat_m = (int)q->MSize;
                info->coopmat_n = (int)q->NSize;
                info->coopmat_k = (int)q->KSize;
            }
            if (square16)
                break;
        }
    free(p);
}

void jc_vk_fill_info(jc_vk_fns *f, VkPhysicalDevice pd, jc_device_info *info)
{
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
                                             .pNext = &drv};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
    f->vkGetPhysicalDeviceProperties2(pd, &p2);
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f16};
    f->vkGetPhysicalDeviceFeatures2(pd, &f2);
    VkPhysicalDeviceMemoryProperties mem;
    f->vkGetPhysicalDeviceMemoryProperties(pd, &mem);

    memset(info, 0, sizeof *info);
    snprintf(info->backend, sizeof info->backend, "vulkan");
    snprintf(info->name, sizeof info->name, "%.127s", p2.properties.deviceName);
    const char *vn = vendor_name(p2.properties.vendorID);
    if (vn)
        snprintf(info->vendor, sizeof info->vendor, "%s", vn);
    else
        snprintf(info->vendor, sizeof info->vendor, "0x%04x", (unsigned)p2.properties.vendorID);
    if (drv.driverName[0])
        snprintf(info->driver, sizeof info->driver, "%.60s %.60s", drv.driverName, drv.driverInfo);
    else
        snprintf(info->driver, sizeof info->driver, "version 0x%08x", (unsigned)p2.properties.driverVersion);
    for (uint32_t i = 0; i < mem.memoryHeapCount; i++)
        if ((mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && mem.memoryHeaps[i].size > info->memory_bytes)
            info->memory_bytes = mem.memoryHeaps[i].size;
    info->compute_units = 0; /* core Vulkan has no portable query */
    info->is_cpu_driver = p2.properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    info->fp16 = f16.shaderFloat16 ? 1 : 0;
    info->fp16_gemm = info->fp16 && jc_vk_fp16_allowed_by_env();
    info->subgroup_size = (int)sg.subgroupSize;
    info->cooperative_matrix = has_extension(f, pd, "VK_KHR_cooperative_matrix");
    if (info->cooperative_matrix)
        coopmat_shape(f, pd, info);
    info->coopmat_shader = jc_vk_have_shader("gemm_coopmat");
    info->coopmat_gemm = info->coopmat_m > 0 && f16.shaderFloat16 && coopmat_allowed_by_env() && info->coopmat_shader;
}

/* JC_VULKAN_GEMM=tiled[,TK] selects the shared-memory GEMM (shaders/
 * gemm_tiled.comp) with slices TK deep (default 16; 4 to 64); unset or
 * "registers", the register kernel.  The register kernel stays the default
 * on every device until the tiled one is measured faster on a GPU
 * (BENCHMARKS.md); scripts/device-check.sh measures both. */
static uint32_t gemm_tiled_from_env(void)
{
    const char *v = getenv("JC_VULKAN_GEMM");
    if (!v || strncmp(v, "tiled", 5) != 0 || (v[5] != 0 && v[5] != ','))
        return 0;
    int tk = v[5] == ',' ? atoi(v + 6) : 16;
    return tk >= 4 && tk <= 64 ? (uint32_t)tk : 16;
}

/* Devices of a fresh instance; the caller destroys it. */
static jc_status list_devices(jc_vk_fns *f, VkInstance inst, VkPhysicalDevice **out, uint32_t *n, jc_error *err)
{
    *out = NULL;
    *n = 0;
    VkResult r = f->vkEnumeratePhysicalDevices(inst, n, NULL);
    if (r != VK_SUCCESS)
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: cannot enumerate devices: %s", jc_vk_result_str(r));
    if (*n == 0)
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: no device (install a driver, e.g. mesa-vulkan-drivers)");
    *out = calloc(*n, sizeof **out);
    if (!*out)
        return jc_error_set(err, JC_ERR_NOMEM, "Vulkan: out of memory");
    r = f->vkEnumeratePhysicalDevices(inst, n, *out);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        free(*out);
        *out = NULL;
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: cannot enumerate devices: %s", jc_vk_result_str(r));
    }
    return JC_OK;
}

int jc_vulkan_devices(jc_device_info *out, int max, jc_error *err)
{
    jc_vk_fns f;
    VkInstance inst;
    if (jc_vk_load(&f, err))
        return 0;
    if (jc_vk_create_instance(&f, 0, &inst, err)) {
        jc_vk_unload(&f);
        return 0;
    }
    VkPhysicalDevice *pds;
    uint32_t n;
    int count = 0;
    if (list_devices(&f, inst, &pds, &n, err) == JC_OK) {
        for (uint32_t i = 0; i < n && (int)i < max; i++)
            jc_vk_fill_info(&f, pds[i], &out[i]);
        count = (int)n;
        free(pds);
    }
    f.vkDestroyInstance(inst, NULL);
    jc_vk_unload(&f);
    return count;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                     VkDebugUtilsMessageTypeFlagsEXT type,
                                                     const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)type;
    jc_vk_ctx *c = user;
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        c->validation_messages++;
        /* only with JC_VULKAN_VALIDATE=1: a developer asked to see these */
        fprintf(stderr, "jepatok vulkan validation: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

static int find_memory(const VkPhysicalDeviceMemoryProperties *mem, VkMemoryPropertyFlags want,
                       VkMemoryPropertyFlags avoid)
{
    for (uint32_t i = 0; i < mem->memoryTypeCount; i++) {
        VkMemoryPropertyFlags fl = mem->memoryTypes[i].propertyFlags;
        if ((fl & want) == want && !(fl & avoid))
            return (int)i;
    }
    return -1;
}

jc_status jc_vk_open_device(jc_vk_ctx *c, int index, jc_error *err)
{
    jc_vk_fns *f = &c->f;
    const char *v = getenv("JC_VULKAN_VALIDATE");
    int validate = v && atoi(v) > 0;
    jc_status s = jc_vk_create_instance(f, validate, &c->instance, err);
    if (s)
        return s;
    if (validate && f->vkCreateDebugUtilsMessengerEXT) {
        VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = debug_callback,
            .pUserData = c,
        };
        f->vkCreateDebugUtilsMessengerEXT(c->instance, &mi, NULL, &c->messenger);
    }
    VkPhysicalDevice *pds;
    uint32_t n;
    s = list_devices(f, c->instance, &pds, &n, err);
    if (s)
        return s;
    if (index < 0 || (uint32_t)index >= n) {
        free(pds);
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: no device %d (%u found)", index, (unsigned)n);
    }
    c->phys = pds[index];
    free(pds);
    jc_vk_fill_info(f, c->phys, &c->info);
    f->vkGetPhysicalDeviceProperties(c->phys, &c->props);
    f->vkGetPhysicalDeviceMemoryProperties(c->phys, &c->mem);
    for (int i = 0; i < 3; i++)
        c->max_groups[i] = c->props.limits.maxComputeWorkGroupCount[i];

    if (c->props.apiVersion < VK_API_VERSION_1_2)
        return jc_error_set(err, JC_ERR_UNSUPPORTED, "Vulkan device %s: Vulkan 1.2 needed, device offers %u.%u",
                            c->info.name, VK_API_VERSION_MAJOR(c->props.apiVersion),
                            VK_API_VERSION_MINOR(c->props.apiVersion));
    jc_vk_coopmat_features cm = {.sType = JC_VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .pNext = c->info.cooperative_matrix ? &cm : NULL};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12};
    f->vkGetPhysicalDeviceFeatures2(c->phys, &f2);
    /* Tensors are addressed by 64-bit device addresses, which also lifts the
     * per-binding maxStorageBufferRange limit (128 MiB on lavapipe). */
    if (!f12.bufferDeviceAddress)
        return jc_error_set(err, JC_ERR_UNSUPPORTED, "Vulkan device %s: bufferDeviceAddress not supported",
                            c->info.name);
    if (c->props.limits.maxPushConstantsSize < JC_VK_PUSH_MAX)
        return jc_error_set(err, JC_ERR_UNSUPPORTED, "Vulkan device %s: %u bytes of push constants (%d needed)",
                            c->info.name, (unsigned)c->props.limits.maxPushConstantsSize, JC_VK_PUSH_MAX);

    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
                                             .pNext = &m3};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
    f->vkGetPhysicalDeviceProperties2(c->phys, &p2);
    c->max_alloc = m3.maxMemoryAllocationSize;
    c->info.max_buffer_bytes = c->max_alloc;
    const char *nosg = getenv("JC_VULKAN_NO_SUBGROUPS");
    c->use_subgroups = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                       (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                       (sg.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT) && sg.subgroupSize >= 4 &&
                       !(nosg && atoi(nosg) > 0);
    c->gemm_tiled_tk = gemm_tiled_from_env();
    /* JC_VULKAN_NO_DIRECT_DW=1: depthwise convolutions as implicit GEMMs,
     * like every other one (for comparison, and a way around a driver
     * that miscompiles the direct kernels) */
    const char *nodw = getenv("JC_VULKAN_NO_DIRECT_DW");
    c->direct_dw = !(nodw && atoi(nodw) > 0);
    /* JC_VULKAN_DW=gpu|cpu: their plan for GPUs or for CPU drivers
     * whatever the device, so lavapipe can test the GPUs' (tests/
     * test-vulkan-dw-gpu.sh) */
    const char *dwp = getenv("JC_VULKAN_DW");
    c->dw_gpu = dwp && !strcmp(dwp, "gpu") ? 1 : dwp && !strcmp(dwp, "cpu") ? 0 : !c->info.is_cpu_driver;

    uint32_t nq = 0;
    f->vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &nq, NULL);
    VkQueueFamilyProperties *qf = calloc(nq ? nq : 1, sizeof *qf);
    if (!qf)
        return jc_error_set(err, JC_ERR_NOMEM, "Vulkan: out of memory");
    f->vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &nq, qf);
    int fam = -1;
    /* a compute-only family first: on GPUs it is the asynchronous one */
    for (uint32_t i = 0; i < nq && fam < 0; i++)
        if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            fam = (int)i;
    for (uint32_t i = 0; i < nq && fam < 0; i++)
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
            fam = (int)i;
    free(qf);
    if (fam < 0)
        return jc_error_set(err, JC_ERR_UNSUPPORTED, "Vulkan device %s: no compute queue", c->info.name);
    c->queue_family = (uint32_t)fam;

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = c->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &prio,
    };
    /* shaderFloat16 only when the fp16 GEMM will run: a device created
     * without it must never be given the gemm_f16 module */
    c->info.fp16_gemm = c->info.fp16_gemm && f12.shaderFloat16;
    /* likewise the extension and its features (the shader also declares
     * the Vulkan memory model) only when the cooperative-matrix GEMM will run */
    c->info.coopmat_gemm = c->info.coopmat_gemm && cm.cooperativeMatrix && f12.vulkanMemoryModel;
    jc_vk_coopmat_features en_cm = {.sType = JC_VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR,
                                    .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceVulkan12Features en12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                             .pNext = c->info.coopmat_gemm ? &en_cm : NULL,
                                             .bufferDeviceAddress = VK_TRUE,
                                             .shaderFloat16 = c->info.fp16_gemm || c->info.coopmat_gemm,
                                             .vulkanMemoryModel = c->info.coopmat_gemm ? VK_TRUE : VK_FALSE};
    VkPhysicalDeviceFeatures2 en = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &en12};
    const char *coopmat_ext = "VK_KHR_cooperative_matrix";
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &en,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
        .enabledExtensionCount = c->info.coopmat_gemm ? 1 : 0,
        .ppEnabledExtensionNames = &coopmat_ext,
    };
    VkResult r = f->vkCreateDevice(c->phys, &dci, NULL, &c->device);
    if (r != VK_SUCCESS) {
        c->device = VK_NULL_HANDLE;
        return jc_vk_fail(c, r, err, "cannot create the logical device");
    }
    s = jc_vk_load_device(f, c->device, err);
    if (s)
        return s;
    f->vkGetDeviceQueue(c->device, c->queue_family, 0, &c->queue);

    /* Memory: device-local for tensors; when that type is also host visible
     * and coherent (CPU drivers, integrated GPUs, resizable BAR) map it and
     * skip the staging copies. */
    const VkMemoryPropertyFlags HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int direct = find_memory(&c->mem, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | HV, 0);
    int local = find_memory(&c->mem, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
    int staging = find_memory(&c->mem, HV | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
    if (staging < 0)
        staging = find_memory(&c->mem, HV, 0);
    if (getenv("JC_VULKAN_STAGING") && local >= 0 && staging >= 0)
        direct = -1; /* to test the staging path on a unified-memory device */
    if (direct >= 0 && (c->info.is_cpu_driver || c->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ||
                        local < 0 || local == direct)) {
        c->mem_device = c->mem_staging = (uint32_t)direct;
        c->direct_map = 1;
    } else if (local >= 0 && staging >= 0) {
        c->mem_device = (uint32_t)local;
        c->mem_staging = (uint32_t)staging;
        c->direct_map = 0;
    } else if (staging >= 0) {
        c->mem_device = c->mem_staging = (uint32_t)staging;
        c->direct_map = 1;
    } else {
        return jc_error_set(err, JC_ERR_UNSUPPORTED, "Vulkan device %s: no host-visible memory type", c->info.name);
    }

    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = c->queue_family,
    };
    if ((r = f->vkCreateCommandPool(c->device, &pci, NULL, &c->pool)) != VK_SUCCESS)
        return jc_vk_fail(c, r, err, "cannot create a command pool");
    VkCommandBufferAllocateInfo cai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = c->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    if ((r = f->vkAllocateCommandBuffers(c->device, &cai, &c->cmd)) != VK_SUCCESS)
        return jc_vk_fail(c, r, err, "cannot allocate a command buffer");
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if ((r = f->vkCreateFence(c->device, &fci, NULL, &c->fence)) != VK_SUCCESS)
        return jc_vk_fail(c, r, err, "cannot create a fence");
    return JC_OK;
}

void jc_vk_close_device(jc_vk_ctx *c)
{
    jc_vk_fns *f = &c->f;
    if (c->device) {
        f->vkDeviceWaitIdle(c->device);
        jc_vk_pipelines_free(c);
        if (c->fence)
            f->vkDestroyFence(c->device, c->fence, NULL);
        if (c->pool)
            f->vkDestroyCommandPool(c->device, c->pool, NULL);
        f->vkDestroyDevice(c->device, NULL);
    }
    if (c->messenger && f->vkDestroyDebugUtilsMessengerEXT)
        f->vkDestroyDebugUtilsMessengerEXT(c->instance, c->messenger, NULL);
    if (c->instance)
        f->vkDestroyInstance(c->instance, NULL);
    c->device = VK_NULL_HANDLE;
    c->instance = VK_NULL_HANDLE;
}
