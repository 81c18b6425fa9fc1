/* backend.c: the table of backends compiled in, opening them by name, and
 * "auto" selection.  Nothing falls back to another backend silently. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jc_internal.h"

typedef struct {
    const char *name;
    jc_backend *(*open)(const char *options, jc_error *err);
    int (*devices)(jc_device_info *out, int max, jc_error *err);
} backend_entry;

static const backend_entry backends[] = {
#ifdef JC_WITH_VULKAN
    {"vulkan", jc_vulkan_backend_new, jc_vulkan_devices},
#endif
#ifdef JC_WITH_OPENCL
    {"opencl", jc_opencl_backend_new, jc_opencl_devices},
#endif
    {"cpu", jc_cpu_backend_new, jc_cpu_devices},
};
#define N_BACKENDS ((int)(sizeof backends / sizeof backends[0]))

/* The names again, as a constant: filling a static array on each call
 * raced when threads opened backends at once (ThreadSanitizer). */
static const char *const backend_names[] = {
#ifdef JC_WITH_VULKAN
    "vulkan",
#endif
#ifdef JC_WITH_OPENCL
    "opencl",
#endif
    "cpu", NULL};

_Static_assert(sizeof backend_names / sizeof backend_names[0] == N_BACKENDS + 1, "one name per backend");

const char *const *jc_backend_names(void) { return backend_names; }

static const backend_entry *find(const char *name)
{
    for (int i = 0; i < N_BACKENDS; i++)
        if (strcmp(backends[i].name, name) == 0)
            return &backends[i];
    return NULL;
}

int jc_option_int(const char *options, const char *key, int dflt)
{
    size_t klen = strlen(key);
    for (const char *p = options; p && *p;) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=')
            return atoi(p + klen + 1);
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    return dflt;
}

/* The first device that is a real GPU, in table order (Vulkan first). */
static jc_backend *open_auto(const char *options, jc_error *err)
{
    for (int i = 0; i < N_BACKENDS; i++) {
        if (strcmp(backends[i].name, "cpu") == 0)
            continue;
        jc_device_info info[16];
        int n = backends[i].devices(info, 16, NULL);
        for (int d = 0; d < n && d < 16; d++) {
            if (info[d].is_cpu_driver)
                continue;
            char opts[256];
            snprintf(opts, sizeof opts, "device=%d%s%s", d, options ? "," : "", options ? options : "");
            jc_backend *be = backends[i].open(opts, NULL);
            if (be)
                return be;
        }
    }
    return jc_cpu_backend_new(options, err);
}

/* Every option must be one some backend reads: a typo ("thread=2") is an
 * error, not a silently ignored setting. */
static int options_known(const char *options, jc_error *err)
{
    static const char *const keys[] = {"threads", "gemm", "device"};
    for (const char *p = options; p && *p;) {
        size_t len = strcspn(p, ","), klen = strcspn(p, "=,");
        int ok = 0; /* "key=value" with a known key */
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            ok |= klen < len && strlen(keys[k]) == klen && strncmp(p, keys[k], klen) == 0;
        if (!ok) {
            jc_error_set(err, JC_ERR_INVALID, "unknown backend option '%.*s' (threads=N, gemm=own|cblas, device=N)",
                         (int)len, p);
            return 0;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 1;
}

jc_backend *jc_backend_open(const char *name, const char *options, jc_error *err)
{
    /* "vulkan:device=1": the options written after the name, as
     * --backend and JEPATOK_BACKEND take them */
    char head[64];
    const char *colon = name && !options ? strchr(name, ':') : NULL;
    if (colon) {
        snprintf(head, sizeof head, "%.*s", (int)(colon - name < 63 ? colon - name : 63), name);
        name = head;
        options = colon + 1;
    }
    if (!options_known(options, err))
        return NULL;
    if (!name || strcmp(name, "cpu") == 0)
        return jc_cpu_backend_new(options, err);
    if (strcmp(name, "auto") == 0)
        return open_auto(options, err);
    const backend_entry *b = find(name);
    if (b)
        return b->open(options, err);
    char avail[128] = "";
    for (int i = 0; i < N_BACKENDS; i++)
        snprintf(avail + strlen(avail), sizeof avail - strlen(avail), "%s%s", i ? ", " : "", backends[i].name);
    jc_error_set(err, JC_ERR_UNSUPPORTED, "unknown backend '%s' (built in: %s, auto)", name, avail);
    return NULL;
}

int jc_backend_devices(const char *name, jc_device_info *out, int max, jc_error *err)
{
    const backend_entry *b = find(name);
    if (!b) {
        jc_error_set(err, JC_ERR_UNSUPPORTED, "unknown backend '%s'", name);
        return 0;
    }
    return b->devices(out, max, err);
}

void jc_backend_free(jc_backend *be)
{
    if (be)
        be->iface->free(be);
}

const char *jc_backend_name(const jc_backend *be) { return be->name; }

void jc_backend_device_info(const jc_backend *be, jc_device_info *info) { be->iface->device_info(be, info); }
