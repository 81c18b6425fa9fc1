/* library.h: libjepatok, opened at run time.
 *
 * The plugin binary links only the C library: hosts load plugins into
 * their own process, and a plugin that drags in libjepatok's dependencies
 * (OpenBLAS, libsndfile, jansson, ...) at load time can fail to load or
 * clash with the host's copies.  So libjepatok is opened with dlopen when
 * an instance is made, and a missing library is an error message, not a
 * host that cannot scan its plugins. */
#ifndef JL_LIBRARY_H
#define JL_LIBRARY_H

#include <stddef.h>

#include "jepatok.h"

typedef struct {
    void *handle;
    jepatok_model *(*model_open)(const char *path, jepatok_error *err);
    void (*model_close)(jepatok_model *m);
    int (*model_sample_rate)(const jepatok_model *m);
    int (*model_hop)(const jepatok_model *m);
    const char *(*model_id_hex)(const jepatok_model *m);
    jepatok_context *(*context_new)(const jepatok_model *m, const char *backend, jepatok_error *err);
    void (*context_free)(jepatok_context *c);
    const char *(*context_backend)(const jepatok_context *c);
    int (*encode)(jepatok_context *c, const float *pcm, size_t n, int rate, uint16_t **tokens, size_t *frames,
                  jepatok_error *err);
    int (*decode)(jepatok_context *c, const uint16_t *tokens, size_t frames, int rate, size_t n_samples,
                  float **pcm, jepatok_error *err);
    void (*free)(void *p);
} jl_library;

/* Opens $JEPATOK_LIBRARY if set, else JL_LIBDIR/libjepatok.so.0 (where
 * make install put it), else libjepatok.so.0 on the loader's path.
 * 0 on success; else -1 with a message in err. */
int jl_library_open(jl_library *lib, char *err, size_t errlen);
void jl_library_close(jl_library *lib);

#endif
