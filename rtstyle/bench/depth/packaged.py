"""Real depth ground truth found inside public packages, for testing only (fetched, never shipped).

- **Middlebury Cones** (Scharstein & Szeliski 2003, structured-light ground truth): the left view
  (450×375, colour) and its GT disparity (px, 0 = unknown) in the test data of the
  ``pandora-plugin-libsgm`` 1.5.8 source archive on PyPI (CNES, Apache-2.0 for the package; the
  scene is the Middlebury 2003 one, cited as its authors ask).
- **ViSP castel**: 30 frames of a model castle from an Intel SR300 RGB-D camera (grey 640×480 view,
  uint16 depth in the depth camera's own frame) in the Debian package ``visp-images-data`` 3.5.0-1
  (Inria, GPL-2). :func:`castel_depth` reprojects each depth image into the grey view with the
  calibration that ships beside it (pinhole intrinsics of both cameras, ``depth_M_color``).

Both archives are pinned by sha256 (rtstyle.bench.depth.fetch) and read in place; only the files
needed are taken out of them.
"""
from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fetch import Archive, pinned

CONES = Archive("the pinned pandora-plugin-libsgm==1.5.8 source archive", "pandora_plugin_libsgm-1.5.8.tar.gz",
                "76866e5e83d1de60081ba9f1556dddd0207af72a93b73c4fd4c23d7fa731d737",
                url="https://files.pythonhosted.org/packages/73/23/6f3b4e06eed6ab4e2cd993642b351c87795bf5a8afb6b25d6a89a0226d80/"
                    "pandora_plugin_libsgm-1.5.8.tar.gz")   # pip would build it to read its version
_CONES_DIR = "pandora_plugin_libsgm-1.5.8/tests/testresources/inputs/"

CASTEL = Archive("the pinned Debian package visp-images-data 3.5.0-1", "visp-images-data_3.5.0-1_all.deb",
                 "8d78de2b5d0ff5536ae5c281b11a5011fd6e95cd717c2e0ebf38bacf57723a9d",
                 ("apt-get", "download", "visp-images-data=3.5.0-1"))
_CASTEL_DIR = "./usr/share/visp-images-data/ViSP-images/mbt-depth/castel/"
CASTEL_FRAMES = tuple(range(0, 30, 5))   # the sequence barely moves: every 5th frame, fixed before scoring
DEPTH_UNIT_M = 0.000124986647            # SR300 depth unit, as ViSP's own mbtGenericTrackingDepth example


@dataclass
class Scene:
    name: str
    rgb: np.ndarray     # (H, W, 3) uint8 (castel: the grey view in every channel)
    depth: np.ndarray   # (H, W) float32 depth (Cones: 1 / disparity), NaN = unknown


def _decode(data: bytes, flags: int) -> np.ndarray:
    import cv2
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if img is None:
        raise ValueError("an image in the archive does not decode")
    return img


def cones_from(archive: Path) -> Scene:
    """Cones' left view and its GT as depth (1 / disparity; NaN where the GT has 0)."""
    import cv2
    with tarfile.open(archive) as tar:
        read = lambda name: tar.extractfile(_CONES_DIR + name).read()   # noqa: E731
        bgr = _decode(read("left_rgb.tif"), cv2.IMREAD_UNCHANGED)     # float32, 0..255
        disp = _decode(read("disp_left.tif"), cv2.IMREAD_UNCHANGED).astype(np.float32)
    rgb = cv2.cvtColor(np.clip(bgr, 0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB)
    with np.errstate(divide="ignore"):
        return Scene("cones", rgb, np.where(disp > 0, 1.0 / disp, np.nan).astype(np.float32))


def cones(folder: Path | None = None) -> Scene:
    return cones_from(pinned(CONES, folder))


def _deb_data(deb: Path) -> bytes:
    """The data.tar.* member of a Debian package (an ar archive)."""
    raw = deb.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise ValueError(f"{deb} is not a Debian package")
    i = 8
    while i + 60 <= len(raw):
        name, size = raw[i:i + 16].decode().strip().rstrip("/"), int(raw[i + 48:i + 58])
        if name.startswith("data.tar"):
            return raw[i + 60:i + 60 + size]
        i += 60 + size + (size & 1)
    raise ValueError(f"{deb} has no data.tar member")


def _camera(xml: str) -> tuple[float, float, float, float]:
    """(px, py, u0, v0) of the <camera> block of a ViSP tracker config."""
    block = re.search(r"<camera>(.*?)</camera>", xml, re.S).group(1)
    return tuple(float(re.search(rf"<{k}>\s*([-\d.eE+]+)\s*</{k}>", block).group(1)) for k in ("px", "py", "u0", "v0"))


def read_visp_depth(data: bytes) -> np.ndarray:
    """A ViSP depth .bin: uint32 height, uint32 width (little-endian), then uint16 values; in metres."""
    h, w = np.frombuffer(data[:8], "<u4")
    return np.frombuffer(data[8:8 + 2 * int(h) * int(w)], "<u2").reshape(int(h), int(w)).astype(np.float32) * DEPTH_UNIT_M


def castel_depth(depth: np.ndarray, depth_cam, color_cam, depth_M_color: np.ndarray, shape) -> np.ndarray:
    """Depth in the depth camera's frame -> depth along the colour camera's axis at its pixels
    (the nearest surface wins; NaN where no depth pixel lands). No lens distortion."""
    px, py, u0, v0 = depth_cam
    v, u = np.nonzero(depth > 0)
    z = depth[v, u]
    pts = np.stack([(u - u0) / px * z, (v - v0) / py * z, z, np.ones_like(z)])
    c = np.linalg.inv(depth_M_color) @ pts
    cx, cy, cu, cv = color_cam
    uc = np.floor(c[0] / c[2] * cx + cu + 1e-6).astype(int)   # + 1e-6: an exact pixel stays itself
    vc = np.floor(c[1] / c[2] * cy + cv + 1e-6).astype(int)
    h, w = shape
    out = np.full((h, w), np.inf, np.float32)
    # Each depth pixel covers a 2x2 block: the colour view magnifies (focal 615 vs 476 px here), and
    # single-pixel splats would leave holes through which the surface behind shows.
    for du, dv in ((0, 0), (1, 0), (0, 1), (1, 1)):
        uu, vv = uc + du, vc + dv
        ok = (c[2] > 0) & (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
        np.minimum.at(out, (vv[ok], uu[ok]), c[2][ok].astype(np.float32))
    out[np.isinf(out)] = np.nan
    return out


def castel_from(deb: Path, frames=CASTEL_FRAMES) -> list[Scene]:
    import cv2
    want = {f"castel/image_{i:04d}.pgm" for i in frames} | {f"castel/depth_image_{i:04d}.bin" for i in frames} \
        | {"chateau.xml", "chateau_depth.xml", "depth_M_color.txt"}
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(_deb_data(deb))) as tar:
        for m in tar:
            rel = m.name[len(_CASTEL_DIR):] if m.name.startswith(_CASTEL_DIR) else None
            if rel in want:
                files[rel] = tar.extractfile(m).read()
    missing = sorted(want - set(files))
    if missing:
        raise ValueError(f"{deb} lacks {', '.join(missing[:3])}")
    color_cam, depth_cam = _camera(files["chateau.xml"].decode()), _camera(files["chateau_depth.xml"].decode())
    d_M_c = np.loadtxt(io.StringIO(files["depth_M_color.txt"].decode()))
    out = []
    for i in frames:
        grey = _decode(files[f"castel/image_{i:04d}.pgm"], cv2.IMREAD_GRAYSCALE)
        depth = castel_depth(read_visp_depth(files[f"castel/depth_image_{i:04d}.bin"]), depth_cam, color_cam,
                             d_M_c, grey.shape)
        out.append(Scene(f"castel_{i:04d}", np.repeat(grey[..., None], 3, axis=2), depth))
    return out


def castel(folder: Path | None = None, frames=CASTEL_FRAMES) -> list[Scene]:
    return castel_from(pinned(CASTEL, folder), frames)
