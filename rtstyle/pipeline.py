"""Frame pipeline: source thread -> process (caller's thread) -> sink thread, bounded queues.

Decode of frame N+1 and encode of frame N−1 overlap the stylization of frame N. Queues are
bounded (back-pressure, flat memory); the end of stream is a sentinel; an error or Ctrl-C in any
stage stops the others and is re-raised in the caller. The CUDA variant (pinned ring buffers,
copy/compute streams) builds on the same stages.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

_END = object()


@dataclass
class StageTimes:
    """Seconds spent inside each stage (not waiting on queues), and frames through."""
    read: float = 0.0
    process: float = 0.0
    write: float = 0.0
    frames: int = 0
    wall: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.wall if self.wall > 0 else 0.0

    def summary(self) -> str:
        n = max(self.frames, 1)
        return (f"{self.frames} frames in {self.wall:.2f} s ({self.fps:.1f} fps); per frame: read "
                f"{1000 * self.read / n:.1f} ms, stylize {1000 * self.process / n:.1f} ms, "
                f"write {1000 * self.write / n:.1f} ms")


class _Stop(Exception):
    pass


def _put(q: queue.Queue, item, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue
    raise _Stop


def _get(q: queue.Queue, stop: threading.Event):
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                raise _Stop


def run(frames: Iterable[Any], process: Callable[[Any], Any], write: Callable[[Any], None],
        depth: int = 4, on_frame: Callable[[int], None] | None = None) -> StageTimes:
    """Pull items from ``frames`` (own thread), ``process`` them here, ``write`` them (own thread).

    Order is kept and no frame is dropped. Returns per-stage times. Exceptions from any stage
    (including KeyboardInterrupt here) stop all stages and propagate after the threads end.
    """
    times = StageTimes()
    stop = threading.Event()
    q_in: queue.Queue = queue.Queue(maxsize=depth)
    q_out: queue.Queue = queue.Queue(maxsize=depth)
    errors: list[BaseException] = []

    def reader():
        try:
            it = iter(frames)
            while True:
                t = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    break
                times.read += time.perf_counter() - t
                _put(q_in, item, stop)
            _put(q_in, _END, stop)
        except _Stop:
            pass
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)
            stop.set()

    def writer():
        try:
            while True:
                item = _get(q_out, stop)
                if item is _END:
                    return
                t = time.perf_counter()
                write(item)
                times.write += time.perf_counter() - t
                times.frames += 1
                if on_frame:
                    on_frame(times.frames)
        except _Stop:
            pass
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=reader, name="rtstyle-read", daemon=True),
               threading.Thread(target=writer, name="rtstyle-write", daemon=True)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    try:
        while True:
            item = _get(q_in, stop)
            if item is _END:
                _put(q_out, _END, stop)
                break
            t = time.perf_counter()
            out = process(item)
            times.process += time.perf_counter() - t
            _put(q_out, out, stop)
        threads[1].join()
    except _Stop:
        pass
    except BaseException:
        stop.set()
        for th in threads:
            th.join()
        raise
    stop.set()
    for th in threads:
        th.join()
    times.wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return times
