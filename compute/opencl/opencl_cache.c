/* opencl_cache.c: program binaries on disk, so only the first run on a
 * machine pays the driver's compiler (seconds on PoCL, more on some GPU
 * drivers).  The key covers everything that can change the binary: source,
 * build options, device name and version, driver version.  A file holds a
 * small header (magic, key, size, checksum) so a truncated or foreign file
 * is detected and ignored.  Every failure here is silent: the caller then
 * builds from source, because a cache must never be a reason to fail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opencl_internal.h"

#define CACHE_MAGIC "JCCLBIN1"

uint64_t jc_cl_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* $XDG_CACHE_HOME/jepatok/opencl, else ~/.cache/jepatok/opencl; the
 * directories are created when create is set.  0 on success. */
static int cache_dir(char *out, size_t n, int create)
{
    if (getenv("JC_OPENCL_NO_CACHE") && atoi(getenv("JC_OPENCL_NO_CACHE")) != 0)
        return -1;
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int len;
    if (xdg && xdg[0] == '/') /* the XDG spec says relative values are invalid */
        len = snprintf(out, n, "%s/jepatok/opencl", xdg);
    else if (home && home[0])
        len = snprintf(out, n, "%s/.cache/jepatok/opencl", home);
    else
        return -1;
    if (len < 0 || (size_t)len >= n)
        return -1;
    if (!create)
        return 0;
    /* mkdir -p: each prefix in turn; EEXIST is fine */
    for (char *p = out + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(out, 0755);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int cache_path(uint64_t key, char *out, size_t n, int create)
{
    char dir[3072];
    if (cache_dir(dir, sizeof dir, create) != 0)
        return -1;
    int len = snprintf(out, n, "%s/%016llx.bin", dir, (unsigned long long)key);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

typedef struct {
    char magic[8];
    uint64_t key, size, checksum;
} cache_header;

unsigned char *jc_cl_cache_load(uint64_t key, size_t *size)
{
    char path[4096];
    if (cache_path(key, path, sizeof path, 0) != 0)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    cache_header h;
    unsigned char *bin = NULL;
    if (fread(&h, sizeof h, 1, f) == 1 && memcmp(h.magic, CACHE_MAGIC, 8) == 0 && h.key == key && h.size > 0 &&
        h.size < ((uint64_t)1 << 31)) {
        bin = malloc((size_t)h.size);
        if (bin && (fread(bin, 1, (size_t)h.size, f) != h.size ||
                    jc_cl_fnv1a(JC_FNV_OFFSET, bin, (size_t)h.size) != h.checksum)) {
            free(bin);
            bin = NULL;
        }
    }
    fclose(f);
    if (bin)
        *size = (size_t)h.size;
    return bin;
}

void jc_cl_cache_store(uint64_t key, const unsigned char *bin, size_t size)
{
    char path[4096], tmp[4200];
    if (!bin || size == 0 || cache_path(key, path, sizeof path, 1) != 0)
        return;
    /* temp file + rename: a reader never sees a half-written binary, and
     * two processes writing the same key both leave a whole file */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return;
    cache_header h;
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.key = key;
    h.size = size;
    h.checksum = jc_cl_fnv1a(JC_FNV_OFFSET, bin, size);
    int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(bin, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0)
        remove(tmp);
}
