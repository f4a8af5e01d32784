"""``rtstyle train WHAT``: one subcommand per trainer (transformer, adain, lite, depth)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..families import TEACHER_ORDER, VECTOR_STYLED, weights_stem
from .flags import run_flags, run_fields

STYLE_DIR = Path(__file__).resolve().parent.parent / "styles"   # the bundled paintings


def register(sub) -> None:
    p = sub.add_parser("train", help="train a network (needs the 'train' extra)")
    tsub = p.add_subparsers(dest="what", metavar="WHAT")
    t = tsub.add_parser("transformer", help="feed-forward net: johnson | compact | multi",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--family", choices=["johnson", "compact", "multi", "lite"], default="johnson",
                   help="lite: the CPU net trained on the style loss itself (rtstyle train lite distils it)")
    t.add_argument("--style", required=True,
                   help="style name, or comma-separated names for --family multi or lite ('all')")
    t.add_argument("--data", required=True, type=Path, help="folder of training photos")
    t.add_argument("--style-dir", type=Path, default=STYLE_DIR)
    t.add_argument("--out", type=Path, default=None, help="run folder (default runs/<family>-<style>)")
    t.add_argument("--width", type=int, default=None, help="base channel width (johnson 32, compact 64)")
    t.add_argument("--n-res", type=int, default=None, help="residual blocks (johnson 5, compact 4)")
    t.add_argument("--downsample", action="store_true", help="compact: the downsampled variant")
    t.add_argument("--crop", type=int, default=256)
    t.add_argument("--style-size", type=int, default=384)
    t.add_argument("--photo-short", type=int, default=0,
                   help="short side the photos are held at before cropping, i.e. the stroke scale the net "
                        "learns (0: 1.5 x --crop)")
    t.add_argument("--recalibrate", action="store_true",
                   help="with --init: measure the loss scales afresh instead of keeping the init weights' "
                        "(when --style-size or --photo-short differ from theirs)")
    t.add_argument("--margin", type=int, default=0,
                   help="px of mirrored edge around each crop, painted and cut off before the losses, as "
                        "the Stylizer paints frames (the lite family: 16), so no loss is scored on the "
                        "net's zero-padded edge (default 0)")
    t.add_argument("--content-weight", type=float, default=1.0)
    t.add_argument("--style-weight", type=float, default=5.0)
    t.add_argument("--shift-weight", type=float, default=None, help="spatial-shift loss weight (compact: 1.0)")
    t.add_argument("--tv-weight", type=float, default=1.0)
    t.add_argument("--ema", type=float, default=0.0,
                   help="ship a moving average of the weights with this decay per step (e.g. 0.998: about "
                        "the last 500 steps), not the last step's; 0 = off")
    run_flags(t, log_every=25, ckpt_every=250, batch=4, iters=10000, lr=1e-3)
    t.set_defaults(func=_train_transformer)
    _register_depth(tsub)            # rtstyle train depth
    _register_lite(tsub)             # rtstyle train lite
    t = tsub.add_parser("adain", help="AdaIN decoder (encoder frozen), arbitrary style",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--data", required=True, type=Path, help="folder of training photos")
    t.add_argument("--style-dir", type=Path, default=STYLE_DIR,
                   help="folder of style paintings")
    t.add_argument("--out", type=Path, default=Path("runs/adain"))
    t.add_argument("--width-scale", type=float, default=1.0, help="decoder channel multiplier")
    t.add_argument("--crop", type=int, default=256)
    t.add_argument("--style-weight", type=float, default=10.0)
    t.add_argument("--hold-out", default="", help="comma-separated paintings (file stems) kept out of training")
    t.add_argument("--recon-steps", type=int, default=0,
                   help="first steps train the decoder to invert the encoder (style = the photo, + pixel L1)")
    t.add_argument("--jitter", type=float, default=0.2, help="colour jitter of the style crops (0 = off)")
    run_flags(t, log_every=50, ckpt_every=500, batch=8, iters=8000, lr=1e-4)
    t.set_defaults(func=_train_adain)


def _register_lite(tsub) -> None:
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
    t.add_argument("--photo-short", type=int, default=0,
                   help="short side the photos are held at before cropping (0: 1.5 x --crop); use the "
                        "teacher's own (its manifest's train_photo_short) so the student copies it at its scale")
    t.add_argument("--feature-weight", type=float, default=0.5, help="VGG relu2_2 feature term")
    t.add_argument("--consistency-weight", type=float, default=0.0,
                   help="temporal consistency under small shifts + noise (0 = off; 0.5 cut flicker ~20%% "
                        "but also texture, docs/cpu.md)")
    run_flags(t, log_every=25, ckpt_every=250, batch=4, iters=4000, lr=2e-3)
    t.set_defaults(func=_train_lite)


def _register_depth(tsub) -> None:
    t = tsub.add_parser("depth", help="relative-depth hourglass from synthetic scenes + weak/real pairs",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--variant", choices=["full", "rt"], default="rt")
    t.add_argument("--net-width", type=float, default=None, help="override the variant's channel multiplier")
    t.add_argument("--prior", choices=["rows", "none"], default="rows",
                   help="rows: residual net, output = 'lower is nearer' + a learned correction that starts at 0; "
                        "none: plain Chen et al. head")
    t.add_argument("--out", type=Path, default=None, help="run folder (default runs/depth-<variant>)")
    t.add_argument("--size", default="128x96", help="training size WxH (multiples of 16)")
    t.add_argument("--real-batch", type=int, default=4, help="real photos per step (weak pairs)")
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
    t.add_argument("--cue-weight", type=float, default=0.0,
                   help="pseudo-pairs 'sharp and central = nearer' on shallow-focus photos (0 = off)")
    t.add_argument("--cue-gate", type=float, default=1.2, help="focus ratio a photo needs to give cue pairs")
    t.add_argument("--stereo-scenes", default="",
                   help="'val' or comma-separated stereodemo scenes whose measured stereo pairs to train on "
                        "(rtstyle.bench.depth.stereodemo; its test scenes are refused)")
    t.add_argument("--stereo-weight", type=float, default=0.3)
    t.add_argument("--stereo-batch", type=int, default=2, help="stereo scenes per step")
    t.add_argument("--buffer", type=int, default=512, help="rendered views kept in the replay buffer")
    t.add_argument("--fresh", type=int, default=2, help="new views rendered per step")
    t.add_argument("--workers", type=int, default=0, help="render processes (0 = in the training process)")
    t.add_argument("--val-views", type=int, default=48)
    run_flags(t, log_every=25, ckpt_every=200, batch=8, iters=3000, lr=1e-3, batch_help="synthetic views per step")
    t.set_defaults(func=_train_depth)


def _run(train, cfg, a, *errors) -> int:
    """Train ``cfg`` (resuming unless --no-resume); a missing file (or ``errors``) is a one-line error."""
    try:
        train(cfg, resume=not a.no_resume)
    except (FileNotFoundError, *errors) as exc:
        raise UserError(str(exc)) from exc
    return 0


def _train_adain(a) -> int:
    from ..train.adain import AdaINConfig, train
    cfg = AdaINConfig(data=str(a.data), style_dir=str(a.style_dir), out=str(a.out), width_scale=a.width_scale,
                      crop=a.crop, batch=a.batch, iters=a.iters, lr=a.lr, style_weight=a.style_weight,
                      hold_out=[s.strip() for s in a.hold_out.split(",") if s.strip()], recon_steps=a.recon_steps,
                      jitter=a.jitter, **run_fields(a))
    return _run(train, cfg, a)


def _train_transformer(a) -> int:
    from ..styles import check_style, style_names
    from ..train.transformer import TransformerConfig, train
    names = style_names() if a.style == "all" else [s.strip() for s in a.style.split(",") if s.strip()]
    for n in names:
        check_style(n)
    if a.family not in VECTOR_STYLED and len(names) != 1:
        raise UserError(f"--family {a.family} trains one style, got {len(names)}; use --family multi for several")
    _check_photo_short(a)
    if not 0 <= a.margin < a.crop:
        raise UserError(f"--margin {a.margin} must be between 0 and --crop {a.crop} - 1 (e.g. 16)")
    if not 0 <= a.ema < 1:
        raise UserError(f"--ema {a.ema} must be at least 0 and below 1 (e.g. 0.998; 0 = off)")
    model = {}
    if a.width is not None:
        model["width"] = a.width
    if a.n_res is not None:
        model["n_res"] = a.n_res
    if a.family == "compact":
        model["downsample"] = a.downsample
    shift = a.shift_weight if a.shift_weight is not None else (1.0 if a.family == "compact" else 0.0)
    out = a.out or Path("runs") / weights_stem(a.family, names)
    cfg = TransformerConfig(family=a.family, styles=names, style_dir=str(a.style_dir), data=str(a.data),
                            out=str(out), model=model, crop=a.crop, style_size=a.style_size, batch=a.batch,
                            photo_short=a.photo_short, recalibrate=a.recalibrate, margin=a.margin, iters=a.iters, lr=a.lr,
                            content_weight=a.content_weight, style_weight=a.style_weight, shift_weight=shift,
                            tv_weight=a.tv_weight, ema=a.ema, **run_fields(a))
    return _run(train, cfg, a)


def _check_photo_short(a) -> None:
    if a.photo_short and a.photo_short < a.crop:
        raise UserError(f"--photo-short {a.photo_short} is smaller than --crop {a.crop}; the crops are cut from "
                        f"photos of that short side, so use at least {a.crop} (or 0 for 1.5 x --crop)")


def _train_lite(a) -> int:
    from ..styles import check_style, trained_styles
    from ..train.distill import DistillConfig, train
    names = trained_styles() if a.style == "trained" else [s.strip() for s in a.style.split(",") if s.strip()]
    if not names:
        raise UserError("--style names no style (and 'trained' found no trained teacher); train a teacher first")
    for n in names:
        check_style(n)
    if len(set(names)) != len(names):
        raise UserError(f"--style names a style twice: {a.style}")
    _check_photo_short(a)
    out = a.out or Path("runs") / f"lite-{names[0] if len(names) == 1 else 'multi'}"
    cfg = DistillConfig(styles=names, data=str(a.data), out=str(out), teacher=a.teacher,
                        model={"width": a.width, "n_res": a.n_res}, crop=a.crop, photo_short=a.photo_short,
                        batch=a.batch, iters=a.iters, lr=a.lr, feature_weight=a.feature_weight, consistency_weight=a.consistency_weight,
                        **run_fields(a))
    return _run(train, cfg, a)


def _train_depth(a) -> int:
    from ..sizes import parse_size
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
    stereo_scenes = tuple(n.strip() for n in a.stereo_scenes.split(",") if n.strip())
    if stereo_scenes == ("val",):
        from ..bench.depth.stereodemo import VALIDATION
        stereo_scenes = VALIDATION
    if stereo_scenes:
        from ..bench.depth.stereodemo import TEST, VALIDATION
        bad = [n for n in stereo_scenes if n not in VALIDATION]
        if bad:
            why = "are test scenes" if set(bad) <= set(TEST) else "are not stereodemo scenes"
            raise UserError(f"--stereo-scenes {', '.join(bad)} {why}; train on 'val' ({', '.join(VALIDATION)})")
    model = ({} if a.net_width is None else {"width": a.net_width}) | ({"prior": a.prior} if a.prior != "none" else {})
    cfg = DepthConfig(variant=a.variant, model=model, out=str(a.out or Path("runs") / f"depth-{a.variant}"), height=h, width=w,
                      batch=a.batch, real_batch=a.real_batch, iters=a.iters, lr=a.lr, pairs=a.pairs, tau=a.tau,
                      si_weight=a.si_weight, real_data=str(a.real_data or ""), textures=str(a.textures or ""),
                      ground_weight=a.ground_weight, sky_weight=a.sky_weight, sfm_clip=str(a.sfm_clip or ""),
                      sfm_frames=(start, stop), sfm_weight=a.sfm_weight, cue_weight=a.cue_weight, cue_gate=a.cue_gate,
                      stereo_scenes=stereo_scenes, stereo_weight=a.stereo_weight, stereo_batch=a.stereo_batch,
                      buffer=a.buffer, fresh=a.fresh,
                      workers=a.workers, val_views=a.val_views, **run_fields(a))
    return _run(train, cfg, a, ValueError)
