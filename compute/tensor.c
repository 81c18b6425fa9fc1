/* tensor.c: shapes, host <-> device copies, and stores of persistent tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jc_internal.h"

int jc_norm_axis(int ndim, int axis)
{
    if (axis < 0)
        axis += ndim;
    return (axis >= 0 && axis < ndim) ? axis : -1;
}

int jc_tensor_ndim(const jc_tensor *t) { return t->ndim; }

int64_t jc_tensor_dim(const jc_tensor *t, int axis)
{
    int a = jc_norm_axis(t->ndim, axis);
    return a < 0 ? 1 : t->shape[a];
}

int64_t jc_tensor_nelem(const jc_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

size_t jc_tensor_bytes(const jc_tensor *t) { return (size_t)jc_tensor_nelem(t) * sizeof(float); }

void jc_split_axis(const jc_tensor *t, int axis, int64_t *outer, int64_t *n, int64_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++)
        *outer *= t->shape[i];
    for (int i = axis + 1; i < t->ndim; i++)
        *inner *= t->shape[i];
    *n = t->shape[axis];
}

const char *jc_tensor_name(const jc_tensor *t) { return t->name; }

void jc_tensor_set_name(jc_tensor *t, const char *name) { snprintf(t->name, sizeof t->name, "%s", name); }

int jc_same_shape(const jc_tensor *a, const jc_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

void jc_shape_str(const jc_tensor *t, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

int jc_broadcast_shape(const jc_tensor *a, const jc_tensor *b, int *ndim, int64_t *shape)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return 0;
        shape[i] = da == 1 ? db : da;
    }
    *ndim = nd;
    return 1;
}

void jc_broadcast_strides(const jc_tensor *t, int ndim, const int64_t *out_shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int it = t->ndim - ndim + i;
        int64_t d = it >= 0 ? t->shape[it] : 1;
        strides[i] = (d == 1 && out_shape[i] != 1) ? 0 : s;
        s *= d;
    }
}

jc_tensor *jc_storage_base(jc_tensor *t)
{
    while (t->view_of)
        t = t->view_of;
    return t;
}

static jc_status storage_of(const jc_tensor *t, jc_buffer **buf, size_t *off, jc_error *err)
{
    const jc_tensor *base = t;
    while (base->view_of)
        base = base->view_of;
    if (!base->buf)
        return jc_error_set(err, JC_ERR_INVALID,
                            "tensor '%s' has no memory yet (graph tensors get it from jc_graph_build, "
                            "and only inputs, constants and outputs stay valid)",
                            t->name);
    *buf = base->buf;
    *off = base->offset;
    return JC_OK;
}

jc_status jc_tensor_set(jc_tensor *t, const float *data, jc_error *err)
{
    jc_buffer *buf = NULL;
    size_t off = 0;
    jc_status s = storage_of(t, &buf, &off, err);
    if (s)
        return s;
    return buf->be->iface->upload(buf->be, buf, off, data, jc_tensor_bytes(t), err);
}

jc_status jc_tensor_get(const jc_tensor *t, float *data, jc_error *err)
{
    jc_buffer *buf = NULL;
    size_t off = 0;
    jc_status s = storage_of(t, &buf, &off, err);
    if (s)
        return s;
    return buf->be->iface->download(buf->be, buf, off, data, jc_tensor_bytes(t), err);
}

jc_status jc_tensor_fill(jc_tensor *t, float value, jc_error *err)
{
    int64_t n = jc_tensor_nelem(t);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return jc_error_set(err, JC_ERR_NOMEM, "filling '%s': out of memory", t->name);
    for (int64_t i = 0; i < n; i++)
        v[i] = value;
    jc_status s = jc_tensor_set(t, v, err);
    free(v);
    return s;
}

jc_status jc_tensor_copy(jc_tensor *dst, const jc_tensor *src, jc_error *err)
{
    if (jc_tensor_nelem(dst) != jc_tensor_nelem(src))
        return jc_error_set(err, JC_ERR_INVALID, "copy: '%s' and '%s' differ in size", src->name, dst->name);
    float *v = malloc(jc_tensor_bytes(dst));
    if (!v)
        return jc_error_set(err, JC_ERR_NOMEM, "copy of '%s': out of memory", src->name);
    jc_status s = jc_tensor_get(src, v, err);
    if (s == JC_OK)
        s = jc_tensor_set(dst, v, err);
    free(v);
    return s;
}

/* ------------------------------------------------------------------ stores */

jc_store *jc_store_new(jc_backend *be)
{
    jc_store *st = calloc(1, sizeof *st);
    if (st)
        st->be = be;
    return st;
}

void jc_store_free(jc_store *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->n; i++) {
        if (st->t[i]->buf)
            st->be->iface->buffer_free(st->be, st->t[i]->buf);
        free(st->t[i]);
    }
    free(st->t);
    free(st);
}

static jc_tensor *store_add(jc_store *st, const char *name, int ndim, const int64_t *shape, int flags,
                            jc_error *err)
{
    if (ndim < 1 || ndim > JC_MAX_DIMS) {
        jc_error_set(err, JC_ERR_INVALID, "tensor '%s': %d dimensions (1 to %d allowed)", name, ndim,
                     JC_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 1) {
            jc_error_set(err, JC_ERR_INVALID, "tensor '%s': dimension %d is %lld", name, i, (long long)shape[i]);
            return NULL;
        }
    if (strlen(name) >= JC_NAME_LEN) {
        jc_error_set(err, JC_ERR_INVALID, "tensor name too long: '%s'", name);
        return NULL;
    }
    if (jc_store_find(st, name)) {
        jc_error_set(err, JC_ERR_INVALID, "tensor '%s' already exists in the store", name);
        return NULL;
    }
    if (st->n == st->cap) {
        int cap = st->cap ? 2 * st->cap : 64;
        jc_tensor **nt = realloc(st->t, (size_t)cap * sizeof *nt);
        if (!nt) {
            jc_error_set(err, JC_ERR_NOMEM, "store: out of memory");
            return NULL;
        }
        st->t = nt;
        st->cap = cap;
    }
    jc_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        jc_error_set(err, JC_ERR_NOMEM, "store: out of memory");
        return NULL;
    }
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->op = JC_OP_LEAF;
    t->flags = JC_F_STORE | flags;
    t->store = st;
    t->id = st->n;
    snprintf(t->name, sizeof t->name, "%s", name);
    if (st->be->iface->buffer_alloc(st->be, jc_tensor_bytes(t), &t->buf, err) != JC_OK) {
        free(t);
        return NULL;
    }
    st->t[st->n++] = t;
    return t;
}

jc_tensor *jc_store_param(jc_store *st, const char *name, int ndim, const int64_t *shape, jc_error *err)
{
    return store_add(st, name, ndim, shape, JC_F_TRAINABLE, err);
}

jc_tensor *jc_store_buffer(jc_store *st, const char *name, int ndim, const int64_t *shape, jc_error *err)
{
    return store_add(st, name, ndim, shape, 0, err);
}

int jc_store_count(const jc_store *st) { return st->n; }

jc_tensor *jc_store_at(const jc_store *st, int i) { return (i >= 0 && i < st->n) ? st->t[i] : NULL; }

jc_tensor *jc_store_find(const jc_store *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->t[i]->name, name) == 0)
            return st->t[i];
    return NULL;
}

int jc_tensor_is_param(const jc_tensor *t) { return (t->flags & JC_F_TRAINABLE) != 0; }

void jc_tensor_set_trainable(jc_tensor *t, int trainable)
{
    if (!(t->flags & JC_F_STORE))
        return;
    if (trainable)
        t->flags |= JC_F_TRAINABLE;
    else
        t->flags &= ~JC_F_TRAINABLE;
}

int64_t jc_store_nelem(const jc_store *st, int params_only)
{
    int64_t n = 0;
    for (int i = 0; i < st->n; i++)
        if (!params_only || (st->t[i]->flags & JC_F_TRAINABLE))
            n += jc_tensor_nelem(st->t[i]);
    return n;
}

jc_backend *jc_store_backend(const jc_store *st) { return st->be; }

jc_status jc_store_copy(jc_store *dst, const jc_store *src, jc_error *err)
{
    for (int i = 0; i < dst->n; i++) {
        jc_tensor *d = dst->t[i], *s = jc_store_find(src, d->name);
        if (!s)
            return jc_error_set(err, JC_ERR_INVALID, "copy: tensor '%s' missing in the source store", d->name);
        if (!jc_same_shape(d, s))
            return jc_error_set(err, JC_ERR_INVALID, "copy: tensor '%s' has different shapes", d->name);
        jc_status stt = jc_tensor_copy(d, s, err);
        if (stt)
            return stt;
    }
    return JC_OK;
}
