"""The jobs behind the CLI: stylize images and videos, list styles. No argparse here."""
from __future__ import annotations

import collections
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

from ..errors import UserError
from ..families import ARBITRARY
from ..sizes import target_size
from ..files import check_input, check_output

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
    """Print each bundled style, its image size and which families have trained weights for it."""
    out = out or sys.stdout  # looked up now: a default bound at import would outlive a redirected stdout
    import cv2

    from .. import styles
    entries = styles.weights_entries()
    arbitrary = sorted({e.family for e in entries if e.family in ARBITRARY})
    rows = []
    for name in styles.style_names():
        img = cv2.imread(str(styles.STYLE_DIR / f"{name}.jpg"), cv2.IMREAD_UNCHANGED)
        size = f"{img.shape[1]}x{img.shape[0]}" if img is not None else "?"
        fams = sorted({e.family for e in entries if name in e.styles}) + arbitrary
        rows.append((name, size, ", ".join(fams) if fams else "- (no weights yet)"))
    width = max(len(r[0]) for r in rows)
    print(f"{'style':<{width}}  {'image':>9}  trained families", file=out)
    for name, size, fams in rows:
        print(f"{name:<{width}}  {size:>9}  {fams}", file=out)
    any_painting = (f"any painting file (--style path/to/painting.jpg, or a folder of them for the webcam): "
                    f"{', '.join(arbitrary)}" if arbitrary else
                    "any painting file: needs AdaIN weights (none installed; rtstyle train adain)")
    print(f"{'':<{width}}  {'':>9}  {any_painting}", file=out)
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
