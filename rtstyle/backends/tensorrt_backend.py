"""TensorRT engine on torch CUDA tensors (TensorRT 10 name-based tensor API; no pycuda/cuda-python).

Not exercised: TensorRT cannot be installed on the machine this was written on (the PyPI package
downloads from NVIDIA's index) and it has no GPU. Written against the official Python API:
``trt.Runtime.deserialize_cuda_engine``, ``ICudaEngine.num_io_tensors`` / ``get_tensor_name`` /
``get_tensor_mode`` / ``get_tensor_dtype``, ``IExecutionContext.set_input_shape`` /
``get_tensor_shape`` / ``set_tensor_address`` / ``execute_async_v3``. What *is* tested here: the
lazy import (a clear UserError without tensorrt), and the engine cache and profile maths it relies
on (tests/test_engine_cache.py, tests/test_export.py).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UserError
from ..export.onnx import family_inputs, pad_min_size
from ..export.tensorrt import import_tensorrt, outside_profile
from ..families import family as family_io
from .base import BACKENDS, Backend

_SPEC = next(s for s in BACKENDS if s.name == "tensorrt")


def _torch_dtype(trt, dtype) -> torch.dtype:
    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32,
             trt.int8: torch.int8, trt.bool: torch.bool}
    if hasattr(trt, "bfloat16"):
        table[trt.bfloat16] = torch.bfloat16
    if hasattr(trt, "int64"):
        table[trt.int64] = torch.int64
    try:
        return table[dtype]
    except KeyError:
        raise UserError(f"engine tensor dtype {dtype} is not supported by rtstyle; rebuild the engine "
                        f"from an rtstyle ONNX export", exit_code=1) from None


class TensorRTBackend(Backend):
    """Runs a serialized engine from :func:`rtstyle.export.tensorrt.build_engine`.

    ``__call__(image, **extra)``: image (N,3,H,W) float in [0,1], any device -> (N,C,H,W) float32
    CUDA tensor. Input shapes are set per call, so any shape inside the engine's optimisation
    profile works. Work is queued on torch's current CUDA stream (no synchronisation here).
    """

    spec = _SPEC

    def __init__(self, engine_path, family: str | None = None, device: str = "cuda", min_size: int = 1):
        self.path = Path(engine_path)
        self.family = family
        self.min_size = min_size   # the net's smallest H, W (ONNX metadata ``min_size``)
        self._device = torch.device(device)
        self.engine = self.context = None

    def load(self) -> "TensorRTBackend":
        if self.context is not None:
            return self
        trt = import_tensorrt()
        if not torch.cuda.is_available():
            raise UserError("the TensorRT backend needs a CUDA GPU; this machine has none; "
                            "use --backend auto", exit_code=1)
        if not self.path.exists():
            raise UserError(f"TensorRT engine {self.path} does not exist; build it with rtstyle export "
                            f"--backend tensorrt", exit_code=1)
        self._trt = trt
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        with torch.cuda.device(self._device):
            self.engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
            if self.engine is None:
                raise UserError(f"TensorRT could not load {self.path} (built by another TensorRT "
                                f"version or GPU?); delete it and it is rebuilt", exit_code=1)
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.input_names = [n for n in names if is_input[n]]
        self.output_names = [n for n in names if not is_input[n]]
        self._dtypes = {n: _torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}
        # (min, max) of each input in profile 0, so a frame outside it fails with one line
        self._ranges = {n: tuple(tuple(d) for d in self.engine.get_tensor_profile_shape(n, 0))[::2]
                        for n in self.input_names}
        if self.family is not None:
            want = family_io(self.family).inputs
            if sorted(self.input_names) != sorted(want):
                raise UserError(f"engine {self.path} has inputs {self.input_names}, a {self.family!r} "
                                f"net takes {list(want)}; delete it and it is rebuilt", exit_code=1)
        return self

    def close(self) -> None:
        self.context = self.engine = None

    def __call__(self, image: torch.Tensor, **extra) -> torch.Tensor:
        if self.context is None:
            self.load()
        size = image.shape[-2:]
        image = image.to(self._device, self._dtypes.get("image", torch.float32))
        image = pad_min_size(image, self.min_size).contiguous()
        if self.family is not None:
            args = dict(zip(family_io(self.family).inputs, family_inputs(self.family, image, extra)))
        else:
            args = {"image": image, **extra}
        bound = {}
        for name in self.input_names:
            t = torch.as_tensor(args[name], device=self._device).to(self._dtypes[name]).contiguous()
            lo, hi = self._ranges.get(name, (t.shape, t.shape))
            why = outside_profile(name, t.shape, lo, hi)
            if why is None and not self.context.set_input_shape(name, tuple(t.shape)):
                why = outside_profile(name, t.shape, (0,) * t.dim(), (-1,) * t.dim())
            if why is not None:
                raise UserError(why, exit_code=1)
            self.context.set_tensor_address(name, t.data_ptr())
            bound[name] = t
        outputs = []
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            out = torch.empty(shape, dtype=self._dtypes[name], device=self._device)
            self.context.set_tensor_address(name, out.data_ptr())
            outputs.append(out)
        stream = torch.cuda.current_stream(self._device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise UserError(f"TensorRT failed to run {self.path}; see the log above", exit_code=1)
        # ``bound`` may be freed now: the caching allocator reuses memory only in stream order.
        return outputs[0][..., : size[0], : size[1]].to(torch.float32, memory_format=torch.contiguous_format)
