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
from .ops import preserve_color, strength_blend


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


def working_short(short: int, train_short: int | None, style_scale: float | None) -> int:
    """Short side the net paints at, for a frame of short side ``short``.

    A feed-forward net's strokes have a fixed size in pixels: the size they had in its training
    photos (short side ``train_short``, from the manifest). On a large frame they become tiny and
    the painting's look is lost, so by default (``style_scale`` None) the net paints at most at
    2·``train_short`` and the result is scaled up to the frame. ``style_scale`` S sets it: the net
    paints at 2·``train_short``/S (S = 2: strokes twice as large on the frame, S = 0.5: half as large).
    Without ``train_short`` (weights that don't record it) the frame's own size is used.
    """
    if style_scale is not None and not 0.1 <= style_scale <= 10:
        raise UserError(f"--style-scale {style_scale} is outside [0.1, 10]; 2 paints strokes twice as large, "
                        f"0.5 half as large")
    if not train_short:
        return short
    if style_scale is None:
        return min(short, 2 * train_short)
    return max(16, min(4096, int(round(2 * train_short / style_scale))))


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


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 in [0, 1], in one OpenCV pass.

    Not torch's permute/float/div: on the loaded 2-core dev machine those three passes took
    35 ms for a 640×480 frame (median; torch's 2 threads wait on each other when another process
    holds a core) against 1 ms here (docs/cpu.md, "The frame path").
    """
    if rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8:
        return torch.from_numpy(cv2.dnn.blobFromImage(rgb, 1.0 / 255.0))
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div_(255.0)


def to_uint8(y: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) float -> (H, W, C) uint8: round(clamp(y, 0, 1) · 255), halves to even, as
    torch's ``round`` (OpenCV's saturate_cast rounds the same way). 54 ms → 0.6 ms at 640×480
    on the dev machine, for the reason in :func:`to_tensor`."""
    planes = np.clip(y[0].detach().float().cpu().numpy(), 0.0, 1.0)
    out = [cv2.convertScaleAbs(p, alpha=255.0) for p in planes]
    return cv2.merge(out) if len(out) > 1 else out[0][..., None]


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
    """

    def __init__(self, style: str, family: str | None = None, backend: str = "auto", strength: float = 1.0,
                 size=None, scale: float | None = None, cache_dir: Path | None = None, depth=None,
                 preserve_color: bool = False, style_scale: float | None = None,
                 precision: str = "auto"):
        from . import backends
        self.depth = depth   # rtstyle.depth.apply.DepthModulator or None: depth-aware strength per pixel
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
        try:
            model, self.manifest = load_weights(self.entry.path)
        except WeightsError as exc:
            raise UserError(str(exc), exit_code=1) from exc
        self._model = model if self.family in styles.ARBITRARY else None  # set_style needs it
        # The style goes into the exported file (and so its cache key) only when the weights bake it
        # in; a net that takes the style as an input keeps one export for every style and mixture.
        baked = not (self._has_style_vector or self.family in styles.ARBITRARY)
        meta = {"style": style if baked else "", "styles": self.entry.styles, "family": self.family,
                "weights": self.entry.path.name, "config": self.manifest["config"]}
        self.train_short = self.manifest.get("train_photo_short")   # stroke scale of the training photos
        self.backend = backends.create(self.spec, model, self.family, meta, cache_dir or default_cache_dir(),
                                       precision=precision)
        self.backend.load()
        self.extra = self._extra_on_device(model)

    def _extra_inputs(self, model) -> dict[str, torch.Tensor]:
        if self._has_style_vector:
            # conditional norms: (γ, β) = w·Γ, w·B; one-hot w picks a style, a weighted w mixes them
            vec = torch.zeros(1, len(self.entry.styles))
            for name, w in self.mix:
                vec[0, self.entry.styles.index(name)] = w
            return {"style": vec}
        if self.family == "adain":
            from .models.adain import mix_stats
            # AdaIN(f_c, s) = σ_s·n + μ_s with n = (f_c − μ_c)/σ_c is affine in (σ_s, μ_s), so the
            # weighted mean of the styles' (μ, σ) gives exactly Σ w_k·AdaIN(f_c, s_k): the mix of the
            # per-style feature targets (before the decoder, which is not linear).
            stats = [self._style_stats(model, name) for name, _ in self.mix]
            mean, std = mix_stats(stats, [w for _, w in self.mix])
            return {"style_mean": mean, "style_std": std, "alpha": torch.ones(1, 1, 1, 1)}
        return {}

    @property
    def _has_style_vector(self) -> bool:
        """The net takes a ``style`` mixing vector (families.VECTOR_STYLED: multi-style, lite)."""
        return self.family in styles.VECTOR_STYLED

    def _style_stats(self, model, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """AdaIN: relu4_1 mean and std of style image ``name`` (a bundled name or a painting file;
        two (1, 512, 1, 1)), computed once. The painting is read at the short side the decoder was
        trained with, so its strokes come out at the size training gave them."""
        if name not in self._stats:
            from .io.images import read_image
            from .models.adain import AdaINNet
            rgb, _ = read_image(styles.style_image(name))
            if self.train_short:
                short = working_short(10 ** 6, self.train_short, self.style_scale)
                f = short / min(rgb.shape[:2])
                rgb = cv2.resize(rgb, (max(16, round(rgb.shape[1] * f)), max(16, round(rgb.shape[0] * f))),
                                 interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
            img = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
            net = AdaINNet(decoder=model)
            with torch.no_grad():
                self._stats[name] = net.style_stats(img)
        return self._stats[name]

    def _extra_on_device(self, model) -> dict[str, torch.Tensor]:
        # Kept on the backend's device: a per-frame copy from pageable CPU memory would stall CUDA.
        return {k: v.to(self.backend.device) for k, v in self._extra_inputs(model).items()}

    def can_paint(self, style: str) -> bool:
        """True when these loaded weights paint ``style`` (a name or a mixture) without reloading."""
        if style == self.style or self.family in styles.ARBITRARY:
            return True
        names = [name for name, _ in styles.parse_mix(style)]
        if self._has_style_vector:
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
        n = x.shape[0]
        extra = {k: v.expand(n, *v.shape[1:]) for k, v in self.extra.items()}
        y = self.backend(x, **extra)
        if self.preserve_color:
            y = preserve_color(y, x)
        if self.strength < 1.0:
            y = strength_blend(y, x.to(y.device, y.dtype), self.strength)
        return y

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        tw, th = target_size(w, h, self.size, self.scale)   # the output size
        short = working_short(min(tw, th), self.train_short, self.style_scale)
        ww, wh = target_size(tw, th, short) if short != min(tw, th) else (tw, th)   # the net's size
        if (ww, wh) != (w, h):
            interp = cv2.INTER_AREA if ww * wh < w * h else cv2.INTER_LINEAR
            rgb = cv2.resize(rgb, (ww, wh), interpolation=interp)
        with torch.inference_mode():
            y = self.tensor(to_tensor(rgb).to(self.backend.device))
            out = to_uint8(y)
        if (ww, wh) != (tw, th):
            out = cv2.resize(out, (tw, th), interpolation=cv2.INTER_LINEAR if ww < tw else cv2.INTER_AREA)
        return out

    def close(self) -> None:
        self.backend.close()
        if self.depth is not None:
            self.depth.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
