/* fsq.c: FSQ token layout, packing and unpacking (see fsq.h). */
#include <math.h>

#include "fsq.h"

int jt_fsq_layout_init(jt_fsq_layout *f, const jt_config *c)
{
    f->dims = c->fsq_dims;
    f->n_groups = 0;
    int64_t prod = 1;
    for (int d = 0; d < f->dims; d++) {
        int L = c->fsq_levels[d];
        if (L < 2 || L > JT_FSQ_MAX_TOKEN_RANGE)
            return -1;
        f->levels[d] = L;
        if (d == 0 || prod * L > JT_FSQ_MAX_TOKEN_RANGE) {
            if (d > 0)
                f->radix[f->n_groups - 1] = (int32_t)prod;
            f->group_start[f->n_groups++] = d;
            prod = 1;
        }
        prod *= L;
    }
    f->radix[f->n_groups - 1] = (int32_t)prod;
    f->group_start[f->n_groups] = f->dims;
    return 0;
}

double jt_fsq_bits_per_frame(const jt_fsq_layout *f)
{
    double bits = 0;
    for (int d = 0; d < f->dims; d++)
        bits += log2((double)f->levels[d]);
    return bits;
}

int jt_fsq_pack(const jt_fsq_layout *f, const int *digits, uint16_t *tokens)
{
    for (int k = 0; k < f->n_groups; k++) {
        int32_t v = 0;
        for (int d = f->group_start[k]; d < f->group_start[k + 1]; d++) {
            if (digits[d] < 0 || digits[d] >= f->levels[d])
                return -1;
            v = v * f->levels[d] + digits[d]; /* Horner: big-endian digits */
        }
        tokens[k] = (uint16_t)v;
    }
    return 0;
}

int jt_fsq_unpack(const jt_fsq_layout *f, const uint16_t *tokens, int *digits)
{
    for (int k = 0; k < f->n_groups; k++) {
        int32_t v = tokens[k];
        if (v >= f->radix[k])
            return -1;
        for (int d = f->group_start[k + 1] - 1; d >= f->group_start[k]; d--) {
            digits[d] = v % f->levels[d];
            v /= f->levels[d];
        }
    }
    return 0;
}
