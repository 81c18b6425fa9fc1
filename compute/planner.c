/* planner.c: give every tensor the graph computes an offset in one arena,
 * reusing the memory of tensors whose last reader has run.
 *
 * Walk the operations in order.  Allocate the op's output before releasing
 * the inputs whose last use is this op, so an output never overlaps its own
 * inputs (kernels need not be written for aliasing).  Free ranges are kept
 * sorted by offset and merged; allocation is best fit, growing the arena at
 * the top only when nothing fits.  Where the device's largest buffer is
 * smaller than the arena, no tensor crosses a multiple of it, so the arena
 * can be several buffers.  Inputs and outputs are alive for the whole
 * run so the host can write and read them around compute. */
#include <stdlib.h>

#include "jc_internal.h"

typedef struct {
    size_t off, size;
} range;

typedef struct {
    range *free;
    int n, cap;
    size_t top;     /* arena high-water mark */
    size_t segment; /* no range may cross a multiple of it (0: none) */
} allocator;

static size_t align_up(size_t n) { return (n + JC_ALIGN - 1) / JC_ALIGN * JC_ALIGN; }

static void remove_free(allocator *a, int i)
{
    for (int j = i; j + 1 < a->n; j++)
        a->free[j] = a->free[j + 1];
    a->n--;
}

static int free_range(allocator *a, size_t off, size_t size)
{
    int i = 0;
    while (i < a->n && a->free[i].off < off)
        i++;
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 64;
        range *nf = realloc(a->free, (size_t)cap * sizeof *nf);
        if (!nf)
            return -1;
        a->free = nf;
        a->cap = cap;
    }
    for (int j = a->n; j > i; j--)
        a->free[j] = a->free[j - 1];
    a->free[i] = (range){off, size};
    a->n++;
    /* merge with the right, then the left neighbour */
    if (i + 1 < a->n && a->free[i].off + a->free[i].size == a->free[i + 1].off) {
        a->free[i].size += a->free[i + 1].size;
        remove_free(a, i + 1);
    }
    if (i > 0 && a->free[i - 1].off + a->free[i - 1].size == a->free[i].off) {
        a->free[i - 1].size += a->free[i].size;
        remove_free(a, i);
    }
    return 0;
}

/* Where a range of `size` bytes may start at or after `off` without
 * crossing a segment boundary. */
static size_t fit_start(const allocator *a, size_t off, size_t size)
{
    if (a->segment && off / a->segment != (off + size - 1) / a->segment)
        return (off / a->segment + 1) * a->segment;
    return off;
}

/* Best fit among the free ranges, else grow the arena at the top.  Where
 * segments apply, a range starts past a boundary it would cross; the bytes
 * skipped stay (or become) free.  -1: out of memory, or larger than a
 * segment. */
static int alloc_range(allocator *a, size_t size, size_t *off)
{
    if (a->segment && size > a->segment)
        return -1;
    int best = -1;
    for (int i = 0; i < a->n; i++) {
        size_t start = fit_start(a, a->free[i].off, size);
        if (start + size <= a->free[i].off + a->free[i].size && (best < 0 || a->free[i].size < a->free[best].size))
            best = i;
    }
    range r;
    if (best >= 0) {
        r = a->free[best];
        remove_free(a, best);
    } else if (a->n > 0 && a->free[a->n - 1].off + a->free[a->n - 1].size == a->top) {
        r = a->free[a->n - 1]; /* the last free range touches the top: extend it */
        remove_free(a, a->n - 1);
    } else {
        r = (range){a->top, 0};
    }
    *off = fit_start(a, r.off, size);
    if (*off + size > a->top)
        a->top = *off + size;
    /* give back what this range has left on either side */
    size_t end = r.off + r.size > *off + size ? r.off + r.size : *off + size;
    if (*off > r.off && free_range(a, r.off, *off - r.off))
        return -1;
    if (end > *off + size && free_range(a, *off + size, end - (*off + size)))
        return -1;
    return 0;
}

static int planned(const jc_tensor *t)
{
    return !t->view_of && !(t->flags & (JC_F_STORE | JC_F_CONST)) && (t->op != JC_OP_LEAF || (t->flags & JC_F_INPUT));
}

static jc_status too_large(const jc_graph *g, const jc_tensor *t, size_t segment, jc_error *err)
{
    if (segment && align_up(jc_tensor_bytes(t)) > segment)
        return jc_error_set(err, JC_ERR_NOMEM, "%s: tensor %s of %zu bytes exceeds the device's largest buffer (%zu)",
                            g->be->name, t->name, jc_tensor_bytes(t), segment);
    return jc_error_set(err, JC_ERR_NOMEM, "planner: out of memory");
}

jc_status jc_plan_memory(jc_graph *g, size_t segment, size_t *arena_size, jc_error *err)
{
    int n = g->n_nodes;
    int *last_use = malloc((size_t)(n + 1) * sizeof *last_use);
    allocator a = {.segment = segment};
    jc_status status = JC_OK;
    if (!last_use) {
        status = jc_error_set(err, JC_ERR_NOMEM, "planner: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        last_use[i] = -1;

    /* Last reader of each base tensor: readers of a view count as readers of
     * its base, and so do the views themselves. */
    for (int i = 0; i < g->n_exec; i++) {
        jc_tensor *t = g->exec[i];
        for (int s = 0; s < JC_MAX_SRC + 1; s++) {
            jc_tensor *src = s < JC_MAX_SRC ? t->src[s] : t->view_of;
            if (!src)
                continue;
            jc_tensor *base = jc_storage_base(src);
            if (base->graph == g && last_use[base->id] < i)
                last_use[base->id] = i;
        }
        if (t->flags & (JC_F_OUTPUT | JC_F_INPUT)) {
            jc_tensor *base = jc_storage_base(t);
            if (base->graph == g)
                last_use[base->id] = g->n_exec;
        }
    }

    size_t naive = 0;
    /* inputs first: they are written by the host before the run */
    for (int i = 0; i < g->n_exec; i++) {
        jc_tensor *t = g->exec[i];
        if ((t->flags & JC_F_INPUT) && planned(t)) {
            size_t sz = align_up(jc_tensor_bytes(t));
            naive += sz;
            if (alloc_range(&a, sz, &t->offset)) {
                status = too_large(g, t, segment, err);
                goto done;
            }
        }
    }
    for (int i = 0; i < g->n_exec; i++) {
        jc_tensor *t = g->exec[i];
        if (!(t->flags & JC_F_INPUT) && planned(t)) {
            size_t sz = align_up(jc_tensor_bytes(t));
            naive += sz;
            if (alloc_range(&a, sz, &t->offset)) {
                status = too_large(g, t, segment, err);
                goto done;
            }
            if (last_use[t->id] < 0) /* computed but never read: free at once */
                last_use[t->id] = i;
        }
        /* release every base whose last reader is this op */
        for (int s = 0; s < JC_MAX_SRC + 1; s++) {
            jc_tensor *src = s < JC_MAX_SRC ? t->src[s] : t->view_of;
            if (!src)
                continue;
            jc_tensor *base = jc_storage_base(src);
            if (base->graph == g && planned(base) && last_use[base->id] == i) {
                last_use[base->id] = -2; /* released once only */
                if (free_range(&a, base->offset, align_up(jc_tensor_bytes(base)))) {
                    status = jc_error_set(err, JC_ERR_NOMEM, "planner: out of memory");
                    goto done;
                }
            }
        }
        if (planned(t) && last_use[t->id] == i) {
            last_use[t->id] = -2;
            free_range(&a, t->offset, align_up(jc_tensor_bytes(t)));
        }
    }
    *arena_size = a.top;
    g->stats.planned_bytes = a.top;
    g->stats.naive_bytes = naive;
done:
    free(a.free);
    free(last_use);
    return status;
}
