"""Runtimes behind ``--backend``: the Backend interface and table (base), a module per runtime, select/create.

``select('auto')`` takes the first available row of :data:`BACKENDS` (tensorrt → torch-cuda →
openvino → onnxruntime → torch); ``create`` exports what that runtime needs (ONNX, TensorRT engine) into a
cache folder and returns the loaded :class:`Backend`.
"""
from __future__ import annotations

import difflib
import functools
import importlib
import warnings
from pathlib import Path

import torch.nn as nn

from ..errors import UserError
from .base import BACKENDS, Backend, BackendSpec

ALIASES = {"cuda": "torch-cuda"}
# Python modules each runtime imports (a GPU is spec.needs_gpu).
_MODULES = {
    "tensorrt": ("tensorrt",),
    "torch-cuda": ("torch",),
    "openvino": ("openvino", "onnx"),
    "onnxruntime": ("onnxruntime", "onnx"),
    "torch": ("torch",),
}
_INSTALL = {
    "tensorrt": "pip install 'rtstyle[trt]', which downloads from NVIDIA's index",
    "onnxruntime": "pip install onnxruntime onnx",
    "openvino": "pip install openvino onnx",
}


def names() -> list[str]:
    """Every value --backend accepts."""
    return ["auto", *(s.name for s in BACKENDS), *ALIASES]


def spec_named(name: str) -> BackendSpec:
    name = ALIASES.get(name, name)
    for spec in BACKENDS:
        if spec.name == name:
            return spec
    raise _unknown(name)


@functools.lru_cache(maxsize=None)
def _module_ok(module: str) -> bool:
    # Import, not just find_spec: a package present but broken (missing CUDA libs) is unavailable.
    try:
        importlib.import_module(module)
    except Exception:  # ImportError, OSError from missing shared libraries, ...
        return False
    return True


def _cuda_available() -> bool:
    import torch
    return torch.cuda.is_available()


def unavailable_reason(spec: BackendSpec) -> str | None:
    """Why ``spec`` can't run on this machine (one clause), or None when it can."""
    missing = [m for m in _MODULES.get(spec.name, ()) if not _module_ok(m)]
    reasons = []
    if missing:
        pkgs = " and ".join(f"the {m} package" for m in missing)
        hint = f" ({_INSTALL[spec.name]})" if spec.name in _INSTALL else ""
        reasons.append(f"{pkgs} {'is' if len(missing) == 1 else 'are'} not importable{hint}")
    if spec.needs_gpu and not _cuda_available():
        reasons.append("this machine has no CUDA GPU (torch.cuda.is_available() is False)")
    return "; ".join(reasons) or None


def available(spec: BackendSpec) -> bool:
    """True when the spec's modules import and, if it needs one, a CUDA GPU is present."""
    return unavailable_reason(spec) is None


def _unknown(name: str) -> UserError:
    choices = names()
    close = difflib.get_close_matches(name, choices, n=1) or [c for c in choices if name and c.startswith(name)]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return UserError(f"unknown backend {name!r}{hint} (choose from {', '.join(choices)})")


def select(name: str = "auto", precision: str = "auto") -> BackendSpec:
    """The BackendSpec for a --backend value; ``auto`` = first available row of BACKENDS.

    ``precision`` (--precision: auto | bf16 | f32 | int8) other than auto limits ``auto`` to the
    CPU backends that run it (bf16 / int8: openvino; f32: openvino, onnxruntime, torch).
    Raises UserError for an unknown name (with the closest match), an unavailable backend
    (saying why), or a backend that cannot run ``precision``.
    """
    from .cpu_features import check_precision
    name = name.strip().lower()
    precision = check_precision(precision)
    if name == "auto":
        rows = [s for s in BACKENDS if precision == "auto" or _runs(s, precision)]
        for spec in rows:
            if available(spec):
                return spec
        if precision != "auto":
            raise UserError(f"--precision {precision} needs " + " or ".join(f"--backend {s.name}" for s in rows)
                            + ", and none can run here: " + "; ".join(
                                f"{s.name}: {unavailable_reason(s)}" for s in rows), exit_code=1)
        raise UserError("no backend can run here: " + "; ".join(
            f"{s.name}: {unavailable_reason(s)}" for s in BACKENDS), exit_code=1)
    spec = spec_named(name)
    reason = unavailable_reason(spec)
    if reason:
        needs = " and ".join([f"the {m} package" for m in _MODULES[spec.name]]
                             + (["a CUDA GPU"] if spec.needs_gpu else []))
        raise UserError(f"backend {spec.name!r} needs {needs}; {reason}; use --backend auto")
    if precision != "auto" and not _runs(spec, precision):
        raise _cannot_run(spec, precision)
    return spec


def _cannot_run(spec: BackendSpec, precision: str) -> UserError:
    runs = [s.name for s in BACKENDS if _runs(s, precision)]
    return UserError(f"--precision {precision} needs --backend {' or '.join(runs)} (or auto); {spec.name} runs "
                     f"{spec.precision} only; leave out --precision to run it")


def _runs(spec: BackendSpec, precision: str) -> bool:
    """Whether ``spec`` can run at a forced --precision (bf16/int8: openvino; f32: the CPU rows)."""
    if spec.needs_gpu:
        return False
    return spec.precision == "auto" or precision == "f32"


def _cached_onnx_problem(path: Path, family: str) -> str | None:
    """Why a cached ONNX export can't be used (damaged, or not an rtstyle ``family`` export), or None."""
    from ..export.onnx import read_metadata
    try:
        meta = read_metadata(path)
    except Exception as exc:  # protobuf / onnx raise several types for damaged files
        return f"is damaged ({type(exc).__name__})"
    if meta.get("family") != family:
        return f"is not an rtstyle {family} export (family {meta.get('family')!r})"
    return None


def create(spec: BackendSpec, model: nn.Module, family: str, meta: dict | None = None,
           cache_dir: Path | str = "engines", *, profile=None, opset: int | None = None,
           precision: str = "auto", **options) -> Backend:
    """A loaded Backend running ``model`` on ``spec``'s runtime.

    Args:
        spec: from :func:`select`.
        model: the family's nn.Module (fp32 or fp16, any device); for ``adain`` an AdaINNet or
            just its AdaINDecoder (the encoder is added).
        family: ``johnson`` | ``compact`` | ``multi`` | ``adain`` | ``depth`` (rtstyle.families.FAMILIES).
        meta: written into exported files (``styles``, ``config``...).
        cache_dir: where ONNX exports and TensorRT engines are kept, keyed by weights + options
            (an export happens once; a changed model gets a new file).
        profile: TensorRT (min, opt, max) NCHW shapes for ``image`` (default rtstyle.export.tensorrt.DEFAULT_PROFILE).
        opset: ONNX opset (default rtstyle.export.onnx.DEFAULT_OPSET).
        precision: --precision (auto | bf16 | f32 | int8); openvino runs it, the others only check
            it (see :func:`select`).
        options: passed to the backend class (e.g. ``cuda_graphs``, ``compile`` for torch;
            ``providers``, ``threads`` for onnxruntime).
    """
    from .. import families
    from ..export.onnx import DEFAULT_OPSET, export_onnx, family_net, model_digest, read_metadata
    from ..export.tensorrt import DEFAULT_PROFILE, build_engine
    from .cpu_features import check_precision
    families.family(family)  # fail early on an unknown family
    precision = check_precision(precision)
    if precision != "auto" and not _runs(spec, precision):
        raise _cannot_run(spec, precision)
    model = family_net(model, family)   # an AdaIN decoder gets its encoder
    module = importlib.import_module(f"{__name__}.{spec.module}")
    cls = getattr(module, spec.cls)
    if spec.suffix == "":
        device = "cuda" if spec.needs_gpu else "cpu"
        kwargs = dict(device=device, precision=spec.precision, family=family)
        if device == "cuda":
            kwargs.update(channels_last=True, cuda_graphs=True)
        kwargs.update(options)
        return cls(model, **kwargs).load()

    cache_dir = Path(cache_dir)
    opset = opset or DEFAULT_OPSET
    # An fp16 TensorRT engine is built strongly typed from an fp16 ONNX file (TensorRT 11 has no
    # BuilderFlag.FP16; rtstyle.export.tensorrt.network_plan); every other runtime reads the fp32 file.
    fp16_onnx = {"fp16": True} if spec.suffix == ".engine" and spec.precision == "fp16" else {}
    digest = model_digest(model, family, meta, opset=opset, **fp16_onnx)
    onnx_path = cache_dir / f"{family}-{digest[:16]}{'-fp16' if fp16_onnx else ''}.onnx"
    problem = _cached_onnx_problem(onnx_path, family) if onnx_path.exists() else None
    if problem:   # damaged (an interrupted copy, a full disk) or foreign: never handed to the runtime
        warnings.warn(f"cached ONNX file {onnx_path} {problem}; exporting it again", RuntimeWarning, stacklevel=2)
        onnx_path.unlink(missing_ok=True)
    if not onnx_path.exists():
        try:
            export_onnx(model, family, onnx_path, meta, opset=opset, **fp16_onnx)
        except OSError as exc:
            raise UserError(f"cannot write the ONNX cache {onnx_path}: {exc.strerror or exc}; set RTSTYLE_CACHE "
                            f"to a folder you can write to", exit_code=1) from exc
    if spec.precision == "auto":   # openvino: compiled models cached beside the ONNX file
        return cls(onnx_path, family=family, precision=precision, cache_dir=cache_dir, **options).load()
    if spec.suffix == ".onnx":
        return cls(onnx_path, family=family, **options).load()
    if spec.suffix == ".engine":
        engine = build_engine(onnx_path, cache_dir, profile or DEFAULT_PROFILE,
                                     fp16=spec.precision == "fp16")
        min_size = int(read_metadata(onnx_path).get("min_size", 1))
        return cls(engine, family=family, min_size=min_size, **options).load()
    raise UserError(f"backend {spec.name!r} has an unknown file suffix {spec.suffix!r}", exit_code=1)
