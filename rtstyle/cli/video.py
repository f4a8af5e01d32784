"""``rtstyle video``: stylize a video file, audio kept."""
from __future__ import annotations

from pathlib import Path

from .flags import depth_flags, depth_options, style_flags


def register(sub) -> None:
    p = sub.add_parser("video", help="stylize a video file (audio kept)")
    p.add_argument("input", type=Path, metavar="IN")
    p.add_argument("output", type=Path, metavar="OUT")
    style_flags(p, video=True)
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    depth_flags(p, video=True)
    p.set_defaults(func=run)


def run(a) -> int:
    from ..pipeline import jobs
    from ..sizes import parse_size
    jobs.stylize_video(a.input, a.output, a.style, a.family, a.backend, parse_size(a.size), a.scale,
                       a.strength, a.max_frames, a.overwrite, progress=not a.no_progress,
                       depth=depth_options(a), preserve_color=a.preserve_color, smooth=a.smooth,
                       style_scale=a.style_scale, precision=a.precision)
    return 0
