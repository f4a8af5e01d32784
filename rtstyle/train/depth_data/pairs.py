"""Ordinal point pairs (Chen et al. 2016) from dense depth, stereo, structure from motion and weak cues.

A pair set is ``(ia, ib, r)``: flat indices into an H·W map (int64) and labels in {−1, 0, +1}
(int8): +1 when point a is farther than b, −1 when nearer, 0 when "equal", i.e. when
|z_a / z_b − 1| < τ. That is what :func:`rtstyle.losses.ranking_loss` and
:func:`rtstyle.bench.depth.metrics.ordinal_accuracy` take (:class:`Pairs`).

Sources, from exact to weak (pairs from measured depth or disparity, which the test sets are scored
on too, live in :mod:`rtstyle.bench.depth.truth`):

- :func:`sfm_points`: two frames of a clip with camera motion: tracked corners, essential matrix
  (RANSAC), pose, triangulation -> sparse depths in the first frame; few pairs, but real ones.
- :func:`ground_pairs` (lower on a ground plane = nearer) and :func:`sky_pairs` (sky farther than
  everything) give low-weight pairs for any photo; :func:`rtstyle.depth_cues.sky_mask` is a simple sky detector.
"""
from __future__ import annotations

import cv2
import numpy as np

from ...bench.depth.metrics import Pairs
from ...bench.depth.truth import label


# -- structure from motion --------------------------------------------------------------------

def sfm_points(frame_a: np.ndarray, frame_b: np.ndarray, focal: float | None = None,
               min_parallax_deg: float = 1.0, max_points: int = 800, min_agreement: float = 0.8):
    """Sparse depths in ``frame_a`` from two frames of a moving camera over a static scene.

    Corners (goodFeaturesToTrack) tracked by pyramidal Lucas-Kanade with a forward-backward check,
    essential matrix with RANSAC (focal guessed as the image width when not given, principal point
    at the centre), pose, triangulation. Points must lie in front of both cameras and the median
    triangulation angle must reach ``min_parallax_deg`` (pure rotation or a still camera give none).
    Without a known ``focal``, the depth order must also agree (Spearman ≥ ``min_agreement``) with
    the reconstructions under focal guesses of 0.6 and 1.6 × the width.

    Returns (xy (P, 2) float32 pixel coordinates in frame a, z (P,) float32 depth up to scale),
    or None when the pair has too little parallax or too few consistent points.
    """
    ga = cv2.cvtColor(frame_a, cv2.COLOR_RGB2GRAY)
    gb = cv2.cvtColor(frame_b, cv2.COLOR_RGB2GRAY)
    h, w = ga.shape
    pa = cv2.goodFeaturesToTrack(ga, max_points, 0.01, max(4, min(h, w) // 60))
    if pa is None or len(pa) < 30:
        return None
    pb, st, _ = cv2.calcOpticalFlowPyrLK(ga, gb, pa, None, winSize=(21, 21), maxLevel=3)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(gb, ga, pb, None, winSize=(21, 21), maxLevel=3)
    good = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - pa)[:, 0], axis=1) < 1.0)
    pa, pb = pa[good, 0], pb[good, 0]
    if len(pa) < 30 or np.median(np.linalg.norm(pb - pa, axis=1)) < 2.0:
        return None
    main = _reconstruct(pa, pb, float(focal or w), w, h, min_parallax_deg)
    if main is None:
        return None
    idx, z = main
    if focal is None:
        # The focal length is a guess: keep the pair only when the depth order it yields barely
        # depends on the guess. Rotation-dominated motion (a pan) makes the order follow the
        # guess, and can even invert it; a real translation gives the same order for any focal.
        for alt in (0.6 * w, 1.6 * w):
            other = _reconstruct(pa, pb, alt, w, h, 0.5 * min_parallax_deg)
            if other is None:
                return None
            common, i1, i2 = np.intersect1d(idx, other[0], return_indices=True)
            if len(common) < 20 or _spearman(z[i1], other[1][i2]) < min_agreement:
                return None
    return pa[idx].astype(np.float32), z.astype(np.float32)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _reconstruct(pa, pb, f: float, w: int, h: int, min_parallax_deg: float):
    """Two-view reconstruction with focal ``f``: (indices into pa of the kept points, their depth z)."""
    K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
    E, inl = cv2.findEssentialMat(pa, pb, K, method=cv2.RANSAC, prob=0.999, threshold=1.0)
    if E is None or E.shape != (3, 3) or inl is None or inl.sum() < 30:
        return None
    _, R, t, inl2 = cv2.recoverPose(E, pa, pb, K, mask=inl.copy())
    sel = np.nonzero(inl2[:, 0] > 0)[0]
    if len(sel) < 30:
        return None
    qa, qb = pa[sel], pb[sel]
    P1 = K @ np.hstack([np.eye(3), np.zeros((3, 1))])
    P2 = K @ np.hstack([R, t])
    X = cv2.triangulatePoints(P1, P2, qa.T.astype(np.float64), qb.T.astype(np.float64))
    X = (X[:3] / X[3]).T
    z1 = X[:, 2]
    z2 = (X @ R.T + t.T)[:, 2]
    # Triangulation angle between the two viewing rays of each point.
    c2 = (-R.T @ t).ravel()
    ra, rb = X, X - c2
    cosang = (ra * rb).sum(1) / (np.linalg.norm(ra, axis=1) * np.linalg.norm(rb, axis=1) + 1e-12)
    ang = np.degrees(np.arccos(np.clip(cosang, -1, 1)))
    front = (z1 > 0) & (z2 > 0) & np.isfinite(z1)
    if front.sum() < 20 or np.median(ang[front]) < min_parallax_deg:
        return None
    # Reprojection check in frame b.
    proj = (P2 @ np.hstack([X, np.ones((len(X), 1))]).T).T
    err = np.linalg.norm(proj[:, :2] / proj[:, 2:3] - qb, axis=1)
    keep = front & (err < 2.0) & (ang > 0.3 * min_parallax_deg)
    if keep.sum() < 20:
        return None
    z = z1[keep]
    lo, hi = np.percentile(z, [2, 98])   # drop wild outliers at both ends
    keep2 = (z >= lo) & (z <= hi)
    return sel[keep][keep2], z[keep2]


def point_pairs(xy: np.ndarray, z: np.ndarray, shape: tuple[int, int], n: int, rng: np.random.Generator,
                tau: float = 0.05) -> Pairs:
    """Pairs between sparse points ``xy`` (P, 2) with depths ``z`` in an image of ``shape`` (H, W)."""
    h, w = shape
    xi = np.clip(np.round(xy[:, 0]).astype(np.int64), 0, w - 1)
    yi = np.clip(np.round(xy[:, 1]).astype(np.int64), 0, h - 1)
    flat = yi * w + xi
    p = len(z)
    a, b = rng.integers(p, size=n), rng.integers(p, size=n)
    keep = flat[a] != flat[b]
    a, b = a[keep], b[keep]
    return Pairs(flat[a], flat[b], label(z[a], z[b], tau))


def clip_sfm_points(path, gap: int = 24, stride: int = 6, frames: tuple[int, int] | None = None,
                    aspect: float | None = None, max_side: int = 640, **kw):
    """(frame a (H, W, 3) uint8, xy, z) for each usable (i, i + gap) frame pair of a video file.

    ``frames`` (start, stop) limits the first frame's range (train / test splits of one clip);
    ``aspect`` (W / H) centre-crops frames first (a centred crop keeps the principal point at the
    centre, as :func:`sfm_points` assumes); frames are shrunk to ``max_side``. Pairs without enough
    parallax (a still camera, pure rotation) are skipped.
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    start, stop = frames or (0, 1 << 30)
    buf, out, i = {}, [], 0
    try:
        while i < stop + gap:
            ok, bgr = cap.read()
            if not ok:
                break
            if i >= start and (i - start) % stride in (0, gap):
                buf[i] = fit_aspect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), aspect, max_side)
                a = i - gap
                if a in buf and (a - start) % stride == 0 and a < stop:
                    res = sfm_points(buf[a], buf[i], **kw)
                    if res is not None:
                        out.append((buf[a], *res))
                for old in [k for k in buf if k < i - gap]:
                    del buf[old]
            i += 1
    finally:
        cap.release()
    return out


def fit_aspect(rgb: np.ndarray, aspect: float | None, max_side: int) -> np.ndarray:
    """The centre crop of ``rgb`` with width / height = ``aspect`` (None: all of it), shrunk so that
    its long side is at most ``max_side``."""
    h, w = rgb.shape[:2]
    if aspect:
        if w / h > aspect:
            cw = int(round(h * aspect))
            rgb = rgb[:, (w - cw) // 2:(w - cw) // 2 + cw]
        else:
            ch = int(round(w / aspect))
            rgb = rgb[(h - ch) // 2:(h - ch) // 2 + ch]
    s = max_side / max(rgb.shape[:2])
    return cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else np.ascontiguousarray(rgb)


# -- weak monocular cues ----------------------------------------------------------------------

def ground_pairs(h: int, w: int, n: int, rng: np.random.Generator, below: float = 0.55,
                 max_dx: float = 0.08, min_dy: float = 0.12) -> Pairs:
    """Ground-plane prior: of two points in the lower part of the frame (below ``below``·H), in
    nearly the same column, the lower one is nearer. A weak cue: give these pairs a low weight."""
    y0 = int(below * h)
    ya = rng.integers(y0, h, n)
    yb = rng.integers(y0, h, n)
    xa = rng.integers(0, w, n)
    xb = np.clip(xa + rng.integers(-int(max_dx * w) - 1, int(max_dx * w) + 2, n), 0, w - 1)
    keep = np.abs(ya - yb) >= max(1, int(min_dy * h))
    ya, yb, xa, xb = ya[keep], yb[keep], xa[keep], xb[keep]
    r = np.where(ya > yb, -1, 1).astype(np.int8)   # a lower in the image -> a nearer
    return Pairs((ya * w + xa).astype(np.int64), (yb * w + xb).astype(np.int64), r)


def sky_pairs(mask: np.ndarray, n: int, rng: np.random.Generator) -> Pairs:
    """Sky is farther than any non-sky pixel (r = +1, a in the sky) and sky pairs are equal."""
    sky_idx = np.nonzero(mask.reshape(-1))[0]
    rest = np.nonzero(~mask.reshape(-1))[0]
    if len(sky_idx) == 0 or len(rest) == 0:
        return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8))
    n_eq = n // 5
    ia = np.concatenate([sky_idx[rng.integers(len(sky_idx), size=n - n_eq)],
                         sky_idx[rng.integers(len(sky_idx), size=n_eq)]])
    ib = np.concatenate([rest[rng.integers(len(rest), size=n - n_eq)],
                         sky_idx[rng.integers(len(sky_idx), size=n_eq)]])
    r = np.concatenate([np.ones(n - n_eq, np.int8), np.zeros(n_eq, np.int8)])
    return Pairs(ia.astype(np.int64), ib.astype(np.int64), r)
