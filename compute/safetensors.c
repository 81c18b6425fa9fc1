/* safetensors.c: checkpoints in the safetensors format, so that files move
 * freely between jepatok and the Python tools that read that format.
 *
 * Every multi-byte value is assembled byte by byte in little-endian order,
 * so big-endian hosts produce and accept the same files without a separate
 * code path (this assumes float and uint32_t share a byte order, true on
 * every platform we target).
 *
 * Save streams one tensor at a time into a temporary file beside the target
 * and renames it into place: a crash or an error never leaves a half-written
 * checkpoint under the real name.  Load validates the whole header against
 * the stores before touching any tensor, so a mismatching file leaves the
 * model as it was.
 */
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64

#include "jc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Real headers are kilobytes; a larger claim means a corrupt length field,
 * and believing it would make us allocate whatever the file says. */
#define HEADER_MAX ((uint64_t)100 * 1024 * 1024)

/* Messages start with the path; keep them printable for a NULL path. */
#define PATH_STR(p) ((p) ? (p) : "(null)")

/* --------------------------------------------------------------- metadata */

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* jc_metadata_set cannot report failure, the loader must: -1 on no memory. */
static int metadata_put(jc_metadata *md, const char *key, const char *value)
{
    char *v = dup_string(value);
    if (!v)
        return -1;
    for (int i = 0; i < md->count; i++) {
        if (strcmp(md->keys[i], key) == 0) {
            free(md->values[i]);
            md->values[i] = v;
            return 0;
        }
    }
    char *k = dup_string(key);
    if (!k) {
        free(v);
        return -1;
    }
    /* Metadata holds a handful of entries: growing by one is cheap enough and
     * needs no capacity field in the public struct. */
    size_t n = (size_t)md->count + 1;
    char **keys = realloc(md->keys, n * sizeof *keys);
    if (!keys)
        goto fail;
    md->keys = keys;
    char **values = realloc(md->values, n * sizeof *values);
    if (!values)
        goto fail;
    md->values = values;
    md->keys[md->count] = k;
    md->values[md->count] = v;
    md->count++;
    return 0;
fail:
    free(k);
    free(v);
    return -1;
}

jc_status jc_metadata_set(jc_metadata *md, const char *key, const char *value)
{
    if (!md || !key || !value)
        return JC_ERR_INVALID;
    return metadata_put(md, key, value) == 0 ? JC_OK : JC_ERR_NOMEM;
}

const char *jc_metadata_get(const jc_metadata *md, const char *key)
{
    if (!md || !key)
        return NULL;
    for (int i = 0; i < md->count; i++)
        if (strcmp(md->keys[i], key) == 0)
            return md->values[i];
    return NULL;
}

void jc_metadata_free(jc_metadata *md)
{
    if (!md)
        return;
    for (int i = 0; i < md->count; i++) {
        free(md->keys[i]);
        free(md->values[i]);
    }
    free(md->keys);
    free(md->values);
    md->count = 0;
    md->keys = NULL;
    md->values = NULL;
}

/* ------------------------------------------------------- number encodings */

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE binary16 with round to nearest, ties to even, done on the bits so the
 * result does not depend on the host's rounding mode or FPU flags. */
static uint16_t f32_to_f16(float f)
{
    uint32_t x = float_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t a = x & 0x7fffffffu;

    if (a > 0x7f800000u) /* NaN: force it quiet, keep the top of the payload */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x1ffu));
    if (a >= 0x477ff000u) /* >= 65520 rounds beyond 65504, the largest half */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) { /* at least 2^-14: a normal half */
        uint32_t v = a - 0x38000000u; /* exponent bias 127 -> 15 */
        uint32_t h = v >> 13, rest = v & 0x1fffu;
        /* A carry out of the mantissa bumps the exponent: still correct. */
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    if (a < 0x33000000u) /* up to 2^-25 (a tie with zero) rounds to zero */
        return (uint16_t)sign;
    /* Subnormal half, counted in units of 2^-24. */
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    int shift = 126 - (int)(a >> 23); /* 14 .. 24 */
    uint32_t h = m >> shift;
    uint32_t rest = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1u)))
        h++; /* may become 0x400, the smallest normal: correct */
    return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f)
        return bits_float(sign | 0x7f800000u | (m << 13));
    if (e)
        return bits_float(sign | ((e + 112u) << 23) | (m << 13));
    /* Zero or subnormal: m * 2^-24 is exact in float. */
    float v = (float)m * 0x1p-24f;
    return sign ? -v : v;
}

static float bf16_to_f32(uint16_t b)
{
    return bits_float((uint32_t)b << 16);
}

static void put_le16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* --------------------------------------------------------- store tensors */

typedef struct {
    const char *name;
    jc_tensor *t;
} named_tensor;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named_tensor *)a)->name, ((const named_tensor *)b)->name);
}

/* All tensors of the stores sorted by name: the order of the saved header and
 * the index the loader searches. */
static jc_status collect_tensors(const char *path, jc_store *const *stores, named_tensor **out, size_t *count,
                                 jc_error *err)
{
    *out = NULL;
    *count = 0;
    size_t n = 0;
    for (size_t s = 0; stores && stores[s]; s++) {
        int c = jc_store_count(stores[s]);
        n += c > 0 ? (size_t)c : 0;
    }
    named_tensor *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return jc_error_set(err, JC_ERR_NOMEM, "%s: out of memory listing %zu tensors", PATH_STR(path), n);
    size_t k = 0;
    for (size_t s = 0; stores && stores[s]; s++) {
        int c = jc_store_count(stores[s]);
        for (int i = 0; i < c; i++) {
            jc_tensor *t = jc_store_at(stores[s], i);
            const char *name = t ? jc_tensor_name(t) : NULL;
            if (!name || !*name) {
                free(v);
                return jc_error_set(err, JC_ERR_INVALID, "%s: tensor %d of store %zu has no name", PATH_STR(path),
                                    i, s);
            }
            v[k].name = name;
            v[k].t = t;
            k++;
        }
    }
    qsort(v, n, sizeof *v, cmp_named);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i - 1].name, v[i].name) == 0) {
            jc_status st = jc_error_set(err, JC_ERR_INVALID, "%s: tensor '%s' appears more than once in the stores",
                                        PATH_STR(path), v[i].name);
            free(v);
            return st;
        }
    }
    *out = v;
    *count = n;
    return JC_OK;
}

/* Callers pass 128 bytes: four 20-digit dimensions always fit. */
static void format_shape(char *buf, size_t size, int ndim, const int64_t *dims)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%" PRId64, i ? "," : "", dims[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
}

/* The backend's message is kept, the path and tensor are put in front. */
static jc_status wrap_tensor_error(jc_error *err, jc_status st, const jc_error *inner, const char *path,
                                   const char *name, const char *action)
{
    return jc_error_set(err, st, "%s: cannot %s tensor '%s': %s", PATH_STR(path), action, name,
                        inner->msg[0] ? inner->msg : jc_status_name(st));
}

/* ------------------------------------------------------------------- save */

static jc_status write_bytes(FILE *f, const void *p, size_t n, const char *path, const char *tmp, jc_error *err)
{
    if (n == 0)
        return JC_OK;
    errno = 0;
    if (fwrite(p, 1, n, f) != n) {
        int e = errno ? errno : EIO;
        return jc_error_set(err, JC_ERR_IO, "%s: cannot write '%s': %s", PATH_STR(path), tmp, strerror(e));
    }
    return JC_OK;
}

/* Without this a power cut right after the rename may lose the new name. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = dup_string(".");
    else if (slash == path)
        dir = dup_string("/");
    else {
        size_t n = (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd); /* some file systems refuse: the data itself is synced */
        close(fd);
    }
    free(dir);
}

static jc_status build_header(const char *path, const named_tensor *v, size_t n, const jc_metadata *md,
                              jc_dtype dtype, char **text, size_t *max_nelem, jc_error *err)
{
    jc_status st = JC_OK;
    size_t esize = dtype == JC_DTYPE_F16 ? 2 : 4;
    const char *dname = dtype == JC_DTYPE_F16 ? "F16" : "F32";
    json_t *root = json_object();
    *text = NULL;
    *max_nelem = 0;
    if (!root)
        return jc_error_set(err, JC_ERR_NOMEM, "%s: out of memory building the header", PATH_STR(path));

    if (md && md->count > 0) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta) != 0) {
            st = jc_error_set(err, JC_ERR_NOMEM, "%s: out of memory building the header", PATH_STR(path));
            goto done;
        }
        for (int i = 0; i < md->count; i++) {
            json_t *s = json_string(md->values[i]);
            if (!s || json_object_set_new(meta, md->keys[i], s) != 0) {
                st = jc_error_set(err, JC_ERR_INVALID, "%s: metadata '%s' is not valid UTF-8 (or out of memory)",
                                  PATH_STR(path), md->keys[i]);
                goto done;
            }
        }
    }

    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = v[i].name;
        if (strcmp(name, "__metadata__") == 0) {
            st = jc_error_set(err, JC_ERR_INVALID, "%s: a tensor may not be named '__metadata__'", PATH_STR(path));
            goto done;
        }
        int ndim = jc_tensor_ndim(v[i].t);
        int64_t nelem = jc_tensor_nelem(v[i].t);
        if (ndim < 0 || ndim > JC_MAX_DIMS || nelem < 0 || (uint64_t)nelem > SIZE_MAX / sizeof(float)) {
            st = jc_error_set(err, JC_ERR_INVALID, "%s: tensor '%s' has an unsupported shape", PATH_STR(path), name);
            goto done;
        }
        uint64_t bytes = (uint64_t)nelem * esize;
        if (offset + bytes > (uint64_t)INT64_MAX) {
            st = jc_error_set(err, JC_ERR_INVALID, "%s: checkpoint too large", PATH_STR(path));
            goto done;
        }
        if ((size_t)nelem > *max_nelem)
            *max_nelem = (size_t)nelem;

        json_t *entry = json_object(), *shape = json_array(), *offs = json_array();
        int bad = !entry || !shape || !offs;
        for (int d = 0; d < ndim && !bad; d++)
            bad = json_array_append_new(shape, json_integer(jc_tensor_dim(v[i].t, d))) != 0;
        if (!bad)
            bad = json_array_append_new(offs, json_integer((json_int_t)offset)) != 0 ||
                  json_array_append_new(offs, json_integer((json_int_t)(offset + bytes))) != 0;
        if (!bad) {
            /* The entry now owns shape and offs, whatever happens next. */
            bad = json_object_set_new(entry, "dtype", json_string(dname)) != 0;
            bad |= json_object_set_new(entry, "shape", shape) != 0;
            bad |= json_object_set_new(entry, "data_offsets", offs) != 0;
            shape = offs = NULL;
        }
        if (bad) {
            json_decref(entry);
            json_decref(shape);
            json_decref(offs);
            st = jc_error_set(err, JC_ERR_NOMEM, "%s: out of memory building the header", PATH_STR(path));
            goto done;
        }
        if (json_object_set_new(root, name, entry) != 0) {
            st = jc_error_set(err, JC_ERR_INVALID, "%s: tensor name '%s' is not valid UTF-8 (or out of memory)",
                              PATH_STR(path), name);
            goto done;
        }
        offset += bytes;
    }

    /* jansson keeps insertion order, so the header lists tensors by name. */
    *text = json_dumps(root, JSON_COMPACT);
    if (!*text)
        st = jc_error_set(err, JC_ERR_NOMEM, "%s: out of memory writing the header", PATH_STR(path));
    else if (strlen(*text) + 7 > HEADER_MAX) {
        free(*text);
        *text = NULL;
        st = jc_error_set(err, JC_ERR_INVALID, "%s: header larger than the %" PRIu64 " bytes a loader accepts",
                          PATH_STR(path), HEADER_MAX);
    }
done:
    json_decref(root);
    return st;
}

jc_status jc_safetensors_save(const char *path, jc_store *const *stores, const jc_metadata *md, jc_dtype dtype,
                              jc_error *err)
{
    if (!path || !*path)
        return jc_error_set(err, JC_ERR_INVALID, "%s: no file name given", PATH_STR(path));
    if (dtype != JC_DTYPE_F32 && dtype != JC_DTYPE_F16)
        return jc_error_set(err, JC_ERR_INVALID, "%s: unsupported dtype %d", path, (int)dtype);

    jc_status st;
    named_tensor *v = NULL;
    size_t n = 0, max_nelem = 0;
    char *header = NULL, *tmp = NULL;
    float *fbuf = NULL;
    unsigned char *raw = NULL;
    FILE *f = NULL;
    int created = 0;
    size_t esize = dtype == JC_DTYPE_F16 ? 2 : 4;

    st = collect_tensors(path, stores, &v, &n, err);
    if (st)
        return st;
    st = build_header(path, v, n, md, dtype, &header, &max_nelem, err);
    if (st)
        goto done;

    fbuf = malloc((max_nelem ? max_nelem : 1) * sizeof *fbuf);
    raw = malloc((max_nelem ? max_nelem : 1) * esize);
    size_t tmp_size = strlen(path) + 32;
    tmp = malloc(tmp_size);
    if (!fbuf || !raw || !tmp) {
        st = jc_error_set(err, JC_ERR_NOMEM, "%s: out of memory for a %zu-element tensor", path, max_nelem);
        goto done;
    }
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());

    f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        st = jc_error_set(err, JC_ERR_IO, "%s: cannot create '%s': %s", path, tmp, strerror(e));
        goto done;
    }
    created = 1;

    /* Pad with spaces (valid JSON whitespace) so the data section starts on
     * an 8-byte boundary and a reader can map tensors in place. */
    size_t hlen = strlen(header);
    size_t pad = (8 - hlen % 8) % 8;
    unsigned char prefix[8];
    static const char spaces[] = "        ";
    put_le64(prefix, (uint64_t)(hlen + pad));
    if ((st = write_bytes(f, prefix, 8, path, tmp, err)) || (st = write_bytes(f, header, hlen, path, tmp, err)) ||
        (st = write_bytes(f, spaces, pad, path, tmp, err)))
        goto done;

    for (size_t i = 0; i < n; i++) {
        size_t nelem = (size_t)jc_tensor_nelem(v[i].t);
        if (nelem == 0)
            continue;
        jc_error inner = {0};
        st = jc_tensor_get(v[i].t, fbuf, &inner);
        if (st) {
            st = wrap_tensor_error(err, st, &inner, path, v[i].name, "read");
            goto done;
        }
        if (dtype == JC_DTYPE_F16)
            for (size_t j = 0; j < nelem; j++)
                put_le16(raw + 2 * j, f32_to_f16(fbuf[j]));
        else
            for (size_t j = 0; j < nelem; j++)
                put_le32(raw + 4 * j, float_bits(fbuf[j]));
        if ((st = write_bytes(f, raw, nelem * esize, path, tmp, err)))
            goto done;
    }

    errno = 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        int e = errno ? errno : EIO;
        st = jc_error_set(err, JC_ERR_IO, "%s: cannot write '%s': %s", path, tmp, strerror(e));
        goto done;
    }
    int rc = fclose(f);
    f = NULL;
    if (rc != 0) {
        int e = errno;
        st = jc_error_set(err, JC_ERR_IO, "%s: cannot close '%s': %s", path, tmp, strerror(e));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        st = jc_error_set(err, JC_ERR_IO, "%s: cannot rename '%s' into place: %s", path, tmp, strerror(e));
        goto done;
    }
    created = 0;
    sync_parent_dir(path);

done:
    if (f)
        fclose(f);
    if (created)
        remove(tmp);
    free(tmp);
    free(raw);
    free(fbuf);
    free(header);
    free(v);
    return st;
}

/* ------------------------------------------------------------------- load */

static jc_status open_regular(const char *path, FILE **fp, uint64_t *size, jc_error *err)
{
    *fp = NULL;
    if (!path || !*path)
        return jc_error_set(err, JC_ERR_INVALID, "%s: no file name given", PATH_STR(path));
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return jc_error_set(err, JC_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        int e = errno;
        fclose(f);
        return jc_error_set(err, JC_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        fclose(f);
        return jc_error_set(err, JC_ERR_IO, "%s: not a regular file", path);
    }
    *fp = f;
    *size = (uint64_t)sb.st_size;
    return JC_OK;
}

static jc_status read_exact(FILE *f, void *buf, size_t n, const char *path, const char *what, jc_error *err)
{
    if (n == 0)
        return JC_OK;
    errno = 0;
    if (fread(buf, 1, n, f) == n)
        return JC_OK;
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        return jc_error_set(err, JC_ERR_IO, "%s: error reading %s: %s", path, what, strerror(e));
    }
    /* The size was checked up front, so the file shrank while we read it. */
    return jc_error_set(err, JC_ERR_FORMAT, "%s: file truncated while reading %s", path, what);
}

/* Leaves f at the first byte of the data section. */
static jc_status read_header(FILE *f, const char *path, uint64_t file_size, json_t **root, uint64_t *data_size,
                             jc_error *err)
{
    unsigned char lenbuf[8];
    *root = NULL;
    if (file_size < 8)
        return jc_error_set(err, JC_ERR_FORMAT,
                            "%s: file is %" PRIu64 " bytes long, too short for the 8-byte header length "
                            "(truncated?)",
                            path, file_size);
    jc_status st = read_exact(f, lenbuf, 8, path, "the header length", err);
    if (st)
        return st;
    uint64_t n = get_le64(lenbuf);
    if (n < 2)
        return jc_error_set(err, JC_ERR_FORMAT, "%s: header length %" PRIu64 " is too small for a JSON object",
                            path, n);
    if (n > HEADER_MAX)
        return jc_error_set(err, JC_ERR_FORMAT,
                            "%s: header length %" PRIu64 " exceeds the %" PRIu64
                            "-byte limit (not a safetensors file?)",
                            path, n, HEADER_MAX);
    if (n > file_size - 8)
        return jc_error_set(err, JC_ERR_FORMAT,
                            "%s: header length %" PRIu64 " exceeds the %" PRIu64 " bytes after it (truncated?)", path,
                            n, file_size - 8);
    char *buf = malloc((size_t)n);
    if (!buf)
        return jc_error_set(err, JC_ERR_NOMEM, "%s: out of memory for a %" PRIu64 "-byte header", path, n);
    st = read_exact(f, buf, (size_t)n, path, "the header", err);
    if (st) {
        free(buf);
        return st;
    }
    json_error_t je;
    /* Duplicate names would silently drop a tensor: reject them. */
    json_t *r = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!r)
        return jc_error_set(err, JC_ERR_FORMAT, "%s: invalid JSON header: %s (at byte %d of the header)", path,
                            je.text, je.position);
    if (!json_is_object(r)) {
        json_decref(r);
        return jc_error_set(err, JC_ERR_FORMAT, "%s: JSON header is not an object", path);
    }
    *root = r;
    *data_size = file_size - 8 - n;
    return JC_OK;
}

/* out may be NULL to validate only. */
static jc_status parse_metadata(const char *path, json_t *root, jc_metadata *out, jc_error *err)
{
    json_t *m = json_object_get(root, "__metadata__");
    if (!m)
        return JC_OK;
    if (!json_is_object(m))
        return jc_error_set(err, JC_ERR_FORMAT, "%s: __metadata__ is not an object", path);
    const char *key;
    json_t *value;
    json_object_foreach(m, key, value)
    {
        if (!json_is_string(value))
            return jc_error_set(err, JC_ERR_FORMAT, "%s: metadata '%s' is not a string", path, key);
        if (out && metadata_put(out, key, json_string_value(value)) != 0)
            return jc_error_set(err, JC_ERR_NOMEM, "%s: out of memory reading metadata", path);
    }
    return JC_OK;
}

typedef enum { FILE_F32, FILE_F16, FILE_BF16 } file_dtype;

typedef struct {
    const char *name; /* owned by the parsed header */
    jc_tensor *t;
    file_dtype dtype;
    int ndim;
    int64_t dims[JC_MAX_DIMS];
    uint64_t nelem, begin, end;
} file_entry;

static int cmp_entry(const void *a, const void *b)
{
    const file_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static int get_uint(json_t *j, uint64_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return 0;
    *out = (uint64_t)json_integer_value(j);
    return 1;
}

static jc_status parse_entry(const char *path, const char *name, json_t *value, uint64_t data_size, file_entry *e,
                             jc_error *err)
{
    memset(e, 0, sizeof *e);
    e->name = name;
    if (!json_is_object(value))
        return jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name);

    json_t *dt = json_object_get(value, "dtype");
    if (!json_is_string(dt))
        return jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s' has no dtype", path, name);
    const char *ds = json_string_value(dt);
    uint64_t esize;
    if (strcmp(ds, "F32") == 0) {
        e->dtype = FILE_F32;
        esize = 4;
    } else if (strcmp(ds, "F16") == 0) {
        e->dtype = FILE_F16;
        esize = 2;
    } else if (strcmp(ds, "BF16") == 0) {
        e->dtype = FILE_BF16;
        esize = 2;
    } else
        return jc_error_set(err, JC_ERR_FORMAT,
                            "%s: tensor '%s' has unsupported dtype '%s' (F32, F16 or BF16 expected)", path, name, ds);

    json_t *shape = json_object_get(value, "shape");
    if (!json_is_array(shape))
        return jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s' has no shape", path, name);
    size_t ndim = json_array_size(shape);
    if (ndim > JC_MAX_DIMS)
        return jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s' has %zu dimensions, at most %d are supported", path,
                            name, ndim, JC_MAX_DIMS);
    e->ndim = (int)ndim;
    /* The count saturates at 2^60 so that it and its byte size cannot
     * overflow; anything that large fails the byte count check below. */
    const uint64_t cap = (uint64_t)1 << 60;
    uint64_t nelem = 1;
    int any_zero = 0;
    for (size_t d = 0; d < ndim; d++) {
        uint64_t dim;
        if (!get_uint(json_array_get(shape, d), &dim))
            return jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s' has an invalid shape (dimension %zu)", path,
                                name, d);
        e->dims[d] = (int64_t)dim;
        if (dim == 0)
            any_zero = 1;
        else if (nelem > cap / dim)
            nelem = cap;
        else
            nelem *= dim;
    }
    if (any_zero)
        nelem = 0;
    e->nelem = nelem;

    json_t *offs = json_object_get(value, "data_offsets");
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !get_uint(json_array_get(offs, 0), &e->begin) ||
        !get_uint(json_array_get(offs, 1), &e->end) || e->begin > e->end)
        return jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s' has invalid data_offsets", path, name);
    if (e->end - e->begin != nelem * esize) {
        char sh[128];
        format_shape(sh, sizeof sh, e->ndim, e->dims);
        return jc_error_set(err, JC_ERR_FORMAT,
                            "%s: tensor '%s' has data_offsets [%" PRIu64 ",%" PRIu64 "] (%" PRIu64
                            " bytes) but %s %s needs %" PRIu64 " bytes",
                            path, name, e->begin, e->end, e->end - e->begin, ds, sh, nelem * esize);
    }
    if (e->end > data_size)
        return jc_error_set(err, JC_ERR_FORMAT,
                            "%s: tensor '%s' data ends at byte %" PRIu64 " but the data section has only %" PRIu64
                            " bytes (truncated?)",
                            path, name, e->end, data_size);
    if (nelem > SIZE_MAX / sizeof(float))
        return jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s' is too large for this host", path, name);
    return JC_OK;
}

/* A scalar written as shape [] is the same tensor as shape [1]. */
static int normalize_shape(int ndim, int64_t *dims)
{
    if (ndim == 0) {
        dims[0] = 1;
        return 1;
    }
    return ndim;
}

static jc_status match_model(const char *path, file_entry *e, const named_tensor *model, size_t nmodel,
                             unsigned char *found, int allow_extra, jc_error *err)
{
    named_tensor key = {e->name, NULL};
    const named_tensor *hit = nmodel ? bsearch(&key, model, nmodel, sizeof *model, cmp_named) : NULL;
    e->t = NULL;
    if (!hit && allow_extra)
        return JC_OK; /* read past, never stored */
    if (!hit)
        return jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s' is in the file but not in the model", path,
                            e->name);
    e->t = hit->t;
    found[hit - model] = 1;

    int64_t fd[JC_MAX_DIMS], md[JC_MAX_DIMS];
    memcpy(fd, e->dims, sizeof fd);
    int fn = normalize_shape(e->ndim, fd);
    int mn = jc_tensor_ndim(e->t);
    if (mn < 0 || mn > JC_MAX_DIMS)
        mn = 0;
    for (int d = 0; d < mn; d++)
        md[d] = jc_tensor_dim(e->t, d);
    int mnorm = normalize_shape(mn, md);
    int same = fn == mnorm;
    for (int d = 0; same && d < fn; d++)
        same = fd[d] == md[d];
    if (!same) {
        char fs[128], ms[128];
        format_shape(fs, sizeof fs, e->ndim, e->dims);
        format_shape(ms, sizeof ms, mn, md);
        return jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s' has shape %s in the file but %s in the model", path,
                            e->name, fs, ms);
    }
    return JC_OK;
}

/* Sorted entries must tile the data section exactly: a gap or trailing bytes
 * mean a writer we do not understand, an overlap means aliasing tensors. */
static jc_status check_coverage(const char *path, const file_entry *ents, size_t n, uint64_t data_size,
                                jc_error *err)
{
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (ents[i].begin < pos)
            return jc_error_set(err, JC_ERR_FORMAT,
                                "%s: tensors '%s' and '%s' overlap in the data section ([%" PRIu64 ",%" PRIu64
                                ") and [%" PRIu64 ",%" PRIu64 "))",
                                path, ents[i - 1].name, ents[i].name, ents[i - 1].begin, ents[i - 1].end,
                                ents[i].begin, ents[i].end);
        if (ents[i].begin > pos)
            return jc_error_set(err, JC_ERR_FORMAT,
                                "%s: unused gap of bytes [%" PRIu64 ",%" PRIu64
                                ") in the data section before tensor '%s'",
                                path, pos, ents[i].begin, ents[i].name);
        pos = ents[i].end;
    }
    if (pos < data_size)
        return jc_error_set(err, JC_ERR_FORMAT, "%s: %" PRIu64 " trailing bytes after the last tensor's data", path,
                            data_size - pos);
    return JC_OK;
}

static void decode(const file_entry *e, const unsigned char *raw, float *out)
{
    size_t n = (size_t)e->nelem;
    switch (e->dtype) {
    case FILE_F32:
        for (size_t i = 0; i < n; i++)
            out[i] = bits_float(get_le32(raw + 4 * i));
        break;
    case FILE_F16:
        for (size_t i = 0; i < n; i++)
            out[i] = f16_to_f32(get_le16(raw + 2 * i));
        break;
    case FILE_BF16:
        for (size_t i = 0; i < n; i++)
            out[i] = bf16_to_f32(get_le16(raw + 2 * i));
        break;
    }
}

/* md's previous contents are replaced, and only on success. */
static jc_status load(const char *path, jc_store *const *stores, jc_metadata *md, int allow_extra, jc_error *err)
{
    FILE *f = NULL;
    json_t *root = NULL;
    named_tensor *model = NULL;
    size_t nmodel = 0, nents = 0;
    file_entry *ents = NULL;
    unsigned char *found = NULL, *raw = NULL;
    float *fbuf = NULL;
    jc_metadata got = {0};
    uint64_t file_size = 0, data_size = 0;

    jc_status st = open_regular(path, &f, &file_size, err);
    if (st)
        return st;
    if ((st = read_header(f, path, file_size, &root, &data_size, err)))
        goto done;
    if ((st = parse_metadata(path, root, md ? &got : NULL, err)))
        goto done;
    if ((st = collect_tensors(path, stores, &model, &nmodel, err)))
        goto done;

    found = calloc(nmodel ? nmodel : 1, 1);
    ents = malloc((json_object_size(root) + 1) * sizeof *ents);
    if (!found || !ents) {
        st = jc_error_set(err, JC_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    const char *name;
    json_t *value;
    json_object_foreach(root, name, value)
    {
        if (strcmp(name, "__metadata__") == 0)
            continue;
        file_entry *e = &ents[nents];
        if ((st = parse_entry(path, name, value, data_size, e, err)) ||
            (st = match_model(path, e, model, nmodel, found, allow_extra, err)))
            goto done;
        nents++;
    }
    size_t missing = 0, first_missing = 0;
    for (size_t i = 0; i < nmodel; i++)
        if (!found[i] && missing++ == 0)
            first_missing = i;
    if (missing == 1) {
        st = jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s' of the model is missing from the file", path,
                          model[first_missing].name);
        goto done;
    }
    if (missing > 1) {
        st = jc_error_set(err, JC_ERR_FORMAT, "%s: tensor '%s' of the model is missing from the file (and %zu more)",
                          path, model[first_missing].name, missing - 1);
        goto done;
    }
    qsort(ents, nents, sizeof *ents, cmp_entry);
    if ((st = check_coverage(path, ents, nents, data_size, err)))
        goto done;

    /* The header is fully validated: from here on tensors are overwritten. */
    size_t max_nelem = 0;
    for (size_t i = 0; i < nents; i++)
        if (ents[i].nelem > max_nelem)
            max_nelem = (size_t)ents[i].nelem;
    fbuf = malloc((max_nelem ? max_nelem : 1) * sizeof *fbuf);
    raw = malloc((max_nelem ? max_nelem : 1) * 4);
    if (!fbuf || !raw) {
        st = jc_error_set(err, JC_ERR_NOMEM, "%s: out of memory for a %zu-element tensor", path, max_nelem);
        goto done;
    }
    /* Entries tile the data section in order, so reading is sequential. */
    for (size_t i = 0; i < nents; i++) {
        file_entry *e = &ents[i];
        if ((st = read_exact(f, raw, (size_t)(e->end - e->begin), path, "tensor data", err)))
            goto done;
        if (e->nelem == 0 || !e->t)
            continue;
        decode(e, raw, fbuf);
        jc_error inner = {0};
        st = jc_tensor_set(e->t, fbuf, &inner);
        if (st) {
            st = wrap_tensor_error(err, st, &inner, path, e->name, "set");
            goto done;
        }
    }
    if (md) {
        jc_metadata_free(md);
        *md = got;
        memset(&got, 0, sizeof got);
    }

done:
    jc_metadata_free(&got);
    free(raw);
    free(fbuf);
    free(ents);
    free(found);
    free(model);
    json_decref(root);
    if (f)
        fclose(f);
    return st;
}

jc_status jc_safetensors_load(const char *path, jc_store *const *stores, jc_metadata *md, jc_error *err)
{
    return load(path, stores, md, 0, err);
}

jc_status jc_safetensors_load_subset(const char *path, jc_store *const *stores, jc_metadata *md, jc_error *err)
{
    return load(path, stores, md, 1, err);
}

jc_status jc_safetensors_read_metadata(const char *path, jc_metadata *md, jc_error *err)
{
    FILE *f = NULL;
    json_t *root = NULL;
    jc_metadata got = {0};
    uint64_t file_size = 0, data_size = 0;

    jc_status st = open_regular(path, &f, &file_size, err);
    if (st)
        return st;
    st = read_header(f, path, file_size, &root, &data_size, err);
    if (!st)
        st = parse_metadata(path, root, md ? &got : NULL, err);
    if (!st && md) {
        jc_metadata_free(md);
        *md = got;
        memset(&got, 0, sizeof got);
    }
    jc_metadata_free(&got);
    json_decref(root);
    fclose(f);
    return st;
}

jc_status jc_store_round(jc_store *st, jc_dtype dtype, jc_error *err)
{
    if (dtype == JC_DTYPE_F32)
        return JC_OK;
    for (int i = 0; i < jc_store_count(st); i++) {
        jc_tensor *t = jc_store_at(st, i);
        size_t n = (size_t)jc_tensor_nelem(t);
        float *v = malloc((n ? n : 1) * sizeof *v);
        if (!v)
            return jc_error_set(err, JC_ERR_NOMEM, "rounding '%s': out of memory", jc_tensor_name(t));
        jc_status s = jc_tensor_get(t, v, err);
        for (size_t k = 0; s == JC_OK && k < n; k++)
            v[k] = f16_to_f32(f32_to_f16(v[k]));
        if (s == JC_OK)
            s = jc_tensor_set(t, v, err);
        free(v);
        if (s)
            return s;
    }
    return JC_OK;
}
