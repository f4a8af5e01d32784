"""Writing video files with PyAV: H.264 (yuv420p, BT.709 tagged) plus the source's audio.

``VideoWriter`` encodes into a temporary file next to the target and renames it on ``stop()``,
so an interrupted run never leaves a broken file under the final name. Reading is in
rtstyle.io.video (which re-exports these names).
"""

from __future__ import annotations

import os
import secrets
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rtstyle.errors import UserError
from rtstyle.files import write_error

OUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
# Audio codecs each container takes as-is (stream copy); anything else is re-encoded to AAC.
COPY_AUDIO = {
    "mp4": {"aac", "mp3", "opus", "alac", "ac3", "eac3", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le"},
    "matroska": {"aac", "mp3", "opus", "vorbis", "flac", "alac", "ac3", "eac3", "pcm_s16le"},
}
AUDIO_LEAD_S = 0.5  # mux audio up to this far ahead of the last video frame


def pick_codec(codec: str, w: int, h: int, fps: Fraction) -> str:
    """``codec`` if it opens here, else the first of libx264/h264/mpeg4 that does (with a warning)."""
    for name in dict.fromkeys([codec, "libx264", "h264", "mpeg4"]):
        try:
            ctx = av.CodecContext.create(name, "w")
            if name.endswith(("_nvenc", "_qsv", "_vaapi", "_amf", "_videotoolbox")):
                # Hardware encoders are compiled in but only open with the hardware present.
                ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = w, h, "yuv420p", 1 / fps
                ctx.open()
        except (av.FFmpegError, ValueError):
            continue
        if name != codec:
            warnings.warn(f"video encoder '{codec}' is not available here; using '{name}'",
                          RuntimeWarning, stacklevel=3)
        return name
    raise UserError("no H.264 or MPEG-4 encoder in this PyAV build; reinstall PyAV "
                    "(pip install --force-reinstall av)", exit_code=1)


class VideoWriter:
    """Encode RGB frames to H.264 yuv420p with ``movflags=+faststart``, copying audio across.

    ``size`` is (width, height) of the frames given to ``write``. yuv420p needs even sizes, so
    an odd width/height is padded by one replicated edge pixel (``encoded_size``). Frame i gets
    time i/fps unless ``write`` is given the source pts in seconds; these land on a grid of
    ``time_base`` (default 1/fps: a constant rate). For a variable-frame-rate source pass a finer
    one (e.g. 1/90000) and each frame keeps its source time.
    When ``audio_from`` has an audio stream, its packets are copied (re-encoded to AAC 160k
    when the container cannot hold the codec), cut at ``audio_until`` seconds, by default at
    the end of the video.
    """

    def __init__(self, path, fps: Fraction, size: tuple[int, int], audio_from=None,
                 crf: int = 20, preset: str = "veryfast", codec: str = "libx264", threads: int = 0,
                 audio_until: float | None = None, time_base: Fraction | None = None):
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1001000)
        self.time_base = Fraction(time_base) if time_base else 1 / self.fps
        self._step = max(1, round(1 / (self.fps * self.time_base)))   # ticks of one frame at fps
        self.size = (int(size[0]), int(size[1]))
        self.encoded_size = (self.size[0] + self.size[0] % 2, self.size[1] + self.size[1] % 2)
        self.audio_from = Path(audio_from) if audio_from else None
        self.audio_until = audio_until
        self.crf, self.preset, self.codec, self.threads = crf, preset, codec, threads
        self.frames_written = 0
        self._out = self._ain = self._tmp = None
        self._next_pts = self._end_pts = 0

    def start(self) -> "VideoWriter":
        fmt = OUT_FORMATS.get(self.path.suffix.lower())
        if fmt is None:
            raise UserError(f"cannot write '{self.path}': unknown video extension "
                            f"'{self.path.suffix}'; use one of {', '.join(OUT_FORMATS)}")
        if self.path.is_dir():
            raise UserError(f"cannot write '{self.path}': it is a folder; give a file name ending in .mp4")
        if self.fps <= 0 or min(self.size) < 1:
            raise ValueError(f"VideoWriter needs fps > 0 and a positive size, got "
                             f"{self.fps} and {self.size}")
        self._tmp = self.path.with_name(f".{self.path.stem}.{secrets.token_hex(4)}.part"
                                        f"{self.path.suffix}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # PyAV opens the file only when the first packet is muxed, frames later: create it
            # now, so an unwritable folder fails before any work is done.
            with open(self._tmp, "xb"):
                pass
            opts = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
            self._out = av.open(str(self._tmp), "w", format=fmt, options=opts)
        except (OSError, av.FFmpegError) as e:
            if not isinstance(e, FileExistsError):
                Path(self._tmp).unlink(missing_ok=True)
            self._tmp = None
            raise write_error(self.path, e) from e
        try:
            self._add_video()
            if self.audio_from is not None:
                self._add_audio(fmt)
        except BaseException:
            self.abort()
            raise
        return self

    def _add_video(self):
        w, h = self.encoded_size
        name = pick_codec(self.codec, w, h, self.fps)
        s = self._out.add_stream(name, rate=self.fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.time_base = self.time_base
        s.thread_count = self.threads
        # We convert RGB -> YUV with BT.709 limited range and say so in the stream, so players
        # (and our reader) convert back with the same matrix.
        s.codec_context.colorspace = s.codec_context.color_primaries = 1  # BT.709
        s.codec_context.color_trc, s.codec_context.color_range = 1, 1  # BT.709, MPEG
        # Variable frame rate: no B-frames, so that decode order is display order and the
        # container's duration (taken from the last decode time) covers the last frame.
        no_b = {"bf": "0"} if self.time_base != 1 / self.fps else {}
        if name == "libx264":
            s.options = {"crf": str(self.crf), "preset": self.preset, **no_b}
        elif name.endswith("_nvenc"):
            s.options = {"preset": "p4", "rc": "vbr", "cq": str(self.crf), **no_b}
        else:  # mpeg4 / other fallbacks: a bit rate good enough for stylised content
            s.bit_rate = int(w * h * float(self.fps) * 0.2)
        self._vs = s

    def _add_audio(self, fmt: str):
        try:
            self._ain = av.open(str(self.audio_from), metadata_errors="ignore")
        except (OSError, av.FFmpegError):
            warnings.warn(f"cannot open '{self.audio_from}' for its audio; writing video only",
                          RuntimeWarning, stacklevel=3)
            return
        if not self._ain.streams.audio:
            return self._close_audio()
        src = self._ain.streams.audio[0]
        v = self._ain.streams.video[0] if self._ain.streams.video else None
        # Our video starts at 0; shift the audio by the source video's start to keep sync.
        v0 = float((v.start_time or 0) * v.time_base) if v is not None and v.time_base else 0.0
        self._a_offset = round(v0 / src.time_base) if src.time_base else 0
        self._copy_audio = src.codec_context.name in COPY_AUDIO[fmt]
        if self._copy_audio:
            self._as = self._out.add_stream_from_template(src)
        else:
            rate = src.codec_context.sample_rate or 48000
            self._as = self._out.add_stream("aac", rate=rate if rate <= 96000 else 48000)
            self._as.layout = "stereo" if src.codec_context.channels >= 2 else "mono"
            self._as.bit_rate = 160_000
        self._asrc = src
        self._apackets = self._ain.demux(src)
        self._apending = None

    def write(self, rgb: np.ndarray, pts: float | None = None) -> None:
        """Encode one (H, W, 3) uint8 RGB frame of ``size``; ``pts`` is in seconds from 0."""
        if self._out is None:
            raise RuntimeError("VideoWriter.write() before start() or after stop()")
        w, h = self.size
        if rgb.shape != (h, w, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"VideoWriter({self.path.name}) wants ({h}, {w}, 3) uint8 frames, "
                             f"got {rgb.shape} {rgb.dtype}")
        if (w, h) != self.encoded_size:
            rgb = np.pad(rgb, ((0, self.encoded_size[1] - h), (0, self.encoded_size[0] - w), (0, 0)),
                         mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        i = self._next_pts if pts is None else max(round(pts / self.time_base), self._next_pts)
        frame.pts, frame.time_base = i, self.time_base
        self._next_pts = i + (self._step if pts is None else 1)
        self._end_pts = i + self._step
        try:
            self._out.mux(self._vs.encode(frame))
            self.frames_written += 1
            if self._ain is not None:
                self._pump_audio(min(float(i * self.time_base) + AUDIO_LEAD_S, self._audio_end()))
        except (OSError, av.FFmpegError) as e:  # disk full, file system gone: keep nothing
            self.abort()
            raise write_error(self.path, e) from e

    def _audio_end(self) -> float:
        # _end_pts: the last frame's end; _next_pts alone is what a subclass may set (scale.join)
        video_end = float(max(self._end_pts, self._next_pts) * self.time_base)
        return video_end if self.audio_until is None else float(self.audio_until)

    def _pump_audio(self, until: float, final: bool = False) -> None:
        """Mux source audio packets that start before ``until`` seconds (output time)."""
        tb = self._asrc.time_base
        # Only reading the source's audio may fail quietly (the rest is silent); an error writing
        # the output (disk full, permissions) propagates.
        while True:
            try:
                p = self._apending if self._apending is not None else next(self._apackets, None)
                self._apending = None
                if p is None:
                    break
                if p.dts is None or p.pts is None:  # demuxer's end-of-stream flush packet
                    continue
                if float((p.pts - self._a_offset) * tb) >= until:
                    if not final:
                        self._apending = p
                    break
                frames = None if self._copy_audio else p.decode()
            except av.FFmpegError as e:
                warnings.warn(f"'{self.audio_from}': audio stopped early ({type(e).__name__}); "
                              f"the rest of the output is silent", RuntimeWarning, stacklevel=3)
                self._apackets = iter(())
                break
            if self._copy_audio:
                p.pts, p.dts = p.pts - self._a_offset, p.dts - self._a_offset
                p.stream = self._as
                self._out.mux(p)
            else:
                for f in frames:
                    f.pts = None  # let the AAC encoder count samples from 0
                    self._out.mux(self._as.encode(f))
        if final and not self._copy_audio:
            self._out.mux(self._as.encode(None))

    def stop(self) -> None:
        """Flush the encoders, close the file and move it to its final name."""
        if self._out is None:
            return
        if self.frames_written == 0:
            self.abort()
            raise UserError(f"nothing written to '{self.path}': no frames were given "
                            f"(is the input empty?)", exit_code=1)
        try:
            self._out.mux(self._vs.encode(None))
            if self._ain is not None:
                self._pump_audio(self._audio_end(), final=True)
            self._out.close()
            self._out = None
            os.replace(self._tmp, self.path)
            self._tmp = None
        except (OSError, av.FFmpegError) as e:
            self.abort()
            raise write_error(self.path, e) from e
        except BaseException:
            self.abort()
            raise
        finally:
            self._close_audio()

    def abort(self) -> None:
        """Stop without keeping anything: the temporary file is deleted."""
        if self._out is not None:
            try:
                self._out.close()
            except (av.FFmpegError, OSError):
                pass  # the file is being thrown away; its muxer's complaints do not matter
            self._out = None
        self._close_audio()
        if self._tmp is not None:
            Path(self._tmp).unlink(missing_ok=True)
            self._tmp = None

    def _close_audio(self):
        ain, self._ain, self._apackets = self._ain, None, None
        if ain is not None:
            ain.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.abort()
