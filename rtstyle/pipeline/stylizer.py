"""Stylizer: trained weights + a backend, turning RGB frames into stylized RGB frames."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .. import styles
from ..export.cache import default_cache_dir
from ..export.tensorrt import DEFAULT_PROFILE, widen_profile
from ..weights import load_weights
from ..errors import UserError
from ..families import ARBITRARY, VECTOR_STYLED, net_margin
from ..io.sources import resize_frame
from ..ops import paint_with_margin, preserve_color, strength_blend, to_tensor, to_uint8
from ..sizes import target_size, working_short


class Stylizer:
    """Paint frames in one style, or a weighted mix of styles (``'a:0.7,b:0.3'``, styles.parse_mix)
    on the families that mix (styles.can_mix).

    ``tensor(x)``: (N, 3, H, W) float [0, 1] -> same, on the backend's device.
    ``frame(rgb)``: (H, W, 3) uint8 RGB -> (H, W, 3) uint8 RGB (resized to ``size``/``scale`` if given).
    ``style_scale``: stroke size on the frame (:func:`working_short`; None = the painting's look at
    the frame's real size).
    ``preserve_color``: keep the input's colours, take only the luminance of the net's output
    (ops.preserve_color), before the ``strength`` blend.
    ``precision``: --precision (auto | bf16 | f32 | int8), for the CPU backends (backends.select).
    ``margin``: px of mirrored edge painted around each frame and cut off (:meth:`paint`); None = the
    family's ``edge_margin`` or the margin the weights were trained with, whichever is larger.
    """

    def __init__(self, style: str, family: str | None = None, backend: str = "auto", strength: float = 1.0,
                 size=None, scale: float | None = None, cache_dir: Path | None = None, depth=None,
                 preserve_color: bool = False, style_scale: float | None = None,
                 precision: str = "auto", margin: int | None = None):
        from .. import backends
        self.depth = depth   # rtstyle.pipeline.depth.DepthModulator or None: depth-aware strength per pixel
        if not 0.0 <= strength <= 1.0:
            raise UserError(f"--strength {strength} is outside [0, 1]; 1 = full style, 0 = the input unchanged")
        self.spec = backends.select(backend, precision)
        self.entry = styles.choose(style, family, gpu=self.spec.needs_gpu)
        self.mix = styles.parse_mix(style)   # [(name, weight)], weights sum to 1
        self.style, self.family = style, self.entry.family
        self.preserve_color = bool(preserve_color)
        self._stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}   # AdaIN style statistics by name
        self.strength, self.size, self.scale = strength, size, scale
        working_short(512, None, style_scale)   # checks the range before anything loads
        self.style_scale = style_scale
        self.work_cap: int | None = None   # largest short side the net paints at (live frame budget)
        model, self.manifest = load_weights(self.entry.path)
        self._model = model if self.family in ARBITRARY else None  # set_style needs it
        # The style goes into the exported file (and so its cache key) only when the weights bake it
        # in; a net that takes the style as an input keeps one export for every style and mixture.
        baked = not (self.family in VECTOR_STYLED or self.family in ARBITRARY)
        meta = {"style": style if baked else "", "styles": self.entry.styles, "family": self.family,
                "weights": self.entry.path.name, "config": self.manifest["config"]}
        self.train_short = self.manifest.get("train_photo_short")   # stroke scale of the training photos
        if margin is not None and margin < 0:
            raise UserError(f"margin {margin} is negative; use 0 (none) or more pixels")
        self.margin = int(margin) if margin is not None else net_margin(self.family, self.manifest)
        # a TensorRT engine sees the mirrored frame, so its profile grows by the margin (4K still fits)
        profile = widen_profile(DEFAULT_PROFILE, self.margin) if self.margin else None
        self.backend = backends.create(self.spec, model, self.family, meta, cache_dir or default_cache_dir(),
                                       profile=profile, precision=precision)
        self.backend.load()
        self.extra = self._extra_on_device(model)

    def _style_stats(self, model, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """AdaIN: relu4_1 mean and std of style image ``name``, computed once, from the painting
        read at the short side the decoder was trained with (so its strokes come out at the size
        training gave them)."""
        if name not in self._stats:
            short = working_short(10 ** 6, self.train_short, self.style_scale) if self.train_short else None
            self._stats[name] = styles.adain_style_stats(model, name, short)
        return self._stats[name]

    def _extra_on_device(self, model) -> dict[str, torch.Tensor]:
        # Kept on the backend's device: a per-frame copy from pageable CPU memory would stall CUDA.
        extra = styles.style_inputs(self.entry, self.mix, model, stats=self._style_stats)
        return {k: v.to(self.backend.device) for k, v in extra.items()}

    def can_paint(self, style: str) -> bool:
        """True when these loaded weights paint ``style`` (a name or a mixture) without reloading."""
        if style == self.style or self.family in ARBITRARY:
            return True
        names = [name for name, _ in styles.parse_mix(style)]
        if self.family in VECTOR_STYLED:
            return set(names) <= set(self.entry.styles)
        return len(self.mix) == 1 and names == [self.mix[0][0]]

    def set_style(self, style: str) -> None:
        """Switch to ``style`` (a name or a mixture) without reloading: a net with a style vector
        (multi-style) takes new mixing weights for its conditional norms, AdaIN the new paintings'
        (mixed) feature statistics. Raises UserError when these weights cannot paint ``style``."""
        if style == self.style:
            return
        if not self.can_paint(style):
            raise UserError(f"these {self.family} weights ({self.entry.path.name}) cannot paint {style!r}; "
                            f"they know {', '.join(self.entry.styles)}")
        self.mix = styles.parse_mix(style)
        self.style = style
        self.extra = self._extra_on_device(self._model)

    @property
    def label(self) -> str:
        color = ", colours kept" if self.preserve_color else ""
        return f"{styles.mix_label(self.mix)} ({self.family}, {self.entry.path.name}{color}) on {self.spec.name}"

    def tensor(self, x: torch.Tensor) -> torch.Tensor:
        if self.strength <= 0.0:   # exactly the input, for every family and mode (no net run)
            return x
        if self.depth is not None:
            y = self.depth.stylize(self, x)
            # YCbCr is linear in RGB, so taking the luminance after the depth blend equals taking
            # it before (up to the clamp); AdaIN blends features, so after is the only place.
            return preserve_color(y, x) if self.preserve_color else y
        y = self.paint(x)
        if self.preserve_color:
            y = preserve_color(y, x)
        if self.strength < 1.0:
            y = strength_blend(y, x.to(y.device, y.dtype), self.strength)
        return y

    def paint(self, x: torch.Tensor, alpha: torch.Tensor | None = None) -> torch.Tensor:
        """The net alone on ``x`` (no strength, colour or depth blend) with the style inputs (and
        AdaIN's per-pixel ``alpha``, (N, 1, H, W)), over the mirrored edge margin."""
        n = x.shape[0]
        extra = {k: v.expand(n, *v.shape[1:]) for k, v in self.extra.items()}
        if alpha is None:
            return paint_with_margin(lambda t: self.backend(t, **extra), self.margin, x)
        return paint_with_margin(lambda t, a: self.backend(t, **extra, alpha=a), self.margin, x, alpha)

    def sizes(self, w: int, h: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """(output size, the net's working size), each (W, H), for a ``w``×``h`` frame: ``--size`` /
        ``--scale`` give the output, the stroke scale the size the net paints at (:func:`working_short`),
        at most ``work_cap`` (rtstyle.pipeline.budget)."""
        tw, th = target_size(w, h, self.size, self.scale)
        short = working_short(min(tw, th), self.train_short, self.style_scale)
        if self.work_cap is not None:
            short = min(short, self.work_cap)
        return (tw, th), (target_size(tw, th, short) if short != min(tw, th) else (tw, th))

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        (tw, th), work = self.sizes(w, h)
        with torch.inference_mode():   # one resize rule both ways: area to shrink, bilinear to grow
            out = to_uint8(self.tensor(to_tensor(resize_frame(rgb, work)).to(self.backend.device)))
        return resize_frame(out, (tw, th))

    def close(self) -> None:
        self.backend.close()
        if self.depth is not None:
            self.depth.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
