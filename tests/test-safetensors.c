/* test-safetensors.c: checkpoint files.  Besides round trips through our own
 * writer, files are also built byte by byte here from the format's
 * description, so a writer and reader that agree on a mistake cannot pass. */
#define _POSIX_C_SOURCE 200809L

#include "jc.h"
#include "tap.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];
static jc_backend *be;
static int untouched_cases, untouched_failures;

/* ----------------------------------------------------------------- helpers */

static const char *path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static jc_tensor *add(jc_store *st, const char *name, int ndim, const int64_t *shape)
{
    jc_error err = {0};
    jc_tensor *t = jc_store_param(st, name, ndim, shape, &err);
    if (!t)
        tap_diag("jc_store_param(%s): %s", name, err.msg);
    return t;
}

/* Distinct, irregular values so a swapped or shifted tensor shows. */
static void fill_pattern(jc_tensor *t, float seed)
{
    int64_t n = jc_tensor_nelem(t);
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = seed * 1000.0f + (float)sin((double)i * 0.7 + seed) * 3.0f + (float)i / 7.0f;
    jc_tensor_set(t, v, NULL);
    free(v);
}

static void fill_store(jc_store *st, float seed)
{
    for (int i = 0; i < jc_store_count(st); i++)
        fill_pattern(jc_store_at(st, i), seed + (float)i);
}

static float *values(const jc_tensor *t)
{
    int64_t n = jc_tensor_nelem(t);
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    jc_tensor_get(t, v, NULL);
    return v;
}

static int same_bits(const jc_tensor *a, const jc_tensor *b)
{
    if (jc_tensor_nelem(a) != jc_tensor_nelem(b))
        return 0;
    float *x = values(a), *y = values(b);
    int ok = memcmp(x, y, (size_t)jc_tensor_nelem(a) * sizeof(float)) == 0;
    free(x);
    free(y);
    return ok;
}

/* Every tensor of a equals, bit for bit, the tensor of the same name in b. */
static int stores_equal(const jc_store *a, const jc_store *b)
{
    if (jc_store_count(a) != jc_store_count(b))
        return 0;
    for (int i = 0; i < jc_store_count(a); i++) {
        jc_tensor *t = jc_store_at(a, i);
        jc_tensor *u = jc_store_find(b, jc_tensor_name(t));
        if (!u || !same_bits(t, u))
            return 0;
    }
    return 1;
}

/* Snapshot of a whole store, to prove a failed load wrote nothing. */
typedef struct {
    int count;
    float **v;
} snapshot;

static snapshot take_snapshot(const jc_store *st)
{
    snapshot s = {jc_store_count(st), NULL};
    s.v = calloc((size_t)s.count + 1, sizeof *s.v);
    for (int i = 0; i < s.count; i++)
        s.v[i] = values(jc_store_at(st, i));
    return s;
}

static int matches_snapshot(const jc_store *st, snapshot s)
{
    int ok = 1;
    for (int i = 0; i < s.count; i++) {
        float *v = values(jc_store_at(st, i));
        ok &= memcmp(v, s.v[i], (size_t)jc_tensor_nelem(jc_store_at(st, i)) * sizeof(float)) == 0;
        free(v);
    }
    for (int i = 0; i < s.count; i++)
        free(s.v[i]);
    free(s.v);
    return ok;
}

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    *n = len;
    return buf;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* A file from a header text and data bytes; the length field is the header's
 * own length unless declared_len is not UINT64_MAX. */
static int build_file(const char *path, const char *header, const unsigned char *data, size_t ndata,
                      uint64_t declared_len)
{
    size_t hlen = strlen(header);
    uint64_t len = declared_len == UINT64_MAX ? hlen : declared_len;
    size_t total = 8 + hlen + ndata;
    unsigned char *buf = malloc(total);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(len >> (8 * i));
    memcpy(buf + 8, header, hlen);
    if (ndata)
        memcpy(buf + 8 + hlen, data, ndata);
    int ok = write_file(path, buf, total);
    free(buf);
    return ok;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int no_temp_files(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int ok = 1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            ok = 0;
    closedir(d);
    return ok;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        char sub[1024];
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else
        unlink(path);
}

/* The call failed with code, the message starts with the path and mentions
 * every needle (NULL-terminated). */
static int failed_with(jc_status st, const jc_error *err, jc_status code, const char *path, ...)
{
    int ok = st == code && err->code == code && strncmp(err->msg, path, strlen(path)) == 0;
    va_list ap;
    va_start(ap, path);
    const char *needle;
    while ((needle = va_arg(ap, const char *)))
        if (!strstr(err->msg, needle))
            ok = 0;
    va_end(ap);
    tap_diag("%s: %s", jc_status_name(st), err->msg);
    return ok;
}

/* The model most rejection cases load into. */
static jc_store *conv_model(int64_t k, int with_bias, int with_extra)
{
    jc_store *st = jc_store_new(be);
    add(st, "enc.conv0.weight", 3, (int64_t[]){4, 1, k});
    if (with_bias)
        add(st, "enc.conv0.bias", 1, (int64_t[]){4});
    if (with_extra)
        add(st, "enc.extra", 1, (int64_t[]){2});
    fill_store(st, 5.0f);
    return st;
}

/* Load path into a fresh conv model (or the given store), expecting failure
 * that leaves the store as it was. */
static int reject(const char *what, const char *path, jc_store *st, jc_status code, const char *n1, const char *n2,
                  const char *n3)
{
    int own = !st;
    if (own)
        st = conv_model(7, 1, 0);
    snapshot s = take_snapshot(st);
    jc_error err = {0};
    jc_store *stores[] = {st, NULL};
    jc_status rc = jc_safetensors_load(path, stores, NULL, &err);
    int ok = tap_ok(failed_with(rc, &err, code, path, n1, n2, n3, (const char *)NULL), "rejects %s", what);
    untouched_cases++;
    if (!matches_snapshot(st, s)) {
        untouched_failures++;
        tap_diag("%s modified the store", what);
    }
    if (own)
        jc_store_free(st);
    return ok;
}

/* binary16 decoded with ldexp, independent of the library's bit tricks. */
static float half_value(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp(m, -24);
    else
        v = ldexp(1024 + m, e - 25);
    return (float)((h & 0x8000) ? -v : v);
}

/* ------------------------------------------------------------------ tests */

static void test_metadata_api(void)
{
    jc_metadata md = {0};
    jc_metadata_set(&md, "a", "1");
    jc_metadata_set(&md, "b", "2");
    jc_metadata_set(&md, "a", "3");
    const char *a = jc_metadata_get(&md, "a"), *b = jc_metadata_get(&md, "b");
    tap_ok(md.count == 2 && a && strcmp(a, "3") == 0 && b && strcmp(b, "2") == 0 && !jc_metadata_get(&md, "c"),
           "metadata: set replaces an existing key, get finds keys and misses others");
    jc_metadata_free(&md);
    tap_ok(md.count == 0 && !md.keys && !md.values, "metadata: free empties the list");
    jc_metadata_free(&md);
}

static void test_roundtrip_f32(void)
{
    char p1[1024], p2[1024];
    path_of(p1, sizeof p1, "model.safetensors");
    path_of(p2, sizeof p2, "model2.safetensors");
    jc_error err = {0};

    jc_store *model = jc_store_new(be), *opt = jc_store_new(be);
    add(model, "enc.conv0.weight", 3, (int64_t[]){4, 1, 7});
    add(model, "enc.conv0.bias", 1, (int64_t[]){4});
    add(model, "dec.proj", 2, (int64_t[]){3, 5});
    add(model, "specials", 1, (int64_t[]){10});
    add(opt, "enc.conv0.weight.m", 4, (int64_t[]){2, 2, 1, 7});
    add(opt, "enc.conv0.weight.v", 3, (int64_t[]){4, 1, 7});
    fill_store(model, 1.0f);
    fill_store(opt, 20.0f);
    /* Values that a conversion through double or a "clean up" would alter. */
    float sp[10] = {-0.0f,
                    INFINITY,
                    -INFINITY,
                    from_bits(0x7fc12345u), /* quiet NaN with a payload */
                    from_bits(0xffa00001u), /* negative signalling NaN */
                    1e-40f,
                    from_bits(0x00000001u),
                    3.4028235e38f,
                    1.17549435e-38f,
                    -123.456f};
    jc_tensor_set(jc_store_find(model, "specials"), sp, NULL);

    jc_metadata md = {0};
    jc_metadata_set(&md, "config", "{\"dim\": 64, \"name\": \"quote\\\" and\nnewline\"}");
    jc_metadata_set(&md, "step", "42");
    jc_metadata_set(&md, "note", "h\xc3\xa9llo \xe2\x9c\x93");
    jc_store *save_stores[] = {model, opt, NULL};
    jc_status st = jc_safetensors_save(p1, save_stores, &md, JC_DTYPE_F32, &err);
    if (!tap_ok(st == JC_OK, "save F32 from two stores"))
        tap_diag("%s", err.msg);
    tap_ok(no_temp_files(), "save leaves no temporary file");

    /* The file as the format describes it. */
    size_t n = 0;
    unsigned char *bytes = read_file(p1, &n);
    uint64_t hlen = bytes && n >= 8 ? le64(bytes) : 0;
    int64_t nelem = jc_store_nelem(model, 0) + jc_store_nelem(opt, 0);
    int layout = bytes && hlen + 8 <= n && (hlen + 8) % 8 == 0 && n == 8 + hlen + 4 * (uint64_t)nelem &&
                 bytes[8] == '{';
    char *header = NULL;
    if (layout) {
        header = malloc(hlen + 1);
        memcpy(header, bytes + 8, hlen);
        header[hlen] = '\0';
        size_t end = strlen(header);
        while (end > 0 && header[end - 1] == ' ')
            end--;
        layout = end > 0 && header[end - 1] == '}' && hlen - end < 8;
    }
    tap_ok(layout, "file layout: length, JSON padded with spaces to 8 bytes, 4 bytes per element");
    /* Sorted names: dec.proj, enc.conv0.bias, ... so bias starts at 60. */
    const char *dec = header ? strstr(header, "\"dec.proj\":{\"dtype\":\"F32\",\"shape\":[3,5],"
                                              "\"data_offsets\":[0,60]}")
                             : NULL;
    const char *bias = header ? strstr(header, "\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4],"
                                               "\"data_offsets\":[60,76]}")
                              : NULL;
    const char *mstart = header ? strstr(header, "\"__metadata__\":{") : NULL;
    const char *step = header ? strstr(header, "\"step\":\"42\"") : NULL;
    tap_ok(dec && bias && dec < bias && mstart && step, "header entries sorted by name with dtype, shape, offsets");
    if (header)
        tap_diag("header: %.300s", header);
    /* The first tensor's data at its offset: dec.proj[0] little-endian. */
    float *dv = values(jc_store_find(model, "dec.proj"));
    uint32_t b0 = to_bits(dv[0]);
    int le = bytes && n > 8 + hlen + 3 && bytes[8 + hlen] == (b0 & 0xff) && bytes[8 + hlen + 3] == (b0 >> 24);
    tap_ok(le, "tensor data little-endian at its offset");
    free(dv);
    free(header);

    st = jc_safetensors_save(p2, save_stores, &md, JC_DTYPE_F32, &err);
    size_t n2 = 0;
    unsigned char *bytes2 = read_file(p2, &n2);
    tap_ok(st == JC_OK && bytes2 && n2 == n && memcmp(bytes, bytes2, n) == 0, "saving twice gives identical bytes");
    free(bytes);
    free(bytes2);

    /* Fresh stores created in another order, loaded in another order. */
    jc_store *m2 = jc_store_new(be), *o2 = jc_store_new(be);
    add(o2, "enc.conv0.weight.v", 3, (int64_t[]){4, 1, 7});
    add(o2, "enc.conv0.weight.m", 4, (int64_t[]){2, 2, 1, 7});
    add(m2, "specials", 1, (int64_t[]){10});
    add(m2, "dec.proj", 2, (int64_t[]){3, 5});
    add(m2, "enc.conv0.bias", 1, (int64_t[]){4});
    add(m2, "enc.conv0.weight", 3, (int64_t[]){4, 1, 7});
    jc_store *load_stores[] = {o2, m2, NULL};
    jc_metadata got = {0};
    jc_metadata_set(&got, "stale", "replaced by the load");
    st = jc_safetensors_load(p1, load_stores, &got, &err);
    if (!tap_ok(st == JC_OK, "load F32 into two stores"))
        tap_diag("%s", err.msg);
    tap_ok(stores_equal(model, m2) && stores_equal(opt, o2),
           "F32 round trip is bitwise (NaN payloads, -0, subnormals)");

    int md_ok = got.count == 3 && !jc_metadata_get(&got, "stale");
    for (int i = 0; i < md.count; i++) {
        const char *v = jc_metadata_get(&got, md.keys[i]);
        md_ok &= v && strcmp(v, md.values[i]) == 0;
    }
    tap_ok(md_ok, "metadata round trip through load (replacing what md held)");
    jc_metadata_free(&got);

    jc_metadata_set(&got, "stale", "x");
    st = jc_safetensors_read_metadata(p1, &got, &err);
    md_ok = st == JC_OK && got.count == 3;
    for (int i = 0; i < md.count; i++) {
        const char *v = jc_metadata_get(&got, md.keys[i]);
        md_ok &= v && strcmp(v, md.values[i]) == 0;
    }
    tap_ok(md_ok, "read_metadata reads the same metadata");
    jc_metadata_free(&got);

    /* Loading needs md only when asked for. */
    st = jc_safetensors_load(p1, load_stores, NULL, &err);
    tap_ok(st == JC_OK, "load with md NULL");

    /* A file of two stores loaded into only one of them: extra tensors. */
    jc_store *only_model[] = {m2, NULL};
    snapshot snap = take_snapshot(m2);
    st = jc_safetensors_load(p1, only_model, NULL, &err);
    tap_ok(failed_with(st, &err, JC_ERR_FORMAT, p1, "enc.conv0.weight.", "not in the model", (const char *)NULL),
           "rejects a file holding another store's tensors");
    untouched_cases++;
    untouched_failures += !matches_snapshot(m2, snap);

    jc_metadata_free(&md);
    jc_store_free(model);
    jc_store_free(opt);
    jc_store_free(m2);
    jc_store_free(o2);
}

static void test_f16(void)
{
    char p[1024];
    path_of(p, sizeof p, "half.safetensors");
    jc_error err = {0};

    /* Values and the binary16 bits round-to-nearest-even gives them. */
    static const struct {
        float x;
        uint16_t h;
    } cases[] = {
        {1.0f, 0x3c00},           {-2.0f, 0xc000},         {0.5f, 0x3800},          {0.1f, 0x2e66},
        {65504.0f, 0x7bff},       {65519.0f, 0x7bff},      {65520.0f, 0x7c00},      {1e6f, 0x7c00},
        {-1e6f, 0xfc00},          {INFINITY, 0x7c00},      {-INFINITY, 0xfc00},     {0.0f, 0x0000},
        {-0.0f, 0x8000},          {0x1p-24f, 0x0001},      {0x1p-14f, 0x0400},      {0x1.ff8p-15f, 0x03ff},
        {0x1.002p0f, 0x3c00},     {0x1.006p0f, 0x3c02},    {0x1.002002p0f, 0x3c01}, {0x1p-25f, 0x0000},
        {0x1.8p-25f, 0x0001},     {0x1.8p-24f, 0x0002},    {0x1.ffcp-15f, 0x0400},  {1e-10f, 0x0000},
        {-1e-10f, 0x8000},        {2049.0f, 0x6800},       {2051.0f, 0x6802},       {-0x1.4p-20f, 0x8014},
        {1e-45f, 0x0000},         {65512.0f, 0x7bff},
    };
    /* Then NaNs: quiet, signalling with only a low payload bit, negative. */
    enum { NC = sizeof cases / sizeof cases[0], NN = 3, NT = NC + NN };
    float x[NT];
    for (int i = 0; i < NC; i++)
        x[i] = cases[i].x;
    x[NC] = NAN;
    x[NC + 1] = from_bits(0x7f800001u);
    x[NC + 2] = from_bits(0xff800001u);

    jc_store *st = jc_store_new(be);
    jc_tensor *t = add(st, "h", 1, (int64_t[]){NT});
    jc_tensor_set(t, x, NULL);
    jc_store *stores[] = {st, NULL};
    jc_status rc = jc_safetensors_save(p, stores, NULL, JC_DTYPE_F16, &err);
    if (!tap_ok(rc == JC_OK, "save F16"))
        tap_diag("%s", err.msg);

    size_t n = 0;
    unsigned char *bytes = read_file(p, &n);
    int bits_ok = bytes && n >= 8 && n == 8 + le64(bytes) + 2 * NT && (8 + le64(bytes)) % 8 == 0 &&
                  strstr((const char *)bytes + 8, "\"dtype\":\"F16\"");
    tap_ok(bits_ok, "F16 file: 2 bytes per element after an aligned header");
    const unsigned char *data = bits_ok ? bytes + n - 2 * NT : NULL;
    int enc_ok = data != NULL;
    for (int i = 0; data && i < NC; i++) {
        uint16_t h = (uint16_t)(data[2 * i] | data[2 * i + 1] << 8);
        if (h != cases[i].h) {
            enc_ok = 0;
            tap_diag("f16(%a) = 0x%04x, expected 0x%04x", (double)cases[i].x, h, cases[i].h);
        }
    }
    tap_ok(enc_ok, "F16 encoding rounds to nearest even, subnormals, overflow to inf, signed zero");
    int nan_ok = data != NULL;
    for (int i = NC; data && i < NT; i++) {
        uint16_t h = (uint16_t)(data[2 * i] | data[2 * i + 1] << 8);
        if ((h & 0x7c00) != 0x7c00 || (h & 0x3ff) == 0 || (h >> 15) != (to_bits(x[i]) >> 31)) {
            nan_ok = 0;
            tap_diag("f16(NaN 0x%08x) = 0x%04x", (unsigned)to_bits(x[i]), h);
        }
    }
    tap_ok(nan_ok, "F16 encoding keeps every NaN a NaN, with its sign");
    free(bytes);

    jc_store *back = jc_store_new(be);
    jc_tensor *tb = add(back, "h", 1, (int64_t[]){NT});
    jc_store *bstores[] = {back, NULL};
    rc = jc_safetensors_load(p, bstores, NULL, &err);
    float *y = values(tb);
    int dec_ok = rc == JC_OK;
    for (int i = 0; dec_ok && i < NC; i++)
        dec_ok = to_bits(y[i]) == to_bits(half_value(cases[i].h));
    tap_ok(dec_ok && isnan(y[NC]) && isnan(y[NC + 1]) && isnan(y[NC + 2]), "F16 file loads back to the rounded values");
    free(y);

    /* Values exactly representable in half come back exactly, others within
     * half a unit in the last place. */
    enum { NR = 2000 };
    float *v = malloc(NR * sizeof *v);
    uint64_t s = 12345;
    for (int i = 0; i < NR; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint16_t h = (uint16_t)(s >> 48);
        if (i < NR / 2) {
            if ((h & 0x7c00) == 0x7c00)
                h &= 0xbfff; /* keep finite */
            v[i] = half_value(h);
        } else {
            double u = (double)(s >> 11) / 9007199254740992.0;
            v[i] = (float)((u - 0.5) * ldexp(1.0, (int)(s % 36) - 20));
        }
    }
    jc_store *rs = jc_store_new(be);
    jc_tensor *rt = add(rs, "r", 2, (int64_t[]){NR / 4, 4});
    jc_tensor_set(rt, v, NULL);
    jc_store *rstores[] = {rs, NULL};
    rc = jc_safetensors_save(p, rstores, NULL, JC_DTYPE_F16, &err);
    jc_tensor_fill(rt, 0.0f, NULL);
    if (rc == JC_OK)
        rc = jc_safetensors_load(p, rstores, NULL, &err);
    float *w = values(rt);
    int exact = rc == JC_OK, close = rc == JC_OK;
    for (int i = 0; i < NR; i++) {
        if (i < NR / 2)
            exact &= to_bits(w[i]) == to_bits(v[i]);
        else {
            double a = fabs((double)v[i]);
            double tol = a >= 0x1p-14 ? a * 0x1p-11 : 0x1p-25;
            if (!(fabs((double)w[i] - v[i]) <= tol)) {
                if (close)
                    tap_diag("%a came back as %a", (double)v[i], (double)w[i]);
                close = 0;
            }
        }
    }
    tap_ok(exact, "F16 round trip exact on values representable in half");
    tap_ok(close, "F16 round trip within half a half-precision ulp");
    free(v);
    free(w);
    jc_store_free(rs);
    jc_store_free(st);
    jc_store_free(back);
}

/* A file made from the format's description, as another writer would make
 * it: unsorted entries, no padding, spaces and a newline, BF16 and F16. */
static void test_handbuilt(void)
{
    char p[1024];
    path_of(p, sizeof p, "hand.safetensors");
    const char *header = "{\"b16\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [16, 20]},\n"
                         " \"__metadata__\": {\"format\": \"pt\", \"note\": \"hand-built\"},\n"
                         " \"f32\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 16]},\n"
                         " \"f16\": {\"shape\": [3], \"data_offsets\": [20, 26], \"dtype\": \"F16\"},\n"
                         " \"scalar\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [26, 30]}}";
    static const unsigned char data[30] = {
        0x00, 0x00, 0x80, 0x3f, /* f32: 1.0 */
        0x00, 0x00, 0x20, 0xc0, /* -2.5 */
        0x00, 0x00, 0x20, 0x3e, /* 0.15625 */
        0x00, 0x00, 0x40, 0x40, /* 3.0 */
        0xc0, 0x3f,             /* b16: 1.5 */
        0x00, 0xbc,             /* -2^-7 */
        0x00, 0x3c,             /* f16: 1.0 */
        0x01, 0x00,             /* 2^-24 */
        0x00, 0xfc,             /* -inf */
        0x00, 0x00, 0x50, 0x40, /* scalar: 3.25 */
    };
    build_file(p, header, data, sizeof data, UINT64_MAX);

    jc_store *st = jc_store_new(be);
    jc_tensor *f32 = add(st, "f32", 2, (int64_t[]){2, 2});
    jc_tensor *b16 = add(st, "b16", 1, (int64_t[]){2});
    jc_tensor *f16 = add(st, "f16", 1, (int64_t[]){3});
    jc_tensor *sc = add(st, "scalar", 1, (int64_t[]){1});
    jc_store *stores[] = {st, NULL};
    jc_metadata md = {0};
    jc_error err = {0};
    jc_status rc = jc_safetensors_load(p, stores, &md, &err);
    if (!tap_ok(rc == JC_OK, "loads a hand-built file (unsorted, unaligned, F32/BF16/F16, scalar shape [])"))
        tap_diag("%s", err.msg);
    float *a = values(f32), *b = values(b16), *h = values(f16), *s = values(sc);
    tap_ok(a[0] == 1.0f && a[1] == -2.5f && a[2] == 0.15625f && a[3] == 3.0f, "hand-built F32 values");
    tap_ok(b[0] == 1.5f && b[1] == -0.0078125f, "hand-built BF16 values");
    tap_ok(h[0] == 1.0f && h[1] == 0x1p-24f && isinf(h[2]) && h[2] < 0, "hand-built F16 values (subnormal, -inf)");
    tap_ok(s[0] == 3.25f, "hand-built scalar [] loads into shape [1]");
    const char *fmt = jc_metadata_get(&md, "format"), *note = jc_metadata_get(&md, "note");
    tap_ok(md.count == 2 && fmt && strcmp(fmt, "pt") == 0 && note && strcmp(note, "hand-built") == 0,
           "hand-built metadata");
    free(a);
    free(b);
    free(h);
    free(s);
    jc_metadata_free(&md);
    jc_store_free(st);

    /* A file without metadata and without tensors is valid too. */
    path_of(p, sizeof p, "empty.safetensors");
    build_file(p, "{}      ", NULL, 0, UINT64_MAX);
    jc_metadata_set(&md, "stale", "x");
    jc_store *none[] = {NULL};
    rc = jc_safetensors_load(p, none, &md, &err);
    tap_ok(rc == JC_OK && md.count == 0, "loads an empty file into no stores, md emptied");
    jc_metadata_free(&md);
}

static void test_metadata_only(void)
{
    char p[1024];
    path_of(p, sizeof p, "config.safetensors");
    jc_metadata md = {0}, got = {0};
    jc_metadata_set(&md, "kind", "config");
    jc_store *none[] = {NULL};
    jc_error err = {0};
    jc_status rc = jc_safetensors_save(p, none, &md, JC_DTYPE_F32, &err);
    if (rc == JC_OK)
        rc = jc_safetensors_read_metadata(p, &got, &err);
    const char *k = jc_metadata_get(&got, "kind");
    tap_ok(rc == JC_OK && got.count == 1 && k && strcmp(k, "config") == 0,
           "a file with metadata and no tensors round-trips");
    jc_metadata_free(&md);
    jc_metadata_free(&got);
}

static void test_rejections(void)
{
    char good[1024], p[1024];
    path_of(good, sizeof good, "good.safetensors");
    path_of(p, sizeof p, "bad.safetensors");
    jc_error err = {0};

    jc_store *ref = conv_model(7, 1, 0);
    jc_store *stores[] = {ref, NULL};
    jc_status rc = jc_safetensors_save(good, stores, NULL, JC_DTYPE_F32, &err);
    tap_ok(rc == JC_OK, "save the reference file");
    jc_store_free(ref);
    size_t n = 0;
    unsigned char *bytes = read_file(good, &n);
    if (!bytes || n < 8) {
        tap_ok(0, "read the reference file");
        free(bytes);
        return;
    }
    uint64_t hlen = le64(bytes);

    jc_store *m;
    m = conv_model(7, 1, 1);
    reject("a missing tensor", good, m, JC_ERR_FORMAT, "'enc.extra'", "missing", NULL);
    jc_store_free(m);
    m = conv_model(7, 0, 0);
    reject("an extra tensor", good, m, JC_ERR_FORMAT, "'enc.conv0.bias'", "not in the model", NULL);
    jc_store_free(m);
    m = conv_model(8, 1, 0);
    reject("a shape mismatch", good, m, JC_ERR_FORMAT, "'enc.conv0.weight'", "[4,1,7]", "[4,1,8]");
    jc_store_free(m);

    /* Truncation inside the length, inside the header, at the end of the
     * header, inside the first tensor and inside the last one. */
    size_t cuts[] = {0, 4, 8 + (size_t)hlen / 2, 8 + (size_t)hlen, 8 + (size_t)hlen + 5, n - 3};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "a file truncated to %zu of %zu bytes", cuts[i], n);
        write_file(p, bytes, cuts[i]);
        reject(what, p, NULL, JC_ERR_FORMAT, "truncated", NULL, NULL);
    }

    unsigned char *copy = malloc(n + 8);
    memcpy(copy, bytes, n);
    memcpy(copy + n, "garbage!", 8);
    write_file(p, copy, n + 5);
    reject("trailing bytes after the data", p, NULL, JC_ERR_FORMAT, "5 trailing bytes", NULL, NULL);

    uint64_t lens[] = {n - 7, (uint64_t)1 << 40, 1, 0};
    const char *why[] = {"exceeds the", "limit", "too small", "too small"};
    for (size_t i = 0; i < 4; i++) {
        char what[64];
        snprintf(what, sizeof what, "a header length of %llu", (unsigned long long)lens[i]);
        memcpy(copy, bytes, n);
        for (int b = 0; b < 8; b++)
            copy[b] = (unsigned char)(lens[i] >> (8 * b));
        write_file(p, copy, n);
        reject(what, p, NULL, JC_ERR_FORMAT, "header length", why[i], NULL);
    }
    free(copy);

    /* Hand-built headers; the model is the conv model (bias [4], weight
     * [4,1,7]: 16 + 112 bytes) unless stated. */
    static unsigned char zeros[256];
    static const struct {
        const char *what, *header;
        size_t ndata;
        const char *n1, *n2;
    } bad[] = {
        {"invalid JSON", "{\"enc.conv0.bias\": {\"dtype\": \"F32\", \"shape\": [4],", 16, "invalid JSON", NULL},
        {"a JSON array header", "[1, 2, 3]", 0, "not an object", NULL},
        {"duplicate names",
         "{\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
         16, "invalid JSON", "duplicate"},
        {"a bad dtype",
         "{\"enc.conv0.bias\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[0,32]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[32,144]}}",
         144, "'enc.conv0.bias'", "'F64'"},
        {"a missing dtype",
         "{\"enc.conv0.bias\":{\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[16,128]}}",
         128, "'enc.conv0.bias'", "dtype"},
        {"five dimensions",
         "{\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4,1,1,1,1],\"data_offsets\":[0,16]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[16,128]}}",
         128, "'enc.conv0.bias'", "5 dimensions"},
        {"a negative dimension",
         "{\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[16,128]}}",
         128, "'enc.conv0.bias'", "invalid shape"},
        {"a fractional dimension",
         "{\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4.0],\"data_offsets\":[0,16]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[16,128]}}",
         128, "'enc.conv0.bias'", "invalid shape"},
        {"offsets that disagree with the shape",
         "{\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[12,124]}}",
         124, "'enc.conv0.bias'", "data_offsets"},
        {"reversed offsets",
         "{\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[16,128]}}",
         128, "'enc.conv0.bias'", "data_offsets"},
        {"overlapping offsets",
         "{\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[100,116]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[0,112]}}",
         116, "overlap", "'enc.conv0.bias'"},
        {"a gap between tensors",
         "{\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[24,136]}}",
         136, "gap", "'enc.conv0.weight'"},
        {"offsets past the end",
         "{\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[16,128]}}",
         100, "'enc.conv0.weight'", "truncated"},
        {"non-string metadata",
         "{\"__metadata__\":{\"step\":42},"
         "\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[16,128]}}",
         128, "metadata", "'step'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        build_file(p, bad[i].header, zeros, bad[i].ndata, UINT64_MAX);
        reject(bad[i].what, p, NULL, JC_ERR_FORMAT, bad[i].n1, bad[i].n2, NULL);
    }

    /* The same valid file shape-checked: proves the cases above fail for
     * their stated reason, not for a mistake in the hand-built file. */
    build_file(p,
               "{\"enc.conv0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
               "\"enc.conv0.weight\":{\"dtype\":\"F32\",\"shape\":[4,1,7],\"data_offsets\":[16,128]}}",
               zeros, 128, UINT64_MAX);
    m = conv_model(7, 1, 0);
    jc_store *ms[] = {m, NULL};
    rc = jc_safetensors_load(p, ms, NULL, &err);
    float *z = values(jc_store_find(m, "enc.conv0.weight"));
    tap_ok(rc == JC_OK && z[0] == 0.0f && z[27] == 0.0f, "the valid hand-built control file loads");
    free(z);
    jc_store_free(m);

    path_of(p, sizeof p, "does-not-exist.safetensors");
    reject("a nonexistent file", p, NULL, JC_ERR_IO, strerror(ENOENT), NULL, NULL);
    jc_metadata md = {0};
    rc = jc_safetensors_read_metadata(p, &md, &err);
    tap_ok(failed_with(rc, &err, JC_ERR_IO, p, strerror(ENOENT), (const char *)NULL),
           "read_metadata rejects a nonexistent file");
    reject("a directory", dir, NULL, JC_ERR_IO, NULL, NULL, NULL);

    /* A failed load leaves md as it was. */
    path_of(p, sizeof p, "bad.safetensors");
    jc_metadata_set(&md, "keep", "me");
    m = conv_model(8, 1, 0);
    jc_store *ms2[] = {m, NULL};
    rc = jc_safetensors_load(good, ms2, &md, &err);
    const char *keep = jc_metadata_get(&md, "keep");
    tap_ok(rc == JC_ERR_FORMAT && md.count == 1 && keep && strcmp(keep, "me") == 0, "a failed load leaves md alone");
    jc_metadata_free(&md);
    jc_store_free(m);

    tap_ok(untouched_failures == 0, "every failed load (%d) left the store's values unchanged", untouched_cases);
    free(bytes);
}

static void test_atomic_save(void)
{
    char p[1024], keep[1024], adir[1024];
    jc_error err = {0};
    jc_store *a = conv_model(7, 1, 0);
    jc_store *stores[] = {a, NULL};

    snprintf(p, sizeof p, "%s/no/such/dir/x.safetensors", dir);
    jc_status rc = jc_safetensors_save(p, stores, NULL, JC_DTYPE_F32, &err);
    char no[1024];
    path_of(no, sizeof no, "no");
    tap_ok(failed_with(rc, &err, JC_ERR_IO, p, strerror(ENOENT), (const char *)NULL) && no_temp_files() &&
               !file_exists(no),
           "save into a nonexistent directory fails, no temporary file");

    path_of(keep, sizeof keep, "keep.safetensors");
    rc = jc_safetensors_save(keep, stores, NULL, JC_DTYPE_F32, &err);
    size_t n0 = 0, n1 = 0;
    unsigned char *before = read_file(keep, &n0);

    jc_store *dup = jc_store_new(be);
    add(dup, "enc.conv0.bias", 1, (int64_t[]){4});
    jc_store *dstores[] = {a, dup, NULL};
    rc = jc_safetensors_save(keep, dstores, NULL, JC_DTYPE_F32, &err);
    unsigned char *after = read_file(keep, &n1);
    tap_ok(failed_with(rc, &err, JC_ERR_INVALID, keep, "'enc.conv0.bias'", (const char *)NULL) && before &&
               after && n0 == n1 && memcmp(before, after, n0) == 0 && no_temp_files(),
           "save with a duplicate name fails naming it, the existing file survives");
    free(after);

    /* Renaming over a directory fails after the data was written: the
     * temporary file must go, the directory stay. */
    path_of(adir, sizeof adir, "adir");
    mkdir(adir, 0700);
    rc = jc_safetensors_save(adir, stores, NULL, JC_DTYPE_F32, &err);
    struct stat sb;
    tap_ok(failed_with(rc, &err, JC_ERR_IO, adir, (const char *)NULL) && no_temp_files() && stat(adir, &sb) == 0 &&
               S_ISDIR(sb.st_mode),
           "a failed rename removes the temporary file");

    /* Overwriting an existing file with new values. */
    fill_store(a, 77.0f);
    rc = jc_safetensors_save(keep, stores, NULL, JC_DTYPE_F32, &err);
    jc_store *b = conv_model(7, 1, 0);
    jc_store *bstores[] = {b, NULL};
    if (rc == JC_OK)
        rc = jc_safetensors_load(keep, bstores, NULL, &err);
    tap_ok(rc == JC_OK && stores_equal(a, b) && no_temp_files(), "save replaces an existing file");

    rc = jc_safetensors_save(keep, stores, NULL, (jc_dtype)7, &err);
    tap_ok(failed_with(rc, &err, JC_ERR_INVALID, keep, (const char *)NULL), "save rejects an unknown dtype");

    free(before);
    jc_store_free(a);
    jc_store_free(b);
    jc_store_free(dup);
}

int main(void)
{
    jc_error err = {0};
    be = jc_backend_open("cpu", NULL, &err);
    if (!tap_ok(be != NULL, "open the cpu backend")) {
        tap_diag("%s", err.msg);
        return tap_done();
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/jc-safetensors-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!tap_ok(mkdtemp(dir) != NULL, "create a temporary directory")) {
        jc_backend_free(be);
        return tap_done();
    }

    test_metadata_api();
    test_roundtrip_f32();
    test_f16();
    test_handbuilt();
    test_metadata_only();
    test_rejections();
    test_atomic_save();

    remove_tree(dir);
    jc_backend_free(be);
    return tap_done();
}
