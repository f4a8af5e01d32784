"""Backend selection, and every runtime against torch on tiny inputs (GPU ones behind the gpu mark)."""
import importlib.util

import pytest
import torch

from rtstyle import backends
from rtstyle.backends.onnxruntime_backend import OnnxRuntimeBackend
from rtstyle.backends.tensorrt_backend import TensorRTBackend
from rtstyle.backends.torch_backend import TorchBackend
from rtstyle.errors import UserError
from rtstyle.models import JohnsonNet, MultiStyleNet

HAS_CUDA = torch.cuda.is_available()
HAS_TRT = importlib.util.find_spec("tensorrt") is not None
gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")


@pytest.fixture
def machine(monkeypatch):
    """Pretend a machine: ``machine(cuda=..., missing={'tensorrt', ...})``."""
    def set_(cuda=False, missing=()):
        monkeypatch.setattr(backends, "_cuda_available", lambda: cuda)
        monkeypatch.setattr(backends, "_module_ok", lambda m: m not in set(missing))
    return set_


# -- select ------------------------------------------------------------------------------------

def test_auto_on_a_cpu_machine_is_openvino_then_onnxruntime(machine):
    machine(cuda=False, missing={"tensorrt"})
    assert backends.select("auto").name == "openvino"
    machine(cuda=False, missing={"tensorrt", "openvino"})
    assert backends.select("auto").name == "onnxruntime"
    machine(cuda=False, missing={"tensorrt", "openvino", "onnxruntime"})
    assert backends.select("auto").name == "torch"


def test_auto_prefers_tensorrt_then_torch_cuda(machine):
    machine(cuda=True)
    assert backends.select().name == "tensorrt"
    machine(cuda=True, missing={"tensorrt"})
    assert backends.select("auto").name == "torch-cuda"
    assert backends.select("cuda").name == "torch-cuda"       # alias
    assert backends.select(" Torch ").name == "torch"


def test_unknown_backend_suggests_a_close_match():
    with pytest.raises(UserError) as err:
        backends.select("tensorrtt")
    msg = str(err.value)
    assert "unknown backend 'tensorrtt'; did you mean 'tensorrt'?" in msg
    assert all(n in msg for n in ("auto", "torch-cuda", "onnxruntime", "torch"))
    with pytest.raises(UserError, match="did you mean 'onnxruntime'"):
        backends.select("onxruntime")


def test_unavailable_backend_says_why(machine):
    machine(cuda=False, missing=set())
    with pytest.raises(UserError) as err:
        backends.select("tensorrt")
    msg = str(err.value)
    assert msg.startswith("backend 'tensorrt' needs the tensorrt package and a CUDA GPU;")
    assert "this machine has no CUDA GPU" in msg and msg.endswith("use --backend auto")
    machine(cuda=True, missing={"tensorrt"})
    with pytest.raises(UserError, match="the tensorrt package is not importable"):
        backends.select("tensorrt")
    machine(cuda=False)
    with pytest.raises(UserError, match="'torch-cuda' needs the torch package and a CUDA GPU"):
        backends.select("cuda")


def test_available_on_this_machine():
    assert backends.available(backends.spec_named("torch"))
    assert backends.available(backends.spec_named("onnxruntime"))
    assert backends.available(backends.spec_named("tensorrt")) == (HAS_TRT and HAS_CUDA)


# -- CPU runtimes agree --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def johnson():
    torch.manual_seed(1)
    return JohnsonNet(width=8, n_res=1).eval()


def test_create_torch_and_onnxruntime_agree(johnson, tmp_path):
    ort_spec, torch_spec = backends.spec_named("onnxruntime"), backends.spec_named("torch")
    meta = {"styles": ["test"], "config": johnson.config}
    with backends.create(ort_spec, johnson, "johnson", meta, tmp_path, threads=1) as ort_b, \
            backends.create(torch_spec, johnson, "johnson", meta, tmp_path) as torch_b:
        assert isinstance(ort_b, OnnxRuntimeBackend) and isinstance(torch_b, TorchBackend)
        assert ort_b.device.type == "cpu" and torch_b.spec.name == "torch"
        for h, w in [(33, 47), (64, 64)]:
            x = torch.rand(1, 3, h, w)
            a, b = ort_b(x), torch_b(x)
            assert a.dtype == b.dtype == torch.float32
            assert (a - b).abs().max().item() * 255 <= 1.0
        # channels_last (non-contiguous NCHW) input is made contiguous before binding
        x = torch.rand(1, 3, 20, 24).to(memory_format=torch.channels_last)
        assert (ort_b(x) - torch_b(x)).abs().max().item() * 255 <= 1.0
    files = list(tmp_path.glob("*.onnx"))
    assert len(files) == 1                                  # exported once, into the cache
    stamp = files[0].stat().st_mtime_ns
    backends.create(ort_spec, johnson, "johnson", meta, tmp_path, threads=1).close()
    assert files[0].stat().st_mtime_ns == stamp             # reused, not re-exported


def test_torch_and_onnxruntime_agree_on_style_mixing(tmp_path):
    torch.manual_seed(2)
    net = MultiStyleNet(n_styles=3, width=8, n_res=1).eval()
    with torch.no_grad():
        for m in net.modules():
            if hasattr(m, "gamma"):
                m.gamma.uniform_(0.5, 1.5)
                m.beta.normal_(0, 0.2)
    ort_b = backends.create(backends.spec_named("onnxruntime"), net, "multi", {}, tmp_path, threads=1)
    torch_b = TorchBackend(net, family="multi").load()
    x = torch.rand(2, 3, 21, 34)
    mix = torch.tensor([[0.5, 0.5, 0.0], [0.1, 0.1, 0.8]])
    assert (ort_b(x, style=mix) - torch_b(x, style=mix)).abs().max().item() * 255 <= 1.0
    with pytest.raises(UserError, match="missing style"):
        torch_b(x)
    with pytest.raises(UserError, match=r"input 'style' of .* must be \(N, 3\), got \(2, 4\)"):
        ort_b(x, style=torch.rand(2, 4))


def test_create_adain_from_its_decoder(tmp_path):
    adain = pytest.importorskip("rtstyle.models.adain")
    torch.manual_seed(3)
    decoder = adain.AdaINDecoder(width_scale=0.125, in_scale=1.0).eval()   # what an adain weights file holds
    ort_b = backends.create(backends.spec_named("onnxruntime"), decoder, "adain", {}, tmp_path, threads=1)
    torch_b = backends.create(backends.spec_named("torch"), decoder, "adain", {}, tmp_path)
    mean, std = torch.rand(1, 512) * 2, torch.rand(1, 512) + 0.5            # (N, 512) is accepted
    x = torch.rand(1, 3, 40, 52)
    a, b = ort_b(x, style_mean=mean, style_std=std, alpha=0.8), torch_b(x, style_mean=mean, style_std=std, alpha=0.8)
    assert a.shape == (1, 3, 40, 52) and (a - b).abs().max().item() * 255 <= 1.0


def test_backend_errors_are_clear(tmp_path, johnson):
    with pytest.raises(UserError, match="does not exist"):
        OnnxRuntimeBackend(tmp_path / "nope.onnx").load()
    import onnx
    from onnx import TensorProto, helper
    plain = tmp_path / "plain.onnx"     # a valid ONNX file that rtstyle did not write
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 3, "H", "W"]) for n in ("image", "out")]
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["out"])], "plain", vi[:1], vi[1:])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(plain))
    with pytest.raises(UserError, match="no rtstyle metadata"):
        OnnxRuntimeBackend(plain).load()
    with pytest.raises(UserError, match="need device 'cuda'"):
        TorchBackend(johnson, precision="fp16")
    with pytest.raises(UserError, match=r"\(N, 3, H, W\)"):
        TorchBackend(johnson).load()(torch.rand(3, 8, 8))
    assert TorchBackend(johnson).pick_fastest((1, 3, 16, 16)) == {}   # CPU: eager only


@pytest.mark.skipif(HAS_TRT, reason="tensorrt is installed")
def test_tensorrt_backend_without_tensorrt_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="needs the tensorrt package"):
        TensorRTBackend(tmp_path / "x.engine").load()


# -- GPU ---------------------------------------------------------------------------------------

@gpu
@needs_cuda
def test_cuda_graphs_match_eager_fp16(johnson):
    eager = TorchBackend(johnson, device="cuda", precision="fp16", channels_last=True, family="johnson").load()
    graphs = TorchBackend(johnson, device="cuda", precision="fp16", channels_last=True, cuda_graphs=True,
                          family="johnson").load()
    ref = TorchBackend(johnson, family="johnson").load()
    for h, w in [(64, 96), (33, 47), (64, 96)]:       # a shape seen again replays its graph
        x = torch.rand(1, 3, h, w, device="cuda")
        a, b = eager(x), graphs(x)
        assert b.dtype == torch.float32 and b.is_cuda
        assert (a - b).abs().max().item() * 255 <= 1.0
        assert (b.cpu() - ref(x.cpu())).abs().max().item() * 255 <= 3.0    # fp16 vs fp32
    assert len(graphs._graphs) == 2
    first = graphs(torch.zeros(1, 3, 64, 96, device="cuda"))
    graphs(torch.ones(1, 3, 64, 96, device="cuda"))
    assert not torch.equal(first, graphs(torch.ones(1, 3, 64, 96, device="cuda")))  # not a shared buffer
    times = graphs.pick_fastest((1, 3, 64, 96), iters=5)
    assert set(times) == {"eager", "graph"} and all(t > 0 for t in times.values())


@gpu
@needs_cuda
def test_fp32_graph_output_is_cloned_not_handed_out(johnson):
    """fp32, contiguous: ``.to(float32)`` returns the graph's static buffer itself, so only the
    clone keeps a later replay from overwriting a frame already handed out (with fp16 the
    conversion always copies and the clone never runs)."""
    be = TorchBackend(johnson, device="cuda", precision="fp32", cuda_graphs=True, family="johnson").load()
    a = be(torch.zeros(1, 3, 48, 64, device="cuda"))
    graph, = be._graphs.values()
    assert graph.output.dtype == torch.float32 and graph.output.is_contiguous()   # the clone branch's case
    assert a.data_ptr() != graph.output.data_ptr()
    keep = a.clone()
    b = be(torch.ones(1, 3, 48, 64, device="cuda"))
    assert torch.equal(a, keep) and not torch.equal(a, b)


@gpu
@needs_cuda
def test_graphs_capture_while_another_thread_queries_events(johnson):
    """Thread-local capture: another thread's event queries (the pipeline's sink thread) during a
    capture neither fail nor break it (the global capture mode forbids them)."""
    import threading
    be = TorchBackend(johnson, device="cuda", precision="fp16", channels_last=True, cuda_graphs=True,
                      family="johnson").load()
    eager = TorchBackend(johnson, device="cuda", precision="fp16", channels_last=True, family="johnson").load()
    ev = torch.cuda.Event(blocking=True)
    ev.record()
    stop, errors, queries = threading.Event(), [], [0]

    def poll():
        while not stop.is_set():
            try:
                ev.query()
                queries[0] += 1
            except Exception as exc:   # noqa: BLE001 - recorded and asserted below
                errors.append(exc)
                return

    t = threading.Thread(target=poll)
    t.start()
    try:
        for h, w in [(40, 56), (48, 64), (56, 72), (64, 80)]:     # four captures
            x = torch.rand(1, 3, h, w, device="cuda")
            assert (be(x) - eager(x)).abs().max().item() * 255 <= 1.0
    finally:
        stop.set()
        t.join()
    assert not errors and queries[0] > 0 and len(be._graphs) == 4


@gpu
@needs_cuda
@pytest.mark.skipif(not HAS_TRT, reason="needs tensorrt")
def test_tensorrt_adain_takes_a_per_pixel_alpha_map(tmp_path):
    from rtstyle.models.adain import AdaINDecoder
    spec = backends.select("tensorrt")
    torch.manual_seed(0)
    b = backends.create(spec, AdaINDecoder().eval(), "adain", {}, tmp_path,
                        profile=((1, 3, 32, 32), (1, 3, 64, 64), (1, 3, 128, 128)))
    x = torch.rand(1, 3, 64, 64, device="cuda")
    mean, std = torch.rand(1, 512, device="cuda"), torch.rand(1, 512, device="cuda") + 0.5
    for alpha in (torch.tensor(0.5), torch.rand(1, 1, 64, 64, device="cuda"), torch.rand(1, 1, 16, 16, device="cuda")):
        assert b(x, style_mean=mean, style_std=std, alpha=alpha).shape == (1, 3, 64, 64)


@gpu
@needs_cuda
def test_create_torch_cuda_multi_style(tmp_path):
    net = MultiStyleNet(n_styles=3, width=8, n_res=1).eval()
    b = backends.create(backends.spec_named("torch-cuda"), net, "multi", {}, tmp_path)
    x = torch.rand(2, 3, 40, 56, device="cuda")
    out = b(x, style=torch.tensor([0.2, 0.3, 0.5]))
    ref = TorchBackend(net, family="multi").load()(x.cpu(), style=torch.tensor([0.2, 0.3, 0.5]))
    assert (out.cpu() - ref).abs().max().item() * 255 <= 3.0


@gpu
@needs_cuda
@pytest.mark.skipif(not HAS_TRT, reason="needs tensorrt")
def test_tensorrt_engine_matches_torch(johnson, tmp_path):
    spec = backends.select("tensorrt")
    profile = ((1, 3, 16, 16), (1, 3, 64, 64), (2, 3, 128, 128))
    b = backends.create(spec, johnson, "johnson", {}, tmp_path, profile=profile)
    ref = TorchBackend(johnson, family="johnson").load()
    for h, w in [(33, 47), (64, 64)]:
        x = torch.rand(1, 3, h, w, device="cuda")
        assert (b(x).cpu() - ref(x.cpu())).abs().max().item() * 255 <= 3.0
    engines = list(tmp_path.glob("*.engine"))
    assert len(engines) == 1
    backends.create(spec, johnson, "johnson", {}, tmp_path, profile=profile)   # cache hit
    assert list(tmp_path.glob("*.engine")) == engines
