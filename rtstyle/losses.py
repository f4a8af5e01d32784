"""Losses for training and evaluation, built on :mod:`rtstyle.ops`.

Normalisations follow Liu & Shuai 2019: content 1/(nC·nH·nW)·‖a(c) − a(g)‖² and style
1/(2·nC·nH·nW)²·‖G(s) − G(g)‖² with un-normalised Gram matrices. With :func:`rtstyle.ops.gram`
already divided by nC·nH·nW, the style loss is ¼·‖G(s) − G(g)‖² summed over the C×C entries.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

from . import ops


def content_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error per element, averaged over the batch: 1/(C·H·W)·‖a − b‖²."""
    return (a - b).pow(2).mean()


def _gram_distance(g_target: torch.Tensor, g_out: torch.Tensor) -> torch.Tensor:
    # g_target may be (1, C, C) for a single style image and broadcasts over the batch.
    return 0.25 * (g_out - g_target).pow(2).sum(dim=(1, 2)).mean()


def style_loss(target_grams: Mapping[str, torch.Tensor], feats: Mapping[str, torch.Tensor],
               layers: Sequence[str], layer_weights: Mapping[str, float] | None = None) -> torch.Tensor:
    """Σ over ``layers`` of w_l·¼·‖G(s) − G(g)‖² (Grams normalised by C·H·W; w_l = 1 by default)."""
    total = feats[layers[0]].new_zeros(())
    for name in layers:
        w = 1.0 if layer_weights is None else layer_weights[name]
        total = total + w * _gram_distance(target_grams[name], ops.gram(feats[name]))
    return total


def tap_scales(target_grams: Mapping[str, torch.Tensor], feats: Mapping[str, torch.Tensor],
               taps: Sequence[str]) -> dict[str, float]:
    """1 / (style loss of ``feats`` against ``target_grams``) per tap, so that ``feats`` scores 1 per tap."""
    return {t: 1.0 / max(style_loss(target_grams, feats, [t]).item(), 1e-12) for t in taps}


def shift_loss(target_shift_grams: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
               feats: Mapping[str, torch.Tensor], layers: Sequence[str], delta: int,
               layer_weights: Mapping[str, float] | None = None) -> torch.Tensor:
    """Spatial-shift Gram loss L_δ = ½(L_X,δ + L_Y,δ), Σ over ``layers`` with weights w_l (Liu & Shuai 2019).

    ``target_shift_grams[name]`` holds (G_x,δ, G_y,δ) of the style image at that tap.
    """
    total = feats[layers[0]].new_zeros(())
    for name in layers:
        w = 1.0 if layer_weights is None else layer_weights[name]
        gx, gy = target_shift_grams[name]
        f = feats[name]
        lx = _gram_distance(gx, ops.shifted_gram(f, delta, "x"))
        ly = _gram_distance(gy, ops.shifted_gram(f, delta, "y"))
        total = total + w * 0.5 * (lx + ly)
    return total


def mean_std_loss(target: Mapping[str, torch.Tensor], feats: Mapping[str, torch.Tensor],
                  layers: Sequence[str]) -> torch.Tensor:
    """AdaIN style loss: Σ ‖μ(s) − μ(g)‖² + ‖σ(s) − σ(g)‖² over layers (mean over channels and batch)."""
    total = feats[layers[0]].new_zeros(())
    for name in layers:
        ms, ss = ops.mean_std(target[name])
        mg, sg = ops.mean_std(feats[name])
        total = total + (ms - mg).pow(2).mean() + (ss - sg).pow(2).mean()
    return total


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Total-variation regulariser (see :func:`rtstyle.ops.total_variation`)."""
    return ops.total_variation(x)


def ranking_loss(z: torch.Tensor, ia: torch.Tensor, ib: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Relative-depth ranking loss of Chen et al. 2016, averaged over pairs.

    Args:
        z: (N, 1, H, W) predicted depth (larger = farther) or (N, P) flattened.
        ia, ib: (N, K) long indices into the flattened H·W map of the two points of each pair.
        r: (N, K) in {−1, 0, +1}: +1 when point a is farther than b, −1 when nearer, 0 when equal.
    Returns:
        scalar: mean of log(1 + exp(−r·(z_a − z_b))) for r ≠ 0 and (z_a − z_b)² for r = 0.
    """
    flat = z.reshape(z.shape[0], -1)
    d = flat.gather(1, ia) - flat.gather(1, ib)
    r = r.to(d.dtype)
    ordinal = torch.nn.functional.softplus(-r * d)  # log(1 + exp(−r·d)), numerically stable
    equal = d.pow(2)
    return torch.where(r != 0, ordinal, equal).mean()
