"""Issue #20: the GPU code's read-through fixes, checked on the CPU (fakes stand in for TensorRT
and CUDA). The GPU halves are in test_backends.py / test_realtime.py under the ``gpu`` mark."""
import contextlib
import inspect
import sys
import threading
import time
import types

import numpy as np
import pytest
import torch

from rtstyle import export, gpu_pipeline, trt_build
from rtstyle.errors import UserError
from rtstyle.models import JohnsonNet


# -- TensorRT: profiles ------------------------------------------------------------------------

def test_alpha_profile_follows_the_image_and_4k_fits_the_default():
    dims = {"image": ["N", 3, "H", "W"], "alpha": ["N", 1, "Ha", "Wa"], "style_mean": ["N", 512, 1, 1]}
    prof = trt_build.profile_shapes(dims, trt_build.DEFAULT_PROFILE)
    (lo, opt, hi) = prof["image"]
    assert prof["alpha"] == [[1, 1, 1, 1], [1, 1, opt[2], opt[3]], [1, 1, hi[2], hi[3]]]
    assert hi[2] >= 2160 and hi[3] >= 3840          # 4K UHD landscape
    assert hi[2] >= 1920 and hi[3] >= 1080          # portrait 1080p still fits
    for shape in [(1, 3, 2160, 3840), (1, 3, 1920, 1080), (1, 3, 720, 1280)]:
        assert trt_build.outside_profile("image", shape, lo, hi) is None
    for alpha in [(1, 1, 1, 1), (1, 1, 540, 960), (1, 1, 2160, 3840)]:
        assert trt_build.outside_profile("alpha", alpha, prof["alpha"][0], prof["alpha"][2]) is None
    why = trt_build.outside_profile("image", (1, 3, 3840, 2160), lo, hi)   # portrait 4K
    assert "outside the TensorRT engine's profile" in why and "rtstyle export --format engine" in why
    assert "\n" not in why


class _FakeTRT:
    """Records what build_engine asks of the TensorRT Python API."""

    def __init__(self, version: str, has_fp16_flag: bool):
        self.calls = {"create_network": [], "set_flag": [], "set_shape": {}}
        calls = self.calls
        mod = types.ModuleType("tensorrt")
        mod.__version__ = version
        mod.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level=2: None})
        mod.NetworkDefinitionCreationFlag = types.SimpleNamespace(EXPLICIT_BATCH=0, STRONGLY_TYPED=1)
        mod.BuilderFlag = types.SimpleNamespace(**({"FP16": "FP16"} if has_fp16_flag else {}), TF32="TF32")
        mod.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")

        class Profile:
            def set_shape(self, name, lo, opt, hi):
                calls["set_shape"][name] = [list(lo), list(opt), list(hi)]

        class Timing:
            def serialize(self):
                return b"timing"

        class Config:
            def set_flag(self, flag):
                calls["set_flag"].append(flag)

            def set_memory_pool_limit(self, *a):
                pass

            def add_optimization_profile(self, p):
                pass

            def create_timing_cache(self, data):
                return Timing()

            def set_timing_cache(self, tc, ignore_mismatch):
                pass

            def get_timing_cache(self):
                return Timing()

        class Builder:
            def __init__(self, logger):
                pass

            def create_network(self, flags):
                calls["create_network"].append(flags)
                return object()

            def create_builder_config(self):
                return Config()

            def create_optimization_profile(self):
                return Profile()

            def build_serialized_network(self, network, config):
                return b"engine-bytes"

        class Parser:
            def __init__(self, network, logger):
                pass

            def parse_from_file(self, path):
                return True

        class Runtime:
            def __init__(self, logger):
                pass

            def deserialize_cuda_engine(self, data):
                return object()

        mod.Builder, mod.OnnxParser, mod.Runtime = Builder, Parser, Runtime
        self.module = mod


@pytest.fixture
def fake_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Fake H200")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (9, 0))

    def install(version, has_fp16_flag):
        fake = _FakeTRT(version, has_fp16_flag)
        monkeypatch.setitem(sys.modules, "tensorrt", fake.module)
        return fake
    return install


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    net = JohnsonNet(width=4, n_res=1).eval()
    fp32 = export.export_onnx(net, "johnson", d / "j32.onnx")
    fp16 = export.export_onnx(net, "johnson", d / "j16.onnx", fp16=True)
    if export.read_metadata(fp16)["precision"] != "fp16":
        pytest.skip("no onnxruntime fp16 converter here")
    return fp32, fp16


def test_fp16_engine_from_an_fp16_onnx_is_strongly_typed_on_trt11(fake_gpu, onnx_files, tmp_path):
    fake = fake_gpu("11.1.0", has_fp16_flag=False)
    _, fp16 = onnx_files
    engine = trt_build.build_engine(fp16, tmp_path, fp16=True)
    assert engine.read_bytes() == b"engine-bytes"
    assert fake.calls["create_network"] == [1 << 1]          # STRONGLY_TYPED, no EXPLICIT_BATCH
    assert fake.calls["set_flag"] == []                      # no weak-typing flag
    assert fake.calls["set_shape"]["image"][2] == list(trt_build.DEFAULT_PROFILE[2])


def test_fp32_onnx_with_fp16_uses_the_builder_flag_on_trt10_and_says_what_to_do_on_trt11(
        fake_gpu, onnx_files, tmp_path):
    fp32, _ = onnx_files
    fake = fake_gpu("10.9.0", has_fp16_flag=True)
    trt_build.build_engine(fp32, tmp_path / "a", fp16=True)
    assert fake.calls["create_network"] == [0] and fake.calls["set_flag"] == ["FP16"]
    fake_gpu("11.1.0", has_fp16_flag=False)
    with pytest.raises(UserError, match=r"no BuilderFlag.FP16.*--fp16"):
        trt_build.build_engine(fp32, tmp_path / "b", fp16=True)


def test_tensorrt_backend_exports_fp16_onnx_for_its_engine(monkeypatch, tmp_path):
    from rtstyle import backends
    seen = {}

    def fake_build(onnx_path, cache_dir, profile, fp16):
        seen["meta"], seen["fp16"] = export.read_metadata(onnx_path), fp16
        raise KeyboardInterrupt   # stop here: no TensorRT to run the engine

    monkeypatch.setattr(export, "build_engine", fake_build)
    with pytest.raises(KeyboardInterrupt):
        backends.create(backends.spec_named("tensorrt"), JohnsonNet(width=4, n_res=1).eval(), "johnson", {},
                        tmp_path)
    assert seen["fp16"] is True
    assert seen["meta"]["precision"] in ("fp16", "fp32")   # fp32 only where the converter is missing
    if seen["meta"]["precision"] == "fp32":
        pytest.skip("no onnxruntime fp16 converter here")


def test_tensorrt_backend_refuses_a_frame_outside_its_profile_in_one_line():
    from rtstyle.backends.tensorrt_backend import TensorRTBackend
    be = TensorRTBackend("x.engine", device="cpu")

    class Context:
        def set_input_shape(self, name, shape):
            raise AssertionError("the shape check comes first")

    be.context, be.input_names, be.output_names = Context(), ["image"], ["stylized"]
    be._dtypes = {"image": torch.float32, "stylized": torch.float32}
    be._ranges = {"image": ((1, 3, 32, 32), (1, 3, 2160, 3840))}
    with pytest.raises(UserError) as err:
        be(torch.zeros(1, 3, 3848, 64))
    assert "outside the TensorRT engine's profile" in str(err.value) and "\n" not in str(err.value)


# -- CUDA graphs: thread-local capture, no sync / empty_cache hitch -----------------------------

def test_graph_capture_is_thread_local_and_skips_the_sync_and_empty_cache(monkeypatch):
    from rtstyle.backends import torch_backend
    calls = []

    def forbidden(name):
        def f(*a, **k):
            raise AssertionError(f"{name} called during a capture")
        return f

    for name in ("synchronize", "empty_cache"):
        monkeypatch.setattr(torch.cuda, name, forbidden(name))
    monkeypatch.setattr(torch.cuda, "graph", forbidden("torch.cuda.graph"))

    class Stream:
        def wait_stream(self, other):
            calls.append(("wait", self is side))

    side, current = Stream(), Stream()
    monkeypatch.setattr(torch.cuda, "current_stream", lambda *a: current)
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())

    class Graph:
        def capture_begin(self, **kw):
            calls.append(("begin", kw))

        def capture_end(self):
            calls.append(("end",))

    x = torch.ones(2)
    out = torch_backend.capture(Graph(), lambda t: t * 2, [x], pool="POOL", stream=side)
    assert torch.equal(out, x * 2)
    assert calls == [("wait", True), ("begin", {"pool": "POOL", "capture_error_mode": "thread_local"}),
                     ("end",), ("wait", False)]


def test_graph_mode_never_hands_out_the_static_buffer(monkeypatch):
    """The clone branch: a graph whose output is already fp32 contiguous (``.to`` returns it)."""
    from rtstyle.backends.torch_backend import TorchBackend
    be = TorchBackend(JohnsonNet(width=4, n_res=1), family="johnson").load()
    static = torch.full((1, 3, 8, 8), 0.5)
    monkeypatch.setattr(be, "_run", lambda mode, args, kw: static)
    be._mode[((1, 3, 8, 8),)] = "graph"
    a = be(torch.zeros(1, 3, 8, 8))
    assert torch.equal(a, static) and a.data_ptr() != static.data_ptr()
    static.fill_(0.25)
    assert (a == 0.5).all()


# -- events ------------------------------------------------------------------------------------

def test_pipeline_events_are_blocking_and_made_in_one_place(monkeypatch):
    made = []
    monkeypatch.setattr(torch.cuda, "Event", lambda **kw: made.append(kw) or object())
    gpu_pipeline._event()
    gpu_pipeline._event(timing=True)
    assert made == [{"enable_timing": False, "blocking": True}, {"enable_timing": True, "blocking": True}]
    src = inspect.getsource(gpu_pipeline)
    assert src.count("torch.cuda.Event(") == 1     # only inside _event
    submit = inspect.getsource(gpu_pipeline.CudaFrameProcessor.submit)
    assert " _event(" not in submit and "Event(" not in submit   # no event made (or freed) per frame


# -- WindowSink: the snapshot frame is our own copy --------------------------------------------

def test_window_sink_copies_the_frame_before_write_returns(tmp_path):
    from rtstyle.io.window import WindowSink
    shown = []

    class Win:
        def show(self, img):
            shown.append(img.copy())

        def keys(self):
            return []

        def close(self):
            pass

    sink = WindowSink(overlay=False, snapshot_dir=tmp_path, log=lambda s: None)
    sink._open = lambda w, h: Win()
    sink._thread = threading.Thread(target=sink._gui, daemon=True)
    sink._thread.start()
    slot = np.full((16, 24, 3), 7, np.uint8)         # stands for a pinned out-slot
    try:
        sink.write(slot)
        slot[:] = 200                                # released, then overwritten by a later download
        assert sink._frame is not slot and (sink._frame == 7).all()
        sink.write(slot)
        assert (sink._frame == 200).all() and len(shown) == 2
    finally:
        sink.stop()


# -- bench --pipeline on CUDA goes through CudaFrameProcessor ----------------------------------

def test_bench_pipeline_uses_the_cuda_frame_processor_on_cuda(monkeypatch, tiny_video, tmp_path):
    from rtstyle import backends, pipeline
    from rtstyle.bench import measure
    from rtstyle.bench.specs import Variant, model_specs

    class FakeCudaBackend:
        device = torch.device("cuda")

        def close(self):
            pass

    monkeypatch.setattr(backends, "create", lambda *a, **k: FakeCudaBackend())
    monkeypatch.setattr(measure, "extra_inputs", lambda *a: {})
    calls = []

    def fake_stylize_frames(frames, st, write, **kw):
        n = 0
        for rgb in frames:
            write(np.zeros((st.size[1], st.size[0], 3), np.uint8))
            n += 1
        calls.append((type(st).__name__, st.backend, st.size, n))
        t = pipeline.StageTimes()
        t.frames, t.extra["gpu_compute"] = n, 0.001 * n
        return t

    monkeypatch.setattr(gpu_pipeline, "stylize_frames", fake_stylize_frames)
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: pytest.fail("pageable per-frame path on CUDA"))
    spec = model_specs(["johnson"], True)[0]
    res = measure.time_pipeline(spec, Variant("torch-cuda", "fp16", "channels_last+graphs", {}), tiny_video,
                                tmp_path, size=(32, 24))
    assert [c[0] for c in calls] == ["_BackendStylizer", "_BackendStylizer"]   # warm-up, then the clip
    assert calls[1][2] == (32, 24) and calls[1][3] == res["frames"] > 0
    assert res["processor"].startswith("CudaFrameProcessor") and res["gpu_compute_ms_per_frame"] > 0


# -- training clock ----------------------------------------------------------------------------

def test_max_minutes_counts_from_the_process_start(tmp_path):
    from rtstyle.train.loop import TrainLoop, process_start
    import rtstyle.train.loop as loop_mod
    assert process_start() <= loop_mod._IMPORTED <= time.time()

    class S:
        def state_dict(self):
            return {}

    loop = TrainLoop(tmp_path, iters=100, log_every=50, ckpt_every=50, max_minutes=1.0, fields=["total"],
                     state={"s": S()}, started=time.time() - 61)   # set-up already took the minute
    assert TrainLoop(tmp_path, iters=1, log_every=1, ckpt_every=1, max_minutes=0, fields=["total"],
                     state={}).started == process_start()
    loop.run(lambda step: {"total": 1.0}, lambda: 1.0, lambda: [torch.zeros(1, 3, 4, 4)])
    assert loop.step == 1 and loop.stopped_early
