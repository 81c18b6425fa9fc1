/* vulkan_internal.h: the Vulkan backend's context, shared by its files.
 * libvulkan is opened with dlopen (VK_NO_PROTOTYPES): the library links
 * nothing from Vulkan and works where no loader is installed. */
#ifndef JC_VULKAN_INTERNAL_H
#define JC_VULKAN_INTERNAL_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "../jc_internal.h"

/* Entry points, by the level they are resolved at. */
#define JC_VK_GLOBAL_FNS(X)                                                                                        \
    X(vkCreateInstance)                                                                                            \
    X(vkEnumerateInstanceExtensionProperties)                                                                      \
    X(vkEnumerateInstanceLayerProperties)

#define JC_VK_INSTANCE_FNS(X)                                                                                      \
    X(vkDestroyInstance)                                                                                           \
    X(vkEnumeratePhysicalDevices)                                                                                  \
    X(vkGetPhysicalDeviceProperties)                                                                               \
    X(vkGetPhysicalDeviceProperties2)                                                                              \
    X(vkGetPhysicalDeviceFeatures2)                                                                                \
    X(vkGetPhysicalDeviceMemoryProperties)                                                                         \
    X(vkGetPhysicalDeviceQueueFamilyProperties)                                                                    \
    X(vkEnumerateDeviceExtensionProperties)                                                                        \
    X(vkCreateDevice)                                                                                              \
    X(vkGetDeviceProcAddr)

#define JC_VK_DEVICE_FNS(X)                                                                                        \
    X(vkDestroyDevice)                                                                                             \
    X(vkGetDeviceQueue)                                                                                            \
    X(vkCreateBuffer)                                                                                              \
    X(vkDestroyBuffer)                                                                                             \
    X(vkGetBufferMemoryRequirements)                                                                               \
    X(vkAllocateMemory)                                                                                            \
    X(vkFreeMemory)                                                                                                \
    X(vkBindBufferMemory)                                                                                          \
    X(vkMapMemory)                                                                                                 \
    X(vkUnmapMemory)                                                                                               \
    X(vkGetBufferDeviceAddress)                                                                                    \
    X(vkCreateShaderModule)                                                                                        \
    X(vkDestroyShaderModule)                                                                                       \
    X(vkCreatePipelineLayout)                                                                                      \
    X(vkDestroyPipelineLayout)                                                                                     \
    X(vkCreateComputePipelines)                                                                                    \
    X(vkDestroyPipeline)                                                                                           \
    X(vkCreatePipelineCache)                                                                                       \
    X(vkDestroyPipelineCache)                                                                                      \
    X(vkGetPipelineCacheData)                                                                                      \
    X(vkCreateCommandPool)                                                                                         \
    X(vkDestroyCommandPool)                                                                                        \
    X(vkAllocateCommandBuffers)                                                                                    \
    X(vkResetCommandBuffer)                                                                                        \
    X(vkBeginCommandBuffer)                                                                                        \
    X(vkEndCommandBuffer)                                                                                          \
    X(vkCmdBindPipeline)                                                                                           \
    X(vkCmdPushConstants)                                                                                          \
    X(vkCmdDispatch)                                                                                               \
    X(vkCmdPipelineBarrier)                                                                                        \
    X(vkCmdCopyBuffer)                                                                                             \
    X(vkCmdFillBuffer)                                                                                             \
    X(vkCreateFence)                                                                                               \
    X(vkDestroyFence)                                                                                              \
    X(vkResetFences)                                                                                               \
    X(vkWaitForFences)                                                                                             \
    X(vkQueueSubmit)                                                                                               \
    X(vkDeviceWaitIdle)

#define JC_VK_DECLARE(name) PFN_##name name;

/* VK_KHR_cooperative_matrix, declared here because Debian 12's Vulkan
 * headers (1.3.239) predate it (1.3.255); layout and values as the Vulkan
 * registry defines them (enums are 32-bit). */
#define JC_VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR ((VkStructureType)1000506000)
#define JC_VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR ((VkStructureType)1000506001)
enum { JC_VK_COMPONENT_FLOAT16 = 0, JC_VK_COMPONENT_FLOAT32 = 1, JC_VK_SCOPE_SUBGROUP = 3 };
typedef struct {
    VkStructureType sType;
    void *pNext;
    uint32_t MSize, NSize, KSize;
    int32_t AType, BType, CType, ResultType; /* VkComponentTypeKHR */
    VkBool32 saturatingAccumulation;
    int32_t scope; /* VkScopeKHR */
} jc_vk_coopmat_properties;
typedef struct {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
} jc_vk_coopmat_features;
typedef VkResult(VKAPI_PTR *jc_vk_coopmat_properties_fn)(VkPhysicalDevice, uint32_t *, jc_vk_coopmat_properties *);

/* vulkan_loader.c */
typedef struct {
    void *lib;
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
    JC_VK_GLOBAL_FNS(JC_VK_DECLARE)
    JC_VK_INSTANCE_FNS(JC_VK_DECLARE)
    JC_VK_DEVICE_FNS(JC_VK_DECLARE)
    PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT;
    jc_vk_coopmat_properties_fn vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR; /* optional */
} jc_vk_fns;

jc_status jc_vk_load(jc_vk_fns *f, jc_error *err);
void jc_vk_unload(jc_vk_fns *f);
jc_status jc_vk_load_instance(jc_vk_fns *f, VkInstance inst, jc_error *err);
jc_status jc_vk_load_device(jc_vk_fns *f, VkDevice dev, jc_error *err);
const char *jc_vk_result_str(VkResult r);

/* One cached compute pipeline: a shader with its specialization values. */
#define JC_VK_MAX_SPEC 10
typedef struct {
    int shader;
    int n_spec;
    uint32_t spec[JC_VK_MAX_SPEC];
    VkPipeline pipeline;
} jc_vk_pipeline;

/* Ranges touched since the last barrier, for hazard tracking while
 * recording (see vulkan_record.c). */
typedef struct {
    const void *buf;
    size_t off, size;
    int write;
} jc_vk_range;

typedef struct {
    jc_vk_fns f;
    VkInstance instance;
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkDebugUtilsMessengerEXT messenger;
    int validation_messages; /* counted by the debug callback */

    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem;
    uint32_t mem_device;  /* memory type of tensors */
    uint32_t mem_staging; /* host-visible coherent type for transfers */
    int direct_map;       /* tensors' memory is host visible: no staging */
    int use_subgroups;
    uint32_t gemm_tiled_tk; /* JC_VULKAN_GEMM=tiled[,tk]: slice depth; 0 = register kernel */
    int direct_dw;          /* depthwise convolutions by shaders/conv_depthwise.comp (JC_VULKAN_NO_DIRECT_DW) */
    int dw_gpu;             /* their GPU plan (staged, many workgroups); JC_VULKAN_DW=gpu|cpu overrides */
    uint32_t max_groups[3];
    VkDeviceSize max_alloc; /* maxMemoryAllocationSize */

    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    int lost; /* the device was lost: every later call fails */

    VkPipelineLayout layout;
    VkPipelineCache cache;
    int cache_dirty;
    char cache_path[1024];
    VkShaderModule *modules; /* one per embedded SPIR-V module, created lazily */
    int n_modules;
    jc_vk_pipeline *pipelines;
    int n_pipelines, cap_pipelines;

    /* recording state */
    jc_vk_range *ranges;
    int n_ranges, cap_ranges;
    VkPipeline bound;
    int n_dispatches, n_barriers;

    /* scratch of the nodes that need it (split-K partial sums); a 1-D
     * tensor over it, for the recorder's hazard tracking */
    jc_buffer *scratch;
    jc_tensor scratch_t;

    jc_device_info info;
    jc_graph *graph;
} jc_vk_ctx;

typedef struct {
    VkBuffer buffer;
    VkDeviceMemory memory;
    void *map; /* persistent mapping when direct_map */
    VkDeviceAddress addr;
    size_t size;
} jc_vk_buffer;

/* vulkan_device.c */
jc_status jc_vk_create_instance(jc_vk_fns *f, int validate, VkInstance *out, jc_error *err);
void jc_vk_fill_info(jc_vk_fns *f, VkPhysicalDevice pd, jc_device_info *info);
/* Whether JC_VULKAN_FP16 lets the fp16 GEMM run: when it is a positive
 * number (off by default on every device). */
int jc_vk_fp16_allowed_by_env(void);
jc_status jc_vk_open_device(jc_vk_ctx *c, int index, jc_error *err);
void jc_vk_close_device(jc_vk_ctx *c);
/* Error from a failed Vulkan call, naming the device and the cause. */
jc_status jc_vk_fail(jc_vk_ctx *c, VkResult r, jc_error *err, const char *what);

/* vulkan_memory.c */
jc_status jc_vk_buffer_alloc(jc_backend *be, size_t size, jc_buffer **out, jc_error *err);
void jc_vk_buffer_free(jc_backend *be, jc_buffer *buf);
jc_status jc_vk_upload(jc_backend *be, jc_buffer *buf, size_t off, const void *src, size_t n, jc_error *err);
jc_status jc_vk_download(jc_backend *be, const jc_buffer *buf, size_t off, void *dst, size_t n, jc_error *err);
/* Submit the command buffer recorded in c->cmd and wait for it. */
jc_status jc_vk_submit_wait(jc_vk_ctx *c, jc_error *err, const char *what);

/* vulkan_pipelines.c */
enum {
    JC_VK_SH_GEMM,
    JC_VK_SH_GEMM_F16,
    JC_VK_SH_GEMM_TILED,
    JC_VK_SH_GEMM_COOPMAT,
    JC_VK_SH_BINARY,
    JC_VK_SH_UNARY,
    JC_VK_SH_REDUCE,
    JC_VK_SH_REDUCE_SG,
    JC_VK_SH_GATHER,
    JC_VK_SH_AXIS,
    JC_VK_SH_FRAMES,
    JC_VK_SH_CONV_DW,
    JC_VK_SH_DROPOUT,
    JC_VK_SH_OPTIM,
    JC_VK_SH_SOFTMAX,
    JC_VK_SH_FFT,
    JC_VK_SH_COUNT
};
#define JC_VK_PUSH_MAX 128
jc_status jc_vk_pipelines_init(jc_vk_ctx *c, jc_error *err);
void jc_vk_pipelines_free(jc_vk_ctx *c);
jc_status jc_vk_get_pipeline(jc_vk_ctx *c, int shader, const uint32_t *spec, int n_spec, VkPipeline *out,
                         jc_error *err);
int jc_vk_have_shaders(void);
/* Whether this build embeds shader `name` (the cooperative-matrix GEMM
 * needs a compiler that knows GL_KHR_cooperative_matrix). */
int jc_vk_have_shader(const char *name);

/* vulkan_record.c: one command buffer for a whole graph */
jc_status jc_vk_record_begin(jc_vk_ctx *c, jc_error *err);
/* A buffer range a dispatch reads or writes. */
typedef struct {
    const jc_tensor *t;
    int write;
} jc_vk_access;
jc_status jc_vk_dispatch(jc_vk_ctx *c, int shader, const uint32_t *spec, int n_spec, const void *push,
                         size_t push_size, uint32_t gx, uint32_t gy, uint32_t gz, const jc_vk_access *acc,
                         int n_acc, jc_error *err);
/* Dispatch a 1-D problem of n items in groups of local_size (2-D grid). */
jc_status jc_vk_dispatch_1d(jc_vk_ctx *c, int shader, const uint32_t *spec, int n_spec, const void *push,
                            size_t push_size, uint64_t n, uint32_t local_size, const jc_vk_access *acc,
                            int n_acc, jc_error *err);
jc_status jc_vk_record_end_submit(jc_vk_ctx *c, jc_error *err);

/* vulkan_ops.c */
int jc_vk_supports_op(const jc_backend *be, const jc_tensor *t);
jc_status jc_vk_record_node(jc_vk_ctx *c, jc_tensor *t, jc_error *err);
/* Bytes of scratch node t needs while it runs (0 for most). */
size_t jc_vk_node_scratch(const jc_vk_ctx *c, const jc_tensor *t);
VkDeviceAddress jc_vk_addr(const jc_tensor *t);

/* vulkan_spirv.c (generated by embed-spirv.sh from shaders/) */
typedef struct {
    const char *name;
    const uint32_t *code;
    size_t size;
} jc_vk_spirv;
extern const jc_vk_spirv jc_vk_spirv_modules[];

#endif
