/* model_file.h: the tokenizer file that encode and decode load
 * (model.safetensors): the encoder ("enc.*") and decoder ("dec.*")
 * weights, and in the metadata:
 *   format    "jepatok-model"
 *   config    the configuration as JSON
 *   model_id  32 hex digits: the first 16 bytes of SHA-256 over every
 *             tensor (sorted by name: name, NUL, ndim and dims as int64
 *             little-endian, values as float32 little-endian)
 *   any further keys given at save time (steps, data, ...).
 * The id is computed from the values the file stores (an F16 file hashes
 * its rounded values), and checked on load: a file whose weights do not
 * hash to its id is refused as corrupt.  Token files record the id, so
 * tokens are never decoded by a model that did not make them. */
#ifndef JT_MODEL_FILE_H
#define JT_MODEL_FILE_H

#include "stage2.h"
#include "tokens.h"

/* The id of the encoder + decoder weights of m. */
int jt_model_id(const jt_stage2 *m, uint8_t id[JT_MODEL_ID_BYTES], char *err, size_t errlen);
void jt_model_id_hex(const uint8_t id[JT_MODEL_ID_BYTES], char hex[2 * JT_MODEL_ID_BYTES + 1]);
/* Save m's encoder and decoder (dtype F32 or F16; m itself is not
 * changed) with extra metadata (may be NULL).  *id_out may be NULL. */
int jt_model_save(const char *path, const jt_stage2 *m, jc_dtype dtype, const jc_metadata *extra,
                  uint8_t id_out[JT_MODEL_ID_BYTES], char *err, size_t errlen);
/* What a model file declares, without its weights: its configuration and
 * model id, checked as jt_model_load checks them; md (may be NULL)
 * receives the metadata (free it with jc_metadata_free). */
int jt_model_read_header(const char *path, jt_config *cfg, uint8_t id[JT_MODEL_ID_BYTES], jc_metadata *md, char *err,
                         size_t errlen);
/* Load into a new jt_stage2 (no discriminators) on be; md (may be NULL)
 * receives the metadata. */
int jt_model_load(const char *path, jc_backend *be, jt_stage2 *m, uint8_t id[JT_MODEL_ID_BYTES], jc_metadata *md,
                  char *err, size_t errlen);
/* The model used when none is named: $JEPATOK_MODEL, else the source
 * tree's models/default.safetensors when it exists (JT_SOURCE_MODEL_DIR:
 * runs from the build tree use the model they were built with), else the
 * installed JT_MODEL_DIR/default.safetensors. */
const char *jt_model_default_path(char *buf, size_t n);

#endif
