/* stage1.h: one JEPA training step as a single graph:
 * online encoder -> mask token at masked frames -> predictor, target
 * encoder (EMA, evaluation mode, no gradient), masked MSE, backward,
 * gradient clipping, AdamW, EMA update. */
#ifndef JT_STAGE1_H
#define JT_STAGE1_H

#include "jepa.h"

typedef struct {
    jc_graph *g;
    int64_t B, T, F;
    jt_masks mk;
    jc_tensor *wave;      /* input [B, 1, T] */
    jc_tensor *jmask;     /* input [B, 1, F]: 1 = frame the predictor fills */
    jc_tensor *loss;      /* outputs */
    jc_tensor *pred, *target, *grad_norm;
} jt_stage1_step;

/* Record and build the step for batches of B clips of T samples (T a
 * multiple of the hop).  opt (may be NULL for a forward-only graph) must
 * be created on j->online. */
int jt_stage1_step_build(jt_stage1_step *s, jt_jepa *j, jc_adamw *opt, int64_t B, int64_t T, char *err,
                         size_t errlen);
void jt_stage1_step_free(jt_stage1_step *s);

#endif
