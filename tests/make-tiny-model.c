/* make-tiny-model.c: `make-tiny-model PATH [SEED]` writes a random `tiny`
 * model file, for tests that need a model but not a trained one. */
#include <stdio.h>
#include <stdlib.h>

#include "tiny-model.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: make-tiny-model PATH [SEED]\n");
        return 2;
    }
    char err[1024];
    if (tiny_model_write(argv[1], argc > 2 ? strtoull(argv[2], NULL, 10) : 1, err, sizeof err)) {
        fprintf(stderr, "make-tiny-model: %s\n", err);
        return 1;
    }
    return 0;
}
