/* fsq.h: mixed-radix packing of FSQ level indices into tokens.
 *
 * Rule: consecutive dimensions form a group while the product of their
 * level counts stays <= 2^14 (16384), so every token fits 14 bits; within a
 * group, digits pack big-endian: token = sum_k i_k * prod_{j>k} r_j (the
 * paper's formula: [2,1,3,0,2,1,3] with radix 4 -> 10023).  With 128 dims
 * of 4 levels: 18 groups of 7 dims and one of 2 -> 19 tokens per frame,
 * 256 bits per frame. */
#ifndef JT_FSQ_H
#define JT_FSQ_H

#include <stdint.h>

#include "config.h"

#define JT_FSQ_MAX_TOKEN_RANGE 16384

typedef struct {
    int dims;                        /* 128 */
    int levels[JT_MAX_DIMS];
    int n_groups;                    /* tokens per frame */
    int group_start[JT_MAX_DIMS + 1];/* dims of group k: [start[k], start[k+1]) */
    int32_t radix[JT_MAX_DIMS];      /* product of the group's level counts */
} jt_fsq_layout;

/* Returns 0, or -1 if a level count is outside 2..16384. */
int jt_fsq_layout_init(jt_fsq_layout *f, const jt_config *c);
/* Bits of information per frame: sum of log2(levels). */
double jt_fsq_bits_per_frame(const jt_fsq_layout *f);
/* digits[dims] -> tokens[n_groups]. Returns -1 if a digit is out of range. */
int jt_fsq_pack(const jt_fsq_layout *f, const int *digits, uint16_t *tokens);
/* tokens -> digits; returns -1 if a token is outside its group's range. */
int jt_fsq_unpack(const jt_fsq_layout *f, const uint16_t *tokens, int *digits);

#endif
