"""``rtstyle export``: a style's trained network (or the depth net) as an ONNX file or TensorRT engine.

The file carries what it needs to be used (rtstyle.export.export_onnx metadata: family, styles,
config, input/output names and ranges, opset, precision), plus the style it was exported for and,
for the extra inputs a family takes, their values for that style: ``style_index`` (multi-style
net: the one-hot row to feed) and ``style_mean``/``style_std`` (AdaIN: the style's relu4_1
statistics, JSON lists of 512 floats, fed as (1, 512, 1, 1)).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from .errors import UserError
from .families import STYLIZING, VECTOR_STYLED

FORMATS = {"onnx": ".onnx", "engine": ".engine"}


def parse_hw(text: str | None) -> tuple[int, int] | None:
    """'dynamic' / None -> None (any size); 'HxW' -> (H, W), height first."""
    if text is None or text.strip().lower() == "dynamic":
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m[1]) < 1 or int(m[2]) < 1:
        raise UserError(f"--size {text!r} is not HxW (height first, e.g. 720x1280) or 'dynamic'")
    return int(m[1]), int(m[2])


def _default_output(stem: str, fmt: str, fp16: bool, size) -> Path:
    parts = [stem] + (["fp16"] if fp16 else []) + ([f"{size[0]}x{size[1]}"] if size else [])
    return Path("-".join(parts) + FORMATS[fmt])


def _check_engine_possible() -> None:
    """A UserError before any work when TensorRT or a CUDA GPU is missing."""
    from . import backends
    reason = backends.unavailable_reason(backends.spec_named("tensorrt"))
    if reason:
        raise UserError(f"--format engine needs TensorRT and a CUDA GPU: {reason}. Export --format onnx "
                        f"here and build the engine on the GPU machine (rtstyle export --format engine "
                        f"there, or --backend tensorrt builds and caches it on first use)", exit_code=1)


def _style_meta(entry, model, style: str) -> dict:
    """Metadata naming the style and, for multi / AdaIN, the extra input values that paint it."""
    manifest = entry.manifest
    meta = {"style": style, "styles": entry.styles, "config": manifest["config"], "weights": entry.path.name}
    for key in ("iterations", "data", "code_revision"):
        if key in manifest:
            meta[f"weights_{key}"] = manifest[key]
    if entry.family in VECTOR_STYLED:
        meta["style_index"] = entry.styles.index(style)
    elif entry.family == "adain":   # one net paints any style: this file carries the one it was exported for
        meta["styles"] = [style]
        import numpy as np
        import torch

        from . import styles
        from .io.images import read_image
        from .models.adain import AdaINNet
        rgb, _ = read_image(styles.style_image(style))
        img = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            mean, std = AdaINNet(decoder=model).style_stats(img)
        meta["style_mean"] = [round(float(v), 6) for v in mean.flatten()]
        meta["style_std"] = [round(float(v), 6) for v in std.flatten()]
    return meta


def _depth_weights(path: Path | None):
    """(weights path, manifest) of the depth net to export: --weights FILE, else the one inference uses."""
    from .checkpoints import read_manifest
    from .depth.apply import find_depth_weights
    if path is not None:
        return path, read_manifest(path)
    try:
        return find_depth_weights()
    except UserError as exc:
        raise UserError(f"{exc}; or pass --weights FILE", exit_code=1) from exc


def export_model(style: str | None = None, family: str | None = None, fmt: str = "onnx", fp16: bool = False,
                 size: tuple[int, int] | None = None, output: Path | None = None, overwrite: bool = False,
                 depth: bool = False, weights: Path | None = None, opset: int | None = None,
                 cache_dir: Path | None = None, log=print) -> Path:
    """Export trained weights to ``output``; returns its path.

    Args:
        style: the style to export for (its trained net, or the AdaIN net with its statistics).
        family: johnson | compact | multi | adain (default: the fastest family with weights for it).
        fmt: 'onnx' or 'engine' (TensorRT; needs TensorRT and a CUDA GPU).
        fp16: ONNX: fp16 weights with float32 inputs/outputs; engine: allow fp16 kernels.
        size: (H, W) for a fixed-shape graph / engine profile; None = any size (dynamic H, W, N).
        output: the file (default ``<style>-<family>[-fp16][-HxW].onnx|.engine`` here).
        depth: export the depth net instead of a style net.
        weights: a specific weights file (with its ``.json`` manifest) instead of choosing one.
        cache_dir: engine builds: where the intermediate ONNX and the engine cache live.
    """
    from . import export, jobs, styles
    from .checkpoints import WeightsError, load_weights, read_manifest
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "engine":
        _check_engine_possible()
    opset = opset or export.DEFAULT_OPSET
    try:
        if depth:
            path, manifest = _depth_weights(weights)
            model, manifest = load_weights(path)
            meta = {"styles": [], "config": manifest["config"], "weights": path.name}
            stem = f"depth-{manifest['config'].get('variant', 'net')}"
        else:
            if not style:
                raise UserError("rtstyle export needs --style NAME (rtstyle styles lists them), or --depth")
            if weights is not None:
                manifest = read_manifest(weights)
                entry = styles.WeightsEntry(manifest["family"], Path(weights), manifest)
                styles.check_style(style)
                if entry.family not in styles.ARBITRARY and style not in entry.styles:
                    raise UserError(f"weights {weights} paint {', '.join(entry.styles)}, not {style!r}")
            else:
                entry = styles.choose(style, family)
            model, manifest = load_weights(entry.path)
            meta = _style_meta(entry, model, style)
            stem = f"{style}-{entry.family}"
    except WeightsError as exc:
        raise UserError(str(exc), exit_code=1) from exc
    family = manifest["family"]
    out = Path(output) if output else _default_output(stem, fmt, fp16, size)
    if out.suffix.lower() not in (FORMATS[fmt], ".plan" if fmt == "engine" else FORMATS[fmt]):
        raise UserError(f"output {out} should end in {FORMATS[fmt]} for --format {fmt}")
    jobs.check_output(out, overwrite)

    if fmt == "onnx":
        export.export_onnx(model, family, out, meta, opset=opset, dynamic=size is None, size=size, fp16=fp16)
        info = export.read_metadata(out)
        log(f"wrote {out} ({family}, {info['precision']}, opset {info['opset']}, "
            f"{'any size' if size is None else f'{size[0]}x{size[1]} (HxW)'}, {out.stat().st_size / 2**20:.1f} MiB)")
        return out

    from .stylizer import default_cache_dir
    cache = Path(cache_dir or default_cache_dir())
    # fp16: the engine is built strongly typed from an fp16 ONNX file (rtstyle.trt_build.network_plan)
    fp16_onnx = {"fp16": True} if fp16 else {}
    digest = export.model_digest(model, family, meta, opset=opset, **fp16_onnx)
    onnx_path = cache / f"{family}-{digest[:16]}{'-fp16' if fp16 else ''}.onnx"
    if not onnx_path.exists():
        export.export_onnx(model, family, onnx_path, meta, opset=opset, **fp16_onnx)
    profile = ((1, 3, *size),) * 3 if size else export.DEFAULT_PROFILE
    engine = export.build_engine(onnx_path, cache, profile, fp16=fp16)
    from .checkpoints import atomic_write
    atomic_write(out, lambda tmp: shutil.copyfile(engine, tmp))
    log(f"wrote {out} (TensorRT {'fp16' if fp16 else 'fp32'}, profile {json.dumps(profile)}; "
        f"cached as {engine})")
    return out


def register(sub) -> None:
    """Add ``rtstyle export`` to the CLI's subparsers (imports nothing heavy: --help stays fast)."""
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
    p.add_argument("--opset", type=int, default=None, help="ONNX opset, 17 or newer (default 17)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="output file (default <style>-<family>[-fp16][-HxW].onnx|.engine here)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run)


def run(a) -> int:
    if a.depth and (a.style or a.family):
        raise UserError("--depth exports the depth net; leave out --style and --model")
    export_model(a.style, a.family, a.fmt, a.fp16, parse_hw(a.size), a.output, a.overwrite, a.depth,
                 a.weights, a.opset)
    return 0
