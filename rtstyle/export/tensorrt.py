"""TensorRT engines from rtstyle ONNX exports: the optimisation profile, the build, the cache.

An engine is built for one GPU, TensorRT version, precision and profile, so it is built on the
machine that runs it (by rtstyle.backends on first use, or ``rtstyle export --format engine``)
and kept in the engine cache (rtstyle.export.cache) under a key of all of those. The ONNX file
comes from :func:`rtstyle.export.onnx.export_onnx`; rtstyle.export re-exports this module's names.

Untested here: no tensorrt package and no GPU on the build machine.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..files import atomic_write
from ..errors import UserError

# TensorRT optimisation profile for ``image`` (min, opt, max) when none is given: any frame from
# 32×32 up to 1920×1920 (1080p either way round), tuned for 720p.
DEFAULT_PROFILE = ((1, 3, 32, 32), (1, 3, 720, 1280), (1, 3, 1920, 1920))


def import_tensorrt():
    """``import tensorrt`` or a UserError that says how to get it."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise UserError("the TensorRT backend needs the tensorrt package (pip install 'rtstyle[trt]' "
                        "on a machine with an NVIDIA GPU; it downloads from NVIDIA's index); "
                        "use --backend auto", exit_code=1) from exc
    return trt


def onnx_input_shapes(onnx_path) -> dict[str, list]:
    """Each graph input's dims: ints where fixed, the axis name (str) where dynamic."""
    import onnx
    proto = onnx.load(str(onnx_path), load_external_data=False)
    init = {i.name for i in proto.graph.initializer}
    out = {}
    for inp in proto.graph.input:
        if inp.name in init:
            continue
        dims = inp.type.tensor_type.shape.dim
        out[inp.name] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
    return out


def profile_shapes(input_shapes: dict[str, list], image_profile=DEFAULT_PROFILE) -> dict[str, list]:
    """A TensorRT optimisation profile for every input, from ``image`` 's (min, opt, max) shapes.

    Dynamic axes named like the image's (N, H, W) take the image's value; other dynamic axes
    (alpha's Ha, Wa) are 1; fixed axes keep their size. Returns ``{name: [min, opt, max]}``.
    """
    image_profile = [list(map(int, s)) for s in image_profile]
    if len(image_profile) != 3 or any(len(s) != 4 for s in image_profile):
        raise UserError(f"a profile is (min, opt, max) NCHW shapes, got {image_profile}")
    for lo, opt, hi in zip(*image_profile):
        if not lo <= opt <= hi:
            raise UserError(f"profile needs min <= opt <= max on every axis, got {image_profile}")
    axis_names = {"N": 0, "H": 2, "W": 3}
    image_dims = input_shapes.get("image")
    if image_dims is not None:
        axis_names = {d: i for i, d in enumerate(image_dims) if isinstance(d, str)}
    out = {}
    for name, dims in input_shapes.items():
        shapes = []
        for s in image_profile:
            shape = []
            for i, d in enumerate(dims):
                if isinstance(d, int) and d > 0:
                    shape.append(d)
                elif name == "image":
                    shape.append(s[i])
                elif d in axis_names:
                    shape.append(s[axis_names[d]])
                else:
                    shape.append(1)
            shapes.append(shape)
        out[name] = shapes
    return out


def build_engine(onnx_path, cache_dir, profile=DEFAULT_PROFILE, fp16: bool = True,
                 timing_cache: Path | None = None, workspace_gib: float | None = None,
                 logger=None) -> Path:
    """Build (or fetch from the cache) a serialized TensorRT engine for ``onnx_path``.

    Args:
        onnx_path: an :func:`rtstyle.export.onnx.export_onnx` file (fp32 weights; TensorRT picks fp16
            kernels itself).
        cache_dir: the engine cache (rtstyle.export.cache) and, by default, the timing cache.
        profile: (min, opt, max) NCHW shapes for ``image``; other inputs follow
            (:func:`profile_shapes`).
        fp16: allow fp16 kernels (BuilderFlag.FP16).
        timing_cache: file of layer timings reused between builds (default ``cache_dir/timing.cache``).
        workspace_gib: cap on the builder's workspace memory pool.
    Returns the engine path. Untested here (no TensorRT, no GPU): written against the TensorRT 10
    Python API (also 8.6: the EXPLICIT_BATCH flag is passed where the version still has it).
    """
    from .cache import EngineCache, engine_key, key_parts, sha256_file
    trt = import_tensorrt()
    if not torch.cuda.is_available():
        raise UserError("building a TensorRT engine needs a CUDA GPU; this machine has none; "
                        "use --backend auto", exit_code=1)
    onnx_path, cache_dir = Path(onnx_path), Path(cache_dir)
    shapes = profile_shapes(onnx_input_shapes(onnx_path), profile)
    precision = "fp16" if fp16 else "fp32"
    parts = key_parts(sha256_file(onnx_path), shapes, torch.cuda.get_device_name(),
                      list(torch.cuda.get_device_capability()), trt.__version__, precision)
    key = engine_key(**parts)
    cache = EngineCache(cache_dir)
    logger = logger or trt.Logger(trt.Logger.WARNING)

    def deserialises(path: Path) -> bool:
        return trt.Runtime(logger).deserialize_cuda_engine(path.read_bytes()) is not None

    hit = cache.lookup(key, validator=deserialises)
    if hit is not None:
        return hit

    builder = trt.Builder(logger)
    flags = 0
    if int(trt.__version__.split(".")[0]) < 10:  # TensorRT 10 networks are always explicit-batch
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserError(f"TensorRT could not parse {onnx_path}: {errors}; re-export it "
                        f"(rtstyle export) or use --backend onnxruntime", exit_code=1)
    config = builder.create_builder_config()
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if workspace_gib:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    opt_profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in shapes.items():
        opt_profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(opt_profile)

    timing_path = Path(timing_cache) if timing_cache else cache_dir / "timing.cache"
    timing_bytes = timing_path.read_bytes() if timing_path.exists() else b""
    tc = config.create_timing_cache(timing_bytes)
    config.set_timing_cache(tc, ignore_mismatch=False)

    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise UserError(f"TensorRT failed to build an engine from {onnx_path} (see the log above); "
                        f"use --backend onnxruntime or torch-cuda", exit_code=1)
    data = bytes(engine)
    updated = bytes(config.get_timing_cache().serialize())
    atomic_write(timing_path, lambda tmp: Path(tmp).write_bytes(updated))
    return cache.store(key, data, {**parts, "onnx_path": str(onnx_path)})
