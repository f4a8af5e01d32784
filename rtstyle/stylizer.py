"""Stylizer: trained weights + a backend, turning RGB frames into stylized RGB frames."""
from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import torch

from . import styles
from .checkpoints import WeightsError, load_weights
from .errors import UserError
from .ops import strength_blend


def default_cache_dir() -> Path:
    """Where exported ONNX files and TensorRT engines are cached: $RTSTYLE_CACHE, else ./engines
    in a source checkout, else ~/.cache/rtstyle/engines."""
    env = os.environ.get("RTSTYLE_CACHE")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parent.parent / "engines"
    if repo.is_dir() and os.access(repo, os.W_OK):
        return repo
    return Path.home() / ".cache" / "rtstyle" / "engines"


_SIZE_NAMES = {"240p": 240, "360p": 360, "480p": 480, "540p": 540, "720p": 720, "1080p": 1080, "1440p": 1440,
               "2160p": 2160, "4k": 2160}


def parse_size(text: str | None) -> tuple[int, int] | int | None:
    """'512' -> 512 (short side), '720p' -> 720, '640x480' -> (640, 480) (W, H); None passes through."""
    if text is None:
        return None
    t = text.strip().lower()
    if t in _SIZE_NAMES:
        return _SIZE_NAMES[t]
    if re.fullmatch(r"\d+", t) and int(t) > 0:
        return int(t)
    m = re.fullmatch(r"(\d+)x(\d+)", t)
    if m and int(m[1]) > 0 and int(m[2]) > 0:
        return int(m[1]), int(m[2])
    raise UserError(f"--size {text!r} is not a size; use a short side in pixels (512), a name (720p) or WxH (640x480)")


def target_size(w: int, h: int, size=None, scale: float | None = None) -> tuple[int, int]:
    """Processing size (W, H) for a w×h input: --size wins, else --scale, else unchanged.
    Both sides are kept even (video encoders need it) and at least 2."""
    if isinstance(size, tuple):
        tw, th = size
    elif isinstance(size, int):
        f = size / min(w, h)
        tw, th = w * f, h * f
    elif scale is not None:
        if not 0 < scale <= 8:
            raise UserError(f"--scale {scale} is outside (0, 8]; use e.g. 0.5 to halve the size")
        tw, th = w * scale, h * scale
    else:
        return w, h
    return max(2, int(round(tw / 2)) * 2), max(2, int(round(th / 2)) * 2)


class Stylizer:
    """Paint frames in one style.

    ``tensor(x)``: (N, 3, H, W) float [0, 1] -> same, on the backend's device.
    ``frame(rgb)``: (H, W, 3) uint8 RGB -> (H, W, 3) uint8 RGB (resized to ``size``/``scale`` if given).
    """

    def __init__(self, style: str, family: str | None = None, backend: str = "auto", strength: float = 1.0,
                 size=None, scale: float | None = None, cache_dir: Path | None = None, depth=None):
        from . import backends
        self.depth = depth   # rtstyle.depth.apply.DepthModulator or None: depth-aware strength per pixel
        if not 0.0 <= strength <= 1.0:
            raise UserError(f"--strength {strength} is outside [0, 1]; 1 = full style, 0 = the input unchanged")
        self.entry = styles.choose(style, family)
        self.style, self.family = style, self.entry.family
        self.strength, self.size, self.scale = strength, size, scale
        try:
            model, self.manifest = load_weights(self.entry.path)
        except WeightsError as exc:
            raise UserError(str(exc), exit_code=1) from exc
        self.spec = backends.select(backend)
        self._model = model if self.family in styles.ARBITRARY else None  # set_style needs it
        meta = {"style": style, "styles": self.entry.styles, "family": self.family,
                "weights": self.entry.path.name, "config": self.manifest["config"]}
        self.backend = backends.create(self.spec, model, self.family, meta, cache_dir or default_cache_dir())
        self.backend.load()
        self.extra = self._extra_on_device(model)

    def _extra_inputs(self, model) -> dict[str, torch.Tensor]:
        if self.family == "multi":
            vec = torch.zeros(1, len(self.entry.styles))
            vec[0, self.entry.styles.index(self.style)] = 1.0
            return {"style": vec}
        if self.family == "adain":
            from .io.images import read_image
            from .models.adain import AdaINNet
            rgb, _ = read_image(styles.style_image(self.style))
            img = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
            net = AdaINNet(decoder=model)
            with torch.no_grad():
                mean, std = net.style_stats(img)
            return {"style_mean": mean, "style_std": std, "alpha": torch.ones(1, 1, 1, 1)}
        return {}

    def _extra_on_device(self, model) -> dict[str, torch.Tensor]:
        # Kept on the backend's device: a per-frame copy from pageable CPU memory would stall CUDA.
        return {k: v.to(self.backend.device) for k, v in self._extra_inputs(model).items()}

    def can_paint(self, style: str) -> bool:
        """True when these loaded weights paint ``style`` without reloading (see set_style)."""
        return style == self.style or self.family in styles.ARBITRARY or (
            self.family == "multi" and style in self.entry.styles)

    def set_style(self, style: str) -> None:
        """Switch to ``style`` without reloading: the multi-style net picks another row of its
        conditional norms (a new one-hot ``extra['style']``), AdaIN takes the new painting's
        feature statistics. Raises UserError when these weights cannot paint ``style``."""
        if style == self.style:
            return
        if not self.can_paint(style):
            raise UserError(f"these {self.family} weights ({self.entry.path.name}) cannot paint {style!r}; "
                            f"they know {', '.join(self.entry.styles)}")
        self.style = styles.check_style(style)
        self.extra = self._extra_on_device(self._model)

    @property
    def label(self) -> str:
        return f"{self.style} ({self.family}, {self.entry.path.name}) on {self.spec.name}"

    def tensor(self, x: torch.Tensor) -> torch.Tensor:
        if self.depth is not None:
            return self.depth.stylize(self, x)
        n = x.shape[0]
        extra = {k: v.expand(n, *v.shape[1:]) for k, v in self.extra.items()}
        y = self.backend(x, **extra)
        if self.strength < 1.0:
            y = strength_blend(y, x.to(y.device, y.dtype), self.strength)
        return y

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        tw, th = target_size(w, h, self.size, self.scale)
        if (tw, th) != (w, h):
            interp = cv2.INTER_AREA if tw * th < w * h else cv2.INTER_LINEAR
            rgb = cv2.resize(rgb, (tw, th), interpolation=interp)
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div_(255.0)
        with torch.inference_mode():
            y = self.tensor(x.to(self.backend.device))
            return y[0].permute(1, 2, 0).float().clamp(0, 1).mul(255.0).round().to(torch.uint8).cpu().numpy()

    def close(self) -> None:
        self.backend.close()
        if self.depth is not None:
            self.depth.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
