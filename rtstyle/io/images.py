"""Still images in and out: RGB uint8 (H, W, 3) plus an optional alpha plane (H, W).

OpenCV does the codecs. Files go through ``np.fromfile`` / ``ndarray.tofile`` rather than
``cv2.imread`` / ``cv2.imwrite`` so that non-ASCII paths work on every platform, and every
write lands under a temporary name first (``atomic_write``): no half-written image ever
appears under the final name.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import cv2
import numpy as np

from rtstyle.errors import UserError
from rtstyle.files import atomic_write, check_input_file, write_error

READ_HINT = "pass a JPEG/PNG/TIFF/WebP/BMP file"
# extension -> (keeps alpha, cv2.imencode parameters builder taking quality)
WRITE_FORMATS = {
    ".png": (True, lambda q: [cv2.IMWRITE_PNG_COMPRESSION, 3]),
    ".jpg": (False, lambda q: [cv2.IMWRITE_JPEG_QUALITY, q]),
    ".jpeg": (False, lambda q: [cv2.IMWRITE_JPEG_QUALITY, q]),
    ".webp": (True, lambda q: [cv2.IMWRITE_WEBP_QUALITY, q]),
    ".bmp": (False, lambda q: []),
    ".tif": (True, lambda q: []),
    ".tiff": (True, lambda q: []),
}


def decode_limit() -> int:
    """Most pixels OpenCV decodes in one image (its OPENCV_IO_MAX_IMAGE_PIXELS, default 2**30)."""
    try:
        return int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 30))
    except ValueError:
        return 1 << 30


def header_size(head: bytes) -> tuple[int, int] | None:
    """(W, H) stored in a PNG or JPEG header (the first bytes of the file), without decoding;
    None for other formats or a header that does not parse. JPEG EXIF rotation is not applied."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    if head[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 <= len(head):  # walk the JPEG markers to the first start-of-frame (SOF0..SOF15)
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", head[i + 5:i + 9])
            return int(w), int(h)
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        i += 2 + struct.unpack(">H", head[i + 2:i + 4])[0]
    return None


def image_size(path) -> tuple[int, int] | None:
    """(W, H) of a PNG or JPEG file from its header (cheap: reads at most 256 KiB), else None."""
    try:
        with open(path, "rb") as f:
            return header_size(f.read(1 << 18))
    except OSError:
        return None


def _to_uint8(a: np.ndarray, path: Path) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        # Exact rounding of x * 255 / 65535 (= x / 257): 65535 -> 255, 257 * k -> k.
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if a.dtype in (np.float32, np.float64):
        # Float TIFF/EXR: taken as linear-agnostic values in [0, 1].
        return (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise UserError(f"cannot read '{path}': unsupported pixel type {a.dtype}; "
                    f"save it as 8- or 16-bit and try again")


def read_image(path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image file.

    Returns ``(rgb, alpha)``: ``rgb`` is (H, W, 3) uint8 RGB, ``alpha`` is (H, W) uint8 or None
    when the file has no alpha channel. Greyscale is expanded to three equal channels,
    16-bit is scaled to 8-bit with rounding, CMYK JPEG is converted by OpenCV, and JPEG EXIF
    orientation is applied (the pixels come out upright).
    """
    path = Path(path)
    size = check_input_file(path, "an image", READ_HINT)
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise UserError(f"cannot read '{path}': {e.strerror or e}; check its permissions") from e
    wh = header_size(buf[:1 << 18].tobytes())
    if wh is not None and wh[0] * wh[1] > decode_limit():
        raise UserError(f"cannot read '{path}': it is {wh[0]}x{wh[1]} ({wh[0] * wh[1] / 1e6:.0f} megapixels), "
                        f"more than OpenCV decodes ({decode_limit() / 1e6:.0f} megapixels); "
                        f"downscale it first with an image editor")
    # JPEG has neither alpha nor 16-bit: IMREAD_COLOR there, because only it applies EXIF
    # orientation and converts CMYK/greyscale for us. Everything else keeps all its channels.
    is_jpeg = buf[:3].tobytes() == b"\xff\xd8\xff"
    flags = cv2.IMREAD_COLOR if is_jpeg else cv2.IMREAD_UNCHANGED
    try:
        img = cv2.imdecode(buf, flags)
    except cv2.error:
        img = None
    if img is None:
        raise UserError(f"cannot read '{path}': not an image OpenCV can decode "
                        f"(file is {size} bytes); {READ_HINT}")
    img = _to_uint8(img, path)
    alpha = None
    if img.ndim == 2:
        rgb = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 1:
        rgb = cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 2:  # grey + alpha
        rgb, alpha = cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB), img[:, :, 1]
    elif img.shape[2] == 3:
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        rgb, alpha = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2RGB), img[:, :, 3]
    if alpha is not None:
        alpha = np.ascontiguousarray(alpha)
    return np.ascontiguousarray(rgb), alpha


def write_image(path, rgb: np.ndarray, alpha: np.ndarray | None = None, quality: int = 95) -> None:
    """Write ``rgb`` ((H, W, 3) uint8 RGB) to ``path``; the format comes from the extension.

    ``alpha`` ((H, W) uint8) is stored for PNG, WebP and TIFF and dropped for JPEG and BMP.
    ``quality`` (1-100) applies to JPEG and WebP. The file appears atomically.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in WRITE_FORMATS:
        raise UserError(f"cannot write '{path}': unknown image extension '{path.suffix}'; "
                        f"use one of {', '.join(sorted(WRITE_FORMATS))}")
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"write_image wants (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    keeps_alpha, params = WRITE_FORMATS[ext]
    img = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if alpha is not None and keeps_alpha:
        alpha = np.asarray(alpha)
        if alpha.shape != rgb.shape[:2] or alpha.dtype != np.uint8:
            raise ValueError(f"alpha must be {rgb.shape[:2]} uint8, got {alpha.shape} {alpha.dtype}")
        img = np.dstack([img, alpha])
    ok, data = cv2.imencode(ext, img, params(int(quality)))
    if not ok:
        raise UserError(f"cannot write '{path}': OpenCV could not encode a {ext} image of "
                        f"shape {img.shape}; try a .png path")
    if path.is_dir():
        raise UserError(f"cannot write '{path}': it is a folder; give a file name ending in {ext}")
    try:
        atomic_write(path, data.tofile)
    except OSError as e:
        raise write_error(path, e) from e


def image_files(folder) -> list[Path]:
    """The readable image files directly inside ``folder``, sorted by name."""
    exts = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in exts and p.is_file()
                  and not p.name.startswith("."))
