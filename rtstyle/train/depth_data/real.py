"""Real supervision at a depth trainer's input size: SfM frames of a clip and measured stereo scenes."""
from __future__ import annotations

import cv2
import numpy as np

from ...bench.depth.truth import disparity_pairs
from . import pairs as P


def sfm_frames(clip, frames: tuple[int, int], width: int, height: int, seed: int):
    """(frame at width×height, Pairs) for each frame pair of ``clip`` in ``frames`` with enough parallax."""
    rng = np.random.default_rng(seed + 3)
    out = []
    for frame, xy, z in P.clip_sfm_points(clip, frames=tuple(frames), aspect=width / height):
        sx, sy = width / frame.shape[1], height / frame.shape[0]
        small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        pairs = P.point_pairs(xy * np.array([sx, sy], np.float32), z, (height, width), 400, rng)
        if len(pairs):
            out.append((small, pairs))
    if not out:
        raise ValueError(f"no frame pair of {clip} frames {list(frames)} had enough parallax for SfM")
    return out


def stereo_scenes(names, width: int, height: int, pairs: int, seed: int):
    """Per stereodemo scene, ((frame, Pairs), (mirrored frame, Pairs)) at width×height: the left view
    cropped to the training aspect, its measured disparity cropped and resized with it (nearest),
    ``4 × pairs`` pairs where the matcher has a value (30 % of them local). Test scenes are refused."""
    from ...bench.depth import stereodemo
    leak = sorted(set(names) & set(stereodemo.TEST))
    if leak:
        raise ValueError(f"stereodemo scenes {', '.join(leak)} are test scenes; train on {', '.join(stereodemo.VALIDATION)}")
    rng = np.random.default_rng(seed + 5)
    out = []
    for sc in stereodemo.load(tuple(names)):
        rgb = P.fit_aspect(sc.left, width / height, 10 ** 6)   # the same centre crop for both
        disp = P.fit_aspect(sc.disp, width / height, 10 ** 6)
        small = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        d = cv2.resize(disp, (width, height), interpolation=cv2.INTER_NEAREST)
        views = []
        for img, dd in ((small, d), (small[:, ::-1], d[:, ::-1])):
            views.append((np.ascontiguousarray(img),
                          disparity_pairs(np.ascontiguousarray(dd), 4 * pairs, rng, stereodemo.TAU, local_frac=0.3)))
        out.append(tuple(views))
    return out
