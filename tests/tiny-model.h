/* tiny-model.h: write a small random tokenizer model file for tests. */
#ifndef JT_TEST_TINY_MODEL_H
#define JT_TEST_TINY_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* The `tiny` configuration with weights drawn from seed, saved as a model
 * file (F32) at path.  0, or -1 with a message. */
int tiny_model_write(const char *path, uint64_t seed, char *err, size_t errlen);

#endif
