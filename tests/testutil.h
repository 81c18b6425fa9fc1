/* testutil.h: small helpers shared by the compute tests. */
#ifndef JC_TESTUTIL_H
#define JC_TESTUTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jc.h"
#include "tap.h"

/* Open a backend by name (with the environment as the caller set it), or
 * bail out.  may_skip: skip the whole test instead (1..0 # SKIP) when the
 * driver or device is absent; only for the first backend a test opens, so
 * that a later failure (of the fp16 kernels, say) is never a skip. */
static inline jc_backend *tu_open(const char *name, int may_skip)
{
    jc_error err = {0};
    jc_backend *be = jc_backend_open(name, NULL, &err);
    if (!be) {
        if (may_skip && (err.code == JC_ERR_DEVICE || err.code == JC_ERR_UNSUPPORTED)) {
            char reason[600];
            snprintf(reason, sizeof reason, "%s backend unavailable: %s", name, err.msg);
            tap_skip_all(reason);
        }
        printf("Bail out! cannot open backend %s: %s\n", name, err.msg);
        exit(1);
    }
    return be;
}

/* The backend under test: JC_TEST_BACKEND (default cpu).  These tests hold
 * every backend to fp32 accuracy, so the fp16-product GEMMs of Vulkan and
 * OpenCL (used in inference graphs by default where the device can) are
 * switched off here; tests/test-vulkan-fp16 and tests/test-opencl-fp16
 * check them against their own bound.  may_skip as tu_open's. */
static inline jc_backend *tu_backend_or_skip(int may_skip)
{
    const char *name = getenv("JC_TEST_BACKEND");
    setenv("JC_VULKAN_FP16", "0", 1);
    setenv("JC_OPENCL_FP16", "0", 1);
    return tu_open(name ? name : "cpu", may_skip);
}

static inline jc_backend *tu_backend(void) { return tu_backend_or_skip(0); }

static inline float *tu_random(jc_rng *r, int64_t n, float lo, float hi)
{
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = lo + (hi - lo) * (float)jc_rng_uniform(r);
    return v;
}

static inline int64_t tu_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* max |a-b| / (1 + max |b|): relative to the reference's scale */
static inline double tu_rel_err(const float *a, const double *ref, int64_t n)
{
    double m = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]);
        if (!(d <= m)) /* NaN propagates */
            m = d;
        if (fabs(ref[i]) > scale)
            scale = fabs(ref[i]);
    }
    return m / (1.0 + scale);
}

/* Run g with y as its output and, where with_grad, the backward of
 * sum(y * r) (r: weights shaped like y, so each output element carries its
 * own) with the gradients of p[0..n-1] as outputs too: grads[i], NULL for
 * an input the result does not depend on.  Stops at g's first error. */
static inline jc_status tu_run_with_grads(jc_graph *g, jc_tensor *y, const float *r, int with_grad,
                                          jc_tensor *const *p, int n, jc_tensor **grads, jc_error *err)
{
    jc_status s = jc_graph_status(g, err);
    if (s == JC_OK) {
        jc_graph_output(g, y);
        if (with_grad) {
            int64_t shape[4] = {jc_tensor_dim(y, 0), jc_tensor_dim(y, 1), jc_tensor_dim(y, 2), jc_tensor_dim(y, 3)};
            jc_tensor *rt = jc_constant(g, "R", jc_tensor_ndim(y), shape, r);
            s = jc_backward(g, jc_sum_all(g, jc_mul(g, y, rt)), err);
            for (int i = 0; s == JC_OK && i < n; i++)
                if ((grads[i] = jc_grad(g, p[i])) != NULL)
                    jc_graph_output(g, grads[i]);
        }
    }
    if (s == JC_OK)
        s = jc_graph_build(g, err);
    if (s == JC_OK)
        s = jc_graph_compute(g, err);
    return s;
}

/* Normalised mean squared error: sum (a-b)^2 / sum b^2 (infinite if a
 * holds a NaN). */
static inline double tu_nmse(const float *a, const float *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (!(num == num))
        return INFINITY;
    return den > 0 ? num / den : num;
}

static inline void tu_check(jc_status s, const jc_error *err, const char *what)
{
    if (s != JC_OK) {
        printf("Bail out! %s: %s\n", what, err->msg);
        exit(1);
    }
}

#endif
