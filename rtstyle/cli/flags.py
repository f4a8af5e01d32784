"""Flag groups that several commands share: the style flags, the depth flags, and the run flags of every trainer."""
from __future__ import annotations

import argparse

from ..families import STYLIZING
from ..precision import PRECISIONS
from ..sizes import DEPTH_NET_SIZE


def style_flags(p: argparse.ArgumentParser, video: bool = False, overwrite: bool = True,
                style_help: str | None = None) -> None:
    """--style --model --backend --precision --size --scale --strength --preserve-color --style-scale (+ --smooth for video,
    --overwrite for commands that write files): what image, video, batch and webcam share."""
    p.add_argument("--style", required=True,
                   help=style_help or "style name (rtstyle styles lists them), a painting file (JPEG/PNG, AdaIN), "
                                      "or a mix for the multi-style, lite and AdaIN families: a:0.7,b:0.3 (weights "
                                      "normalised to sum 1; a,b = equal weights)")
    p.add_argument("--model", dest="family", default=None, choices=STYLIZING,
                   help="model family (default: the fastest family with weights for the style)")
    p.add_argument("--backend", default="auto",
                   help="auto | tensorrt | torch-cuda | openvino | onnxruntime | torch "
                        "(default: auto = fastest available)")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="CPU precision (openvino): auto = bf16 where the CPU has bf16 units (AMX, AVX512-BF16), "
                        "else f32; int8 = NNCF-quantized (calibrated once, cached; changes the look a little)")
    p.add_argument("--size", default=None,
                   help="processing size: short side in px (512), a name (720p) or WxH (default: input size)")
    p.add_argument("--scale", type=float, default=None, help="resize factor instead of --size (e.g. 0.5)")
    p.add_argument("--strength", type=float, default=1.0, help="0 = input unchanged .. 1 = full style (default 1)")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the input's colours: transfer the style's luminance only")
    p.add_argument("--style-scale", type=float, default=None,
                   help="stroke size: 2 paints the painting's strokes twice as large on the frame, 0.5 half as "
                        "large (default: as the net learnt them, at most 2x its training photos' size, then "
                        "scaled to the frame; docs/style_scale.md)")
    if video:
        p.add_argument("--smooth", type=float, default=0.0,
                       help="temporal stabiliser 0..1: blend each frame with the previous output warped "
                            "along the optical flow (0 = off, default; 0.8 about halves flicker and softens fine "
                            "texture, see docs/temporal.md)")
    if overwrite:
        p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def depth_flags(p: argparse.ArgumentParser, video: bool = False) -> None:
    """The depth-aware stylization flags of ``rtstyle image`` / ``video`` / ``webcam``."""
    g = p.add_argument_group("depth-aware stylization (Wu & Song): far stylized more, near keeps content")
    g.add_argument("--depth", action="store_true", help="modulate the style per pixel by estimated depth")
    g.add_argument("--depth-strength", type=float, default=1.0,
                   help="how much depth modulates, 0 = not at all .. 1 = fully (default 1)")
    g.add_argument("--near-style", action="store_true", help="invert: near things stylized more than far ones")
    g.add_argument("--depth-size", type=int, default=DEPTH_NET_SIZE,
                   help=f"short side a depth net (--depth-model rt|full) runs at (default {DEPTH_NET_SIZE})")
    g.add_argument("--depth-model", choices=["cues", "rt", "full"], default="cues",
                   help="cues: the row prior with validated image cues, no net, a few ms (on real photos within "
                        "a point of the trained net, docs/depth.md); rt | full: a trained depth net (default cues)")
    if video:
        g.add_argument("--depth-every", type=int, default=1, help="recompute depth every k frames (default 1)")
        g.add_argument("--depth-smooth", type=float, default=0.5,
                       help="temporal EMA of the depth map: weight of the past, 0..<1 (default 0.5)")


def depth_options(a, always: bool = False) -> dict | None:
    """The ``depth`` argument of rtstyle.pipeline.jobs.stylize_images / stylize_video
    (rtstyle.pipeline.depth.from_options): None when --depth is off, unless ``always`` (the
    webcam's d key turns depth on later, with these settings)."""
    if not (always or getattr(a, "depth", False)):
        return None
    return {"strength": a.depth_strength, "near_style": a.near_style, "size": a.depth_size,
            "variant": a.depth_model, "backend": a.backend, "every": getattr(a, "depth_every", 1),
            "smooth": getattr(a, "depth_smooth", 0.0)}


def run_flags(t: argparse.ArgumentParser, log_every: int = 25, ckpt_every: int = 250, batch: int = 4,
              iters: int = 1000, lr: float = 1e-3, batch_help: str | None = None) -> None:
    """The flags every ``rtstyle train`` subcommand shares, with its defaults: batch, steps and
    learning rate, seed, log/checkpoint schedule, time limit, CPU threads, device, precision and
    resuming (rtstyle.train.common.RunConfig, rtstyle.train.loop.TrainLoop)."""
    t.add_argument("--batch", type=int, default=batch, help=batch_help)
    t.add_argument("--iters", type=int, default=iters)
    t.add_argument("--lr", type=float, default=lr)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--log-every", type=int, default=log_every, help="steps between loss-log rows (and a validation)")
    t.add_argument("--ckpt-every", type=int, default=ckpt_every, help="steps between checkpoints and sample grids")
    t.add_argument("--max-minutes", type=float, default=0.0, help="stop with a checkpoint after this long (0 = off)")
    t.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    t.add_argument("--device", default="auto", help="auto (CUDA if present) | cpu | cuda | cuda:N")
    t.add_argument("--no-resume", action="store_true", help="start over even if the run folder has a checkpoint")
    t.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="auto: bf16 autocast on CUDA, and on a CPU with bf16 units where a probe shows it faster")
    t.add_argument("--init", default=None, metavar="WEIGHTS",
                   help="with no checkpoint in the run folder, start from these shipped .safetensors weights "
                        "(their manifest's steps count as done)")


def run_fields(a) -> dict:
    """The config fields every ``rtstyle train`` subcommand takes from :func:`run_flags`."""
    return {"seed": a.seed, "log_every": a.log_every, "ckpt_every": a.ckpt_every, "max_minutes": a.max_minutes,
            "device": a.device, "threads": a.threads, "precision": a.precision,
            "init": str(a.init) if a.init else ""}
