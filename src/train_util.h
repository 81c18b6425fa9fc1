/* train_util.h: what every trainer shares: a progress bar, the metrics
 * log (one JSON object per line), a loss-curve picture, run directories. */
#ifndef JT_TRAIN_UTIL_H
#define JT_TRAIN_UTIL_H

#include <stdint.h>
#include <stdio.h>

/* mkdir -p; 0 or -1 with errno. */
int jt_mkdirs(const char *path);
double jt_now(void);

/* A one-line progress bar on stderr: redrawn in place on a terminal,
 * printed every ~5% otherwise (logs stay readable). */
typedef struct {
    int64_t total, start_step;
    double t0, last_print;
    int tty;
} jt_progress;
void jt_progress_start(jt_progress *p, int64_t start_step, int64_t total);
void jt_progress_update(jt_progress *p, int64_t step, const char *extra);
void jt_progress_end(jt_progress *p);

/* Append-only JSON-lines log.  Reopening for a resumed run first drops the
 * lines of steps after resume_step (written after the last checkpoint). */
FILE *jt_metrics_open(const char *dir, int64_t resume_step);

/* Loss curves as an SVG picture (no plotting library needed), written
 * atomically: series of (step, value) read back from metrics.jsonl, on a
 * log axis; once the longest series has 200 points, every series is drawn
 * pale under its moving mean over about 1 % of the longest's points.
 * Values <= 0 are left out. */
int jt_plot_metrics(const char *dir, const char *const *keys, int n_keys, const char *title);

#endif
