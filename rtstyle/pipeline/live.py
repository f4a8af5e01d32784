"""Webcam mode: a live source -> stylize -> window / virtual camera, latency first.

:func:`run_live` runs the frame loop (processors.stylize_frames) with ``drop_stale``: the capture thread
keeps only the newest frame, and between stages at most one frame waits, so when stylizing is
slower than the camera the frame rate drops and the latency does not grow. Each frame's
capture-to-display latency runs from the source's capture time to the moment the sink showed it.
On a CUDA stylizer the process stage queues GPU work (rtstyle.pipeline.processors) and the sink thread
waits for the download.

Styles switch from the window's keys (n/p) through a :class:`StyleCycle`: one Stylizer per
weights file, built on first use and kept; the multi-style net and AdaIN switch by changing
their style input (``Stylizer.set_style``), which costs nothing.
"""
from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import UserError
from .budget import FrameBudget
from .loop import StageTimes
from .processors import stylize_frames


class StyleCycle:
    """The styles n/p step through, and their stylizers.

    Args:
        names: style names in key order.
        make: builds a stylizer for a style name (a Stylizer, or anything with ``frame(rgb)``
            or a plain ``rgb -> rgb`` function).
        key: which built stylizer can serve a name (default: the name itself). With
            ``key = weights file``, styles of one multi-style or AdaIN file share one Stylizer
            and switching calls its ``set_style``.
        owns: close the stylizers on :meth:`close` (True when ``make`` builds them).
        smooth: temporal stabiliser strength 0..1 (``--smooth``; rtstyle.pipeline.temporal), one state shared
            by every style, started over at each style switch.
        depth: builds the depth modulator (rtstyle.pipeline.depth.DepthModulator) that the d key
            toggles; built on first use and shared by every style. ``depth_on``: start with it on.
    """

    def __init__(self, names: list[str], make: Callable[[str], Any], key: Callable[[str], Any] | None = None,
                 owns: bool = True, smooth: float = 0.0, depth: Callable[[], Any] | None = None,
                 depth_on: bool = False):
        if not names:
            raise ValueError("StyleCycle needs at least one style")
        self.names, self.index = list(names), 0
        self._make, self._key, self._owns = make, key or (lambda n: n), owns
        self._built: dict[Any, Any] = {}
        self.smoother = None
        if smooth:
            from .temporal import TemporalSmoother
            self.smoother = TemporalSmoother(smooth)
        self._keys: dict[str, Any] = {}
        self._procs: dict[int, Any] = {}
        self.strength: float | None = None
        self.preserve_color: bool | None = None   # the c key's choice, applied to every style
        self._depth_factory, self._depth, self.depth_on = depth, None, False
        if depth_on:
            self.toggle_depth()

    @classmethod
    def single(cls, stylizer, name: str | None = None) -> "StyleCycle":
        """One style, from an existing stylizer or function (not closed by the cycle)."""
        return cls([name or getattr(stylizer, "style", "custom")], lambda _n: stylizer, owns=False)

    @property
    def name(self) -> str:
        return self.names[self.index]

    @property
    def current(self):
        """The stylizer for the current style (built now if new)."""
        name = self.name
        k = self._keys.get(name)
        if k is None:
            k = self._keys[name] = self._key(name)  # once per name: the key may read files
        st = self._built.get(k)
        if st is None:
            st = self._built[k] = self._make(name)
        if getattr(st, "style", name) != name and hasattr(st, "set_style"):
            st.set_style(name)
        if self.strength is not None and hasattr(st, "strength"):
            st.strength = self.strength
        if self.preserve_color is not None and hasattr(st, "preserve_color"):
            st.preserve_color = self.preserve_color
        if hasattr(st, "depth") and self._depth_factory is not None:
            st.depth = self._depth if self.depth_on else None
        return st

    def toggle_depth(self) -> bool:
        """Depth-aware stylization on/off; returns the new state. The depth net is built the first
        time (a UserError, e.g. no depth weights, leaves depth off)."""
        if self._depth_factory is None:
            raise UserError("depth-aware mode is off for this run: no depth network was set up")
        if not self.depth_on and self._depth is None:
            self._depth = self._depth_factory()
        self.depth_on = not self.depth_on
        if self._depth is not None:
            self._depth.reset()
        self.current
        return self.depth_on

    def step(self, k: int) -> str:
        """Move ``k`` styles on (wrapping) and make sure its stylizer is ready; returns its name.
        If building it fails, stays on the previous style and re-raises."""
        old = self.index
        self.index = (self.index + k) % len(self.names)
        try:
            self.current
        except BaseException:
            self.index = old
            raise
        return self.name

    def toggle_color(self) -> bool | None:
        """Keep the camera's colours (luminance-only style) on/off; None when the stylizer has no
        such switch."""
        st = self.current
        if not hasattr(st, "preserve_color"):
            return None
        self.preserve_color = not st.preserve_color
        st.preserve_color = self.preserve_color
        return self.preserve_color

    def adjust_strength(self, delta: float) -> float | None:
        st = self.current
        if not hasattr(st, "strength"):
            return None
        self.strength = round(min(1.0, max(0.0, st.strength + delta)), 2)
        st.strength = self.strength
        return self.strength

    def submit(self, rgb):
        """Start stylizing ``rgb`` with the current style; returns a pending frame
        (``wait()`` -> rgb, ``release()``), see rtstyle.pipeline.processors."""
        from .processors import make_processor
        st = self.current
        proc = self._procs.get(id(st))
        if proc is None:
            proc = self._procs[id(st)] = make_processor(st, depth=2, smooth=self.smoother)
        return proc.submit(rgb)

    def label(self) -> str:
        st = self.current
        s = getattr(st, "strength", None)
        return self.name + (f" {100 * s:.0f}%" if s is not None and s < 1 else "")

    def close(self) -> None:
        for proc in self._procs.values():
            proc.close()
        self._procs.clear()
        for st in self._built.values():
            if self._depth_factory is not None and hasattr(st, "depth"):
                st.depth = None   # shared: closed once, below
            if self._owns and hasattr(st, "close"):
                st.close()
        self._built.clear()
        if self._depth is not None:
            self._depth.close()
            self._depth = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class LiveStats:
    """What a live run measured. ``latency``: seconds from capture to display per shown frame
    (live sources only); ``times``: per-stage seconds (rtstyle.pipeline.loop.StageTimes)."""

    times: StageTimes = field(default_factory=StageTimes)
    latency: list[float] = field(default_factory=list)
    shown: int = 0
    captured: int | None = None
    dropped_source: int = 0
    gpu_compute: float = 0.0
    working: tuple[int, int] | None = None   # the size the net painted the last frame at (with a budget)

    @property
    def fps(self) -> float:
        return self.shown / self.times.wall if self.times.wall > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        """The q-quantile (0..1) of the latency in ms (nan when none was measured)."""
        if not self.latency:
            return float("nan")
        xs = sorted(self.latency)
        return 1000 * xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]

    @property
    def dropped(self) -> int:
        """Frames captured but never shown."""
        extra = self.times.extra
        return self.dropped_source + extra.get("dropped_in", 0) + extra.get("dropped_out", 0)

    def as_dict(self) -> dict:
        # Per shown frame. No 'read' time: a live read is mostly waiting for the camera's next frame.
        n = max(self.times.frames, 1)
        return {"shown": self.shown, "captured": self.captured, "wall_s": round(self.times.wall, 3),
                "fps": round(self.fps, 2), "dropped": self.dropped,
                "working_size": list(self.working) if self.working else None,
                "latency_ms": {k: round(self.latency_ms(q), 1) for k, q in
                               (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))}
                if self.latency else None,
                "per_frame_ms": {"process": round(1000 * self.times.process / n, 2),
                                 "show": round(1000 * self.times.write / n, 2),
                                 **({"gpu_compute": round(1000 * self.gpu_compute / n, 2)}
                                    if self.gpu_compute else {})}}

    def summary(self) -> str:
        d = self.as_dict()
        lines = [f"{self.shown} frames shown in {self.times.wall:.2f} s ({self.fps:.1f} fps)"
                 + (f", {self.captured} captured, {self.dropped} dropped as stale" if self.captured is not None else "")]
        if self.latency:
            lat = d["latency_ms"]
            lines.append(f"capture-to-display latency: p50 {lat['p50']:.0f} ms, p90 {lat['p90']:.0f} ms, "
                         f"p99 {lat['p99']:.0f} ms, max {lat['max']:.0f} ms, mean "
                         f"{1000 * statistics.fmean(self.latency):.0f} ms")
        st = d["per_frame_ms"]
        lines.append("per frame: " + ", ".join(f"{k} {v:.1f} ms" for k, v in st.items())
                     + (f"; painted at {self.working[0]}x{self.working[1]}" if self.working else ""))
        return "\n".join(lines)


def run_live(source, styles, sink, *, max_frames: int | None = None, log: Callable[[str], None] = print,
             drop_stale: bool = True, budget: FrameBudget | None = None) -> LiveStats:
    """Stylize a started ``source`` into a started ``sink`` until the source ends, the user quits
    (q / Esc / closing the window), ``max_frames`` frames were shown, or Ctrl-C.

    ``styles``: a :class:`StyleCycle`, a Stylizer, or any ``rgb -> rgb`` function. Window keys
    (``sink.actions()``) are applied on the process stage between frames. ``budget``: a
    rtstyle.pipeline.budget.FrameBudget that lowers the working size when a frame takes longer
    than the camera's interval (the process stage is timed per frame). Returns the stats.
    """
    cycle = styles if isinstance(styles, StyleCycle) else StyleCycle.single(styles)
    stop = threading.Event()
    stats = LiveStats()
    live = getattr(source, "live", False)
    captured0, dropped0 = getattr(source, "captured", None), getattr(source, "dropped", 0)

    def frames():
        while not stop.is_set():
            item = source.read()
            if item is None:
                return
            yield item

    def failed(what: str, exc: UserError) -> None:
        log(f"cannot {what}: {exc}")
        sink.notify(str(exc)[:80])

    def apply(action: str) -> None:
        if action in ("next", "prev"):
            try:
                name = cycle.step(1 if action == "next" else -1)
            except UserError as exc:
                return failed("switch style", exc)
            log(f"style: {cycle.label()}")
            sink.notify(f"style: {name}")
        elif action in ("stronger", "weaker"):
            s = cycle.adjust_strength(0.1 if action == "stronger" else -0.1)
            if s is not None:
                sink.notify(f"strength {100 * s:.0f}%")
        elif action == "color":
            on = cycle.toggle_color()
            if on is not None:
                sink.notify(f"colours {'kept' if on else 'from the style'}")
        elif action == "depth":
            try:
                on = cycle.toggle_depth()
            except UserError as exc:
                return failed("turn depth on", exc)
            log(f"depth-aware: {'on' if on else 'off'}")
            sink.notify(f"depth {'on' if on else 'off'}")
        elif action == "quit":
            stop.set()
        sink.set_status(cycle.label())

    last: list = []   # [stylizer, (w, h)] of the newest frame submitted, with a budget

    def submit(rgb):
        for action in sink.actions():
            apply(action)
        if budget is None:
            return cycle.submit(rgb)
        st, t0 = cycle.current, time.perf_counter()
        pending = cycle.submit(rgb)
        last[:] = [st, (rgb.shape[1], rgb.shape[0])]
        note = budget.observe(st, last[1], time.perf_counter() - t0)
        if note:
            log(note)
        return pending

    def write(out, t) -> None:
        if max_frames is not None and stats.shown >= max_frames:
            return  # frames already in flight when the limit was reached
        shown_at = sink.write(out, t if live else None) or time.perf_counter()
        if live:
            stats.latency.append(shown_at - t)
        stats.shown += 1
        if max_frames is not None and stats.shown >= max_frames:
            stop.set()

    sink.set_status(cycle.label())
    try:
        stylize_frames(frames(), None, write, depth=2, submit=submit, stamped=True, drop_stale=drop_stale,
                       times=stats.times)
    except KeyboardInterrupt:
        log("stopped (Ctrl-C)")
    stats.gpu_compute = stats.times.extra.get("gpu_compute", 0.0)
    if last and hasattr(last[0], "sizes"):   # the size the budget left the last frame at
        stats.working = last[0].sizes(*last[1])[1]
    if captured0 is not None:  # a source may be reused across runs: count this run only
        stats.captured = source.captured - captured0
    stats.dropped_source = getattr(source, "dropped", 0) - dropped0
    return stats

