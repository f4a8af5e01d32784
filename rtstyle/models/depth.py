"""Relative-depth hourglass of Chen, Fu, Yang and Deng 2016 ("Single-image depth perception in the wild").

(N, 3, H, W) RGB in [0, 1] of any H, W -> (N, 1, H, W) relative depth, larger = farther. The net
needs H, W divisible by 16 (four 2× poolings), so inputs are edge-padded and the output cropped.

Layout (seed 003 → Chen et al.'s ``hourglass3``; letters are the inception configs below)::

    stem 7×7 conv 3→128 + BN + ReLU
    L4 (full res):  skip G          + main MaxPool → C → C → L3 → E → F → Up
    L3 (½):         skip C → D      + main MaxPool → C → A → L2 → A → C → Up
    L2 (¼):         skip A → B      + main AvgPool → A → A → L1 → A → B → Up
    L1 (⅛):         skip A → A      + main AvgPool → A → A → A → Up
    head 3×3 conv 64→1

``variant='full'`` is that net (≈5.4 M parameters, ≈47 GMAC at 240×320). A third of its work is the
full-resolution skip block G (11×11 and 7×7 convs on 64 channels at every pixel), so ``'rt'``
replaces G with a slim block S (``top='slim'``: 16-channel 3/5/7 branches) and halves every channel
count (``width=0.5``).

Residual learning on a prior (``prior='rows'``): the output is ``g · prior(y) + head(features)``, where
prior(y) = 1 − 2 (y + ½) / H runs from ≈ +1 at the top row (far) to ≈ −1 at the bottom (near), i.e.
"lower in the frame is nearer", ``g`` is a learned scalar starting at 1, and the head conv starts at
zero. An untrained net therefore *is* the prior, exactly, and training must earn every pair it orders
better than the prior. The ramp is built from the output's own shape (cumsum of ones), so the ONNX
export keeps dynamic H, W. ``prior='none'`` (the default, and what older weights were trained as) is
Chen et al.'s plain head.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..ops import crop_to, pad_to_multiple

# Inception configs: [c1] is the 1×1 branch, each [k, a, b] a 1×1 cin→a then k×k a→b branch.
CONFIGS = {
    "A": [[64], [3, 32, 64], [5, 32, 64], [7, 32, 64]],     # -> 256
    "B": [[64], [3, 64, 64], [7, 64, 64], [11, 64, 64]],    # -> 256
    "C": [[32], [3, 32, 32], [5, 32, 32], [7, 32, 32]],     # -> 128
    "D": [[32], [3, 64, 32], [7, 64, 32], [11, 64, 32]],    # -> 128
    "E": [[32], [3, 64, 32], [5, 64, 32], [7, 64, 32]],     # -> 128
    "F": [[16], [3, 32, 16], [7, 32, 16], [11, 32, 16]],    # -> 64
    "G": [[16], [3, 64, 16], [7, 64, 16], [11, 64, 16]],    # -> 64
    # S: real-time stand-in for G at full resolution, same 64 outputs, ~7× fewer MACs.
    "S": [[16], [3, 16, 16], [5, 16, 16], [7, 16, 16]],
}
VARIANTS = {
    "full": {"width": 1.0, "top": "G"},
    "rt": {"width": 0.5, "top": "slim"},
}


def _scale(c: int, width: float) -> int:
    return max(1, int(round(c * width)))


def _conv_bn_relu(cin: int, cout: int, k: int) -> list[nn.Module]:
    # BN without affine inside the blocks, as in the paper's Torch code; the convs keep their bias.
    return [nn.Conv2d(cin, cout, k, padding=(k - 1) // 2), nn.BatchNorm2d(cout, affine=False), nn.ReLU(inplace=True)]


class Inception(nn.Module):
    """Concatenation of a 1×1 branch and 1×1 → k×k branches, each conv followed by BN + ReLU."""

    def __init__(self, cin: int, config: list[list[int]], width: float = 1.0):
        super().__init__()
        first, *rest = config
        branches = [nn.Sequential(*_conv_bn_relu(cin, _scale(first[0], width), 1))]
        for k, a, b in rest:
            a, b = _scale(a, width), _scale(b, width)
            branches.append(nn.Sequential(*_conv_bn_relu(cin, a, 1), *_conv_bn_relu(a, b, k)))
        self.branches = nn.ModuleList(branches)
        self.out_channels = _scale(first[0], width) + sum(_scale(b, width) for _, _, b in rest)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], dim=1)


class _Up(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2.0, mode="nearest")


class _Level(nn.Module):
    """skip(x) + main(x): main pools, runs its blocks (with the next level inside) and upsamples."""

    def __init__(self, skip: nn.Module, main: nn.Module):
        super().__init__()
        self.skip, self.main = skip, main

    def forward(self, x):
        return self.skip(x) + self.main(x)


def _chain(cin: int, letters: str, width: float, inner: nn.Module | None = None, at: int = 0,
           pool: type[nn.Module] | None = None) -> tuple[nn.Sequential, int]:
    """Inception blocks named by ``letters`` (one letter each), ``inner`` inserted before block ``at``;
    with ``pool``: pooled first and upsampled 2× last. Returns the chain and its output channels."""
    mods: list[nn.Module] = [pool(2)] if pool else []
    c = cin
    for i, letter in enumerate(letters):
        if inner is not None and i == at:
            mods.append(inner)
            c = inner.out_channels
        block = Inception(c, CONFIGS[letter], width)
        mods.append(block)
        c = block.out_channels
    if pool:
        mods.append(_Up())
    seq = nn.Sequential(*mods)
    seq.out_channels = c
    return seq, c


def _level(cin: int, skip: str, main: str, width: float, pool, inner: nn.Module | None, at: int) -> _Level:
    skip_seq, cs = _chain(cin, skip, width)
    main_seq, cm = _chain(cin, main, width, inner, at, pool)
    if cs != cm:
        raise ValueError(f"level branches disagree: skip {cs} vs main {cm} channels")
    lvl = _Level(skip_seq, main_seq)
    lvl.out_channels = cs
    return lvl


class HourglassDepth(nn.Module):
    """Chen et al. 2016 hourglass. (N, 3, H, W) RGB [0, 1] -> (N, 1, H, W) relative depth (larger = farther).

    Args:
        width: multiplier on every channel count inside the inception blocks (1.0 = paper).
        top: ``'G'`` (paper) or ``'slim'`` for the full-resolution skip block of level 4.
    """

    multiple = 16

    def __init__(self, width: float = 1.0, top: str = "G", prior: str = "none"):
        super().__init__()
        if top not in ("G", "slim"):
            raise ValueError(f"top must be 'G' or 'slim', got {top!r}")
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        stem_ch = 4 * _scale(32, width)  # = C's output, so the L4 branches line up (128 at width 1)
        self.stem = nn.Sequential(nn.Conv2d(3, stem_ch, 7, padding=3), nn.BatchNorm2d(stem_ch), nn.ReLU(inplace=True))
        a_ch = 4 * _scale(64, width)     # A's output: the input of L2 and L1
        l1 = _level(a_ch, "AA", "AAA", width, nn.AvgPool2d, None, 0)
        l2 = _level(a_ch, "AB", "AAAB", width, nn.AvgPool2d, l1, 2)
        l3 = _level(stem_ch, "CD", "CAAC", width, nn.MaxPool2d, l2, 2)
        self.body = _level(stem_ch, "G" if top == "G" else "S", "CCEF", width, nn.MaxPool2d, l3, 2)
        self.head = nn.Conv2d(self.body.out_channels, 1, 3, padding=1)
        self.prior = prior
        if prior == "rows":
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
            self.prior_gain = nn.Parameter(torch.ones(1))
        self.config = {"width": width, "top": top} | ({"prior": prior} if prior != "none" else {})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, size = pad_to_multiple(x, self.multiple)
        z = crop_to(self.head(self.body(self.stem(x))), size)
        if self.prior == "rows":
            z = z + self.prior_gain.to(z.dtype) * rows_prior(z)
        return z


PRIORS = ("none", "rows")


def rows_prior(like: torch.Tensor) -> torch.Tensor:
    """"Lower in the frame is nearer" as a depth map shaped like ``like`` (N, 1, H, W): 1 − 2 (y + ½) / H,
    ≈ +1 (far) at the top row to ≈ −1 (near) at the bottom. Made of cumsum/sum so ONNX keeps H dynamic."""
    ones = torch.ones_like(like)
    rows = ones.cumsum(dim=2) - 0.5
    return 1.0 - 2.0 * rows / ones.sum(dim=2, keepdim=True)


def build_depth_net(variant: str = "full", **overrides) -> HourglassDepth:
    """The depth net of a named ``variant`` (``'full'`` | ``'rt'``), with ``overrides`` (width, top).

    ``build_depth_net(**net.config)`` rebuilds the same architecture (the manifest stores ``config``).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown depth variant {variant!r}; known: {', '.join(VARIANTS)}")
    cfg = {**VARIANTS[variant], **overrides}
    net = HourglassDepth(**cfg)
    net.config = {"variant": variant, **cfg}
    return net
