"""Join stylized segments into one mp4 with the source's audio.

The segments' H.264 packets are copied, not re-encoded: segment k's timestamps are shifted by the
frames before it, so the output has continuous timestamps (frame i at i / fps, as ``rtstyle
video`` writes them). The audio is VideoWriter's: copied (or re-encoded to AAC where the container
needs it), interleaved, cut at the end of the video. This needs every segment to carry the same
codec header (SPS/PPS), which holds when they were encoded with the same settings; if not, the
segments are decoded and encoded once more (one more generation of codec loss, and slower).
"""
from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av

from ..io.video import VideoReader
from ..io.video_writer import AUDIO_LEAD_S, VideoWriter


class _PacketWriter(VideoWriter):
    """A VideoWriter whose video stream takes already-encoded packets (``write_packet``)."""

    def __init__(self, path, fps, template: av.video.stream.VideoStream, total_frames: int, **kw):
        cc = template.codec_context
        super().__init__(path, fps, (cc.width, cc.height), **kw)
        self._template, self._total = template, total_frames

    def _add_video(self):
        self._vs = self._out.add_stream_from_template(self._template)
        self._vs.time_base = self._template.time_base
        self._next_pts = self._total  # the audio is cut at the end of the whole video

    def write_packet(self, packet: av.Packet) -> None:
        packet.stream = self._vs
        self._out.mux(packet)
        self.frames_written += 1
        if self._ain is not None and packet.dts is not None:
            t = float(packet.dts * packet.time_base)
            self._pump_audio(min(t + AUDIO_LEAD_S, self._audio_end()))


def _headers(parts: list[Path]) -> set:
    seen = set()
    for part in parts:
        with av.open(str(part)) as c:
            cc = c.streams.video[0].codec_context
            seen.add((cc.name, cc.width, cc.height, bytes(cc.extradata or b"")))
    return seen


def join_segments(parts: list[Path], counts: list[int], dst: Path, fps: Fraction, audio_from=None,
                  crf: int = 20) -> str:
    """Write ``parts`` (in order, ``counts[i]`` frames each) as one video at ``dst`` (temporary
    name until complete). Returns "remux" or "decode" (the fallback that re-encodes)."""
    if len(_headers(parts)) != 1:
        warnings.warn(f"{dst.name}: segments have different codec headers; joining by re-encoding",
                      RuntimeWarning, stacklevel=2)
        _join_by_decoding(parts, dst, fps, audio_from, crf)
        return "decode"
    fps = Fraction(fps).limit_denominator(1001000)  # as VideoWriter stores it
    with av.open(str(parts[0])) as first, \
            _PacketWriter(dst, fps, first.streams.video[0], sum(counts), audio_from=audio_from) as writer:
        before = 0
        for part, count in zip(parts, counts):
            with av.open(str(part)) as c:
                s = c.streams.video[0]
                shift = Fraction(before) / fps / Fraction(s.time_base)
                if shift.denominator != 1:
                    raise RuntimeError(f"{part.name}: time base {s.time_base} cannot hold frame "
                                       f"{before} at {fps} fps exactly")
                n = 0
                for p in c.demux(s):
                    if not p.size:
                        continue
                    p.pts += int(shift)
                    p.dts += int(shift)
                    writer.write_packet(p)
                    n += 1
            if n != count:
                raise RuntimeError(f"segment {part.name} has {n} frames, expected {count}")
            before += count
    return "remux"


def _join_by_decoding(parts, dst, fps, audio_from, crf):
    with av.open(str(parts[0])) as c:
        cc = c.streams.video[0].codec_context
        size = (cc.width, cc.height)
    with VideoWriter(dst, fps, size, audio_from=audio_from, crf=crf) as writer:
        for part in parts:
            for rgb, _ in VideoReader(part):
                writer.write(rgb)
