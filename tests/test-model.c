/* test-model.c: the stage-1 model: exact parameter counts of the paper
 * configuration, exact frame counts, the DAAM gate against a direct scalar
 * computation, gradients of every part against finite differences, span
 * masking statistics, a batch equal to its clips processed alone, and the
 * EMA target after a training step. */
#include <stdio.h>

#include "decoder.h"
#include "jepa.h"
#include "masking.h"
#include "stage1.h"
#include "testutil.h"

static jc_backend *be;

/* info reports how a model's configuration differs from its preset */
static void test_config_changed_keys(void)
{
    jt_config c;
    const char *keys[8] = {0};
    jt_config_preset("small", &c);
    int n = jt_config_changed_keys(&c, keys, 8);
    tap_ok(n == 0, "the small preset differs from small in nothing (%d keys)", n);
    c.dec_channels[0] = 256;
    c.lr = 1e-4f;
    n = jt_config_changed_keys(&c, keys, 8);
    tap_ok(n == 2 && strcmp(keys[0], "lr") == 0 && strcmp(keys[1], "dec_channels") == 0,
           "lr and dec_channels changed: %d keys '%s', '%s'", n, n > 0 ? keys[0] : "", n > 1 ? keys[1] : "");
    keys[0] = keys[1] = NULL;
    n = jt_config_changed_keys(&c, keys, 1);
    tap_ok(n == 2 && keys[0] && strcmp(keys[0], "lr") == 0 && !keys[1],
           "room for one key: the first is stored, both are counted (%d)", n);
    snprintf(c.name, sizeof c.name, "custom");
    tap_ok(jt_config_changed_keys(&c, keys, 8) == -1, "a name that is no preset: -1");
}

static void test_paper_counts(void)
{
    jt_config c;
    jt_config_preset("paper", &c);
    jt_jepa j;
    char err[256];
    int r = jt_jepa_create(&j, &c, be, 0, 1, err, sizeof err);
    tap_ok(r == 0, "paper model created (%s)", r ? err : "ok");
    if (r)
        return;
    int64_t enc = jt_count_params(j.online, "enc."), pred = jt_count_params(j.online, "pred.");
    tap_ok(enc == 118512562, "paper encoder has 118,512,562 parameters (%lld)", (long long)enc);
    tap_ok(pred == 3177600, "paper predictor has 3,177,600 parameters (%lld)", (long long)pred);
    tap_ok(jt_count_params(j.online, "mask_token") == 128, "mask token has 128 values");
    tap_ok(jt_count_params(j.target, JT_TARGET_PREFIX "enc.") == enc,
           "target encoder is a full copy of the encoder");
    double enc_macs, pred_macs;
    jt_jepa_macs(&j, 16, &enc_macs, &pred_macs);
    tap_ok(fabs(enc_macs / 13.6e9 - 1) < 0.01, "paper encoder costs 13.6 G multiply-adds per second (%.4g)", enc_macs);
    jt_jepa_free(&j);
}

/* Encoder output of the tiny model for a clip of n samples padded to
 * whole frames: exactly ceil(n / 9600) frames. */
static void test_frame_counts(void)
{
    jt_config c;
    jt_config_preset("tiny", &c);
    jt_jepa j;
    char err[256];
    if (jt_jepa_create(&j, &c, be, 1, 0, err, sizeof err)) {
        tap_ok(0, "tiny model: %s", err);
        return;
    }
    const int64_t lengths[] = {1, 9599, 9600, 9601, 2 * 9600 + 7, 15 * 24000, 24000};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        int64_t F = jt_frames_for(&c, lengths[i]), T = F * 9600;
        jc_graph *g = jc_graph_new(be);
        jt_masks mk;
        jt_masks_inputs(g, &c, 1, T, &mk);
        jc_tensor *wave = jc_input(g, "wave", 3, (int64_t[]){1, 1, T});
        jt_nn m = {.g = g, .params = j.online, .cfg = &c};
        jc_tensor *z = jt_encoder(&m, wave, &mk);
        jc_error e = {0};
        jc_graph_output(g, z);
        int ok = z && jc_graph_build(g, &e) == JC_OK;
        float *zero = calloc((size_t)T, sizeof *zero);
        ok = ok && jc_tensor_set(wave, zero, &e) == JC_OK && jt_masks_set(&mk, &c, &lengths[i], &e) == JC_OK &&
             jc_graph_compute(g, &e) == JC_OK;
        int64_t expect = (lengths[i] + 9599) / 9600;
        tap_ok(ok && jc_tensor_dim(z, 2) == expect && jc_tensor_dim(z, 1) == 128,
               "%lld samples give %lld frames of 128 (got %lld)", (long long)lengths[i], (long long)expect,
               (long long)(z ? jc_tensor_dim(z, 2) : -1));
        free(zero);
        jc_graph_free(g);
    }
    jt_jepa_free(&j);
}

/* DAAM against the formula of MODEL.md evaluated in double. */
static void test_daam(void)
{
    jt_config c;
    jt_config_preset("tiny", &c);
    jc_store *st = jc_store_new(be);
    jc_rng r;
    jc_rng_seed(&r, 5);
    int64_t B = 2, C = 3, T = 11;
    jc_graph *g = jc_graph_new(be);
    jc_tensor *x = jc_input(g, "x", 3, (int64_t[]){B, C, T});
    jc_tensor *mask = jc_input(g, "mask", 3, (int64_t[]){B, 1, T});
    jt_nn m = {.g = g, .params = st, .rng = &r, .cfg = &c};
    jc_tensor *y = jt_daam(&m, "daam", x, mask);
    jc_graph_output(g, y);
    jc_error e = {0};
    int ok = y && jc_graph_build(g, &e) == JC_OK;
    float *xv = tu_random(&r, B * C * T, -2, 2), mv[22];
    for (int t = 0; t < 22; t++)
        mv[t] = t < 11 + 7 ? 1.0f : 0.0f; /* first clip all 11 steps valid, the second 7 */
    ok = ok && !jc_tensor_set(x, xv, &e) && !jc_tensor_set(mask, mv, &e) && !jc_graph_compute(g, &e);
    float got[66], w[3], bias, nu[4], delta[4], alpha;
    jc_tensor_get(y, got, &e);
    jc_tensor_get(jc_store_find(st, "daam.proj.weight"), w, &e);
    jc_tensor_get(jc_store_find(st, "daam.proj.bias"), &bias, &e);
    jc_tensor_get(jc_store_find(st, "daam.nu"), nu, &e);
    jc_tensor_get(jc_store_find(st, "daam.delta"), delta, &e);
    jc_tensor_get(jc_store_find(st, "daam.alpha"), &alpha, &e);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        double a[11], mu = 0, var = 0, n = 0;
        for (int t = 0; t < T; t++) {
            a[t] = bias;
            for (int ch = 0; ch < C; ch++)
                a[t] += w[ch] * xv[(b * C + ch) * T + t];
            if (mv[b * T + t] > 0) {
                mu += a[t];
                n++;
            }
        }
        mu /= n;
        for (int t = 0; t < T; t++)
            if (mv[b * T + t] > 0)
                var += (a[t] - mu) * (a[t] - mu);
        double sigma = sqrt(fmax(var / n, 1e-6));
        for (int t = 0; t < T; t++) {
            double mix = 0;
            for (int k = 0; k < 4; k++) {
                double s = log1p(exp(nu[k])) + 1e-3;
                double z = (a[t] - mu - delta[k] * sigma) / (sigma * s + 1e-8);
                mix += exp(-z * z / 2 - log(s) - 0.5 * log(2 * M_PI));
            }
            double gate = mix / 4;
            for (int ch = 0; ch < C; ch++) {
                double want = xv[(b * C + ch) * T + t] * (1 + alpha * gate);
                worst = fmax(worst, fabs(want - got[(b * C + ch) * T + t]));
            }
        }
    }
    tap_ok(ok && worst < 1e-5, "DAAM gate matches the scalar formula, offsets in units of sigma (max err %.1e)",
           worst);
    tap_ok(delta[0] == -1.0f && delta[3] == 1.0f && fabsf(delta[1] + 1.0f / 3) < 1e-6f,
           "DAAM means start evenly in [-1, 1] (%g %g %g %g)", delta[0], delta[1], delta[2], delta[3]);
    free(xv);
    jc_graph_free(g);
    jc_store_free(st);
}

/* Stage-1 loss of the tiny model with one encoder Conformer layer and no
 * dropout: d loss / d (samples of parameters of every part) vs central
 * differences. */
static float loss_of(jt_jepa *j, jt_stage1_step *s, const float *wave, const float *jm, const int64_t *len)
{
    jc_error e = {0};
    jc_tensor_set(s->wave, wave, &e);
    jc_tensor_set(s->jmask, jm, &e);
    jt_masks_set(&s->mk, &j->cfg, len, &e);
    jc_graph_compute(s->g, &e);
    float l = NAN;
    jc_tensor_get(s->loss, &l, &e);
    return l;
}

typedef double (*loss_fn)(void *ctx);

/* Directional derivatives over a whole parameter tensor: along the
 * analytic gradient (the loss changes by h |g|, far above float rounding)
 * and along a random direction.  Per-element differences of a float loss
 * sit at the rounding floor for most weights of a deep model. */
static void directional_check(const char *name, jc_tensor *p, float *pv, const float *gv, int64_t n, jc_rng *r,
                              loss_fn eval, void *ctx)
{
    jc_error e = {0};
    double gnorm = 0;
    for (int64_t k = 0; k < n; k++)
        gnorm += (double)gv[k] * gv[k];
    gnorm = sqrt(gnorm);
    float *base = malloc((size_t)n * sizeof *base), *dir = malloc((size_t)n * sizeof *dir);
    memcpy(base, pv, (size_t)n * sizeof *pv);
    double err[2] = {1, 1}, resolution = 0;
    for (int pass = 0; pass < 2 && gnorm > 0; pass++) {
        double dnorm = 0, expect = 0;
        for (int64_t k = 0; k < n; k++) {
            dir[k] = pass == 0 ? gv[k] : (float)jc_rng_normal(r);
            dnorm += (double)dir[k] * dir[k];
        }
        dnorm = sqrt(dnorm);
        for (int64_t k = 0; k < n; k++) {
            dir[k] = (float)(dir[k] / dnorm);
            expect += (double)gv[k] * dir[k];
        }
        /* 3e-3: larger steps cross leaky-ReLU kinks, smaller ones sink into
         * float rounding of the loss (measured: 1e-2 / 3e-3 / 1e-3) */
        double h = 3e-3, lv[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            for (int64_t k = 0; k < n; k++)
                pv[k] = base[k] + (float)((sgn ? -h : h) * dir[k]);
            jc_tensor_set(p, pv, &e);
            lv[sgn] = eval(ctx);
        }
        err[pass] = fabs((lv[0] - lv[1]) / (2 * h) - expect) / gnorm;
        /* the losses are floats: a difference of two is known to about an
         * ulp, which bounds how small an error the check can see */
        double ulp = nextafterf((float)fabs(lv[0]), INFINITY) - (float)fabs(lv[0]);
        resolution = fmax(resolution, ulp / (2 * h) / gnorm);
    }
    jc_tensor_set(p, base, &e);
    memcpy(pv, base, (size_t)n * sizeof *pv);
    /* whole-model float precision allows ~1e-2 here (every op alone is
     * checked tightly in test-grad), plus twice the resolution for the
     * smallest gradients (an encoder DAAM's alpha: |g| ~2e-4, where one ulp
     * of the loss is ~0.1 of the derivative); a wiring error gives O(1) */
    double tol = 5e-2 + 2 * resolution;
    tap_ok(gnorm > 1e-6 && err[0] < tol && err[1] < tol,
           "grad %s vs finite differences along g and a random direction (|g| %.1e, err %.1e / %.1e, at most "
           "%.1e)",
           name, gnorm, err[0], err[1], tol);
    free(base);
    free(dir);
}

typedef struct {
    jt_jepa *j;
    jt_stage1_step *s;
    const float *wave, *jm;
    const int64_t *len;
} stage1_ctx;

static double eval_loss(void *p)
{
    stage1_ctx *c = p;
    return loss_of(c->j, c->s, c->wave, c->jm, c->len);
}

static void test_gradients(void)
{
    jt_config c;
    jt_config_preset("tiny", &c);
    c.conformer_layers = 1;
    c.dropout = 0;
    jt_jepa j;
    char err[256];
    if (jt_jepa_create(&j, &c, be, 2, 0, err, sizeof err)) {
        tap_ok(0, "tiny model: %s", err);
        return;
    }
    int64_t B = 2, T = 4 * 9600, len[2] = {4 * 9600, 2 * 9600 + 100};
    jc_rng r;
    jc_rng_seed(&r, 9);
    /* at alpha = 0.05 the gates' own parameters move the loss by less than
     * float rounding over a finite-difference step: open the gates fully */
    for (int i = 0; i < jc_store_count(j.online); i++)
        if (strstr(jc_tensor_name(jc_store_at(j.online, i)), "daam.alpha")) {
            jc_error fe = {0};
            jc_tensor_fill(jc_store_at(j.online, i), 1.0f, &fe);
        }
    float *wave = malloc((size_t)(B * T) * sizeof *wave);
    for (int64_t i = 0; i < B * T; i++)
        wave[i] = (float)(0.3 * sin(0.01 * i * (1 + i % 7)) + 0.05 * jc_rng_normal(&r));
    float jm[8] = {0, 1, 1, 0, 1, 0, 0, 0};
    /* forward graph with backward, no optimiser */
    jc_graph *g = jc_graph_new(be);
    jt_stage1_step s = {.g = g, .B = B, .T = T, .F = 4};
    jt_masks_inputs(g, &c, B, T, &s.mk);
    s.wave = jc_input(g, "wave", 3, (int64_t[]){B, 1, T});
    s.jmask = jc_input(g, "jm", 3, (int64_t[]){B, 1, 4});
    jt_nn on = {.g = g, .params = j.online, .cfg = &c}, tg = {.g = g, .params = j.target, .cfg = &c, .prefix = "target"};
    jc_tensor *z = jt_encoder(&on, s.wave, &s.mk);
    jc_tensor *tok = jt_param(&on, "mask_token", 3, (int64_t[]){1, 128, 1}, JT_INIT_CONST, 0);
    jc_tensor *pred = jt_predictor(&on, jc_add(g, z, jc_mul(g, jc_sub(g, tok, z), s.jmask)), &s.mk);
    /* the target is detached: perturb it too so the check covers both paths */
    s.loss = jc_mse_loss(g, pred, jc_stop_gradient(g, jt_encoder(&tg, s.wave, &s.mk)), s.jmask);
    jc_graph_output(g, s.loss);
    jc_error e = {0};
    const char *names[] = {"enc.conv_in.weight", "enc.blocks.0.down.weight",
                           "enc.blocks.2.res.0.conv1.weight", "enc.blocks.0.daam.proj.weight",
                           "enc.blocks.0.daam.nu", "enc.blocks.1.daam.delta", "enc.blocks.1.daam.alpha",
                           "enc.bottleneck.weight", "enc.conformer.0.attn.q.weight",
                           "enc.conformer.0.conv.dw.weight", "enc.conformer.0.ff1.in.weight",
                           "pred.conformer.1.attn.k.weight", "pred.out.bias", "mask_token"};
    int n_names = (int)(sizeof names / sizeof names[0]);
    jc_tensor *grads[16];
    jc_status st = jc_backward(g, s.loss, &e);
    for (int i = 0; st == JC_OK && i < n_names; i++) {
        grads[i] = jc_grad(g, jc_store_find(j.online, names[i]));
        if (grads[i])
            jc_graph_output(g, grads[i]);
    }
    if (st == JC_OK)
        st = jc_graph_build(g, &e);
    if (st != JC_OK) {
        tap_ok(0, "stage-1 gradient graph: %s", e.msg);
        goto done;
    }
    loss_of(&j, &s, wave, jm, len);
    stage1_ctx ctx = {&j, &s, wave, jm, len};
    for (int i = 0; i < n_names; i++) {
        jc_tensor *p = jc_store_find(j.online, names[i]);
        if (!p || !grads[i]) {
            tap_ok(0, "grad %s exists", names[i]);
            continue;
        }
        int64_t n = jc_tensor_nelem(p);
        float *pv = malloc((size_t)n * sizeof *pv), *gv = malloc((size_t)n * sizeof *gv);
        jc_tensor_get(p, pv, &e);
        jc_tensor_get(grads[i], gv, &e);
        directional_check(names[i], p, pv, gv, n, &r, eval_loss, &ctx);
        free(pv);
        free(gv);
    }
done:
    free(wave);
    jc_graph_free(g);
    jt_jepa_free(&j);
}

/* SnakeBeta alone: its parameter barely moves the whole model's loss at
 * initialisation, so check d sum(snake(x) * R) / d p per element. */
static void test_snake_gradient(void)
{
    jt_config c;
    jt_config_preset("tiny", &c);
    jc_store *st = jc_store_new(be);
    jc_rng r;
    jc_rng_seed(&r, 21);
    int64_t shape[3] = {2, 3, 17};
    jc_error e = {0};
    jc_tensor *x = jc_store_buffer(st, "x", 3, shape, &e);
    float *xv = tu_random(&r, 102, -2, 2), *rv = tu_random(&r, 102, -1, 1);
    jc_tensor_set(x, xv, &e);
    jc_graph *g = jc_graph_new(be);
    jt_nn m = {.g = g, .params = st, .rng = &r, .cfg = &c};
    jc_tensor *y = jt_snake(&m, "snake", x);
    jc_tensor *p = jc_store_find(st, "snake.p");
    float pv[3] = {-0.7f, 0.2f, 1.3f};
    jc_tensor_set(p, pv, &e);
    jc_tensor *loss = jc_sum_all(g, jc_mul(g, y, jc_constant(g, "R", 3, shape, rv)));
    jc_graph_output(g, loss);
    jc_status s = jc_backward(g, loss, &e);
    jc_tensor *gp = jc_grad(g, p);
    if (gp)
        jc_graph_output(g, gp);
    if (s == JC_OK)
        s = jc_graph_build(g, &e);
    float gv[3] = {0};
    if (s == JC_OK)
        s = jc_graph_compute(g, &e);
    jc_tensor_get(gp, gv, &e);
    double worst = 0;
    for (int k = 0; s == JC_OK && k < 3; k++) {
        float l[2], x0 = pv[k];
        for (int sgn = 0; sgn < 2; sgn++) {
            pv[k] = x0 + (sgn ? -1e-2f : 1e-2f);
            jc_tensor_set(p, pv, &e);
            jc_graph_compute(g, &e);
            jc_tensor_get(loss, &l[sgn], &e);
        }
        pv[k] = x0;
        jc_tensor_set(p, pv, &e);
        double num = (l[0] - l[1]) / 2e-2;
        worst = fmax(worst, fabs(num - gv[k]) / fmax(1.0, fabs(num)));
    }
    tap_ok(s == JC_OK && worst < 1e-2, "grad SnakeBeta parameter vs finite differences (worst %.1e)", worst);
    free(xv);
    free(rv);
    jc_graph_free(g);
    jc_store_free(st);
}

static void test_masking(void)
{
    jt_config c;
    jt_config_preset("small", &c);
    jc_rng r;
    jc_rng_seed(&r, 17);
    float m[64], prev[64];
    const int sizes[] = {2, 3, 5, 8, 16, 37, 64};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int n = sizes[si], always_visible = 1, enough = 1, same_as_prev = 0;
        double frac = 0;
        for (int trial = 0; trial < 500; trial++) {
            int k = jt_span_mask(&r, &c, n, m);
            int counted = 0;
            for (int t = 0; t < n; t++)
                counted += m[t] > 0;
            always_visible &= counted < n && counted == k;
            enough &= counted >= (int)(0.5 * n) && counted >= 1;
            frac += (double)counted / n / 500;
            if (trial > 0 && n >= 16)
                same_as_prev += memcmp(m, prev, (size_t)n * sizeof *m) == 0;
            memcpy(prev, m, (size_t)n * sizeof *m);
        }
        tap_ok(always_visible && enough && frac >= 0.5,
               "span mask over %d frames: >= floor(n/2) distinct masked (mean %.2f), one always visible", n, frac);
        /* independence: only where the number of possible masks is large
         * enough that a repeat means correlation, not chance */
        if (n >= 16)
            tap_ok(same_as_prev < 10, "span masks of consecutive clips differ (%d of 499 repeats, n=%d)",
                   same_as_prev, n);
    }
    c.paper_masking = 1;
    int all = 0;
    for (int trial = 0; trial < 500; trial++) {
        int k = jt_span_mask(&r, &c, 3, m);
        all += k == 3;
    }
    tap_ok(all > 0, "paper_masking reproduces the reference's fully masked clips (%d of 500 with 3 frames)", all);
}

/* Two clips of different lengths in one batch give the same encoder and
 * predictor output on their valid frames as each clip alone. */
static int run_forward(jt_jepa *j, int64_t B, int64_t T, const float *wave, const int64_t *len, const float *jm,
                       float *pred_out)
{
    char err[256];
    jt_stage1_step s;
    if (jt_stage1_step_build(&s, j, NULL, B, T, err, sizeof err)) {
        tap_diag("%s", err);
        return -1;
    }
    jc_graph_set_training(s.g, 0);
    loss_of(j, &s, wave, jm, len);
    jc_error e = {0};
    jc_status st = jc_tensor_get(s.pred, pred_out, &e);
    jt_stage1_step_free(&s);
    return st == JC_OK ? 0 : -1;
}

static void test_batch_equals_single(void)
{
    jt_config c;
    jt_config_preset("tiny", &c);
    c.conformer_layers = 1;
    jt_jepa j;
    char err[256];
    if (jt_jepa_create(&j, &c, be, 3, 0, err, sizeof err)) {
        tap_ok(0, "tiny model: %s", err);
        return;
    }
    int64_t hop = 9600, T = 4 * hop, len[2] = {4 * hop, 2 * hop - 50};
    float *batch = calloc((size_t)(2 * T), sizeof *batch);
    for (int64_t i = 0; i < T; i++)
        batch[i] = (float)(0.4 * sin(0.013 * i));
    for (int64_t i = 0; i < len[1]; i++)
        batch[T + i] = (float)(0.3 * sin(0.029 * i + 1));
    /* loud garbage in the second clip's padding must not matter */
    for (int64_t i = len[1]; i < 2 * hop; i++)
        batch[T + i] = 0; /* the zero-padding to whole frames is part of the clip */
    for (int64_t i = 2 * hop; i < T; i++)
        batch[T + i] = (float)(5.0 * sin(0.3 * i));
    float jm[8] = {0, 1, 1, 0, 1, 0, 0, 0};
    float pb[2 * 128 * 4], p0[128 * 4], p1[128 * 2];
    int ok = run_forward(&j, 2, T, batch, len, jm, pb) == 0;
    ok = ok && run_forward(&j, 1, T, batch, &len[0], jm, p0) == 0;
    int64_t len1 = len[1];
    ok = ok && run_forward(&j, 1, 2 * hop, batch + T, &len1, jm + 4, p1) == 0;
    double worst = 0;
    for (int d = 0; ok && d < 128; d++) {
        for (int t = 0; t < 4; t++)
            worst = fmax(worst, fabs(pb[d * 4 + t] - p0[d * 4 + t]));
        for (int t = 0; t < 2; t++)
            worst = fmax(worst, fabs(pb[(128 + d) * 4 + t] - p1[d * 2 + t]));
    }
    tap_ok(ok && worst < 1e-4, "a batch equals its clips processed alone, padding ignored (max diff %.1e)", worst);
    free(batch);
    jt_jepa_free(&j);
}

/* One training step: the loss is finite, parameters move, and the target
 * becomes 0.996 * old + 0.004 * new online weights. */
static void test_step_and_ema(void)
{
    jt_config c;
    jt_config_preset("tiny", &c);
    jt_jepa j;
    char err[256];
    jc_error e = {0};
    if (jt_jepa_create(&j, &c, be, 4, 0, err, sizeof err)) {
        tap_ok(0, "tiny model: %s", err);
        return;
    }
    jc_adamw *opt = jc_adamw_new(j.online, (jc_adamw_config){1e-3f, 0.8f, 0.99f, 1e-8f, 1e-3f, 0, 1.0f, 0, 0}, &e);
    jt_stage1_step s;
    if (jt_stage1_step_build(&s, &j, opt, 1, 2 * 9600, err, sizeof err)) {
        tap_ok(0, "step graph: %s", err);
        return;
    }
    jc_tensor *w_on = jc_store_find(j.online, "enc.blocks.0.down.weight");
    jc_tensor *w_tg = jc_store_find(j.target, JT_TARGET_PREFIX "enc.blocks.0.down.weight");
    int64_t n = jc_tensor_nelem(w_on);
    float *before = malloc((size_t)n * sizeof(float)), *on = malloc((size_t)n * sizeof(float)),
          *tg = malloc((size_t)n * sizeof(float));
    jc_tensor_get(w_tg, before, &e);
    float wave[2 * 9600], jm[2] = {1, 0};
    for (int i = 0; i < 2 * 9600; i++)
        wave[i] = (float)(0.5 * sin(0.02 * i));
    int64_t len = 2 * 9600;
    jc_adamw_begin_step(opt, &e);
    float l = loss_of(&j, &s, wave, jm, &len);
    jc_tensor_get(w_on, on, &e);
    jc_tensor_get(w_tg, tg, &e);
    double worst = 0, moved = 0;
    for (int64_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(tg[i] - (0.996 * before[i] + 0.004 * on[i])));
        moved = fmax(moved, fabs(on[i] - before[i]));
    }
    tap_ok(isfinite(l) && moved > 0, "a training step runs (loss %.4f) and moves the online weights", l);
    tap_ok(worst < 1e-6, "EMA target = 0.996 old + 0.004 online after the step (err %.1e)", worst);
    free(before);
    free(on);
    free(tg);
    jt_stage1_step_free(&s);
    jc_adamw_free(opt);
    jt_jepa_free(&j);
}

/* Stage 2's networks: exact paper counts, F frames -> F * 9600 samples in
 * (-1, 1), and gradients through the decoder and both discriminators. */
typedef struct {
    jc_graph *g;
    jc_tensor *loss;
} graph_ctx;

static double eval_graph(void *p)
{
    graph_ctx *c = p;
    jc_error e = {0};
    float l = NAN;
    if (jc_graph_compute(c->g, &e) == JC_OK)
        jc_tensor_get(c->loss, &l, &e);
    return l;
}

static void test_stage2(void)
{
    jt_config c;
    char err[256];
    jt_config_preset("paper", &c);
    jc_store *st = jc_store_new(be);
    int r0 = jt_stage2_create(st, st, &c, NULL, NULL, err, sizeof err);
    tap_ok(r0 == 0 && jt_count_params(st, "dec.") == 69291649, "paper decoder has 69,291,649 parameters (%lld)",
           (long long)jt_count_params(st, "dec."));
    tap_ok(jt_count_params(st, "mpd.") == 41092165, "paper multi-period discriminator has 41,092,165 (%lld)",
           (long long)jt_count_params(st, "mpd."));
    tap_ok(jt_count_params(st, "msd.") == 16913859, "paper multi-scale discriminator has 16,913,859 (%lld)",
           (long long)jt_count_params(st, "msd."));
    jc_store_free(st);

    jt_config_preset("tiny", &c);
    jt_decoder_shape shape;
    jt_decoder_shape_for(&c, &shape);
    st = jc_store_new(be);
    jc_rng r;
    jc_rng_seed(&r, 31);
    jc_graph *g = jc_graph_new(be);
    int64_t F = 3;
    jc_tensor *z = jc_input(g, "z", 3, (int64_t[]){1, 128, F});
    jt_nn m = {.g = g, .params = st, .rng = &r, .cfg = &c};
    jc_tensor *wave = jt_decoder(&m, &shape, z);
    jt_disc_out out = {0};
    jt_mpd(&m, &shape, wave, &out);
    jt_msd(&m, &shape, wave, &out);
    jc_tensor *rw = jc_constant(g, "R", 3, (int64_t[]){1, 1, F * 9600}, NULL);
    jc_tensor *loss = jc_mean_all(g, jc_mul(g, wave, rw));
    for (int i = 0; i < out.n_scores; i++)
        loss = jc_add(g, loss, jc_scale(g, jc_mean_all(g, jc_sqr(g, out.score[i])), 0.1f, 0));
    for (int i = 0; i < out.n_features; i++)
        loss = jc_add(g, loss, jc_scale(g, jc_mean_all(g, jc_sqr(g, out.features[i])), 0.01f, 0));
    jc_graph_output(g, wave);
    jc_graph_output(g, loss);
    const char *names[] = {"dec.conv_in.weight", "dec.blocks.0.up.weight", "dec.blocks.2.mrf.0.conv0.weight",
                           "dec.blocks.4.mrf.2.conv3.weight", "dec.conv_out.weight", "mpd.p3.conv1.weight",
                           "mpd.p11.post.bias", "msd.s0.conv2.weight", "msd.s2.conv4.weight"};
    int n_names = (int)(sizeof names / sizeof names[0]);
    jc_error e = {0};
    jc_status s = m.failed ? JC_ERR_INVALID : jc_backward(g, loss, &e);
    jc_tensor *grads[16] = {0};
    for (int i = 0; s == JC_OK && i < n_names; i++)
        if ((grads[i] = jc_grad(g, jc_store_find(st, names[i]))) != NULL)
            jc_graph_output(g, grads[i]);
    if (s == JC_OK)
        s = jc_graph_build(g, &e);
    float *zv = tu_random(&r, 128 * F, -0.75f, 0.75f), *rv = tu_random(&r, F * 9600, -1, 1);
    if (s == JC_OK)
        s = jc_tensor_set(z, zv, &e);
    if (s == JC_OK)
        s = jc_tensor_set(rw, rv, &e);
    graph_ctx ctx = {g, loss};
    double l0 = s == JC_OK ? eval_graph(&ctx) : NAN;
    float *wv = malloc((size_t)(F * 9600) * sizeof *wv);
    int in_range = s == JC_OK && jc_tensor_get(wave, wv, &e) == JC_OK;
    for (int64_t i = 0; in_range && i < F * 9600; i++)
        in_range = wv[i] > -1.0f && wv[i] < 1.0f;
    tap_ok(s == JC_OK && isfinite(l0) && jc_tensor_dim(wave, 2) == F * 9600 && in_range,
           "decoder: %lld frames -> %lld samples in (-1, 1) (%s)", (long long)F, (long long)(F * 9600),
           s == JC_OK ? "ok" : e.msg);
    for (int i = 0; s == JC_OK && i < n_names; i++) {
        jc_tensor *p = jc_store_find(st, names[i]);
        if (!p || !grads[i]) {
            tap_ok(0, "grad %s exists", names[i]);
            continue;
        }
        int64_t n = jc_tensor_nelem(p);
        float *pv = malloc((size_t)n * sizeof *pv), *gv = malloc((size_t)n * sizeof *gv);
        jc_tensor_get(p, pv, &e);
        jc_tensor_get(grads[i], gv, &e);
        directional_check(names[i], p, pv, gv, n, &r, eval_graph, &ctx);
        free(pv);
        free(gv);
    }
    free(zv);
    free(rv);
    free(wv);
    jc_graph_free(g);
    jc_store_free(st);
}

int main(void)
{
    be = tu_backend();
    test_config_changed_keys();
    test_paper_counts();
    test_frame_counts();
    test_daam();
    test_gradients();
    test_snake_gradient();
    test_masking();
    test_batch_equals_single();
    test_step_and_ema();
    test_stage2();
    jc_backend_free(be);
    return tap_done();
}
