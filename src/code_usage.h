/* code_usage.h: how much of its 256 bits per frame a model's codes use.
 *
 * A tokenizer whose digits barely vary carries little, whatever its nominal
 * bit rate.  Over the frames of many files this counts, per FSQ dimension,
 * how often each level occurs and how often each level follows each other
 * level in consecutive frames of one file, and reports:
 *   entropy      sum over dims of the entropy of the dim's level (bits per
 *                frame; an upper bound on the information a frame carries,
 *                at most sum log2(levels) = 256)
 *   new          sum over dims of the entropy of a level given the same
 *                dim's level in the previous frame (bits per frame that the
 *                previous frame does not already predict, dim by dim)
 *   change       fraction of digits that differ from the previous frame's */
#ifndef JT_CODE_USAGE_H
#define JT_CODE_USAGE_H

#include <stdint.h>

#include "fsq.h"

typedef struct {
    jt_fsq_layout layout;
    int max_levels;
    uint64_t *count; /* [dims][max_levels] */
    uint64_t *trans; /* [dims][max_levels (previous)][max_levels] */
    int64_t frames, pairs, changes;
} jt_code_usage;

typedef struct {
    int64_t frames;
    double entropy_bits, new_bits, nominal_bits, change;
} jt_code_usage_report;

/* 0, or -1 (bad levels or out of memory). */
int jt_code_usage_init(jt_code_usage *u, const jt_config *c);
/* Adds the frames of one file (pairs never cross files).  -1 on an
 * out-of-range token (nothing is counted then). */
int jt_code_usage_add(jt_code_usage *u, const uint16_t *tokens, int64_t frames);
void jt_code_usage_get(const jt_code_usage *u, jt_code_usage_report *r);
void jt_code_usage_free(jt_code_usage *u);

#endif
