"""Webcam mode: a live source -> stylize -> window / virtual camera, latency first.

:func:`run_live` runs rtstyle.pipeline's three stages with ``drop_stale``: the capture thread
keeps only the newest frame, and between stages at most one frame waits, so when stylizing is
slower than the camera the frame rate drops and the latency does not grow. Each frame's
capture-to-display latency runs from the source's capture time to the moment the sink showed it.
On a CUDA stylizer the process stage queues GPU work (rtstyle.gpu_pipeline) and the sink thread
waits for the download.

Styles switch from the window's keys (n/p) through a :class:`StyleCycle`: one Stylizer per
weights file, built on first use and kept; the multi-style net and AdaIN switch by changing
their style input (``Stylizer.set_style``), which costs nothing.
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import pipeline
from .errors import UserError
from .families import STYLIZING
from .pipeline import StageTimes



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
        smooth: temporal stabiliser strength 0..1 (``--smooth``; rtstyle.temporal), one state shared
            by every style, started over at each style switch.
        depth: builds the depth modulator (rtstyle.depth.apply.DepthModulator) that the d key
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
        (``wait()`` -> rgb, ``release()``), see rtstyle.gpu_pipeline."""
        from .gpu_pipeline import make_processor
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
    (live sources only); ``times``: per-stage seconds (rtstyle.pipeline.StageTimes)."""

    times: StageTimes = field(default_factory=StageTimes)
    latency: list[float] = field(default_factory=list)
    shown: int = 0
    captured: int | None = None
    dropped_source: int = 0
    gpu_compute: float = 0.0

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
        lines.append("per frame: " + ", ".join(f"{k} {v:.1f} ms" for k, v in st.items()))
        return "\n".join(lines)


def run_live(source, styles, sink, *, max_frames: int | None = None, log: Callable[[str], None] = print,
             drop_stale: bool = True) -> LiveStats:
    """Stylize a started ``source`` into a started ``sink`` until the source ends, the user quits
    (q / Esc / closing the window), ``max_frames`` frames were shown, or Ctrl-C.

    ``styles``: a :class:`StyleCycle`, a Stylizer, or any ``rgb -> rgb`` function. Window keys
    (``sink.actions()``) are applied on the process stage between frames. Returns the stats.
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

    def apply(action: str) -> None:
        if action in ("next", "prev"):
            try:
                name = cycle.step(1 if action == "next" else -1)
            except UserError as exc:
                log(f"cannot switch style: {exc}")
                sink.notify(str(exc)[:80])
                return
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
                log(f"cannot turn depth on: {exc}")
                sink.notify(str(exc)[:80])
                return
            log(f"depth-aware: {'on' if on else 'off'}")
            sink.notify(f"depth {'on' if on else 'off'}")
        elif action == "quit":
            stop.set()
        sink.set_status(cycle.label())

    def process(item):
        rgb, t = item
        for action in sink.actions():
            apply(action)
        return cycle.submit(rgb), t

    def write(item) -> None:
        pending, t = item
        try:
            if max_frames is not None and stats.shown >= max_frames:
                return  # frames already in flight when the limit was reached
            out = pending.wait()
            shown_at = sink.write(out, t if live else None) or time.perf_counter()
            if live:
                stats.latency.append(shown_at - t)
            if pending.gpu_ms is not None:
                stats.gpu_compute += pending.gpu_ms / 1000
            stats.shown += 1
            if max_frames is not None and stats.shown >= max_frames:
                stop.set()
        finally:
            pending.release()

    sink.set_status(cycle.label())
    try:
        pipeline.run(frames(), process, write, depth=2, drop_stale=drop_stale,
                     on_drop=lambda item: item[0].release(), times=stats.times)
    except KeyboardInterrupt:
        log("stopped (Ctrl-C)")
    if captured0 is not None:  # a source may be reused across runs: count this run only
        stats.captured = source.captured - captured0
    stats.dropped_source = getattr(source, "dropped", 0) - dropped0
    return stats


# -- command line ------------------------------------------------------------------------------

def register(sub) -> None:
    """Add the ``webcam`` subcommand to rtstyle's argparse subparsers."""
    p = sub.add_parser("webcam", help="stylize a webcam live (window, virtual camera), or a simulated one",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Keys in the window: n/p next/previous style, +/- strength, d depth, "
                                   "c keep colours, s snapshot (PNG), q or Esc quit.")
    p.add_argument("--style", required=True,
                   help="style name, or several comma-separated (n/p switch); a multi-style net's style "
                        "cycles through all of that net's styles; a:0.7,b:0.3 (with weights) paints one mix")
    p.add_argument("--model", dest="family", default=None, choices=STYLIZING,
                   help="model family (none: the fastest family with weights for the style)")
    p.add_argument("--backend", default="auto", help="auto | tensorrt | torch-cuda | openvino | onnxruntime | torch")
    from .precision import add_precision_flag
    add_precision_flag(p)
    p.add_argument("--strength", type=float, default=1.0, help="0 = camera unchanged .. 1 = full style")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the camera's colours: transfer the style's luminance only")
    p.add_argument("--smooth", type=float, default=0.0,
                   help="temporal stabiliser 0..1: blend with the previous output warped along the optical "
                        "flow (0 = off; see docs/temporal.md)")
    p.add_argument("--style-scale", type=float, default=None,
                   help="stroke size: 2 = the painting's strokes twice as large, 0.5 = half (default: as the net "
                        "learnt them; docs/style_scale.md)")
    p.add_argument("--camera", default="0", help="camera index (0, 1, ...) or a device path / stream URL")
    p.add_argument("--simulate", metavar="FILE|pattern", default=None,
                   help="no camera: a video file (looped) or the moving test card, delivered in real time")
    p.add_argument("--size", default="720p", help="capture size: a name (720p), a short side (480) or WxH")
    p.add_argument("--scale", type=float, default=None,
                   help="stylize at this fraction of the capture size (e.g. 0.5: about 4x faster)")
    p.add_argument("--fps", type=float, default=30.0, help="capture frame rate asked for")
    p.add_argument("--virtual-cam", action="store_true",
                   help="also send the result to a virtual camera (needs the 'vcam' extra)")
    p.add_argument("--no-display", action="store_true", help="no window (e.g. with --virtual-cam or --stats)")
    p.add_argument("--window", default="auto", choices=["auto", "opencv", "pygame", "tk"],
                   help="window toolkit (auto: OpenCV if it has a GUI, else pygame, else tkinter)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after showing this many frames")
    p.add_argument("--stats", action="store_true", help="print fps, latency and per-stage times at the end")
    p.add_argument("--snapshot-dir", type=Path, default=Path("."), help="where the s key saves PNGs")
    from .depth import cli as depth_cli
    depth_cli.add_flags(p, video=True)
    p.set_defaults(func=run)


def _capture_size(text: str) -> tuple[int, int]:
    from .stylizer import parse_size
    size = parse_size(text)
    if isinstance(size, tuple):
        return size
    return int(round(size * 16 / 9 / 2)) * 2, size  # a short side: 16:9 landscape, as webcams are


def _style_names(text: str, family: str | None) -> list[str]:
    from . import styles
    if Path(text).is_dir():   # a folder of paintings: n/p cycle through them (AdaIN)
        return styles.paintings_in(Path(text))
    if ":" in text:   # weights given: one mixture (styles.parse_mix checks it), not a list to cycle
        styles.parse_mix(text)
        return [text.strip()]
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError("--style is empty; give a style name (rtstyle styles lists them)")
    for n in names:
        styles.check_style(n)
    if len(names) == 1:
        entry = styles.choose(names[0], family)
        if entry.family in styles.VECTOR_STYLED and len(entry.styles) > 1:
            i = entry.styles.index(names[0])
            names = entry.styles[i:] + entry.styles[:i]
    return names


def run(a) -> int:
    """``rtstyle webcam``: the parsed arguments of :func:`register`'s parser."""
    from . import styles
    from .io.sinks import NullSink, TeeSink, VirtualCamSink, WindowSink
    from .io.sources import CameraSource, SimulatedCamera
    from .stylizer import Stylizer
    if a.max_frames is not None and a.max_frames < 1:
        raise UserError(f"--max-frames {a.max_frames} must be at least 1")
    if not a.fps > 0:
        raise UserError(f"--fps {a.fps} must be above 0; use e.g. 30")
    w, h = _capture_size(a.size)
    from .depth import cli as depth_cli
    from .depth.apply import from_options
    depth_opts = depth_cli.options(argparse.Namespace(**{**vars(a), "depth": True}))  # the d key's settings
    names = _style_names(a.style, a.family)
    cycle = StyleCycle(names, lambda n: Stylizer(n, a.family, a.backend, a.strength, None, a.scale,
                                                 preserve_color=a.preserve_color, style_scale=a.style_scale,
                                                 precision=a.precision),
                       key=lambda n: styles.choose(n, a.family).path, smooth=a.smooth,
                       depth=lambda: from_options(depth_opts, video=True), depth_on=a.depth)
    source = (SimulatedCamera(a.simulate, a.fps, (w, h)) if a.simulate
              else CameraSource(a.camera, w, h, a.fps))
    sinks = []
    if not a.no_display:
        sinks.append(WindowSink(toolkit=a.window, snapshot_dir=a.snapshot_dir))
    if a.virtual_cam:
        sinks.append(VirtualCamSink(a.fps))
    sink = sinks[0] if len(sinks) == 1 else TeeSink(*sinks) if sinks else NullSink()
    with cycle:
        st = cycle.current  # load the first style before opening the camera: errors come first
        with source, sink:
            what = f"simulated camera ({a.simulate})" if a.simulate else f"camera {a.camera}"
            got = f"{source.size[0]}x{source.size[1]}" if source.size else "?"
            out = " + ".join(type(s).__name__.replace("Sink", "").lower() for s in sinks) or "no display"
            print(f"webcam: {what} {got} @ {source.fps or a.fps:g} fps -> {out}; style "
                  f"{getattr(st, 'label', cycle.name)}" + (f"; {len(names)} styles (n/p)" if len(names) > 1 else ""))
            if not sinks and a.max_frames is None:
                print("no display: press Ctrl-C to stop")
            stats = run_live(source, cycle, sink, max_frames=a.max_frames)
    print(stats.summary() if a.stats else
          f"{stats.shown} frames, {stats.fps:.1f} fps, latency p50 {stats.latency_ms(0.5):.0f} ms")
    return 0


__all__ = ["StyleCycle", "LiveStats", "run_live", "register", "run"]
