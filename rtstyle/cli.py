"""Command line: thin argparse subcommands that call into rtstyle.jobs and the trainers."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from . import __version__
from .depth import cli as depth_cli
from .train import add_run_flags, run_fields
from .errors import UserError
from .families import STYLIZING
from .precision import add_precision_flag


STYLE_SCALE_HELP = ("stroke size: 2 paints the painting's strokes twice as large on the frame, 0.5 half as "
                    "large (default: as the net learnt them, at most 2x its training photos' size, then "
                    "scaled to the frame; docs/style_scale.md)")


def _common_style_args(p: argparse.ArgumentParser, video: bool = False) -> None:
    p.add_argument("--style", required=True,
                   help="style name (rtstyle styles lists them), a painting file (JPEG/PNG, AdaIN), or a mix "
                        "for the multi-style, lite and AdaIN families: a:0.7,b:0.3 (weights normalised to sum 1; "
                        "a,b = equal weights)")
    p.add_argument("--model", dest="family", default=None, choices=STYLIZING,
                   help="model family (default: the fastest family with weights for the style)")
    p.add_argument("--backend", default="auto",
                   help="auto | tensorrt | torch-cuda | openvino | onnxruntime | torch "
                        "(default: auto = fastest available)")
    add_precision_flag(p)
    p.add_argument("--size", default=None,
                   help="processing size: short side in px (512), a name (720p) or WxH (default: input size)")
    p.add_argument("--scale", type=float, default=None, help="resize factor instead of --size (e.g. 0.5)")
    p.add_argument("--strength", type=float, default=1.0, help="0 = input unchanged .. 1 = full style (default 1)")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the input's colours: transfer the style's luminance only")
    p.add_argument("--style-scale", type=float, default=None, help=STYLE_SCALE_HELP)
    if video:
        p.add_argument("--smooth", type=float, default=0.0,
                       help="temporal stabiliser 0..1: blend each frame with the previous output warped "
                            "along the optical flow (0 = off, default; 0.8 about halves flicker and softens fine "
                            "texture, see docs/temporal.md)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rtstyle", description="Real-time video style transfer.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--version", action="version", version=f"rtstyle {__version__}")
    ap.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("image", help="stylize one or more images")
    p.add_argument("inputs", nargs="+", type=Path, metavar="IN")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file (one input) or folder")
    _common_style_args(p)
    p.add_argument("--method", choices=["net", "gatys"], default="net",
                   help="net = trained feed-forward network; gatys = optimisation baseline (slow)")
    p.add_argument("--iters", type=int, default=500, help="iterations for --method gatys")
    depth_cli.add_flags(p)

    p = sub.add_parser("video", help="stylize a video file (audio kept)")
    p.add_argument("input", type=Path, metavar="IN")
    p.add_argument("output", type=Path, metavar="OUT")
    _common_style_args(p, video=True)
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    depth_cli.add_flags(p, video=True)

    sub.add_parser("styles", help="list the bundled styles and which have trained weights")
    from . import batch, bench, doctor, export_cli   # each adds its subcommand with set_defaults(func=run)
    for mod in (bench, export_cli, doctor, batch):
        mod.register(sub)
    from . import realtime   # rtstyle webcam (live camera / simulated camera)
    realtime.register(sub)
    depth_cli.register(sub)   # rtstyle depth IN OUT.png

    p = sub.add_parser("eval", help="quality numbers: a trained net vs Gatys on photos (content/style/shift losses)")
    p.add_argument("photos", nargs="+", type=Path, metavar="PHOTO")
    p.add_argument("--style", required=True)
    p.add_argument("--model", dest="family", default=None, choices=STYLIZING)
    p.add_argument("--size", type=int, default=256, help="short side of the evaluated images")
    p.add_argument("--gatys-iters", type=int, default=500, help="Gatys iterations for the baseline (0 = skip)")
    p.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")

    p = sub.add_parser("train", help="train a network (needs the 'train' extra)")
    tsub = p.add_subparsers(dest="what", metavar="WHAT")
    t = tsub.add_parser("transformer", help="feed-forward net: johnson | compact | multi",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--family", choices=["johnson", "compact", "multi"], default="johnson")
    t.add_argument("--style", required=True, help="style name, or comma-separated names for --family multi ('all')")
    t.add_argument("--data", required=True, type=Path, help="folder of training photos")
    t.add_argument("--style-dir", type=Path, default=Path(__file__).resolve().parent / "styles")
    t.add_argument("--out", type=Path, default=None, help="run folder (default runs/<family>-<style>)")
    t.add_argument("--width", type=int, default=None, help="base channel width (johnson 32, compact 64)")
    t.add_argument("--n-res", type=int, default=None, help="residual blocks (johnson 5, compact 4)")
    t.add_argument("--downsample", action="store_true", help="compact: the downsampled variant")
    t.add_argument("--crop", type=int, default=256)
    t.add_argument("--style-size", type=int, default=384)
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--iters", type=int, default=10000)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--content-weight", type=float, default=1.0)
    t.add_argument("--style-weight", type=float, default=5.0)
    t.add_argument("--shift-weight", type=float, default=None, help="spatial-shift loss weight (compact: 1.0)")
    t.add_argument("--tv-weight", type=float, default=1.0)
    add_run_flags(t, log_every=25, ckpt_every=250)
    depth_cli.register_train(tsub)   # rtstyle train depth
    from .train import lite_cli
    lite_cli.register_train(tsub)    # rtstyle train lite
    t = tsub.add_parser("adain", help="AdaIN decoder (encoder frozen), arbitrary style",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--data", required=True, type=Path, help="folder of training photos")
    t.add_argument("--style-dir", type=Path, default=Path(__file__).resolve().parent / "styles",
                   help="folder of style paintings")
    t.add_argument("--out", type=Path, default=Path("runs/adain"))
    t.add_argument("--width-scale", type=float, default=1.0, help="decoder channel multiplier")
    t.add_argument("--crop", type=int, default=256)
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--iters", type=int, default=8000)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--style-weight", type=float, default=10.0)
    t.add_argument("--hold-out", default="", help="comma-separated paintings (file stems) kept out of training")
    t.add_argument("--recon-steps", type=int, default=0,
                   help="first steps train the decoder to invert the encoder (style = the photo, + pixel L1)")
    t.add_argument("--jitter", type=float, default=0.2, help="colour jitter of the style crops (0 = off)")
    add_run_flags(t, log_every=50, ckpt_every=500)
    return ap


def _train_adain(a) -> None:
    from .train.adain import AdaINConfig, train
    cfg = AdaINConfig(data=str(a.data), style_dir=str(a.style_dir), out=str(a.out), width_scale=a.width_scale,
                      crop=a.crop, batch=a.batch, iters=a.iters, lr=a.lr, style_weight=a.style_weight,
                      hold_out=[s.strip() for s in a.hold_out.split(",") if s.strip()], recon_steps=a.recon_steps,
                      jitter=a.jitter, **run_fields(a))
    try:
        train(cfg, resume=not a.no_resume)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from exc


def _train_transformer(a) -> None:
    from .styles import check_style, style_names
    from .train.transformer import TransformerConfig, train
    names = style_names() if a.style == "all" else [s.strip() for s in a.style.split(",") if s.strip()]
    for n in names:
        check_style(n)
    if a.family != "multi" and len(names) != 1:
        raise UserError(f"--family {a.family} trains one style, got {len(names)}; use --family multi for several")
    model = {}
    if a.width is not None:
        model["width"] = a.width
    if a.n_res is not None:
        model["n_res"] = a.n_res
    if a.family == "compact":
        model["downsample"] = a.downsample
    shift = a.shift_weight if a.shift_weight is not None else (1.0 if a.family == "compact" else 0.0)
    out = a.out or Path("runs") / f"{a.family}-{'multi' if a.family == 'multi' else names[0]}"
    cfg = TransformerConfig(family=a.family, styles=names, style_dir=str(a.style_dir), data=str(a.data),
                            out=str(out), model=model, crop=a.crop, style_size=a.style_size, batch=a.batch,
                            iters=a.iters, lr=a.lr, content_weight=a.content_weight, style_weight=a.style_weight,
                            shift_weight=shift, tv_weight=a.tv_weight, **run_fields(a))
    try:
        train(cfg, resume=not a.no_resume)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from exc


def _dispatch(a, ap) -> int:
    from . import jobs
    from .stylizer import parse_size
    if getattr(a, "func", None) is not None:   # subcommands that carry their own handler
        return a.func(a)
    if a.command == "image":
        jobs.stylize_images(a.inputs, a.output, a.style, a.family, a.backend, parse_size(a.size), a.scale,
                            a.strength, a.overwrite, a.method, a.iters, depth=depth_cli.options(a),
                            preserve_color=a.preserve_color, style_scale=a.style_scale, precision=a.precision)
    elif a.command == "video":
        jobs.stylize_video(a.input, a.output, a.style, a.family, a.backend, parse_size(a.size), a.scale,
                           a.strength, a.max_frames, a.overwrite, progress=not a.no_progress,
                           depth=depth_cli.options(a), preserve_color=a.preserve_color, smooth=a.smooth,
                           style_scale=a.style_scale, precision=a.precision)
    elif a.command == "styles":
        jobs.list_styles()
    elif a.command == "eval":
        from . import evaluate
        for ph in a.photos:
            jobs.check_input(ph, "photo")
        scores = evaluate.evaluate(a.photos, a.style, a.family, a.size, a.gatys_iters)
        text = evaluate.table(scores)
        print(text)
        if a.markdown:
            a.markdown.write_text(text + "\n")
    elif a.command == "train" and a.what == "transformer":
        _train_transformer(a)
    elif a.command == "train" and a.what == "adain":
        _train_adain(a)
    else:
        ap.print_help()
        return 2
    return 0


def _one_line(exc) -> str:
    """An error's text on one line (a library's multi-line message folded), so stderr has one line."""
    return " ".join(str(exc).split())


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each, like errors (``--debug`` keeps Python's form with the source line)."""
    print(f"rtstyle: warning: {_one_line(message)}", file=sys.stderr if file is None else file)


def _out_of_memory(exc: BaseException) -> UserError | None:
    """The one line for running out of GPU (torch CUDA) or host memory, None for other errors."""
    if type(exc).__name__ == "OutOfMemoryError" and type(exc).__module__.startswith("torch"):
        from .backends.base import out_of_memory
        return out_of_memory("stylizing", None, exc)
    if isinstance(exc, MemoryError):
        return UserError("out of memory (host RAM); use a smaller --size (e.g. --size 720p or --scale 0.5) "
                         "or close other programs", exit_code=1)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    a = ap.parse_args(argv)
    try:
        with warnings.catch_warnings():
            if not a.debug:
                warnings.showwarning = _one_line_warning
            return _dispatch(a, ap)
    except UserError as exc:
        if a.debug:
            raise
        print(f"rtstyle: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early: not an error
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        if a.debug:
            raise
        print("rtstyle: interrupted (Ctrl-C) before the end; no partial output was kept", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure: one line, details behind --debug
        if a.debug:
            raise
        oom = _out_of_memory(exc)
        if oom is not None:
            print(f"rtstyle: error: {_one_line(oom)}", file=sys.stderr)
            return oom.exit_code
        print(f"rtstyle: internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for the "
              f"traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
