/* rng.c: one seedable generator.  splitmix64 is small, fast, passes BigCrush
 * and, unlike rand(), gives the same stream on every platform; the counter
 * hash gives dropout masks that every backend can reproduce per element. */
#include <math.h>
#include <stdlib.h>

#include "jc_internal.h"

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void jc_rng_seed(jc_rng *r, uint64_t seed) { r->state = seed; }

uint64_t jc_rng_next(jc_rng *r)
{
    r->state += 0x9e3779b97f4a7c15ULL;
    return mix64(r->state);
}

double jc_rng_uniform(jc_rng *r) { return (double)(jc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

double jc_rng_normal(jc_rng *r)
{
    /* Box-Muller without caching the second value keeps the state a single
     * integer, so checkpoints save it exactly. */
    double u1 = jc_rng_uniform(r), u2 = jc_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int64_t jc_rng_below(jc_rng *r, int64_t n)
{
    if (n <= 1)
        return 0;
    /* rejection sampling removes the modulo bias */
    uint64_t un = (uint64_t)n, lim = UINT64_MAX - UINT64_MAX % un;
    uint64_t x;
    do
        x = jc_rng_next(r);
    while (x >= lim);
    return (int64_t)(x % un);
}

/* The same function is written in every backend's kernel language: a 32-bit
 * hash of (seed, index) so GPU kernels need no 64-bit multiply. */
float jc_hash_uniform(uint64_t seed, uint64_t index)
{
    uint32_t h = (uint32_t)seed ^ (uint32_t)(seed >> 32) * 0x85ebca6bU;
    h ^= (uint32_t)index * 0x9e3779b9U;
    h ^= (uint32_t)(index >> 32) * 0xc2b2ae35U;
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

static jc_status init_with(jc_tensor *t, jc_error *err, double (*draw)(jc_rng *, const float *), jc_rng *r,
                           const float *args)
{
    int64_t n = jc_tensor_nelem(t);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return jc_error_set(err, JC_ERR_NOMEM, "initialising %s: out of memory", t->name);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)draw(r, args);
    jc_status s = jc_tensor_set(t, v, err);
    free(v);
    return s;
}

static double draw_normal(jc_rng *r, const float *a) { return a[0] * jc_rng_normal(r); }
static double draw_uniform(jc_rng *r, const float *a) { return a[0] + (a[1] - a[0]) * jc_rng_uniform(r); }
static double draw_trunc_normal(jc_rng *r, const float *a)
{
    /* redraw outside [lo, hi] (in units of std), as torch.nn.init.trunc_normal_ */
    for (;;) {
        double x = a[0] * jc_rng_normal(r);
        if (x >= a[1] && x <= a[2])
            return x;
    }
}

jc_status jc_init_normal(jc_tensor *t, jc_rng *r, float std, jc_error *err)
{
    float a[1] = {std};
    return init_with(t, err, draw_normal, r, a);
}

jc_status jc_init_uniform(jc_tensor *t, jc_rng *r, float lo, float hi, jc_error *err)
{
    float a[2] = {lo, hi};
    return init_with(t, err, draw_uniform, r, a);
}

jc_status jc_init_trunc_normal(jc_tensor *t, jc_rng *r, float std, float lo, float hi, jc_error *err)
{
    if (!(lo < hi) || std <= 0 || hi < -4 * std || lo > 4 * std)
        return jc_error_set(err, JC_ERR_INVALID, "truncated normal for %s: empty or improbable range", t->name);
    float a[3] = {std, lo, hi};
    return init_with(t, err, draw_trunc_normal, r, a);
}
