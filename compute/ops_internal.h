/* ops_internal.h: primitive constructors used by the composites, autograd
 * and optimisers, but not part of the public API. */
#ifndef JC_OPS_INTERNAL_H
#define JC_OPS_INTERNAL_H

#include "jc_internal.h"

jc_tensor *jc_binary(jc_graph *g, jc_binary_kind kind, jc_tensor *a, jc_tensor *b);
jc_tensor *jc_unary(jc_graph *g, jc_unary_kind kind, jc_tensor *a, float p0, float p1);
/* dx of the unary node fwd given dy (reads fwd's input and output). */
jc_tensor *jc_unary_grad(jc_graph *g, const jc_tensor *fwd, jc_tensor *dy);
/* Gradient of conv1d with respect to its input; also the transposed conv. */
jc_tensor *jc_conv1d_bwd_input(jc_graph *g, jc_tensor *dy, jc_tensor *w, jc_tensor *bias, jc_conv_params p,
                               int64_t t_in);
jc_tensor *jc_conv1d_bwd_weight(jc_graph *g, jc_tensor *x, jc_tensor *dy, jc_conv_params p, int k);
jc_tensor *jc_pad_reflect_grad(jc_graph *g, jc_tensor *dy, int axis, int before, int after);
jc_tensor *jc_dropout_salted(jc_graph *g, jc_tensor *a, float p, int salt);
jc_tensor *jc_frames_raw(jc_graph *g, jc_tensor *x, int n_fft, int hop);
jc_tensor *jc_frames_grad(jc_graph *g, jc_tensor *dy, int n_fft, int hop, int64_t t_len);
/* Softmax along axis as one operation (jc_softmax adds the mask around it),
 * and its gradient from its output y. */
jc_tensor *jc_softmax_fused(jc_graph *g, jc_tensor *a, int axis);
jc_tensor *jc_softmax_grad(jc_graph *g, jc_tensor *y, jc_tensor *dy);
/* The real DFT (adjoint 0) or its transpose (1) of a's last axis, with the
 * twiddle table [2, N/2 + 1] (cos and sin of 2 pi k / N) every backend
 * reads; NULL makes one (autograd passes the forward's on). */
jc_tensor *jc_rdft_node(jc_graph *g, int adjoint, jc_tensor *a, jc_tensor *twiddles);
/* Sum a broadcast gradient back to the shape of t. */
jc_tensor *jc_reduce_to_shape(jc_graph *g, jc_tensor *grad, const jc_tensor *t);

#endif
