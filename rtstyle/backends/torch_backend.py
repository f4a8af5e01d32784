"""The network itself, in torch: CPU fp32, or CUDA fp16 + channels_last + CUDA graphs per shape.

CUDA paths (fp16, channels_last, graphs, torch.compile, :meth:`TorchBackend.pick_fastest`) are
tested only under ``@pytest.mark.gpu`` on a machine with a GPU; the CPU path everywhere.
"""
from __future__ import annotations

import copy
import statistics

import torch
import torch.nn as nn

from ..errors import UserError
from .base import BACKENDS, Backend, check_inputs, out_of_memory

_SPECS = {s.name: s for s in BACKENDS}
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


# Graph capture mode: "thread_local" forbids unsafe CUDA calls only in the capturing thread, so
# the pipeline's other threads (event queries, events freed by the garbage collector) cannot break
# a capture; the default "global" mode makes any thread's such call an error.
CAPTURE_ERROR_MODE = "thread_local"


def capture(graph, fn, inputs: list[torch.Tensor], pool, stream) -> torch.Tensor:
    """Capture ``fn(*inputs)`` into ``graph`` on ``stream`` (a side stream); returns its output.

    ``CUDAGraph.capture_begin`` / ``capture_end`` directly, not the ``torch.cuda.graph`` context:
    that one also runs a device-wide synchronize, ``torch.cuda.empty_cache()`` (and, where
    configured, ``gc.collect()``) before every capture, i.e. a hitch on every new frame shape that
    stalls the other streams' uploads and downloads. Nothing here needs the device idle: the
    capture records work, it runs none.
    """
    stream.wait_stream(torch.cuda.current_stream())   # the static inputs' copies come first
    with torch.cuda.stream(stream):
        graph.capture_begin(pool=pool, capture_error_mode=CAPTURE_ERROR_MODE)
        try:
            out = fn(*inputs)
        finally:
            graph.capture_end()
    torch.cuda.current_stream().wait_stream(stream)
    return out


class _Graph:
    """One captured CUDA graph: static input buffers in, static output buffer out."""

    def __init__(self, fn, inputs: list[torch.Tensor], pool, warmup: int = 3):
        self.inputs = [t.clone() for t in inputs]
        # Warm-up on a side stream (as torch.cuda.graphs asks): cuDNN autotuning, lazy inits and
        # allocator growth happen before capture, not inside it.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                fn(*self.inputs)
        self.graph = torch.cuda.CUDAGraph()
        self.output = capture(self.graph, fn, self.inputs, pool, side)

    def __call__(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        for static, t in zip(self.inputs, inputs):
            static.copy_(t)
        self.graph.replay()
        return self.output


class TorchBackend(Backend):
    """Runs an nn.Module directly.

    Args:
        model: the family's network (see rtstyle.models).
        device: ``'cpu'`` or ``'cuda'`` (``'cuda:1'`` too).
        precision: ``'fp32'`` or ``'fp16'`` (fp16 only on CUDA).
        channels_last: NHWC memory format (faster convs on tensor cores).
        cuda_graphs: capture one CUDA graph per input shape and replay it.
        compile: wrap the model in ``torch.compile`` (first call per shape compiles: slow).
        family: rtstyle.families.FAMILIES key; fixes the extra inputs' names and order. Without
            it, ``extra`` is passed on as keyword arguments.

    ``__call__(image, **extra)`` -> (N, C, H, W) float32 in [0, 1] on :attr:`device`, a fresh
    tensor (never a graph's static buffer).
    """

    def __init__(self, model: nn.Module, device: str = "cpu", precision: str = "fp32",
                 channels_last: bool = False, cuda_graphs: bool = False, compile: bool = False,
                 family: str | None = None):
        self._device = torch.device(device)
        if precision not in _DTYPES:
            raise UserError(f"precision {precision!r} is not one of {', '.join(_DTYPES)}")
        cuda = self._device.type == "cuda"
        if not cuda and (precision == "fp16" or cuda_graphs):
            raise UserError(f"fp16 and CUDA graphs need device 'cuda', got {device!r}; "
                            f"use precision='fp32', cuda_graphs=False on CPU")
        self.spec = _SPECS["torch-cuda" if cuda else "torch"]
        self.model, self.family = model, family
        self.dtype = _DTYPES[precision]
        self.channels_last, self.cuda_graphs, self.compile = channels_last, cuda_graphs, compile
        self._net = None          # what eager calls run (the model, prepared)
        self._compiled = None
        self._graphs: dict[tuple, _Graph] = {}
        self._mode: dict[tuple, str] = {}   # per-shape choice from pick_fastest
        self._pool = None

    def load(self) -> "TorchBackend":
        if self._net is not None:
            return self
        if self._device.type == "cuda" and not torch.cuda.is_available():
            raise UserError("the torch-cuda backend needs a CUDA GPU; this machine has none; "
                            "use --backend auto", exit_code=1)
        # A copy: converting to fp16 / CUDA must not change the caller's module.
        try:
            net = copy.deepcopy(self.model).eval().requires_grad_(False).to(self._device, self.dtype)
        except torch.cuda.OutOfMemoryError as exc:
            raise out_of_memory(f"loading the {self.family or 'model'} net", None, exc) from exc
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        if self.family is not None:
            from ..export.onnx import FamilySignature
            net = FamilySignature(net, self.family)
        if self._device.type == "cuda":
            torch.backends.cudnn.benchmark = True   # fixed shapes per stream: autotune once
            self._pool = torch.cuda.graph_pool_handle()
        if self.compile:
            # No cudagraphs inside compile: this class captures its own, per shape.
            self._compiled = torch.compile(net, mode="max-autotune-no-cudagraphs", dynamic=False)
        self._net = net
        return self

    def close(self) -> None:
        self._graphs.clear()
        self._mode.clear()
        self._compiled = None
        self._net = None

    # -- inputs ------------------------------------------------------------------------------

    def _inputs(self, image: torch.Tensor, extra: dict) -> tuple[list[torch.Tensor], dict]:
        check_inputs(image)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        image = image.to(self._device, self.dtype, non_blocking=True).contiguous(memory_format=fmt)
        if self.family is None:
            kw = {k: torch.as_tensor(v, device=self._device, dtype=self.dtype) for k, v in extra.items()}
            return [image], kw
        from ..export.onnx import family_inputs
        return family_inputs(self.family, image, extra), {}

    def _key(self, args: list[torch.Tensor], kw: dict) -> tuple:
        return tuple(tuple(t.shape) for t in [*args, *kw.values()])

    # -- running -----------------------------------------------------------------------------

    def _eager(self, args, kw):
        return self._net(*args, **kw)

    def _run(self, mode: str, args, kw) -> torch.Tensor:
        if mode == "compile":
            return self._compiled(*args, **kw)
        if mode == "graph":
            key = self._key(args, kw)
            graph = self._graphs.get(key)
            if graph is None:
                names = list(kw)
                flat = [*args, *kw.values()]
                n = len(args)
                fn = self._net

                def call(*ts):
                    return fn(*ts[:n], **dict(zip(names, ts[n:])))
                graph = self._graphs[key] = _Graph(call, flat, self._pool)
            return graph([*args, *kw.values()])
        return self._eager(args, kw)

    def _default_mode(self) -> str:
        if self.cuda_graphs and self._device.type == "cuda":
            return "graph"
        return "compile" if self._compiled is not None else "eager"

    def __call__(self, image: torch.Tensor, **extra) -> torch.Tensor:
        if self._net is None:
            self.load()
        try:
            args, kw = self._inputs(image, extra)
            mode = self._mode.get(self._key(args, kw), self._default_mode())
            with torch.inference_mode():
                out = self._run(mode, args, kw)
                res = out.to(torch.float32, memory_format=torch.contiguous_format)
                if mode == "graph" and res.data_ptr() == out.data_ptr():
                    res = res.clone()   # never hand out the graph's static buffer: the next replay reuses it
                return res
        except torch.cuda.OutOfMemoryError as exc:
            raise out_of_memory(f"running the {self.family or 'model'} net", tuple(image.shape), exc) from exc

    def pick_fastest(self, shape: tuple[int, ...], iters: int = 20, **extra) -> dict[str, float]:
        """Time eager / CUDA graph / compiled runs at ``shape`` (N,3,H,W); keep the fastest for it.

        Returns median milliseconds per mode (CUDA events). On CPU only eager exists: returns
        ``{}`` and changes nothing. ``extra`` are the family's other inputs, as for ``__call__``.
        """
        if self._device.type != "cuda":
            return {}
        self.load()
        image = torch.rand(shape, device=self._device)
        args, kw = self._inputs(image, extra)
        modes = ["eager", "graph"] + (["compile"] if self._compiled is not None else [])
        times = {}
        with torch.inference_mode():
            for mode in modes:
                for _ in range(3):   # warm-up (graph capture, compile, cudnn autotune)
                    self._run(mode, args, kw)
                samples = []
                for _ in range(iters):
                    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    start.record()
                    self._run(mode, args, kw)
                    end.record()
                    end.synchronize()
                    samples.append(start.elapsed_time(end))
                times[mode] = statistics.median(samples)
        self._mode[self._key(args, kw)] = min(times, key=times.get)
        return times
