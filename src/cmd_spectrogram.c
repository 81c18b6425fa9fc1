/* cmd_spectrogram.c: `jepatok spectrogram`: a picture comparing the log
 * spectrograms of several recordings of one utterance (an input, its
 * reconstruction, another codec's), stacked top to bottom. */
#include <stdio.h>
#include <string.h>

#include "audio.h"
#include "cli.h"
#include "spectrogram.h"

#define MAX_INPUTS 8

int jt_cmd_spectrogram(int argc, char **argv)
{
    const char *out = NULL, *in[MAX_INPUTS];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: jepatok spectrogram IN... -o OUT.png\n"
                   "Log spectrograms (24 kHz, 512-point FFT, hop 128, 80 dB range) of up to %d\n"
                   "files, top to bottom in the order given, cut to the shortest.\n", MAX_INPUTS);
            return 0;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] != '-' && n < MAX_INPUTS) {
            in[n++] = argv[i];
        } else {
            fprintf(stderr, "jepatok spectrogram: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!n || !out) {
        fprintf(stderr, "usage: jepatok spectrogram IN... -o OUT.png\n");
        return 2;
    }
    jt_audio a[MAX_INPUTS] = {{0}};
    const float *sig[MAX_INPUTS];
    size_t len = 0;
    int status = 0;
    char err[1024];
    for (int i = 0; i < n && !status; i++) {
        if (jt_audio_load(in[i], 24000, &a[i], err, sizeof err)) {
            fprintf(stderr, "jepatok spectrogram: %s\n", err);
            status = 1;
            break;
        }
        sig[i] = a[i].samples;
        len = i == 0 || a[i].frames < len ? a[i].frames : len;
    }
    if (!status && jt_spectrogram_png(out, sig, n, len, 24000)) {
        fprintf(stderr, "jepatok spectrogram: cannot write %s\n", out);
        status = 1;
    }
    for (int i = 0; i < n; i++)
        jt_audio_free(&a[i]);
    return status;
}
