"""Sources and sinks: synthetic/file/folder/camera sources, file/window/virtual-camera sinks."""
import os
import shutil
import struct
import subprocess
import sys
import time
import types

import cv2
import numpy as np
import pytest

from conftest import TINY_FPS, TINY_FRAMES, TINY_H, TINY_W, tiny_frame
from rtstyle.pipeline import loop as pipeline
from rtstyle.errors import UserError
from rtstyle.io import sources, window
from rtstyle.io.camera import CameraSource, SimulatedCamera
from rtstyle.io.sinks import FileSink, NullSink, VirtualCamSink
from rtstyle.io.sources import FileSource, FolderSource, PatternSource, pattern_frame, read_counter
from rtstyle.io.window import WindowSink
from rtstyle.io.video import VideoReader, probe


@pytest.mark.parametrize("size", [(64, 48), (640, 360)])
def test_pattern_counter_reads_back(size):
    for i in (0, 1, 5, 77, 1000, 4095):
        assert read_counter(pattern_frame(i, *size)) == i
    assert not np.array_equal(pattern_frame(3, *size), pattern_frame(4, *size))


def test_synthetic_source_to_file_sink_is_frame_exact(tmp_path):
    out = tmp_path / "pattern.mp4"
    n = 20
    # crf 0: lossless H.264, so only RGB -> YUV 4:2:0 (chroma at half resolution) loses anything
    with PatternSource((TINY_W, TINY_H), fps=12, frames=n) as src, FileSink(out, 12, crf=0) as sink:
        times = pipeline.run((rgb for rgb, _t in src), lambda x: x, sink.write)
    assert times.frames == n
    assert probe(out).frame_count == n
    got = [rgb for rgb, _ in VideoReader(out)]
    assert [read_counter(g) for g in got] == list(range(n))
    for i, g in enumerate(got):
        diff = [np.abs(g.astype(int) - pattern_frame(j, TINY_W, TINY_H)).mean() for j in (i - 1, i, i + 1)]
        assert diff[1] < 10 and diff[1] < min(diff[0], diff[2]), f"frame {i}: mean differences {diff}"


def test_file_source_reads_every_frame_and_loops(tiny_video):
    with FileSource(tiny_video) as src:
        items = list(src)
        assert src.size == (TINY_W, TINY_H) and src.fps == TINY_FPS and not src.live
    assert len(items) == TINY_FRAMES
    assert items[0][0].shape == (TINY_H, TINY_W, 3) and items[0][0].dtype == np.uint8
    assert [t for _, t in items] == pytest.approx([i / TINY_FPS for i in range(TINY_FRAMES)])
    with FileSource(tiny_video, loop=True) as src:
        ts = [src.read()[1] for _ in range(TINY_FRAMES + 3)]
    assert all(b > a for a, b in zip(ts, ts[1:])), "looping must keep time growing"


def test_file_sink_keeps_audio(tmp_path, tiny_video):
    out = tmp_path / "copy.mp4"
    with FileSource(tiny_video) as src, FileSink(out, src.fps, audio_from=tiny_video) as sink:
        for rgb, t in src:
            sink.write(rgb, t)
    info = probe(out)
    assert info.has_audio and info.frame_count == TINY_FRAMES


def test_file_sink_leaves_nothing_on_error(tmp_path):
    out = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError):
        with FileSink(out, 12) as sink:
            sink.write(pattern_frame(0, TINY_W, TINY_H))
            raise RuntimeError("stage failed")
    assert not out.exists() and not list(tmp_path.glob(".broken*"))


def test_folder_source_resizes_to_first_image(tmp_path):
    for i, (w, h) in enumerate([(64, 48), (32, 20), (80, 60)]):
        cv2.imwrite(str(tmp_path / f"{i}.png"), cv2.cvtColor(tiny_frame(i, w, h), cv2.COLOR_RGB2BGR))
    with FolderSource(tmp_path, fps=10) as src:
        items = list(src)
    assert [rgb.shape for rgb, _ in items] == [(48, 64, 3)] * 3
    assert [t for _, t in items] == pytest.approx([0, 0.1, 0.2])
    assert items[0][0][0, 0, 1] == 255  # the green quarter: RGB order kept
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="has no images"):
        FolderSource(empty).start()


def test_simulated_camera_paces_in_real_time_and_drops_stale_frames():
    with SimulatedCamera("pattern", fps=50, size=(TINY_W, TINY_H)) as cam:
        assert cam.live
        rgb, t0 = cam.read()
        assert rgb.shape == (TINY_H, TINY_W, 3) and abs(time.perf_counter() - t0) < 0.5
        time.sleep(0.3)  # a slow consumer: ~15 frames arrive meanwhile
        rgb2, t1 = cam.read()
        assert time.perf_counter() - t1 < 0.1, "read must hand out a fresh frame, not the oldest"
        assert read_counter(rgb2) - read_counter(rgb) >= 8
        assert cam.dropped >= 7
        counts = [read_counter(cam.read()[0]) for _ in range(5)]
    assert all(b > a for a, b in zip(counts, counts[1:]))
    assert 12 <= cam.captured <= 40


def test_simulated_camera_from_file(tiny_video):
    with SimulatedCamera(tiny_video, fps=100, size=(32, 24)) as cam:
        frames = [cam.read() for _ in range(TINY_FRAMES + 4)]  # loops past the end
    assert all(f is not None and f[0].shape == (24, 32, 3) for f in frames)


def test_missing_camera_is_one_line_user_error():
    with pytest.raises(UserError) as e:
        CameraSource(57).start()
    msg = str(e.value)
    assert "camera 57" in msg and "--camera" in msg and "available:" in msg and "\n" not in msg


def test_silent_camera_times_out_with_user_error(monkeypatch):
    class Silent:
        def __init__(self, *a):
            pass

        def isOpened(self):
            return True

        def set(self, *a):
            return True

        def get(self, prop):
            return 0

        def read(self):
            time.sleep(0.01)
            return False, None

        def release(self):
            pass

    monkeypatch.setattr(sources.cv2, "VideoCapture", Silent)
    with CameraSource(3, timeout=0.2) as cam:
        with pytest.raises(UserError, match=r"camera 3 did not deliver a frame within 0.2 s; check `--camera`"):
            cam.read()


def test_camera_source_on_a_video_path_gives_rgb(tiny_video):
    with CameraSource(str(tiny_video)) as cam:
        rgb, t = cam.read()
    assert rgb.shape == (TINY_H, TINY_W, 3)
    r, g, b = rgb[: TINY_H // 4, : TINY_W // 4].reshape(-1, 3).mean(0)
    assert g > 200 and b < 60, "top-left of the test card is green: frames must be RGB"


# -- virtual camera ----------------------------------------------------------------------------

class FakeCamera:
    """Records what pyvirtualcam.Camera is given (the real one needs v4l2loopback / OBS)."""

    made: list = []

    def __init__(self, width, height, fps, *, fmt=None, device=None, backend=None, **kw):
        self.width, self.height, self.fps, self.fmt = width, height, fps, fmt
        self.device, self.backend = device or "/dev/video9", backend or "fake"
        self.frames, self.sleeps, self.closed = [], 0, False
        FakeCamera.made.append(self)

    def send(self, frame):
        assert frame.shape == (self.height, self.width, 3) and frame.dtype == np.uint8
        self.frames.append(frame.copy())

    def sleep_until_next_frame(self):
        self.sleeps += 1

    def close(self):
        self.closed = True


def _fake_pyvirtualcam(camera_cls):
    mod = types.ModuleType("pyvirtualcam")
    mod.Camera = camera_cls
    mod.PixelFormat = types.SimpleNamespace(RGB="RGB", BGR="BGR")
    return mod


def test_virtual_cam_sink_sends_rgb_at_fps(monkeypatch):
    FakeCamera.made = []
    monkeypatch.setitem(sys.modules, "pyvirtualcam", _fake_pyvirtualcam(FakeCamera))
    frames = [pattern_frame(i, TINY_W, TINY_H) for i in range(4)]
    with VirtualCamSink(fps=25, log=lambda s: None) as sink:
        for f in frames:
            assert sink.write(f) <= time.perf_counter()
        sink.write(pattern_frame(9, 128, 96))  # another size: resized to the camera's
    cam, = FakeCamera.made
    assert (cam.width, cam.height, cam.fps, cam.fmt) == (TINY_W, TINY_H, 25.0, "RGB")
    assert all(np.array_equal(a, b) for a, b in zip(cam.frames, frames)), "frames go out as RGB, unchanged"
    assert len(cam.frames) == 5 and read_counter(cam.frames[4]) == 9
    assert cam.sleeps == 5 and cam.closed


def test_virtual_cam_without_backend_says_what_to_install(monkeypatch):
    def no_device(*a, **k):
        raise RuntimeError("'v4l2loopback' backend: No v4l2 loopback device found at /dev/video[0-99].")

    monkeypatch.setitem(sys.modules, "pyvirtualcam", _fake_pyvirtualcam(no_device))
    with pytest.raises(UserError) as e:
        VirtualCamSink(size=(64, 48)).start()
    msg = str(e.value)
    assert "modprobe v4l2loopback" in msg and "OBS" in msg and "\n" not in msg
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # not installed
    with pytest.raises(UserError, match=r"pip install 'rtstyle\[vcam\]'"):
        VirtualCamSink().start()


# -- window ------------------------------------------------------------------------------------

def test_no_toolkit_names_the_install(monkeypatch):
    monkeypatch.setattr(window, "_opencv_has_gui", lambda: False)
    monkeypatch.setattr(window, "_importable", lambda name: False)
    with pytest.raises(UserError, match=r"pip install 'rtstyle\[gui\]'.*--no-display"):
        WindowSink().start()


def test_window_without_display_is_user_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(window, "_opencv_has_gui", lambda: False)
    if sys.platform.startswith("linux"):
        with pytest.raises(UserError, match="--no-display"):
            WindowSink(toolkit="auto").start()


def test_window_keys_become_actions_and_snapshots(tmp_path):
    sink = WindowSink(snapshot_dir=tmp_path, log=lambda s: None)
    sink._frame = pattern_frame(7, TINY_W, TINY_H)
    for ch in "npd+-=_qx\x1bN":
        sink._key(ch)
    assert sink.actions() == ["next", "prev", "depth", "stronger", "weaker", "stronger", "weaker", "quit",
                              "quit", "next"]
    assert sink.actions() == []
    sink._key("s")
    png, = tmp_path.glob("rtstyle-*.png")
    assert read_counter(cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)) == 7


def test_overlay_draws_fps_and_leaves_the_frame_alone():
    sink = WindowSink()
    rgb = np.full((120, 160, 3), 128, np.uint8)
    sink.set_status("mosaic")
    img = sink._draw(rgb, 0.05)
    assert (img[:10, :40] != 128).any() and (img[-20:, -20:] == 128).all()
    assert (rgb == 128).all()


XVFB_HINT = "needs Xvfb: apt-get install xvfb"


@pytest.fixture
def xvfb(tmp_path, monkeypatch):
    """A virtual X screen (320x240x24) whose framebuffer Xvfb keeps as an XWD file."""
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip(XVFB_HINT)
    r, w = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(w), "-screen", "0", "320x240x24", "-fbdir", str(tmp_path),
                             "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        with os.fdopen(r) as f:
            num = f.readline().strip()
        if not num:
            pytest.skip("Xvfb did not start")
        monkeypatch.setenv("DISPLAY", f":{num}")
        monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
        yield tmp_path / "Xvfb_screen0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def read_xwd(path) -> np.ndarray:
    """Screenshot (H, W, 3) uint8 RGB from an XWD file (Xvfb's -fbdir framebuffer)."""
    data = open(path, "rb").read()
    for order in (">", "<"):
        head = struct.unpack(order + "25I", data[:100])
        if head[1] == 7:  # XWD version
            break
    size, (w, h), bo, bpp, bpl = head[0], head[4:6], head[7], head[11], head[12]
    masks, ncolors = head[14:17], head[19]
    assert bpp == 32, f"expected a 32-bit framebuffer, got {bpp}"
    start = size + 12 * ncolors
    px = np.frombuffer(data, "<u4" if bo == 0 else ">u4", count=h * bpl // 4, offset=start)
    px = px.reshape(h, bpl // 4)[:, :w]
    out = np.empty((h, w, 3), np.uint8)
    for c, m in enumerate(masks):
        shift = (m & -m).bit_length() - 1
        out[..., c] = (px & m) >> shift
    return out


@pytest.mark.parametrize("toolkit", ["pygame", "tk"])
def test_window_sink_draws_under_xvfb(xvfb, toolkit, tmp_path):
    if not window._importable({"tk": "tkinter"}.get(toolkit, toolkit)):
        pytest.skip(f"{toolkit} is not installed: pip install 'rtstyle[gui]' (pygame); tkinter comes with Python's Tk")
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:, :40] = (255, 0, 0)
    frame[:, 40:] = (0, 0, 255)
    sink = WindowSink(toolkit=toolkit, overlay=False)
    with sink:
        for _ in range(5):
            sink.write(frame)
            time.sleep(0.05)
        shot = read_xwd(xvfb)
        assert sink.actions() == []
    red = np.all(shot == (255, 0, 0), axis=-1).sum()
    blue = np.all(shot == (0, 0, 255), axis=-1).sum()
    assert red >= 0.9 * 40 * 60 and blue >= 0.9 * 40 * 60, f"red {red}, blue {blue} pixels on screen"
    ys, xs = np.nonzero(np.all(shot == (255, 0, 0), axis=-1))
    assert xs.max() < np.nonzero(np.all(shot == (0, 0, 255), axis=-1))[1].min(), "red left of blue (RGB order)"


def test_null_sink_counts():
    s = NullSink()
    for i in range(3):
        s.write(pattern_frame(i, 8, 8))
    assert s.frames == 3
