#!/usr/bin/env python3
"""envelope-oracle.py: what STOI does a given temporal resolution of the
spectral envelope buy, with no pitch or phase at all?

    scripts/envelope-oracle.py LIST OUT [MODE...]
    jepatok eval --ref OUT/ref --deg OUT/MODE --jobs 2

LIST names reference files (one path per line, e.g. the 400 validation
files of scripts/baselines.sh).  For each MODE the script writes OUT/MODE/
NNNNN.wav: the reference's STFT magnitude (1024-point Hann window, 10 ms
hop, 24 kHz) with uniformly random phase, resynthesised by overlap-add, so
every file is noise-excited like a decoder that models no pitch.  The
magnitude is, per MODE:
  randphase   exact (the envelope at full resolution);
  smoothN     power averaged over a moving window of N ms (e.g. smooth100);
  blockN      power averaged over consecutive blocks of N ms (block400: one
              value per jepatok frame and frequency bin).
OUT/ref/NNNNN.wav link to the references, so `jepatok eval --ref OUT/ref
--deg OUT/MODE` scores each mode.  The numbers are in models/README ("Where
it stands").  Needs python3-numpy and python3-scipy.
"""
import os
import sys

import numpy as np
import scipy.io.wavfile as wavfile
import scipy.signal as signal

RATE, NFFT, HOP = 24000, 1024, 240  # 10 ms hop
DEFAULT_MODES = ["randphase", "smooth100", "smooth200", "block200", "block400"]


def load(path):
    rate, x = wavfile.read(path)
    scale = 32768.0 if x.dtype == np.int16 else 2147483648.0 if x.dtype == np.int32 else 1.0
    x = x.astype(np.float64) / scale
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != RATE:
        x = signal.resample_poly(x, RATE, rate)
    return x


def envelope(power, mode):
    """Power spectrogram [bins, frames] at the mode's temporal resolution."""
    if mode == "randphase":
        return power
    frames = int(mode[6:] if mode.startswith("smooth") else mode[5:]) * RATE // 1000 // HOP
    if mode.startswith("smooth"):
        kernel = np.ones(frames) / frames
        return np.apply_along_axis(lambda row: np.convolve(row, kernel, mode="same"), 1, power)
    out = power.copy()
    for start in range(0, power.shape[1], frames):
        out[:, start:start + frames] = power[:, start:start + frames].mean(axis=1, keepdims=True)
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    refs = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    out, modes = sys.argv[2], sys.argv[3:] or DEFAULT_MODES
    for mode in modes:
        if not (mode == "randphase" or mode[:6] == "smooth" and mode[6:].isdigit()
                or mode[:5] == "block" and mode[5:].isdigit()):
            sys.exit(f"unknown mode {mode}")
    rng = np.random.default_rng(1)
    os.makedirs(os.path.join(out, "ref"), exist_ok=True)
    for i, path in enumerate(refs):
        link = os.path.join(out, "ref", f"{i:05d}.wav")
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(path), link)
    for mode in modes:
        os.makedirs(os.path.join(out, mode), exist_ok=True)
        for i, path in enumerate(refs):
            x = load(path)
            spec = signal.stft(x, nperseg=NFFT, noverlap=NFFT - HOP, boundary="even")[2]
            magnitude = np.sqrt(envelope(np.abs(spec) ** 2, mode))
            phase = np.exp(2j * np.pi * rng.random(magnitude.shape))
            y = signal.istft(magnitude * phase, nperseg=NFFT, noverlap=NFFT - HOP)[1][:len(x)]
            y *= 0.9 / max(np.abs(y).max(), 1e-9)
            wavfile.write(os.path.join(out, mode, f"{i:05d}.wav"), RATE, (y * 32767).astype(np.int16))
        print(f"{mode}: {len(refs)} files in {os.path.join(out, mode)}", file=sys.stderr)


if __name__ == "__main__":
    main()
