/* nn.c: parameters by name and the small layers every part of the model uses. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

static void fail(jt_nn *m, const char *fmt, ...)
{
    if (m->failed)
        return;
    m->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof m->err, fmt, ap);
    va_end(ap);
}

size_t jt_scope(jt_nn *m, const char *fmt, ...)
{
    size_t saved = strlen(m->prefix);
    size_t room = sizeof m->prefix - saved;
    if (saved > 0 && room > 1) {
        m->prefix[saved] = '.';
        m->prefix[saved + 1] = 0;
        room--;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->prefix + strlen(m->prefix), room, fmt, ap);
    va_end(ap);
    return saved;
}

void jt_unscope(jt_nn *m, size_t saved) { m->prefix[saved] = 0; }

int64_t jt_dim(const jc_tensor *t, int axis) { return t ? jc_tensor_dim(t, axis) : 0; }

static jc_status init_linspace(jc_tensor *t, float a, jc_error *err)
{
    int64_t n = jc_tensor_nelem(t);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return jc_error_set(err, JC_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        v[i] = n > 1 ? -a + 2.0f * a * (float)i / (float)(n - 1) : 0.0f;
    jc_status s = jc_tensor_set(t, v, err);
    free(v);
    return s;
}

jc_tensor *jt_param(jt_nn *m, const char *name, int ndim, const int64_t *shape, jt_init init, float a)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", m->prefix, m->prefix[0] ? "." : "", name);
    jc_tensor *t = jc_store_find(m->params, full);
    if (t) {
        int same = jc_tensor_ndim(t) == ndim;
        for (int i = 0; same && i < ndim; i++)
            same = jc_tensor_dim(t, i) == shape[i];
        if (!same)
            fail(m, "parameter '%s' has another shape than the model expects", full);
        return same ? t : NULL;
    }
    if (!m->rng) {
        fail(m, "parameter '%s' is missing", full);
        return NULL;
    }
    jc_error err = {0};
    t = jc_store_param(m->params, full, ndim, shape, &err);
    jc_status s = t ? JC_OK : err.code;
    if (t && !m->no_init) {
        switch (init) {
        case JT_INIT_FAN_IN: s = jc_init_uniform(t, m->rng, -1.0f / sqrtf(a), 1.0f / sqrtf(a), &err); break;
        case JT_INIT_CONST: s = a != 0 ? jc_tensor_fill(t, a, &err) : JC_OK; break;
        case JT_INIT_TRUNC_NORMAL: s = jc_init_trunc_normal(t, m->rng, a, -2 * a, 2 * a, &err); break;
        case JT_INIT_LINSPACE: s = init_linspace(t, a, &err); break;
        }
    }
    if (s != JC_OK) {
        fail(m, "parameter '%s': %s", full, err.msg);
        return NULL;
    }
    return t;
}

jc_tensor *jt_conv(jt_nn *m, const char *name, jc_tensor *x, int cout, int k, int stride, int pad_l, int pad_r,
                   int dilation, int groups)
{
    if (!x || m->failed)
        return NULL;
    int cin = (int)jt_dim(x, 1);
    size_t saved = jt_scope(m, "%s", name);
    float fan_in = (float)(cin / groups * k);
    jc_tensor *w = jt_param(m, "weight", 3, (int64_t[]){cout, cin / groups, k}, JT_INIT_FAN_IN, fan_in);
    jc_tensor *b = jt_param(m, "bias", 1, (int64_t[]){cout}, JT_INIT_FAN_IN, fan_in);
    jt_unscope(m, saved);
    if (!w || !b)
        return NULL;
    return jc_conv1d(m->g, x, w, b, (jc_conv_params){stride, pad_l, pad_r, dilation, groups});
}

jc_tensor *jt_linear(jt_nn *m, const char *name, jc_tensor *x, int cout)
{
    return jt_conv(m, name, x, cout, 1, 1, 0, 0, 1, 1);
}

jc_tensor *jt_snake(jt_nn *m, const char *name, jc_tensor *x)
{
    if (!x || m->failed)
        return NULL;
    int64_t C = jt_dim(x, 1);
    size_t saved = jt_scope(m, "%s", name);
    jc_tensor *p = jt_param(m, "p", 1, (int64_t[]){C}, JT_INIT_CONST, 0.0f);
    jt_unscope(m, saved);
    if (!p)
        return NULL;
    jc_graph *g = m->g;
    jc_tensor *a = jc_reshape(g, jc_scale(g, jc_softplus(g, p), 1.0f, 0.01f), 3, (int64_t[]){1, C, 1});
    /* min(1/a, 10): a > 0.01 so 1/a > 0 and the clamp's lower bound is moot */
    jc_tensor *inv = jc_clamp(g, jc_reciprocal(g, a), 0.0f, 10.0f);
    return jc_add(g, x, jc_mul(g, inv, jc_sqr(g, jc_sin(g, jc_mul(g, x, a)))));
}

int jt_norm_params(jt_nn *m, const char *name, int64_t channels, jc_tensor **weight, jc_tensor **bias)
{
    size_t saved = jt_scope(m, "%s", name);
    *weight = jt_param(m, "weight", 1, &channels, JT_INIT_CONST, 1.0f);
    *bias = jt_param(m, "bias", 1, &channels, JT_INIT_CONST, 0.0f);
    jt_unscope(m, saved);
    return *weight && *bias ? 0 : -1;
}

jc_tensor *jt_layer_norm_channels(jt_nn *m, const char *name, jc_tensor *x)
{
    if (!x || m->failed)
        return NULL;
    int64_t C = jt_dim(x, 1);
    jc_tensor *w, *b;
    if (jt_norm_params(m, name, C, &w, &b))
        return NULL;
    jc_graph *g = m->g;
    /* the normalised axis is 1 here, so compose it rather than transposing
     * twice for jc_layer_norm's last-axis form */
    jc_tensor *xc = jc_sub(g, x, jc_mean(g, x, 1));
    jc_tensor *rstd = jc_reciprocal(g, jc_sqrt(g, jc_scale(g, jc_mean(g, jc_sqr(g, xc), 1), 1.0f, 1e-5f)));
    int64_t cs[3] = {1, C, 1};
    return jc_add(g, jc_mul(g, jc_mul(g, xc, rstd), jc_reshape(g, w, 3, cs)), jc_reshape(g, b, 3, cs));
}

jc_tensor *jt_res_stack(jt_nn *m, jc_tensor *x, int k, const int *dilations, jc_tensor *mask)
{
    jc_graph *g = m->g;
    int C = (int)jt_dim(x, 1);
    for (int j = 0; j < 3 && x; j++) {
        char n0[16], n1[16];
        snprintf(n0, sizeof n0, "conv%d", 2 * j);
        snprintf(n1, sizeof n1, "conv%d", 2 * j + 1);
        int p = dilations[j] * (k - 1) / 2;
        jc_tensor *r = jt_conv(m, n0, jc_leaky_relu(g, x, 0.1f), C, k, 1, p, p, dilations[j], 1);
        if (mask)
            r = jc_mul(g, r, mask);
        r = jt_conv(m, n1, jc_leaky_relu(g, r, 0.1f), C, k, 1, (k - 1) / 2, (k - 1) / 2, 1, 1);
        x = jc_add(g, x, r);
        if (mask)
            x = jc_mul(g, x, mask);
    }
    return x;
}

jc_tensor *jt_dropout(jt_nn *m, jc_tensor *x, float p)
{
    return m->training && p > 0 ? jc_dropout(m->g, x, p) : x;
}
