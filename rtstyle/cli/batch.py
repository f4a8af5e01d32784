"""``rtstyle batch``: the command line of rtstyle.scale (many videos, segments on Ray workers)."""
from __future__ import annotations

from pathlib import Path

from .flags import style_flags


def register(sub) -> None:
    p = sub.add_parser("batch", help="stylize videos on a Ray cluster, split into segments at keyframes")
    p.add_argument("inputs", nargs="+", type=Path, metavar="IN")
    p.add_argument("--out-dir", type=Path, required=True, help="folder for the outputs (IN's name, .mp4)")
    style_flags(p)
    p.add_argument("--address", default=None,
                   help="Ray cluster: 'auto' (this node's cluster), HOST:PORT, or ray://HOST:10001 "
                        "(Ray Client); default: start a local Ray instance")
    p.add_argument("--workers", type=int, default=None,
                   help="segments in flight (default: one per GPU, else one per CPU / --cpus-per-worker)")
    p.add_argument("--cpus-per-worker", type=int, default=None,
                   help="CPUs (torch threads) per worker (default: CPUs / --workers, 1 without --workers)")
    p.add_argument("--segment-seconds", type=float, default=10.0,
                   help="wanted segment length (default 10); shorter when a video would give fewer "
                        "segments than workers")
    p.add_argument("--retries", type=int, default=2, help="retries of a failed segment before giving up (default 2)")
    p.add_argument("--keep-work", action="store_true", help="keep the segment files after joining")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(a) -> int:
    from ..scale.driver import run_batch
    from ..sizes import parse_size
    run_batch(a.inputs, a.out_dir, a.style, a.family, a.backend, parse_size(a.size), a.scale, a.strength,
              preserve_color=a.preserve_color,
              address=a.address, workers=a.workers, cpus_per_worker=a.cpus_per_worker,
              segment_seconds=a.segment_seconds, retries=a.retries, overwrite=a.overwrite,
              keep_work=a.keep_work, progress=not a.no_progress)
    return 0
