"""Temporal stability: optical flow on the input frames, warping, occlusion, the warping error
(flicker) and an inference-time stabiliser (``--smooth``).

Flow convention: ``flow(cur, prev)`` is the backward flow F of ``cur``: for every pixel p of
``cur``, ``prev(p + F(p)) ≈ cur(p)``, so ``warp(prev_frame, F)`` lines ``prev_frame`` up with
``cur``. Flow is OpenCV DIS on the grey input frames at reduced resolution, scaled up. Frames are
(H, W, 3) uint8 RGB numpy arrays; flows are (H, W, 2) float32 in pixels (x, y).

Occlusion (Ruder et al. 2016; Lai et al. 2018): with F the backward and G the forward flow, and
G̃ = G warped to ``cur`` by F, a pixel is occluded where
``|F + G̃|² > 0.01·(|F|² + |G̃|²) + 0.5`` (pixels²), or where p + F(p) leaves the frame.
"""
from __future__ import annotations

import functools
import time

import cv2
import numpy as np

from ..errors import UserError

PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def grey(rgb: np.ndarray, max_width: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB (or (H, W) grey) -> (h, w) uint8 grey, shrunk (area) to ≤ ``max_width``."""
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    h, w = g.shape
    if max_width and w > max_width:
        g = cv2.resize(g, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(g)


def _dis(preset: str):
    if preset not in PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; use one of {', '.join(PRESETS)}")
    return cv2.DISOpticalFlow_create(PRESETS[preset])


def resize_flow(f: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 2) flow -> (H, W, 2) for ``size`` = (W, H): resampled bilinearly, vectors rescaled."""
    h, w = f.shape[:2]
    if (w, h) == tuple(size):
        return f
    out = cv2.resize(f, tuple(size), interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= size[0] / w
    out[..., 1] *= size[1] / h
    return out


def flow(cur: np.ndarray, prev: np.ndarray, preset: str = "medium", max_width: int | None = 320,
         size: tuple[int, int] | None = None, dis=None) -> np.ndarray:
    """Backward flow of ``cur`` to ``prev`` (module doc), (H, W, 2) float32 pixels.

    Args:
        cur, prev: (H, W, 3) uint8 RGB or (H, W) uint8 grey frames of one size.
        preset: DIS preset, 'ultrafast' | 'fast' | 'medium'.
        max_width: computed on frames shrunk to at most this width (None = full size).
        size: (W, H) of the returned flow (default ``cur``'s size); vectors in its pixels.
        dis: a reusable ``cv2.DISOpticalFlow`` (else one is made for ``preset``).
    """
    a, b = grey(cur, max_width), grey(prev, max_width)
    f = (dis or _dis(preset)).calc(a, b, None)
    return resize_flow(f, size or (cur.shape[1], cur.shape[0]))


@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel x and y coordinates, (h, w) float32 each (cached, read-only)."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


def warp(img: np.ndarray, f: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """``img`` sampled at p + f(p) (bilinear by default, edges replicated): (H, W[, C]) of
    ``img``'s dtype.

    ``f`` is (H, W, 2) float32 at ``img``'s size; with f = flow(cur, prev), warp(prev_img, f)
    is aligned with ``cur``.
    """
    h, w = f.shape[:2]
    gx, gy = _grid(h, w)
    return cv2.remap(img, gx + f[..., 0], gy + f[..., 1], interpolation, borderMode=cv2.BORDER_REPLICATE)


def occlusion(back: np.ndarray, fwd: np.ndarray, scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """(H, W) bool, True where ``cur``'s pixel is occluded in ``prev`` or maps outside the frame.

    Args:
        back: (H, W, 2) flow(cur, prev); fwd: (H, W, 2) flow(prev, cur), both at one size.
        scale: (sx, sy) pixel size of these flows in the frame the thresholds are meant for
            (flows computed on a shrunk frame: the full frame's width / this width).
    The test is the module doc's forward–backward consistency, in the full frame's pixels.
    """
    h, w = back.shape[:2]
    fw = warp(fwd, back)                  # G̃(p) = G(p + F(p))
    s = np.asarray(scale, np.float32)
    fb, fw = back * s, fw * s
    sq = lambda v: v[..., 0] ** 2 + v[..., 1] ** 2  # noqa: E731
    occ = sq(fb + fw) > 0.01 * (sq(fb) + sq(fw)) + 0.5
    gx, gy = _grid(h, w)
    x, y = gx + back[..., 0], gy + back[..., 1]
    return occ | (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)


def pair_flows(inputs: list[np.ndarray], preset: str = "medium", max_width: int | None = None
               ) -> list[tuple[np.ndarray, np.ndarray]]:
    """For t = 1..T−1: (flow(I_t, I_{t−1}), valid mask) at the frames' size; valid = not occluded.

    Computed once per clip and reusable by :func:`warping_error` for several outputs.
    """
    dis = _dis(preset)
    out = []
    for prev, cur in zip(inputs, inputs[1:]):
        a, b = grey(cur, max_width), grey(prev, max_width)
        back, fwd = dis.calc(a, b, None), dis.calc(b, a, None)
        size = (cur.shape[1], cur.shape[0])
        scale = (size[0] / a.shape[1], size[1] / a.shape[0])
        valid = ~occlusion(back, fwd, scale)
        if valid.shape != (size[1], size[0]):
            valid = cv2.resize(valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        out.append((resize_flow(back, size), valid))
    return out


def pair_errors(inputs: list[np.ndarray], outputs: list[np.ndarray], flows=None, preset: str = "medium",
                max_width: int | None = None) -> list[float]:
    """Per frame pair t = 1..T−1: Σ_p M_t(p)·D_t(p) / Σ_p M_t(p) in 8-bit levels, with
    D_t(p) = mean over RGB of |O_t(p) − warp(O_{t−1}, F_t)(p)|, F_t = flow(I_t, I_{t−1}) and
    M_t the valid (non-occluded) mask, both from the INPUT frames. NaN where no pixel is valid."""
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} input frames but {len(outputs)} output frames")
    flows = flows if flows is not None else pair_flows(inputs, preset, max_width)
    errs = []
    for (f, valid), prev, cur in zip(flows, outputs, outputs[1:]):
        size = (cur.shape[1], cur.shape[0])
        if f.shape[:2] != cur.shape[:2]:
            f = resize_flow(f, size)
            valid = cv2.resize(valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        d = np.abs(cur.astype(np.float32) - warp(prev, f).astype(np.float32)).mean(axis=2)
        n = valid.sum()
        errs.append(float(d[valid].sum() / n) if n else float("nan"))
    return errs


def warping_error(inputs: list[np.ndarray], outputs: list[np.ndarray], flows=None, preset: str = "medium",
                  max_width: int | None = None) -> float:
    """Flicker of ``outputs`` (T frames) over the motion of ``inputs`` (T frames), 8-bit levels:

    E = 1/(T−1) · Σ_{t=1}^{T−1} [ Σ_p M_t(p) · ⅓Σ_c |O_t(p, c) − Ô_{t−1}(p, c)| / Σ_p M_t(p) ],
    Ô_{t−1} = warp(O_{t−1}, flow(I_t, I_{t−1})), M_t = non-occluded pixels (module doc), flow and
    mask from the input frames (DIS ``preset`` at ≤ ``max_width``). Pairs with no valid pixel (a
    cut) are left out of the mean. 0 for a static sequence; ``outputs = inputs`` gives the floor
    set by flow error and new content.
    """
    errs = [e for e in pair_errors(inputs, outputs, flows, preset, max_width) if e == e]
    return float(np.mean(errs)) if errs else 0.0


class TemporalSmoother:
    """Inference-time stabiliser for a stream of stylized frames (``--smooth S``):

    out_t = (1 − S·m)·y_t + S·m·warp(out_{t−1}, F_t),   F_t = flow(I_t, I_{t−1}) on the inputs,

    m = non-occluded (module doc) × max(0, 1 − r/``change``), r = |I_t − warp(I_{t−1}, F_t)| in grey
    levels (where the flow does not explain the input, e.g. at a cut or a light change, the new
    frame wins). Flow, mask and r are computed at ≤ ``max_width`` px; m is upsampled (soft edges).

    Use: ``k = smoother.key(rgb_in)`` where the input frame is (cheap: a small grey copy), then
    ``smoother(k, y)`` in frame order with the stylized (H', W', 3) uint8 frame; returns the
    smoothed uint8 frame (``y`` itself for the first frame). The state resets on :meth:`reset`,
    on a new ``scene`` token (e.g. another style) and when the frame size changes.

    Args:
        strength: S in [0, 1] (0 = off; 1 = keep the warped past wherever it is trusted).
        preset: DIS preset of the flow ('fast': about 1.5 ms per flow at 320×180 on one core).
        max_width: flow resolution cap in px.
        change: input residual (grey levels) at which the past stops counting; 0 = no such test.
    """

    def __init__(self, strength: float, preset: str = "fast", max_width: int = 320, change: float = 24.0):
        if not 0.0 <= strength <= 1.0:
            raise UserError(f"--smooth {strength} is outside [0, 1]; 0 = off, e.g. 0.8 for steadier video")
        self.strength, self.max_width, self.change = float(strength), max_width, float(change)
        self._dis = _dis(preset)
        self.seconds, self.frames = 0.0, 0
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (a new video, another style)."""
        self._key = self._out = self._scene = None

    def key(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB input frame -> the small grey frame the flow is computed on."""
        return grey(rgb, self.max_width)

    def weights(self, key: np.ndarray, prev_key: np.ndarray, size: tuple[int, int]
                ) -> tuple[np.ndarray, np.ndarray]:
        """Backward flow (H', W', 2) and blend weight S·m (H', W') float32 at ``size`` = (W', H')."""
        back = self._dis.calc(key, prev_key, None)
        fwd = self._dis.calc(prev_key, key, None)
        h, w = key.shape
        m = (~occlusion(back, fwd, (size[0] / w, size[1] / h))).astype(np.float32)
        if self.change > 0:
            r = cv2.absdiff(key, warp(prev_key, back)).astype(np.float32)
            m *= np.clip(1.0 - r / self.change, 0.0, 1.0)
        m = cv2.resize(m, size, interpolation=cv2.INTER_LINEAR) if (w, h) != tuple(size) else m
        return resize_flow(back, size), m * self.strength

    def __call__(self, key: np.ndarray, y: np.ndarray, scene=None) -> np.ndarray:
        t0 = time.perf_counter()
        if scene != self._scene or self._key is None or key.shape != self._key.shape \
                or self._out is None or y.shape != self._out.shape:
            out = y
        else:
            f, a = self.weights(key, self._key, (y.shape[1], y.shape[0]))
            # Bicubic: the previous output is re-sampled every frame, and bilinear's blur would add
            # up. Fixed-point maps (1/32 px) make OpenCV's bicubic remap about 1.5x faster.
            gx, gy = _grid(*f.shape[:2])
            m1, m2 = cv2.convertMaps(gx + f[..., 0], gy + f[..., 1], cv2.CV_16SC2)
            prev = cv2.remap(self._out, m1, m2, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
            # (1 − a)·y + a·warp(out_{t−1}) per pixel, rounded to uint8 (one C++ pass)
            out = cv2.blendLinear(np.ascontiguousarray(y), prev, 1.0 - a, a)
        self._key, self._scene = key, scene
        self._out = out.copy() if out is y else out   # y may be a buffer that is reused
        self.seconds += time.perf_counter() - t0
        self.frames += 1
        return out
