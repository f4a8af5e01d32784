"""``rtstyle image``: stylize one or more images (trained net, or the Gatys optimisation)."""
from __future__ import annotations

from pathlib import Path

from .flags import depth_flags, depth_options, style_flags


def register(sub) -> None:
    p = sub.add_parser("image", help="stylize one or more images")
    p.add_argument("inputs", nargs="+", type=Path, metavar="IN")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file (one input) or folder")
    style_flags(p)
    p.add_argument("--method", choices=["net", "gatys"], default="net",
                   help="net = trained feed-forward network; gatys = optimisation baseline (slow)")
    p.add_argument("--iters", type=int, default=500, help="iterations for --method gatys")
    depth_flags(p)
    p.set_defaults(func=run)


def run(a) -> int:
    from ..pipeline import jobs
    from ..sizes import parse_size
    jobs.stylize_images(a.inputs, a.output, a.style, a.family, a.backend, parse_size(a.size), a.scale,
                        a.strength, a.overwrite, a.method, a.iters, depth=depth_options(a),
                        preserve_color=a.preserve_color, style_scale=a.style_scale, precision=a.precision)
    return 0
