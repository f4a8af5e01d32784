"""The one Backend interface and the one table of runtimes, shared by the exporter and the loader."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from ..errors import UserError
from ..families import family as family_io


@dataclass(frozen=True)
class BackendSpec:
    name: str          # --backend value
    suffix: str        # file the exporter writes and the loader reads ('' = the torch module itself)
    needs_gpu: bool
    precision: str     # 'fp32' | 'fp16'; 'auto' = chosen per CPU at load (openvino: bf16 | f32 | int8)
    module: str        # rtstyle.backends.<module> holds the class
    cls: str


# auto prefers the first row that is available (see rtstyle.backends.select).
BACKENDS: tuple[BackendSpec, ...] = (
    BackendSpec("tensorrt", ".engine", True, "fp16", "tensorrt_backend", "TensorRTBackend"),
    BackendSpec("torch-cuda", "", True, "fp16", "torch_backend", "TorchBackend"),
    # On a CPU, OpenVINO before onnxruntime: same speed at f32 for the lite net, faster for the
    # full nets, and 1.5-5× with bf16 units (docs/cpu.md).
    BackendSpec("openvino", ".onnx", False, "auto", "openvino_backend", "OpenVINOBackend"),
    BackendSpec("onnxruntime", ".onnx", False, "fp32", "onnxruntime_backend", "OnnxRuntimeBackend"),
    BackendSpec("torch", "", False, "fp32", "torch_backend", "TorchBackend"),
)


def out_of_memory(what: str, shape=None, exc: BaseException | None = None) -> UserError:
    """The one line for a CUDA out-of-memory while ``what`` ('running the johnson net'...) on an
    (N, 3, H, W) ``shape``; frees torch's cached blocks so the caller can go on or retry smaller."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    at = f" on {shape[-1]}x{shape[-2]} frames" if shape is not None and len(shape) == 4 else ""
    detail = str(exc).strip().splitlines()[0][:120] if exc is not None and str(exc).strip() else ""
    return UserError(f"out of GPU memory {what}{at}" + (f" ({detail})" if detail else "")
                     + "; use a smaller --size (e.g. --size 720p or --scale 0.5), close other GPU programs, "
                       "or run on the CPU with --backend onnxruntime", exit_code=1)


def onnx_family(path, meta: dict, expected: str | None) -> str:
    """The family an exported ONNX file's rtstyle metadata names, checked against the one asked
    for; a one-line UserError for a file without metadata or of another family."""
    family = meta.get("family")
    if family is None:
        raise UserError(f"ONNX file {path} has no rtstyle metadata (family); re-export it with rtstyle export")
    if expected is not None and family != expected:
        raise UserError(f"ONNX file {path} holds a {family!r} net, but a {expected!r} net was "
                        f"asked for; pick the matching file or style")
    return family


def check_input_names(path, family: str, have: list[str]) -> None:
    """A one-line UserError unless an ONNX file's input names are the ones its family takes."""
    want = list(family_io(family).inputs)
    if have != want:
        raise UserError(f"ONNX file {path} has inputs {have}, but a {family!r} net takes {want}; "
                        f"re-export it with this rtstyle version")


def check_inputs(image: torch.Tensor, args=(), fixed=(), file: str = "") -> None:
    """A one-line UserError unless ``image`` is (N, 3, H, W) and each of the net's inputs ``args``
    has the rank and the fixed sizes its file declares: ``fixed`` holds (input name, dims (int, or
    None for a free axis), the declared shape as the runtime writes it) per input."""
    if image.dim() != 4 or image.shape[1] != 3:
        raise UserError(f"image must be (N, 3, H, W), got {tuple(image.shape)}")
    for t, (name, dims, want) in zip(args, fixed):
        if len(dims) != t.dim() or any(d is not None and d != n for d, n in zip(dims, t.shape)):
            raise UserError(f"input {name!r} of {file} must be ({want}), got {tuple(t.shape)}")


class Backend(ABC):
    """Runs one exported or in-memory network.

    ``__call__(image, **extra)``: image (N, 3, H, W) float in [0, 1] (torch tensor, on the backend's
    device or CPU) -> (N, 3, H, W) float in [0, 1] torch tensor on the backend's device.
    ``extra`` carries the family's other inputs (``style`` weights (N, S) or (S,) for the multi-style
    net; ``style_mean``/``style_std`` (N, 512) or (N, 512, 1, 1) and ``alpha`` for AdaIN: a float,
    (N,), (N, 1, 1, 1), or a per-pixel map (N, 1, h, w) such as normalised depth).
    rtstyle.families.FAMILIES names them per family; rtstyle.export.onnx.family_inputs shapes them.
    """

    spec: BackendSpec
    _device = torch.device("cpu")   # where inputs go and outputs come back (set per instance on CUDA)

    @abstractmethod
    def load(self) -> "Backend":
        """Prepare the runtime (sessions, engines, graphs). Returns self."""

    @abstractmethod
    def __call__(self, image: torch.Tensor, **extra: torch.Tensor) -> torch.Tensor:
        ...

    def close(self) -> None:
        """Release runtime resources (idempotent)."""

    @property
    def device(self) -> torch.device:
        return self._device

    def __enter__(self):
        return self.load()

    def __exit__(self, *exc):
        self.close()
