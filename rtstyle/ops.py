"""Pure tensor maths shared by models, losses and the pipeline, and the one uint8 <-> tensor conversion.

Every function here is stateless and works on (N, C, H, W) float tensors unless stated.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) or (N, H, W, 3) uint8 RGB array -> (1 or N, 3, H, W) float32 in [0, 1] on the CPU;
    one frame in one OpenCV pass.

    Not torch's permute/float/div: on the loaded 2-core dev machine those three passes took
    35 ms for a 640×480 frame (median; torch's 2 threads wait on each other when another process
    holds a core) against 1 ms here (docs/cpu.md, "The frame path").
    """
    if rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8:
        return torch.from_numpy(cv2.dnn.blobFromImage(rgb, 1.0 / 255.0))
    return tensor_input(torch.from_numpy(np.ascontiguousarray(rgb)))


def to_uint8(y: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) float -> the first image as an (H, W, C) uint8 array: round(clamp(y, 0, 1) · 255),
    halves to even, as torch's ``round`` (OpenCV's saturate_cast rounds the same way). 54 ms ->
    0.6 ms at 640×480 on the dev machine, for the reason in :func:`to_tensor`."""
    planes = np.clip(y[0].detach().float().cpu().numpy(), 0.0, 1.0)
    out = [cv2.convertScaleAbs(p, alpha=255.0) for p in planes]
    return cv2.merge(out) if len(out) > 1 else out[0][..., None]


def tensor_input(u8: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The same on tensors, on any device (the CUDA path): (H, W, 3) or (N, H, W, 3) uint8 ->
    (1 or N, 3, H, W) ``dtype`` in [0, 1]."""
    # times float32(1/255), not / 255: the same bits as to_tensor's OpenCV pass (/ 255 is 1 ulp off for
    # some values, which can round a stylized pixel 1 LSB apart)
    return (u8[None] if u8.dim() == 3 else u8).permute(0, 3, 1, 2).to(dtype).mul_(1.0 / 255.0)


def tensor_uint8(y: torch.Tensor) -> torch.Tensor:
    """The same on tensors: (N, 3, H, W) float in [0, 1] -> the first image as an (H, W, 3) uint8 tensor."""
    return y[0].permute(1, 2, 0).float().clamp(0, 1).mul(255.0).round().to(torch.uint8)


def gram(x: torch.Tensor) -> torch.Tensor:
    """Gram matrix of features.

    Args:
        x: (N, C, H, W) features.
    Returns:
        (N, C, C) = F·Fᵀ / (C·H·W), F the (C, H·W) feature matrix.
    """
    return gram_pair(x, x)


def gram_pair(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cross Gram matrix A·Bᵀ / (C·H·W) of two equally shaped feature maps -> (N, C, C)."""
    n, c, h, w = a.shape
    fa = a.reshape(n, c, h * w)
    fb = b.reshape(n, c, h * w)
    return torch.bmm(fa, fb.transpose(1, 2)) / (c * h * w)


def shifted_gram(x: torch.Tensor, delta: int, axis: str) -> torch.Tensor:
    """Spatial-shift Gram matrix (Liu & Shuai 2019): correlation of positions p and p + δ.

    With T₊δ = the map without its first δ columns and T₋δ = without its last δ columns,
    G_δ = Gram(T₊δ, T₋δ), so entry (a, b) sums f_a(i, j+δ)·f_b(i, j). ``axis='x'`` shifts columns,
    ``axis='y'`` rows. Returns (N, C, C), normalised by the size of the overlap.
    """
    if axis == "x":
        if delta >= x.shape[3]:
            raise ValueError(f"shift {delta} needs a width above {delta}, got {x.shape[3]}")
        return gram_pair(x[:, :, :, delta:], x[:, :, :, :-delta])
    if axis == "y":
        if delta >= x.shape[2]:
            raise ValueError(f"shift {delta} needs a height above {delta}, got {x.shape[2]}")
        return gram_pair(x[:, :, delta:, :], x[:, :, :-delta, :])
    raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")


def mean_std(x: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation over H, W -> two (N, C, 1, 1) tensors.

    Uses the biased variance (as instance norm does) plus ``eps`` under the root.
    """
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    mean = flat.mean(dim=2).reshape(n, c, 1, 1)
    var = flat.var(dim=2, unbiased=False).reshape(n, c, 1, 1)
    return mean, (var + eps).sqrt()


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Adaptive instance norm: σ(s)·(c − μ(c))/σ(c) + μ(s), per sample and channel."""
    c_mean, c_std = mean_std(content, eps)
    s_mean, s_std = mean_std(style, eps)
    return s_std * (content - c_mean) / c_std + s_mean


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of horizontally and vertically adjacent pixels (a scalar)."""
    dx = x[:, :, :, 1:] - x[:, :, :, :-1]
    dy = x[:, :, 1:, :] - x[:, :, :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


def normalize_depth(depth: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Min-max normalise each map of (N, 1, H, W) to [0, 1] (far = 1, near = 0 when larger = farther)."""
    n = depth.shape[0]
    flat = depth.reshape(n, -1)
    lo = flat.min(dim=1).values.reshape(n, 1, 1, 1)
    hi = flat.max(dim=1).values.reshape(n, 1, 1, 1)
    return (depth - lo) / (hi - lo).clamp_min(eps)


def colorize(depth: np.ndarray, near_bright: bool = True) -> np.ndarray:
    """(H, W) depth (larger = farther) -> (H, W, 3) uint8 RGB with the inferno colour map.

    Normalised by the 2nd–98th percentiles; near is bright when ``near_bright``.
    """
    d = np.asarray(depth, np.float32)
    lo, hi = np.percentile(d, [2, 98])
    n = np.clip((d - lo) / max(hi - lo, 1e-6), 0, 1)
    if near_bright:
        n = 1 - n
    bgr = cv2.applyColorMap((n * 255 + 0.5).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def strength_blend(stylized: torch.Tensor, original: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """α⊙stylized + (1−α)⊙original; α a scalar or a map broadcastable after resizing to H, W."""
    if isinstance(alpha, torch.Tensor) and alpha.dim() == 4 and alpha.shape[-2:] != stylized.shape[-2:]:
        alpha = F.interpolate(alpha, size=stylized.shape[-2:], mode="bilinear", align_corners=False)
    return alpha * stylized + (1.0 - alpha) * original


def pad_to_multiple(x: torch.Tensor, multiple: int, min_size: int = 1) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad H and W (bottom/right, edge replication, safe for 1×1 inputs) up to a multiple.

    Each side is padded to at least ``min_size`` first (nets with reflection padding or several
    poolings need a few pixels even for a 1×1 frame).
    Returns the padded tensor and the original (H, W) for :func:`crop_to`.
    """
    h, w = x.shape[-2:]
    ph = max(h, min_size) - h
    pw = max(w, min_size) - w
    ph += (-(h + ph)) % multiple
    pw += (-(w + pw)) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, (h, w)


def paint_with_margin(paint, margin: int, x: torch.Tensor, *maps: torch.Tensor) -> torch.Tensor:
    """``paint(x, *maps)`` on ``x`` (and per-pixel ``maps`` of its size) mirrored outwards by
    ``margin`` px on every side, cropped back to x's size.

    A conv net with zero padding sees the frame's edge as a black border and paints a band there
    (a dark frame with a bright rim); with the mirrored margin that band falls outside the frame.
    The margin is capped at side − 1 (what reflection allows); 0 calls ``paint(x, *maps)`` as it is.
    """
    h, w = x.shape[-2:]
    m = min(int(margin), h - 1, w - 1)
    if m <= 0:
        return paint(x, *maps)
    y = paint(*(F.pad(t, (m, m, m, m), mode="reflect") for t in (x, *maps)))
    return y[..., m:m + h, m:m + w]


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop (…, H', W') back to the top-left (H, W)."""
    return x[..., : size[0], : size[1]]


# BT.601 luma weights (the Y of YCbCr as in JPEG / OpenCV's COLOR_RGB2YCrCb).
_LUMA = (0.299, 0.587, 0.114)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B of (N, 3, H, W) RGB -> (N, 1, H, W), same dtype."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b


def preserve_color(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance-only style transfer (Gatys et al. 2016, "Preserving color in neural artistic style
    transfer"): the stylized frame's luminance with the content's colours.

    Args:
        stylized: (N, 3, H, W) RGB in [0, 1], any device and float dtype.
        content: (N, 3, H, W) RGB in [0, 1]; moved to ``stylized``'s device and dtype.
    Returns:
        (N, 3, H, W) in [0, 1], in ``stylized``'s dtype: Y of ``stylized`` + Cb, Cr of ``content``
        (BT.601 YCbCr), clamped to [0, 1].

    YCbCr -> RGB adds Y to every channel with weight 1 (R = Y + 1.402 Cr, G = Y − 0.344 Cb − 0.714 Cr,
    B = Y + 1.772 Cb), so swapping the luminance is ``content + (Y(stylized) − Y(content))`` on all
    three channels: exact, and three multiply-adds per pixel on the device. Only the clamp (where
    the content's colour cannot be that bright or dark) moves the chroma.
    """
    if stylized.shape != content.shape:
        raise ValueError(f"preserve_color needs equally shaped frames, got {tuple(stylized.shape)} "
                         f"and {tuple(content.shape)}")
    content = content.to(stylized.device, stylized.dtype)
    return (content + (luminance(stylized) - luminance(content))).clamp_(0.0, 1.0)
