"""Command-line parts for depth: ``rtstyle depth``, ``rtstyle train depth`` and the ``--depth`` flags.

rtstyle.cli wires these in: ``register(sub)`` for the ``depth`` command and ``register_train(tsub)``
for ``train depth`` (both ``set_defaults(func=...)`` their handler, ``run`` / ``run_train``);
``add_flags(p)`` / ``options(args)`` for ``rtstyle image`` and ``rtstyle video``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError


def add_flags(p: argparse.ArgumentParser, video: bool = False) -> None:
    """The depth-aware stylization flags of ``rtstyle image`` / ``rtstyle video``."""
    g = p.add_argument_group("depth-aware stylization (Wu & Song): far stylized more, near keeps content")
    g.add_argument("--depth", action="store_true", help="modulate the style per pixel by estimated depth")
    g.add_argument("--depth-strength", type=float, default=1.0,
                   help="how much depth modulates, 0 = not at all .. 1 = fully (default 1)")
    g.add_argument("--near-style", action="store_true", help="invert: near things stylized more than far ones")
    g.add_argument("--depth-size", type=int, default=192, help="short side the depth net runs at (default 192)")
    g.add_argument("--depth-model", choices=["rt", "full"], default=None,
                   help="depth net variant (default: rt if trained, else full)")
    if video:
        g.add_argument("--depth-every", type=int, default=1, help="recompute depth every k frames (default 1)")
        g.add_argument("--depth-smooth", type=float, default=0.5,
                       help="temporal EMA of the depth map: weight of the past, 0..<1 (default 0.5)")


def options(a) -> dict | None:
    """The ``depth`` argument of rtstyle.jobs.stylize_images / stylize_video (None = off)."""
    if not getattr(a, "depth", False):
        return None
    return {"strength": a.depth_strength, "near_style": a.near_style, "size": a.depth_size,
            "variant": a.depth_model, "backend": a.backend, "every": getattr(a, "depth_every", 1),
            "smooth": getattr(a, "depth_smooth", 0.0)}


def register(sub) -> None:
    p = sub.add_parser("depth", help="estimate relative depth of an image (colour map or 16-bit PNG)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("input", type=Path, metavar="IN")
    p.add_argument("output", type=Path, metavar="OUT.png")
    p.add_argument("--raw", action="store_true",
                   help="write a 16-bit greyscale PNG of normalised depth (0 = nearest, 65535 = farthest)")
    p.add_argument("--size", type=int, default=256, help="short side the net runs at (rounded to a multiple of 16)")
    p.add_argument("--model", dest="variant", choices=["rt", "full"], default=None, help="depth net variant")
    p.add_argument("--backend", default="auto", help="auto | tensorrt | torch-cuda | onnxruntime | torch")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run)


def run(a) -> int:
    import time

    import cv2
    import numpy as np
    import torch

    from ..checkpoints import atomic_write
    from ..io.images import read_image
    from ..jobs import check_input, check_output
    from ..ops import normalize_depth
    from .apply import DepthNet, colorize
    check_input(a.input)
    if a.output.suffix.lower() != ".png":
        raise UserError(f"output {a.output} must end in .png (colour map, or 16-bit with --raw)")
    check_output(a.output, a.overwrite, [a.input])
    rgb, _ = read_image(a.input)
    net = DepthNet(a.variant, a.backend, a.size)
    try:
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
        t0 = time.perf_counter()
        with torch.inference_mode():
            d = net(x.to(net.device)).float().cpu()
        ms = 1000 * (time.perf_counter() - t0)
    finally:
        net.close()
    if a.raw:
        img = (normalize_depth(d)[0, 0].numpy() * 65535 + 0.5).astype(np.uint16)
    else:
        img = cv2.cvtColor(colorize(d[0, 0].numpy()), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise UserError(f"could not encode {a.output}", exit_code=1)
    atomic_write(a.output, lambda tmp: Path(tmp).write_bytes(buf.tobytes()))
    ph, pw = net.proc_size(*rgb.shape[:2])
    print(f"{a.input} -> {a.output} ({rgb.shape[1]}x{rgb.shape[0]}, depth net {net.path.name} at {pw}x{ph} "
          f"on {net.spec.name}, {ms:.0f} ms)")
    return 0


def register_train(tsub) -> None:
    from ..train import add_run_flags
    t = tsub.add_parser("depth", help="relative-depth hourglass from synthetic scenes + weak/real pairs",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--variant", choices=["full", "rt"], default="rt")
    t.add_argument("--net-width", type=float, default=None, help="override the variant's channel multiplier")
    t.add_argument("--prior", choices=["rows", "none"], default="rows",
                   help="rows: residual net, output = 'lower is nearer' + a learned correction that starts at 0; "
                        "none: plain Chen et al. head")
    t.add_argument("--out", type=Path, default=None, help="run folder (default runs/depth-<variant>)")
    t.add_argument("--size", default="128x96", help="training size WxH (multiples of 16)")
    t.add_argument("--batch", type=int, default=8, help="synthetic views per step")
    t.add_argument("--real-batch", type=int, default=4, help="real photos per step (weak pairs)")
    t.add_argument("--iters", type=int, default=3000)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--pairs", type=int, default=800, help="pairs per synthetic view")
    t.add_argument("--tau", type=float, default=0.02, help="equal-pair tolerance on the depth ratio")
    t.add_argument("--si-weight", type=float, default=0.5, help="dense scale-invariant loss weight (0 = off)")
    t.add_argument("--real-data", type=Path, default=None, help="folder of photos for weak pairs")
    t.add_argument("--textures", type=Path, default=None, help="folder of photos texturing the scenes")
    t.add_argument("--ground-weight", type=float, default=0.05)
    t.add_argument("--sky-weight", type=float, default=0.2)
    t.add_argument("--sfm-clip", type=Path, default=None, help="video with camera motion for SfM pairs")
    t.add_argument("--sfm-frames", default="0:300", help="frame range START:STOP of --sfm-clip used for training")
    t.add_argument("--sfm-weight", type=float, default=0.3)
    t.add_argument("--buffer", type=int, default=512, help="rendered views kept in the replay buffer")
    t.add_argument("--fresh", type=int, default=2, help="new views rendered per step")
    t.add_argument("--workers", type=int, default=0, help="render processes (0 = in the training process)")
    t.add_argument("--val-views", type=int, default=48)
    add_run_flags(t, log_every=25, ckpt_every=200)
    t.set_defaults(func=run_train)


def run_train(a) -> int:
    from ..train import run_fields
    from ..stylizer import parse_size
    from ..train.depth import DepthConfig, train
    size = parse_size(a.size)
    if not isinstance(size, tuple):
        raise UserError(f"--size {a.size!r}: give WxH, e.g. 128x96")
    w, h = size
    if w % 16 or h % 16:
        raise UserError(f"--size {a.size}: both sides must be multiples of 16 (e.g. 128x96, 320x240)")
    try:
        start, stop = (int(v) for v in a.sfm_frames.split(":"))
    except ValueError:
        raise UserError(f"--sfm-frames {a.sfm_frames!r} is not START:STOP (e.g. 0:300)") from None
    model = ({} if a.net_width is None else {"width": a.net_width}) | ({"prior": a.prior} if a.prior != "none" else {})
    cfg = DepthConfig(variant=a.variant, model=model, out=str(a.out or Path("runs") / f"depth-{a.variant}"), height=h, width=w,
                      batch=a.batch, real_batch=a.real_batch, iters=a.iters, lr=a.lr, pairs=a.pairs, tau=a.tau,
                      si_weight=a.si_weight, real_data=str(a.real_data or ""), textures=str(a.textures or ""),
                      ground_weight=a.ground_weight, sky_weight=a.sky_weight, sfm_clip=str(a.sfm_clip or ""),
                      sfm_frames=(start, stop), sfm_weight=a.sfm_weight, buffer=a.buffer, fresh=a.fresh,
                      workers=a.workers, val_views=a.val_views, **run_fields(a))
    try:
        train(cfg, resume=not a.no_resume)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    return 0
