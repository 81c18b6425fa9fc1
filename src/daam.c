/* daam.c: the Density Adaptive Attention gate (MODEL.md): a mixture of K
 * Gaussians over a 1-channel projection, normalised by its statistics over
 * the valid steps, scales the features by 1 + alpha * gate. */
#include <math.h>

#include "model.h"

jc_tensor *jt_daam(jt_nn *m, const char *name, jc_tensor *x, jc_tensor *mask)
{
    if (!x || m->failed)
        return NULL;
    jc_graph *g = m->g;
    int K = m->cfg->daam_gaussians;
    int64_t B = jt_dim(x, 0), T = jt_dim(x, 2);
    size_t saved = jt_scope(m, "%s", name);
    jc_tensor *a = jt_linear(m, "proj", x, 1); /* [B, 1, T] */
    jc_tensor *nu = jt_param(m, "nu", 1, (int64_t[]){K}, JT_INIT_CONST, logf(0.5f));
    /* Means spread over [-1, 1]: with every delta at 0 (the reference
     * code, paper_daam_init) the K components stay identical forever. */
    jc_tensor *delta = jt_param(m, "delta", 1, (int64_t[]){K}, JT_INIT_LINSPACE, m->cfg->paper_daam_init ? 0.0f : 1.0f);
    jc_tensor *alpha = jt_param(m, "alpha", 1, (int64_t[]){1}, JT_INIT_CONST, 0.05f);
    jt_unscope(m, saved);
    if (!a || !nu || !delta || !alpha)
        return NULL;
    /* statistics over valid steps only */
    jc_tensor *count = jc_sum(g, mask, 2); /* [B, 1, 1] */
    jc_tensor *mu = jc_div(g, jc_sum(g, jc_mul(g, a, mask), 2), count);
    jc_tensor *ac = jc_sub(g, a, mu);
    jc_tensor *var = jc_div(g, jc_sum(g, jc_mul(g, jc_sqr(g, ac), mask), 2), count);
    jc_tensor *sigma = jc_sqrt(g, jc_maximum(g, var, jc_scalar_constant(g, 1e-6f)));
    jc_tensor *s = jc_scale(g, jc_softplus(g, nu), 1.0f, 1e-3f); /* [K] */
    int64_t k4[4] = {1, K, 1, 1};
    jc_tensor *s4 = jc_reshape(g, s, 4, k4), *d4 = jc_reshape(g, delta, 4, k4);
    jc_tensor *ac4 = jc_reshape(g, ac, 4, (int64_t[]){B, 1, 1, T});
    jc_tensor *sig4 = jc_reshape(g, sigma, 4, (int64_t[]){B, 1, 1, 1});
    /* Offsets in units of sigma: MODEL.md's literal z = (a - mu - delta) /
     * (sigma s) puts delta in raw units, so with the spread initialisation
     * and sigma << 1 (typical at init) every component sits many sigmas away,
     * the gate underflows to 0 and gets no gradient.  daam_raw_delta keeps the
     * literal form; with delta = 0 (paper_daam_init) both are the same. */
    jc_tensor *offset = m->cfg->daam_raw_delta ? d4 : jc_mul(g, d4, sig4);
    jc_tensor *z = jc_div(g, jc_sub(g, ac4, offset), jc_scale(g, jc_mul(g, sig4, s4), 1.0f, 1e-8f)); /* [B,K,1,T] */
    jc_tensor *l = jc_sub(g, jc_scale(g, jc_sqr(g, z), -0.5f, -0.5f * logf(2.0f * (float)M_PI)), jc_log(g, s4));
    jc_tensor *gate = jc_exp(g, jc_scale(g, jc_logsumexp(g, l, 1), 1.0f, -logf((float)K))); /* [B,1,1,T] */
    gate = jc_reshape(g, gate, 3, (int64_t[]){B, 1, T});
    return jc_mul(g, x, jc_add(g, jc_mul(g, gate, alpha), jc_scalar_constant(g, 1.0f)));
}
