#!/usr/bin/python3
"""make_golden.py: PyTorch reference values for tests/test-golden.c.

Run with a Python that has torch (Debian's /usr/bin/python3 with torch 1.13
CPU was used):   /usr/bin/python3 tests/golden/make_golden.py
It rewrites tests/golden/golden.bin next to this script.  The output is
deterministic (fixed seed, float64 CPU arithmetic), so regenerating it only
changes the file when this script changes.

File format (all integers unsigned 32-bit little-endian, data float32 LE):
    magic      8 bytes  b"JCGOLD1\\n"
    count      u32      number of records
    count records, each:
        name_len   u32
        name       name_len bytes of ASCII, no terminator
        ndim       u32      1..4
        dims       ndim x u32, row-major, last axis fastest
        data       prod(dims) x f32

Names are "<case>/<tensor>".  Every case has its inputs, parameters, a
"cfg" vector of small integers stored as floats (so the C side needs no
second copy of the settings) and the expected output "y".

References are computed in float64 from the float32-rounded inputs and
weights, so the stored inputs are exactly what the reference consumed and
the only difference left is the C side's float32 arithmetic.

Cases:
  conv1d/<name>: x [B, Cin, T], w [Cout, Cin/groups, K], b [Cout] (absent
      when the case has no bias), cfg = [stride, pad_left, pad_right,
      dilation, groups].  Asymmetric padding is applied with F.pad because
      F.conv1d only pads symmetrically.
  convt1d/<name>: x [B, Cin, T], w [Cin, Cout/groups, K], b [Cout],
      cfg = [stride, padding, output_padding, dilation, groups].
  group_norm1/affine: x [3, 5, 17], gamma, beta; eps 1e-5.
  group_norm1/masked: same shapes plus lengths [B]; the reference for each
      item is computed on its truncated sequence and the padded frames of y
      are zero (what jc_group_norm1 promises with a mask and beta).
  layer_norm/affine: x [2, 7, 10], gamma, beta [10]; eps 1e-5.
  softmax/last, softmax/axis1: x [3, 4, 11]; cfg = [axis].
  conformer/block: one Conformer block (see conformer_block below), C = 16,
      4 heads, feed-forward 4C, depthwise kernel 7, x [2, 13, 16], lengths
      [13, 9].  Item 2 has 4 frames of large garbage padding; its reference
      is the block applied to the 9 valid frames alone, so any leak of
      padding into valid frames shows up.  y holds zeros at padded frames
      (not compared).  cfg = [heads, kernel].  Norm eps 1e-5 throughout.
"""
import os
import struct

import torch
import torch.nn.functional as F

torch.manual_seed(20240611)
torch.set_default_dtype(torch.float64)

EPS = 1e-5
records = []


def f32(t):
    """Round to float32 and back: the values the C side will see."""
    return t.float().double()


def rand(*shape, scale=1.0):
    return f32(torch.randn(*shape) * scale)


def put(name, t):
    t = torch.as_tensor(t, dtype=torch.float64)
    if t.dim() == 0:
        t = t.reshape(1)
    assert 1 <= t.dim() <= 4, name
    records.append((name, t.detach().float().contiguous()))


# ------------------------------------------------------------ convolutions
def conv_case(name, B, Cin, Cout, T, K, stride, pad_l, pad_r, dil, groups, bias=True):
    x = rand(B, Cin, T)
    w = rand(Cout, Cin // groups, K, scale=(Cin // groups * K) ** -0.5)
    b = rand(Cout, scale=0.5) if bias else None
    y = F.conv1d(F.pad(x, (pad_l, pad_r)), w, b, stride=stride, dilation=dil, groups=groups)
    p = "conv1d/" + name + "/"
    put(p + "x", x)
    put(p + "w", w)
    if bias:
        put(p + "b", b)
    put(p + "cfg", torch.tensor([stride, pad_l, pad_r, dil, groups], dtype=torch.float64))
    put(p + "y", y)


conv_case("basic", 2, 5, 7, 37, 3, 1, 1, 1, 1, 1)
conv_case("stride3 asym pad", 2, 5, 7, 37, 5, 3, 2, 1, 1, 1)
conv_case("dilation3", 2, 5, 7, 37, 3, 1, 3, 3, 3, 1)
conv_case("groups3", 2, 6, 9, 37, 3, 1, 1, 1, 1, 3)
conv_case("depthwise k7", 2, 6, 6, 37, 7, 1, 3, 3, 1, 6)
# depthwise kernels are a separate code path: also strided, dilated, asymmetric
conv_case("depthwise k5 stride2 dil2 asym", 3, 6, 6, 29, 5, 2, 3, 1, 2, 6)
# 1x1 without padding takes the no-im2col path; no bias here
conv_case("pointwise nobias", 2, 5, 7, 37, 1, 1, 0, 0, 1, 1, bias=False)


def convt_case(name, B, Cin, Cout, T, K, stride, pad, out_pad, dil, groups):
    x = rand(B, Cin, T)
    w = rand(Cin, Cout // groups, K, scale=(Cin // groups * K) ** -0.5)
    b = rand(Cout, scale=0.5)
    y = F.conv_transpose1d(x, w, b, stride=stride, padding=pad, output_padding=out_pad,
                           groups=groups, dilation=dil)
    p = "convt1d/" + name + "/"
    put(p + "x", x)
    put(p + "w", w)
    put(p + "b", b)
    put(p + "cfg", torch.tensor([stride, pad, out_pad, dil, groups], dtype=torch.float64))
    put(p + "y", y)


convt_case("stride4 k8 pad2 outpad1", 2, 6, 5, 11, 8, 4, 2, 1, 1, 1)
convt_case("stride5 k10 pad3", 2, 6, 5, 11, 10, 5, 3, 0, 1, 1)
convt_case("groups2 stride2", 2, 6, 4, 11, 4, 2, 1, 1, 1, 2)
convt_case("depthwise stride2", 2, 6, 6, 11, 4, 2, 1, 0, 1, 6)


# ----------------------------------------------------------- normalisation
def group_norm1(x, gamma, beta):
    """GroupNorm with one group on [B, C, T], written out: population
    variance over C and T per item."""
    mu = x.mean(dim=(1, 2), keepdim=True)
    var = ((x - mu) ** 2).mean(dim=(1, 2), keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS) * gamma[:, None] + beta[:, None]


x = rand(3, 5, 17)
gamma = f32(1 + 0.3 * torch.randn(5))
beta = rand(5, scale=0.3)
y = group_norm1(x, gamma, beta)
# cross-check the hand-written form against torch's own module
assert torch.allclose(y, F.group_norm(x, 1, gamma, beta, EPS))
put("group_norm1/affine/x", x)
put("group_norm1/affine/gamma", gamma)
put("group_norm1/affine/beta", beta)
put("group_norm1/affine/y", y)

lengths = [17, 11, 6]
x = rand(3, 5, 17, scale=2.0) + 1.0  # offset so a wrong mean is visible
y = torch.zeros_like(x)
for i, n in enumerate(lengths):
    y[i:i + 1, :, :n] = group_norm1(x[i:i + 1, :, :n], gamma, beta)
put("group_norm1/masked/x", x)
put("group_norm1/masked/gamma", gamma)
put("group_norm1/masked/beta", beta)
put("group_norm1/masked/lengths", torch.tensor(lengths, dtype=torch.float64))
put("group_norm1/masked/y", y)

x = rand(2, 7, 10, scale=1.5) + 0.5
gamma = f32(1 + 0.3 * torch.randn(10))
beta = rand(10, scale=0.3)
put("layer_norm/affine/x", x)
put("layer_norm/affine/gamma", gamma)
put("layer_norm/affine/beta", beta)
put("layer_norm/affine/y", F.layer_norm(x, (10,), gamma, beta, EPS))

x = rand(3, 4, 11, scale=3.0)
for name, axis in (("last", 2), ("axis1", 1)):
    put("softmax/%s/x" % name, x)
    put("softmax/%s/cfg" % name, torch.tensor([axis], dtype=torch.float64))
    put("softmax/%s/y" % name, torch.softmax(x, dim=axis))

# --------------------------------------------------------------- conformer
C, HEADS, FF, KER = 16, 4, 64, 7
P = {}


def param(name, *shape, scale=None, around=0.0):
    """A named weight: normal around `around`, default scale 1/sqrt(fan_in)."""
    if scale is None:
        scale = shape[-1] ** -0.5 if len(shape) > 1 else 0.2
    t = f32(around + torch.randn(*shape) * scale)
    P[name] = t
    return t


def ln_params(prefix):
    param(prefix + ".gamma", C, scale=0.2, around=1.0)
    param(prefix + ".beta", C, scale=0.2)


for ff in ("ff1", "ff2"):
    ln_params(ff + ".ln")
    param(ff + ".w1", FF, C)
    param(ff + ".b1", FF)
    param(ff + ".w2", C, FF)
    param(ff + ".b2", C)
ln_params("att.ln")
for proj in ("q", "k", "v", "o"):
    param("att.w" + proj, C, C)
    param("att.b" + proj, C)
param("conv.gn1.gamma", C, scale=0.2, around=1.0)
param("conv.gn1.beta", C, scale=0.2)
param("conv.pw1.w", 2 * C, C, 1, scale=C ** -0.5)
param("conv.pw1.b", 2 * C)
param("conv.dw.w", C, 1, KER, scale=KER ** -0.5)
param("conv.dw.b", C)
param("conv.gn2.gamma", C, scale=0.2, around=1.0)
param("conv.gn2.beta", C, scale=0.2)
param("conv.pw2.w", C, C, 1, scale=C ** -0.5)
param("conv.pw2.b", C)
ln_params("out.ln")


def layer_norm(x, prefix):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS) * P[prefix + ".gamma"] + P[prefix + ".beta"]


def linear(x, w, b):
    return x @ w.t() + b


def feed_forward(x, ff):
    h = linear(layer_norm(x, ff + ".ln"), P[ff + ".w1"], P[ff + ".b1"])
    h = h * torch.sigmoid(h)  # SiLU
    return linear(h, P[ff + ".w2"], P[ff + ".b2"])


def mhsa(x):
    """Plain multi-head self-attention on [B, T, C] without any mask: the
    reference only ever sees unpadded sequences."""
    B, T, _ = x.shape
    dh = C // HEADS
    h = layer_norm(x, "att.ln")

    def heads(t):  # [B, T, C] -> [B, H, T, dh]
        return t.reshape(B, T, HEADS, dh).permute(0, 2, 1, 3)

    q = heads(linear(h, P["att.wq"], P["att.bq"]))
    k = heads(linear(h, P["att.wk"], P["att.bk"]))
    v = heads(linear(h, P["att.wv"], P["att.bv"]))
    att = torch.softmax(q @ k.transpose(-1, -2) / dh ** 0.5, dim=-1)
    o = (att @ v).permute(0, 2, 1, 3).reshape(B, T, C)
    return linear(o, P["att.wo"], P["att.bo"])


def conv_module(x):
    h = x.transpose(1, 2)  # [B, C, T]
    h = group_norm1(h, P["conv.gn1.gamma"], P["conv.gn1.beta"])
    h = F.conv1d(h, P["conv.pw1.w"], P["conv.pw1.b"])
    h = h[:, :C] * torch.sigmoid(h[:, C:])  # GLU over channels
    h = F.conv1d(h, P["conv.dw.w"], P["conv.dw.b"], padding=KER // 2, groups=C)
    h = group_norm1(h, P["conv.gn2.gamma"], P["conv.gn2.beta"])
    h = h * torch.sigmoid(h)
    h = F.conv1d(h, P["conv.pw2.w"], P["conv.pw2.b"])
    return h.transpose(1, 2)


def conformer_block(x):
    x = x + 0.5 * feed_forward(x, "ff1")
    x = x + mhsa(x)
    x = x + conv_module(x)
    x = x + 0.5 * feed_forward(x, "ff2")
    return layer_norm(x, "out.ln")


B, T = 2, 13
lengths = [13, 9]
x = rand(B, T, C)
x[1, lengths[1]:] = rand(T - lengths[1], C, scale=50.0)  # loud garbage padding
y = torch.zeros(B, T, C)
for i, n in enumerate(lengths):  # each item alone, truncated: no padding at all
    y[i:i + 1, :n] = conformer_block(x[i:i + 1, :n])
put("conformer/block/x", x)
put("conformer/block/lengths", torch.tensor(lengths, dtype=torch.float64))
put("conformer/block/cfg", torch.tensor([HEADS, KER], dtype=torch.float64))
for name in sorted(P):
    put("conformer/block/" + name, P[name])
put("conformer/block/y", y)

# ------------------------------------------------------------------- write
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.bin")
with open(out + ".tmp", "wb") as f:
    f.write(b"JCGOLD1\n")
    f.write(struct.pack("<I", len(records)))
    for name, t in records:
        nb = name.encode("ascii")
        f.write(struct.pack("<I", len(nb)))
        f.write(nb)
        f.write(struct.pack("<I", t.dim()))
        f.write(struct.pack("<%dI" % t.dim(), *t.shape))
        f.write(struct.pack("<%df" % t.numel(), *t.reshape(-1).tolist()))
os.replace(out + ".tmp", out)
print("%s: %d records, %d bytes" % (out, len(records), os.path.getsize(out)))
