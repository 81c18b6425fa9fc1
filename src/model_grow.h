/* model_grow.h: continue training a model in a wider configuration.
 *
 * `jepatok train stage2 --init MODEL --config WIDER.json` starts from MODEL
 * even where WIDER.json gives the decoder more channels (dec_channels): every
 * tensor of MODEL goes into the leading corner of the larger tensor, the new
 * channels keep their fresh initialisation, and every weight from a new
 * input channel into an old output channel starts at zero.  The old
 * channels therefore compute exactly what they computed before and the
 * grown model's output equals MODEL's at step 0 ("function-preserving"
 * growth, as in Net2Net); the new channels join in as their outgoing
 * weights move away from zero.  With equal shapes it is a plain load. */
#ifndef JT_MODEL_GROW_H
#define JT_MODEL_GROW_H

#include "model_file.h"
#include "stage2.h"

/* Fill dst's encoder and decoder (already initialised for its own,
 * equal or wider, configuration) from the model file at path, and id (if
 * not NULL) with that file's model id.  Every tensor must exist in both
 * with the same rank and no dimension smaller in dst.  0 on success, -1
 * with a message. */
int jt_model_grow_from(jt_stage2 *dst, const char *path, uint8_t id[JT_MODEL_ID_BYTES], char *err, size_t errlen);

#endif
