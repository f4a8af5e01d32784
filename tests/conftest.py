"""Shared fixtures: tiny videos and images made on the fly (nothing big is checked in)."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch

# Tests share 2 CPU cores with other work: one intra-op thread unless asked otherwise.
if not os.environ.get("RTSTYLE_TEST_THREADS"):
    torch.set_num_threads(1)
else:
    torch.set_num_threads(int(os.environ["RTSTYLE_TEST_THREADS"]))

TINY_W, TINY_H, TINY_FRAMES, TINY_FPS = 64, 48, 12, 12


def tiny_frame(i: int, w: int = TINY_W, h: int = TINY_H) -> np.ndarray:
    """(h, w, 3) uint8 RGB test card: red ramps with i, a green top-left quarter, a blue bar."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (i * 20) % 256
    img[: h // 2, : w // 2, 1] = 255
    img[h - 8:, :, 2] = 255
    return img


def make_video(path, w=TINY_W, h=TINY_H, frames=TINY_FRAMES, fps=TINY_FPS, audio=True,
               video=True, rotation=None, sample_rate=48000, faststart=True, x264=None):
    """Write an H.264 (+ 1 kHz sine AAC) MP4 with PyAV; returns ``path``.
    ``x264``: extra encoder options (e.g. {"g": "6"} for a keyframe every 6 frames)."""
    import av

    out = av.open(str(path), "w", format="mp4",
                  options={"movflags": "+faststart"} if faststart else {})
    vs = a = None
    if video:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "18", **(x264 or {})}
        if rotation:
            vs.set_display_rotation(rotation)
    if audio:  # streams must all exist before the first packet is muxed
        a = out.add_stream("aac", rate=sample_rate)
        a.layout, a.bit_rate = "mono", 32000
    if vs is not None:
        for i in range(frames):
            out.mux(vs.encode(av.VideoFrame.from_ndarray(tiny_frame(i, w, h), format="rgb24")))
        out.mux(vs.encode(None))
    if a is not None:
        mux_tone(out, a, round(frames / fps * sample_rate), 1000, sample_rate, 1024)
    out.close()
    return path


def mux_tone(out, stream, n: int, hz: float, rate: int, chunk: int) -> None:
    """Encode ``n`` samples of a mono sine at ``hz`` into ``stream`` of the open container ``out``
    in frames of ``chunk`` samples, then flush the encoder."""
    import av
    tone = (0.3 * np.sin(2 * np.pi * hz * np.arange(n) / rate)).astype(np.float32)
    for s in range(0, n, chunk):
        f = av.AudioFrame.from_ndarray(tone[None, s:s + chunk], format="flt", layout="mono")
        f.sample_rate, f.pts = rate, s
        out.mux(stream.encode(f))
    out.mux(stream.encode(None))


@pytest.fixture
def tiny_video(tmp_path):
    """64x48, 12 frames at 12 fps H.264 with a 1 s 1 kHz AAC mono track."""
    return make_video(tmp_path / "tiny.mp4")


@pytest.fixture
def tiny_video_noaudio(tmp_path):
    return make_video(tmp_path / "tiny_noaudio.mp4", audio=False)


@pytest.fixture
def audio_only(tmp_path):
    return make_video(tmp_path / "tone.m4a", video=False)


@pytest.fixture
def rotated_video(tmp_path):
    """Same card stored landscape with a display matrix of +90 degrees (CCW), no audio."""
    import av

    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip("this PyAV cannot write a display matrix")
    return make_video(tmp_path / "rotated.mp4", audio=False, rotation=90)


@pytest.fixture
def rgb_jpeg(tmp_path):
    p = tmp_path / "photo.jpg"
    cv2.imwrite(str(p), cv2.cvtColor(tiny_frame(3), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return p


@pytest.fixture
def rgba_png(tmp_path):
    p = tmp_path / "sprite.png"
    bgra = np.dstack([cv2.cvtColor(tiny_frame(5), cv2.COLOR_RGB2BGR),
                      np.tile(np.arange(TINY_W, dtype=np.uint8) * 4, (TINY_H, 1))])
    cv2.imwrite(str(p), bgra)
    return p


@pytest.fixture
def grey_png(tmp_path):
    p = tmp_path / "grey.png"
    cv2.imwrite(str(p), np.tile(np.arange(TINY_W, dtype=np.uint8) * 3, (TINY_H, 1)))
    return p


@pytest.fixture
def png16(tmp_path):
    """16-bit greyscale-RGB PNG: left column 65535, then 257*k ramps and 1000."""
    p = tmp_path / "deep.png"
    img = np.zeros((4, 6, 3), np.uint16)
    img[:, 0] = 65535
    img[:, 1] = 257 * 7
    img[:, 2] = 1000  # 1000 / 257 = 3.89 -> 4
    img[:, 3, 0] = 128  # 0.498 -> 0 and the blue channel stays put through BGR
    img[:, 3, 2] = 129  # 0.502 -> 1
    cv2.imwrite(str(p), img[..., ::-1].copy())
    return p


@pytest.fixture
def tiny_weights(tmp_path, monkeypatch):
    """Untrained tiny nets on $RTSTYLE_WEIGHTS (plumbing only, never shipped): a johnson 'mosaic'
    and a multi-style net for 'great_wave' + 'poppies' with distinct style rows."""
    from rtstyle.weights import save_weights
    from rtstyle.models import JohnsonNet, MultiStyleNet
    d = tmp_path / "weights"
    torch.manual_seed(0)
    save_weights(JohnsonNet(width=4, n_res=1), d / "johnson-mosaic.safetensors",
                 {"family": "johnson", "styles": ["mosaic"], "config": {"width": 4, "n_res": 1}})
    multi = MultiStyleNet(2, width=4, n_res=1)
    with torch.no_grad():  # distinct per-style norms, so the two styles paint differently
        for name, param in multi.named_parameters():
            if name.endswith((".gamma", ".beta")):
                param.normal_(1.0 if name.endswith("gamma") else 0.0, 0.3)
    save_weights(multi, d / "multi-test.safetensors",
                 {"family": "multi", "styles": ["great_wave", "poppies"],
                  "config": {"n_styles": 2, "width": 4, "n_res": 1}})
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(d))
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path / "cache"))
    return d
