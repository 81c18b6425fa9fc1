/* library.c: libjepatok through dlopen (library.h). */
#include "library.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef JL_LIBDIR
#define JL_LIBDIR "/usr/local/lib"
#endif

static void *open_first(char *err, size_t errlen)
{
    const char *env = getenv("JEPATOK_LIBRARY");
    if (env && *env) {
        void *h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            snprintf(err, errlen, "JEPATOK_LIBRARY=%s: %s", env, dlerror());
        return h;
    }
    void *h = dlopen(JL_LIBDIR "/libjepatok.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        h = dlopen("libjepatok.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        snprintf(err, errlen, "libjepatok.so.0 not found in " JL_LIBDIR " nor on the loader's path: %s", dlerror());
    return h;
}

int jl_library_open(jl_library *lib, char *err, size_t errlen)
{
    memset(lib, 0, sizeof *lib);
    if (!(lib->handle = open_first(err, errlen)))
        return -1;
    struct {
        void **slot;
        const char *name;
    } syms[] = {
        {(void **)&lib->model_open, "jepatok_model_open"},
        {(void **)&lib->model_close, "jepatok_model_close"},
        {(void **)&lib->model_sample_rate, "jepatok_model_sample_rate"},
        {(void **)&lib->model_hop, "jepatok_model_hop"},
        {(void **)&lib->model_id_hex, "jepatok_model_id_hex"},
        {(void **)&lib->context_new, "jepatok_context_new"},
        {(void **)&lib->context_free, "jepatok_context_free"},
        {(void **)&lib->context_backend, "jepatok_context_backend"},
        {(void **)&lib->encode, "jepatok_encode"},
        {(void **)&lib->decode, "jepatok_decode"},
        {(void **)&lib->free, "jepatok_free"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        if (!(*syms[i].slot = dlsym(lib->handle, syms[i].name))) {
            snprintf(err, errlen, "libjepatok has no %s (an older version?)", syms[i].name);
            jl_library_close(lib);
            return -1;
        }
    }
    return 0;
}

void jl_library_close(jl_library *lib)
{
    if (lib->handle)
        dlclose(lib->handle);
    memset(lib, 0, sizeof *lib);
}
