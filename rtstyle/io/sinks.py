"""Frame sinks: ``start()``, ``write(rgb, t=None) -> shown_at``, ``stop()``, and ``with`` blocks.

``rgb`` is (H, W, 3) uint8 RGB; ``t`` is the frame's capture time (``time.perf_counter()``) for
live sources, else None. ``write`` returns when the frame was shown (``perf_counter()``; None =
"now"), which is where capture-to-display latency ends. ``actions()`` drains the user's commands
(window hotkeys) for the live loop: ``next``, ``prev``, ``depth``, ``stronger``, ``weaker``,
``quit``. ``notify(text)`` shows a short message where the sink can (the window's overlay).

- :class:`FileSink`: H.264 file with the source's audio (rtstyle.io.video.VideoWriter).
- :class:`WindowSink`: an on-screen window with hotkeys and an fps overlay. Toolkit: OpenCV's
  own windows when this OpenCV has a GUI backend (opencv-python, not -headless), else pygame
  (``pip install 'rtstyle[gui]'``), else tkinter.
- :class:`VirtualCamSink`: a virtual webcam other programs can open (pyvirtualcam,
  ``pip install 'rtstyle[vcam]'``).
- :class:`NullSink`: shows nothing (``--no-display``); :class:`TeeSink`: several at once.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from rtstyle.errors import UserError

KEYS = {"n": "next", "p": "prev", "d": "depth", "+": "stronger", "=": "stronger", "-": "weaker",
        "_": "weaker", "s": "snapshot", "q": "quit", "\x1b": "quit"}
HELP = "keys: n/p style, +/- strength, d depth, s snapshot, q/Esc quit"


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
        from rtstyle.io.video import VideoWriter
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


# -- window ------------------------------------------------------------------------------------

def _opencv_has_gui() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return line.split(":", 1)[1].strip().upper() not in ("NONE", "NO", "")
    return False


def _importable(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


TOOLKITS = ("opencv", "pygame", "tk")
GUI_INSTALL = "pip install 'rtstyle[gui]' (pygame)"


def pick_toolkit(name: str = "auto") -> str:
    """The window toolkit to use: ``name``, or for ``auto`` the first of opencv (if this OpenCV
    has a GUI), pygame, tk that is usable. Raises UserError saying what to install."""
    usable = {"opencv": _opencv_has_gui(), "pygame": _importable("pygame"), "tk": _importable("tkinter")}
    if name == "auto":
        for tk in TOOLKITS:
            if usable[tk]:
                return tk
        raise UserError(f"no window toolkit: opencv-python-headless has no GUI and neither pygame nor "
                        f"tkinter imports; {GUI_INSTALL}, or run with --no-display")
    if name not in usable:
        raise UserError(f"unknown window toolkit {name!r}; choose auto, {', '.join(TOOLKITS)}")
    if not usable[name]:
        fix = {"opencv": "pip uninstall opencv-python-headless && pip install opencv-python",
               "pygame": GUI_INSTALL, "tk": "install Python with Tk (e.g. apt install python3-tk)"}[name]
        raise UserError(f"window toolkit {name!r} is not usable here; {fix}, or use --window auto")
    return name


class _CvWindow:
    def __init__(self, title, w, h):
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)

    def show(self, rgb):
        cv2.imshow(self.title, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def keys(self) -> list[str]:
        k = cv2.waitKey(1)
        out = [chr(k & 0xFF)] if k >= 0 else []
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            out.append("\x1b")  # the window was closed
        return out

    def close(self):
        cv2.destroyWindow(self.title)


class _PygameWindow:
    def __init__(self, title, w, h):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame
        self.pg = pygame
        pygame.display.init()
        pygame.display.set_caption(title)
        self.screen = pygame.display.set_mode((w, h))

    def show(self, rgb):
        h, w = rgb.shape[:2]
        if self.screen.get_size() != (w, h):
            self.screen = self.pg.display.set_mode((w, h))
        surf = self.pg.image.frombuffer(np.ascontiguousarray(rgb).data, (w, h), "RGB")
        self.screen.blit(surf, (0, 0))
        self.pg.display.flip()

    def keys(self) -> list[str]:
        out = []
        for ev in self.pg.event.get():
            if ev.type == self.pg.QUIT:
                out.append("\x1b")
            elif ev.type == self.pg.KEYDOWN:
                out.append("\x1b" if ev.key == self.pg.K_ESCAPE else (ev.unicode or ""))
        return out

    def close(self):
        self.pg.display.quit()


class _TkWindow:
    def __init__(self, title, w, h):
        import tkinter
        self.root = tkinter.Tk()
        self.root.title(title)
        self.photo = tkinter.PhotoImage(width=w, height=h)
        self.label = tkinter.Label(self.root, image=self.photo, borderwidth=0)
        self.label.pack()
        self._keys: list[str] = []
        self.root.bind("<Key>", lambda e: self._keys.append("\x1b" if e.keysym == "Escape" else e.char))
        self.root.protocol("WM_DELETE_WINDOW", lambda: self._keys.append("\x1b"))

    def show(self, rgb):
        h, w = rgb.shape[:2]
        ppm = b"P6 %d %d 255\n" % (w, h) + np.ascontiguousarray(rgb).tobytes()
        self.photo.configure(data=ppm, format="PPM", width=w, height=h)
        self.root.update()

    def keys(self) -> list[str]:
        self.root.update()
        out, self._keys = self._keys, []
        return out

    def close(self):
        self.root.destroy()


_WINDOWS = {"opencv": _CvWindow, "pygame": _PygameWindow, "tk": _TkWindow}


class WindowSink(Sink):
    """Shows frames in a window with an fps / latency / status overlay and hotkeys.

    Keys: n/p next/previous style, d depth, +/- strength, s snapshot (PNG into
    ``snapshot_dir``), q or Esc quit (closing the window too). The window lives in its own
    thread, which makes it, shows frames, pumps its events (so it stays responsive between slow
    frames) and closes it: toolkits must be used from one thread. ``write`` hands a frame over
    and returns once it is on screen. (On macOS, Cocoa wants windows on the main thread: there
    use --no-display with --virtual-cam.)
    """

    def __init__(self, title: str = "rtstyle", toolkit: str = "auto", overlay: bool = True,
                 snapshot_dir=".", log=print):
        self.title, self.toolkit, self.overlay = title, toolkit, overlay
        self.snapshot_dir, self.log = Path(snapshot_dir), log
        self._actions: queue.SimpleQueue = queue.SimpleQueue()
        self._frames: queue.Queue = queue.Queue(maxsize=1)
        self._status = ""
        self._note, self._note_until = "", 0.0
        self._fps, self._last = 0.0, None
        self._frame = None
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._error: BaseException | None = None
        self.frames = 0
        self.snapshots: list[Path] = []

    def start(self):
        self.toolkit = pick_toolkit(self.toolkit)
        if sys.platform.startswith("linux") and self.toolkit != "opencv" and not (
                os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UserError("no screen to open a window on ($DISPLAY is not set); run it on a desktop, "
                            "under xvfb-run, or with --no-display")
        self._halt.clear()
        self._thread = threading.Thread(target=self._gui, name="rtstyle-window", daemon=True)
        self._thread.start()
        return self

    def write(self, rgb, t=None):
        """Show ``rgb``; returns ``perf_counter()`` when it was on screen."""
        if self._thread is None:
            raise RuntimeError("WindowSink.write() before start()")
        done = [threading.Event(), None]
        while True:
            if self._error is not None:
                raise self._error
            if not self._thread.is_alive():
                raise RuntimeError("the window thread has stopped")
            try:
                self._frames.put((rgb, t, done), timeout=0.1)
                break
            except queue.Full:
                continue
        while not done[0].wait(0.1):
            if self._error is not None:
                raise self._error
            if not self._thread.is_alive():
                raise RuntimeError("the window thread has stopped")
        return done[1]

    def _gui(self) -> None:
        win = None
        try:
            while not self._halt.is_set():
                try:
                    rgb, t, done = self._frames.get(timeout=0.02)
                except queue.Empty:
                    rgb = None
                if rgb is not None:
                    now = time.perf_counter()
                    if self._last is not None:
                        dt = max(now - self._last, 1e-6)
                        self._fps = 1 / dt if self._fps == 0 else 0.9 * self._fps + 0.1 / dt
                    self._last = now
                    self._frame = rgb
                    img = self._draw(rgb, now - t if t is not None else None) if self.overlay else rgb
                    if win is None:
                        win = self._open(rgb.shape[1], rgb.shape[0])
                    win.show(img)
                    self.frames += 1
                    done[1] = time.perf_counter()
                    done[0].set()
                if win is not None:
                    for ch in win.keys():
                        self._key(ch)
        except BaseException as exc:  # raised in the writer's thread by write()
            self._error = exc
        finally:
            if win is not None:
                try:
                    win.close()
                except Exception as exc:  # closing after the display went away: say so, go on
                    self.log(f"window: closing failed ({type(exc).__name__}: {exc})")

    def _open(self, w, h):
        try:
            return _WINDOWS[self.toolkit](self.title, w, h)
        except Exception as exc:  # TclError, pygame.error, cv2.error: no usable display
            raise UserError(f"cannot open a {self.toolkit} window ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else 'no details'}); "
                            f"check $DISPLAY or run with --no-display") from exc

    def _key(self, ch: str) -> None:
        action = KEYS.get(ch.lower() if ch not in ("+", "-", "=", "_") else ch)
        if action is None:
            if ch and ch.isprintable():
                self.notify(HELP)
            return
        if action == "snapshot":
            self.snapshot()
        else:
            self._actions.put(action)

    def snapshot(self) -> Path | None:
        """Save the last frame shown (without overlay) as a PNG; returns its path."""
        if self._frame is None:
            return None
        from rtstyle.io.images import write_image
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.snapshot_dir / f"rtstyle-{stamp}-{len(self.snapshots) + 1}.png"
        write_image(path, self._frame)
        self.snapshots.append(path)
        self.notify(f"saved {path}")
        self.log(f"snapshot: {path}")
        return path

    def _draw(self, rgb, latency):
        img = rgb.copy()
        h, w = img.shape[:2]
        scale = max(0.45, min(w, h) / 720)
        thick = max(1, int(round(scale * 2)))
        lines = [f"{self._fps:4.1f} fps" + (f"  {1000 * latency:.0f} ms" if latency is not None else "")
                 + (f"  {self._status}" if self._status else "")]
        if self._note and time.perf_counter() < self._note_until:
            lines.append(self._note)
        y = 0
        for text in lines:
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            pad = max(2, th // 3)
            cv2.rectangle(img, (0, y), (min(w, tw + 2 * pad), y + th + base + 2 * pad), (0, 0, 0), -1)
            cv2.putText(img, text, (pad, y + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), thick, cv2.LINE_AA)
            y += th + base + 2 * pad
        return img

    def actions(self):
        out = []
        while True:
            try:
                out.append(self._actions.get_nowait())
            except queue.Empty:
                return out

    def notify(self, text):
        self._note, self._note_until = text, time.perf_counter() + 3.0

    def set_status(self, text):
        self._status = text

    def stop(self):
        if self._thread is not None:
            self._halt.set()
            self._thread.join(timeout=10)
            self._thread = None


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


__all__ = ["Sink", "NullSink", "TeeSink", "FileSink", "WindowSink", "VirtualCamSink", "pick_toolkit",
           "KEYS", "HELP"]
