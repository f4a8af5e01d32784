"""Depth at inference: find the trained depth net, run it, and turn depth into a stylization-strength map.

Wu & Song 2020: α = normalize_depth(d) (far = 1, near = 0), output = D(α⊙t + (1−α)⊙E(c)),
so near objects keep more of their content. :class:`DepthModulator` computes that α per frame;
the Stylizer passes it to AdaIN as the per-pixel ``alpha`` input (its AdaINNet ``alpha_map``), and
for the feed-forward nets blends stylized and original pixels with it (``ops.strength_blend``).

The depth net runs through the same backend machinery as the stylizers
(``rtstyle.backends.create(spec, model, 'depth', meta, cache_dir)``: torch, torch-cuda fp16,
onnxruntime or TensorRT), at a reduced processing size (``size``, short side, a multiple of 16);
α is upsampled to the frame. On video, depth is recomputed every ``every`` frames and smoothed
over time by an exponential moving average (``smooth``) of the normalised map.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import UserError
from ..ops import normalize_depth, strength_blend
from ..sizes import DEPTH_NET_SIZE

NO_WEIGHTS = ("no trained depth weights yet; run scripts/gpu_train_depth.sh on a GPU or "
              "`rtstyle train depth` (or put a depth-*.safetensors folder on $RTSTYLE_WEIGHTS)")


def find_depth_weights(variant: str | None = None) -> tuple[Path, dict]:
    """The depth weights to use: in $RTSTYLE_WEIGHTS folders first, then the shipped ones; the
    ``variant`` asked for ('rt' | 'full'), else 'rt' (real time) before 'full'. UserError if none."""
    from ..weights import shipped_manifests
    from ..styles import weights_dirs
    found = [(p, m) for d in weights_dirs() for p, m in shipped_manifests(d) if m["family"] == "depth"]
    if variant is not None:
        have = sorted({m["config"].get("variant", "?") for _, m in found})
        found = [(p, m) for p, m in found if m["config"].get("variant") == variant]
        if not found and have:
            raise UserError(f"no trained depth weights of variant {variant!r}; trained variants: {', '.join(have)}")
    if not found:
        raise UserError(NO_WEIGHTS)
    order = {"rt": 0, "full": 1}
    return min(found, key=lambda pm: order.get(pm[1]["config"].get("variant"), 2))


class DepthNet:
    """A trained depth net on a backend. ``__call__(x)``: (N, 3, H, W) float [0, 1] -> (N, 1, H, W)
    relative depth (larger = farther) at the input's size, computed at ``size`` (short side)."""

    def __init__(self, variant: str | None = None, backend: str = "auto", size: int = DEPTH_NET_SIZE,
                 cache_dir: Path | None = None, weights: Path | None = None):
        from .. import backends
        from ..weights import load_weights
        from ..export.cache import default_cache_dir
        if size < 16:
            raise UserError(f"--depth-size {size} is too small; use at least 16 (e.g. {DEPTH_NET_SIZE})")
        self.path, _ = (Path(weights), None) if weights else find_depth_weights(variant)
        model, self.manifest = load_weights(self.path)
        if self.manifest["family"] != "depth":
            raise UserError(f"{self.path} holds {self.manifest['family']} weights, not a depth net")
        self.size = int(size)
        self.spec = backends.select(backend)
        meta = {"family": "depth", "weights": self.path.name, "config": self.manifest["config"], "styles": []}
        self.backend = backends.create(self.spec, model, "depth", meta, cache_dir or default_cache_dir())

    @property
    def device(self) -> torch.device:
        return self.backend.device

    def proc_size(self, h: int, w: int) -> tuple[int, int]:
        s = self.size / min(h, w)
        return max(16, int(round(h * s / 16)) * 16), max(16, int(round(w * s / 16)) * 16)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = self.proc_size(h, w)
        small = F.interpolate(x.float(), size=(ph, pw), mode="area" if ph * pw < h * w else "bilinear",
                              **({} if ph * pw < h * w else {"align_corners": False}))
        d = self.backend(small.to(self.backend.device))
        return F.interpolate(d.float(), size=(h, w), mode="bilinear", align_corners=False)

    def close(self) -> None:
        self.backend.close()


def depth_source(variant: str | None = "cues", backend: str = "auto", size: int = DEPTH_NET_SIZE):
    """``variant`` 'cues' (or None): the cue map on the row prior (rtstyle.depth_cues, no net, a few
    ms on a CPU; the best measured on real photos, docs/depth.md); 'rt' | 'full': a trained net."""
    if variant in (None, "cues"):
        from ..depth_cues import CueDepth
        return CueDepth()
    return DepthNet(variant, backend, size)


class DepthModulator:
    """Per-pixel stylization strength from depth, and its application inside a Stylizer.

    Args:
        strength: how much depth modulates, 0..1 (0 = uniform style, 1 = α exactly the depth map).
        near_style: invert: near things stylized more, far things less.
        every: recompute depth every k-th frame (video); frames in between reuse the last map.
        smooth: EMA weight of the previous map, 0..<1 (video; 0 = none).
        net: the depth source, any callable (N, 3, H, W) -> (N, 1, H, W) with ``close()``; when
            omitted, :func:`depth_source` builds it from ``variant``/``backend``/``size``.
    """

    def __init__(self, strength: float = 1.0, near_style: bool = False, every: int = 1, smooth: float = 0.0,
                 net: DepthNet | None = None, **net_kw):
        if not 0.0 <= strength <= 1.0:
            raise UserError(f"--depth-strength {strength} is outside [0, 1]; 1 = full depth modulation")
        if every < 1:
            raise UserError(f"--depth-every {every} must be at least 1")
        if not 0.0 <= smooth < 1.0:
            raise UserError(f"--depth-smooth {smooth} is outside [0, 1); e.g. 0.6 for gentle smoothing")
        self.strength, self.near_style, self.every, self.smooth = strength, near_style, every, smooth
        self.net = net if net is not None else depth_source(**net_kw)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (call between unrelated images)."""
        self._count, self._map = 0, None

    def depth_to_alpha(self, depth: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) depth -> stylization strength in [0, 1]: far = 1, near = 0 (inverted with
        ``near_style``), pulled towards 1 by (1 − ``strength``)."""
        a = normalize_depth(depth.float())
        if self.near_style:
            a = 1.0 - a
        return 1.0 - self.strength * (1.0 - a)

    def alpha(self, x: torch.Tensor) -> torch.Tensor:
        """Strength map (N, 1, H, W) for frames ``x`` (N, 3, H, W) [0, 1], with the temporal rules."""
        stale = self._map is None or self._map.shape[0] != x.shape[0] or self._map.shape[-2:] != x.shape[-2:]
        if stale or self._count % self.every == 0:
            a = self.depth_to_alpha(self.net(x))
            if not stale and self.smooth > 0:
                a = self.smooth * self._map.to(a.device) + (1.0 - self.smooth) * a
            self._map = a
        self._count += 1
        return self._map

    def stylize(self, stylizer, x: torch.Tensor) -> torch.Tensor:
        """What ``Stylizer.tensor`` does, with depth: AdaIN mixes features per pixel (Wu & Song);
        the feed-forward nets blend stylized and original pixels with the map."""
        a = self.alpha(x) * stylizer.strength
        if stylizer.family == "adain":
            return stylizer.paint(x, alpha=a)
        y = stylizer.paint(x)
        return strength_blend(y, x.to(y.device, y.dtype), a.to(y.device, y.dtype))

    def close(self) -> None:
        self.net.close()


def from_options(opts: dict | None, video: bool = False) -> DepthModulator | None:
    """A DepthModulator from CLI options (``None`` or ``{"enabled": False}`` -> None).

    Keys: strength, near_style, every, smooth, variant, size, backend. ``every``/``smooth`` apply to
    video only; single images always get their own depth map.
    """
    if not opts or not opts.get("enabled", True):
        return None
    return DepthModulator(strength=opts.get("strength", 1.0), near_style=opts.get("near_style", False),
                          every=opts.get("every", 1) if video else 1,
                          smooth=opts.get("smooth", 0.0) if video else 0.0,
                          variant=opts.get("variant"), backend=opts.get("backend", "auto"),
                          size=opts.get("size", DEPTH_NET_SIZE))
