/* test-golden.c: the compute layer against PyTorch reference values.
 *
 * tests/golden/golden.bin is written by tests/golden/make_golden.py (format
 * documented there): inputs, weights, settings ("cfg") and float64-computed
 * outputs of convolutions, transposed convolutions, normalisations, softmax
 * and a whole Conformer block with a padded batch.  This test rebuilds every
 * case from jc_ operations on the CPU backend and compares.
 *
 * The cases are discovered from the file (conv1d/<name>/cfg ...), so adding
 * a case to the script needs no C change when it fits an existing kind; a
 * final check fails if the file holds records no case consumed, so a case
 * the C side does not understand cannot pass silently.
 *
 * Tolerance: max |out - ref| <= 1e-4 * (1 + max |ref|) for every case
 * (tu_rel_err).  The reference is float64 from exactly the float32 inputs,
 * so this bounds our float32 rounding only; the observed errors are around
 * 1e-7 (printed as diagnostics), so the margin is wide yet a wrong index,
 * offset or normalisation axis is far outside it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jc.h"
#include "tap.h"
#include "testutil.h"

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/golden"
#endif

#define TOL 1e-4
#define NORM_EPS 1e-5f /* the script's EPS for layer and group norms */

/* ------------------------------------------------------------ golden file */

typedef struct {
    char *name;
    int ndim;
    int64_t dims[JC_MAX_DIMS];
    int64_t n;
    float *data;
    int used; /* consumed by some case: unconsumed records are an error */
} rec;

static rec *recs;
static int n_recs;

static void bail(const char *fmt, const char *arg)
{
    printf("Bail out! ");
    printf(fmt, arg);
    printf("\n");
    exit(1);
}

/* Little-endian reads independent of the host's byte order. */
static uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void load_golden(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        bail("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = size > 0 ? malloc((size_t)size) : NULL;
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size)
        bail("cannot read %s", path);
    fclose(f);

    /* every read is bounds-checked: a truncated file bails, never overreads */
    size_t pos = 0, len = (size_t)size;
#define NEED(k)                                     \
    do {                                            \
        if ((k) > len - pos)                        \
            bail("%s is truncated or corrupt", path); \
    } while (0)
    NEED(12);
    if (memcmp(buf, "JCGOLD1\n", 8) != 0)
        bail("%s: not a golden file (bad magic)", path);
    n_recs = (int)rd_u32(buf + 8);
    pos = 12;
    recs = calloc((size_t)n_recs, sizeof *recs);
    if (!recs)
        bail("%s: out of memory", path);
    for (int i = 0; i < n_recs; i++) {
        rec *r = &recs[i];
        NEED(4);
        uint32_t nl = rd_u32(buf + pos);
        pos += 4;
        NEED(nl);
        r->name = malloc(nl + 1);
        memcpy(r->name, buf + pos, nl);
        r->name[nl] = '\0';
        pos += nl;
        NEED(4);
        r->ndim = (int)rd_u32(buf + pos);
        pos += 4;
        if (r->ndim < 1 || r->ndim > JC_MAX_DIMS)
            bail("golden record %s: bad rank", r->name);
        NEED(4 * (size_t)r->ndim);
        r->n = 1;
        for (int d = 0; d < r->ndim; d++, pos += 4) {
            r->dims[d] = rd_u32(buf + pos);
            r->n *= r->dims[d];
        }
        NEED(4 * (size_t)r->n);
        r->data = malloc((size_t)r->n * sizeof *r->data);
        for (int64_t k = 0; k < r->n; k++, pos += 4) {
            uint32_t u = rd_u32(buf + pos);
            memcpy(&r->data[k], &u, sizeof u);
        }
    }
#undef NEED
    if (pos != len)
        bail("%s: trailing bytes after the last record", path);
    free(buf);
}

static rec *find_rec(const char *name)
{
    for (int i = 0; i < n_recs; i++)
        if (strcmp(recs[i].name, name) == 0) {
            recs[i].used = 1;
            return &recs[i];
        }
    return NULL;
}

/* ------------------------------------------------------------ case context
 * One case = one store (weights), one graph, some inputs set after build.
 * Any failure (missing record, recording or runtime error) is remembered
 * and turns the case's TAP line into "not ok" with a diagnostic, so one
 * broken case does not stop the others. */

#define MAX_INPUTS 4

typedef struct {
    const char *prefix; /* "conv1d/basic/" */
    jc_backend *be;
    jc_store *st;
    jc_graph *g;
    jc_tensor *in[MAX_INPUTS];
    const float *in_data[MAX_INPUTS];
    int n_in;
    char why[600]; /* first failure, empty if none */
} ctx;

static void fail(ctx *c, const char *what, const char *detail)
{
    if (!c->why[0])
        snprintf(c->why, sizeof c->why, "%s: %s", what, detail);
}

static rec *get(ctx *c, const char *leaf)
{
    char name[256];
    snprintf(name, sizeof name, "%s%s", c->prefix, leaf);
    rec *r = find_rec(name);
    if (!r)
        fail(c, "missing golden record", name);
    return r;
}

/* A weight: a store parameter filled from the file right away. */
static jc_tensor *param(ctx *c, const char *leaf)
{
    rec *r = get(c, leaf);
    if (!r)
        return NULL;
    jc_error err = {0};
    jc_tensor *t = jc_store_param(c->st, r->name, r->ndim, r->dims, &err);
    if (!t || jc_tensor_set(t, r->data, &err) != JC_OK) {
        fail(c, r->name, err.msg);
        return NULL;
    }
    return t;
}

/* A graph input whose data is uploaded after jc_graph_build. */
static jc_tensor *input_data(ctx *c, const char *name, int ndim, const int64_t *dims, const float *data)
{
    if (c->n_in == MAX_INPUTS) {
        fail(c, name, "too many inputs");
        return NULL;
    }
    jc_tensor *t = jc_input(c->g, name, ndim, dims);
    c->in[c->n_in] = t;
    c->in_data[c->n_in++] = data;
    return t;
}

static jc_tensor *input(ctx *c, const char *leaf)
{
    rec *r = get(c, leaf);
    return r ? input_data(c, r->name, r->ndim, r->dims, r->data) : NULL;
}

/* Integer settings stored as floats in "<prefix>cfg". */
static int cfg(ctx *c, int i)
{
    rec *r = get(c, "cfg");
    if (!r || i >= r->n) {
        fail(c, "cfg", "too short");
        return 1; /* harmless value: the case is already failed */
    }
    return (int)r->data[i];
}

static void ctx_open(ctx *c, jc_backend *be, const char *prefix)
{
    memset(c, 0, sizeof *c);
    c->prefix = prefix;
    c->be = be;
    c->st = jc_store_new(be);
    c->g = jc_graph_new(be);
    if (!c->st || !c->g)
        fail(c, prefix, "cannot create store or graph");
}

/* Build, upload the inputs, compute, read y back and compare it with
 * "<prefix>y".  zero_from (may be NULL): per batch item, the first frame
 * index along axis `zero_axis` that is padding; those entries of the output
 * are replaced by the reference's zeros before comparing, because what a
 * model computes at padded frames is irrelevant. */
static void ctx_finish(ctx *c, jc_tensor *y, const char *label, const float *zero_from, int zero_axis)
{
    jc_error err = {0};
    rec *ref = get(c, "y");
    float *out = NULL;
    double *refd = NULL;
    if (!c->why[0] && jc_graph_status(c->g, &err) != JC_OK)
        fail(c, "recording", err.msg);
    if (!c->why[0]) {
        jc_graph_output(c->g, y);
        if (jc_graph_build(c->g, &err) != JC_OK)
            fail(c, "build", err.msg);
    }
    for (int i = 0; !c->why[0] && i < c->n_in; i++)
        if (jc_tensor_set(c->in[i], c->in_data[i], &err) != JC_OK)
            fail(c, "set input", err.msg);
    if (!c->why[0] && jc_graph_compute(c->g, &err) != JC_OK)
        fail(c, "compute", err.msg);
    if (!c->why[0]) {
        int same = jc_tensor_ndim(y) == ref->ndim;
        for (int d = 0; same && d < ref->ndim; d++)
            same = jc_tensor_dim(y, d) == ref->dims[d];
        if (!same)
            fail(c, "output shape", "differs from the reference");
    }
    double e = 0;
    if (!c->why[0]) {
        out = malloc((size_t)ref->n * sizeof *out);
        refd = malloc((size_t)ref->n * sizeof *refd);
        if (jc_tensor_get(y, out, &err) != JC_OK)
            fail(c, "read output", err.msg);
        int64_t inner = 1; /* elements per step of zero_axis */
        for (int d = zero_axis + 1; d < ref->ndim; d++)
            inner *= ref->dims[d];
        for (int64_t k = 0; k < ref->n; k++) {
            refd[k] = ref->data[k];
            if (zero_from) {
                int64_t item = k / (ref->n / ref->dims[0]);
                int64_t frame = k / inner % ref->dims[zero_axis];
                if (frame >= (int64_t)zero_from[item])
                    out[k] = 0.0f;
            }
        }
        e = tu_rel_err(out, refd, ref->n);
    }
    if (c->why[0]) {
        tap_ok(0, "golden %s", label);
        tap_diag("  %s", c->why);
    } else {
        tap_diag("%s: max |err| / (1 + max |ref|) = %.3g", label, e);
        if (!tap_ok(e <= TOL, "golden %s", label))
            tap_diag("  tolerance %.1g exceeded", TOL);
    }
    free(out);
    free(refd);
    jc_graph_free(c->g);
    jc_store_free(c->st);
}

/* ------------------------------------------------------------------ cases */

static void case_conv1d(jc_backend *be, const char *prefix, const char *label)
{
    ctx c;
    ctx_open(&c, be, prefix);
    jc_conv_params p = {cfg(&c, 0), cfg(&c, 1), cfg(&c, 2), cfg(&c, 3), cfg(&c, 4)};
    jc_tensor *x = input(&c, "x");
    jc_tensor *w = param(&c, "w");
    char bname[256];
    snprintf(bname, sizeof bname, "%sb", prefix);
    jc_tensor *b = find_rec(bname) ? param(&c, "b") : NULL; /* bias is optional */
    ctx_finish(&c, jc_conv1d(c.g, x, w, b, p), label, NULL, 0);
}

static void case_convt1d(jc_backend *be, const char *prefix, const char *label)
{
    ctx c;
    ctx_open(&c, be, prefix);
    /* PyTorch's symmetric padding is our pad_left = pad_right */
    int pad = cfg(&c, 1);
    jc_conv_params p = {cfg(&c, 0), pad, pad, cfg(&c, 3), cfg(&c, 4)};
    jc_tensor *x = input(&c, "x");
    jc_tensor *w = param(&c, "w"), *b = param(&c, "b");
    ctx_finish(&c, jc_conv_transpose1d(c.g, x, w, b, p, cfg(&c, 2)), label, NULL, 0);
}

/* [B, 1, T] of 1 for valid frames and 0 for padding, from lengths [B]. */
static float *mask_from_lengths(const rec *lengths, int64_t T)
{
    int64_t B = lengths->n;
    float *m = malloc((size_t)(B * T) * sizeof *m);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            m[b * T + t] = t < (int64_t)lengths->data[b] ? 1.0f : 0.0f;
    return m;
}

static void case_group_norm1(jc_backend *be, const char *prefix, const char *label)
{
    ctx c;
    ctx_open(&c, be, prefix);
    jc_tensor *x = input(&c, "x");
    jc_tensor *gamma = param(&c, "gamma"), *beta = param(&c, "beta");
    char lname[256];
    snprintf(lname, sizeof lname, "%slengths", prefix);
    rec *lengths = find_rec(lname), *xr = get(&c, "x");
    float *mask = NULL;
    jc_tensor *mt = NULL;
    if (lengths && xr) {
        /* The masked case compares the whole output, padding included: with
         * a mask and beta jc_group_norm1 promises zeros there. */
        int64_t T = xr->dims[2];
        mask = mask_from_lengths(lengths, T);
        mt = input_data(&c, "mask", 3, (int64_t[]){lengths->n, 1, T}, mask);
    }
    ctx_finish(&c, jc_group_norm1(c.g, x, mt, gamma, beta, NORM_EPS), label, NULL, 0);
    free(mask);
}

static void case_layer_norm(jc_backend *be, const char *prefix, const char *label)
{
    ctx c;
    ctx_open(&c, be, prefix);
    jc_tensor *x = input(&c, "x");
    jc_tensor *gamma = param(&c, "gamma"), *beta = param(&c, "beta");
    ctx_finish(&c, jc_layer_norm(c.g, x, gamma, beta, NORM_EPS), label, NULL, 0);
}

static void case_softmax(jc_backend *be, const char *prefix, const char *label)
{
    ctx c;
    ctx_open(&c, be, prefix);
    jc_tensor *x = input(&c, "x");
    ctx_finish(&c, jc_softmax(c.g, x, cfg(&c, 0), NULL), label, NULL, 0);
}

/* ----------------------------------------------------- Conformer block
 * The same computation as conformer_block() in make_golden.py, on a padded
 * batch: x [B, T, C], mask [B, 1, T]. */

typedef struct {
    ctx *c;
    jc_graph *g;
} blk;

static jc_tensor *P(blk *k, const char *name) { return param(k->c, name); }

static jc_tensor *layer_norm(blk *k, jc_tensor *x, const char *prefix)
{
    char gn[64], bn[64];
    snprintf(gn, sizeof gn, "%s.gamma", prefix);
    snprintf(bn, sizeof bn, "%s.beta", prefix);
    return jc_layer_norm(k->g, x, P(k, gn), P(k, bn), NORM_EPS);
}

/* x [B, T, in] times w [out, in] transposed: w is shared by every item. */
static jc_tensor *linear(blk *k, jc_tensor *x, const char *w, const char *b)
{
    return jc_add(k->g, jc_matmul(k->g, x, P(k, w), 0, 1), P(k, b));
}

static jc_tensor *feed_forward(blk *k, jc_tensor *x, const char *ff)
{
    char ln[32], w1[32], b1[32], w2[32], b2[32];
    snprintf(ln, sizeof ln, "%s.ln", ff);
    snprintf(w1, sizeof w1, "%s.w1", ff);
    snprintf(b1, sizeof b1, "%s.b1", ff);
    snprintf(w2, sizeof w2, "%s.w2", ff);
    snprintf(b2, sizeof b2, "%s.b2", ff);
    jc_tensor *h = jc_silu(k->g, linear(k, layer_norm(k, x, ln), w1, b1));
    return linear(k, h, w2, b2);
}

static jc_tensor *mhsa(blk *k, jc_tensor *x, jc_tensor *mask, int heads)
{
    jc_graph *g = k->g;
    int64_t B = jc_tensor_dim(x, 0), T = jc_tensor_dim(x, 1), C = jc_tensor_dim(x, 2), dh = C / heads;
    const int to_heads[4] = {0, 2, 1, 3}; /* [B, T, H, dh] <-> [B, H, T, dh]: its own inverse */
    int64_t split[4] = {B, T, heads, dh}, merged[3] = {B, T, C};
    jc_tensor *h = layer_norm(k, x, "att.ln");
    jc_tensor *q = jc_permute(g, jc_reshape(g, linear(k, h, "att.wq", "att.bq"), 4, split), to_heads);
    jc_tensor *kk = jc_permute(g, jc_reshape(g, linear(k, h, "att.wk", "att.bk"), 4, split), to_heads);
    jc_tensor *v = jc_permute(g, jc_reshape(g, linear(k, h, "att.wv", "att.bv"), 4, split), to_heads);
    jc_tensor *s = jc_scale(g, jc_matmul(g, q, kk, 0, 1), 1.0f / sqrtf((float)dh), 0); /* [B, H, T, T] */
    /* key mask [B, 1, 1, T]: padded keys get zero weight for every query */
    jc_tensor *kmask = jc_reshape(g, mask, 4, (int64_t[]){B, 1, 1, T});
    jc_tensor *o = jc_matmul(g, jc_softmax(g, s, -1, kmask), v, 0, 0);
    o = jc_reshape(g, jc_permute(g, o, to_heads), 3, merged);
    return linear(k, o, "att.wo", "att.bo");
}

static jc_tensor *conv_module(blk *k, jc_tensor *x, jc_tensor *mask, int kernel)
{
    jc_graph *g = k->g;
    const int swap[3] = {0, 2, 1}; /* [B, T, C] <-> [B, C, T] */
    int C = (int)jc_tensor_dim(x, 2);
    jc_tensor *h = jc_permute(g, x, swap);
    h = jc_group_norm1(g, h, mask, P(k, "conv.gn1.gamma"), P(k, "conv.gn1.beta"), NORM_EPS);
    h = jc_conv1d(g, h, P(k, "conv.pw1.w"), P(k, "conv.pw1.b"), (jc_conv_params){1, 0, 0, 1, 1});
    h = jc_glu(g, h, 1);
    /* The group norm zeroed the padding, but the 1x1 conv's bias made it
     * nonzero again; the depthwise conv reads up to kernel/2 frames past the
     * last valid one, and a truncated sequence would see zeros there. */
    h = jc_mul(g, h, mask);
    h = jc_conv1d(g, h, P(k, "conv.dw.w"), P(k, "conv.dw.b"),
                  (jc_conv_params){1, kernel / 2, kernel / 2, 1, C});
    /* statistics over valid frames only: padding holds bias-only values */
    h = jc_group_norm1(g, h, mask, P(k, "conv.gn2.gamma"), P(k, "conv.gn2.beta"), NORM_EPS);
    h = jc_silu(g, h);
    h = jc_conv1d(g, h, P(k, "conv.pw2.w"), P(k, "conv.pw2.b"), (jc_conv_params){1, 0, 0, 1, 1});
    return jc_permute(g, h, swap);
}

static void case_conformer(jc_backend *be, const char *prefix, const char *label)
{
    ctx c;
    ctx_open(&c, be, prefix);
    blk k = {&c, c.g};
    jc_graph_set_training(c.g, 0); /* evaluation: no dropout anywhere */
    int heads = cfg(&c, 0), kernel = cfg(&c, 1);
    rec *lengths = get(&c, "lengths"), *xr = get(&c, "x");
    float *mask = NULL;
    jc_tensor *y = NULL;
    if (lengths && xr) {
        int64_t B = xr->dims[0], T = xr->dims[1];
        mask = mask_from_lengths(lengths, T);
        jc_tensor *x = input(&c, "x");
        jc_tensor *m = input_data(&c, "mask", 3, (int64_t[]){B, 1, T}, mask);
        jc_graph *g = c.g;
        x = jc_add(g, x, jc_scale(g, feed_forward(&k, x, "ff1"), 0.5f, 0));
        x = jc_add(g, x, mhsa(&k, x, m, heads));
        x = jc_add(g, x, conv_module(&k, x, m, kernel));
        x = jc_add(g, x, jc_scale(g, feed_forward(&k, x, "ff2"), 0.5f, 0));
        y = layer_norm(&k, x, "out.ln");
    }
    /* padded frames (axis 1 of [B, T, C]) are not compared */
    ctx_finish(&c, y, label, lengths ? lengths->data : NULL, 1);
    free(mask);
}

/* -------------------------------------------------------------- dispatch */

typedef struct {
    const char *kind; /* first name component */
    void (*run)(jc_backend *, const char *, const char *);
} kind_entry;

static const kind_entry kinds[] = {
    {"conv1d", case_conv1d},           {"convt1d", case_convt1d},   {"group_norm1", case_group_norm1},
    {"layer_norm", case_layer_norm},   {"softmax", case_softmax},   {"conformer", case_conformer},
};

int main(int argc, char **argv)
{
    /* an explicit file may be given, e.g. when run from another directory */
    load_golden(argc > 1 ? argv[1] : GOLDEN_DIR "/golden.bin");
    jc_error err = {0};
    jc_backend *be = jc_backend_open("cpu", NULL, &err);
    if (!be)
        bail("cannot open the cpu backend: %s", err.msg);

    /* Every "<kind>/<case>/y" names one case, in file order. */
    int cases = 0;
    for (int i = 0; i < n_recs; i++) {
        const char *name = recs[i].name;
        size_t nl = strlen(name);
        const char *slash = strchr(name, '/');
        if (!slash || nl < 2 || strcmp(name + nl - 2, "/y") != 0)
            continue;
        char prefix[256], label[256];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(nl - 1), name); /* keeps the trailing '/' */
        /* label "conv1d stride3 asym pad": kind, space, case name */
        snprintf(label, sizeof label, "%.*s %.*s", (int)(slash - name), name, (int)(nl - 2 - (size_t)(slash - name) - 1),
                 slash + 1);
        const kind_entry *kd = NULL;
        for (size_t j = 0; j < sizeof kinds / sizeof kinds[0]; j++)
            if (strlen(kinds[j].kind) == (size_t)(slash - name) && strncmp(name, kinds[j].kind, (size_t)(slash - name)) == 0)
                kd = &kinds[j];
        if (!kd) {
            tap_ok(0, "golden %s", label);
            tap_diag("  no C builder for kind of %s", name);
            continue;
        }
        kd->run(be, prefix, label);
        cases++;
    }

    /* Guard against a file whose cases this test silently skipped. */
    int unused = 0;
    for (int i = 0; i < n_recs; i++)
        if (!recs[i].used) {
            tap_diag("record %s was not used by any case", recs[i].name);
            unused++;
        }
    tap_ok(cases >= 15 && unused == 0, "golden file fully consumed (%d cases, %d records)", cases, n_recs);

    jc_backend_free(be);
    for (int i = 0; i < n_recs; i++) {
        free(recs[i].name);
        free(recs[i].data);
    }
    free(recs);
    return tap_done();
}
