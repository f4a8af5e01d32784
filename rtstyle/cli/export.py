"""``rtstyle export``: its flags (the job is rtstyle.pipeline.jobs.export_model)."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..errors import UserError
from ..pipeline.jobs import FORMATS, export_model
from ..families import STYLIZING


def parse_hw(text: str | None) -> tuple[int, int] | None:
    """'dynamic' / None -> None (any size); 'HxW' -> (H, W), height first."""
    if text is None or text.strip().lower() == "dynamic":
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m[1]) < 1 or int(m[2]) < 1:
        raise UserError(f"--size {text!r} is not HxW (height first, e.g. 720x1280) or 'dynamic'")
    return int(m[1]), int(m[2])


def register(sub) -> None:
    """Add ``rtstyle export`` (imports nothing heavy: --help stays fast)."""
    p = sub.add_parser("export", help="export a style's network to ONNX (or a TensorRT engine)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Write a trained network as an ONNX file with rtstyle metadata, or a "
                                   "TensorRT engine (needs TensorRT and a CUDA GPU).")
    p.add_argument("--style", default=None, help="style name (rtstyle styles lists them)")
    p.add_argument("--model", dest="family", default=None,
                   help=f"{' | '.join(STYLIZING)} (default: the fastest family with weights for the style)")
    p.add_argument("--depth", action="store_true", help="export the depth net instead (needs depth weights)")
    p.add_argument("--weights", type=Path, default=None, help="a weights file (.safetensors with its .json) to export")
    p.add_argument("--format", dest="fmt", choices=list(FORMATS), default="onnx")
    p.add_argument("--fp16", action="store_true",
                   help="onnx: fp16 weights, float32 inputs/outputs; engine: fp16, built strongly typed from that ONNX")
    p.add_argument("--size", default="dynamic",
                   help="HxW (height first, e.g. 720x1280) for a fixed-size graph, or 'dynamic' for any size")
    p.add_argument("--margin", type=int, default=None, metavar="PX",
                   help="px of mirrored edge the graph paints around each frame and cuts off, as rtstyle "
                        "itself paints (default: the net's own, 16 for lite nets; 0 = the bare net)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset, 17 or newer (default 17)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="output file (default <style>-<family>[-fp16][-HxW].onnx|.engine here)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run)


def run(a) -> int:
    if a.depth and (a.style or a.family):
        raise UserError("--depth exports the depth net; leave out --style and --model")
    if a.margin is not None and a.margin < 0:
        raise UserError(f"--margin {a.margin} is negative; use 0 (the bare net) or more pixels")
    if a.depth and a.margin:
        raise UserError("--margin is for style nets; the depth net is exported bare")
    export_model(a.style, a.family, a.fmt, a.fp16, parse_hw(a.size), a.output, a.overwrite, a.depth,
                 a.weights, a.opset, margin=a.margin)
    return 0
