"""The jobs behind the CLI: stylize images and videos, list styles, export a net. No argparse here.

An export (``rtstyle export``) carries what the file needs to be used (rtstyle.export.onnx
metadata: family, styles, config, input/output names and ranges, opset, precision), plus the style
it was exported for and, for the extra inputs a family takes, their values for that style:
``style_index`` (multi-style net: the one-hot row to feed) and ``style_mean``/``style_std``
(AdaIN: the style's relu4_1 statistics, JSON lists of 512 floats, fed as (1, 512, 1, 1)).
"""
from __future__ import annotations

import collections
import json
import os
import shutil
import sys
import time
from fractions import Fraction
from pathlib import Path

from ..errors import UserError
from ..families import ARBITRARY, VECTOR_STYLED, net_margin
from ..files import check_input, check_output
from ..sizes import target_size

IMAGE_OUT_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
# Largest frame stylized (after --size/--scale): the nets' activations grow with the pixels, and
# past this a run needs tens of GB of (GPU) memory. 64 Mpx still takes a 48 Mpx phone photo.
MAX_MEGAPIXELS = 64


def check_pixels(what, w: int, h: int, size=None, scale: float | None = None) -> None:
    """Refuse a ``w``×``h`` input whose processing size (after --size/--scale) is over MAX_MEGAPIXELS."""
    tw, th = target_size(w, h, size, scale)
    if tw * th > MAX_MEGAPIXELS * 1e6:
        fit = int((MAX_MEGAPIXELS * 1e6 / (w * h)) ** 0.5 * 20) / 20 or 0.05   # a --scale that fits, 0.05 steps
        raise UserError(f"{what} is {w}x{h}: stylizing it at {tw}x{th} ({tw * th / 1e6:.0f} megapixels) is over "
                        f"the {MAX_MEGAPIXELS} megapixel limit (memory); pass --size 2160 or --scale {fit:g}")


def list_styles(out=None) -> None:
    """Print each bundled style, its image size, the weights file that paints it without --model on
    a CPU and on a GPU, and which families have trained weights for it."""
    out = out or sys.stdout  # looked up now: a default bound at import would outlive a redirected stdout
    import cv2

    from .. import styles
    entries = styles.weights_entries()
    arbitrary = sorted({e.family for e in entries if e.family in ARBITRARY})

    def default(name: str, gpu: bool) -> str:
        """The family of the net it gets by default, or its file's name where that net is shared."""
        try:
            e = styles.choose(name, gpu=gpu)
        except UserError:
            return "-"
        return e.family if e.styles == [name] else e.path.stem
    rows = []
    for name in styles.style_names():
        img = cv2.imread(str(styles.STYLE_DIR / f"{name}.jpg"), cv2.IMREAD_UNCHANGED)
        size = f"{img.shape[1]}x{img.shape[0]}" if img is not None else "?"
        fams = sorted({e.family for e in entries if name in e.styles}) + arbitrary
        rows.append((name, size, default(name, False), default(name, True),
                     ", ".join(fams) if fams else "- (no weights yet)"))
    width = max(len(r[0]) for r in rows)
    cw = max(len("on a CPU"), *(len(r[2]) for r in rows))
    gw = max(len("on a GPU"), *(len(r[3]) for r in rows))
    print(f"{'style':<{width}}  {'image':>9}  {'on a CPU':<{cw}}  {'on a GPU':<{gw}}  trained families", file=out)
    for name, size, cpu, gpu, fams in rows:
        print(f"{name:<{width}}  {size:>9}  {cpu:<{cw}}  {gpu:<{gw}}  {fams}", file=out)
    any_painting = (f"any painting file (--style path/to/painting.jpg, or a folder of them for the webcam): "
                    f"{', '.join(arbitrary)}" if arbitrary else
                    "any painting file: needs AdaIN weights (none installed; rtstyle train adain)")
    print(f"\non a CPU / on a GPU: the net that paints it without --model (a file name: one net shared by "
          f"several styles)\n{any_painting}", file=out)
    print(f"\n{len(rows)} styles; weights from {os.pathsep.join(str(d) for d in styles.weights_dirs())}", file=out)


def _image_outputs(inputs: list[Path], out: Path, suffix: str | None) -> list[Path]:
    if len(inputs) > 1 or out.is_dir() or (not out.suffix and not out.exists()):
        out.mkdir(parents=True, exist_ok=True)
        return [out / (p.stem + (suffix or p.suffix if p.suffix.lower() in IMAGE_OUT_SUFFIXES else ".png"))
                for p in inputs]
    if out.suffix.lower() not in IMAGE_OUT_SUFFIXES:
        raise UserError(f"output {out} has an unknown image extension; use one of {', '.join(sorted(IMAGE_OUT_SUFFIXES))}")
    return [out]


def stylize_images(inputs: list[Path], out: Path, style: str, family=None, backend="auto", size=None,
                   scale=None, strength=1.0, overwrite=False, method="net", iters=500, log=print,
                   depth: dict | None = None, preserve_color: bool = False,
                   style_scale: float | None = None, precision: str = "auto") -> list[Path]:
    """Stylize each image to ``out`` (a file for one input, else a folder); alpha is carried over.
    ``preserve_color``: keep each image's colours, transfer the style's luminance only."""
    from ..io.images import image_size, read_image, write_image
    for p in inputs:
        check_input(p)
        wh = image_size(p)   # PNG/JPEG header: refuse a giant before decoding it
        if wh is not None:
            check_pixels(p, *wh, size, scale)
    outs = _image_outputs(inputs, out, None)
    for src, dst in zip(inputs, outs):
        check_output(dst, overwrite, inputs)
    if method == "gatys":
        return _gatys_images(inputs, outs, style, size, scale, iters, log, preserve_color)
    from .depth import from_options
    from .processors import stylize_frames
    from .stylizer import Stylizer
    in_flight = collections.deque()   # (src, dst, alpha, start time) of each image, in order

    def frames():
        for src, dst in zip(inputs, outs):
            rgb, alpha = read_image(src)
            check_pixels(src, rgb.shape[1], rgb.shape[0], size, scale)
            in_flight.append((src, dst, alpha, time.perf_counter()))
            yield rgb

    def write(y):
        src, dst, alpha, t0 = in_flight.popleft()
        if alpha is not None and alpha.shape[:2] != y.shape[:2]:
            import cv2
            alpha = cv2.resize(alpha, (y.shape[1], y.shape[0]), interpolation=cv2.INTER_LINEAR)
        write_image(dst, y, alpha)
        log(f"{src} -> {dst} ({y.shape[1]}x{y.shape[0]}, {1000 * (time.perf_counter() - t0):.0f} ms)")

    with Stylizer(style, family, backend, strength, size, scale, depth=from_options(depth),
                  preserve_color=preserve_color, style_scale=style_scale, precision=precision) as st:
        log(f"style {st.label}")
        stylize_frames(frames(), st, write)   # the frame loop of videos too (CUDA: pinned, overlapped)
    return outs


def _gatys_images(inputs, outs, style, size, scale, iters, log, preserve_color=False):
    import cv2

    from .. import styles
    from .gatys import stylize_gatys
    from ..io.images import read_image, write_image
    from ..ops import to_uint8, to_tensor
    srgb, _ = read_image(styles.style_image(style))
    s = to_tensor(srgb)
    for src, dst in zip(inputs, outs):
        rgb, alpha = read_image(src)
        tw, th = target_size(rgb.shape[1], rgb.shape[0], size, scale)
        rgb = cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_AREA) if (tw, th) != rgb.shape[1::-1] else rgb
        c = to_tensor(rgb)
        t0 = time.perf_counter()
        y = stylize_gatys(c, s, iters=iters)
        y = y.output if hasattr(y, "output") else y
        if preserve_color:
            from ..ops import preserve_color as keep_color
            y = keep_color(y.detach(), c)
        img = to_uint8(y)
        if alpha is not None and alpha.shape[:2] != img.shape[:2]:
            alpha = cv2.resize(alpha, (img.shape[1], img.shape[0]))
        write_image(dst, img, alpha)
        log(f"{src} -> {dst} (gatys, {iters} iterations, {time.perf_counter() - t0:.1f} s)")
    return outs


def stylize_video(src: Path, dst: Path, style: str, family=None, backend="auto", size=None, scale=None,
                  strength=1.0, max_frames: int | None = None, overwrite=False, progress=True, log=print,
                  depth: dict | None = None, preserve_color: bool = False, smooth: float = 0.0,
                  style_scale: float | None = None, precision: str = "auto"):
    """Stylize a video file to an H.264 mp4 with the source's frame rate and audio.

    ``preserve_color``: transfer the style's luminance only. ``smooth`` (0..1): temporal
    stabiliser strength (rtstyle.pipeline.temporal.TemporalSmoother), 0 = off.

    Nothing appears at ``dst`` unless the whole video was written. Returns the stage times.
    """
    from tqdm import tqdm

    from .processors import stylize_frames, video_codec
    from ..io.video import VideoReader, probe
    from ..io.video_writer import VideoWriter
    from .stylizer import Stylizer
    check_input(src)
    check_output(dst, overwrite, [src])
    if dst.suffix.lower() not in (".mp4", ".mov", ".mkv", ".m4v"):
        raise UserError(f"output {dst} must end in .mp4, .mov, .mkv or .m4v (H.264 video)")
    if max_frames is not None and max_frames < 1:
        raise UserError(f"--max-frames {max_frames} must be at least 1")
    if not 0.0 <= smooth <= 1.0:
        raise UserError(f"--smooth {smooth} is outside [0, 1]; 0 = off, e.g. 0.8 for steadier video")
    info = probe(src)
    check_pixels(src, info.width, info.height, size, scale)
    total = info.frame_count or None
    if max_frames:
        total = min(total, max_frames) if total else max_frames
    out_w, out_h = target_size(info.width, info.height, size, scale)
    from .depth import from_options
    with Stylizer(style, family, backend, strength, size, scale, depth=from_options(depth, video=True),
                  preserve_color=preserve_color, style_scale=style_scale, precision=precision) as st:
        log(f"style {st.label}; {src.name}: {info.width}x{info.height} @ {float(info.fps):.3g} fps"
            f"{', audio' if info.has_audio else ''} -> {out_w}x{out_h}" + (f", smooth {smooth:g}" if smooth else ""))
        bar = tqdm(total=total, unit="frame", desc="stylize", disable=not progress, dynamic_ncols=True)
        audio_until = (total / float(info.fps)) if (max_frames and total) else None

        reader = VideoReader(src, warn=False)   # a truncated input is refused below, not warned about
        stamps = collections.deque()   # source times of the frames in flight, in order (VFR stays VFR)

        def frames():
            with reader:
                for i, (rgb, pts) in enumerate(reader):
                    stamps.append(pts)
                    yield rgb
                    if max_frames and i + 1 >= max_frames:
                        return   # before decoding one more: the rest of the file is not looked at

        # On a CUDA stylizer: pinned ring buffers + copy/compute streams, and NVENC if PyAV has it.
        try:
            with VideoWriter(dst, info.fps, (out_w, out_h), audio_from=src if info.has_audio else None,
                             audio_until=audio_until, codec=video_codec(st, out_w, out_h, info.fps),
                             time_base=Fraction(1, 90000) if info.variable_rate else None) as writer:
                times = stylize_frames(frames(), st, lambda rgb: writer.write(rgb, stamps.popleft()),
                                       on_frame=lambda n: bar.update(1), smooth=smooth)
                if reader.truncated:   # raised inside the writer's block: the partial output is deleted
                    keep = (f", or pass --max-frames {reader.frames_read} to stylize the frames that decode"
                            if reader.frames_read else "")
                    raise UserError(f"input {src} is truncated or damaged: {reader.truncated}; nothing was "
                                    f"written; re-download or re-export it{keep}")
        finally:
            bar.close()   # before any error line, so that starts on a line of its own
    log(f"wrote {dst}: {times.summary()}")
    return times


# -- rtstyle export ---------------------------------------------------------------------------

FORMATS = {"onnx": ".onnx", "engine": ".engine"}


def _default_output(stem: str, fmt: str, fp16: bool, size) -> Path:
    parts = [stem] + (["fp16"] if fp16 else []) + ([f"{size[0]}x{size[1]}"] if size else [])
    return Path("-".join(parts) + FORMATS[fmt])


def _check_engine_possible() -> None:
    """A UserError before any work when TensorRT or a CUDA GPU is missing."""
    from .. import backends
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
    elif entry.family in ARBITRARY:   # one net paints any style: this file carries the one it was exported for
        meta["styles"] = [style]
        from ..styles import adain_style_stats
        mean, std = adain_style_stats(model, style)
        meta["style_mean"] = [round(float(v), 6) for v in mean.flatten()]
        meta["style_std"] = [round(float(v), 6) for v in std.flatten()]
    return meta


def _depth_weights(path: Path | None):
    """(weights path, manifest) of the depth net to export: --weights FILE, else the one inference uses."""
    from ..weights import read_manifest
    from .depth import find_depth_weights
    if path is not None:
        return path, read_manifest(path)
    try:
        return find_depth_weights()
    except UserError as exc:
        raise UserError(f"{exc}; or pass --weights FILE", exit_code=1) from exc


def export_model(style: str | None = None, family: str | None = None, fmt: str = "onnx", fp16: bool = False,
                 size: tuple[int, int] | None = None, output: Path | None = None, overwrite: bool = False,
                 depth: bool = False, weights: Path | None = None, opset: int | None = None,
                 cache_dir: Path | None = None, log=print, margin: int | None = None) -> Path:
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
        margin: px of mirrored edge the graph paints around each frame and cuts off (as the Stylizer
            does); None = the net's own (its family's ``edge_margin`` or the manifest's ``margin``,
            the larger), 0 = the bare net.
    """
    from .. import styles
    from ..export.onnx import DEFAULT_OPSET, export_onnx, model_digest, read_metadata
    from ..export.tensorrt import DEFAULT_PROFILE, build_engine
    from ..weights import load_weights, read_manifest
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "engine":
        _check_engine_possible()
    opset = opset or DEFAULT_OPSET
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
            if entry.family not in ARBITRARY and style not in entry.styles:
                raise UserError(f"weights {weights} paint {', '.join(entry.styles)}, not {style!r}")
        else:
            entry = styles.choose(style, family)
        model, manifest = load_weights(entry.path)
        meta = _style_meta(entry, model, style)
        stem = f"{style}-{entry.family}"
    family = manifest["family"]
    if margin is None:
        margin = 0 if depth else net_margin(family, manifest)
    out = Path(output) if output else _default_output(stem, fmt, fp16, size)
    if out.suffix.lower() not in (FORMATS[fmt], ".plan" if fmt == "engine" else FORMATS[fmt]):
        raise UserError(f"output {out} should end in {FORMATS[fmt]} for --format {fmt}")
    check_output(out, overwrite)

    if fmt == "onnx":
        export_onnx(model, family, out, meta, opset=opset, dynamic=size is None, size=size, fp16=fp16, margin=margin)
        info = read_metadata(out)
        edge = f", {margin}-px mirrored edge margin" if margin else ""
        log(f"wrote {out} ({family}, {info['precision']}, opset {info['opset']}, "
            f"{'any size' if size is None else f'{size[0]}x{size[1]} (HxW)'}{edge}, "
            f"{out.stat().st_size / 2**20:.1f} MiB)")
        return out

    from ..export.cache import default_cache_dir
    cache = Path(cache_dir or default_cache_dir())
    # fp16: the engine is built strongly typed from an fp16 ONNX file (rtstyle.export.tensorrt.network_plan)
    fp16_onnx = {"fp16": True} if fp16 else {}
    edge = {"margin": margin} if margin else {}   # the backends' cached bare-net files keep their keys
    digest = model_digest(model, family, meta, opset=opset, **fp16_onnx, **edge)
    onnx_path = cache / f"{family}-{digest[:16]}{'-fp16' if fp16 else ''}.onnx"
    if not onnx_path.exists():
        export_onnx(model, family, onnx_path, meta, opset=opset, **fp16_onnx, **edge)
    profile = ((1, 3, *size),) * 3 if size else DEFAULT_PROFILE
    engine = build_engine(onnx_path, cache, profile, fp16=fp16)
    from ..files import atomic_write
    atomic_write(out, lambda tmp: shutil.copyfile(engine, tmp))
    log(f"wrote {out} (TensorRT {'fp16' if fp16 else 'fp32'}, profile {json.dumps(profile)}"
        f"{f', {margin}-px mirrored edge margin' if margin else ''}; "
        f"cached as {engine})")
    return out
