"""Ordinal pairs from measured depth or disparity: what the real test sets are scored on, and what training samples from exact depth.

A pair set (:class:`rtstyle.bench.depth.metrics.Pairs`) is flat indices into an H·W map and labels
in {−1, 0, +1}: +1 when point a is farther than b, −1 when nearer, 0 when |z_a / z_b − 1| < τ.

- :func:`dense_pairs`: any dense positive depth (synthetic views, GT depth; ``1 / disparity`` for stereo);
- :func:`stereo_disparity`: OpenCV StereoSGBM on a rectified pair; larger disparity = nearer;
- :func:`disparity_pairs`: pairs from a disparity map with unknowns.
"""
from __future__ import annotations

import cv2
import numpy as np

from .metrics import Pairs


def label(za: np.ndarray, zb: np.ndarray, tau: float = 0.02) -> np.ndarray:
    """r = sign(z_a − z_b), 0 where |z_a / z_b − 1| < τ (depths positive)."""
    ratio = za / np.maximum(zb, 1e-12)
    r = np.sign(za - zb).astype(np.int8)
    r[np.abs(ratio - 1) < tau] = 0
    return r


def dense_pairs(depth: np.ndarray, n: int, rng: np.random.Generator, tau: float = 0.02,
                valid: np.ndarray | None = None, local_frac: float = 0.5, radius: float = 0.1) -> Pairs:
    """``n`` pairs from a dense (H, W) positive depth map.

    A share ``local_frac`` pairs each point with one within ``radius``·max(H, W) pixels (depth
    edges and slopes), the rest are uniform over the valid pixels (global layout, as in Chen et al.).
    """
    h, w = depth.shape
    flat = depth.reshape(-1)
    ok = np.ones(h * w, bool) if valid is None else valid.reshape(-1).astype(bool)
    cand = np.nonzero(ok)[0]
    if len(cand) < 2:
        return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8))
    ia = cand[rng.integers(len(cand), size=n)]
    ib = cand[rng.integers(len(cand), size=n)]
    n_local = int(round(n * local_frac))
    if n_local:
        rad = max(2, int(radius * max(h, w)))
        ya, xa = np.divmod(ia[:n_local], w)
        yb = np.clip(ya + rng.integers(-rad, rad + 1, n_local), 0, h - 1)
        xb = np.clip(xa + rng.integers(-rad, rad + 1, n_local), 0, w - 1)
        loc = yb * w + xb
        ib[:n_local] = np.where(ok[loc], loc, ib[:n_local])
    keep = ia != ib
    ia, ib = ia[keep], ib[keep]
    return Pairs(ia.astype(np.int64), ib.astype(np.int64), label(flat[ia], flat[ib], tau))


def stereo_disparity(left: np.ndarray, right: np.ndarray, num_disp: int = 128, block: int = 5,
                     uniqueness: int = 10) -> np.ndarray:
    """Disparity (H, W) float32 in pixels of the left view of a rectified pair (NaN = unknown).

    Larger disparity = nearer (depth = focal · baseline / disparity). StereoSGBM with a
    left-right consistency check; ``num_disp`` is rounded up to a multiple of 16; ``uniqueness``
    is its uniquenessRatio (%).
    """
    gl = cv2.cvtColor(left, cv2.COLOR_RGB2GRAY) if left.ndim == 3 else left
    gr = cv2.cvtColor(right, cv2.COLOR_RGB2GRAY) if right.ndim == 3 else right
    num_disp = int(np.ceil(num_disp / 16) * 16)
    sgbm = cv2.StereoSGBM_create(minDisparity=0, numDisparities=num_disp, blockSize=block,
                                 P1=8 * block * block, P2=32 * block * block, disp12MaxDiff=1,
                                 uniquenessRatio=uniqueness, speckleWindowSize=100, speckleRange=2,
                                 mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    disp = sgbm.compute(gl, gr).astype(np.float32) / 16.0
    disp[disp <= 0.5] = np.nan
    return disp


def disparity_pairs(disp: np.ndarray, n: int, rng: np.random.Generator, tau: float = 0.02, **kw) -> Pairs:
    """Pairs from a disparity map (NaN or ≤ 0 = unknown): depth ∝ 1 / disparity."""
    valid = np.isfinite(disp) & (disp > 0)
    depth = np.where(valid, 1.0 / np.where(valid, disp, 1.0), 0.0)
    return dense_pairs(depth, n, rng, tau, valid=valid, **kw)
