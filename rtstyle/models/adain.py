"""Arbitrary style transfer with adaptive instance norm (Huang & Belongie 2017; Wu & Song 2020).

Encoder: VGG19 up to relu4_1 (frozen ImageNet weights shipped with rtstyle). Decoder: its mirror
with nearest upsampling. Any style is two (N, 512, 1, 1) tensors, so styles are computed once and
switched or mixed per frame at no cost. Depth-aware mode (Wu & Song 2020): a per-pixel strength map
α (far = 1, near = 0) blends the AdaIN target with the content features before decoding.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from .. import ops

Stats = tuple[torch.Tensor, torch.Tensor]


def _conv(cin: int, cout: int) -> list[nn.Module]:
    # Reflection padding as in the reference decoder: no dark zero-padded borders.
    return [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]


def _up() -> nn.Module:
    return nn.Upsample(scale_factor=2, mode="nearest")


class AdaINDecoder(nn.Module):
    """Mirror of VGG19 conv1_1..relu4_1: (N, 512, H/8, W/8) features -> (N, 3, H, W) RGB in [0, 1].

    512→256, up, 256→256 ×3, 256→128, up, 128→128, 128→64, up, 64→64, 64→3 (3×3 convs, ReLU
    between). The reference decoder emits unbounded Caffe-range pixels; ours feeds an encoder
    that takes RGB [0, 1], so it ends in 0.5·(tanh + 1) like the feed-forward nets (a rescaled
    sigmoid: bounded, no clamp at inference, and the same output convention across families).

    The input is multiplied by ``in_scale`` first: relu4_1 of the Caffe-scaled VGG19 has mean ≈ 450
    and std ≈ 740 on our photos, so without it one Adam step of 3e-4 on the first conv's 4 608
    inputs moves its outputs by tens and saturates the tanh within a few dozen steps.

    Args:
        width_scale: multiplier on the 256/128/64 channel counts (the 512 input stays).
        in_scale: fixed factor on the input features (1 = the reference decoder).
    """

    def __init__(self, width_scale: float = 1.0, in_scale: float = 1e-3):
        super().__init__()
        if width_scale <= 0:
            raise ValueError(f"width_scale must be positive, got {width_scale}")
        c256, c128, c64 = (max(1, int(round(c * width_scale))) for c in (256, 128, 64))
        # Comments name the VGG19 layer each stage mirrors.
        layers: list[nn.Module] = [*_conv(512, c256), nn.ReLU(), _up()]                  # relu4_1
        for _ in range(3):
            layers += [*_conv(c256, c256), nn.ReLU()]                                     # relu3_4..3_2
        layers += [*_conv(c256, c128), nn.ReLU(), _up()]                                  # relu3_1
        layers += [*_conv(c128, c128), nn.ReLU(), *_conv(c128, c64), nn.ReLU(), _up()]  # relu2_2, 2_1
        layers += [*_conv(c64, c64), nn.ReLU(), *_conv(c64, 3)]                           # relu1_2, conv1_1
        self.layers = nn.Sequential(*layers)
        self.in_scale = float(in_scale)
        self.config = {"width_scale": width_scale, "in_scale": self.in_scale}

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return 0.5 * (torch.tanh(self.layers(feats * self.in_scale)) + 1.0)


def mix_stats(stats: Sequence[Stats], weights: Sequence[float] | torch.Tensor) -> Stats:
    """Weighted mean of style statistics (weights normalised to sum 1).

    AdaIN is linear in (μ_s, σ_s) for fixed content, so decoding with mixed statistics equals
    decoding the same mix of the per-style AdaIN targets (the interpolation of Huang & Belongie).
    """
    if len(stats) == 0 or len(stats) != len(weights):
        raise ValueError(f"need one weight per style: {len(stats)} styles, {len(weights)} weights")
    w = torch.as_tensor(weights, dtype=stats[0][0].dtype, device=stats[0][0].device)
    total = w.sum()
    if total.abs() < 1e-12:
        raise ValueError("style weights sum to 0; give at least one positive weight")
    w = w / total
    mean = sum(wi * m for wi, (m, _) in zip(w, stats))
    std = sum(wi * s for wi, (_, s) in zip(w, stats))
    return mean, std


class AdaINNet(nn.Module):
    """Encoder (frozen VGG19 to relu4_1) + decoder.

    ``forward(content, style_mean, style_std, alpha=1.0, alpha_map=None)``:
    content (N, 3, H, W) RGB [0, 1], any H, W; stats from :meth:`style_stats`; returns (N, 3, H, W)
    in [0, 1]. Strength = ``alpha`` (scalar) times ``alpha_map`` ((N, 1, h, w) in [0, 1], e.g.
    normalised depth, resized to the feature map) when one is given.
    """

    multiple = 8   # three 2× poolings in the encoder
    min_size = 16  # relu4_1 needs 2 px for the decoder's reflection padding

    def __init__(self, decoder: AdaINDecoder, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder   # rtstyle.weights.adain_net gives the shipped VGG19 encoder
        self.encoder.eval().requires_grad_(False)
        self.decoder = decoder

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen: never switch it to training behaviour
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB [0, 1] -> relu4_1 features (N, 512, H//8, W//8)."""
        return self.encoder(x, ("relu4_1",))["relu4_1"]

    def style_stats(self, style: torch.Tensor) -> Stats:
        """Per-channel mean and std of the style's relu4_1 features -> two (N, 512, 1, 1)."""
        if min(style.shape[-2:]) < self.multiple:  # VGG's poolings need at least 8 px
            style, _ = ops.pad_to_multiple(style, self.multiple, self.multiple)
        return ops.mean_std(self.encode(style))

    mix_stats = staticmethod(mix_stats)

    def forward(self, content: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor,
                alpha: float | torch.Tensor = 1.0, alpha_map: torch.Tensor | None = None) -> torch.Tensor:
        x, size = ops.pad_to_multiple(content, self.multiple, self.min_size)
        f = self.encode(x)
        c_mean, c_std = ops.mean_std(f)
        t = style_std * (f - c_mean) / c_std + style_mean
        if alpha_map is not None:
            if alpha_map.shape[-2:] != size:  # bring it onto the content grid, then pad like the content
                alpha_map = nn.functional.interpolate(alpha_map, size=size, mode="bilinear", align_corners=False)
            alpha_map, _ = ops.pad_to_multiple(alpha_map, self.multiple, self.min_size)
            alpha = alpha * alpha_map
        return ops.crop_to(self.decoder(ops.strength_blend(t, f, alpha)), size)
