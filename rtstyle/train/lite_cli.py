"""``rtstyle train lite``: distil the CPU real-time net from trained teachers (rtstyle.train.distill)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..families import ARBITRARY, TEACHER_ORDER
from . import add_run_flags, run_fields


def register_train(tsub) -> None:
    t = tsub.add_parser("lite", help="lite CPU real-time net, distilled from trained nets (teachers)",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--style", required=True,
                   help="comma-separated styles, or 'trained' = every style some trained net paints")
    t.add_argument("--data", required=True, type=Path, help="folder of training photos")
    t.add_argument("--out", type=Path, default=None, help="run folder (default runs/lite-<style|multi>)")
    t.add_argument("--teacher", default="", choices=["", *TEACHER_ORDER],
                   help="teacher family ('' = the best trained one per style: multi, johnson, compact, adain)")
    t.add_argument("--width", type=int, default=16, help="base channel width")
    t.add_argument("--n-res", type=int, default=4, help="residual blocks at 1/4 resolution")
    t.add_argument("--crop", type=int, default=128)
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--iters", type=int, default=4000)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--feature-weight", type=float, default=0.5, help="VGG relu2_2 feature term")
    t.add_argument("--consistency-weight", type=float, default=0.0,
                   help="temporal consistency under small shifts + noise (0 = off; 0.5 cut flicker ~20%% "
                        "but also texture, docs/cpu.md)")
    add_run_flags(t, log_every=25, ckpt_every=250)
    t.set_defaults(func=run)


def trained_styles() -> list[str]:
    """Styles that some non-lite trained net paints (AdaIN, if trained, paints them all)."""
    from .. import styles
    entries = [e for e in styles.weights_entries() if e.family != "lite"]
    if any(e.family in ARBITRARY for e in entries):
        return styles.style_names()
    return sorted({s for e in entries for s in e.styles})


def run(a) -> int:
    from ..styles import check_style
    from .distill import DistillConfig, train
    names = trained_styles() if a.style == "trained" else [s.strip() for s in a.style.split(",") if s.strip()]
    if not names:
        raise UserError("--style names no style (and 'trained' found no trained teacher); train a teacher first")
    for n in names:
        check_style(n)
    if len(set(names)) != len(names):
        raise UserError(f"--style names a style twice: {a.style}")
    out = a.out or Path("runs") / f"lite-{names[0] if len(names) == 1 else 'multi'}"
    cfg = DistillConfig(styles=names, data=str(a.data), out=str(out), teacher=a.teacher,
                        model={"width": a.width, "n_res": a.n_res}, crop=a.crop, batch=a.batch, iters=a.iters,
                        lr=a.lr, feature_weight=a.feature_weight, consistency_weight=a.consistency_weight,
                        **run_fields(a))
    try:
        train(cfg, resume=not a.no_resume)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from exc
    return 0
