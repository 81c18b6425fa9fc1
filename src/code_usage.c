/* code_usage.c: entropy of a model's FSQ digits (see code_usage.h). */
#include "code_usage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int jt_code_usage_init(jt_code_usage *u, const jt_config *c)
{
    memset(u, 0, sizeof *u);
    if (jt_fsq_layout_init(&u->layout, c))
        return -1;
    for (int d = 0; d < u->layout.dims; d++)
        if (u->layout.levels[d] > u->max_levels)
            u->max_levels = u->layout.levels[d];
    size_t L = (size_t)u->max_levels, D = (size_t)u->layout.dims;
    u->count = calloc(D * L, sizeof *u->count);
    u->trans = calloc(D * L * L, sizeof *u->trans);
    if (!u->count || !u->trans) {
        jt_code_usage_free(u);
        return -1;
    }
    return 0;
}

int jt_code_usage_add(jt_code_usage *u, const uint16_t *tokens, int64_t frames)
{
    int D = u->layout.dims, L = u->max_levels, G = u->layout.n_groups;
    int *dig = malloc((size_t)(frames > 0 ? frames : 1) * (size_t)D * sizeof *dig);
    if (!dig)
        return -1;
    for (int64_t t = 0; t < frames; t++) /* all frames first: all or nothing */
        if (jt_fsq_unpack(&u->layout, tokens + t * G, dig + t * D)) {
            free(dig);
            return -1;
        }
    for (int64_t t = 0; t < frames; t++) {
        const int *cur = dig + t * D, *prev = t > 0 ? cur - D : cur;
        for (int d = 0; d < D; d++) {
            u->count[(size_t)d * L + cur[d]]++;
            if (t > 0) {
                u->trans[((size_t)d * L + prev[d]) * L + cur[d]]++;
                u->changes += cur[d] != prev[d];
            }
        }
    }
    u->frames += frames;
    u->pairs += frames > 1 ? frames - 1 : 0;
    free(dig);
    return 0;
}

/* Entropy in bits of n counts summing to total. */
static double entropy(const uint64_t *c, int n, uint64_t total)
{
    double h = 0;
    for (int i = 0; i < n; i++)
        if (c[i])
            h -= (double)c[i] / (double)total * log2((double)c[i] / (double)total);
    return h;
}

void jt_code_usage_get(const jt_code_usage *u, jt_code_usage_report *r)
{
    int D = u->layout.dims, L = u->max_levels;
    *r = (jt_code_usage_report){.frames = u->frames, .nominal_bits = jt_fsq_bits_per_frame(&u->layout)};
    for (int d = 0; d < D; d++) {
        if (u->frames > 0)
            r->entropy_bits += entropy(u->count + (size_t)d * L, L, (uint64_t)u->frames);
        /* H(cur | prev) = sum over prev of p(prev) H(cur | prev) */
        for (int p = 0; p < L && u->pairs > 0; p++) {
            const uint64_t *row = u->trans + ((size_t)d * L + p) * L;
            uint64_t n = 0;
            for (int c = 0; c < L; c++)
                n += row[c];
            if (n)
                r->new_bits += (double)n / (double)u->pairs * entropy(row, L, n);
        }
    }
    r->change = u->pairs > 0 ? (double)u->changes / ((double)u->pairs * D) : 0;
}

void jt_code_usage_free(jt_code_usage *u)
{
    free(u->count);
    free(u->trans);
    u->count = u->trans = NULL;
}
