"""Frame processors (uint8 RGB frames in, stylized uint8 RGB frames out: CPU, and the CUDA path),
and :func:`stylize_frames`, the one frame loop that files, folders, batch segments and bench run.

``make_processor(stylizer)`` gives a :class:`CudaFrameProcessor` when the stylizer's backend
runs on a CUDA device, else a :class:`CpuFrameProcessor`. Both have ``submit(rgb) -> pending``;
``pending.wait()`` returns the stylized (H', W', 3) uint8 frame (valid until
``pending.release()``). :func:`stylize_frames` runs a processor on rtstyle.pipeline.loop's stages:
``submit`` on the process stage, ``wait`` + ``write`` + ``release`` on the sink's thread.
With ``smooth`` (``--smooth``), a :class:`SmoothingProcessor` wraps either one: ``wait`` then also
blends the frame with the previous output warped along the input's optical flow
(rtstyle.pipeline.temporal.TemporalSmoother), in frame order, on the sink's thread.

The CUDA path (DESIGN.md, "Shape of the system")::

    host: copy frame into pinned in-slot j ──► upload stream: H2D into device in-slot j ─ev_up[j]─┐
    compute stream: wait ev_up[j] → uint8→half, resize → stylizer → clamp·255 → uint8 HWC          │
                    into device out-slot k ─ev_done[k]─┐                      ◄─────────────────────┘
    download stream: wait ev_done[k] → D2H into pinned out-slot k ─ev_down[k]─► sink thread waits ev_down[k]

Frame N+1's upload, frame N's compute and frame N−1's download run at once. Uploads and downloads
use two streams, not one: in one in-order copy stream, the download of N (which waits for N's
compute) would hold up the upload of N+1 behind it. Ordering uses events only, never a
device-wide synchronize: the host waits on one event (``ev_up[j]`` before refilling a pinned
in-slot; ``ev_down[k]``, polled, before reading an out-slot), and slot reuse on the GPU is guarded by
``ev_read[j]`` (compute finished reading device in-slot j) and ``ev_down[k]`` (download finished
reading device out-slot k). Out-slots are handed out from a free list and come back on
``release``; there are ``depth + 3`` of them, one more than can be held at once (the items
waiting in the pipeline's queue, plus the one being written, plus the one just made), so
``submit`` never waits for the sink.
"""
from __future__ import annotations

import functools
import queue
import threading
import time
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from ..ops import tensor_input, tensor_uint8 as to_uint8
from . import loop
from .loop import StageTimes

# The processors' CUDA calls and the sink threads' event queries go through this lock, so no
# query lands inside a CUDA graph capture (the torch backend captures one on the first frame of
# each shape). The captures are thread-local (rtstyle.backends.torch_backend.CAPTURE_ERROR_MODE),
# so the lock is a second guard, never held while a thread waits: host waits are on blocking
# events (:func:`_event`), outside it.
CUDA_API_LOCK = threading.Lock()


def _event(timing: bool = False) -> "torch.cuda.Event":
    """Every event here: ``blocking=True``, so ``synchronize()`` sleeps in the driver instead of
    spinning a CPU core (the decode and encode threads need those)."""
    return torch.cuda.Event(enable_timing=timing, blocking=True)


# -- the CPU path's exact conversions (rtstyle.ops), with its resize, in torch on any device ---

@functools.lru_cache(maxsize=16)
def _area_matrix(n_in: int, n_out: int, device: str) -> torch.Tensor:
    """(n_out, n_in) weights of OpenCV's INTER_AREA shrink along one axis: output pixel i averages
    input span [i·s, (i+1)·s), s = n_in / n_out, each input pixel weighted by its overlap."""
    s = n_in / n_out
    edges = torch.arange(n_out + 1, dtype=torch.float64) * s
    pix = torch.arange(n_in + 1, dtype=torch.float64)
    lo = torch.maximum(edges[:-1, None], pix[None, :-1])
    hi = torch.minimum(edges[1:, None], pix[None, 1:])
    return ((hi - lo).clamp(min=0) / s).float().to(device)


def to_input(u8_hwc: torch.Tensor, dtype: torch.dtype, size: tuple[int, int] | None = None) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H', W') ``dtype`` in [0, 1], resized to ``size`` (W', H') as
    Stylizer.frame does with OpenCV: area averaging to shrink (INTER_AREA, as two small matrix
    products), bilinear to grow (INTER_LINEAR)."""
    h, w = u8_hwc.shape[:2]
    if size is None or (size[0], size[1]) == (w, h):
        return tensor_input(u8_hwc, dtype)
    return resize_tensor(tensor_input(u8_hwc), size).to(dtype)  # resize in fp32, then cast


def resize_tensor(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) float -> (N, C, H', W') float32 at ``size`` (W', H'), by the rule of
    io.sources.resize_frame: area averaging to shrink, bilinear to grow."""
    h, w = x.shape[-2:]
    if (size[0], size[1]) == (w, h):
        return x
    x = x.float()
    if size[0] * size[1] < w * h:
        dev = str(x.device)
        return _area_matrix(h, size[1], dev) @ x @ _area_matrix(w, size[0], dev).T
    return F.interpolate(x, size=(size[1], size[0]), mode="bilinear", align_corners=False)


# -- CPU ---------------------------------------------------------------------------------------

class _Done:
    """A finished frame (the CPU path has nothing to wait for)."""

    gpu_ms = None

    def __init__(self, rgb: np.ndarray):
        self.rgb = rgb

    def wait(self) -> np.ndarray:
        return self.rgb

    def release(self) -> None:
        pass


class CpuFrameProcessor:
    """``submit`` runs ``stylizer.frame`` (or any rgb -> rgb function) right away."""

    def __init__(self, stylizer):
        self.stylizer = stylizer
        self._fn = stylizer.frame if hasattr(stylizer, "frame") else stylizer

    def submit(self, rgb: np.ndarray) -> _Done:
        return _Done(self._fn(rgb))

    def close(self) -> None:
        pass


# -- CUDA --------------------------------------------------------------------------------------

class PendingFrame:
    """A frame on its way back from the GPU into pinned out-slot ``k``."""

    def __init__(self, free: queue.Queue, k: int, out: np.ndarray, ev_start, ev_done, ev_down):
        self._free, self.k, self._out = free, k, out
        self._ev_start, self._ev_done, self._ev_down = ev_start, ev_done, ev_down
        self.gpu_ms: float | None = None  # compute time on the GPU (CUDA events), after wait()
        self._released = False

    def wait(self) -> np.ndarray:
        """Block this thread until the download finished; the (H, W, 3) uint8 frame, a view of
        pinned memory that stays valid until :meth:`release`."""
        delay = 0.0001
        while True:
            with CUDA_API_LOCK:
                if self._ev_down.query():
                    self.gpu_ms = self._ev_start.elapsed_time(self._ev_done)
                    return self._out
            time.sleep(delay)
            delay = min(2 * delay, 0.001)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._free.put(self.k)


class CudaFrameProcessor:
    """Stylizes uint8 frames on a CUDA stylizer with overlapped upload / compute / download.

    Args:
        stylizer: a Stylizer whose ``backend.device`` is CUDA (``.tensor`` is used).
        depth: how many finished frames may wait in the pipeline's queue (sizes the out ring).
        in_slots: pinned upload buffers (≥ 2).
    Output and working sizes are ``stylizer.sizes`` (as in Stylizer.frame: the net paints at the
    stroke scale's working size, then the result is resized to the output size on the GPU).
    """

    def __init__(self, stylizer, depth: int = 4, in_slots: int = 3):
        self.stylizer = stylizer
        self.device = torch.device(stylizer.backend.device)
        if self.device.type != "cuda":
            raise ValueError(f"CudaFrameProcessor needs a CUDA stylizer, got device {self.device}")
        self.dtype = getattr(stylizer.backend, "dtype", torch.float32)
        if getattr(stylizer, "spec", None) is not None and stylizer.spec.precision == "fp16":
            self.dtype = torch.float16
        self.n_in, self.n_out = max(2, in_slots), max(2, depth + 3)
        with torch.cuda.device(self.device):
            self.upload, self.compute, self.download = (torch.cuda.Stream(self.device) for _ in range(3))
        self._shape = None
        self._i = 0

    def _alloc(self, in_shape: tuple[int, int, int]) -> None:
        """(Re)build the rings for input frames of ``in_shape``; waits for work still in flight.
        Frames still pending keep their old buffers and give them back to the old free list."""
        if self._shape is not None:
            for s in (self.upload, self.compute, self.download):
                s.synchronize()  # only on a size change: the old buffers must be idle
        h, w, _ = in_shape
        # the output size and the net's working size (the stroke scale), as Stylizer.frame uses them
        (ow, oh), self.work_size = self.stylizer.sizes(w, h)
        self.out_size = (ow, oh)
        dev, u8 = self.device, torch.uint8
        self._in_host = [torch.empty(in_shape, dtype=u8, pin_memory=True) for _ in range(self.n_in)]
        self._in_np = [t.numpy() for t in self._in_host]
        self._in_dev = [torch.empty(in_shape, dtype=u8, device=dev) for _ in range(self.n_in)]
        self._out_dev = [torch.empty((oh, ow, 3), dtype=u8, device=dev) for _ in range(self.n_out)]
        self._out_host = [torch.empty((oh, ow, 3), dtype=u8, pin_memory=True) for _ in range(self.n_out)]
        self._out_np = [t.numpy() for t in self._out_host]
        self._ev_up = [_event() for _ in range(self.n_in)]
        self._ev_read = [_event() for _ in range(self.n_in)]
        self._ev_down = [_event() for _ in range(self.n_out)]
        # compute-time events per out-slot (reused once the slot is released, read in wait()):
        # none is created or freed per frame, so no event dies on another thread mid-capture
        self._ev_start = [_event(timing=True) for _ in range(self.n_out)]
        self._ev_done = [_event(timing=True) for _ in range(self.n_out)]
        self._free: queue.Queue = queue.Queue()
        for k in range(self.n_out):
            self._free.put(k)
        self._shape = in_shape

    def submit(self, rgb: np.ndarray) -> PendingFrame:
        """Queue one (H, W, 3) uint8 RGB frame; returns at once (after a host memcpy)."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
        if rgb.shape != self._shape:
            with CUDA_API_LOCK:
                self._alloc(rgb.shape)
        j = self._i % self.n_in
        self._i += 1
        try:
            k = self._free.get(timeout=60)  # by construction one is free (see module doc)
        except queue.Empty:
            raise RuntimeError("GPU pipeline: no output buffer came back for 60 s "
                               "(a sink that never releases its frames?)") from None
        # 1. host -> pinned: the upload that last read this slot must be done (a blocking event,
        #    waited on outside the lock: the sink thread's queries go on meanwhile)
        self._ev_up[j].synchronize()
        np.copyto(self._in_np[j], rgb)
        with CUDA_API_LOCK:
            # 2. upload, once compute has finished reading the device slot's previous frame
            self.upload.wait_event(self._ev_read[j])
            with torch.cuda.stream(self.upload):
                self._in_dev[j].copy_(self._in_host[j], non_blocking=True)
                self._ev_up[j].record(self.upload)
            # 3. compute, once uploaded and once out-slot k's previous download is done
            ev_start, ev_done = self._ev_start[k], self._ev_done[k]
            self.compute.wait_event(self._ev_up[j])
            self.compute.wait_event(self._ev_down[k])
            with torch.cuda.stream(self.compute), torch.inference_mode():
                ev_start.record(self.compute)
                x = to_input(self._in_dev[j], self.dtype, self.work_size)
                self._ev_read[j].record(self.compute)
                y = resize_tensor(self.stylizer.tensor(x), self.out_size)
                self._out_dev[k].copy_(to_uint8(y))
                ev_done.record(self.compute)
            # 4. download into pinned out-slot k
            self.download.wait_event(ev_done)
            with torch.cuda.stream(self.download):
                self._out_host[k].copy_(self._out_dev[k], non_blocking=True)
                self._ev_down[k].record(self.download)
            return PendingFrame(self._free, k, self._out_np[k], ev_start, ev_done, self._ev_down[k])

    def close(self) -> None:
        if self._shape is not None:
            with CUDA_API_LOCK:
                for s in (self.upload, self.compute, self.download):
                    s.synchronize()


# -- temporal smoothing (--smooth) -------------------------------------------------------------

class _SmoothedPending:
    """A pending frame whose ``wait`` also applies the smoother (once, in frame order)."""

    def __init__(self, pending, key, smoother, scene):
        self._pending, self._key, self._smoother, self._scene = pending, key, smoother, scene
        self._out = None

    @property
    def gpu_ms(self):
        return self._pending.gpu_ms

    def wait(self) -> np.ndarray:
        if self._out is None:
            self._out = self._smoother(self._key, self._pending.wait(), self._scene)
        return self._out

    def release(self) -> None:
        self._pending.release()


class SmoothingProcessor:
    """Wraps a frame processor with a :class:`rtstyle.pipeline.temporal.TemporalSmoother`.

    ``submit`` keeps a small grey copy of the input (the flow is computed on inputs) and tags the
    frame with the stylizer's style, so the smoother starts over when the style changes; the
    smoothing itself runs in ``wait``, i.e. on the sink's thread, in frame order.
    """

    def __init__(self, proc, smoother):
        self.proc, self.smoother = proc, smoother
        self.stylizer = getattr(proc, "stylizer", None)

    def submit(self, rgb: np.ndarray) -> _SmoothedPending:
        scene = (id(self.stylizer), getattr(self.stylizer, "style", None))
        return _SmoothedPending(self.proc.submit(rgb), self.smoother.key(rgb), self.smoother, scene)

    def close(self) -> None:
        self.proc.close()


def is_cuda(stylizer) -> bool:
    backend = getattr(stylizer, "backend", None)
    return backend is not None and torch.device(backend.device).type == "cuda"


def make_processor(stylizer, depth: int = 4, smooth=None):
    """CudaFrameProcessor for a CUDA stylizer, else CpuFrameProcessor (also for plain functions).

    ``smooth``: a TemporalSmoother (may be shared by several processors) or a strength S in
    (0, 1] for a new one; the processor is then wrapped in a :class:`SmoothingProcessor`.
    """
    proc = CudaFrameProcessor(stylizer, depth) if is_cuda(stylizer) else CpuFrameProcessor(stylizer)
    if not smooth:
        return proc
    if not hasattr(smooth, "key"):
        from .temporal import TemporalSmoother
        smooth = TemporalSmoother(float(smooth))
    return SmoothingProcessor(proc, smooth)


def stylize_frames(frames: Iterable, stylizer, write: Callable[..., Any], depth: int = 4,
                   on_frame: Callable[[int], None] | None = None, smooth: float = 0.0, *,
                   submit: Callable[[np.ndarray], Any] | None = None, stamped: bool = False,
                   drop_stale: bool = False, times: StageTimes | None = None) -> StageTimes:
    """The frame loop: stylize every frame of ``frames`` in order and ``write`` each result, on
    rtstyle.pipeline.loop.run's three stages.

    On a CUDA stylizer the process stage only queues GPU work; the sink thread waits for each
    frame's download. ``times.extra['gpu_compute']`` then holds the summed GPU compute seconds.
    ``smooth`` > 0: temporal stabiliser of that strength (a fresh state per call, i.e. per video);
    ``times.extra['smooth']`` holds its seconds (spent on the sink's thread).

    Live sources: with ``stamped`` ``frames`` yields ``(rgb, t)`` and each frame goes to
    ``write(out, t)``; with ``drop_stale`` only the newest frame waits between stages (a dropped
    one is released), so a slow stage costs frame rate, not latency. ``submit``: rgb -> pending,
    used instead of a processor made for ``stylizer`` (the webcam's style cycle switches
    processors with the style). ``times``: filled in place, kept when Ctrl-C ends the run.
    """
    proc = make_processor(stylizer, depth, smooth) if submit is None else None
    submit = submit or proc.submit
    gpu = [0.0, False]

    def process(item):
        if stamped:
            rgb, t = item
            return submit(rgb), t
        return submit(item), None

    def emit(item) -> None:
        p, t = item
        try:
            out = p.wait()
            write(out, t) if stamped else write(out)
            if p.gpu_ms is not None:
                gpu[0] += p.gpu_ms / 1000
                gpu[1] = True
        finally:
            p.release()

    try:
        times = loop.run(frames, process, emit, depth=depth, on_frame=on_frame, drop_stale=drop_stale,
                         on_drop=lambda item: item[0].release(), times=times)
    finally:
        if proc is not None:
            proc.close()
    if gpu[1] or isinstance(getattr(proc, "proc", proc), CudaFrameProcessor):
        times.extra["gpu_compute"] = gpu[0]
    if isinstance(proc, SmoothingProcessor):
        times.extra["smooth"] = proc.smoother.seconds
    return times


def video_codec(stylizer, width: int, height: int, fps) -> str:
    """``h264_nvenc`` when the stylizer runs on CUDA and this PyAV's NVENC opens, else ``libx264``."""
    if not is_cuda(stylizer):
        return "libx264"
    import warnings
    from fractions import Fraction

    from ..io.video_writer import pick_codec
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w, h = width + width % 2, height + height % 2
        return "h264_nvenc" if pick_codec("h264_nvenc", w, h, Fraction(fps)) == "h264_nvenc" else "libx264"

