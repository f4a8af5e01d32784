"""Frame pipeline: source thread -> process (caller's thread) -> sink thread, bounded queues.

Decode of frame N+1 and encode of frame N−1 overlap the stylization of frame N. Queues are
bounded (back-pressure, flat memory); the end of stream is a sentinel; an error or Ctrl-C in any
stage stops the others and is re-raised in the caller. The CUDA variant (pinned ring buffers,
copy/compute streams, rtstyle.pipeline.processors) runs on the same stages.

Two modes: files never drop a frame (back-pressure slows the reader); live sources
(``drop_stale=True``) keep only the newest waiting frame between stages, so a slow stage costs
frame rate, never latency.
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
        gpu = self.extra.get("gpu_compute")  # set by the CUDA path: stylize is then only the queueing
        smooth = self.extra.get("smooth")     # --smooth: part of the write stage's time
        return (f"{self.frames} frames in {self.wall:.2f} s ({self.fps:.1f} fps); per frame: read "
                f"{1000 * self.read / n:.1f} ms, stylize {1000 * self.process / n:.1f} ms, "
                f"write {1000 * self.write / n:.1f} ms"
                + (f" (smooth {1000 * smooth / n:.1f} ms)" if smooth is not None else "")
                + (f", GPU compute {1000 * gpu / n:.1f} ms" if gpu is not None else ""))


class _Stop(Exception):
    pass


class _Latest:
    """A one-item hand-over for live mode: ``put`` never blocks and replaces a waiting item
    (counted in ``dropped``, passed to ``on_drop``); the end sentinel is never replaced."""

    def __init__(self, on_drop: Callable[[Any], None] | None = None):
        self._cond = threading.Condition()
        self._items: list = []
        self.dropped = 0
        self._on_drop = on_drop

    def put(self, item, timeout=None) -> None:
        with self._cond:
            if item is not _END and self._items and self._items[-1] is not _END:
                old = self._items.pop()
                self.dropped += 1
                if self._on_drop:
                    self._on_drop(old)
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout=None):
        with self._cond:
            if not self._cond.wait_for(lambda: self._items, timeout):
                raise queue.Empty
            return self._items.pop(0)


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
        depth: int = 4, on_frame: Callable[[int], None] | None = None, drop_stale: bool = False,
        on_drop: Callable[[Any], None] | None = None, times: StageTimes | None = None) -> StageTimes:
    """Pull items from ``frames`` (own thread), ``process`` them here, ``write`` them (own thread).

    Order is kept. Without ``drop_stale`` no frame is dropped and at most ``depth`` items wait
    between two stages. With ``drop_stale`` (live sources) at most one item waits between two
    stages and a newer one replaces it: ``times.extra['dropped_in']`` / ``['dropped_out']``
    count frames dropped before / after ``process``; ``on_drop(item)`` is called for each
    (e.g. to give a buffer back). Returns per-stage times; pass ``times`` to keep them even when
    an exception (or Ctrl-C) ends the run. Exceptions from any stage (including
    KeyboardInterrupt here) stop all stages and propagate after the threads end.
    """
    times = times if times is not None else StageTimes()
    stop = threading.Event()
    if drop_stale:
        q_in, q_out = _Latest(), _Latest(on_drop)
    else:
        q_in, q_out = queue.Queue(maxsize=depth), queue.Queue(maxsize=depth)
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
    finally:   # also on an exception here (or Ctrl-C): the threads end and the times are kept
        stop.set()
        for th in threads:
            th.join()
        times.wall = time.perf_counter() - t0
        if drop_stale:
            times.extra["dropped_in"], times.extra["dropped_out"] = q_in.dropped, q_out.dropped
    if errors:
        raise errors[0]
    return times
