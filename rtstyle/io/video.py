"""Video files in and out with PyAV: RGB uint8 (H, W, 3) frames, upright, audio passed through.

``probe`` and ``VideoReader`` (decodes in the caller's thread) live here; ``VideoWriter`` (H.264
into a temporary file, renamed on ``stop()``) lives in rtstyle.io.video_writer.

Rotation: PyAV 18 exposes the display matrix only per decoded frame (``VideoFrame.rotation``,
counter-clockwise degrees); streams have a setter (``set_display_rotation``) but no getter.
So ``probe`` decodes the first frame to learn it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rtstyle.errors import UserError
from rtstyle.files import check_input_file

VIDEO_HINT = "pass a video file such as .mp4, .mkv, .mov or .webm"


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learns. ``width``/``height`` are as displayed (after rotation);
    ``rotation`` is the display matrix angle in counter-clockwise degrees (PyAV's
    ``VideoFrame.rotation``, ffprobe's "rotation of X degrees"): -90 for a phone's portrait clip."""

    path: Path
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frame_count: int
    duration: float  # seconds
    rotation: int
    codec: str
    has_audio: bool
    audio_codec: str | None
    variable_rate: bool = False   # the container's nominal rate differs from the average: timestamps vary


def open_video(path: Path):
    """Open ``path`` for reading and return (container, its first video stream)."""
    size = check_input_file(path, "a video", VIDEO_HINT)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read '{path}': FFmpeg cannot open it ({type(e).__name__}; "
                        f"{size} bytes: not a video, or damaged/truncated); {VIDEO_HINT}") from e
    # A cover picture (an mp3's album art) is a one-frame "video" stream marked attached_pic: not a video.
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        kinds = sorted({s.type for s in container.streams if s.type != "video"})
        kinds += ["a cover picture"] if container.streams.video else []
        container.close()
        raise UserError(f"cannot read '{path}': it has no video stream (only "
                        f"{' and '.join(kinds) or 'no streams'}); {VIDEO_HINT}")
    return container, videos[0]


def upright(frame: av.VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 RGB, rotated by the frame's display matrix (k quarter turns CCW)."""
    rgb = frame.to_ndarray(format="rgb24")
    k = round(frame.rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def probe(path) -> VideoInfo:
    """Read a video's geometry, rate, length and audio facts (decodes at most one frame)."""
    path = Path(path)
    container, stream = open_video(path)
    try:
        fps = stream.average_rate or stream.guessed_rate
        if not fps:
            warnings.warn(f"'{path}': no frame rate in the file; assuming 30 fps", stacklevel=2)
            fps = Fraction(30)
        count = stream.frames
        if not count:  # e.g. Matroska/WebM: count packets (demux only, no decoding)
            count = sum(1 for p in container.demux(stream) if p.size)
            container.seek(0)
        rotation = 0
        try:
            for frame in container.decode(stream):
                rotation = frame.rotation
                break
        except av.FFmpegError as e:
            raise UserError(f"cannot read '{path}': its first video frame does not decode "
                            f"({type(e).__name__}); the file is damaged, re-export it") from e
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = float(count / fps)
        w, h = stream.codec_context.width, stream.codec_context.height
        if round(rotation / 90) % 2:
            w, h = h, w
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(path=path, width=w, height=h, fps=Fraction(fps),
                         time_base=Fraction(stream.time_base), frame_count=int(count),
                         duration=duration, rotation=int(rotation), codec=stream.codec_context.name,
                         has_audio=audio is not None,
                         audio_codec=audio.codec_context.name if audio is not None else None,
                         variable_rate=bool(stream.base_rate and stream.average_rate
                                            and stream.base_rate != stream.average_rate))
    finally:
        container.close()


class VideoReader:
    """Decode a video file into upright RGB frames: ``read()`` -> ``(rgb, pts_seconds)`` or None.

    ``pts_seconds`` counts from the first frame of the stream (0.0). A file that breaks off
    mid-stream (truncated download, decode error) ends early: ``truncated`` then says how
    (else None), with a ``RuntimeWarning`` unless ``warn=False`` (callers that refuse such input).
    """

    def __init__(self, path, threads: int = 0, warn: bool = True):
        self.path = Path(path)
        self.threads = threads
        self.warn = warn
        self.truncated: str | None = None
        self.info: VideoInfo | None = None
        self.frames_read = 0
        self._container = None
        self._frames = None

    def start(self) -> "VideoReader":
        self.truncated = None
        self.frames_read = 0
        self.info = probe(self.path)
        self._container, stream = open_video(self.path)
        stream.thread_type = "AUTO"
        stream.thread_count = self.threads
        self._stream = stream
        self._t0 = stream.start_time or 0
        self._frames = self._decode()
        return self

    def _decode(self):
        expected = self.info.frame_count if self.info else 0
        try:
            for packet in self._container.demux(self._stream):
                yield from packet.decode()
        except av.FFmpegError as e:
            self.truncated = (f"decoding stopped after {self.frames_read} of {expected or '?'} frames "
                              f"({type(e).__name__})")
        else:
            if self.frames_read < expected - 1:
                self.truncated = f"only {self.frames_read} of its {expected} frames decode"
        if self.truncated and self.warn:
            warnings.warn(f"'{self.path}': {self.truncated}; the file is probably truncated",
                          RuntimeWarning, stacklevel=3)

    def read(self) -> tuple[np.ndarray, float] | None:
        if self._frames is None:
            raise RuntimeError("VideoReader.read() before start()")
        frame = next(self._frames, None)
        if frame is None:
            return None
        self.frames_read += 1
        pts = frame.pts if frame.pts is not None else self._t0 + self.frames_read - 1
        return upright(frame), float((pts - self._t0) * frame.time_base)

    def stop(self) -> None:
        self._frames = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __iter__(self):
        started_here = self._frames is None
        if started_here:
            self.start()
        try:
            while (item := self.read()) is not None:
                yield item
        finally:
            if started_here:
                self.stop()
