/* test-opencl-fp16.c: the OpenCL backend's fp16-product GEMM
 * (compute/opencl/kernels/gemm_product.cl) through the checks of
 * fp16check.h (within fp16's error of the CPU and different from fp32 in
 * inference graphs, bit for bit fp32 with JC_OPENCL_FP16=0 and in training
 * graphs), for both GEMM kernel families: JC_OPENCL_GEMM=vec (CPU drivers'
 * default) and tiled (GPUs').
 *
 * Two builds of the fp16 kernels:
 *   - JC_OPENCL_FP16=emulate, on any device: products rounded to fp16 in
 *     fp32 arithmetic.  Its matmuls must also equal, bit for bit, a host
 *     computation of fp16 products summed in fp32 in the kernels' order:
 *     that is what makes the emulation a stand-in for half arithmetic.
 *   - the cl_khr_fp16 half-arithmetic build (JC_OPENCL_FP16=1; off by
 *     default), only on a device that advertises cl_khr_fp16.  PoCL has no
 *     cl_khr_fp16, so on the development machines that branch is NOT
 *     tested; the test output says so.  A GPU with cl_khr_fp16 runs it.
 * Skips only when there is no OpenCL driver or device. */
#include <stdio.h>

#include "fp16check.h"

/* x rounded to fp16 (to nearest, ties to even: vstore_half_rte), as a
 * float.  Half has 11 significant bits, so near |x| in [2^(e-1), 2^e) its
 * values are 2^(e-11) apart, and never closer than the subnormals' 2^-24. */
static float round_half(float x)
{
    if (x == 0 || !isfinite(x))
        return x;
    int e;
    frexp(x, &e);
    int q = e - 11 < -24 ? -24 : e - 11;
    double r = ldexp(nearbyint(ldexp(x, -q)), q); /* scaling by 2^-q is exact */
    return fabs(r) > 65504.0 ? copysignf(INFINITY, x) : (float)r;
}

/* Matmul case c (which 0-2) as the fp16 kernels compute it: per output,
 * k = 0..K-1 in order, acc = acc + fp16(fp16(a) * fp16(b)) in fp32. */
static void host_fp16_matmul(const fp16_case *c, float **in, float *y)
{
    int ta = c->which == 1, tb = c->which == 1;
    const int64_t *as = c->shape[0], *bs = c->shape[1];
    int an = c->ndim[0], bn = c->ndim[1];
    int64_t M = ta ? as[an - 1] : as[an - 2], K = ta ? as[an - 2] : as[an - 1];
    int64_t N = tb ? bs[bn - 2] : bs[bn - 1];
    int64_t batch = an > 2 ? as[0] : bn > 2 ? bs[0] : 1;
    for (int64_t z = 0; z < batch; z++) {
        const float *a = in[0] + (an > 2 ? z * M * K : 0), *b = in[1] + (bn > 2 ? z * K * N : 0);
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                float acc = 0.0f;
                for (int64_t k = 0; k < K; k++) {
                    float av = round_half(ta ? a[k * M + m] : a[m * K + k]);
                    float bv = round_half(tb ? b[n * K + k] : b[k * N + n]);
                    acc = acc + round_half(av * bv); /* av * bv is exact in fp32 */
                }
                y[(z * M + m) * N + n] = acc;
            }
    }
}

/* The emulation against the host's fp16 arithmetic, for the matmul cases:
 * bit for bit (emulated), or reported only (cl_khr_fp16: a device may
 * flush fp16 subnormal products to zero, which the bound of fp16check.h
 * allows but equality does not). */
static void check_exact(const fp16_pair *p, int emulated, jc_rng *rng)
{
    for (int i = 0; i < FP16_NCASES; i++) {
        const fp16_case *c = &fp16_cases[i];
        if (c->which > 2)
            continue;
        float *in[2];
        for (int j = 0; j < 2; j++)
            in[j] = tu_random(rng, tu_numel(c->ndim[j], c->shape[j]), -1, 1);
        fp16_result got = {0};
        char msg[256] = "";
        if (fp16_run(p->on, c, in, NULL, 0, 1, &got, msg)) {
            tap_ok(0, "%s %s: run (%s)", p->label, c->name, msg);
        } else {
            float *want = malloc((size_t)got.n * sizeof *want);
            host_fp16_matmul(c, in, want);
            int64_t differ = 0;
            for (int64_t j = 0; j < got.n; j++)
                differ += memcmp(&got.y[j], &want[j], sizeof *want) != 0;
            double e = tu_nmse(got.y, want, got.n);
            if (emulated)
                tap_ok(differ == 0,
                       "%s %s: equals the host's fp16 products summed in fp32, bit for bit (%lld of %lld differ)",
                       p->label, c->name, (long long)differ, (long long)got.n);
            else
                tap_diag("%s %s: against the host's fp16 products summed in fp32: %lld of %lld differ, nmse %.2e",
                         p->label, c->name, (long long)differ, (long long)got.n, e);
            free(want);
        }
        fp16_result_free(&got);
        free(in[0]);
        free(in[1]);
    }
}

/* Open the backend with JC_OPENCL_GEMM=family and JC_OPENCL_FP16=mode
 * (NULL: unset, the default: off). */
static jc_backend *open_with(const char *family, const char *mode)
{
    setenv("JC_OPENCL_GEMM", family, 1);
    if (mode)
        setenv("JC_OPENCL_FP16", mode, 1);
    else
        unsetenv("JC_OPENCL_FP16");
    jc_backend *be = tu_open("opencl", 0);
    unsetenv("JC_OPENCL_FP16");
    unsetenv("JC_OPENCL_GEMM");
    return be;
}

int main(void)
{
    /* the test decides the switches itself, whatever the caller's environment */
    unsetenv("JC_OPENCL_FP16");
    unsetenv("JC_OPENCL_GEMM");
    setenv("JC_OPENCL_FP16", "0", 1);
    jc_backend *probe = tu_open("opencl", 1); /* only a missing driver or device skips */
    unsetenv("JC_OPENCL_FP16");
    jc_device_info info;
    jc_backend_device_info(probe, &info);
    jc_backend_free(probe);
    tap_diag("opencl device: %s (%s), driver %s, cl_khr_fp16: %s", info.name, info.vendor, info.driver,
             info.fp16 ? "yes" : "no");
    if (!info.fp16)
        tap_diag("NOT TESTED here: the cl_khr_fp16 half-arithmetic GEMM (JC_GEMM_F16=1), since this device "
                 "lacks cl_khr_fp16; only its emulation runs (JC_OPENCL_FP16=emulate). It needs a GPU with "
                 "cl_khr_fp16.");

    jc_error err = {0};
    jc_backend *cpu = jc_backend_open("cpu", NULL, &err);
    tu_check(cpu ? JC_OK : err.code, &err, "cpu backend");
    jc_rng rng;
    jc_rng_seed(&rng, 1617);
    /* the half build where the device can run it, the emulation always */
    static const char *const modes[] = {"1", "emulate"};
    static const char *const families[] = {"vec", "tiled"};
    for (int m = info.fp16 ? 0 : 1; m < 2; m++)
        for (int f = 0; f < 2; f++) {
            jc_backend *on = open_with(families[f], modes[m]), *off = open_with(families[f], "0");
            jc_device_info ion, ioff;
            jc_backend_device_info(on, &ion);
            jc_backend_device_info(off, &ioff);
            char label[64];
            snprintf(label, sizeof label, "opencl %s %s", families[f], m ? "emulated" : "cl_khr_fp16");
            tap_ok(ion.fp16_gemm == 1, "%s: device reports the fp16 GEMM on (JC_OPENCL_FP16=%s)", label, modes[m]);
            tap_ok(ioff.fp16_gemm == 0, "%s: JC_OPENCL_FP16=0: device reports it off", label);
            jc_backend *dflt = open_with(families[f], NULL);
            jc_device_info idflt;
            jc_backend_device_info(dflt, &idflt);
            jc_backend_free(dflt);
            tap_ok(idflt.fp16_gemm == 0, "%s: JC_OPENCL_FP16 unset: off by default", label);
            fp16_pair pair = {label, "JC_OPENCL_FP16=0", on, off};
            fp16_check_all(cpu, &pair, &rng);
            check_exact(&pair, m == 1, &rng);
            jc_backend_free(off);
            jc_backend_free(on);
        }
    jc_backend_free(cpu);
    return tap_done();
}
