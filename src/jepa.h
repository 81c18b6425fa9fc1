/* jepa.h: the stage-1 model: online encoder + predictor + mask token (one
 * store, trained by AdamW) and the target encoder (EMA copy, never trained). */
#ifndef JT_JEPA_H
#define JT_JEPA_H

#include "model.h"

/* The target's tensors are named like the online encoder's with this
 * prefix, so both fit in one checkpoint. */
#define JT_TARGET_PREFIX "target."

typedef struct {
    jt_config cfg;
    jc_backend *be;
    jc_store *online; /* "enc.*", "pred.*", "mask_token" */
    jc_store *target; /* "target.enc.*": a copy of the online encoder */
} jt_jepa;

/* Create every parameter (initialised from seed, or zero-filled when
 * no_init) and the target as a copy of the online encoder. */
int jt_jepa_create(jt_jepa *j, const jt_config *c, jc_backend *be, uint64_t seed, int no_init, char *err,
                   size_t errlen);
void jt_jepa_free(jt_jepa *j);
/* target <- online encoder (the start of training). */
jc_status jt_jepa_reset_target(jt_jepa *j, jc_error *err);
/* Parameters of a store whose names start with prefix. */
int64_t jt_count_params(const jc_store *st, const char *prefix);
/* Multiply-adds per second of audio of the encoder and the predictor,
 * counted on a recording of seconds of audio. */
int jt_jepa_macs(const jt_jepa *j, double seconds, double *enc_macs, double *pred_macs);

#endif
