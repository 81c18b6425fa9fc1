#!/usr/bin/python3
"""torch_stage1.py: the stage-1 JEPA training step in PyTorch (CPU), timed.

A benchmark helper: it rebuilds the model of src/encoder.c, src/conformer.c,
src/daam.c and src/nn.c (the "paper" and "small" presets of src/config.c) and
the step of src/stage1.c, so that `jepatok bench stage1` (src/bench_stage1.c)
can be compared with PyTorch on the same machine, in the same run, on the same
kind of input: B random full-length clips (0.1 * N(0, 1)), a fixed frame mask
with about half the frames masked, no padding (so every padding mask of the C
graph is all ones and is left out here).

One step, as in src/stage1.c:
    z      = encoder(wave)                  online, train mode (dropout on)
    ctx    = z + (mask_token - z) * m       the token where m = 1 (masked)
    pred   = predictor(ctx)
    target = target_encoder(wave)           no_grad, eval mode, EMA copy
    loss   = sum((pred - target)^2 * m) / (sum(m) * 128)
    backward; clip_grad_norm_(1.0); AdamW(1.5e-4, (0.8, 0.99), wd 1e-3);
    zero_grad(set_to_none); target = 0.996 target + 0.004 online

Usage (Debian's python, which has torch 1.13):
    /usr/bin/python3 scripts/torch_stage1.py --config small --batch 4 \\
        --crop-seconds 4 --steps 5 --warmup 2 --threads 2
    /usr/bin/python3 scripts/torch_stage1.py --config paper --count-only

It prints one JSON line; seconds_per_step is the median of --steps timed
steps after --warmup untimed ones.

For a fair speed comparison run it (and jepatok) with
    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
Without it glibc serves every large tensor with a fresh mmap and returns it
with munmap on free, so each step pays page faults and zeroing for all its
activations again ("large frees thrash"), which measures the allocator rather
than the arithmetic.  The JSON says whether the variable was set
("glibc_tunables"), and a note goes to stderr when it was not.

On a machine shared with other busy processes also consider
OMP_WAIT_POLICY=PASSIVE (it must be in the environment before Python starts;
the JSON echoes it as "omp_wait_policy").  PyTorch's libgomp threads spin at
every barrier by default, while the C thread pool (compute/cpu/threadpool.c)
sleeps on a condition variable; with more runnable threads than cores the
spinning ones steal the cores their partners need.  Measured with 2 threads
on a loaded 2-core machine (small, batch 2, 4 s): 14.7 s per step by default,
0.92 s with PASSIVE, 1.13 s with 1 thread.  The script leaves the policy to
the caller so that the default measures stock PyTorch.
"""

import argparse
import copy
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

SAMPLE_RATE = 24000

CONFIGS = {
    "paper": dict(enc_in_channels=64, enc_channels=[128, 256, 384, 512, 512], strides=[8, 8, 5, 5, 6],
                  res_units=8, conformer_layers=8, conformer_heads=16, ff_mult=4, conv_kernel=31,
                  code_dim=128, pred_dim=256, pred_heads=16, dropout=0.1, daam_k=4),
    "small": dict(enc_in_channels=16, enc_channels=[32, 64, 96, 128, 128], strides=[8, 8, 5, 5, 6],
                  res_units=3, conformer_layers=4, conformer_heads=8, ff_mult=4, conv_kernel=31,
                  code_dim=128, pred_dim=128, pred_heads=8, dropout=0.1, daam_k=4),
}

# What src/jepa.c counts for each preset (`jepatok info`); the assertion
# catches any drift between this file and the C model.
EXPECTED_COUNTS = {
    "paper": (118_512_562, 3_177_600),
    "small": (4_530_162, 818_816),
}


def hop_of(cfg):
    return math.prod(cfg["strides"])


# ---------------------------------------------------------------- encoder


class SnakeBeta(nn.Module):
    """x + min(1/a, 10) sin(a x)^2, a = softplus(p) + 0.01 (src/nn.c jt_snake).

    The 0.01 floor keeps 1/a finite; the clamp bounds it at 10, so the lower
    clamp bound is moot and only max= is given."""

    def __init__(self, channels):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        a = (F.softplus(self.p) + 0.01).view(1, -1, 1)
        inv = torch.clamp(1.0 / a, max=10.0)
        return x + inv * torch.sin(a * x).pow(2)


class ResidualUnit(nn.Module):
    """HiFi-GAN type-1 unit (src/encoder.c residual_unit): three pairs of
    k3 convolutions, the first of each pair dilated by 1, 3^u, 5^u.

    No max_dilation cap: the presets leave it at 0 (off), so for the paper's
    u = 7 the dilation is 5^7, far longer than the sequence, exactly as in
    C (the off-centre taps read only zero padding there)."""

    def __init__(self, channels, u):
        super().__init__()
        self.dilations = [1, 3 ** u, 5 ** u]
        self.convs0 = nn.ModuleList(nn.Conv1d(channels, channels, 3, dilation=d, padding=d) for d in self.dilations)
        self.convs1 = nn.ModuleList(nn.Conv1d(channels, channels, 3, padding=1) for _ in self.dilations)

    def forward(self, x):
        for c0, c1 in zip(self.convs0, self.convs1):
            r = c0(F.leaky_relu(x, 0.1))
            r = c1(F.leaky_relu(r, 0.1))
            x = x + r
        return x


class DAAM(nn.Module):
    """Density Adaptive Attention gate (src/daam.c), default (not the
    paper_daam_init / daam_raw_delta variants): the K Gaussian means are
    offsets delta_k in units of sigma, so z = (a - mu - delta sigma) /
    (sigma s + 1e-8)."""

    def __init__(self, channels, k):
        super().__init__()
        self.k = k
        self.proj = nn.Conv1d(channels, 1, 1)
        self.nu = nn.Parameter(torch.full((k,), math.log(0.5)))
        self.delta = nn.Parameter(torch.linspace(-1.0, 1.0, k))
        self.alpha = nn.Parameter(torch.full((1,), 0.05))

    def forward(self, x):
        a = self.proj(x)  # [B, 1, T]
        mu = a.mean(dim=2, keepdim=True)
        ac = a - mu
        # population variance over time, like the C's sum / count
        var = ac.pow(2).mean(dim=2, keepdim=True)
        sigma = torch.sqrt(torch.clamp(var, min=1e-6))  # [B, 1, 1]
        s = (F.softplus(self.nu) + 1e-3).view(1, -1, 1)  # [1, K, 1]
        d = self.delta.view(1, -1, 1)
        z = (ac - d * sigma) / (sigma * s + 1e-8)  # [B, K, T]
        l = -0.5 * z.pow(2) - torch.log(s) - 0.5 * math.log(2.0 * math.pi)
        gate = torch.exp(torch.logsumexp(l, dim=1, keepdim=True) - math.log(self.k))  # [B, 1, T]
        return x * (1.0 + self.alpha * gate)


class DownBlock(nn.Module):
    """Strided conv (kernel 2s, padding s/2 left and s - s/2 right, so T
    samples give exactly T/s), SnakeBeta, residual units, DAAM."""

    def __init__(self, cin, cout, stride, res_units, daam_k):
        super().__init__()
        self.pad = (stride // 2, stride - stride // 2)
        symmetric = self.pad[0] == self.pad[1]
        # even strides: Conv1d's own padding; odd ones need F.pad first
        self.down = nn.Conv1d(cin, cout, 2 * stride, stride=stride, padding=self.pad[0] if symmetric else 0)
        self.explicit_pad = not symmetric
        self.snake = SnakeBeta(cout)
        self.res = nn.ModuleList(ResidualUnit(cout, u) for u in range(res_units))
        self.daam = DAAM(cout, daam_k)

    def forward(self, x):
        if self.explicit_pad:
            x = F.pad(x, self.pad)
        x = self.snake(self.down(x))
        for r in self.res:
            x = r(x)
        return self.daam(x)


# ---------------------------------------------------------------- Conformer
#
# The C works on [B, C, T] throughout (its linears are 1x1 convolutions).
# Here a Conformer block takes and returns [B, C, T] like the rest of the
# model but works inside on [B, T, C], PyTorch's native layout for Linear,
# LayerNorm and attention: two transposes per block instead of one around
# every LayerNorm.  The arithmetic is the same.


class FeedForward(nn.Module):
    def __init__(self, dim, mult, dropout):
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.inp = nn.Linear(dim, dim * mult)
        self.out = nn.Linear(dim * mult, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):  # [B, T, C]
        h = self.drop(F.silu(self.inp(self.ln(x))))
        return self.drop(self.out(h))


class SelfAttention(nn.Module):
    """LN then MHSA with separate q, k, v, out projections; no dropout on
    the attention weights (the C has none), dropout after the output
    projection."""

    def __init__(self, dim, heads, dropout):
        super().__init__()
        self.heads = heads
        self.ln = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):  # [B, T, C]
        B, T, C = x.shape
        H, d = self.heads, C // self.heads
        h = self.ln(x)
        q = self.q(h).view(B, T, H, d).transpose(1, 2)  # [B, H, T, d]
        k = self.k(h).view(B, T, H, d).transpose(1, 2)
        v = self.v(h).view(B, T, H, d).transpose(1, 2)
        att = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d)), dim=-1)
        o = torch.matmul(att, v).transpose(1, 2).reshape(B, T, C)
        return self.drop(self.out(o))


class ConvModule(nn.Module):
    def __init__(self, dim, kernel, dropout):
        super().__init__()
        self.norm0 = nn.GroupNorm(1, dim)
        self.pw_in = nn.Conv1d(dim, 2 * dim, 1)
        self.dw = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm1 = nn.GroupNorm(1, dim)
        self.pw_out = nn.Conv1d(dim, dim, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):  # [B, C, T]
        h = F.glu(self.pw_in(self.norm0(x)), dim=1)
        h = F.silu(self.norm1(self.dw(h)))
        return self.drop(self.pw_out(h))


class Conformer(nn.Module):
    def __init__(self, dim, heads, ff_mult, kernel, dropout):
        super().__init__()
        self.ff1 = FeedForward(dim, ff_mult, dropout)
        self.attn = SelfAttention(dim, heads, dropout)
        self.conv = ConvModule(dim, kernel, dropout)
        self.ff2 = FeedForward(dim, ff_mult, dropout)
        self.ln_out = nn.LayerNorm(dim)

    def forward(self, x):  # [B, C, T] in and out
        x = x.transpose(1, 2)  # [B, T, C]
        x = x + 0.5 * self.ff1(x)
        x = x + self.attn(x)
        x = x + self.conv(x.transpose(1, 2)).transpose(1, 2)
        x = x + 0.5 * self.ff2(x)
        return self.ln_out(x).transpose(1, 2)


# ---------------------------------------------------------------- models


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.conv_in = nn.Conv1d(1, cfg["enc_in_channels"], 7, padding=3)
        blocks, cin = [], cfg["enc_in_channels"]
        for cout, s in zip(cfg["enc_channels"], cfg["strides"]):
            blocks.append(DownBlock(cin, cout, s, cfg["res_units"], cfg["daam_k"]))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.bottleneck = nn.Conv1d(cin, cfg["code_dim"], 1)
        self.conformers = nn.ModuleList(
            Conformer(cfg["code_dim"], cfg["conformer_heads"], cfg["ff_mult"], cfg["conv_kernel"], cfg["dropout"])
            for _ in range(cfg["conformer_layers"]))

    def forward(self, wave):  # [B, 1, T] -> [B, code_dim, T / hop]
        x = self.conv_in(wave)
        for b in self.blocks:
            x = b(x)
        x = self.bottleneck(x)
        for c in self.conformers:
            x = c(x)
        return x


class Predictor(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D, P = cfg["code_dim"], cfg["pred_dim"]
        args = (cfg["pred_heads"], cfg["ff_mult"], cfg["conv_kernel"], cfg["dropout"])
        self.inp = nn.Conv1d(D, P, 1)
        self.conformer0 = Conformer(P, *args)
        self.mid = nn.Conv1d(P, P, 1)
        self.conformer1 = Conformer(P, *args)
        self.out = nn.Conv1d(P, D, 1)

    def forward(self, z):
        h = self.conformer0(F.gelu(self.inp(z)))
        h = self.conformer1(F.gelu(self.mid(h)))
        return self.out(h)


def count(module):
    return sum(p.numel() for p in module.parameters())


def build(cfg):
    enc = Encoder(cfg)
    pred = Predictor(cfg)
    # src/stage1.c initialises the token to 0
    mask_token = nn.Parameter(torch.zeros(1, cfg["code_dim"], 1))
    return enc, pred, mask_token


# ---------------------------------------------------------------- the step


class Stage1:
    def __init__(self, cfg, enc, pred, mask_token):
        self.enc, self.pred, self.mask_token = enc, pred, mask_token
        self.target = copy.deepcopy(enc)
        self.target.eval()  # dropout off (the encoder has dropout only in its Conformers)
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.enc.train()
        self.pred.train()
        self.params = list(enc.parameters()) + list(pred.parameters()) + [mask_token]
        self.online_enc = list(enc.parameters())
        self.target_enc = list(self.target.parameters())
        # foreach: the multi-tensor AdamW, PyTorch's fastest CPU path in 1.13
        self.opt = torch.optim.AdamW(self.params, lr=1.5e-4, betas=(0.8, 0.99), eps=1e-8, weight_decay=1e-3,
                                     foreach=True)
        self.code_dim = cfg["code_dim"]

    def step(self, wave, m):
        z = self.enc(wave)
        ctx = z + (self.mask_token - z) * m
        pred = self.pred(ctx)
        with torch.no_grad():
            target = self.target(wave)
        loss = ((pred - target).pow(2) * m).sum() / (m.sum() * self.code_dim)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        with torch.no_grad():  # EMA of the target encoder
            torch._foreach_mul_(self.target_enc, 0.996)
            torch._foreach_add_(self.target_enc, self.online_enc, alpha=0.004)
        return loss.item()


def main():
    ap = argparse.ArgumentParser(description="Time the stage-1 JEPA step in PyTorch (mirrors src/stage1.c).")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="small")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop-seconds", type=float, default=4.0)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count-only", action="store_true", help="print the parameter counts and exit")
    a = ap.parse_args()
    if a.batch < 1 or a.steps < 1 or a.warmup < 0 or a.crop_seconds <= 0:
        ap.error("--batch and --steps must be positive, --warmup >= 0, --crop-seconds > 0")

    tunables = bool(os.environ.get("GLIBC_TUNABLES"))
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = CONFIGS[a.config]
    enc, pred, mask_token = build(cfg)
    n_enc, n_pred = count(enc), count(pred)
    want = EXPECTED_COUNTS[a.config]
    assert (n_enc, n_pred) == want, f"parameter counts {n_enc}, {n_pred} differ from the C model's {want}"
    if a.count_only:
        print(json.dumps({"config": a.config, "params_encoder": n_enc, "params_predictor": n_pred,
                          "params_mask_token": mask_token.numel()}))
        return 0
    if not tunables:
        print("torch_stage1.py: GLIBC_TUNABLES is not set; large frees go back to the kernel every step "
              "(see the docstring)", file=sys.stderr)

    hop = hop_of(cfg)
    # as src/bench_stage1.c: the crop rounded up to a whole number of frames
    T = (int(a.crop_seconds * SAMPLE_RATE) + hop - 1) // hop * hop
    frames = T // hop
    g = torch.Generator().manual_seed(7)
    wave = torch.randn(a.batch, 1, T, generator=g) * 0.1
    m = (torch.rand(a.batch, 1, frames, generator=g) < 0.5).float()
    if m.sum() == 0:  # never divide by zero masked frames (tiny batches)
        m[..., 0] = 1.0

    s = Stage1(cfg, enc, pred, mask_token)
    for _ in range(a.warmup):
        s.step(wave, m)
    times, loss = [], float("nan")
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = s.step(wave, m)  # .item() waits for the step to finish
        times.append(time.perf_counter() - t0)
    if not math.isfinite(loss):
        print(f"torch_stage1.py: loss is {loss}", file=sys.stderr)
        return 1
    print(json.dumps({
        "config": a.config,
        "batch": a.batch,
        "crop_seconds": a.crop_seconds,
        "threads": torch.get_num_threads(),
        "seconds_per_step": statistics.median(times),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "params_encoder": n_enc,
        "params_predictor": n_pred,
        "torch": torch.__version__,
        "glibc_tunables": tunables,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "samples": T,
        "frames": frames,
        "steps": a.steps,
        "warmup": a.warmup,
        "loss": loss,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
