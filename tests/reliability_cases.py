"""Every user mistake and fault rtstyle must handle, in one list: the input each case builds, the
command, and what must come out (exit code, the one stderr line, no half-written output).

Used by tests/test_reliability.py (each case is a test) and scripts/reliability_table.py (which
runs them and writes docs/reliability.md with the exact messages). A case's ``build(folder)``
makes its inputs in an empty folder and returns the argv; the command runs with that folder as the
working directory, so messages name short relative paths. ``run_case`` runs it in-process
through ``rtstyle.cli.main`` (stdout/stderr captured at the Python and the file-descriptor level,
so a C library writing to stderr would show), or as a real ``python -m rtstyle.cli`` process
where a case needs a signal (Ctrl-C).
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable
from unittest import mock

import cv2
import numpy as np

from conftest import make_video, tiny_frame

ROOT = Path(__file__).resolve().parent.parent
STYLE = ["--style", "mosaic"]
VIDEO_FLAGS = [*STYLE, "--no-progress"]


@dataclass(frozen=True)
class Case:
    """One row of docs/reliability.md.

    ``build(folder) -> argv``: writes the inputs; ``exit_code`` / ``message``: the expected status
    and a substring of the one stderr line (``message=None``: a success, which may print warnings);
    ``absent``: paths that must not exist afterwards; ``check(folder)``: asserts on a success's
    output (shape, frames); ``fault(folder)``: a context manager simulating a fault during the run;
    ``sigint_after``: run as a subprocess and send SIGINT once this file (glob) appears.
    """

    id: str
    what: str
    build: Callable[[Path], list[str]]
    exit_code: int
    message: str | None = None
    absent: tuple[str, ...] = ()
    check: Callable[[Path], None] | None = None
    checks: str = ""          # what ``check`` asserts, for the doc
    fault: Callable[[Path], contextlib.AbstractContextManager] | None = None
    sigint_after: str | None = None
    env: dict = field(default_factory=dict)


@dataclass
class Result:
    argv: list[str]
    code: int
    out: str
    err: str
    seconds: float
    before: set[str] = field(default_factory=set)   # files after building the inputs, before the run

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]


# -- inputs ------------------------------------------------------------------------------------

def _clip(folder: Path, name="clip.mp4", **kw) -> str:
    kw.setdefault("frames", 6)
    make_video(folder / name, **kw)
    return name


def _png(folder: Path, name: str, img: np.ndarray) -> str:
    assert cv2.imwrite(str(folder / name), img)
    return name


def _bgr(w=64, h=48, i=3) -> np.ndarray:
    return cv2.cvtColor(tiny_frame(i, w, h), cv2.COLOR_RGB2BGR)


def _giant_png(path: Path, w: int, h: int) -> None:
    """A valid w×h 8-bit grey PNG of zeros, written without holding the image (zlib of the rows)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + (zlib.crc32(kind + data) & 0xFFFFFFFF).to_bytes(4, "big"))
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    idat = zlib.compress(bytes((w + 1) * h), 1)   # each row: filter byte 0 + w zero pixels
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _vfr_clip(path: Path, stamps_ms: list[int]) -> None:
    """H.264 MP4 whose frames sit at ``stamps_ms`` (uneven gaps: a variable frame rate)."""
    import av
    out = av.open(str(path), "w", format="mp4")
    vs = out.add_stream("libx264", rate=30)
    vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
    vs.options = {"preset": "ultrafast"}
    vs.codec_context.time_base = Fraction(1, 1000)
    for i, t in enumerate(stamps_ms):
        f = av.VideoFrame.from_ndarray(tiny_frame(i), format="rgb24")
        f.pts, f.time_base = t, Fraction(1, 1000)
        out.mux(vs.encode(f))
    out.mux(vs.encode(None))
    out.close()


def _odd_clip(path: Path, w=63, h=47, frames=5) -> None:
    """H.264 4:4:4 MP4 of odd size (4:2:0 cannot be odd; phones' crops and screen recordings can)."""
    import av
    out = av.open(str(path), "w", format="mp4")
    vs = out.add_stream("libx264", rate=12)
    vs.width, vs.height, vs.pix_fmt = w, h, "yuv444p"
    vs.options = {"preset": "ultrafast"}
    for i in range(frames):
        out.mux(vs.encode(av.VideoFrame.from_ndarray(tiny_frame(i, w, h), format="rgb24").reformat(format="yuv444p")))
    out.mux(vs.encode(None))
    out.close()


def _mp3_with_cover(path: Path, seconds=0.5, rate=44100) -> None:
    """An MP3 song with album art: the art is a one-frame mjpeg 'video' stream (attached_pic)."""
    import av
    out = av.open(str(path), "w", format="mp3")
    a = out.add_stream("libmp3lame", rate=rate)
    a.layout = "mono"
    art = out.add_stream("mjpeg")
    art.width, art.height, art.pix_fmt = 32, 32, "yuvj420p"
    art.disposition = av.stream.Disposition.attached_pic
    pkt = av.Packet(cv2.imencode(".jpg", _bgr(32, 32))[1].tobytes())
    pkt.stream, pkt.pts, pkt.dts = art, 0, 0
    out.mux(pkt)
    n = int(seconds * rate)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.float32)
    for s in range(0, n, 1152):
        f = av.AudioFrame.from_ndarray(tone[None, s:s + 1152], format="flt", layout="mono")
        f.sample_rate, f.pts = rate, s
        out.mux(a.encode(f))
    out.mux(a.encode(None))
    out.close()


def _frames(path: Path) -> tuple[int, int, int, list[float]]:
    """(frames, width, height, frame times in s) of a video, by decoding it."""
    from rtstyle.io.video import VideoReader
    times, shape = [], None
    for rgb, t in VideoReader(path):
        times.append(t)
        shape = rgb.shape
    return len(times), shape[1], shape[0], times


# -- checks on successful outputs ------------------------------------------------------------------

def _image_is(name: str, w: int, h: int, alpha_from: str | None = None):
    def check(folder: Path) -> None:
        from rtstyle.io.images import read_image
        rgb, a = read_image(folder / name)
        assert rgb.shape == (h, w, 3), f"{name}: {rgb.shape}, want {(h, w, 3)}"
        if alpha_from is not None:
            _, src_alpha = read_image(folder / alpha_from)
            assert a is not None and np.array_equal(a, src_alpha), f"{name}: alpha not carried over"
    return check


def _video_is(name: str, frames: int, w: int, h: int, times: list[float] | None = None):
    def check(folder: Path) -> None:
        n, vw, vh, ts = _frames(folder / name)
        assert (n, vw, vh) == (frames, w, h), f"{name}: {n} frames {vw}x{vh}, want {frames} frames {w}x{h}"
        if times is not None:
            assert np.allclose(ts, times, atol=0.002), f"{name}: frame times {ts}, want {times}"
    return check


def _unchanged(name: str, data: bytes):
    def check(folder: Path) -> None:
        assert (folder / name).read_bytes() == data, f"{name} was modified"
    return check


# -- the cases ---------------------------------------------------------------------------------------

def _b_missing(d):
    return ["video", "missing.mp4", "out.mp4", *VIDEO_FLAGS]


def _b_folder(d):
    (d / "clips").mkdir()
    return ["video", "clips", "out.mp4", *VIDEO_FLAGS]


def _b_empty(d):
    (d / "empty.mp4").touch()
    return ["video", "empty.mp4", "out.mp4", *VIDEO_FLAGS]


def _cut(d, faststart: bool) -> str:
    full = make_video(d / "full.mp4", frames=24, audio=False, faststart=faststart, x264={"g": "6"})
    data = full.read_bytes()
    (d / "cut.mp4").write_bytes(data[: len(data) // 2])
    full.unlink()
    return "cut.mp4"


def _b_truncated(d):
    return ["video", _cut(d, True), "out.mp4", *VIDEO_FLAGS]


def _b_truncated_keep(d):
    return ["video", _cut(d, True), "out.mp4", *VIDEO_FLAGS, "--max-frames", "6"]


def _b_truncated_index(d):
    return ["video", _cut(d, False), "out.mp4", *VIDEO_FLAGS]


def _b_text(d):
    (d / "notes.mp4").write_text("this is a text file with a video extension\n")
    return ["video", "notes.mp4", "out.mp4", *VIDEO_FLAGS]


def _b_no_video_stream(d):
    return ["video", _clip(d, "voice.mp4", video=False), "out.mp4", *VIDEO_FLAGS]


def _b_audio_only(d):
    _mp3_with_cover(d / "song.mp3")
    return ["video", "song.mp3", "out.mp4", *VIDEO_FLAGS]


def _b_one_pixel(d):
    _png(d, "dot.png", np.array([[[30, 200, 10]]], np.uint8))
    return ["image", "dot.png", "-o", "out.png", *STYLE]


def _b_giant(d):
    _giant_png(d / "giant.png", 8192, 8192)
    return ["image", "giant.png", "-o", "out.png", *STYLE]


def _b_grey(d):
    _png(d, "grey.png", cv2.cvtColor(_bgr(), cv2.COLOR_BGR2GRAY))
    return ["image", "grey.png", "-o", "out.png", *STYLE]


def _b_alpha(d):
    a = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    _png(d, "sprite.png", np.dstack([_bgr(), a]))
    return ["image", "sprite.png", "-o", "out.png", *STYLE]


def _b_16bit(d):
    _png(d, "deep.png", _bgr().astype(np.uint16) * 257)
    return ["image", "deep.png", "-o", "out.png", *STYLE]


def _b_cmyk(d):
    from PIL import Image
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(d / "print.jpg")
    return ["image", "print.jpg", "-o", "out.png", *STYLE]


def _b_odd_image(d):
    _png(d, "odd.png", _bgr(33, 21))
    return ["image", "odd.png", "-o", "out.png", *STYLE]


def _b_odd_video(d):
    _odd_clip(d / "odd.mp4")
    return ["video", "odd.mp4", "out.mp4", *VIDEO_FLAGS]


VFR_MS = [0, 33, 67, 100, 200, 300, 400, 433, 467, 500, 700, 900]


def _b_vfr(d):
    _vfr_clip(d / "vfr.mp4", VFR_MS)
    return ["video", "vfr.mp4", "out.mp4", *VIDEO_FLAGS]


def _b_rotated(d):
    return ["video", _clip(d, "phone.mp4", rotation=90, frames=4), "out.mp4", *VIDEO_FLAGS]


def _b_unwritable(d):
    clip = _clip(d, audio=False)
    if os.geteuid() != 0:
        (d / "locked").mkdir(mode=0o555)
        return ["video", clip, "locked/out.mp4", *VIDEO_FLAGS]
    return ["video", clip, "/sys/rtstyle-out.mp4", *VIDEO_FLAGS]   # root writes anywhere else


def _b_no_folder(d):
    return ["video", _clip(d, audio=False), "renders/out.mp4", *VIDEO_FLAGS]


def _b_same(d):
    return ["video", _clip(d, audio=False), "./clip.mp4", *VIDEO_FLAGS, "--overwrite"]


def _b_exists(d):
    (d / "out.mp4").write_bytes(b"yesterday's render")
    return ["video", _clip(d, audio=False), "out.mp4", *VIDEO_FLAGS]


def _b_overwrite(d):
    (d / "out.mp4").write_bytes(b"yesterday's render")
    return ["video", _clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--overwrite"]


def _b_bad_ext(d):
    return ["video", _clip(d, audio=False), "out.avi", *VIDEO_FLAGS]


def _b_unknown_style(d):
    return ["video", _clip(d, audio=False), "out.mp4", "--style", "mosiac", "--no-progress"]


def _b_unknown_backend(d):
    return ["video", _clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--backend", "onnx"]


def _b_bad_max_frames(d):
    return ["video", _clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--max-frames", "0"]


def _b_bad_size(d):
    return ["video", _clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--size", "big"]


def _corrupt_weights(d):
    """A damaged copy of the mosaic weights that sorts first, on $RTSTYLE_WEIGHTS (see env)."""
    from rtstyle.weights import WEIGHTS_DIR
    w = d / "weights"
    w.mkdir()
    (w / "a-johnson-mosaic.json").write_text((WEIGHTS_DIR / "johnson-mosaic.json").read_text())
    data = (WEIGHTS_DIR / "johnson-mosaic.safetensors").read_bytes()
    (w / "a-johnson-mosaic.safetensors").write_bytes(data[: len(data) // 3])   # cut short: a broken download
    return ["video", _clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--model", "johnson"]


def _cache_with(d, damage: Callable[[Path], None]):
    """Export the mosaic net into ./cache (as a first run would), then ``damage`` the cached file."""
    from rtstyle.pipeline.stylizer import Stylizer
    with Stylizer("mosaic", backend="onnxruntime", cache_dir=d / "cache"):
        pass
    (onnx_file,) = (d / "cache").glob("*.onnx")
    damage(onnx_file)
    return ["video", _clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--backend", "onnxruntime"]


def _b_corrupt_cache(d):
    return _cache_with(d, lambda p: p.write_bytes(p.read_bytes()[:4096]))


def _b_foreign_cache(d):
    def foreign(p: Path) -> None:
        import onnx
        from onnx import TensorProto, helper
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
        g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "someone-elses", [x], [y])
        onnx.save(helper.make_model(g), str(p))
    return _cache_with(d, foreign)


def _b_no_camera(d):
    return ["webcam", *STYLE, "--camera", "9", "--no-display", "--max-frames", "3"]


def _b_camera_stops(d):
    return ["webcam", *STYLE, "--camera", "0", "--no-display", "--size", "64x48"]


class _CameraThatStops:
    """cv2.VideoCapture stand-in: a camera delivering ``frames`` frames at 30 fps, then nothing
    (as when it is unplugged)."""

    frames = 5

    def __init__(self, *a):
        self.n = 0

    def isOpened(self):
        return True

    def set(self, *a):
        return True

    def get(self, prop):
        return {cv2.CAP_PROP_FRAME_WIDTH: 64, cv2.CAP_PROP_FRAME_HEIGHT: 48, cv2.CAP_PROP_FPS: 30}.get(prop, 0)

    def read(self):
        time.sleep(1 / 30)
        self.n += 1
        return (True, _bgr(i=self.n)) if self.n <= self.frames else (False, None)

    def release(self):
        pass


def _f_camera_stops(d):
    return mock.patch("rtstyle.io.sources.cv2.VideoCapture", _CameraThatStops)


def _b_sigint(d):
    return ["video", _clip(d, "long.mp4", frames=900, audio=False), "out.mp4", *VIDEO_FLAGS]


def _b_disk_full(d):
    return ["video", _clip(d, frames=12), "out.mp4", *VIDEO_FLAGS]


class _FullDisk:
    """Wraps PyAV's output container: after ``ok`` muxed packets the disk is full (ENOSPC), as
    libavformat reports it."""

    def __init__(self, container, ok: int = 3):
        self._c, self._left = container, ok

    def mux(self, packets):
        if packets:
            if self._left <= 0:
                import av
                raise av.error.OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self._left -= 1
        return self._c.mux(packets)

    def __getattr__(self, name):
        return getattr(self._c, name)


def _f_disk_full(d):
    import av

    from rtstyle.io import video
    real_open = av.open

    def open_(file, mode="r", **kw):
        c = real_open(file, mode, **kw)
        return _FullDisk(c) if mode == "w" else c
    return mock.patch.object(video.av, "open", open_)


def _b_image_disk_full(d):
    _png(d, "photo.png", _bgr())
    return ["image", "photo.png", "-o", "out.png", *STYLE]


def _f_image_disk_full(d):
    """The image's bytes go to its temporary file, then the disk is full (ENOSPC) on the flush."""
    from rtstyle.files import atomic_write
    from rtstyle.io import images

    def write_then_full(tmp, write):
        write(tmp)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
    return mock.patch.object(images, "atomic_write",
                             lambda path, write: atomic_write(path, lambda tmp: write_then_full(tmp, write)))


def _b_gpu_oom(d):
    return ["video", _clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--backend", "torch"]


def _f_gpu_oom(d):
    import torch

    from rtstyle.backends.torch_backend import TorchBackend
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.19 GiB total "
                                      "capacity; 77.80 GiB already allocated)")
    return mock.patch.object(TorchBackend, "_run", side_effect=oom)


def _f_frame_raises(exc_factory):
    """Stylizer.frame (the whole per-frame step: resize, upload, net, download) raises."""
    def fault(d):
        from rtstyle.pipeline.stylizer import Stylizer
        return mock.patch.object(Stylizer, "frame", side_effect=exc_factory())
    return fault


def _cuda_oom():
    import torch
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 512.00 MiB")


CASES: list[Case] = [
    Case("missing-input", "input file does not exist", _b_missing, 2, "does not exist", ("out.mp4",)),
    Case("folder-as-input", "a folder given as the input file", _b_folder, 2, "is a folder", ("out.mp4",)),
    Case("empty-file", "empty (0-byte) input file", _b_empty, 2, "is empty (0 bytes)", ("out.mp4",)),
    Case("truncated-mp4", "truncated mp4 (first half of a 24-frame clip; its index is at the start)",
         _b_truncated, 2, "is truncated or damaged", ("out.mp4",)),
    Case("truncated-mp4-keep", "the same truncated mp4 with --max-frames inside the part that decodes",
         _b_truncated_keep, 0, None, check=_video_is("out.mp4", 6, 64, 48), checks="6 frames, 64x48"),
    Case("truncated-mp4-no-index", "truncated mp4 whose index (moov) was at the end: cut off",
         _b_truncated_index, 2, "FFmpeg cannot open it", ("out.mp4",)),
    Case("text-as-mp4", "a text file named .mp4", _b_text, 2, "FFmpeg cannot open it", ("out.mp4",)),
    Case("no-video-stream", "an .mp4 with an audio stream and no video stream", _b_no_video_stream, 2,
         "has no video stream (only audio)", ("out.mp4",)),
    Case("audio-only", "an audio-only file (.mp3 with album art, which is a one-picture 'video' stream)",
         _b_audio_only, 2, "has no video stream (only audio and a cover picture)", ("out.mp4",)),
    Case("image-1x1", "a 1x1 image", _b_one_pixel, 0, None, check=_image_is("out.png", 1, 1), checks="1x1 output"),
    Case("image-giant", "an extremely large image (8192x8192 PNG, 67 megapixels)", _b_giant, 2,
         "megapixel limit", ("out.png",)),
    Case("image-grey", "greyscale PNG", _b_grey, 0, None, check=_image_is("out.png", 64, 48),
         checks="64x48 RGB output"),
    Case("image-alpha", "PNG with an alpha channel", _b_alpha, 0, None,
         check=_image_is("out.png", 64, 48, alpha_from="sprite.png"), checks="64x48, alpha kept exactly"),
    Case("image-16bit", "16-bit PNG", _b_16bit, 0, None, check=_image_is("out.png", 64, 48),
         checks="64x48 8-bit output"),
    Case("image-cmyk", "CMYK JPEG", _b_cmyk, 0, None, check=_image_is("out.png", 40, 30), checks="40x30 RGB output"),
    Case("image-odd", "image of odd size (33x21)", _b_odd_image, 0, None, check=_image_is("out.png", 33, 21),
         checks="33x21 output"),
    Case("video-odd", "video of odd size (63x47, H.264 4:4:4)", _b_odd_video, 0, None,
         check=_video_is("out.mp4", 5, 64, 48),
         checks="5 frames; 64x48 (4:2:0 needs even sizes: one edge pixel added)"),
    Case("video-vfr", "variable frame rate (12 frames at uneven times 0..0.9 s)", _b_vfr, 0, None,
         check=_video_is("out.mp4", 12, 64, 48, [t / 1000 for t in VFR_MS]),
         checks="12 frames, 64x48, every frame at its source time (±2 ms)"),
    Case("video-rotated", "phone video stored landscape with a 90° display matrix", _b_rotated, 0, None,
         check=_video_is("out.mp4", 4, 48, 64), checks="4 frames, upright 48x64"),
    Case("output-unwritable", "output in a folder that cannot be written", _b_unwritable, 2, "cannot write",
         ("locked/out.mp4",)),
    Case("output-folder-missing", "output folder does not exist", _b_no_folder, 2, "does not exist; create it",
         ("renders",)),
    Case("output-is-input", "output equal to the input (even with --overwrite)", _b_same, 2, "is the input file"),
    Case("output-exists", "output exists, no --overwrite", _b_exists, 2, "pass --overwrite",
         check=_unchanged("out.mp4", b"yesterday's render"), checks="existing file untouched"),
    Case("output-overwrite", "output exists, with --overwrite", _b_overwrite, 0, None,
         check=_video_is("out.mp4", 6, 64, 48), checks="replaced by a 6-frame 64x48 video"),
    Case("output-extension", "output extension that is not a video container", _b_bad_ext, 2, "must end in .mp4",
         ("out.avi",)),
    Case("unknown-style", "unknown style (typo)", _b_unknown_style, 2, "did you mean 'mosaic'", ("out.mp4",)),
    Case("unknown-backend", "unknown backend", _b_unknown_backend, 2, "did you mean 'onnxruntime'", ("out.mp4",)),
    Case("bad-max-frames", "--max-frames 0", _b_bad_max_frames, 2, "must be at least 1", ("out.mp4",)),
    Case("bad-size", "--size that is not a size", _b_bad_size, 2, "is not a size", ("out.mp4",)),
    Case("corrupt-weights", "damaged weights file (cut short) on $RTSTYLE_WEIGHTS", _corrupt_weights, 1,
         "is damaged", ("out.mp4",), env={"RTSTYLE_WEIGHTS": "weights"}),
    Case("corrupt-onnx-cache", "damaged cached ONNX export (cut to 4 KiB)", _b_corrupt_cache, 0, None,
         check=_video_is("out.mp4", 6, 64, 48), checks="warning, re-exported; 6-frame output",
         env={"RTSTYLE_CACHE": "cache"}),
    Case("foreign-onnx-cache", "someone else's ONNX file under the cache name", _b_foreign_cache, 0, None,
         check=_video_is("out.mp4", 6, 64, 48), checks="warning, re-exported; 6-frame output",
         env={"RTSTYLE_CACHE": "cache"}),
    Case("camera-missing", "camera index that does not exist", _b_no_camera, 2, "camera 9 cannot be opened"),
    Case("camera-stops", "camera that stops delivering after 5 frames (simulated unplug)", _b_camera_stops, 1,
         "stopped delivering frames after 5", fault=_f_camera_stops),
    Case("ctrl-c", "Ctrl-C (SIGINT) to a real `rtstyle video` process mid-video", _b_sigint, 130,
         "interrupted (Ctrl-C)", ("out.mp4",), sigint_after=".out.*.part.mp4"),
    Case("disk-full", "disk full while writing (ENOSPC from the muxer after 3 packets, simulated)", _b_disk_full, 1,
         "the disk is full", ("out.mp4",), fault=_f_disk_full),
    Case("image-disk-full", "disk full while writing an image (ENOSPC on its temporary file, simulated)",
         _b_image_disk_full, 1, "the disk is full", ("out.png",), fault=_f_image_disk_full),
    Case("gpu-oom", "out of GPU memory in the network (torch.cuda.OutOfMemoryError, simulated)", _b_gpu_oom, 1,
         "out of GPU memory", ("out.mp4",), fault=_f_gpu_oom),
    Case("gpu-oom-outside-net", "out of GPU memory outside the network (e.g. frame upload; simulated)",
         _b_gpu_oom, 1, "out of GPU memory", ("out.mp4",), fault=_f_frame_raises(_cuda_oom)),
    Case("host-oom", "out of host memory (MemoryError, simulated)", _b_gpu_oom, 1, "out of memory (host RAM)",
         ("out.mp4",), fault=_f_frame_raises(lambda: MemoryError())),
]


# -- running -----------------------------------------------------------------------------------

@contextlib.contextmanager
def _captured():
    """Capture stdout/stderr of Python (sys.*) and of C code (file descriptors 1 and 2)."""
    py_out, py_err = io.StringIO(), io.StringIO()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    fd_out, fd_err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    os.dup2(fd_out.fileno(), 1)
    os.dup2(fd_err.fileno(), 2)
    got = {}
    try:
        with contextlib.redirect_stdout(py_out), contextlib.redirect_stderr(py_err):
            yield got
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        for f in (fd_out, fd_err):
            f.seek(0)
        got["out"] = py_out.getvalue() + fd_out.read().decode(errors="replace")
        got["err"] = py_err.getvalue() + fd_err.read().decode(errors="replace")
        fd_out.close()
        fd_err.close()


@contextlib.contextmanager
def _environment(folder: Path, env: dict):
    old_cwd, old_env = os.getcwd(), {k: os.environ.get(k) for k in env}
    os.chdir(folder)
    os.environ.update(env)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_sigint(case: Case, argv: list[str], folder: Path, env: dict) -> Result:
    penv = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    # preexec_fn: a shell without job control starts background commands (`bash .ci/run &`) with
    # SIGINT ignored, the child inherits that and Python then installs no KeyboardInterrupt handler.
    p = subprocess.Popen([sys.executable, "-m", "rtstyle.cli", *argv], cwd=folder, env=penv,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not list(folder.glob(case.sigint_after)):   # the temporary output: frames are being written
            if p.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    return Result(["rtstyle", *argv], p.returncode, out, err, time.perf_counter() - t0)


def run_case(case: Case, folder: Path, cache_dir: Path | None = None) -> Result:
    """Build ``case`` in ``folder`` (empty) and run it; ``cache_dir``: $RTSTYLE_CACHE unless the case sets it."""
    from rtstyle import cli
    env = {"RTSTYLE_CACHE": str(cache_dir)} if cache_dir else {}
    env.update(case.env)
    with _environment(folder, env):
        argv = case.build(folder)
    before = snapshot(folder)
    if case.sigint_after:
        result = _run_sigint(case, argv, folder, env)
    else:
        t0 = time.perf_counter()
        with _environment(folder, env), _captured() as got:
            with case.fault(folder) if case.fault else contextlib.nullcontext():
                code = cli.main(list(argv))
        result = Result(["rtstyle", *argv], code, got["out"], got["err"], time.perf_counter() - t0)
    result.before = before
    return result


def snapshot(folder: Path) -> set[str]:
    """Files under ``folder`` (relative), ignoring the cache and weights folders cases set up."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and p.relative_to(folder).parts[0] not in ("cache", "weights")}


def problems(case: Case, result: Result, folder: Path) -> list[str]:
    """What is wrong with ``result`` for ``case`` (empty: as expected)."""
    bad = []
    if result.code != case.exit_code:
        bad.append(f"exit code {result.code}, want {case.exit_code}")
    if "Traceback" in result.err:
        bad.append("a traceback on stderr")
    if case.message is not None:
        lines = result.err_lines
        if len(lines) != 1:
            bad.append(f"{len(lines)} stderr lines, want exactly 1: {lines}")
        if case.message not in result.err:
            bad.append(f"stderr lacks {case.message!r}: {result.err.strip()!r}")
        new = snapshot(folder) - result.before
        if new:
            bad.append(f"files left behind: {sorted(new)}")
    for rel in case.absent:
        if (folder / rel).exists():
            bad.append(f"{rel} exists afterwards")
    leftovers = [p.name for p in folder.rglob("*") if ".part" in p.name or p.name.endswith(".tmp")]
    if leftovers:
        bad.append(f"temporary files left: {leftovers}")
    if case.check is not None and not bad:
        try:
            case.check(folder)
        except AssertionError as exc:
            bad.append(f"output check failed: {exc}")
    return bad


__all__ = ["CASES", "Case", "Result", "run_case", "problems", "snapshot"]
