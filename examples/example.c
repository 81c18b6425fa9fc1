/* example.c: speech -> tokens -> speech with the jepatok C API.
 * Build: cc example.c $(pkg-config --cflags --libs jepatok) -lm
 * Run:   ./example [MODEL]      (default: $JEPATOK_MODEL or the installed model) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "jepatok.h"

int main(int argc, char **argv)
{
    const int rate = 16000;          /* any rate works: the library resamples */
    const size_t n = 3 * rate / 2;   /* 1.5 s */
    jepatok_error err = {0};
    jepatok_model *model = NULL;
    jepatok_context *ctx = NULL;
    uint16_t *tokens = NULL;
    size_t frames = 0;
    float *out = NULL, *pcm = malloc(n * sizeof *pcm);
    int status = 1;

    /* a vowel-like sound: 140 Hz and four harmonics, faded in and out */
    for (size_t i = 0; pcm && i < n; i++) {
        double t = (double)i / rate, v = 0;
        for (int h = 1; h <= 5; h++)
            v += sin(6.283185307179586 * 140.0 * h * t) / h;
        pcm[i] = (float)(0.2 * v * sin(3.141592653589793 * (double)i / n));
    }

    if (!pcm || !(model = jepatok_model_open(argc > 1 ? argv[1] : NULL, &err)) ||
        !(ctx = jepatok_context_new(model, NULL, &err)) ||
        jepatok_encode(ctx, pcm, n, rate, &tokens, &frames, &err))
        goto done;
    int per_frame = jepatok_model_tokens_per_frame(model);
    printf("model %s: %zu samples at %d Hz -> %zu frames x %d tokens (%.0f bit/s)\n", jepatok_model_id_hex(model), n,
           rate, frames, per_frame, jepatok_model_bits_per_frame(model) * jepatok_model_frame_rate(model));
    printf("first tokens:");
    for (int k = 0; k < 5; k++)
        printf(" %u", (unsigned)tokens[k]);
    printf("\n");
    if ((size_t)ceil(1.5 * jepatok_model_frame_rate(model)) != frames) {
        fprintf(stderr, "example: expected %.0f frames for 1.5 s\n", ceil(1.5 * jepatok_model_frame_rate(model)));
        goto done;
    }

    /* decode at the input's rate and length: exactly n samples come back */
    if (jepatok_decode(ctx, tokens, frames, rate, n, &out, &err))
        goto done;
    double energy = 0;
    for (size_t i = 0; i < n; i++)
        energy += (double)out[i] * out[i];
    printf("decoded %zu samples at %d Hz, RMS %.4f\n", n, rate, sqrt(energy / n));
    status = 0;

done:
    if (status && err.code)
        fprintf(stderr, "example: %s: %s\n", jepatok_status_name(err.code), err.message);
    else if (status && !pcm)
        fprintf(stderr, "example: out of memory\n");
    jepatok_free(out);
    jepatok_free(tokens);
    jepatok_context_free(ctx);
    jepatok_model_close(model);
    free(pcm);
    return status;
}
