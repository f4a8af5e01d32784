"""Frame sources: ``start()``, ``read() -> (rgb, t) | None``, ``stop()``, and ``with`` blocks.

``rgb`` is (H, W, 3) uint8 RGB. Two kinds:

- File sources (:class:`FileSource`, :class:`FolderSource`, :class:`PatternSource`) hand out
  every frame in order, as fast as they are asked; ``t`` is the frame's media time in seconds.
- Live sources (:class:`CameraSource`, :class:`SimulatedCamera`; ``live = True``) capture in
  their own thread at the device's pace into a latest-frame slot: a frame nobody read before the
  next one arrived is dropped (counted in ``dropped``), so a slow consumer gets fresh frames, not
  a growing backlog. ``t`` is ``time.perf_counter()`` at capture, for capture-to-display latency.
"""
from __future__ import annotations

import glob
import os
import sys
import threading
import time
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


def _resize(rgb: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
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
        return _resize(rgb, self.size), t


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


# -- live sources ------------------------------------------------------------------------------

class LatestFrame:
    """The newest captured frame, handed over once: ``put`` replaces an unread frame (counted
    in ``dropped``); ``get`` waits for one newer than the last it returned."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self._closed = False
        self._error: BaseException | None = None
        self.dropped = 0
        self.count = 0

    def put(self, item) -> None:
        with self._cond:
            self.count += 1
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def close(self, error: BaseException | None = None) -> None:
        """No more frames; ``get`` raises ``error`` (if given) once the last frame is taken."""
        with self._cond:
            self._closed, self._error = True, error
            self._cond.notify_all()

    def get(self, timeout: float):
        """The next frame; None when closed; TimeoutError if none arrives within ``timeout`` s."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._item is not None or self._closed, timeout):
                raise TimeoutError
            item, self._item = self._item, None
            if item is None and self._error is not None:
                raise self._error
            return item


class _LiveSource(Source):
    """A capture thread (``_capture``) filling a :class:`LatestFrame`."""

    live = True

    def __init__(self):
        super().__init__()
        self._slot = LatestFrame()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def _start_thread(self, name: str) -> None:
        self._slot = LatestFrame()
        self._halt.clear()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            self._capture()
            self._slot.close()
        except BaseException as exc:  # handed to the reader's thread by read()
            self._slot.close(exc)

    def _capture(self) -> None:
        raise NotImplementedError

    @property
    def captured(self) -> int:
        """Frames captured so far (read or dropped)."""
        return self._slot.count

    def read(self, timeout: float = 2.0):
        if self._thread is None:
            raise RuntimeError(f"{type(self).__name__}.read() before start()")
        item = self._slot.get(timeout)
        self.dropped = self._slot.dropped
        return item

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class SimulatedCamera(_LiveSource):
    """A webcam stand-in: ``'pattern'`` (the moving test card, frame number drawn in) or a video
    file, delivered at ``fps`` in real time whether or not anyone reads (stale frames are
    dropped as with a real camera). ``size`` (W, H) resizes (default: the file's size, 640x360
    for the pattern); ``loop`` restarts a file at its end."""

    def __init__(self, source: str | os.PathLike = "pattern", fps: float = 30.0,
                 size: tuple[int, int] | None = None, loop: bool = True):
        super().__init__()
        if not fps > 0:
            raise UserError(f"--fps {fps} must be above 0; use e.g. 30")
        self.source, self.fps, self.loop = source, float(fps), loop
        self.size = tuple(size) if size else None

    def start(self) -> "SimulatedCamera":
        if str(self.source) == "pattern":
            self._inner = PatternSource(self.size or (640, 360), self.fps)
        else:
            self._inner = FileSource(self.source, loop=self.loop)
        self._inner.start()
        self.size = self.size or self._inner.size
        self._start_thread("rtstyle-simcam")
        return self

    def read(self, timeout: float | None = None):
        wait = max(2.0, 3.0 / self.fps) if timeout is None else timeout
        try:
            return super().read(wait)
        except TimeoutError:
            raise UserError(f"simulated camera ({self.source}) delivered no frame within {wait:g} s; "
                            f"is the file decodable? (try --simulate pattern)") from None

    def _capture(self) -> None:
        period = 1.0 / self.fps
        due = time.perf_counter()
        try:
            while not self._halt.is_set():
                item = self._inner.read()
                if item is None:
                    return
                rgb = _resize(item[0], self.size)
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                elif now - due > period:  # fell behind (slow decode): do not burst to catch up
                    due = now
                self._slot.put((rgb, time.perf_counter()))
                due += period
        finally:
            self._inner.stop()


def available_cameras() -> list[str]:
    """Camera devices found here: /dev/video* on Linux; elsewhere the indices 0-4 that open."""
    if sys.platform.startswith("linux"):
        return sorted(glob.glob("/dev/video*"), key=lambda p: int(p[10:]) if p[10:].isdigit() else 999)
    found = []
    with _quiet_opencv():
        for i in range(5):
            cap = cv2.VideoCapture(i)
            if cap.isOpened():
                found.append(str(i))
            cap.release()
    return found


class _quiet_opencv:
    """Silence OpenCV's own warnings (it logs to stderr when a camera index does not exist)."""

    def __enter__(self):
        self._level = None
        log = getattr(getattr(cv2, "utils", None), "logging", None)
        if log is not None:
            self._level = log.getLogLevel()
            log.setLogLevel(log.LOG_LEVEL_ERROR)

    def __exit__(self, *exc):
        if self._level is not None:
            cv2.utils.logging.setLogLevel(self._level)


class CameraSource(_LiveSource):
    """A webcam (index 0, 1, ...) or a capture device / stream path, through OpenCV.

    ``width``/``height``/``fps`` are requests; the device may deliver something else (``size``
    and ``fps`` tell what it reports). Raises UserError when the camera cannot be opened or
    delivers no frame for ``timeout`` seconds.
    """

    def __init__(self, camera: int | str = 0, width: int | None = None, height: int | None = None,
                 fps: float | None = None, timeout: float = 2.0):
        super().__init__()
        if isinstance(camera, str) and camera.isdigit():
            camera = int(camera)
        self.camera, self.timeout = camera, timeout
        self._want = (width, height, fps)
        self._cap = None

    def _hint(self) -> str:
        cams = available_cameras()
        return (f"check `--camera` (available: {', '.join(cams) if cams else 'none found'}; "
                f"or test without one: --simulate pattern)")

    def start(self) -> "CameraSource":
        with _quiet_opencv():
            cap = cv2.VideoCapture(self.camera)
        if not cap.isOpened():
            cap.release()
            raise UserError(f"camera {self.camera} cannot be opened; {self._hint()}")
        w, h, fps = self._want
        if w and h:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, w)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, h)
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # we keep only the newest frame anyway
        got_w, got_h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.size = (got_w, got_h) if got_w and got_h else None
        self.fps = cap.get(cv2.CAP_PROP_FPS) or fps
        self._cap = cap
        self._start_thread("rtstyle-camera")
        return self

    def _capture(self) -> None:
        is_file = isinstance(self.camera, str) and os.path.isfile(self.camera)
        last_ok = time.perf_counter()
        while not self._halt.is_set():
            ok, bgr = self._cap.read()
            if ok and bgr is not None:
                t = time.perf_counter()
                self._slot.put((cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t))
                last_ok = t
                continue
            if is_file:
                return  # a video file given as a camera: its end is the end
            if time.perf_counter() - last_ok > self.timeout:
                if not self._slot.count:
                    raise UserError(f"camera {self.camera} did not deliver a frame within {self.timeout:g} s; "
                                    f"{self._hint()}")
                raise UserError(f"camera {self.camera} stopped delivering frames after {self._slot.count} "
                                f"(none for {self.timeout:g} s: unplugged, or in use by another program?); "
                                f"{self._hint()}", exit_code=1)
            time.sleep(0.005)

    def read(self, timeout: float | None = None):
        # The capture thread gives up after ``self.timeout`` s without a frame and says why
        # (never delivered / stopped mid-stream); waiting a little longer here lets its message win.
        wait = self.timeout + 1.0 if timeout is None else timeout
        try:
            return super().read(wait)
        except TimeoutError:
            raise UserError(f"camera {self.camera} did not deliver a frame within "
                            f"{wait:g} s; {self._hint()}") from None

    def stop(self) -> None:
        super().stop()
        if self._cap is not None:
            self._cap.release()
            self._cap = None


__all__ = ["Source", "FileSource", "FolderSource", "PatternSource", "SimulatedCamera", "CameraSource",
           "LatestFrame", "pattern_frame", "read_counter", "available_cameras"]
