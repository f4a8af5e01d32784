"""What runs on a Ray worker: decode one segment's exact frame range, stylize it, write it.

Plain functions (no Ray import here): the driver wraps ``stylize_segment`` with ``ray.remote``.
A worker process keeps its Stylizer between segments (Ray reuses worker processes), so the
model is loaded, or the TensorRT engine deserialised, once per worker, not once per segment.
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

# Test hook: when set to a file path that does not exist yet, the first worker to get halfway
# through a segment creates the file and kills its own process (os._exit), as a crash would.
CRASH_ONCE_ENV = "RTSTYLE_TEST_CRASH_ONCE"
# Environment that decides which weights a worker loads; copied from the driver to each task.
PASS_ENV = ("RTSTYLE_WEIGHTS", "RTSTYLE_CACHE")


@dataclass(frozen=True)
class StyleSettings:
    """Everything a worker needs to build the same Stylizer as ``rtstyle video`` would."""

    style: str
    family: str | None
    backend: str
    size: object  # None | int (short side) | (W, H)
    scale: float | None
    strength: float
    threads: int = 1  # torch intra-op threads on CPU workers
    env: dict = field(default_factory=dict)
    preserve_color: bool = False

    def key(self) -> str:
        return json.dumps([self.style, self.family, self.backend, self.size, self.scale, self.strength,
                           self.threads, sorted(self.env.items()), self.preserve_color])


@dataclass(frozen=True)
class SegmentJob:
    """Frames ``[start, end)`` of ``src`` (display order) -> H.264 file ``out``.

    ``start_pts``/``end_pts`` bound the range in the source's stream time base (``end_pts``
    None = to the end); ``start_pts`` None means the source has no usable timestamps and the
    job is the whole video, decoded from the start.
    """

    src: str
    out: str
    index: int
    start: int
    end: int
    start_pts: int | None
    end_pts: int | None
    fps: Fraction
    out_size: tuple[int, int]
    settings: StyleSettings
    crf: int = 20
    crash_flag: str | None = None

    @property
    def frames(self) -> int:
        return self.end - self.start


_stylizers: dict = {}


def _stylizer(settings: StyleSettings):
    import torch

    from ..pipeline.stylizer import Stylizer
    key = settings.key()
    if key not in _stylizers:
        for old in _stylizers.values():
            old.close()
        _stylizers.clear()
        os.environ.update(settings.env)
        torch.set_num_threads(max(1, settings.threads))
        _stylizers[key] = Stylizer(settings.style, settings.family, settings.backend, settings.strength,
                                   settings.size, settings.scale, preserve_color=settings.preserve_color)
    return _stylizers[key]


def read_range(src, start_pts: int | None, end_pts: int | None, count: int):
    """Yield the ``count`` upright RGB frames of ``src`` whose pts lie in [start_pts, end_pts).

    Seeks to the keyframe at or before ``start_pts`` and drops decoded frames before it. If the
    demuxer's seek lands past ``start_pts`` (a bad index), decodes from the file's start instead.
    Raises RuntimeError if fewer than ``count`` frames come out, so no short segment is kept.
    """
    from ..io.video import open_video, upright
    for seek in ((start_pts is not None and start_pts > 0), False):
        container, stream = open_video(Path(src))
        stream.thread_type = "AUTO"
        got, overshot = 0, False
        try:
            if seek:
                container.seek(start_pts, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if start_pts is not None:
                    if frame.pts is None or frame.pts < start_pts:
                        continue
                    if got == 0 and frame.pts > start_pts and seek:
                        overshot = True
                        break
                    if end_pts is not None and frame.pts >= end_pts:
                        break
                yield upright(frame)
                got += 1
                if got == count:
                    return
        finally:
            container.close()
        if not overshot:
            break
    raise RuntimeError(f"'{src}': frames {start_pts}..{end_pts} (pts) gave {got} of {count} frames; "
                       f"the file is damaged or changed while being processed")


def stylize_segment(job: SegmentJob, progress=None) -> dict:
    """Stylize one segment into ``job.out`` (written to a temporary name, renamed when complete).

    ``progress``: a Ray actor handle with ``report(key, frames)``, told every half second.
    Returns {"frames", "seconds", "cpu_seconds" (all threads of this worker process), "host"}.
    """
    from ..errors import UserError
    from ..pipeline.processors import stylize_frames, video_codec
    from ..io.video_writer import VideoWriter
    t0, cpu0 = time.perf_counter(), time.process_time()
    host = socket.gethostname()
    if not Path(job.src).is_file():
        raise UserError(f"worker on {host} cannot see '{job.src}'; the inputs and --out-dir must be on "
                        f"a file system every node mounts at the same path (NFS, a cluster volume)")
    st = _stylizer(job.settings)
    key, last = job.out, [0.0]

    def tick(n: int) -> None:
        if job.crash_flag and n == max(1, job.frames // 2):
            try:  # O_EXCL: exactly one worker of the whole run crashes
                os.close(os.open(job.crash_flag, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                os._exit(1)
        now = time.perf_counter()
        if progress is not None and (now - last[0] > 0.5 or n == job.frames):
            last[0] = now
            progress.report.remote(key, n)

    # The same frame path and encoder choice as `rtstyle video` (CUDA pipeline and NVENC on GPUs).
    codec = video_codec(st, *job.out_size, job.fps)
    writer = VideoWriter(job.out, job.fps, job.out_size, crf=job.crf, codec=codec, threads=job.settings.threads)
    with writer:
        stylize_frames(read_range(job.src, job.start_pts, job.end_pts, job.frames), st, writer.write,
                       on_frame=tick)
    return {"frames": writer.frames_written, "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - cpu0, "host": host}


class Progress:
    """Frames done per segment, across the cluster (a Ray actor; a later attempt overwrites)."""

    def __init__(self):
        self.done: dict[str, int] = {}

    def report(self, key: str, frames: int) -> None:
        self.done[key] = frames

    def total(self) -> int:
        return sum(self.done.values())
