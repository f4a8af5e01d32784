"""Gatys, Ecker & Bethge 2016 optimisation baseline: optimise the pixels of one image.

Loss net VGG19: content relu4_2, style relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (the relu
outputs of the papers' conv4_2 and conv1_1…conv5_1). Style terms use Liu & Shuai 2019's ¼‖ΔG‖² with
C·H·W-normalised Grams; with Caffe-scaled features relu5_1's raw term dwarfs relu1_1's by orders of
magnitude, so each tap is divided by its value for the content image itself (the starting point
scores 1 per tap), the idea of ``rtstyle.train.transformer._Targets.calibrate``. The content term
is divided by its value for uniform noise, so both sit on a 0…~1 scale and the weights are readable.

The image is optimised as logits (x = sigmoid(p)): always in [0, 1] with no clamping, which
L-BFGS's curvature model would not survive.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable, Sequence

import torch

from .. import losses, ops
from ..models.vgg import LAYERS, VGG19Features
from ..weights import load_vgg19

CONTENT_TAP = "relu4_2"
STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
_EPS = 0.01  # logit parametrisation: start pixels in [ε, 1−ε] so none begins with a vanishing gradient


@dataclasses.dataclass
class GatysResult:
    """The stylized (1, 3, H, W) float image in [0, 1] and how it got there."""

    image: torch.Tensor
    losses: list[dict[str, float]]       # per iteration: total, content, style, tv (weighted)
    iter_seconds: list[float]            # wall time of each iteration (synchronised on CUDA)
    setup_seconds: float                 # VGG targets and scales, before the first iteration

    @property
    def total_seconds(self) -> float:
        return self.setup_seconds + sum(self.iter_seconds)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gatys(content: torch.Tensor, style: torch.Tensor, iters: int = 500, content_weight: float = 1.0,
          style_weight: float = 3.0, tv_weight: float = 10.0, lr: float | None = None,
          optimizer: str = "adam", progress: Callable[[int, dict[str, float]], None] | None = None,
          vgg: VGG19Features | None = None, content_tap: str = CONTENT_TAP,
          style_taps: Sequence[str] = STYLE_TAPS) -> GatysResult:
    """Stylize ``content`` towards ``style`` by optimising the image; see :func:`stylize_gatys`."""
    if content.dim() != 4 or content.shape[:2] != (1, 3) or style.dim() != 4 or style.shape[:2] != (1, 3):
        raise ValueError(f"content and style must be (1, 3, H, W); got {tuple(content.shape)} and {tuple(style.shape)}")
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}")
    if iters < 0:
        raise ValueError(f"iters must be >= 0, got {iters}")
    device = content.device
    t0 = time.perf_counter()
    taps = list(dict.fromkeys([*style_taps, content_tap]))
    if vgg is None:
        vgg = load_vgg19(max(taps, key=LAYERS.index)).to(device)
    content = content.detach().float()
    style = style.detach().to(device).float()
    with torch.no_grad():
        fs = vgg(style, style_taps)
        grams = {t: ops.gram(fs[t]) for t in style_taps}
        fc = vgg(content, taps)
        target = fc[content_tap]
        scales = losses.tap_scales(grams, fc, style_taps)
        noise = vgg(torch.rand_like(content), [content_tap])[content_tap]
        content_scale = 1.0 / max(losses.content_loss(noise, target).item(), 1e-12)

    p = torch.logit(content.clamp(_EPS, 1 - _EPS)).contiguous().requires_grad_(True)  # L-BFGS views grads flat
    if optimizer == "adam":
        opt = torch.optim.Adam([p], lr=0.05 if lr is None else lr)
    else:  # one function evaluation per iteration; no line search, as in Johnson's neural-style
        opt = torch.optim.LBFGS([p], lr=1.0 if lr is None else lr, max_iter=1, history_size=50)

    record: dict[str, float] = {}

    def closure():
        opt.zero_grad(set_to_none=True)
        x = torch.sigmoid(p)
        f = vgg(x, taps)
        parts = {
            "content": content_weight * content_scale * losses.content_loss(f[content_tap], target),
            "style": style_weight * losses.style_loss(grams, f, style_taps, scales),
            "tv": tv_weight * ops.total_variation(x),
        }
        total = parts["content"] + parts["style"] + parts["tv"]
        total.backward()
        record.clear()
        record.update({k: v.item() for k, v in parts.items()}, total=total.item())
        return total

    _sync(device)
    setup = time.perf_counter() - t0
    history, times = [], []
    for i in range(iters):
        t = time.perf_counter()
        if optimizer == "adam":
            closure()
            opt.step()
        else:
            opt.step(closure)
        _sync(device)
        times.append(time.perf_counter() - t)
        if not torch.isfinite(p).all():
            raise FloatingPointError(f"Gatys diverged at iteration {i}; lower lr (now {opt.defaults['lr']})")
        history.append(dict(record))
        if progress is not None:
            progress(i, dict(record))
    return GatysResult(torch.sigmoid(p).detach(), history, times, setup)


def stylize_gatys(content: torch.Tensor, style: torch.Tensor, iters: int = 500, content_weight: float = 1.0,
                  style_weight: float = 3.0, tv_weight: float = 10.0, lr: float | None = None,
                  optimizer: str = "adam", progress: Callable[[int, dict[str, float]], None] | None = None,
                  ) -> torch.Tensor:
    """Gatys style transfer: (1, 3, H, W) content and (1, 3, h, w) style, RGB float in [0, 1].

    Starts from the content image and runs ``iters`` steps of Adam (default lr 0.05 on the
    logits) or L-BFGS (lr 1, no line search). Weights apply to the normalised terms (each style
    tap and the content term are ~1 at their reference values). ``progress(i, losses)`` is called
    after every iteration. Returns (1, 3, H, W) float in [0, 1] on content's device; use
    :func:`gatys` for per-iteration losses and timings.
    """
    return gatys(content, style, iters, content_weight, style_weight, tv_weight, lr, optimizer, progress).image
