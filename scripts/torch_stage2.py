#!/usr/bin/python3
"""torch_stage2.py: stage 2 in PyTorch (CPU), timed: the codec (encode and
decode real-time factors) and the stage-2 training step.

A benchmark helper: it rebuilds the decoder (HiFi-GAN generator), the
multi-period and the multi-scale discriminators of src/decoder.c and
src/nn.c (the "paper" and "small" presets of src/config.c) and the step of
src/stage2.c, so that `jepatok bench codec` (src/bench_codec.c) and
`jepatok bench stage2` (src/bench_stage2.c) can be compared with PyTorch on
the same machine, in the same run (scripts/bench-stage2.sh).  The encoder is
scripts/torch_stage1.py's, imported from there.

Decoder: 1x1 conv 128 -> C0; five blocks of SnakeBeta -> ConvTranspose1d
(kernel 2s, stride s, cropping s/2 on the left and s - s/2 on the right, so
each block multiplies the length by s) -> MRF (the mean of three residual
stacks, kernels 3, 7, 11, dilations 1, 3, 5, leaky ReLU 0.1); leaky ReLU
0.01, Conv1d C5 -> 1 kernel 7, tanh.

Codec (--mode codec), under torch.inference_mode(), as src/codec.c does for
inputs shorter than one chunk (24 s), on the synthetic voiced signal of
src/bench_codec.c:
    encode: encoder (eval) -> tanh -> FSQ level indices
    decode: level values (2i + 1 - L) / L -> decoder
One untimed call, then --reps timed ones (median), like the C's warm call.

Training step (--mode step), as src/stage2.c with the encoder frozen:
    z     = encoder(wave)                  no_grad, eval mode
    q     = FSQ(tanh(z))                   (straight-through; no gradient here)
    fake  = decoder(q) * mask
    loss  = L1(fake, wave) + 2 * MRSTFT(fake, wave)
  with --adversarial also, against the discriminators (frozen in this step)
  on [wave; fake] stacked along the batch:
          + 0.1 * (sum_k mean (1 - D_k(fake))^2 + 2 * sum_l L1(f_l(fake), f_l(wave)))
    backward; clip_grad_norm_(1.0); AdamW((0.8, 0.99), wd 1e-3)
  and then the discriminator step:
    sum_k mean (1 - D_k(wave))^2 + mean D_k(fake.detach())^2
    backward; clip_grad_norm_(1.0); AdamW
MRSTFT: FFT sizes 2048 .. 128, hop n/4, periodic Hann, centred (reflect),
magnitude sqrt(re^2 + im^2 + 1e-9); per size L1 of the magnitudes plus L1 of
log(magnitude + 1e-5), mean over the sizes.

Usage (Debian's python, which has torch 1.13):
    /usr/bin/python3 scripts/torch_stage2.py --config small --mode codec --seconds 8 --threads 2
    /usr/bin/python3 scripts/torch_stage2.py --config small --mode step --batch 4 \\
        --crop-seconds 0.8 --steps 3 --warmup 1 --threads 2 [--adversarial]
    /usr/bin/python3 scripts/torch_stage2.py --config paper --count-only

It prints one JSON line.  Run it with GLIBC_TUNABLES and OMP_WAIT_POLICY
set as described in scripts/torch_stage1.py.
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_stage1 import CONFIGS as ENC_CONFIGS  # noqa: E402
from torch_stage1 import SAMPLE_RATE, Encoder, SnakeBeta, count, hop_of  # noqa: E402

# src/config.c: decoder widths (input conv out, then each block's out) and
# the divisor of the discriminators' widths
DEC_CONFIGS = {
    "paper": dict(dec_channels=[512, 512, 384, 256, 128, 64], disc_div=1),
    "small": dict(dec_channels=[128, 128, 96, 64, 24, 12], disc_div=4),
}
COMMON = dict(dec_strides=[6, 5, 5, 8, 8], mrf_kernels=[3, 7, 11], mrf_dilations=[1, 3, 5],
              periods=[2, 3, 5, 7, 11], msd_scales=3, fsq_levels=4,
              lr=1.5e-4, lr_disc=7.5e-5, betas=(0.8, 0.99), weight_decay=1e-3, clip_norm=1.0,
              stft_weight=2.0, adv_weight=0.1, fm_weight=2.0)

# What src/decoder.c counts for each preset (`jepatok info --json`:
# decoder, mpd, msd); the assertion catches drift between this file and C.
EXPECTED_COUNTS = {
    "paper": (69_291_649, 41_092_165, 16_913_859),
    "small": (4_265_721, 2_573_845, 1_279_347),
}


def config(name):
    return {**ENC_CONFIGS[name], **DEC_CONFIGS[name], **COMMON}


# ---------------------------------------------------------------- decoder


class ResStack(nn.Module):
    """src/nn.c jt_res_stack: for each dilation d,
    x += conv_k_1(lrelu(conv_k_d(lrelu(x)))), leaky ReLU slope 0.1."""

    def __init__(self, channels, k, dilations):
        super().__init__()
        self.convs0 = nn.ModuleList(nn.Conv1d(channels, channels, k, dilation=d, padding=d * (k - 1) // 2)
                                    for d in dilations)
        self.convs1 = nn.ModuleList(nn.Conv1d(channels, channels, k, padding=(k - 1) // 2) for _ in dilations)

    def forward(self, x):
        for c0, c1 in zip(self.convs0, self.convs1):
            x = x + c1(F.leaky_relu(c0(F.leaky_relu(x, 0.1)), 0.1))
        return x


class UpBlock(nn.Module):
    def __init__(self, cin, cout, stride, kernels, dilations):
        super().__init__()
        self.snake = SnakeBeta(cin)
        # C crops s/2 samples on the left and s - s/2 on the right; PyTorch
        # crops `padding` on both sides, so odd strides drop one more at the end
        self.up = nn.ConvTranspose1d(cin, cout, 2 * stride, stride=stride, padding=stride // 2)
        self.extra = stride - 2 * (stride // 2)
        self.mrf = nn.ModuleList(ResStack(cout, k, dilations) for k in kernels)

    def forward(self, x):
        x = self.up(self.snake(x))
        if self.extra:
            x = x[..., :-self.extra]
        s = None
        for r in self.mrf:
            y = r(x)
            s = y if s is None else s + y
        return s * (1.0 / 3.0)


class Decoder(nn.Module):
    """z [B, 128, F] -> wave [B, 1, F * 9600]."""

    def __init__(self, cfg):
        super().__init__()
        ch = cfg["dec_channels"]
        self.conv_in = nn.Conv1d(cfg["code_dim"], ch[0], 1)
        self.blocks = nn.ModuleList(UpBlock(ch[b], ch[b + 1], s, cfg["mrf_kernels"], cfg["mrf_dilations"])
                                    for b, s in enumerate(cfg["dec_strides"]))
        self.conv_out = nn.Conv1d(ch[-1], 1, 7, padding=3)

    def forward(self, z):
        x = self.conv_in(z)
        for b in self.blocks:
            x = b(x)
        return torch.tanh(self.conv_out(F.leaky_relu(x, 0.01)))


# ---------------------------------------------------------- discriminators


class PeriodDisc(nn.Module):
    """(k, 1) convolutions over the signal folded to [B, 1, T/p, p]."""

    def __init__(self, period, div):
        super().__init__()
        self.period = period
        chans = [c // div for c in (32, 128, 512, 1024, 1024)]
        cin, convs = 1, []
        for l, cout in enumerate(chans):
            convs.append(nn.Conv2d(cin, cout, (5, 1), stride=(3 if l < 4 else 1, 1), padding=(2, 0)))
            cin = cout
        self.convs = nn.ModuleList(convs)
        self.post = nn.Conv2d(cin, 1, (3, 1), padding=(1, 0))

    def forward(self, wave, feats):
        B, _, T = wave.shape
        pad = (self.period - T % self.period) % self.period
        x = F.pad(wave, (0, pad), mode="reflect") if pad else wave
        x = x.view(B, 1, (T + pad) // self.period, self.period)
        for c in self.convs:
            x = F.leaky_relu(c(x), 0.1)
            feats.append(x)
        return self.post(x)


class ScaleDisc(nn.Module):
    """MelGAN's scale discriminator, widths and groups divided by div."""

    LAYERS = [(16, 15, 1, 1), (64, 41, 4, 4), (256, 41, 4, 16), (1024, 41, 4, 64), (1024, 41, 4, 256),
              (1024, 5, 1, 1)]

    def __init__(self, div):
        super().__init__()
        cin, convs = 1, []
        for cout, k, stride, groups in self.LAYERS:
            cout //= div
            convs.append(nn.Conv1d(cin, cout, k, stride=stride, padding=k // 2, groups=max(groups // div, 1)))
            cin = cout
        self.convs = nn.ModuleList(convs)
        self.post = nn.Conv1d(cin, 1, 3, padding=1)

    def forward(self, x, feats):
        for c in self.convs:
            x = F.leaky_relu(c(x), 0.1)
            feats.append(x)
        return self.post(x)


class MPD(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.discs = nn.ModuleList(PeriodDisc(p, cfg["disc_div"]) for p in cfg["periods"])

    def forward(self, wave, scores, feats):
        for d in self.discs:
            scores.append(d(wave, feats))


class MSD(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.discs = nn.ModuleList(ScaleDisc(cfg["disc_div"]) for _ in range(cfg["msd_scales"]))

    def forward(self, wave, scores, feats):
        x = wave
        for i, d in enumerate(self.discs):
            if i > 0:  # cumulative: each scale pools the previous one
                x = F.avg_pool1d(x, 4, 2, padding=2)
            scores.append(d(x, feats))


def discriminate(mpd, msd, real, fake):
    """Both discriminators on [real; fake] stacked along the batch."""
    both = torch.cat([real, fake], 0)
    scores, feats = [], []
    mpd(both, scores, feats)
    msd(both, scores, feats)
    return scores, feats


# ---------------------------------------------------------------- losses


_windows = {}


def stft_mag(x, n_fft):  # x [B, T] -> [B, bins, frames]
    w = _windows.get(n_fft)
    if w is None:
        w = _windows[n_fft] = torch.hann_window(n_fft)
    s = torch.view_as_real(torch.stft(x, n_fft, hop_length=n_fft // 4, window=w, center=True,
                                      pad_mode="reflect", return_complex=True))
    return torch.sqrt(s.pow(2).sum(-1) + 1e-9)


def mrstft(a, b):
    a, b = a.flatten(1), b.flatten(1)
    total, T = 0.0, a.shape[1]
    for n in (2048, 1024, 512, 256, 128):
        if n // 2 >= T:
            continue
        sa, sb = stft_mag(a, n), stft_mag(b, n)
        total = total + (sa - sb).abs().mean() + (torch.log(sa + 1e-5) - torch.log(sb + 1e-5)).abs().mean()
    return total / 5.0


def fsq_index(bounded, L):
    return torch.clamp(torch.floor((bounded + 1.0) * L * 0.5), 0, L - 1)


def fsq_value(index, L):
    return (2.0 * index + 1.0 - L) / L


# ---------------------------------------------------------------- the step


class Stage2:
    def __init__(self, cfg, enc, dec, mpd, msd, adversarial):
        self.cfg, self.enc, self.dec, self.mpd, self.msd = cfg, enc, dec, mpd, msd
        self.adversarial = adversarial
        enc.eval()  # the frozen encoder, dropout off
        for p in enc.parameters():
            p.requires_grad_(False)
        dec.train()
        self.gen_params = list(dec.parameters())
        self.disc_params = list(mpd.parameters()) + list(msd.parameters())
        kw = dict(betas=cfg["betas"], eps=1e-8, weight_decay=cfg["weight_decay"], foreach=True)
        self.opt_gen = torch.optim.AdamW(self.gen_params, lr=cfg["lr"], **kw)
        self.opt_disc = torch.optim.AdamW(self.disc_params, lr=cfg["lr_disc"], **kw) if adversarial else None

    def set_disc_grad(self, on):
        for p in self.disc_params:
            p.requires_grad_(on)

    def step(self, wave, mask):
        c = self.cfg
        with torch.no_grad():
            q = fsq_value(fsq_index(torch.tanh(self.enc(wave)), c["fsq_levels"]), c["fsq_levels"])
        fake = self.dec(q) * mask
        l1 = ((fake - wave).abs() * mask).sum() / mask.sum()
        loss = l1 + c["stft_weight"] * mrstft(fake, wave)
        if self.adversarial:
            self.set_disc_grad(False)  # judges here, not students
            scores, feats = discriminate(self.mpd, self.msd, wave, fake)
            B = wave.shape[0]
            adv = sum((1.0 - s[B:]).pow(2).mean() for s in scores)
            fm = sum((f[B:] - f[:B].detach()).abs().mean() for f in feats)
            loss = loss + c["adv_weight"] * (adv + c["fm_weight"] * fm)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.gen_params, c["clip_norm"])
        self.opt_gen.step()
        self.opt_gen.zero_grad(set_to_none=True)
        loss_d = 0.0
        if self.adversarial:
            self.set_disc_grad(True)
            scores, _ = discriminate(self.mpd, self.msd, wave, fake.detach())
            B = wave.shape[0]
            ld = sum((1.0 - s[:B]).pow(2).mean() + s[B:].pow(2).mean() for s in scores)
            ld.backward()
            torch.nn.utils.clip_grad_norm_(self.disc_params, c["clip_norm"])
            self.opt_disc.step()
            self.opt_disc.zero_grad(set_to_none=True)
            loss_d = ld.item()
        return loss.item(), loss_d


# ---------------------------------------------------------------- the codec


def voiced_signal(n):
    """src/bench_codec.c's test signal: a vowel-like tone, moving pitch."""
    t = torch.arange(n, dtype=torch.float64) / SAMPLE_RATE
    f0 = 120 + 30 * torch.sin(2 * math.pi * 0.7 * t)
    v = torch.zeros(n, dtype=torch.float64)
    for h in range(1, 9):
        v += torch.sin(2 * math.pi * f0 * h * t) / h
    return (0.2 * v * (0.6 + 0.4 * torch.sin(2 * math.pi * 3 * t))).float()


def run_codec(cfg, enc, dec, seconds, reps):
    hop, L = hop_of(cfg), cfg["fsq_levels"]
    n = int(seconds * SAMPLE_RATE)
    frames = (n + hop - 1) // hop
    wave = torch.zeros(1, 1, frames * hop)
    wave[0, 0, :n] = voiced_signal(n)
    enc.eval()
    dec.eval()
    t_enc, t_dec = [], []
    with torch.inference_mode():
        for r in range(reps + 1):  # the first call is the untimed warm-up
            t0 = time.perf_counter()
            idx = fsq_index(torch.tanh(enc(wave)), L).to(torch.int16)  # the level digits
            t1 = time.perf_counter()
            y = dec(fsq_value(idx.float(), L))[0, 0, :n].contiguous()
            t2 = time.perf_counter()
            if r > 0:
                t_enc.append(t1 - t0)
                t_dec.append(t2 - t1)
    assert torch.isfinite(y).all()
    e, d = statistics.median(t_enc), statistics.median(t_dec)
    return dict(seconds_audio=seconds, frames=frames, encode_s=e, decode_s=d, rtf_encode=e / seconds,
                rtf_decode=d / seconds, rtf=(e + d) / seconds, reps=reps)


def main():
    ap = argparse.ArgumentParser(description="Time stage 2 (codec, training step) in PyTorch (mirrors src/stage2.c).")
    ap.add_argument("--config", choices=sorted(DEC_CONFIGS), default="small")
    ap.add_argument("--mode", choices=["codec", "step"], default="step")
    ap.add_argument("--seconds", type=float, default=8.0, help="codec: seconds of audio")
    ap.add_argument("--reps", type=int, default=1, help="codec: timed calls after one warm-up (median)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop-seconds", type=float, default=0.8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--adversarial", action="store_true", help="step: with the discriminators (after disc_start)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count-only", action="store_true", help="print the parameter counts and exit")
    a = ap.parse_args()
    if a.batch < 1 or a.steps < 1 or a.warmup < 0 or a.crop_seconds <= 0 or a.seconds <= 0 or a.reps < 1:
        ap.error("--batch, --steps and --reps must be positive, --warmup >= 0, --crop-seconds and --seconds > 0")

    tunables = bool(os.environ.get("GLIBC_TUNABLES"))
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = config(a.config)
    enc, dec = Encoder(cfg), Decoder(cfg)
    mpd, msd = MPD(cfg), MSD(cfg)
    counts = (count(dec), count(mpd), count(msd))
    want = EXPECTED_COUNTS[a.config]
    assert counts == want, f"parameter counts {counts} differ from the C model's {want}"
    base = {"config": a.config, "params_decoder": counts[0], "params_mpd": counts[1], "params_msd": counts[2]}
    if a.count_only:
        print(json.dumps(base))
        return 0
    if not tunables:
        print("torch_stage2.py: GLIBC_TUNABLES is not set; large frees go back to the kernel every step "
              "(see scripts/torch_stage1.py)", file=sys.stderr)
    common = {"threads": torch.get_num_threads(), "torch": torch.__version__, "glibc_tunables": tunables,
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}

    if a.mode == "codec":
        del mpd, msd
        r = run_codec(cfg, enc, dec, a.seconds, a.reps)
        print(json.dumps({**base, "mode": "codec", **r,
                          "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **common}))
        return 0

    hop = hop_of(cfg)
    # as src/bench_stage2.c: the crop rounded up to a whole number of frames
    T = (int(a.crop_seconds * SAMPLE_RATE) + hop - 1) // hop * hop
    g = torch.Generator().manual_seed(7)
    wave = torch.randn(a.batch, 1, T, generator=g) * 0.1
    mask = torch.ones(a.batch, 1, T)
    s = Stage2(cfg, enc, dec, mpd, msd, a.adversarial)
    for _ in range(a.warmup):
        s.step(wave, mask)
    times, loss = [], (float("nan"), 0.0)
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = s.step(wave, mask)  # .item() waits for the step to finish
        times.append(time.perf_counter() - t0)
    if not all(math.isfinite(v) for v in loss):
        print(f"torch_stage2.py: loss is {loss}", file=sys.stderr)
        return 1
    print(json.dumps({**base, "mode": "step", "batch": a.batch, "crop_seconds": T / SAMPLE_RATE,
                      "adversarial": a.adversarial, "seconds_per_step": statistics.median(times),
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **common,
                      "samples": T, "steps": a.steps, "warmup": a.warmup, "loss_g": loss[0], "loss_d": loss[1]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
