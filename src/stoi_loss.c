/* stoi_loss.c: differentiable stand-ins for STOI and ESTOI, used as
 * optional stage-2 training terms (stoi_weight, estoi_weight; see
 * stoi_loss.h).
 *
 * STOI compares, band by band, the short-time temporal envelopes of clean
 * and decoded speech: 15 one-third-octave bands from 150 Hz, envelopes of
 * about 384 ms, and scores their correlation.  The L1 and MR-STFT terms
 * reward matching magnitudes frame by frame, which lets a decoder that
 * cannot know the exact levels smooth the envelope in time; correlation
 * instead rewards following its ups and downs at any level.  What is
 * different from the metric, and why:
 *   - the waves stay at the model's rate (24 kHz) with a 512-point STFT
 *     (21 ms window, hop 256 = 10.7 ms) instead of resampling to 10 kHz
 *     with 25.6 ms frames: a similar time scale without a resampler in the
 *     graph; bands are summed over the FFT bins they cover;
 *   - no clipping of the degraded envelope (it has no gradient where it
 *     clips) and no removal of silent frames (the crops are short speech);
 *     instead each correlation's denominator carries a small constant, so
 *     a segment whose clean envelope is nearly flat (silence, padding)
 *     scores near 0 whatever the decoder does and pushes nowhere.
 * The ESTOI form (estoi_weight) differs from ESTOI in the same ways and
 * scores each frame's column of the 15 normalised bands, so that the
 * spectral shape, not only each band's level, must move as the clean
 * one does; its columns carry a tiny constant too (stoi_loss.h). */
#include <math.h>

#include "stoi_loss.h"

#define MIN_HZ 150.0

static void band_matrix(float *w, int rate)
{
    const double df = (double)rate / JT_STOI_LOSS_NFFT;
    for (int b = 0; b < JT_STOI_LOSS_BANDS; b++) {
        double cf = MIN_HZ * pow(2.0, b / 3.0);
        int lo = (int)floor(cf * pow(2.0, -1.0 / 6.0) / df + 0.5);
        int hi = (int)floor(cf * pow(2.0, 1.0 / 6.0) / df + 0.5);
        if (hi <= lo) /* a band narrower than a bin still gets one */
            hi = lo + 1;
        for (int k = lo; k < hi && k < JT_STOI_LOSS_BINS; k++)
            w[k * JT_STOI_LOSS_BANDS + b] = 1.0f;
    }
}

int jt_stoi_loss_segment(int rate)
{
    return (int)lround(0.384 * rate / JT_STOI_LOSS_HOP);
}

/* [B, T] -> envelope segments [B * bands, S, N], each with its mean removed */
static jc_tensor *segments(jc_graph *g, jc_tensor *x, jc_tensor *bands, int n)
{
    jc_tensor *mag = jc_stft_magnitude(g, x, JT_STOI_LOSS_NFFT, JT_STOI_LOSS_HOP);
    /* the 1e-8 keeps sqrt's gradient finite at exact silence */
    jc_tensor *env = jc_sqrt(g, jc_scale(g, jc_matmul(g, jc_sqr(g, mag), bands, 0, 0), 1, 1e-8f));
    int64_t B = jc_tensor_dim(env, 0), F = jc_tensor_dim(env, 1);
    env = jc_reshape(g, jc_transpose(g, env, 1, 2), 2, (int64_t[]){B * JT_STOI_LOSS_BANDS, F});
    jc_tensor *seg = jc_frames(g, env, n, 1, NULL);
    return jc_sub(g, seg, jc_mean(g, seg, -1));
}

int64_t jt_stoi_loss_min_samples(int rate)
{
    return (int64_t)(jt_stoi_loss_segment(rate) - 1) * JT_STOI_LOSS_HOP;
}

/* x / sqrt(sum of x^2 along axis + eps): unit norm where x has energy */
static jc_tensor *normalised(jc_graph *g, jc_tensor *x, int axis, float eps)
{
    return jc_div(g, x, jc_sqrt(g, jc_scale(g, jc_sum(g, jc_sqr(g, x), axis), 1, eps)));
}

/* decoded and clean [B, 1, T] -> their envelope segments [B * bands, S,
 * N], each row centred and of unit norm (up to JT_STOI_LOSS_EPS): what both
 * forms start from */
static void unit_rows(jc_graph *g, jc_tensor *decoded, jc_tensor *clean, int rate, jc_tensor **y, jc_tensor **x)
{
    int64_t B = jc_tensor_dim(clean, 0), T = jc_tensor_dim(clean, 2);
    float w[JT_STOI_LOSS_BINS * JT_STOI_LOSS_BANDS] = {0};
    band_matrix(w, rate);
    jc_tensor *bands = jc_constant(g, "stoi_loss.bands", 2, (int64_t[]){JT_STOI_LOSS_BINS, JT_STOI_LOSS_BANDS}, w);
    int n = jt_stoi_loss_segment(rate);
    *y = normalised(g, segments(g, jc_reshape(g, decoded, 2, (int64_t[]){B, T}), bands, n), -1, JT_STOI_LOSS_EPS);
    *x = normalised(g, segments(g, jc_reshape(g, clean, 2, (int64_t[]){B, T}), bands, n), -1, JT_STOI_LOSS_EPS);
}

/* [B * bands, S, N] rows of unit norm -> [B, S, N, bands] columns, centred
 * and of unit norm */
static jc_tensor *spectral_columns(jc_graph *g, jc_tensor *rows, int64_t B)
{
    int64_t S = jc_tensor_dim(rows, 1), N = jc_tensor_dim(rows, 2);
    jc_tensor *r = jc_reshape(g, rows, 4, (int64_t[]){B, JT_STOI_LOSS_BANDS, S, N});
    jc_tensor *c = jc_permute(g, r, (const int[]){0, 2, 3, 1});
    return normalised(g, jc_sub(g, c, jc_mean(g, c, -1)), -1, JT_ESTOI_LOSS_EPS);
}

void jt_stoi_losses(jc_graph *g, jc_tensor *decoded, jc_tensor *clean, int rate, jc_tensor **stoi,
                    jc_tensor **estoi)
{
    jc_tensor *x, *y;
    unit_rows(g, decoded, clean, rate, &y, &x);
    /* STOI: corr = xy / sqrt((xx + eps)(yy + eps)), the rows' products */
    if (stoi)
        *stoi = jc_scale(g, jc_mean_all(g, jc_sum(g, jc_mul(g, x, y), -1)), -1, 1);
    if (estoi) {
        int64_t B = jc_tensor_dim(clean, 0);
        jc_tensor *xc = spectral_columns(g, x, B), *yc = spectral_columns(g, y, B);
        *estoi = jc_scale(g, jc_mean_all(g, jc_sum(g, jc_mul(g, xc, yc), -1)), -1, 1);
    }
}

jc_tensor *jt_stoi_loss(jc_graph *g, jc_tensor *decoded, jc_tensor *clean, int rate)
{
    jc_tensor *l;
    jt_stoi_losses(g, decoded, clean, rate, &l, NULL);
    return l;
}

jc_tensor *jt_estoi_loss(jc_graph *g, jc_tensor *decoded, jc_tensor *clean, int rate)
{
    jc_tensor *l;
    jt_stoi_losses(g, decoded, clean, rate, NULL, &l);
    return l;
}
