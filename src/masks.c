/* masks.c: length masks at every time resolution of the encoder. */
#include <stdlib.h>

#include "model.h"

int64_t jt_frames_for(const jt_config *c, int64_t samples)
{
    int64_t hop = jt_config_hop(c);
    return (samples + hop - 1) / hop;
}

int jt_masks_inputs(jc_graph *g, const jt_config *c, int64_t B, int64_t T, jt_masks *mk)
{
    int64_t t = T;
    mk->n_levels = c->n_blocks + 1;
    for (int l = 0; l < mk->n_levels; l++) {
        mk->level[l] = jc_input(g, "mask", 3, (int64_t[]){B, 1, t});
        if (l < c->n_blocks)
            t /= c->enc_strides[l];
    }
    mk->frames = mk->level[c->n_blocks];
    mk->keys = jc_reshape(g, mk->frames, 4, (int64_t[]){B, 1, 1, t});
    return mk->keys ? 0 : -1;
}

jc_status jt_masks_set(const jt_masks *mk, const jt_config *c, const int64_t *lengths, jc_error *err)
{
    int64_t B = jc_tensor_dim(mk->level[0], 0);
    int64_t hop = jt_config_hop(c);
    for (int l = 0; l < mk->n_levels; l++) {
        int64_t T = jc_tensor_dim(mk->level[l], 2), stride = 1;
        for (int k = 0; k < l; k++)
            stride *= c->enc_strides[k];
        float *v = malloc((size_t)(B * T) * sizeof *v);
        if (!v)
            return jc_error_set(err, JC_ERR_NOMEM, "masks: out of memory");
        for (int64_t b = 0; b < B; b++) {
            int64_t valid = jt_frames_for(c, lengths[b]) * hop / stride;
            for (int64_t t = 0; t < T; t++)
                v[b * T + t] = t < valid ? 1.0f : 0.0f;
        }
        jc_status s = jc_tensor_set(mk->level[l], v, err);
        free(v);
        if (s)
            return s;
    }
    return JC_OK;
}
