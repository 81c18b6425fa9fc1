/* planner.c: give every tensor the graph computes an offset in one arena,
 * reusing the memory of tensors whose last reader has run.
 *
 * Walk the operations in order.  Allocate the op's output before releasing
 * the inputs whose last use is this op, so an output never overlaps its own
 * inputs (kernels need not be written for aliasing).  Free ranges are kept
 * sorted by offset and merged; allocation is best fit, growing the arena at
 * the top only when nothing fits.  Inputs and outputs are alive for the whole
 * run so the host can write and read them around compute. */
#include <stdlib.h>

#include "jc_internal.h"

typedef struct {
    size_t off, size;
} range;

typedef struct {
    range *free;
    int n, cap;
    size_t top; /* arena high-water mark */
} allocator;

static size_t align_up(size_t n) { return (n + JC_ALIGN - 1) / JC_ALIGN * JC_ALIGN; }

static int alloc_range(allocator *a, size_t size, size_t *off)
{
    int best = -1;
    for (int i = 0; i < a->n; i++)
        if (a->free[i].size >= size && (best < 0 || a->free[i].size < a->free[best].size))
            best = i;
    if (best >= 0) {
        *off = a->free[best].off;
        a->free[best].off += size;
        a->free[best].size -= size;
        if (a->free[best].size == 0) {
            for (int i = best; i + 1 < a->n; i++)
                a->free[i] = a->free[i + 1];
            a->n--;
        }
        return 0;
    }
    /* Grow: if the last free range touches the top, extend it. */
    if (a->n > 0 && a->free[a->n - 1].off + a->free[a->n - 1].size == a->top) {
        *off = a->free[a->n - 1].off;
        a->top = *off + size;
        a->n--;
        return 0;
    }
    *off = a->top;
    a->top += size;
    return 0;
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
        for (int j = i + 1; j + 1 < a->n; j++)
            a->free[j] = a->free[j + 1];
        a->n--;
    }
    if (i > 0 && a->free[i - 1].off + a->free[i - 1].size == a->free[i].off) {
        a->free[i - 1].size += a->free[i].size;
        for (int j = i; j + 1 < a->n; j++)
            a->free[j] = a->free[j + 1];
        a->n--;
    }
    return 0;
}

static int planned(const jc_tensor *t)
{
    return !t->view_of && !(t->flags & (JC_F_STORE | JC_F_CONST)) && (t->op != JC_OP_LEAF || (t->flags & JC_F_INPUT));
}

jc_status jc_plan_memory(jc_graph *g, size_t *arena_size, jc_error *err)
{
    int n = g->n_nodes;
    int *last_use = malloc((size_t)(n + 1) * sizeof *last_use);
    allocator a = {0};
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
            alloc_range(&a, sz, &t->offset);
        }
    }
    for (int i = 0; i < g->n_exec; i++) {
        jc_tensor *t = g->exec[i];
        if (!(t->flags & JC_F_INPUT) && planned(t)) {
            size_t sz = align_up(jc_tensor_bytes(t));
            naive += sz;
            alloc_range(&a, sz, &t->offset);
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
