/* test-vulkan-fp16.c: the Vulkan backend's fp16-product GEMM
 * (shaders/gemm_f16.comp) through the checks of fp16check.h: within fp16's
 * error of the CPU and different from fp32 in inference graphs, bit for
 * bit fp32 with JC_VULKAN_FP16=0 and in training graphs; off by default on
 * every device (where measured it was not faster than fp32), so the checks
 * turn it on with JC_VULKAN_FP16=1.  Skips only when there is no Vulkan
 * driver or no shaderFloat16. */
#include <stdio.h>

#include "fp16check.h"

int main(void)
{
    /* the test decides the switch itself, whatever the caller's environment */
    unsetenv("JC_VULKAN_FP16");
    jc_backend *vk_default = tu_open("vulkan", 1);
    jc_device_info info_default;
    jc_backend_device_info(vk_default, &info_default);
    jc_backend_free(vk_default);
    tap_diag("vulkan device: %s (%s), driver %s", info_default.name, info_default.vendor, info_default.driver);
    if (!info_default.fp16)
        tap_skip_all("the Vulkan device has no shaderFloat16");
    tap_ok(info_default.fp16_gemm == 0, "JC_VULKAN_FP16 unset: the fp16 GEMM is off by default on this %s",
           info_default.is_cpu_driver ? "CPU driver" : "GPU");
    setenv("JC_VULKAN_FP16", "1", 1);
    jc_backend *vk = tu_open("vulkan", 0);
    setenv("JC_VULKAN_FP16", "0", 1);
    jc_backend *vk_off = tu_open("vulkan", 0);
    unsetenv("JC_VULKAN_FP16");
    jc_device_info info, info_off;
    jc_backend_device_info(vk, &info);
    jc_backend_device_info(vk_off, &info_off);
    tap_ok(info.fp16_gemm == 1, "JC_VULKAN_FP16=1: device reports the fp16 GEMM on");
    tap_ok(info_off.fp16_gemm == 0, "JC_VULKAN_FP16=0: device reports it off");

    fp16_pair pair = {"vulkan", "JC_VULKAN_FP16=0", vk, vk_off};
    fp16_check_all_and_free(&pair, 1616);
    return tap_done();
}
