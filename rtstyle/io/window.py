"""The window sink: frames on screen with an fps / latency / status overlay and hotkeys.

Toolkit: OpenCV's own windows when this OpenCV has a GUI backend (opencv-python, not -headless),
else pygame (``pip install 'rtstyle[gui]'``), else tkinter. The window lives in its own thread.
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

from .sinks import Sink

KEYS = {"n": "next", "p": "prev", "d": "depth", "c": "color", "+": "stronger", "=": "stronger", "-": "weaker",
        "_": "weaker", "s": "snapshot", "q": "quit", "\x1b": "quit"}
HELP = "keys: n/p style, +/- strength, d depth, c keep colours, s snapshot, q/Esc quit"


# -- toolkits ------------------------------------------------------------------------------------

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

    Keys: n/p next/previous style, d depth, c keep colours, +/- strength, s snapshot (PNG into
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
                    self._keep(rgb)
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

    def _keep(self, rgb) -> None:
        """Copy the frame for :meth:`snapshot` into a buffer of our own, before ``write`` returns:
        ``rgb`` may be a pinned GPU out-slot that is handed back (and overwritten by a later
        download) as soon as ``write`` returns."""
        if self._frame is None or self._frame.shape != rgb.shape or self._frame.dtype != rgb.dtype:
            self._frame = np.empty_like(rgb)
        np.copyto(self._frame, rgb)

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
