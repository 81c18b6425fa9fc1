/* tiny-model.c: a random `tiny` model file (see tiny-model.h). */
#include <stdio.h>

#include "model_file.h"
#include "tiny-model.h"

int tiny_model_write(const char *path, uint64_t seed, char *err, size_t errlen)
{
    jt_config cfg;
    jt_config_preset("tiny", &cfg);
    jc_error e = {0};
    jc_backend *be = jc_backend_open("cpu", "threads=1", &e);
    if (!be) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    jt_stage2 m;
    int r = jt_stage2_model_create(&m, &cfg, be, seed, 0, 0, err, errlen);
    if (r == 0) {
        r = jt_model_save(path, &m, JC_DTYPE_F32, NULL, NULL, err, errlen);
        jt_stage2_model_free(&m);
    }
    jc_backend_free(be);
    return r;
}
