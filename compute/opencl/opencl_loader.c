/* opencl_loader.c: find the OpenCL ICD loader at run time.  Linking
 * -lOpenCL would make the library (and the LV2 plugin) refuse to start on a
 * machine without OpenCL; with dlopen only the OpenCL backend is missing. */
#include <dlfcn.h>
#include <string.h>

#include "opencl_internal.h"

/* The table's signatures are written by hand; check each against the
 * prototype in CL/cl.h at compile time.  _Generic does not evaluate its
 * operand, so no symbol of libOpenCL is referenced. */
#define JC_CL_CHECK(name, ret, args)                                                                                 \
    _Static_assert(_Generic(&name, ret(CL_API_CALL *) args: 1, default: 0), "signature of " #name);
JC_CL_FUNCS(JC_CL_CHECK)
#undef JC_CL_CHECK

jc_status jc_cl_load(jc_cl_api *api, jc_error *err)
{
    memset(api, 0, sizeof *api);
    /* .so.1 is the ICD loader's runtime name; the bare .so exists only with
     * the development package, but some distributions ship only that. */
    api->lib = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!api->lib)
        api->lib = dlopen("libOpenCL.so", RTLD_NOW | RTLD_LOCAL);
    if (!api->lib)
        return jc_error_set(err, JC_ERR_DEVICE,
                            "OpenCL: libOpenCL.so.1 not found (apt-get install ocl-icd-libopencl1 and a driver)");
    /* dlsym returns void *; converting through memcpy keeps -Wpedantic quiet
     * about object-to-function pointer casts. */
#define JC_CL_RESOLVE(name, ret, args)                                                                               \
    {                                                                                                                \
        void *sym = dlsym(api->lib, #name);                                                                          \
        if (!sym) {                                                                                                  \
            jc_cl_unload(api);                                                                                       \
            return jc_error_set(err, JC_ERR_DEVICE, "OpenCL: libOpenCL lacks %s (OpenCL 1.2 loader needed)", #name); \
        }                                                                                                            \
        memcpy(&api->name, &sym, sizeof sym);                                                                        \
    }
    JC_CL_FUNCS(JC_CL_RESOLVE)
#undef JC_CL_RESOLVE
    return JC_OK;
}

void jc_cl_unload(jc_cl_api *api)
{
    if (api->lib)
        dlclose(api->lib);
    memset(api, 0, sizeof *api);
}

const char *jc_cl_error_name(cl_int code)
{
    switch (code) {
    case CL_SUCCESS: return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_DEVICE: return "CL_INVALID_DEVICE";
    case CL_INVALID_CONTEXT: return "CL_INVALID_CONTEXT";
    case CL_INVALID_COMMAND_QUEUE: return "CL_INVALID_COMMAND_QUEUE";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_BINARY: return "CL_INVALID_BINARY";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_PROGRAM_EXECUTABLE: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_KERNEL: return "CL_INVALID_KERNEL";
    case CL_INVALID_ARG_INDEX: return "CL_INVALID_ARG_INDEX";
    case CL_INVALID_ARG_VALUE: return "CL_INVALID_ARG_VALUE";
    case CL_INVALID_ARG_SIZE: return "CL_INVALID_ARG_SIZE";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_DIMENSION: return "CL_INVALID_WORK_DIMENSION";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_WORK_ITEM_SIZE: return "CL_INVALID_WORK_ITEM_SIZE";
    case CL_INVALID_GLOBAL_OFFSET: return "CL_INVALID_GLOBAL_OFFSET";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_GLOBAL_WORK_SIZE: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case CL_INVALID_OPERATION: return "CL_INVALID_OPERATION";
    case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST: return "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    case -9999: return "device fault (NVIDIA: illegal memory access)";
    }
    return "unknown error";
}

jc_status jc_cl_status(cl_int code)
{
    switch (code) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_RESOURCES:
    case CL_OUT_OF_HOST_MEMORY: return JC_ERR_NOMEM;
    }
    return JC_ERR_DEVICE;
}
