"""onnxruntime on an rtstyle ONNX export, with IO binding onto torch tensors (no copies).

CPU tensors are bound by ``data_ptr()`` both ways: onnxruntime reads the input and writes the
output straight into torch memory. With CUDAExecutionProvider (onnxruntime-gpu) CUDA tensors are
bound the same way by device pointer; that path is written but untested here (CPU-only build).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..export.onnx import decode_metadata, family_inputs, pad_min_size
from .base import BACKENDS, Backend, check_input_names, check_inputs, onnx_family, out_of_memory

_SPEC = next(s for s in BACKENDS if s.name == "onnxruntime")
_ORT_TYPES = {"tensor(float)": (torch.float32, np.float32), "tensor(float16)": (torch.float16, np.float16)}


class OnnxRuntimeBackend(Backend):
    """Runs an :func:`rtstyle.export.onnx.export_onnx` file.

    Args:
        onnx_path: the .onnx file.
        providers: onnxruntime execution providers; default CUDA (when onnxruntime-gpu and a GPU
            are present) then CPU.
        family: the family the caller expects; checked against the file's metadata.
        threads: intra-op threads (default ``$RTSTYLE_THREADS``, else ``os.cpu_count()``; on a
            busy machine 1 thread can beat 2: one foreign runnable thread stalls every parallel region).

    ``__call__(image, **extra)``: image (N,3,H,W) float in [0,1] -> (N,C,H,W) float32 torch
    tensor on :attr:`device`. ``extra`` as in rtstyle.export.onnx.family_inputs.
    """

    spec = _SPEC

    def __init__(self, onnx_path, providers: list | None = None, family: str | None = None,
                 threads: int | None = None):
        self.path = Path(onnx_path)
        self.providers = providers
        self.expected_family = family
        self.threads = threads or env_threads() or os.cpu_count() or 1
        self.session = None
        self.meta: dict = {}
        self.family: str | None = None

    @property
    def device(self) -> torch.device:
        if self.session is not None and self.session.get_providers()[0] == "CUDAExecutionProvider":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def load(self) -> "OnnxRuntimeBackend":
        if self.session is not None:
            return self
        import onnxruntime as ort
        if not self.path.exists():
            raise UserError(f"ONNX file {self.path} does not exist; export it first (rtstyle export)")
        providers = self.providers
        if providers is None:
            providers = ["CPUExecutionProvider"]
            if "CUDAExecutionProvider" in ort.get_available_providers() and torch.cuda.is_available():
                providers.insert(0, "CUDAExecutionProvider")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        # No busy-waiting between runs: spinning pool threads held both cores of the 2-core dev
        # machine after each run and stalled the torch pre/post-processing around it (256² frame:
        # 48 ms with spinning vs 20 ms without, model alone 23 vs 18 ms; docs/cpu.md).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(str(self.path), opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own error types for bad files
            raise UserError(f"onnxruntime cannot load {self.path} ({exc}); re-export it "
                            f"(rtstyle export)", exit_code=1) from exc
        self.meta = decode_metadata(session.get_modelmeta().custom_metadata_map)
        self.family = onnx_family(self.path, self.meta, self.expected_family)
        check_input_names(self.path, self.family, [i.name for i in session.get_inputs()])
        self.session = session
        self._inputs = session.get_inputs()
        self._output = session.get_outputs()[0]
        return self

    def close(self) -> None:
        self.session = None

    def _bind(self, binding, name: str, t: torch.Tensor, np_type, output: bool = False) -> None:
        kind = "cuda" if t.is_cuda else "cpu"
        index = t.device.index or 0
        bind = binding.bind_output if output else binding.bind_input
        bind(name, kind, index, np_type, list(t.shape), t.data_ptr())

    def _output_shape(self, args: list[torch.Tensor]) -> list[int] | None:
        """The output shape when the graph ties it to the image's axes (all rtstyle exports)."""
        image_dims = self._inputs[0].shape
        shape = []
        for i, d in enumerate(self._output.shape):
            if isinstance(d, int):
                shape.append(d)
            elif d in image_dims:
                shape.append(args[0].shape[image_dims.index(d)])
            else:
                return None
        return shape

    def __call__(self, image: torch.Tensor, **extra) -> torch.Tensor:
        if self.session is None:
            self.load()
        device = self.device
        check_inputs(image)
        torch_type, np_type = _ORT_TYPES.get(self._inputs[0].type, (torch.float32, np.float32))
        size = image.shape[-2:]
        image = pad_min_size(image.to(device, torch_type), int(self.meta.get("min_size", 1))).contiguous()
        args = family_inputs(self.family, image, extra)
        check_inputs(image, args, [(m.name, [d if isinstance(d, int) else None for d in m.shape],
                                    ", ".join(map(str, m.shape))) for m in self._inputs], self.path.name)
        binding = self.session.io_binding()
        bound = []   # onnxruntime reads these through raw pointers: keep them alive until run ends
        for meta, t in zip(self._inputs, args):
            tt, nt = _ORT_TYPES.get(meta.type, (torch.float32, np.float32))
            t = t.to(tt).contiguous()
            self._bind(binding, meta.name, t, nt)
            bound.append(t)
        out_type, out_np = _ORT_TYPES.get(self._output.type, (torch.float32, np.float32))
        shape = self._output_shape(args)
        if device.type == "cuda":
            # onnxruntime's CUDA stream is not torch's: finish torch's writes first.
            torch.cuda.current_stream().synchronize()
        try:
            if shape is not None:
                out = torch.empty(shape, dtype=out_type, device=device)
                self._bind(binding, self._output.name, out, out_np, output=True)
                self.session.run_with_iobinding(binding)
                binding.synchronize_outputs()
            else:  # let onnxruntime size it, then take its buffer (one copy)
                binding.bind_output(self._output.name, device.type)
                self.session.run_with_iobinding(binding)
                out = torch.from_numpy(binding.copy_outputs_to_cpu()[0]).to(device)
        except torch.cuda.OutOfMemoryError as exc:
            raise out_of_memory(f"running {self.path.name}", tuple(image.shape), exc) from exc
        except Exception as exc:  # onnxruntime's own error types; CUDA OOM is one of them
            text = str(exc).lower()
            if device.type == "cuda" and ("out of memory" in text or "failed to allocate" in text):
                raise out_of_memory(f"running {self.path.name}", tuple(image.shape), exc) from exc
            raise
        del bound
        # a copy only when a tiny frame was padded (crop) or the graph emits fp16
        return out[..., : size[0], : size[1]].to(torch.float32, memory_format=torch.contiguous_format)


def env_threads() -> int | None:
    """``$RTSTYLE_THREADS`` as a positive int (None when unset); a bad value is a UserError."""
    text = os.environ.get("RTSTYLE_THREADS", "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"RTSTYLE_THREADS={text!r} is not a thread count; set a whole number >= 1 or unset it")
    return int(text)
