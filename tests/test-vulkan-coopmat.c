/* test-vulkan-coopmat.c: the Vulkan backend's cooperative-matrix GEMM
 * (shaders/gemm_coopmat.comp, VK_KHR_cooperative_matrix) through the checks
 * of fp16check.h, as the fp16-product GEMM: within fp16's error of the CPU
 * and different from fp32 in inference graphs, bit for bit fp32 with
 * JC_VULKAN_COOPMAT=0 and in training graphs; off by default, so the
 * checks turn it on with JC_VULKAN_COOPMAT=1.  Skips when there is no
 * Vulkan driver, when the device lacks the extension or an fp16 subgroup
 * shape (lavapipe before Mesa 25), or when this build's shader compiler
 * could not compile the shader (Debian 12's). */
#include <stdio.h>

#include "fp16check.h"

static jc_device_info opened_info(const char *coopmat_env, int may_skip, jc_backend **out)
{
    if (coopmat_env)
        setenv("JC_VULKAN_COOPMAT", coopmat_env, 1);
    else
        unsetenv("JC_VULKAN_COOPMAT");
    *out = tu_open("vulkan", may_skip);
    jc_device_info info;
    jc_backend_device_info(*out, &info);
    return info;
}

int main(void)
{
    /* the fp16-product GEMM stays off: what differs from fp32 below is the
     * cooperative-matrix kernel's doing */
    setenv("JC_VULKAN_FP16", "0", 1);
    jc_backend *vk_default;
    jc_device_info info_default = opened_info(NULL, 1, &vk_default);
    jc_backend_free(vk_default);
    tap_diag("vulkan device: %s (%s), driver %s", info_default.name, info_default.vendor, info_default.driver);
    if (!info_default.cooperative_matrix)
        tap_skip_all("the Vulkan device has no VK_KHR_cooperative_matrix");
    if (!info_default.coopmat_m)
        tap_skip_all("the Vulkan device offers no fp16 x fp16 -> fp32 subgroup shape");
    if (!info_default.coopmat_shader)
        tap_skip_all("this build's shader compiler did not know GL_KHR_cooperative_matrix (configure says so)");
    tap_diag("subgroup size %d, matrix shape %dx%dx%d", info_default.subgroup_size, info_default.coopmat_m,
             info_default.coopmat_n, info_default.coopmat_k);
    tap_ok(info_default.coopmat_gemm == 0, "JC_VULKAN_COOPMAT unset: the cooperative-matrix GEMM is off by default");
    jc_backend *vk, *vk_off;
    jc_device_info info = opened_info("1", 0, &vk), info_off = opened_info("0", 0, &vk_off);
    unsetenv("JC_VULKAN_COOPMAT");
    tap_ok(info.coopmat_gemm == 1, "JC_VULKAN_COOPMAT=1: device reports the cooperative-matrix GEMM on");
    tap_ok(info_off.coopmat_gemm == 0, "JC_VULKAN_COOPMAT=0: device reports it off");

    fp16_pair pair = {"vulkan coopmat", "JC_VULKAN_COOPMAT=0", vk, vk_off};
    fp16_check_all_and_free(&pair, 1717);
    return tap_done();
}
