/* nn.h: building blocks of the model on top of the compute layer.
 *
 * A jt_nn is the context of one forward recording: the graph, the store the
 * parameters live in, and whether dropout is on.  Parameters are named by a
 * dotted path ("enc.blocks.2.res.1.conv0.weight") and created on first use
 * with PyTorch's default initialisation, so a single forward function defines
 * both the parameter set and the computation: recording it once against an
 * empty store creates every parameter; recording it against a filled store
 * (a checkpoint, the EMA target) only looks them up, and a missing or
 * mis-shaped parameter is an error naming it. */
#ifndef JT_NN_H
#define JT_NN_H

#include "config.h"
#include "jc.h"

typedef struct {
    jc_graph *g;
    jc_store *params;
    jc_rng *rng;    /* initialiser stream; NULL forbids creating parameters */
    int no_init;    /* create parameters zero-filled (shapes only, e.g. for counting) */
    int training;   /* dropout on */
    const jt_config *cfg;
    char prefix[160];
    int failed;
    char err[256];
} jt_nn;

typedef enum {
    JT_INIT_FAN_IN,      /* U(-1/sqrt(a), 1/sqrt(a)): torch's conv/linear default */
    JT_INIT_CONST,       /* every element = a */
    JT_INIT_TRUNC_NORMAL, /* N(0, a^2) truncated at +-2a */
    JT_INIT_LINSPACE     /* evenly spaced from -a to a (0 for one element) */
} jt_init;

/* Enter / leave a name scope: jt_scope(m, "blocks.%d", i) ... jt_unscope(m, saved). */
size_t jt_scope(jt_nn *m, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void jt_unscope(jt_nn *m, size_t saved);

/* The parameter prefix.name, created (initialised) or looked up. */
jc_tensor *jt_param(jt_nn *m, const char *name, int ndim, const int64_t *shape, jt_init init, float a);

/* Conv1d with bias, PyTorch initialisation.  pad_l/pad_r explicit. */
jc_tensor *jt_conv(jt_nn *m, const char *name, jc_tensor *x, int cout, int k, int stride, int pad_l, int pad_r,
                   int dilation, int groups);
/* 1x1 convolution = a linear layer over channels of [B, C, T]. */
jc_tensor *jt_linear(jt_nn *m, const char *name, jc_tensor *x, int cout);
/* SnakeBeta: x + min(1/a, 10) sin^2(a x), a = softplus(p) + 0.01 per channel. */
jc_tensor *jt_snake(jt_nn *m, const char *name, jc_tensor *x);
/* The affine parameters of a normalisation: name.weight = 1, name.bias = 0. */
int jt_norm_params(jt_nn *m, const char *name, int64_t channels, jc_tensor **weight, jc_tensor **bias);
/* LayerNorm over the channels of [B, C, T] with affine parameters. */
jc_tensor *jt_layer_norm_channels(jt_nn *m, const char *name, jc_tensor *x);
/* HiFi-GAN type-1 residual stack in the current scope: for each of the three
 * dilations d, x += conv_k_1(lrelu(conv_k_d(lrelu(x)))) with parameters
 * conv0 .. conv5.  With a mask (may be NULL), padding is cleared between
 * and after the two convs so no bias leaks into valid steps. */
jc_tensor *jt_res_stack(jt_nn *m, jc_tensor *x, int k, const int *dilations, jc_tensor *mask);
/* Dropout when training (identity otherwise). */
jc_tensor *jt_dropout(jt_nn *m, jc_tensor *x, float p);

/* Length of an axis of t (shape helpers). */
int64_t jt_dim(const jc_tensor *t, int axis);

#endif
