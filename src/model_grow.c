/* model_grow.c: load a model into an equal or wider one (model_grow.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_file.h"
#include "model_grow.h"

/* Which axis of a weight reads the input channels: convolutions store
 * [Cout, Cin, K]; transposed convolutions ("up.weight") store [Cin, Cout,
 * K] as PyTorch does. */
static int input_axis(const char *name)
{
    size_t n = strlen(name);
    return n >= 9 && strcmp(name + n - 9, "up.weight") == 0 ? 0 : 1;
}

/* Copy old [od] into the corner of new [nd] (row-major) and
 * zero the weights from new input channels into old output channels. */
static void grow_values(const char *name, int rank, const int64_t *od, const int64_t *nd, const float *old,
                        float *dst)
{
    int64_t total = 1;
    for (int d = 0; d < rank; d++)
        total *= nd[d];
    int in = input_axis(name), out = 1 - in;
    for (int64_t flat = 0; flat < total; flat++) {
        int64_t idx[JC_MAX_DIMS], rest = flat, old_flat = 0;
        for (int d = rank - 1; d >= 0; d--) {
            idx[d] = rest % nd[d];
            rest /= nd[d];
        }
        int inside = 1;
        for (int d = 0; d < rank; d++) {
            inside = inside && idx[d] < od[d];
            old_flat = old_flat * od[d] + (idx[d] < od[d] ? idx[d] : 0);
        }
        if (inside)
            dst[flat] = old[old_flat];
        else if (rank >= 2 && idx[out] < od[out] && idx[in] >= od[in])
            dst[flat] = 0.0f;
    }
}

static int grow_tensor(jc_tensor *t, const jc_tensor *from, int exact, char *err, size_t errlen)
{
    const char *name = jc_tensor_name(t);
    int rank = jc_tensor_ndim(t);
    int64_t od[JC_MAX_DIMS], nd[JC_MAX_DIMS];
    if (jc_tensor_ndim(from) != rank) {
        snprintf(err, errlen, "%s: rank %d in the model file, %d here", name, jc_tensor_ndim(from), rank);
        return -1;
    }
    for (int d = 0; d < rank; d++) {
        od[d] = jc_tensor_dim(from, d);
        nd[d] = jc_tensor_dim(t, d);
        if (exact && od[d] != nd[d]) {
            snprintf(err, errlen, "%s: dimension %d is %lld in the model file, %lld here (only the decoder can "
                                  "grow)", name, d, (long long)od[d], (long long)nd[d]);
            return -1;
        }
        if (od[d] > nd[d]) {
            snprintf(err, errlen, "%s: dimension %d is %lld in the model file, only %lld here (a model can "
                                  "grow, not shrink)", name, d, (long long)od[d], (long long)nd[d]);
            return -1;
        }
    }
    float *old = malloc((size_t)jc_tensor_nelem(from) * sizeof *old);
    float *dst = malloc((size_t)jc_tensor_nelem(t) * sizeof *dst);
    jc_error e = {0};
    int r = 0;
    if (!old || !dst) {
        snprintf(err, errlen, "out of memory");
        r = -1;
    } else if (jc_tensor_get(from, old, &e) || jc_tensor_get(t, dst, &e)) {
        snprintf(err, errlen, "%s: %s", name, e.msg);
        r = -1;
    }
    if (r == 0) {
        grow_values(name, rank, od, nd, old, dst);
        if (jc_tensor_set(t, dst, &e)) {
            snprintf(err, errlen, "%s: %s", name, e.msg);
            r = -1;
        }
    }
    free(old);
    free(dst);
    return r;
}

static int grow_store(jc_store *dst, const jc_store *src, int exact, const char *path, char *err, size_t errlen)
{
    if (jc_store_count(dst) != jc_store_count(src)) {
        snprintf(err, errlen, "%s has %d tensors where this configuration has %d", path, jc_store_count(src),
                 jc_store_count(dst));
        return -1;
    }
    for (int i = 0; i < jc_store_count(dst); i++) {
        jc_tensor *t = jc_store_at(dst, i);
        const jc_tensor *from = jc_store_find(src, jc_tensor_name(t));
        if (!from) {
            snprintf(err, errlen, "%s has no tensor %s", path, jc_tensor_name(t));
            return -1;
        }
        if (grow_tensor(t, from, exact, err, errlen))
            return -1;
    }
    return 0;
}

int jt_model_grow_from(jt_stage2 *dst, const char *path, uint8_t id[JT_MODEL_ID_BYTES], char *err, size_t errlen)
{
    jt_stage2 src;
    uint8_t own_id[JT_MODEL_ID_BYTES];
    if (jt_model_load(path, dst->be, &src, id ? id : own_id, NULL, err, errlen))
        return -1;
    /* the encoder's layer norms mix channels, so widening it would change
     * its function: it must match exactly */
    int r = grow_store(dst->enc, src.enc, 1, path, err, errlen) ||
            grow_store(dst->gen, src.gen, 0, path, err, errlen);
    jt_stage2_model_free(&src);
    return r ? -1 : 0;
}
