"""Frame sinks: ``start()``, ``write(rgb, t=None) -> shown_at``, ``stop()``, and ``with`` blocks.

``rgb`` is (H, W, 3) uint8 RGB; ``t`` is the frame's capture time (``time.perf_counter()``) for
live sources, else None. ``write`` returns when the frame was shown (``perf_counter()``; None =
"now"), which is where capture-to-display latency ends. ``actions()`` drains the user's commands
(window hotkeys) for the live loop: ``next``, ``prev``, ``depth``, ``stronger``, ``weaker``,
``quit``. ``notify(text)`` shows a short message where the sink can (the window's overlay).

- :class:`FileSink`: H.264 file with the source's audio (rtstyle.io.video_writer.VideoWriter).
- :class:`WindowSink` (rtstyle.io.window, re-exported here): an on-screen window with hotkeys
  and an fps overlay.
- :class:`VirtualCamSink`: a virtual webcam other programs can open (pyvirtualcam,
  ``pip install 'rtstyle[vcam]'``).
- :class:`NullSink`: shows nothing (``--no-display``); :class:`TeeSink`: several at once.
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from rtstyle.errors import UserError



class Sink:
    """Base sink: accepts frames, has no user commands."""

    def start(self) -> "Sink":
        return self

    def write(self, rgb: np.ndarray, t: float | None = None) -> float | None:
        raise NotImplementedError

    def stop(self) -> None:
        pass

    def actions(self) -> list[str]:
        return []

    def notify(self, text: str) -> None:
        pass

    def set_status(self, text: str) -> None:
        pass

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()


class NullSink(Sink):
    """Discards frames (counts them): for --no-display and measurements."""

    def __init__(self):
        self.frames = 0

    def write(self, rgb, t=None):
        self.frames += 1
        return None


class TeeSink(Sink):
    """Writes every frame to each sink in turn; returns the first sink's show time."""

    def __init__(self, *sinks: Sink):
        self.sinks = list(sinks)

    def start(self):
        started = []
        try:
            for s in self.sinks:
                started.append(s.start())
        except BaseException:
            for s in reversed(started):
                s.stop()
            raise
        return self

    def write(self, rgb, t=None):
        shown = [s.write(rgb, t) for s in self.sinks]
        return shown[0] if shown else None

    def stop(self):
        for s in self.sinks:
            s.stop()

    def actions(self):
        return [a for s in self.sinks for a in s.actions()]

    def notify(self, text):
        for s in self.sinks:
            s.notify(text)

    def set_status(self, text):
        for s in self.sinks:
            s.set_status(text)


class FileSink(Sink):
    """An H.264 video file (see VideoWriter): frame i gets time i/fps; audio is copied from
    ``audio_from`` (cut at ``audio_until`` s). ``size`` (W, H) defaults to the first frame's.
    The file appears only after ``stop()``; leaving a ``with`` block by an exception deletes it."""

    def __init__(self, path, fps, size: tuple[int, int] | None = None, audio_from=None,
                 audio_until: float | None = None, codec: str = "libx264", crf: int = 20,
                 preset: str = "veryfast"):
        self.path, self.fps, self.size = Path(path), fps, size
        self._kw = dict(audio_from=audio_from, audio_until=audio_until, codec=codec, crf=crf, preset=preset)
        self._writer = None

    def _open(self, size):
        from rtstyle.io.video_writer import VideoWriter
        self._writer = VideoWriter(self.path, self.fps, size, **self._kw).start()

    def start(self):
        if self.size is not None:
            self._open(self.size)
        return self

    def write(self, rgb, t=None):
        if self._writer is None:
            self.size = (rgb.shape[1], rgb.shape[0])
            self._open(self.size)
        self._writer.write(rgb)
        return None

    @property
    def frames_written(self) -> int:
        return self._writer.frames_written if self._writer is not None else 0

    def stop(self):
        if self._writer is not None:
            self._writer.stop()

    def abort(self):
        if self._writer is not None:
            self._writer.abort()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.abort()


# -- virtual camera ----------------------------------------------------------------------------

VCAM_HINT = ("on Linux load v4l2loopback (sudo modprobe v4l2loopback devices=1); on Windows or macOS "
             "install OBS Studio and start its Virtual Camera once")


class VirtualCamSink(Sink):
    """Sends frames to a virtual webcam (pyvirtualcam): v4l2loopback on Linux, OBS Virtual Camera
    on Windows/macOS. The camera opens at the first frame's size (or ``size``); later frames of
    another size are resized to it. ``write`` paces to ``fps`` (pyvirtualcam's
    ``sleep_until_next_frame``) after the frame is handed over."""

    def __init__(self, fps: float = 30.0, size: tuple[int, int] | None = None, device: str | None = None,
                 backend: str | None = None, log=print):
        self.fps, self.size, self.device, self.backend, self.log = fps, size, device, backend, log
        self._cam = None
        self._mod = None

    def start(self):
        try:
            import pyvirtualcam
        except ImportError as exc:
            raise UserError("--virtual-cam needs pyvirtualcam: pip install 'rtstyle[vcam]'; "
                            + VCAM_HINT) from exc
        self._mod = pyvirtualcam
        if self.size is not None:
            self._open(self.size)
        return self

    def _open(self, size):
        try:
            self._cam = self._mod.Camera(int(size[0]), int(size[1]), float(self.fps),
                                         fmt=self._mod.PixelFormat.RGB, device=self.device,
                                         backend=self.backend)
        except RuntimeError as exc:
            why = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise UserError(f"no virtual camera to send to ({why}); {VCAM_HINT}") from exc
        self.size = (int(size[0]), int(size[1]))
        self.log(f"virtual camera: {self._cam.device} ({self._cam.backend}), {self.size[0]}x{self.size[1]} "
                 f"@ {self.fps:g} fps")

    def write(self, rgb, t=None):
        if self._mod is None:
            raise RuntimeError("VirtualCamSink.write() before start()")
        if self._cam is None:
            self._open((rgb.shape[1], rgb.shape[0]))
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        self._cam.send(np.ascontiguousarray(rgb))
        shown = time.perf_counter()
        self._cam.sleep_until_next_frame()
        return shown

    def stop(self):
        if self._cam is not None:
            self._cam.close()
            self._cam = None
