/* test-graph.c: the pieces working together: small networks learn, AdamW
 * and EMA match hand computation, the planner reuses memory without letting
 * live tensors overlap, and training is bitwise reproducible. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jc_internal.h"
#include "testutil.h"

static jc_backend *be;

/* ------------------------------------------------------------- AdamW */

/* One scalar parameter, loss = 0.5 * w^2 * c, so the gradient is w * c.
 * Replays torch.optim.AdamW's update rule in double. */
static void test_adamw_by_hand(void)
{
    jc_error err = {0};
    jc_store *st = jc_store_new(be);
    int64_t one = 1;
    jc_tensor *w = jc_store_param(st, "w", 1, &one, &err);
    float w0 = 1.5f;
    jc_tensor_set(w, &w0, &err);
    /* warm-up over 3 steps, constant to step 4, half cosine to 0 at step 7 */
    jc_adamw_config cfg = {0.1f, 0.8f, 0.99f, 1e-8f, 0.01f, 3, 0.0f, 4, 7};
    jc_adamw *opt = jc_adamw_new(st, cfg, &err);
    jc_graph *g = jc_graph_new(be);
    jc_tensor *c = jc_input(g, "c", 1, &one);
    jc_tensor *loss = jc_scale(g, jc_mul(g, jc_sqr(g, w), c), 0.5f, 0);
    jc_tensor *norm = NULL;
    jc_status s = jc_backward(g, loss, &err);
    if (s == JC_OK)
        s = jc_adamw_append(opt, g, &norm, &err);
    if (s == JC_OK)
        s = jc_graph_build(g, &err);
    double pw = w0, m = 0, v = 0;
    double worst = 0;
    for (int step = 1; s == JC_OK && step <= 8; step++) {
        float cv = 1.0f + 0.5f * (float)step;
        jc_tensor_set(c, &cv, &err);
        jc_adamw_begin_step(opt, &err);
        s = jc_graph_compute(g, &err);
        float got;
        jc_tensor_get(w, &got, &err);
        double grad = pw * cv;
        double lr = step < 3 ? 0.1 * step / 3.0 : step <= 4 ? 0.1 : step >= 7 ? 0 : 0.05 * (1 + cos(M_PI * (step - 4) / 3.0));
        m = 0.8 * m + 0.2 * grad;
        v = 0.99 * v + 0.01 * grad * grad;
        pw *= 1 - lr * 0.01;
        pw -= lr * (m / (1 - pow(0.8, step))) / (sqrt(v / (1 - pow(0.99, step))) + 1e-8);
        worst = fmax(worst, fabs(got - pw));
        worst = fmax(worst, fabs(jc_adamw_lr_at(opt, step) - lr));
    }
    tap_ok(s == JC_OK && worst < 1e-6,
           "adamw matches hand-computed steps with warm-up, cosine learning-rate decay and weight decay (err %.1e)",
           worst);
    jc_graph_free(g);
    jc_adamw_free(opt);
    jc_store_free(st);
}

/* Clipping: gradient [3, 4] (norm 5) clipped to norm 1 gives a first Adam
 * step identical to the unclipped one (Adam is scale-free at step 1), so
 * check the reported norm and the moments instead. */
static void test_clipping(void)
{
    jc_error err = {0};
    jc_store *st = jc_store_new(be);
    int64_t two = 2;
    jc_tensor *w = jc_store_param(st, "w", 1, &two, &err);
    float w0[2] = {3, 4};
    jc_tensor_set(w, w0, &err);
    jc_adamw_config cfg = {0.01f, 0.9f, 0.999f, 1e-8f, 0, 0, 1.0f, 0, 0};
    jc_adamw *opt = jc_adamw_new(st, cfg, &err);
    jc_graph *g = jc_graph_new(be);
    jc_tensor *loss = jc_scale(g, jc_sum_all(g, jc_sqr(g, w)), 0.5f, 0); /* grad = w */
    jc_tensor *norm = NULL;
    jc_backward(g, loss, &err);
    jc_adamw_append(opt, g, &norm, &err);
    jc_status s = jc_graph_build(g, &err);
    jc_adamw_begin_step(opt, &err);
    if (s == JC_OK)
        s = jc_graph_compute(g, &err);
    float n = 0, mom[2] = {0};
    jc_tensor_get(norm, &n, &err);
    jc_tensor_get(jc_store_find(jc_adamw_state(opt), "w.m"), mom, &err);
    /* m = (1 - 0.9) * g * clip, clip = 1 / 5 */
    tap_ok(s == JC_OK && fabsf(n - 5) < 1e-5f && fabsf(mom[0] - 0.1f * 0.6f) < 1e-6f &&
               fabsf(mom[1] - 0.1f * 0.8f) < 1e-6f,
           "global-norm clipping: norm %.4f, first moments scaled by 1/5", n);
    jc_graph_free(g);
    jc_adamw_free(opt);
    jc_store_free(st);
}

static void test_ema(void)
{
    jc_error err = {0};
    jc_store *online = jc_store_new(be), *target = jc_store_new(be);
    int64_t three = 3;
    jc_tensor *a = jc_store_param(online, "a", 1, &three, &err);
    jc_tensor *t = jc_store_buffer(target, "a", 1, &three, &err);
    float av[3] = {1, 2, 3}, tv[3] = {10, 20, 30};
    jc_tensor_set(a, av, &err);
    jc_tensor_set(t, tv, &err);
    jc_graph *g = jc_graph_new(be);
    jc_ema_append(g, target, online, NULL, 0.996f, &err);
    jc_status s = jc_graph_build(g, &err);
    for (int i = 0; s == JC_OK && i < 2; i++)
        s = jc_graph_compute(g, &err);
    float got[3];
    jc_tensor_get(t, got, &err);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        double e = tv[i];
        for (int k = 0; k < 2; k++)
            e = 0.996 * e + 0.004 * av[i];
        worst = fmax(worst, fabs(got[i] - e));
    }
    tap_ok(s == JC_OK && worst < 1e-5, "ema: two updates of 0.996 match (err %.1e)", worst);
    jc_graph_free(g);
    jc_store_free(online);
    jc_store_free(target);
}

/* ------------------------------------------------------ learning tasks */

typedef struct {
    jc_store *params;
    jc_adamw *opt;
    jc_graph *g;
    jc_tensor *x, *y, *loss;
} trainer;

static void init_param(jc_tensor *p, jc_rng *r, float std)
{
    jc_error err = {0};
    jc_init_normal(p, r, std, &err);
}

/* MLP 2 -> 32 -> 1 learns y = sin(3 x0) * x1 */
static double mlp_run(int steps, float *first, uint64_t seed, float *final_w)
{
    jc_error err = {0};
    jc_rng r;
    jc_rng_seed(&r, seed);
    trainer t = {0};
    t.params = jc_store_new(be);
    jc_tensor *w1 = jc_store_param(t.params, "w1", 2, (int64_t[]){2, 32}, &err);
    jc_tensor *b1 = jc_store_param(t.params, "b1", 1, (int64_t[]){32}, &err);
    jc_tensor *w2 = jc_store_param(t.params, "w2", 2, (int64_t[]){32, 1}, &err);
    init_param(w1, &r, 0.7f);
    init_param(w2, &r, 0.2f);
    t.opt = jc_adamw_new(t.params, (jc_adamw_config){0.01f, 0.9f, 0.999f, 1e-8f, 0, 10, 1.0f, 0, 0}, &err);
    t.g = jc_graph_new(be);
    int64_t B = 64;
    t.x = jc_input(t.g, "x", 2, (int64_t[]){B, 2});
    t.y = jc_input(t.g, "y", 2, (int64_t[]){B, 1});
    jc_tensor *h = jc_gelu(t.g, jc_add(t.g, jc_matmul(t.g, t.x, w1, 0, 0), b1));
    t.loss = jc_mse_loss(t.g, jc_matmul(t.g, h, w2, 0, 0), t.y, NULL);
    jc_graph_output(t.g, t.loss);
    jc_backward(t.g, t.loss, &err);
    jc_adamw_append(t.opt, t.g, NULL, &err);
    jc_status s = jc_graph_build(t.g, &err);
    double last = NAN;
    float xv[128], yv[64];
    for (int step = 0; s == JC_OK && step < steps; step++) {
        for (int i = 0; i < B; i++) {
            xv[2 * i] = (float)(2 * jc_rng_uniform(&r) - 1);
            xv[2 * i + 1] = (float)(2 * jc_rng_uniform(&r) - 1);
            yv[i] = sinf(3 * xv[2 * i]) * xv[2 * i + 1];
        }
        jc_tensor_set(t.x, xv, &err);
        jc_tensor_set(t.y, yv, &err);
        jc_adamw_begin_step(t.opt, &err);
        s = jc_graph_compute(t.g, &err);
        float l;
        jc_tensor_get(t.loss, &l, &err);
        if (step == 0)
            *first = l;
        last = l;
    }
    if (final_w)
        jc_tensor_get(w1, final_w, &err);
    jc_graph_free(t.g);
    jc_adamw_free(t.opt);
    jc_store_free(t.params);
    return s == JC_OK ? last : NAN;
}

static void test_mlp(void)
{
    float first, wa[64], wb[64];
    double last = mlp_run(400, &first, 5, wa);
    tap_ok(last < first * 0.1, "MLP learns sin(3x)*y: loss %.4f -> %.4f", first, last);
    double again = mlp_run(400, &first, 5, wb);
    tap_ok(again == last && memcmp(wa, wb, sizeof wa) == 0, "training is bitwise reproducible for a seed");
}

static int in_arena(const jc_graph *g, const jc_buffer *buf)
{
    for (int k = 0; k < g->n_arenas; k++)
        if (buf == g->arenas[k])
            return 1;
    return 0;
}

/* Planner: the pairs of tensors alive at once that overlap in an arena
 * buffer (there must be none). */
static int planner_overlaps(jc_graph *g)
{
    int n = g->n_exec, bad = 0;
    int *first_use = calloc((size_t)g->n_nodes, sizeof *first_use), *last_use = calloc((size_t)g->n_nodes, sizeof *last_use);
    for (int i = 0; i < g->n_nodes; i++)
        first_use[i] = last_use[i] = -1;
    for (int i = 0; i < n; i++) {
        jc_tensor *t = g->exec[i];
        jc_tensor *bt = jc_storage_base(t);
        if (bt->graph == g && first_use[bt->id] < 0)
            first_use[bt->id] = i;
        for (int k = 0; k < JC_MAX_SRC; k++)
            if (t->src[k]) {
                jc_tensor *b = jc_storage_base(t->src[k]);
                if (b->graph == g)
                    last_use[b->id] = i;
            }
        if (bt->graph == g && (bt->flags & (JC_F_OUTPUT | JC_F_INPUT)))
            last_use[bt->id] = n;
        if (bt->graph == g && (t->flags & JC_F_OUTPUT))
            last_use[bt->id] = n;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        jc_tensor *a = g->nodes[i];
        if (!in_arena(g, a->buf) || a->view_of || first_use[i] < 0)
            continue;
        if (a->flags & JC_F_INPUT)
            first_use[i] = -1; /* written by the host before the run */
        for (int j = i + 1; j < g->n_nodes; j++) {
            jc_tensor *b = g->nodes[j];
            if (!in_arena(g, b->buf) || b->view_of || first_use[j] < -1)
                continue;
            int fi = (a->flags & JC_F_INPUT) ? -1 : first_use[i], fj = (b->flags & JC_F_INPUT) ? -1 : first_use[j];
            int li = last_use[i] < fi ? fi : last_use[i], lj = last_use[j] < fj ? fj : last_use[j];
            int live_together = fi <= lj && fj <= li;
            int overlap = a->buf == b->buf && a->offset < b->offset + jc_tensor_bytes(b) && b->offset < a->offset + jc_tensor_bytes(a);
            bad += live_together && overlap;
        }
    }
    free(first_use);
    free(last_use);
    return bad;
}

/* A 1-D conv net learns to pick out a sine's frequency: input noisy sine
 * with frequency f, target a smooth envelope = f / 8 at every step. */
static void test_convnet(void)
{
    jc_error err = {0};
    jc_rng r;
    jc_rng_seed(&r, 11);
    jc_store *ps = jc_store_new(be);
    jc_tensor *c1 = jc_store_param(ps, "c1.w", 3, (int64_t[]){8, 1, 9}, &err);
    jc_tensor *c1b = jc_store_param(ps, "c1.b", 1, (int64_t[]){8}, &err);
    jc_tensor *c2 = jc_store_param(ps, "c2.w", 3, (int64_t[]){8, 8, 5}, &err);
    jc_tensor *c3 = jc_store_param(ps, "c3.w", 3, (int64_t[]){1, 8, 1}, &err);
    jc_tensor *c3b = jc_store_param(ps, "c3.b", 1, (int64_t[]){1}, &err);
    init_param(c1, &r, 0.3f);
    init_param(c2, &r, 0.15f);
    init_param(c3, &r, 0.3f);
    jc_adamw *opt = jc_adamw_new(ps, (jc_adamw_config){0.01f, 0.8f, 0.99f, 1e-8f, 1e-3f, 10, 1.0f, 0, 0}, &err);
    jc_graph *g = jc_graph_new(be);
    int64_t B = 8, T = 96;
    jc_tensor *x = jc_input(g, "x", 3, (int64_t[]){B, 1, T}), *y = jc_input(g, "y", 3, (int64_t[]){B, 1, T / 2});
    jc_tensor *h = jc_leaky_relu(g, jc_conv1d(g, x, c1, c1b, (jc_conv_params){1, 4, 4, 1, 1}), 0.1f);
    h = jc_silu(g, jc_conv1d(g, h, c2, NULL, (jc_conv_params){2, 2, 2, 1, 1}));
    h = jc_group_norm1(g, h, NULL, NULL, NULL, 1e-5f);
    jc_tensor *out = jc_conv1d(g, jc_avg_pool1d(g, jc_abs(g, h), 5, 1, 2), c3, c3b, (jc_conv_params){1, 0, 0, 1, 1});
    jc_tensor *loss = jc_l1_loss(g, out, y, NULL);
    jc_graph_output(g, loss);
    jc_status s = jc_backward(g, loss, &err);
    if (s == JC_OK)
        s = jc_adamw_append(opt, g, NULL, &err);
    if (s == JC_OK)
        s = jc_graph_build(g, &err);
    float *xv = malloc((size_t)(B * T) * sizeof *xv), *yv = malloc((size_t)(B * T / 2) * sizeof *yv);
    float first = 0, last = 0, avg_first = 0, avg_last = 0;
    int steps = 300;
    for (int step = 0; s == JC_OK && step < steps; step++) {
        for (int b = 0; b < B; b++) {
            int f = 1 + (int)jc_rng_below(&r, 8);
            double ph = jc_rng_uniform(&r) * 6.283;
            for (int t = 0; t < T; t++)
                xv[b * T + t] = (float)(sin(ph + 6.283 * f * t / 32.0) + 0.1 * jc_rng_normal(&r));
            for (int t = 0; t < T / 2; t++)
                yv[b * T / 2 + t] = (float)f / 8.0f;
        }
        jc_tensor_set(x, xv, &err);
        jc_tensor_set(y, yv, &err);
        jc_adamw_begin_step(opt, &err);
        s = jc_graph_compute(g, &err);
        jc_tensor_get(loss, &last, &err);
        if (step == 0)
            first = last;
        if (step < 20)
            avg_first += last / 20;
        if (step >= steps - 20)
            avg_last += last / 20;
    }
    (void)first;
    tap_ok(s == JC_OK && avg_last < 0.4 * avg_first, "conv net learns sine frequency: L1 %.3f -> %.3f", avg_first,
           avg_last);

    int n = g->n_exec, bad = planner_overlaps(g);
    jc_graph_stats stats;
    jc_graph_get_stats(g, &stats);
    tap_ok(bad == 0, "planner: no live tensors overlap (%d ops)", n);
    double ratio = (double)stats.planned_bytes / (double)stats.naive_bytes;
    tap_ok(stats.planned_bytes < stats.naive_bytes, "planner reuses memory: planned %zu of %zu bytes (%.2f)",
           stats.planned_bytes, stats.naive_bytes, ratio);
    free(xv);
    free(yv);
    jc_graph_free(g);
    jc_adamw_free(opt);
    jc_store_free(ps);
}

/* A graph whose memory exceeds the device's largest buffer (here set to
 * 256 KiB) is planned into several buffers, no tensor across two, and
 * computes exactly what the one-buffer plan computes. */
static jc_graph *chain_graph(size_t max_buffer, const float *xv, float *out, jc_error *err)
{
    jc_graph *g = jc_graph_new(be);
    g->max_buffer = max_buffer;
    int64_t shape[2] = {100, 256}; /* 100 KiB per tensor */
    jc_tensor *x = jc_input(g, "x", 2, shape);
    jc_tensor *a = jc_exp(g, x), *b = jc_sin(g, x);
    jc_tensor *c = jc_mul(g, a, b), *d = jc_add(g, c, x);
    jc_tensor *y = jc_sum(g, jc_mul(g, jc_tanh(g, d), a), 1);
    jc_graph_output(g, y);
    if (jc_graph_build(g, err) || jc_tensor_set(x, xv, err) || jc_graph_compute(g, err) || jc_tensor_get(y, out, err)) {
        jc_graph_free(g);
        return NULL;
    }
    return g;
}

static void test_segmented_arena(void)
{
    jc_error err = {0};
    float *xv = malloc(100 * 256 * sizeof *xv), one[100], split[100];
    for (int i = 0; i < 100 * 256; i++)
        xv[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    jc_graph *g1 = chain_graph(0, xv, one, &err);
    jc_graph *g2 = chain_graph(256 << 10, xv, split, &err);
    tap_ok(g1 && g2, "segmented arena: both graphs run%s%s", g1 && g2 ? "" : ": ", g1 && g2 ? "" : err.msg);
    if (g1 && g2) {
        int crossing = 0;
        for (int i = 0; i < g2->n_exec; i++) {
            const jc_tensor *t = g2->exec[i];
            crossing += in_arena(g2, t->buf) && t->offset + jc_tensor_bytes(t) > (256u << 10);
        }
        tap_ok(g1->n_arenas == 1 && g2->n_arenas > 1 && crossing == 0,
               "segmented arena: %d buffers of at most 256 KiB instead of 1, no tensor across two", g2->n_arenas);
        tap_ok(planner_overlaps(g2) == 0, "segmented arena: no live tensors overlap");
        tap_ok(memcmp(one, split, sizeof one) == 0, "segmented arena: the same results bit for bit");
    }
    jc_graph_free(g1);
    jc_graph_free(g2);
    /* a tensor larger than the largest buffer is an error, not a crash */
    jc_graph *g3 = chain_graph(64 << 10, xv, split, &err);
    tap_ok(!g3 && err.code == JC_ERR_NOMEM && strstr(err.msg, "largest buffer"),
           "a tensor past the largest buffer: %s", err.msg);
    jc_graph_free(g3);
    free(xv);
}

/* A graph only runs what its outputs and updates need. */
static void test_pruning(void)
{
    jc_error err = {0};
    jc_graph *g = jc_graph_new(be);
    int64_t n = 4;
    jc_tensor *x = jc_input(g, "x", 1, &n);
    jc_tensor *used = jc_exp(g, x);
    jc_sin(g, jc_cos(g, x)); /* unused */
    jc_graph_output(g, used);
    jc_graph_build(g, &err);
    jc_graph_stats st;
    jc_graph_get_stats(g, &st);
    tap_ok(st.nodes == 1 && st.recorded == 4, "unused operations are pruned (%d of %d recorded run)", st.nodes,
           st.recorded);
    jc_graph_free(g);
}

int main(void)
{
    be = tu_backend();
    test_adamw_by_hand();
    test_clipping();
    test_ema();
    test_mlp();
    test_convnet();
    test_pruning();
    test_segmented_arena();
    jc_backend_free(be);
    return tap_done();
}
