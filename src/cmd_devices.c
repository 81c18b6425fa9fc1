/* cmd_devices.c: `jepatok devices`: every device of every backend built in. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jc.h"

/* Only the backends that have an fp16 GEMM path say whether it is on, for
 * devices that could run it (or run it without fp16: OpenCL's emulation). */
static void fp16_gemm_line(const char *backend, const jc_device_info *in)
{
    const char *sw = !strcmp(backend, "vulkan")   ? "JC_VULKAN_FP16"
                     : !strcmp(backend, "opencl") ? "JC_OPENCL_FP16"
                                                  : NULL;
    if (!sw || !(in->fp16 || in->fp16_gemm))
        return;
    printf("           fp16 GEMM in inference graphs: ");
    if (!in->fp16_gemm)
        printf("off (%s=1 turns it on)\n", sw);
    else if (!in->fp16)
        printf("on, emulated in fp32 arithmetic (%s=emulate: a test mode, slower than fp32)\n", sw);
    else
        printf("on (%s=0 turns it off)\n", sw);
}

/* The cooperative-matrix GEMM (Vulkan): on, or why not, for devices that
 * have the extension. */
static void coopmat_gemm_line(const jc_device_info *in)
{
    if (!in->cooperative_matrix)
        return;
    printf("           cooperative-matrix GEMM in inference graphs: ");
    if (in->coopmat_gemm)
        printf("on, %dx%dx%d fp16 (JC_VULKAN_COOPMAT=0 turns it off)\n", in->coopmat_m, in->coopmat_n,
               in->coopmat_k);
    else if (!in->coopmat_m)
        printf("unavailable (no fp16 x fp16 -> fp32 subgroup shape)\n");
    else if (!in->coopmat_shader)
        printf("unavailable (this build's shader compiler lacked GL_KHR_cooperative_matrix)\n");
    else
        printf("off (JC_VULKAN_COOPMAT=1 turns it on)\n");
}

int jt_cmd_devices(int argc, char **argv)
{
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: jepatok devices [--json]\n"
                   "Lists every device of every compute backend built in (cpu, opencl, vulkan): name,\n"
                   "vendor, driver, memory, compute units, fp16, subgroup size, cooperative matrix,\n"
                   "and whether inference GEMMs use fp16 products (Vulkan devices with fp16 and OpenCL\n"
                   "devices with cl_khr_fp16, only with JC_VULKAN_FP16=1 or JC_OPENCL_FP16=1: Vulkan's\n"
                   "was not faster on the one GPU measured; training always runs fp32), and whether they\n"
                   "run on the matrix units (Vulkan's VK_KHR_cooperative_matrix, only with\n"
                   "JC_VULKAN_COOPMAT=1, in builds whose shader compiler knows it; untested on a GPU).\n"
                   "--backend auto picks the first real GPU (Vulkan, then OpenCL), never a CPU driver\n"
                   "such as PoCL or lavapipe; JEPATOK_BACKEND sets the default of every command.\n");
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else {
            fprintf(stderr, "jepatok devices: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    const char *const *names = jc_backend_names();
    int first = 1;
    if (as_json)
        printf("[");
    for (int b = 0; names[b]; b++) {
        jc_device_info info[16];
        jc_error err = {0};
        int n = jc_backend_devices(names[b], info, 16, &err);
        if (n == 0 && !as_json)
            printf("%-7s  (none: %s)\n", names[b], err.msg[0] ? err.msg : "no device");
        for (int d = 0; d < n && d < 16; d++) {
            const jc_device_info *in = &info[d];
            if (as_json) {
                printf("%s\n  {\"backend\": \"%s\", \"index\": %d, \"name\": \"%s\", \"vendor\": \"%s\", "
                       "\"driver\": \"%s\", \"memory_bytes\": %llu, \"compute_units\": %d, \"cpu_driver\": %s, "
                       "\"fp16\": %s, \"fp16_gemm\": %s, \"subgroup_size\": %d, \"cooperative_matrix\": %s, "
                       "\"coopmat_shape\": [%d, %d, %d], \"coopmat_gemm\": %s}",
                       first ? "" : ",", names[b], d, in->name, in->vendor, in->driver,
                       (unsigned long long)in->memory_bytes, in->compute_units, in->is_cpu_driver ? "true" : "false",
                       in->fp16 ? "true" : "false", in->fp16_gemm ? "true" : "false", in->subgroup_size,
                       in->cooperative_matrix ? "true" : "false", in->coopmat_m, in->coopmat_n, in->coopmat_k,
                       in->coopmat_gemm ? "true" : "false");
                first = 0;
            } else {
                printf("%-7s %d  %s\n", names[b], d, in->name);
                printf("           vendor %s; driver %s\n", in->vendor, in->driver);
                printf("           memory %.1f GiB, %d compute units%s; fp16 %s, subgroup %d, cooperative "
                       "matrix %s\n",
                       (double)in->memory_bytes / 1073741824.0, in->compute_units,
                       in->is_cpu_driver ? ", runs on the CPU" : "", in->fp16 ? "yes" : "no", in->subgroup_size,
                       in->cooperative_matrix ? "yes" : "no");
                fp16_gemm_line(names[b], in);
                coopmat_gemm_line(in);
            }
        }
    }
    if (as_json)
        printf("\n]\n");
    return 0;
}
