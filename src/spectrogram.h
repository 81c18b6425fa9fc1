/* spectrogram.h: a picture (PNG) of the log spectrograms of several
 * signals stacked top to bottom, e.g. an input and its reconstruction.
 * Written without an image library: 8-bit grey PNG with stored (not
 * compressed) deflate blocks, atomically (temp file + rename). */
#ifndef JT_SPECTROGRAM_H
#define JT_SPECTROGRAM_H

#include <stddef.h>

/* n_signals signals of n samples each at rate; 80 dB of dynamic range
 * below the loudest bin of all of them.  0 or -1. */
int jt_spectrogram_png(const char *path, const float *const *signals, int n_signals, size_t n, int rate);

#endif
