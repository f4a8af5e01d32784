"""Frame sources: ``start()``, ``read() -> (rgb, t) | None``, ``stop()``, and ``with`` blocks.

``rgb`` is (H, W, 3) uint8 RGB. Two kinds:

- File sources (:class:`FileSource`, :class:`FolderSource`, :class:`PatternSource`) hand out
  every frame in order, as fast as they are asked; ``t`` is the frame's media time in seconds.
- Live sources (:class:`CameraSource`, :class:`SimulatedCamera` in rtstyle.io.camera;
  ``live = True``) capture in their own thread at the device's pace into a latest-frame slot: a
  frame nobody read before the next one arrived is dropped (counted in ``dropped``), so a slow
  consumer gets fresh frames, not a growing backlog. ``t`` is ``time.perf_counter()`` at capture, for capture-to-display latency.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from rtstyle.errors import UserError

COUNTER_BITS = 12  # frame counter drawn into pattern frames (wraps at 4096)


class Source:
    """Base: ``live``, ``fps`` (frames per second, None if unknown), ``size`` ((W, H) once
    started, None if unknown) and ``dropped`` (frames a live source discarded unread)."""

    live = False

    def __init__(self):
        self.fps: float | None = None
        self.size: tuple[int, int] | None = None
        self.dropped = 0

    def start(self) -> "Source":
        return self

    def read(self) -> tuple[np.ndarray, float] | None:
        raise NotImplementedError

    def stop(self) -> None:
        pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __iter__(self):
        while (item := self.read()) is not None:
            yield item


def resize_frame(rgb: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or (rgb.shape[1], rgb.shape[0]) == tuple(size):
        return rgb
    interp = cv2.INTER_AREA if size[0] * size[1] < rgb.shape[0] * rgb.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(rgb, tuple(size), interpolation=interp)


# -- file sources ------------------------------------------------------------------------------

class FileSource(Source):
    """A video file's frames (PyAV, upright, every frame); ``loop`` restarts at the end with
    ``t`` continuing to grow."""

    def __init__(self, path, loop: bool = False):
        super().__init__()
        from rtstyle.io.video import VideoReader
        self.path, self.loop = Path(path), loop
        self._reader = VideoReader(self.path)
        self._offset = 0.0
        self.info = None

    def start(self) -> "FileSource":
        self._reader.start()
        self.info = self._reader.info
        self.fps = float(self.info.fps)
        self.size = (self.info.width, self.info.height)
        return self

    def read(self):
        item = self._reader.read()
        if item is None and self.loop and self._reader.frames_read:
            self._offset += self._reader.frames_read / self.fps
            self._reader.stop()
            self._reader.start()
            item = self._reader.read()
        if item is None:
            return None
        rgb, pts = item
        return rgb, self._offset + pts

    def stop(self) -> None:
        self._reader.stop()


class FolderSource(Source):
    """The images in a folder, sorted by name, as frames of ``size`` (W, H; default: the first
    image's size, since a video needs one size) at ``fps`` (for ``t`` only)."""

    def __init__(self, folder, loop: bool = False, fps: float = 25.0, size: tuple[int, int] | None = None):
        super().__init__()
        self.folder, self.loop, self.fps = Path(folder), loop, float(fps)
        self.size = tuple(size) if size else None
        self._files: list[Path] = []
        self._i = 0

    def start(self) -> "FolderSource":
        from rtstyle.io.images import image_files
        if not self.folder.is_dir():
            raise UserError(f"image folder {self.folder} does not exist or is not a folder; check the path")
        self._files = image_files(self.folder)
        if not self._files:
            raise UserError(f"image folder {self.folder} has no images (.png, .jpg, .webp, .bmp, .tif); "
                            f"put some there or give another folder")
        self._i = 0
        return self

    def read(self):
        from rtstyle.io.images import read_image
        if self._i >= len(self._files):
            if not self.loop:
                return None
        rgb, _alpha = read_image(self._files[self._i % len(self._files)])
        if self.size is None:
            self.size = (rgb.shape[1], rgb.shape[0])
        t = self._i / self.fps
        self._i += 1
        return resize_frame(rgb, self.size), t


@lru_cache(maxsize=4)
def _diag(w: int, h: int) -> np.ndarray:
    return np.add.outer(np.arange(h), np.arange(w))


def counter_band(h: int) -> int:
    """Rows at the top of a pattern frame that hold the binary frame counter."""
    return max(4, h // 8)


def pattern_frame(i: int, w: int = 640, h: int = 360) -> np.ndarray:
    """Frame ``i`` of the synthetic test card, (h, w, 3) uint8 RGB: moving colour bands and a
    ball, the number drawn large, and ``i`` in binary as black/white cells across the top band
    (machine-readable after video coding: :func:`read_counter`)."""
    ph = i * 0.15
    band = lambda n, k, p: (127.5 + 100 * np.sin(np.arange(n) * (6.28 * k / max(n, 1)) + p)).astype(np.uint8)
    img = np.empty((h, w, 3), np.uint8)  # 1-D waves broadcast / looked up: cheap at 1080p too
    img[..., 0] = band(w, 3, ph)[None, :]
    img[..., 1] = band(h, 2, -ph)[:, None]
    img[..., 2] = band(w + h, 4, 2 * ph)[_diag(w, h)]
    cx = int((0.5 + 0.4 * np.sin(i * 0.1)) * w)
    cy = int((0.55 + 0.3 * np.cos(i * 0.13)) * h)
    cv2.circle(img, (cx, cy), max(2, min(w, h) // 10), (255, 255, 255), -1)
    scale = h / 120
    if scale > 0.2:
        cv2.putText(img, f"#{i}", (w // 20, h * 3 // 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), max(1, int(scale * 3)), cv2.LINE_AA)
    band = counter_band(h)
    cw = w // COUNTER_BITS
    img[:band] = 0
    for k in range(COUNTER_BITS):
        if (i >> (COUNTER_BITS - 1 - k)) & 1:
            img[:band, k * cw:(k + 1) * cw] = 255
    return img


def read_counter(rgb: np.ndarray) -> int:
    """The frame number :func:`pattern_frame` drew into ``rgb`` (modulo 2**COUNTER_BITS)."""
    h, w = rgb.shape[:2]
    band, cw = counter_band(h), w // COUNTER_BITS
    value = 0
    for k in range(COUNTER_BITS):
        cell = rgb[band // 4: max(band // 4 + 1, 3 * band // 4),
                   k * cw + cw // 4: max(k * cw + cw // 4 + 1, k * cw + 3 * cw // 4)]
        value = (value << 1) | int(cell.mean() > 127)
    return value


class PatternSource(Source):
    """:func:`pattern_frame` 0, 1, 2, ... of ``size`` (W, H); ``frames`` of them (None: forever)."""

    def __init__(self, size: tuple[int, int] = (640, 360), fps: float = 30.0, frames: int | None = None):
        super().__init__()
        self.size, self.fps, self.frames = (int(size[0]), int(size[1])), float(fps), frames
        self._i = 0

    def start(self) -> "PatternSource":
        self._i = 0
        return self

    def read(self):
        if self.frames is not None and self._i >= self.frames:
            return None
        rgb = pattern_frame(self._i, *self.size)
        t = self._i / self.fps
        self._i += 1
        return rgb, t
