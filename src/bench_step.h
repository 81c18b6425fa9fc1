/* bench_step.h: what `jepatok bench stage1` and `bench stage2` share: their
 * options, the backend they time on, and the median of the step times. */
#ifndef JT_BENCH_STEP_H
#define JT_BENCH_STEP_H

#include <stdint.h>

#include "config.h"
#include "jc.h"

typedef struct {
    const char *config, *backend;
    const char *model;      /* non-NULL: the configuration of this model file, not config */
    int64_t batch, steps, warmup, threads;
    double crop_seconds;
    int adversarial;        /* stage 2 only */
    double finetune_encoder; /* stage 2 only: > 0 trains the encoder too */
} jt_step_bench;

/* Parse the options after `bench STAGE` into b (holding the defaults) and
 * look up the configuration (with_adversarial: the stage-2 options too).  0: go on; 1: --help was asked; 2: a usage
 * error, already printed with cmd ("jepatok bench stage1"). */
int jt_step_bench_parse(int argc, char **argv, const char *cmd, int with_adversarial, jt_step_bench *b,
                        jt_config *cfg);
/* The backend: --threads N on the CPU, else --backend as the trainers open
 * it.  NULL after printing why. */
jc_backend *jt_step_bench_backend(const jt_step_bench *b, const char *cmd);
/* --model as a JSON value for the result line: null or the path as a
 * string; free() it (NULL when out of memory or not UTF-8). */
char *jt_step_bench_model_json(const jt_step_bench *b);
/* Median of n values (sorts them). */
double jt_median(double *v, int64_t n);

#endif
