"""OpenVINO (CPU plugin) on an rtstyle ONNX export: bf16 where the CPU has bf16 units, f32
elsewhere, int8 (NNCF post-training quantization) when asked for.

A model is compiled for each frame size a stream repeats (dynamic shapes cost OpenVINO's CPU
plugin 2-3× here, see :meth:`OpenVINOBackend._compiled_for`), from the one dynamic ONNX file.

The compiled-model cache (rtstyle.export.cache.EngineCache, ``<key>.ovblob`` + ``<key>.json``)
is keyed by the ONNX file's sha256, the precision, the input shapes, the OpenVINO version
and the CPU (name and flags); for int8 also the calibration data's digest and the NNCF version.
A changed file, precision, OpenVINO or CPU gives another key, so a stale blob is never used; a
damaged one fails its sha256 check (or OpenVINO's import) and is compiled again.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch

from ..export.cache import EngineCache, cache_key, sha256_file
from ..errors import UserError
from ..export.onnx import family_inputs, pad_min_size, read_metadata
from ..families import family as family_io
from . import cpu_features
from .base import BACKENDS, Backend, check_input_names, check_inputs, onnx_family

_SPEC = next(s for s in BACKENDS if s.name == "openvino")
BLOB_SUFFIX = ".ovblob"
MAX_SHAPES = 4   # shape-specialised compiled models kept per backend (most recently used)
_OV_PRECISION = {"bf16": "bf16", "f32": "f32", "int8": "f32"}   # int8 model: the rest runs f32


class OpenVINOBackend(Backend):
    """Runs an :func:`rtstyle.export.onnx.export_onnx` file on OpenVINO's CPU plugin.

    Args:
        onnx_path: the .onnx file.
        family: the family the caller expects; checked against the file's metadata.
        precision: ``auto`` | ``bf16`` | ``f32`` | ``int8`` (cpu_features.choose_precision).
        threads: inference threads (default ``$RTSTYLE_THREADS``, else OpenVINO's choice: all cores).
        cache_dir: where compiled models are cached (default: the ONNX file's folder).
        calibration: int8 only: a folder of photos to calibrate on (default
            rtstyle.backends.openvino_int8.calibration_photos()).

    ``__call__(image, **extra)``: image (N,3,H,W) float in [0,1] -> (N,C,H,W) float32 CPU
    torch tensor (written by OpenVINO straight into torch memory). ``extra`` as in
    rtstyle.export.onnx.family_inputs.
    """

    spec = _SPEC

    def __init__(self, onnx_path, family: str | None = None, precision: str = "auto",
                 threads: int | None = None, cache_dir=None, calibration=None):
        from .onnxruntime_backend import env_threads
        self.path = Path(onnx_path)
        self.expected_family = family
        self.requested = cpu_features.check_precision(precision)
        self.threads = threads or env_threads()
        self.cache_dir = Path(cache_dir) if cache_dir else self.path.parent
        self.calibration = calibration
        self.precision: str | None = None     # what it runs at, after load()
        self.reason = ""                      # why (cpu_features.choose_precision)
        self.meta: dict = {}
        self.family: str | None = None
        self.cache_hits: dict[str, bool] = {}   # 'dynamic'|'static' -> the last such compile came from the cache
        self._core = self._model = self._int8 = None
        self._compiled: dict[tuple | None, tuple] = {}   # shapes (None: dynamic) -> (compiled model, infer request)
        self._seen: dict[tuple, int] = {}

    # -- loading -----------------------------------------------------------------------------

    def load(self) -> "OpenVINOBackend":
        if self._core is not None:
            return self
        import openvino as ov
        if not self.path.exists():
            raise UserError(f"ONNX file {self.path} does not exist; export it first (rtstyle export)")
        try:
            self.meta = read_metadata(self.path)
        except Exception as exc:  # protobuf raises several types for damaged files
            raise UserError(f"cannot read {self.path} ({type(exc).__name__}); re-export it (rtstyle export)",
                            exit_code=1) from exc
        self.family = onnx_family(self.path, self.meta, self.expected_family)
        self.precision, self.reason = cpu_features.choose_precision(self.requested)
        self._core = ov.Core()
        try:
            self._model = self._core.read_model(str(self.path))
        except Exception as exc:  # OpenVINO's own error types for files it cannot convert
            self._core = None
            raise UserError(f"OpenVINO cannot read {self.path} ({' '.join(str(exc).split())[:200]}); "
                            f"re-export it (rtstyle export) or use --backend onnxruntime", exit_code=1) from exc
        check_input_names(self.path, self.family, [i.get_any_name() for i in self._model.inputs])
        self._onnx_sha = sha256_file(self.path)
        if self.precision != "int8":   # compiles the file once now: a bad file fails at load, not mid-stream
            self._compiled[None] = self._compile(None)
        return self

    def _config(self) -> dict:
        import openvino.properties as props
        import openvino.properties.hint as hints
        cfg = {hints.inference_precision: _OV_PRECISION[self.precision],
               hints.performance_mode: hints.PerformanceMode.LATENCY}
        if self.threads:
            cfg[props.inference_num_threads] = int(self.threads)
        return cfg

    def key_parts(self, shapes: dict | None = None) -> dict:
        """What a compiled model depends on (its cache key's parts); ``shapes`` None = dynamic."""
        import openvino as ov
        cpu = cpu_features.detect()
        parts = {"runtime": "openvino", "onnx_sha256": self._onnx_sha, "precision": self.precision,
                 "shapes": shapes or "dynamic", "openvino_version": ov.get_version(),
                 "cpu_name": cpu.name, "cpu_flags": list(cpu.flags), "threads": self.threads or "default"}
        if self.precision == "int8":
            from . import openvino_int8
            parts.update(openvino_int8.key_parts(self.family, self.calibration))
        return parts

    def _compiled_for(self, shapes: dict):
        """(compiled model, infer request) for inputs of ``shapes`` ({name: [dims]}, model layout).

        Dynamic shapes cost OpenVINO's CPU plugin shape inference and kernel set-up on every call
        (lite net at 256², 1 thread: 58 ms dynamic vs 19 ms static, most of it in the style
        vector's tiny matmuls), so a shape seen twice (a video, a webcam, a benchmark) gets a
        model compiled for exactly that shape; a one-off image runs the dynamic one. int8 always
        specialises (its dynamic model would need quantizing just for one call).
        """
        sig = tuple((k, tuple(v)) for k, v in shapes.items())
        if sig in self._compiled:
            self._compiled[sig] = self._compiled.pop(sig)   # most recently used last
            return self._compiled[sig]
        found = self._compile(shapes, build=False)
        if found is None:
            self._seen[sig] = self._seen.get(sig, 0) + 1
            if self._seen[sig] < 2 and self.precision != "int8":
                if None not in self._compiled:
                    self._compiled[None] = self._compile(None)
                return self._compiled[None]
            found = self._compile(shapes)
        self._compiled[sig] = found
        static = [k for k in self._compiled if k is not None]
        for old in static[:-MAX_SHAPES]:
            del self._compiled[old]
        return found

    def _compile(self, shapes: dict | None, build: bool = True):
        """(compiled model, infer request) for ``shapes`` (None = dynamic): from the cache, else
        (``build``) compiled and stored; None when not cached and not ``build``."""
        parts = self.key_parts(shapes)
        key = cache_key(parts)
        cache = EngineCache(self.cache_dir, BLOB_SUFFIX)
        compiled = None
        path = cache.lookup(key)
        if path is not None:
            try:
                compiled = self._core.import_model(io.BytesIO(path.read_bytes()), "CPU", self._config())
            except Exception as exc:  # an OpenVINO that cannot import it: compile again
                warnings.warn(f"cached OpenVINO model {path.name} does not import ({type(exc).__name__}); "
                              f"compiling it again", RuntimeWarning, stacklevel=2)
                cache.remove(key)
        self.cache_hits["dynamic" if shapes is None else "static"] = compiled is not None
        if compiled is None and not build:
            return None
        if compiled is None:
            model = self._source_model()
            if shapes is not None:
                model = model.clone()
                model.reshape({k: list(v) for k, v in shapes.items()})
            try:
                compiled = self._core.compile_model(model, "CPU", self._config())
            except Exception as exc:  # OpenVINO's error types
                raise UserError(f"OpenVINO cannot compile {self.path.name} at {self.precision} "
                                f"({' '.join(str(exc).split())[:200]}); use --precision f32 or --backend "
                                f"onnxruntime", exit_code=1) from exc
            try:
                blob = compiled.export_model()   # BytesIO in OpenVINO 2025+, bytes before
                cache.store(key, blob.getvalue() if hasattr(blob, "getvalue") else bytes(blob), parts)
            except OSError as exc:   # a read-only cache folder costs a compile per run, nothing else
                warnings.warn(f"cannot cache the compiled OpenVINO model in {self.cache_dir}: "
                              f"{exc.strerror or exc}", RuntimeWarning, stacklevel=2)
        return compiled, compiled.create_infer_request()

    def _source_model(self):
        """The model to compile: the ONNX graph, or (int8) its NNCF-quantized copy, made once."""
        if self.precision != "int8":
            return self._model
        if self._int8 is None:
            from . import openvino_int8
            self._int8 = openvino_int8.quantize(self._model.clone(), self.family, self.meta, self.calibration)
        return self._int8

    def close(self) -> None:
        self._compiled.clear()
        self._seen.clear()
        self._core = self._model = self._int8 = None

    @property
    def label(self) -> str:
        return f"openvino {self.precision or self.requested}"

    # -- running -----------------------------------------------------------------------------

    def __call__(self, image: torch.Tensor, **extra) -> torch.Tensor:
        import openvino as ov
        if self._core is None:
            self.load()
        check_inputs(image)
        size = image.shape[-2:]
        image = pad_min_size(image.to("cpu", torch.float32), int(self.meta.get("min_size", 1))).contiguous()
        args = family_inputs(self.family, image, extra)
        shapes = [p.get_partial_shape() for p in self._model.inputs]
        check_inputs(image, args, [(p.get_any_name(), [d.get_length() if d.is_static else None for d in shape],
                                    str(shape)) for p, shape in zip(self._model.inputs, shapes)], self.path.name)
        names = family_io(self.family).inputs
        compiled, request = self._compiled_for({n: list(t.shape) for n, t in zip(names, args)})
        channels = compiled.outputs[0].get_partial_shape()[1]
        out = None
        if channels.is_static:   # OpenVINO writes straight into torch memory
            out = torch.empty((image.shape[0], channels.get_length(), *image.shape[-2:]))
            request.set_output_tensor(0, ov.Tensor(out.numpy(), shared_memory=True))
        request.infer({i: t.numpy() for i, t in enumerate(args)}, share_inputs=True)
        if out is None:
            out = torch.from_numpy(request.get_output_tensor(0).data.copy())
        return out[..., : size[0], : size[1]].contiguous()   # a copy only when a tiny frame was padded
