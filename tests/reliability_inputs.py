"""Inputs and output checks for tests/reliability_cases.py: small media files with the oddities
users bring (variable frame rate, odd sizes, audio with a cover picture, giant PNGs) and asserts
on a successful run's output (size, alpha, frame count and times).
"""
from __future__ import annotations

import zlib
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from conftest import make_video, mux_tone, tiny_frame


# -- inputs ------------------------------------------------------------------------------------

def clip(folder: Path, name="clip.mp4", **kw) -> str:
    kw.setdefault("frames", 6)
    make_video(folder / name, **kw)
    return name


def png(folder: Path, name: str, img: np.ndarray) -> str:
    assert cv2.imwrite(str(folder / name), img)
    return name


def bgr(w=64, h=48, i=3) -> np.ndarray:
    return cv2.cvtColor(tiny_frame(i, w, h), cv2.COLOR_RGB2BGR)


def giant_png(path: Path, w: int, h: int) -> None:
    """A valid w×h 8-bit grey PNG of zeros, written without holding the image (zlib of the rows)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + (zlib.crc32(kind + data) & 0xFFFFFFFF).to_bytes(4, "big"))
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    idat = zlib.compress(bytes((w + 1) * h), 1)   # each row: filter byte 0 + w zero pixels
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def vfr_clip(path: Path, stamps_ms: list[int]) -> None:
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


def odd_clip(path: Path, w=63, h=47, frames=5) -> None:
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


def mp3_with_cover(path: Path, seconds=0.5, rate=44100) -> None:
    """An MP3 song with album art: the art is a one-frame mjpeg 'video' stream (attached_pic)."""
    import av
    out = av.open(str(path), "w", format="mp3")
    a = out.add_stream("libmp3lame", rate=rate)
    a.layout = "mono"
    art = out.add_stream("mjpeg")
    art.width, art.height, art.pix_fmt = 32, 32, "yuvj420p"
    art.disposition = av.stream.Disposition.attached_pic
    pkt = av.Packet(cv2.imencode(".jpg", bgr(32, 32))[1].tobytes())
    pkt.stream, pkt.pts, pkt.dts = art, 0, 0
    out.mux(pkt)
    mux_tone(out, a, int(seconds * rate), 440, rate, 1152)   # an mp3 frame is 1152 samples
    out.close()


def frames_of(path: Path) -> tuple[int, int, int, list[float]]:
    """(frames, width, height, frame times in s) of a video, by decoding it."""
    from rtstyle.io.video import VideoReader
    times, shape = [], None
    for rgb, t in VideoReader(path):
        times.append(t)
        shape = rgb.shape
    return len(times), shape[1], shape[0], times


# -- checks on successful outputs ------------------------------------------------------------------

def image_is(name: str, w: int, h: int, alpha_from: str | None = None):
    def check(folder: Path) -> None:
        from rtstyle.io.images import read_image
        rgb, a = read_image(folder / name)
        assert rgb.shape == (h, w, 3), f"{name}: {rgb.shape}, want {(h, w, 3)}"
        if alpha_from is not None:
            _, src_alpha = read_image(folder / alpha_from)
            assert a is not None and np.array_equal(a, src_alpha), f"{name}: alpha not carried over"
    return check


def video_is(name: str, frames: int, w: int, h: int, times: list[float] | None = None):
    def check(folder: Path) -> None:
        n, vw, vh, ts = frames_of(folder / name)
        assert (n, vw, vh) == (frames, w, h), f"{name}: {n} frames {vw}x{vh}, want {frames} frames {w}x{h}"
        if times is not None:
            assert np.allclose(ts, times, atol=0.002), f"{name}: frame times {ts}, want {times}"
    return check


def unchanged(name: str, data: bytes):
    def check(folder: Path) -> None:
        assert (folder / name).read_bytes() == data, f"{name} was modified"
    return check
