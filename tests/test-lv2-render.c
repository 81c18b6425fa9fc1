/* test-lv2-render.c: the plugin renders the same bits whatever ran before
 * the render.  A DAW runs a plugin from the moment a session opens and
 * exports later, so the codec's chunk seams would fall at a different
 * point of the audio on each export; the plugin restarts the codec when
 * free-wheeling starts (plugins/lv2/plugin.c).  Here a small host (dlopen,
 * lv2_descriptor, the plugin's own .so from the build tree) plays a few
 * seconds of noise in real time, then switches free-wheeling on and
 * renders a test signal, with three different amounts of noise before:
 * the three renders must be equal sample for sample, and must not be
 * silence.  Needs the shipped model and libjepatok (JEPATOK_BUILDDIR). */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lv2/core/lv2.h>

#include "tap.h"

enum { PORT_IN, PORT_OUT, PORT_LATENCY, PORT_ENABLED, PORT_FREEWHEEL, PORT_DROPPED };
enum { RATE = 24000, BLOCK = 1024 };

typedef struct {
    const LV2_Descriptor *d;
    LV2_Handle h;
    float in[BLOCK], out[BLOCK], latency, enabled, freewheel, dropped;
} host;

/* A voiced-like test signal: a gliding pitch with harmonics, in syllables. */
static float signal_at(long i)
{
    double t = (double)i / RATE, f0 = 120.0 + 40.0 * sin(2 * M_PI * 0.7 * t), s = 0;
    for (int k = 1; k <= 6; k++)
        s += sin(2 * M_PI * f0 * k * t + k) / k;
    double syllable = 0.5 + 0.5 * sin(2 * M_PI * 3.0 * t);
    return (float)(0.15 * s * syllable);
}

/* Noise from a seed, for what the host plays before the render. */
static float noise(unsigned *r)
{
    *r = *r * 1103515245u + 12345u;
    return ((float)((*r >> 9) & 0xffff) / 65536.0f - 0.5f) * 0.2f;
}

/* `before` samples of noise in real time, then n samples of the signal
 * free-wheeling; out gets the rendered part. */
static void render(host *hs, long before, unsigned seed, float *out, long n)
{
    hs->d->activate(hs->h);
    hs->freewheel = 0.0f;
    for (long t = 0; t < before; t += BLOCK) {
        uint32_t m = (uint32_t)(before - t < BLOCK ? before - t : BLOCK);
        for (uint32_t i = 0; i < m; i++)
            hs->in[i] = noise(&seed);
        hs->d->run(hs->h, m);
    }
    hs->freewheel = 1.0f;
    for (long t = 0; t < n; t += BLOCK) {
        uint32_t m = (uint32_t)(n - t < BLOCK ? n - t : BLOCK);
        for (uint32_t i = 0; i < m; i++)
            hs->in[i] = signal_at(t + i);
        hs->d->run(hs->h, m);
        memcpy(out + t, hs->out, m * sizeof *out);
    }
    if (hs->d->deactivate)
        hs->d->deactivate(hs->h);
}

int main(void)
{
    const char *b = getenv("JEPATOK_BUILDDIR");
    char so[4096], lib[4096];
    snprintf(so, sizeof so, "%s/plugins/lv2/.libs/jepatok_lv2.so", b ? b : ".");
    snprintf(lib, sizeof lib, "%s/.libs/libjepatok.so.0", b ? b : ".");
    setenv("JEPATOK_LIBRARY", lib, 0);
    void *dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        printf("1..0 # SKIP cannot load %s: %s\n", so, dlerror());
        return 0;
    }
    LV2_Descriptor_Function get = (LV2_Descriptor_Function)dlsym(dl, "lv2_descriptor");
    host hs = {.d = get ? get(0) : NULL, .enabled = 1.0f};
    tap_ok(hs.d && !strcmp(hs.d->URI, "urn:jepatok:lv2:codec"), "the binary describes urn:jepatok:lv2:codec");
    const LV2_Feature *none[] = {NULL};
    hs.h = hs.d ? hs.d->instantiate(hs.d, RATE, "", none) : NULL;
    tap_ok(hs.h != NULL, "an instance at %d Hz (the model and libjepatok found)", RATE);
    if (!hs.h)
        return tap_done();
    float *ports[] = {hs.in, hs.out, &hs.latency, &hs.enabled, &hs.freewheel, &hs.dropped};
    for (uint32_t p = 0; p < sizeof ports / sizeof ports[0]; p++)
        hs.d->connect_port(hs.h, p, ports[p]);

    /* 3 s of signal and the latency's worth after it (3.2 s) */
    const long n = 6 * RATE + RATE / 2;
    float *a = calloc((size_t)n, sizeof *a), *c = calloc((size_t)n, sizeof *c), *d = calloc((size_t)n, sizeof *d);
    render(&hs, 0, 1, a, n);
    render(&hs, 3 * RATE + 777, 2, c, n);  /* past a chunk: the worker ran on noise */
    render(&hs, RATE / 2, 3, d, n);
    long latency = lroundf(hs.latency), differ_c = 0, differ_d = 0;
    double energy = 0;
    for (long t = 0; t < n; t++) {
        differ_c += a[t] != c[t];
        differ_d += a[t] != d[t];
        energy += (double)a[t] * a[t];
    }
    tap_ok(latency == (long)(3.2 * RATE), "latency %ld samples (3.2 s)", latency);
    tap_ok(energy > 1.0, "the render is not silence (energy %.1f)", energy);
    tap_ok(differ_c == 0 && differ_d == 0,
           "renders after 0, 3.03 and 0.5 s of real-time noise are the same, sample for sample (%ld and %ld "
           "samples differ)", differ_c, differ_d);
    tap_ok(hs.dropped == 0.0f, "no chunk dropped while free-wheeling");
    hs.d->cleanup(hs.h);
    free(a);
    free(c);
    free(d);
    dlclose(dl);
    return tap_done();
}
