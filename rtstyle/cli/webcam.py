"""``rtstyle webcam``: a live camera (or a simulated one) stylized into a window or virtual camera."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from .flags import depth_flags, depth_options, style_flags


def register(sub) -> None:
    p = sub.add_parser("webcam", help="stylize a webcam live (window, virtual camera), or a simulated one",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Keys in the window: n/p next/previous style, +/- strength, d depth, "
                                   "c keep colours, s snapshot (PNG), q or Esc quit.")
    style_flags(p, video=True, overwrite=False,
                style_help="style name, or several comma-separated (n/p switch); a multi-style net's style "
                           "cycles through all of that net's styles; a:0.7,b:0.3 (with weights) paints one mix")
    p.add_argument("--camera", default="0", help="camera index (0, 1, ...) or a device path / stream URL")
    p.add_argument("--simulate", metavar="FILE|pattern", default=None,
                   help="no camera: a video file (looped) or the moving test card, delivered in real time")
    p.add_argument("--capture-size", default="720p",
                   help="size asked of the camera: a name (720p), a short side (480, as 16:9) or WxH")
    p.add_argument("--fps", type=float, default=30.0, help="capture frame rate asked for")
    p.add_argument("--virtual-cam", action="store_true",
                   help="also send the result to a virtual camera (needs the 'vcam' extra)")
    p.add_argument("--no-display", action="store_true", help="no window (e.g. with --virtual-cam or --stats)")
    p.add_argument("--window", default="auto", choices=["auto", "opencv", "pygame", "tk"],
                   help="window toolkit (auto: OpenCV if it has a GUI, else pygame, else tkinter)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after showing this many frames")
    p.add_argument("--stats", action="store_true", help="print fps, latency and per-stage times at the end")
    p.add_argument("--no-adapt", action="store_true",
                   help="always paint at the default working size, even when that cannot keep up with the "
                        "camera (by default the size drops, down to half, until a frame fits the camera's "
                        "interval; --style-scale also turns this off)")
    p.add_argument("--snapshot-dir", type=Path, default=Path("."), help="where the s key saves PNGs")
    depth_flags(p, video=True)
    p.set_defaults(func=run)


def style_names(text: str, family: str | None) -> list[str]:
    """The styles n/p step through: ``--style`` names in order (a one-style multi-style net: all of
    that net's styles, starting at it), the paintings of a folder, or one weighted mixture."""
    from .. import styles
    from ..families import VECTOR_STYLED
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
        if entry.family in VECTOR_STYLED and len(entry.styles) > 1:
            i = entry.styles.index(names[0])
            names = entry.styles[i:] + entry.styles[:i]
    return names


def run(a) -> int:
    from .. import styles
    from ..pipeline.depth import from_options
    from ..io.camera import CameraSource, SimulatedCamera
    from ..io.sinks import NullSink, TeeSink, VirtualCamSink
    from ..io.window import WindowSink
    from ..pipeline.budget import FrameBudget
    from ..pipeline.live import StyleCycle, run_live
    from ..sizes import capture_size, parse_size
    from ..pipeline.stylizer import Stylizer
    if a.max_frames is not None and a.max_frames < 1:
        raise UserError(f"--max-frames {a.max_frames} must be at least 1")
    if not a.fps > 0:
        raise UserError(f"--fps {a.fps} must be above 0; use e.g. 30")
    w, h = capture_size(a.capture_size)
    size = parse_size(a.size)
    depth_opts = depth_options(a, always=True)   # the d key's settings
    names = style_names(a.style, a.family)
    cycle = StyleCycle(names, lambda n: Stylizer(n, a.family, a.backend, a.strength, size, a.scale,
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
            budget = None if a.no_adapt or a.style_scale is not None else FrameBudget(1 / (source.fps or a.fps))
            stats = run_live(source, cycle, sink, max_frames=a.max_frames, budget=budget)
    print(stats.summary() if a.stats else
          f"{stats.shown} frames, {stats.fps:.1f} fps, latency p50 {stats.latency_ms(0.5):.0f} ms")
    return 0
