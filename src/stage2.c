/* stage2.c: the stage-2 model and its training-step graphs (see stage2.h). */
#include <stdio.h>
#include <string.h>

#include "stage2.h"
#include "stoi_loss.h"

int jt_stage2_model_create(jt_stage2 *m, const jt_config *c, jc_backend *be, uint64_t seed, int no_init,
                           int with_disc, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    m->be = be;
    jt_decoder_shape_for(c, &m->shape);
    m->enc = jc_store_new(be);
    m->gen = jc_store_new(be);
    m->disc = with_disc ? jc_store_new(be) : NULL;
    jc_rng rng;
    jc_rng_seed(&rng, seed);
    if (!m->enc || !m->gen || (with_disc && !m->disc) ||
        jt_encoder_create(m->enc, &m->cfg, no_init ? NULL : &rng, err, errlen) ||
        jt_stage2_create(m->gen, m->disc, &m->cfg, no_init ? NULL : &rng, NULL, err, errlen)) {
        if (!m->enc || !m->gen)
            snprintf(err, errlen, "out of memory");
        jt_stage2_model_free(m);
        return -1;
    }
    return 0;
}

void jt_stage2_model_free(jt_stage2 *m)
{
    jc_store_free(m->enc);
    jc_store_free(m->gen);
    jc_store_free(m->disc);
    m->enc = m->gen = m->disc = NULL;
}

static jc_tensor *levels_constant(jc_graph *g, const jt_config *c)
{
    float lv[JT_MAX_DIMS];
    for (int d = 0; d < c->fsq_dims; d++)
        lv[d] = (float)c->fsq_levels[d];
    return jc_constant(g, "fsq.levels", 3, (int64_t[]){1, c->fsq_dims, 1}, lv);
}

jc_tensor *jt_quantize(jc_graph *g, const jt_config *c, jc_tensor *z, jc_tensor **index)
{
    jc_tensor *lv = levels_constant(g, c), *bounded = jc_tanh(g, z);
    if (index)
        *index = jc_fsq_index(g, bounded, lv);
    return jc_fsq_quantize(g, bounded, lv);
}

jc_tensor *jt_dequantize(jc_graph *g, const jt_config *c, jc_tensor *index)
{
    jc_tensor *lv = levels_constant(g, c);
    return jc_div(g, jc_sub(g, jc_scale(g, index, 2.0f, 1.0f), lv), lv);
}

jc_tensor *jt_mrstft_loss(jc_graph *g, jc_tensor *a, jc_tensor *b)
{
    static const int sizes[5] = {2048, 1024, 512, 256, 128};
    int64_t B = jt_dim(a, 0), T = jt_dim(a, 2);
    jc_tensor *a2 = jc_reshape(g, a, 2, (int64_t[]){B, T}), *b2 = jc_reshape(g, b, 2, (int64_t[]){B, T});
    jc_tensor *sum = NULL;
    for (int i = 0; i < 5; i++) {
        if (sizes[i] / 2 >= T) /* reflect padding needs T > n_fft / 2 */
            continue;
        jc_tensor *sa = jc_stft_magnitude(g, a2, sizes[i], sizes[i] / 4);
        jc_tensor *sb = jc_stft_magnitude(g, b2, sizes[i], sizes[i] / 4);
        jc_tensor *lin = jc_l1_loss(g, sa, sb, NULL);
        jc_tensor *lg = jc_l1_loss(g, jc_log(g, jc_scale(g, sa, 1, 1e-5f)), jc_log(g, jc_scale(g, sb, 1, 1e-5f)), NULL);
        jc_tensor *term = jc_add(g, lin, lg);
        sum = sum ? jc_add(g, sum, term) : term;
    }
    return jc_scale(g, sum, 1.0f / 5.0f, 0);
}

/* Both discriminators on [real; fake] stacked along the batch: one pass
 * with twice the batch instead of two passes. */
static void discriminate(jt_nn *m, const jt_decoder_shape *shape, jc_tensor *real, jc_tensor *fake, jt_disc_out *out)
{
    jc_tensor *both = jc_concat(m->g, real, fake, 0);
    jt_mpd(m, shape, both, out);
    jt_msd(m, shape, both, out);
}

static jc_tensor *half(jc_graph *g, jc_tensor *t, int second)
{
    int64_t B2 = jt_dim(t, 0);
    return jc_slice(g, t, 0, second ? B2 / 2 : 0, B2 / 2);
}

static jc_tensor *accumulate(jc_graph *g, jc_tensor *sum, jc_tensor *term)
{
    return sum ? jc_add(g, sum, term) : term;
}

static void set_trainable(jc_store *st, int on)
{
    for (int i = 0; i < jc_store_count(st); i++)
        jc_tensor_set_trainable(jc_store_at(st, i), on);
}

static int finish(jc_status st, const jc_error *e, const char *what, char *err, size_t errlen)
{
    if (st != JC_OK) {
        snprintf(err, errlen, "%s graph: %s", what, e->msg);
        return -1;
    }
    return 0;
}

int jt_gen_step_build(jt_gen_step *s, jt_stage2 *m, jc_adamw *opt_gen, jc_adamw *opt_enc, int64_t B, int64_t T,
                      int adversarial, char *err, size_t errlen)
{
    const jt_config *c = &m->cfg;
    if ((c->stoi_weight > 0 || c->estoi_weight > 0) && T < jt_stoi_loss_min_samples(c->sample_rate)) {
        snprintf(err, errlen, "stage 2: the (E)STOI loss needs crops of at least %lld samples, not %lld",
                 (long long)jt_stoi_loss_min_samples(c->sample_rate), (long long)T);
        return -1;
    }
    jc_graph *g = jc_graph_new(m->be);
    *s = (jt_gen_step){.g = g, .B = B, .T = T, .adversarial = adversarial};
    jt_masks_inputs(g, c, B, T, &s->mk);
    s->wave = jc_input(g, "wave", 3, (int64_t[]){B, 1, T});
    s->smask = jc_input(g, "sample_mask", 3, (int64_t[]){B, 1, T});
    /* the encoder in evaluation mode (no dropout) also when fine-tuned:
     * its features should stay those stage 1 produced */
    jt_nn enc = {.g = g, .params = m->enc, .training = 0, .cfg = c};
    jt_nn gen = {.g = g, .params = m->gen, .training = 1, .cfg = c};
    jt_nn disc = {.g = g, .params = m->disc, .training = 1, .cfg = c};
    jc_tensor *z = jt_encoder(&enc, s->wave, &s->mk);
    if (!opt_enc)
        z = jc_stop_gradient(g, z);
    jc_tensor *y = jt_decoder(&gen, &m->shape, jt_quantize(g, c, z, NULL));
    s->fake = jc_mul(g, y, s->smask);
    s->l1 = jc_l1_loss(g, s->fake, s->wave, s->smask);
    s->stft = jt_mrstft_loss(g, s->fake, s->wave);
    s->loss = jc_add(g, s->l1, jc_scale(g, s->stft, c->stft_weight, 0));
    if (c->stoi_weight > 0 || c->estoi_weight > 0)
        jt_stoi_losses(g, s->fake, s->wave, c->sample_rate, c->stoi_weight > 0 ? &s->stoi : NULL,
                       c->estoi_weight > 0 ? &s->estoi : NULL);
    if (s->stoi)
        s->loss = jc_add(g, s->loss, jc_scale(g, s->stoi, c->stoi_weight, 0));
    if (s->estoi)
        s->loss = jc_add(g, s->loss, jc_scale(g, s->estoi, c->estoi_weight, 0));
    if (adversarial) {
        jt_disc_out out = {0};
        discriminate(&disc, &m->shape, s->wave, s->fake, &out);
        for (int i = 0; i < out.n_scores; i++) /* LSGAN: mean (1 - D(fake))^2 */
            s->adv = accumulate(g, s->adv, jc_mean_all(g, jc_sqr(g, jc_scale(g, half(g, out.score[i], 1), -1, 1))));
        for (int i = 0; i < out.n_features; i++) {
            jc_tensor *f = out.features[i];
            s->fm = accumulate(g, s->fm, jc_l1_loss(g, half(g, f, 1), jc_stop_gradient(g, half(g, f, 0)), NULL));
        }
        jc_tensor *gan = jc_add(g, s->adv, jc_scale(g, s->fm, c->fm_weight, 0));
        s->loss = jc_add(g, s->loss, jc_scale(g, gan, c->adv_weight, 0));
    }
    if (enc.failed || gen.failed || disc.failed) {
        snprintf(err, errlen, "stage 2: %s", enc.failed ? enc.err : gen.failed ? gen.err : disc.err);
        jt_gen_step_free(s);
        return -1;
    }
    jc_tensor *outs[] = {s->fake, s->loss, s->l1, s->stft, s->stoi, s->estoi, s->adv, s->fm};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        if (outs[i])
            jc_graph_output(g, outs[i]);
    jc_error e = {0};
    jc_status st = JC_OK;
    if (opt_gen) {
        /* the discriminators are judges here, not students */
        if (m->disc)
            set_trainable(m->disc, 0);
        st = jc_backward(g, s->loss, &e);
        if (m->disc)
            set_trainable(m->disc, 1);
        if (st == JC_OK)
            st = jc_adamw_append(opt_gen, g, &s->grad_norm, &e);
        if (st == JC_OK && opt_enc)
            st = jc_adamw_append(opt_enc, g, &s->enc_grad_norm, &e);
    }
    if (st == JC_OK)
        st = jc_graph_build(g, &e);
    if (finish(st, &e, "stage 2 generator", err, errlen)) {
        jt_gen_step_free(s);
        return -1;
    }
    return 0;
}

int jt_disc_step_build(jt_disc_step *s, jt_stage2 *m, jc_adamw *opt_disc, int64_t B, int64_t T, char *err,
                       size_t errlen)
{
    jc_graph *g = jc_graph_new(m->be);
    *s = (jt_disc_step){.g = g};
    s->real = jc_input(g, "real", 3, (int64_t[]){B, 1, T});
    s->fake = jc_input(g, "fake", 3, (int64_t[]){B, 1, T});
    jt_nn disc = {.g = g, .params = m->disc, .training = 1, .cfg = &m->cfg};
    jt_disc_out out = {0};
    discriminate(&disc, &m->shape, s->real, s->fake, &out);
    for (int i = 0; i < out.n_scores; i++) { /* LSGAN: (1 - D(real))^2 + D(fake)^2 */
        jc_tensor *r = jc_mean_all(g, jc_sqr(g, jc_scale(g, half(g, out.score[i], 0), -1, 1)));
        jc_tensor *f = jc_mean_all(g, jc_sqr(g, half(g, out.score[i], 1)));
        s->loss = accumulate(g, s->loss, jc_add(g, r, f));
    }
    if (disc.failed) {
        snprintf(err, errlen, "stage 2: %s", disc.err);
        jt_disc_step_free(s);
        return -1;
    }
    jc_graph_output(g, s->loss);
    jc_error e = {0};
    jc_status st = jc_backward(g, s->loss, &e);
    if (st == JC_OK)
        st = jc_adamw_append(opt_disc, g, &s->grad_norm, &e);
    if (st == JC_OK)
        st = jc_graph_build(g, &e);
    if (finish(st, &e, "stage 2 discriminator", err, errlen)) {
        jt_disc_step_free(s);
        return -1;
    }
    return 0;
}

void jt_gen_step_free(jt_gen_step *s)
{
    jc_graph_free(s->g);
    s->g = NULL;
}

void jt_disc_step_free(jt_disc_step *s)
{
    jc_graph_free(s->g);
    s->g = NULL;
}
