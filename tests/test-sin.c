/* test-sin.c: the CPU backend's vectorised sin / cos kernel (k_sin.c)
 * against double precision, on both of its paths (baseline and AVX2 + FMA,
 * switched like the GEMM's by JC_GEMM_ISA): sin, cos and -sin, with and
 * without the gradient factor dy, every tail length, in place, across the
 * range where the polynomial path works and past it, where the C library
 * takes over. */
#define _POSIX_C_SOURCE 200809L
#include "cpu_internal.h"
#include "gemm.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4099 /* not a multiple of 8: every path ends in a tail */

static double ref(double x, int quarter)
{
    return quarter == 1 ? cos(x) : quarter == 2 ? -sin(x) : sin(x);
}

/* Largest |y - dy * ref| / dy over x in [lo, hi] (a sweep with a few odd
 * values), writing into a separate array or in place. */
static double max_error(double lo, double hi, int quarter, int with_dy, int in_place)
{
    float *x = malloc(N * sizeof *x), *dy = malloc(N * sizeof *dy), *y = malloc(N * sizeof *y);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        x[i] = (float)(lo + (hi - lo) * i / (N - 1));
        dy[i] = 0.5f + (float)(i % 7) * 0.25f;
    }
    x[1] = 0.0f;
    x[2] = -0.0f;
    x[3] = 1e-30f;
    float *orig = malloc(N * sizeof *orig);
    memcpy(orig, x, N * sizeof *x);
    float *out = in_place ? x : y;
    jc_cpu_sin_array(x, with_dy ? dy : NULL, out, N, quarter);
    for (int i = 0; i < N; i++) {
        double scale = with_dy ? dy[i] : 1.0;
        double e = fabs(out[i] - scale * ref(orig[i], quarter)) / scale;
        worst = e > worst || e != e ? e : worst;
    }
    free(x);
    free(dy);
    free(y);
    free(orig);
    return worst;
}

int main(void)
{
    const char *isas[] = {"generic", "avx2"};
    static const char *names[] = {"sin", "cos", "-sin"};
    for (int is = 0; is < 2; is++) {
        setenv("JC_GEMM_ISA", isas[is], 1);
        if (is == 1 && jc_cpu_simd_isa() < JC_ISA_AVX2) {
            tap_diag("avx2 not supported by this CPU: its path is not tested");
            continue;
        }
        for (int q = 0; q < 3; q++) {
            /* 2e-7: a few units in the last place of a float near 1 */
            double e = max_error(-40, 40, q, 0, 0);
            tap_ok(e <= 2e-7, "%s %s on [-40, 40]: max error %.3g (at most 2e-7)", isas[is], names[q], e);
            e = max_error(-8192, 8192, q, 1, 0);
            tap_ok(e <= 2e-7, "%s dy * %s on [-8192, 8192]: max error %.3g per unit of dy", isas[is], names[q], e);
            e = max_error(-1e6, 1e6, q, 0, 1);
            tap_ok(e <= 2e-7, "%s %s in place on [-1e6, 1e6] (the C library past 8192): max error %.3g", isas[is],
                   names[q], e);
        }
        float t[13], y[13];
        for (int n = 0; n <= 13; n++) { /* every tail length, nothing written past n */
            for (int i = 0; i < 13; i++) {
                t[i] = 0.3f * (float)i - 1.0f;
                y[i] = 99.0f;
            }
            jc_cpu_sin_array(t, NULL, y, n, 0);
            int ok = 1;
            for (int i = 0; i < 13; i++)
                ok = ok && (i < n ? fabs(y[i] - sin(t[i])) <= 2e-7 : y[i] == 99.0f);
            tap_ok(ok, "%s: %d elements, none written past them", isas[is], n);
        }
    }
    unsetenv("JC_GEMM_ISA");
    return tap_done();
}
