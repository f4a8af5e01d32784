"""Every user mistake and fault rtstyle must handle, in one list: the input each case builds, the
command, and what must come out (exit code, the one stderr line, no half-written output).

Used by tests/test_reliability.py (each case is a test) and scripts/reliability_table.py (which
runs them and writes docs/reliability.md with the exact messages). A case's ``build(folder)``
makes its inputs in an empty folder and returns the argv; the command runs with that folder as the
working directory, so messages name short relative paths. How a case runs and is judged:
tests/reliability_harness.py.
"""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Callable
from unittest import mock

import cv2
import numpy as np

from conftest import make_video
from reliability_harness import Case
from reliability_inputs import (bgr, clip, giant_png, image_is, mp3_with_cover, odd_clip, png, unchanged,
                               vfr_clip, video_is)

STYLE = ["--style", "mosaic"]
VIDEO_FLAGS = [*STYLE, "--no-progress"]


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
    return ["video", clip(d, "voice.mp4", video=False), "out.mp4", *VIDEO_FLAGS]


def _b_audio_only(d):
    mp3_with_cover(d / "song.mp3")
    return ["video", "song.mp3", "out.mp4", *VIDEO_FLAGS]


def _b_one_pixel(d):
    png(d, "dot.png", np.array([[[30, 200, 10]]], np.uint8))
    return ["image", "dot.png", "-o", "out.png", *STYLE]


def _b_giant(d):
    giant_png(d / "giant.png", 8192, 8192)
    return ["image", "giant.png", "-o", "out.png", *STYLE]


def _b_grey(d):
    png(d, "grey.png", cv2.cvtColor(bgr(), cv2.COLOR_BGR2GRAY))
    return ["image", "grey.png", "-o", "out.png", *STYLE]


def _b_alpha(d):
    a = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    png(d, "sprite.png", np.dstack([bgr(), a]))
    return ["image", "sprite.png", "-o", "out.png", *STYLE]


def _b_16bit(d):
    png(d, "deep.png", bgr().astype(np.uint16) * 257)
    return ["image", "deep.png", "-o", "out.png", *STYLE]


def _b_cmyk(d):
    from PIL import Image
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(d / "print.jpg")
    return ["image", "print.jpg", "-o", "out.png", *STYLE]


def _b_odd_image(d):
    png(d, "odd.png", bgr(33, 21))
    return ["image", "odd.png", "-o", "out.png", *STYLE]


def _b_odd_video(d):
    odd_clip(d / "odd.mp4")
    return ["video", "odd.mp4", "out.mp4", *VIDEO_FLAGS]


VFR_MS = [0, 33, 67, 100, 200, 300, 400, 433, 467, 500, 700, 900]


def _b_vfr(d):
    vfr_clip(d / "vfr.mp4", VFR_MS)
    return ["video", "vfr.mp4", "out.mp4", *VIDEO_FLAGS]


def _b_rotated(d):
    return ["video", clip(d, "phone.mp4", rotation=90, frames=4), "out.mp4", *VIDEO_FLAGS]


def _b_unwritable(d):
    name = clip(d, audio=False)
    if os.geteuid() != 0:
        (d / "locked").mkdir(mode=0o555)
        return ["video", name, "locked/out.mp4", *VIDEO_FLAGS]
    return ["video", name, "/sys/rtstyle-out.mp4", *VIDEO_FLAGS]   # root writes anywhere else


def _b_no_folder(d):
    return ["video", clip(d, audio=False), "renders/out.mp4", *VIDEO_FLAGS]


def _b_same(d):
    return ["video", clip(d, audio=False), "./clip.mp4", *VIDEO_FLAGS, "--overwrite"]


def _b_exists(d):
    (d / "out.mp4").write_bytes(b"yesterday's render")
    return ["video", clip(d, audio=False), "out.mp4", *VIDEO_FLAGS]


def _b_overwrite(d):
    (d / "out.mp4").write_bytes(b"yesterday's render")
    return ["video", clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--overwrite"]


def _b_bad_ext(d):
    return ["video", clip(d, audio=False), "out.avi", *VIDEO_FLAGS]


def _b_unknown_style(d):
    return ["video", clip(d, audio=False), "out.mp4", "--style", "mosiac", "--no-progress"]


def _b_unknown_backend(d):
    return ["video", clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--backend", "onnx"]


def _b_bad_max_frames(d):
    return ["video", clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--max-frames", "0"]


def _b_bad_size(d):
    return ["video", clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--size", "big"]


def _corrupt_weights(d):
    """A damaged copy of the mosaic weights that sorts first, on $RTSTYLE_WEIGHTS (see env)."""
    from rtstyle.weights import WEIGHTS_DIR
    w = d / "weights"
    w.mkdir()
    (w / "a-johnson-mosaic.json").write_text((WEIGHTS_DIR / "johnson-mosaic.json").read_text())
    data = (WEIGHTS_DIR / "johnson-mosaic.safetensors").read_bytes()
    (w / "a-johnson-mosaic.safetensors").write_bytes(data[: len(data) // 3])   # cut short: a broken download
    return ["video", clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--model", "johnson"]


def _cache_with(d, damage: Callable[[Path], None]):
    """Export the mosaic net into ./cache (as a first run would), then ``damage`` the cached file."""
    from rtstyle.pipeline.stylizer import Stylizer
    with Stylizer("mosaic", backend="onnxruntime", cache_dir=d / "cache"):
        pass
    (onnx_file,) = (d / "cache").glob("*.onnx")
    damage(onnx_file)
    return ["video", clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--backend", "onnxruntime"]


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
        return (True, bgr(i=self.n)) if self.n <= self.frames else (False, None)

    def release(self):
        pass


def _f_camera_stops(d):
    return mock.patch("rtstyle.io.sources.cv2.VideoCapture", _CameraThatStops)


def _b_sigint(d):
    return ["video", clip(d, "long.mp4", frames=900, audio=False), "out.mp4", *VIDEO_FLAGS]


def _b_disk_full(d):
    return ["video", clip(d, frames=12), "out.mp4", *VIDEO_FLAGS]


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
    png(d, "photo.png", bgr())
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
    return ["video", clip(d, audio=False), "out.mp4", *VIDEO_FLAGS, "--backend", "torch"]


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
         _b_truncated_keep, 0, None, check=video_is("out.mp4", 6, 64, 48), checks="6 frames, 64x48"),
    Case("truncated-mp4-no-index", "truncated mp4 whose index (moov) was at the end: cut off",
         _b_truncated_index, 2, "FFmpeg cannot open it", ("out.mp4",)),
    Case("text-as-mp4", "a text file named .mp4", _b_text, 2, "FFmpeg cannot open it", ("out.mp4",)),
    Case("no-video-stream", "an .mp4 with an audio stream and no video stream", _b_no_video_stream, 2,
         "has no video stream (only audio)", ("out.mp4",)),
    Case("audio-only", "an audio-only file (.mp3 with album art, which is a one-picture 'video' stream)",
         _b_audio_only, 2, "has no video stream (only audio and a cover picture)", ("out.mp4",)),
    Case("image-1x1", "a 1x1 image", _b_one_pixel, 0, None, check=image_is("out.png", 1, 1), checks="1x1 output"),
    Case("image-giant", "an extremely large image (8192x8192 PNG, 67 megapixels)", _b_giant, 2,
         "megapixel limit", ("out.png",)),
    Case("image-grey", "greyscale PNG", _b_grey, 0, None, check=image_is("out.png", 64, 48),
         checks="64x48 RGB output"),
    Case("image-alpha", "PNG with an alpha channel", _b_alpha, 0, None,
         check=image_is("out.png", 64, 48, alpha_from="sprite.png"), checks="64x48, alpha kept exactly"),
    Case("image-16bit", "16-bit PNG", _b_16bit, 0, None, check=image_is("out.png", 64, 48),
         checks="64x48 8-bit output"),
    Case("image-cmyk", "CMYK JPEG", _b_cmyk, 0, None, check=image_is("out.png", 40, 30), checks="40x30 RGB output"),
    Case("image-odd", "image of odd size (33x21)", _b_odd_image, 0, None, check=image_is("out.png", 33, 21),
         checks="33x21 output"),
    Case("video-odd", "video of odd size (63x47, H.264 4:4:4)", _b_odd_video, 0, None,
         check=video_is("out.mp4", 5, 64, 48),
         checks="5 frames; 64x48 (4:2:0 needs even sizes: one edge pixel added)"),
    Case("video-vfr", "variable frame rate (12 frames at uneven times 0..0.9 s)", _b_vfr, 0, None,
         check=video_is("out.mp4", 12, 64, 48, [t / 1000 for t in VFR_MS]),
         checks="12 frames, 64x48, every frame at its source time (±2 ms)"),
    Case("video-rotated", "phone video stored landscape with a 90° display matrix", _b_rotated, 0, None,
         check=video_is("out.mp4", 4, 48, 64), checks="4 frames, upright 48x64"),
    Case("output-unwritable", "output in a folder that cannot be written", _b_unwritable, 2, "cannot write",
         ("locked/out.mp4",)),
    Case("output-folder-missing", "output folder does not exist", _b_no_folder, 2, "does not exist; create it",
         ("renders",)),
    Case("output-is-input", "output equal to the input (even with --overwrite)", _b_same, 2, "is the input file"),
    Case("output-exists", "output exists, no --overwrite", _b_exists, 2, "pass --overwrite",
         check=unchanged("out.mp4", b"yesterday's render"), checks="existing file untouched"),
    Case("output-overwrite", "output exists, with --overwrite", _b_overwrite, 0, None,
         check=video_is("out.mp4", 6, 64, 48), checks="replaced by a 6-frame 64x48 video"),
    Case("output-extension", "output extension that is not a video container", _b_bad_ext, 2, "must end in .mp4",
         ("out.avi",)),
    Case("unknown-style", "unknown style (typo)", _b_unknown_style, 2, "did you mean 'mosaic'", ("out.mp4",)),
    Case("unknown-backend", "unknown backend", _b_unknown_backend, 2, "did you mean 'onnxruntime'", ("out.mp4",)),
    Case("bad-max-frames", "--max-frames 0", _b_bad_max_frames, 2, "must be at least 1", ("out.mp4",)),
    Case("bad-size", "--size that is not a size", _b_bad_size, 2, "is not a size", ("out.mp4",)),
    Case("corrupt-weights", "damaged weights file (cut short) on $RTSTYLE_WEIGHTS", _corrupt_weights, 1,
         "is damaged", ("out.mp4",), env={"RTSTYLE_WEIGHTS": "weights"}),
    Case("corrupt-onnx-cache", "damaged cached ONNX export (cut to 4 KiB)", _b_corrupt_cache, 0, None,
         check=video_is("out.mp4", 6, 64, 48), checks="warning, re-exported; 6-frame output",
         env={"RTSTYLE_CACHE": "cache"}),
    Case("foreign-onnx-cache", "someone else's ONNX file under the cache name", _b_foreign_cache, 0, None,
         check=video_is("out.mp4", 6, 64, 48), checks="warning, re-exported; 6-frame output",
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
