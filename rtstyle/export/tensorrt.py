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
# 32×32 up to 2160×3840 (landscape 4K UHD; portrait frames up to 2160 tall, so portrait 1080p
# too), tuned for 720p. A larger frame is refused with one line that says how to rebuild
# (:func:`outside_profile`); activations for the max shape cost ~2-3 GB of device memory.
DEFAULT_PROFILE = ((1, 3, 32, 32), (1, 3, 720, 1280), (1, 3, 2160, 3840))
# Inputs whose H/W are a map over the image (depth-aware AdaIN's ``alpha``): from 1×1 (a scalar
# strength) up to the image's own size.
MAP_INPUTS = ("alpha",)


def widen_profile(profile, margin: int):
    """``profile`` for a net that paints frames over a mirrored ``margin`` outside its graph
    (rtstyle.ops.paint_with_margin): opt and max H, W grow by 2 × margin, so every frame the
    profile names still fits once mirrored; min stays."""
    m = 2 * int(margin)
    (lo, opt, hi) = [tuple(map(int, s)) for s in profile]
    grow = lambda s: (*s[:2], s[2] + m, s[3] + m)   # noqa: E731
    return lo, grow(opt), grow(hi)


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

    Dynamic axes named like the image's (N, H, W) take the image's value; a map input's
    (:data:`MAP_INPUTS`: alpha's Ha, Wa) go from 1 (a scalar strength) at min to the image's H, W
    at opt and max; other dynamic axes are 1; fixed axes keep their size.
    Returns ``{name: [min, opt, max]}``.
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
        for level, s in enumerate(image_profile):
            shape = []
            for i, d in enumerate(dims):
                if isinstance(d, int) and d > 0:
                    shape.append(d)
                elif name == "image":
                    shape.append(s[i])
                elif d in axis_names:
                    shape.append(s[axis_names[d]])
                elif name in MAP_INPUTS and i in (len(dims) - 2, len(dims) - 1):
                    shape.append(1 if level == 0 else s[i])   # 1×1 .. the image's H, W
                else:
                    shape.append(1)
            shapes.append(shape)
        out[name] = shapes
    return out


def outside_profile(name: str, shape, lo, hi) -> str | None:
    """None when ``shape`` fits the profile range [lo, hi] of input ``name``; else the one-line
    reason and the rebuild rule (a UserError message)."""
    shape, lo, hi = tuple(map(int, shape)), tuple(map(int, lo)), tuple(map(int, hi))
    if len(shape) == len(lo) == len(hi) and all(a <= x <= b for a, x, b in zip(lo, shape, hi)):
        return None
    return (f"input {name!r} of shape {shape} is outside the TensorRT engine's profile {lo}..{hi}; "
            f"shrink the frames (--size / --scale) or build an engine for them: "
            f"rtstyle export --format engine --size HxW (or delete the engine cache to rebuild)")


def onnx_precision(onnx_path) -> str:
    """The ``precision`` an rtstyle export recorded in its metadata ('fp32' when absent)."""
    import onnx
    proto = onnx.load(str(onnx_path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}.get("precision", "fp32")


def network_plan(trt, onnx_precision: str, fp16: bool) -> tuple[int, str | None]:
    """(create_network flags, builder flag to set or None) for a build.

    An fp16 ONNX export (fp16 weights, float32 I/O, instance norm kept fp32) is built as a
    strongly typed network: the precision comes from the graph, as TensorRT 11 requires (it has no
    BuilderFlag.FP16) and 10.x supports. An fp32 file with ``fp16`` asks for the weakly typed
    BuilderFlag.FP16, which only TensorRT < 11 has; on 11 that is a UserError saying to export fp16.
    """
    major = int(str(trt.__version__).split(".")[0])
    flags = 0
    if major < 10:  # TensorRT 10 networks are always explicit-batch
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    if onnx_precision == "fp16":
        strong = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
        if strong is not None:
            flags |= 1 << int(strong)
        return flags, None
    if not fp16:
        return flags, None
    if not hasattr(trt.BuilderFlag, "FP16"):
        raise UserError(f"TensorRT {trt.__version__} has no BuilderFlag.FP16 (removed in 11): build the engine "
                        f"from an fp16 ONNX export (rtstyle export --fp16), or install 'tensorrt>=10,<11'",
                        exit_code=1)
    return flags, "FP16"


def build_engine(onnx_path, cache_dir, profile=DEFAULT_PROFILE, fp16: bool = True,
                 timing_cache: Path | None = None, workspace_gib: float | None = None,
                 logger=None) -> Path:
    """Build (or fetch from the cache) a serialized TensorRT engine for ``onnx_path``.

    Args:
        onnx_path: an :func:`rtstyle.export.onnx.export_onnx` file. An fp16 export is built strongly
            typed (its precision is the graph's); an fp32 one with ``fp16`` uses the weakly typed
            BuilderFlag.FP16 (TensorRT 10 only; see :func:`network_plan`).
        cache_dir: the engine cache (rtstyle.export.cache) and, by default, the timing cache.
        profile: (min, opt, max) NCHW shapes for ``image``; other inputs follow
            (:func:`profile_shapes`).
        fp16: an fp16 engine (part of the cache key).
        timing_cache: file of layer timings reused between builds (default ``cache_dir/timing.cache``).
        workspace_gib: cap on the builder's workspace memory pool.
    Returns the engine path. Not run here (no TensorRT, no GPU): written against the TensorRT 10
    Python API and 11's strong typing (8.6: the EXPLICIT_BATCH flag is passed where it is still
    needed); tests/test_export.py drives it with a fake ``tensorrt`` module.
    """
    from .cache import EngineCache, engine_key, key_parts, sha256_file
    trt = import_tensorrt()
    if not torch.cuda.is_available():
        raise UserError("building a TensorRT engine needs a CUDA GPU; this machine has none; "
                        "use --backend auto", exit_code=1)
    onnx_path, cache_dir = Path(onnx_path), Path(cache_dir)
    shapes = profile_shapes(onnx_input_shapes(onnx_path), profile)
    flags, builder_flag = network_plan(trt, onnx_precision(onnx_path), fp16)
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
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserError(f"TensorRT could not parse {onnx_path}: {errors}; re-export it "
                        f"(rtstyle export) or use --backend onnxruntime", exit_code=1)
    config = builder.create_builder_config()
    if builder_flag:
        config.set_flag(getattr(trt.BuilderFlag, builder_flag))
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
