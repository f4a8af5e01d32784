"""Where to cut a video for parallel stylization, and how to name the work (no Ray, no decoding).

A video is indexed by demuxing its packets only: every frame's presentation timestamp (pts) and
which frames are keyframes. Frame i is the i-th smallest pts, so a segment ``[start, end)`` is the
pts interval ``[pts[start], pts[end])`` and every frame lands in exactly one segment. Cuts go on
keyframes where one is near the wanted length (the worker then seeks straight to it); a cut
inside a group of pictures is allowed when keyframes are too sparse for the wanted segment count:
that worker seeks to the keyframe before and decodes (without stylizing) the frames up to its
start, which costs decode time only.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..io.video import open_video


@dataclass(frozen=True)
class FrameIndex:
    """Frames of a video's first video stream, from demuxing (no decoding).

    ``pts``: each frame's pts in ``time_base`` ticks, sorted (display order), or None when the
    file lacks usable timestamps (missing or repeated pts): then it is processed as one segment.
    ``keyframes``: indices (into display order) of the frames that start a decodable run.
    """

    frames: int
    pts: list[int] | None
    keyframes: list[int]
    time_base: Fraction


def scan(path) -> FrameIndex:
    container, stream = open_video(Path(path))
    try:
        pts, keys, missing = [], [], 0
        for p in container.demux(stream):
            if not p.size or p.is_discard:  # flush packets; frames an edit list hides
                continue
            if p.pts is None:
                missing += 1
                continue
            pts.append(p.pts)
            if p.is_keyframe:
                keys.append(p.pts)
        tb = Fraction(stream.time_base)
    finally:
        container.close()
    order = sorted(pts)
    if missing or len(set(order)) != len(order):
        return FrameIndex(frames=len(pts) + missing, pts=None, keyframes=[0], time_base=tb)
    rank = {t: i for i, t in enumerate(order)}
    return FrameIndex(frames=len(order), pts=order, keyframes=sorted(rank[k] for k in keys), time_base=tb)


def plan_segments(frames: int, keyframes: list[int], fps: Fraction, seconds: float,
                  min_segments: int = 1) -> list[tuple[int, int]]:
    """Cut ``frames`` frames into ``[start, end)`` ranges of about ``seconds`` each (fewer
    seconds when that is needed to get ``min_segments`` segments, so every worker has work).

    Each cut is the keyframe nearest the wanted length if one lies within ±25 % of it, else the
    frame at the wanted length. The last segment takes the rest (at most 1.5 × the length).
    """
    if frames <= 0:
        return []
    target = max(1, round(seconds * float(fps)))
    target = max(1, min(target, -(-frames // max(1, min_segments))))
    keys = sorted({k for k in keyframes if 0 < k < frames})
    cuts, start = [0], 0
    while frames - start > target + target // 2:
        ideal = start + target
        lo, hi = start + max(1, (3 * target + 3) // 4), start + (5 * target) // 4
        near = [k for k in keys if lo <= k <= hi]
        start = min(near, key=lambda k: (abs(k - ideal), k)) if near else ideal
        cuts.append(start)
    cuts.append(frames)
    return list(zip(cuts[:-1], cuts[1:]))


def file_fingerprint(path: Path, sample: int = 1 << 20) -> str:
    """sha256 of a file's size and its first and last ``sample`` bytes: cheap for big videos,
    and changes when the file is replaced or re-encoded."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(sample))
        if size > sample:
            f.seek(max(sample, size - sample))
            h.update(f.read(sample))
    return h.hexdigest()


def work_key(src: Path, settings: dict) -> str:
    """Name of a video's work folder: its fingerprint and everything that changes the pixels."""
    h = hashlib.sha256(file_fingerprint(src).encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def segment_name(start: int, end: int) -> str:
    return f"seg-{start:07d}-{end:07d}.mp4"
