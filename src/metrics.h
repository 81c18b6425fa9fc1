/* metrics.h: objective speech-quality metrics, in plain C (double precision).
 *
 * All functions compare a reference (clean) signal ref with a degraded
 * (processed) signal deg, both mono float at the same rate.  They resample
 * internally to the rate each metric is defined at, so callers may pass any
 * rate.  Different lengths are the caller's business for the single-metric
 * functions (they take one n); jt_metrics_compute truncates both signals to
 * the shorter one, as the STOI definition does.  No time alignment (delay
 * search) is done: a codec that delays its output is scored as it is.
 *
 * Definitions (EVALUATION.md repeats them):
 *
 * STOI (Taal, Hendriks, Heusdens, Jensen 2011): resample to 10 kHz; Hann
 *   frames of 256 samples, hop 128 (w[i] = 0.5 - 0.5 cos(2 pi (i+1)/257), the
 *   symmetric window without zero end points); remove the frames whose clean
 *   energy is more than 40 dB below the loudest clean frame (from both
 *   signals) and overlap-add the rest back together; STFT with the same
 *   framing, zero-padded to 512 points; 15 one-third-octave bands, centres
 *   150 * 2^(k/3) Hz, edges at centre * 2^(-+1/6) rounded to the nearest FFT
 *   bin, band bins [lo, hi); band envelope = sqrt(sum of |X|^2 in the band);
 *   segments of N = 30 frames (384 ms) ending at every frame m >= 29; in each
 *   segment and band the degraded envelope is scaled to the clean one's norm
 *   and clipped to (1 + 10^(-beta/20)) times the clean one, beta = -15 dB;
 *   d = sample correlation of the two 30-vectors; STOI = mean d over bands
 *   and segments.  A frame counts when it fits the signal completely.
 * ESTOI (Jensen, Taal 2016): the same front end (no clipping); each 15 x 30
 *   segment matrix is normalised first per band (row: zero mean, unit norm)
 *   then per frame (column: zero mean, unit norm); d = sum of the
 *   element-wise products of the two matrices / 30; ESTOI = mean d.
 *   STOI and ESTOI are NaN when fewer than 30 non-silent frames remain
 *   (under ~0.4 s of speech).
 * Mel distance: at 24 kHz; periodic Hann window of 1024, FFT 1024, hop 256,
 *   frames centred on t = k * 256 (zero padding at both ends, 1 + n/256
 *   frames); 80 triangular mel filters (HTK mel scale
 *   2595 log10(1 + f/700), 0 to 12 kHz, peak weight 1) applied to the FFT
 *   magnitude |X|; distance = mean over frames and bands of
 *   |log10(max(Mref, 1e-5)) - log10(max(Mdeg, 1e-5))|.  0 = identical; one
 *   unit = a factor of 10 in mel-band magnitude.
 * SI-SDR (Le Roux et al. 2019): both signals made zero-mean; target =
 *   (<deg, ref> / <ref, ref>) ref; SI-SDR = 10 log10(|target|^2 / |deg -
 *   target|^2) in dB, clamped to [-100, 100] dB (100 = identical up to
 *   scale); NaN when the reference is all zero.  At the input rate.
 * MR-STFT distance (MODEL.md's MRSTFT): at 24 kHz; for FFT sizes 2048, 1024,
 *   512, 256, 128, periodic Hann of the FFT size, hop FFT/4, frames centred
 *   (zero padding, 1 + n/hop frames): L1(|S|) + L1(ln(|S| + 1e-5)), L1 =
 *   mean absolute difference over frames and bins 0..FFT/2; the distance is
 *   the mean over the five sizes.  0 = identical.
 */
#ifndef JT_METRICS_H
#define JT_METRICS_H

#include <stddef.h>

typedef struct jt_metrics {
    double stoi;         /* 0..1, higher is better (NaN: too short) */
    double estoi;        /* about 0..1, higher is better (NaN: too short) */
    double mel_distance; /* >= 0, lower is better */
    double si_sdr;       /* dB, higher is better */
    double mrstft;       /* >= 0, lower is better */
    size_t n;            /* samples compared (the shorter input) */
} jt_metrics;

/* All five metrics for ref (nref samples) and deg (ndeg samples) at rate.
 * Truncates to the shorter length.  Returns 0, or -1 with a message in err
 * (empty input, bad rate, out of memory, resampling failure). */
int jt_metrics_compute(const float *ref, size_t nref, const float *deg, size_t ndeg, int rate,
                       jt_metrics *out, char *err, size_t errlen);

/* The single metrics, on n samples of each signal at rate.  They return NaN
 * when the metric is undefined or memory runs out. */
double jt_stoi(const float *ref, const float *deg, size_t n, int rate);
double jt_estoi(const float *ref, const float *deg, size_t n, int rate);
double jt_mel_distance(const float *ref, const float *deg, size_t n, int rate);
double jt_si_sdr(const float *ref, const float *deg, size_t n);
double jt_mrstft(const float *ref, const float *deg, size_t n, int rate);

/* --- Building blocks, exposed so the tests can check them directly. --- */

/* In-place discrete Fourier transform of any length n >= 1:
 * X[k] = sum_t x[t] exp(-+2 pi i k t / n) (minus for forward, inverse = 0;
 * plus and a 1/n scale for inverse != 0).  Radix-2 for powers of two,
 * Bluestein's chirp-z algorithm otherwise.  Returns 0 or -1 (no memory). */
int jt_fft(double *re, double *im, size_t n, int inverse);

/* STOI's one-third-octave band `band` (0..14) at 10 kHz, 512-point FFT:
 * FFT bins [*lo, *hi) and the centre frequency in Hz.  Returns 0 or -1. */
int jt_stoi_band(int band, int *lo, int *hi, double *centre_hz);

/* Number of 256-sample, hop-128 frames STOI cuts n samples (at 10 kHz)
 * into, and how many of the clean signal's frames survive the 40 dB
 * silent-frame removal. */
size_t jt_stoi_frame_count(size_t n);
size_t jt_stoi_active_frames(const float *ref10k, size_t n);

#endif
