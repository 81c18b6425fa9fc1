/* vulkan_loader.c: open libvulkan.so.1 at run time and resolve entry points
 * level by level (global, instance, device), as ncnn does, so the library
 * starts on machines without a Vulkan loader. */
#include <dlfcn.h>
#include <string.h>

#include "vulkan_internal.h"

const char *jc_vk_result_str(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "success";
    case VK_NOT_READY: return "not ready";
    case VK_TIMEOUT: return "timeout";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VK_ERROR_INITIALIZATION_FAILED: return "initialization failed";
    case VK_ERROR_DEVICE_LOST: return "device lost";
    case VK_ERROR_MEMORY_MAP_FAILED: return "memory map failed";
    case VK_ERROR_LAYER_NOT_PRESENT: return "layer not present";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "extension not present";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "feature not present";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "incompatible driver (no Vulkan driver installed?)";
    case VK_ERROR_TOO_MANY_OBJECTS: return "too many objects";
    case VK_ERROR_INVALID_SHADER_NV: return "invalid shader";
    default: return "error";
    }
}

jc_status jc_vk_load(jc_vk_fns *f, jc_error *err)
{
    memset(f, 0, sizeof *f);
    f->lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!f->lib)
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: libvulkan.so.1 not found (apt-get install libvulkan1 and a driver)");
    /* dlsym returns void *; POSIX guarantees it converts to a function
     * pointer, and memcpy keeps ISO C quiet about it */
    void *sym = dlsym(f->lib, "vkGetInstanceProcAddr");
    memcpy(&f->vkGetInstanceProcAddr, &sym, sizeof sym);
    if (!f->vkGetInstanceProcAddr) {
        jc_vk_unload(f);
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: libvulkan.so.1 lacks vkGetInstanceProcAddr");
    }
#define LOAD_GLOBAL(name)                                                                                          \
    f->name = (PFN_##name)f->vkGetInstanceProcAddr(NULL, #name);                                                   \
    if (!f->name) {                                                                                                \
        jc_vk_unload(f);                                                                                           \
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: loader lacks %s", #name);                                 \
    }
    JC_VK_GLOBAL_FNS(LOAD_GLOBAL)
#undef LOAD_GLOBAL
    return JC_OK;
}

void jc_vk_unload(jc_vk_fns *f)
{
    if (f->lib)
        dlclose(f->lib);
    memset(f, 0, sizeof *f);
}

jc_status jc_vk_load_instance(jc_vk_fns *f, VkInstance inst, jc_error *err)
{
#define LOAD_INSTANCE(name)                                                                                        \
    f->name = (PFN_##name)f->vkGetInstanceProcAddr(inst, #name);                                                   \
    if (!f->name)                                                                                                  \
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: instance lacks %s (Vulkan 1.1 or later needed)", #name);
    JC_VK_INSTANCE_FNS(LOAD_INSTANCE)
#undef LOAD_INSTANCE
    /* optional: only with the debug-utils extension (validation) */
    f->vkCreateDebugUtilsMessengerEXT =
        (PFN_vkCreateDebugUtilsMessengerEXT)f->vkGetInstanceProcAddr(inst, "vkCreateDebugUtilsMessengerEXT");
    f->vkDestroyDebugUtilsMessengerEXT =
        (PFN_vkDestroyDebugUtilsMessengerEXT)f->vkGetInstanceProcAddr(inst, "vkDestroyDebugUtilsMessengerEXT");
    /* optional: only where the loader knows VK_KHR_cooperative_matrix */
    f->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR = (jc_vk_coopmat_properties_fn)f->vkGetInstanceProcAddr(
        inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    return JC_OK;
}

jc_status jc_vk_load_device(jc_vk_fns *f, VkDevice dev, jc_error *err)
{
#define LOAD_DEVICE(name)                                                                                          \
    f->name = (PFN_##name)f->vkGetDeviceProcAddr(dev, #name);                                                      \
    if (!f->name)                                                                                                  \
        return jc_error_set(err, JC_ERR_DEVICE, "Vulkan: device lacks %s (Vulkan 1.2 needed)", #name);
    JC_VK_DEVICE_FNS(LOAD_DEVICE)
#undef LOAD_DEVICE
    return JC_OK;
}
