/* train.h: the trainers behind `jepatok train`. */
#ifndef JT_TRAIN_H
#define JT_TRAIN_H

#include <stdint.h>

#include "cli.h"
#include "jc.h"

typedef struct {
    const char *config;  /* preset name or JSON overrides, NULL: small, or with
                            stage 2's --init the model's (ignored on resume) */
    const char *data;    /* list file or directory */
    const char *out;     /* run directory */
    const char *backend; /* NULL: $JEPATOK_BACKEND or cpu */
    int64_t steps, batch, log_every, checkpoint_every;
    double crop_seconds;
    float lr;            /* <= 0: the configuration's */
    int64_t decay_from;  /* > 0: every learning rate decays (half cosine) from this step to 0 at steps */
    uint64_t seed;
    int resume;
    const char *encoder;     /* stage 2: stage-1 run directory or checkpoint */
    double finetune_encoder; /* stage 2: encoder learning-rate scale; 0 = frozen */
    const char *init;        /* stage 2: start encoder and decoder from this model file */
    int keep_models;         /* stage 2: also keep each checkpoint's model as DIR/models/STEP.safetensors */
} jt_train_opts;

int jt_train_stage1(const jt_train_opts *o);
int jt_train_stage2(const jt_train_opts *o);
/* The optimiser settings of a configuration under these options. */
jc_adamw_config jt_train_adamw_config(const jt_train_opts *o, const jt_config *c);
/* Open --backend NAME (or $JEPATOK_BACKEND, else cpu); "auto" says on
 * stderr what it picked. */
jc_backend *jt_open_backend(const char *name, jc_error *err);
/* Create the run directory o->out and open the backend; NULL after
 * printing why (prefixed with cmd). */
jc_backend *jt_train_begin(const jt_train_opts *o, const char *cmd);
/* At the end of a run: the files the data pipeline skipped, and why. */
struct jt_data;
void jt_train_report_skipped(const struct jt_data *data);

#endif
