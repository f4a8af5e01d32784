"""Live sources: a camera (OpenCV) or a simulated one, captured in their own thread.

Each captures at the device's pace into a :class:`LatestFrame` slot: a frame nobody read before
the next one arrived is dropped (counted in ``dropped``), so a slow consumer gets fresh frames,
not a growing backlog. ``t`` is ``time.perf_counter()`` at capture. Re-exported by
rtstyle.io.sources.
"""
from __future__ import annotations

import glob
import os
import sys
import threading
import time

import cv2

from rtstyle.errors import UserError

from .sources import FileSource, PatternSource, Source, resize_frame

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
                rgb = resize_frame(item[0], self.size)
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
