"""ONNX export: BN folding, metadata, and onnxruntime-vs-torch parity at odd and even sizes."""
import importlib.util
import os

import onnx
import pytest
import torch
import torch.nn as nn

from rtstyle import __version__
from rtstyle.backends.onnxruntime_backend import OnnxRuntimeBackend
from rtstyle.errors import UserError
from rtstyle.families import VECTOR_STYLED
from rtstyle.weights import adain_net
from rtstyle.families import FAMILIES as FAMILY_IO
from rtstyle.export.onnx import export_onnx, fold_batchnorm, read_metadata
from rtstyle.export.tensorrt import onnx_input_shapes, profile_shapes
from rtstyle.models import CompactNet, JohnsonNet, MultiStyleNet
from rtstyle.models.lite import LiteNet

SIZES = [(33, 47), (64, 64), (5, 7)]   # odd, even, and below the nets' min_size
LEVELS = 255.0                          # compare in 8-bit levels


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial norm parameters/statistics so folding and style rows actually matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                    m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            elif hasattr(m, "gamma") and hasattr(m, "beta"):   # conditional instance norm rows
                m.gamma.copy_(torch.rand(m.gamma.shape, generator=g) + 0.5)
                m.beta.copy_(torch.randn(m.beta.shape, generator=g) * 0.2)
    return model.eval()


NETS = {
    "johnson": ("johnson", lambda: JohnsonNet(width=8, n_res=1)),
    "compact-down": ("compact", lambda: CompactNet(width=8, downsample=True)),
    "compact-literal": ("compact", lambda: CompactNet(width=8, n_res=1, downsample=False)),
    "multi": ("multi", lambda: MultiStyleNet(n_styles=3, width=8, n_res=1)),
    "lite": ("lite", lambda: LiteNet(n_styles=3, width=8, n_res=1)),
}
MIX = torch.tensor([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])


@pytest.fixture(scope="module")
def export_once(tmp_path_factory):
    """name -> (family, model, onnx path), each net exported once per module."""
    done = {}

    def get(name):
        if name not in done:
            family, make = NETS[name]
            torch.manual_seed(0)
            model = randomize(make())
            styles = ["a", "b", "c"][: 3 if family in VECTOR_STYLED else 1]
            path = export_onnx(model, family, tmp_path_factory.mktemp("onnx") / f"{name}.onnx",
                               {"styles": styles, "config": model.config})
            done[name] = family, model, path
        return done[name]
    return get


@pytest.fixture(params=sorted(NETS))
def exported(request, export_once):
    return export_once(request.param)


def _torch_out(model, family, x, style=None):
    with torch.no_grad():
        return model(x, style) if family in VECTOR_STYLED else model(x)


def test_fold_batchnorm_is_equal_and_removes_bn():
    for down in (True, False):
        model = randomize(CompactNet(width=8, n_res=2, downsample=down))
        folded = fold_batchnorm(model)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
        assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())   # input untouched
        x = torch.rand(1, 3, 21, 30)
        with torch.no_grad():
            assert torch.allclose(model(x), folded(x), atol=1e-5)


def test_onnx_file_checks_and_carries_metadata(exported):
    family, model, path = exported
    onnx.checker.check_model(onnx.load(str(path)))
    meta = read_metadata(path)
    assert meta["family"] == family and meta["rtstyle_version"] == __version__
    assert meta["inputs"] == list(FAMILY_IO[family].inputs)
    assert meta["config"] == model.config and meta["styles"]
    assert meta["input_layout"] == "NCHW" and meta["input_range"] == "[0,1] float32 RGB"
    assert meta["output_range"] and meta["precision"] == "fp32" and int(meta["opset"]) >= 17
    shapes = onnx_input_shapes(path)
    assert [d for d in shapes["image"] if isinstance(d, int)] == [3]     # N, H, W dynamic
    if family == "compact":
        assert meta["bn_folded"] is True
        ops = {n.op_type for n in onnx.load(str(path)).graph.node}
        assert "BatchNormalization" not in ops


def test_onnxruntime_matches_torch(exported):
    family, model, path = exported
    backend = OnnxRuntimeBackend(path, family=family, threads=1).load()
    for h, w in SIZES:
        x = torch.rand(2, 3, h, w)
        extra = {"style": MIX} if family in VECTOR_STYLED else {}
        got = backend(x, **extra)
        want = _torch_out(model, family, x, MIX if family in VECTOR_STYLED else None)
        assert got.shape == (2, 3, h, w)
        assert (got - want).abs().max().item() * LEVELS <= 1.0, (h, w)
        if min(h, w) > 16:
            assert want.std() > 1e-3   # not a saturated, constant picture


def test_multi_style_mixing_through_onnx(export_once):
    _, model, path = export_once("multi")
    backend = OnnxRuntimeBackend(path, family="multi", threads=1).load()
    x = torch.rand(1, 3, 33, 47).expand(3, -1, -1, -1).contiguous()
    one_hot = backend(x, style=torch.eye(3))
    mixed = backend(x[:1], style=torch.tensor([0.2, 0.3, 0.5]))     # (S,) weights broadcast
    assert (mixed - _torch_out(model, "multi", x[:1], torch.tensor([[0.2, 0.3, 0.5]]))).abs().max() * LEVELS <= 1
    # every style differs, and the mix is none of them
    assert (one_hot[0] - one_hot[1]).abs().max() * LEVELS > 2
    assert min((mixed[0] - one_hot[i]).abs().max().item() for i in range(3)) * LEVELS > 1


def test_metadata_mismatch_is_a_clear_error(exported):
    family, _, path = exported
    other = "multi" if family != "multi" else "johnson"
    with pytest.raises(UserError, match=f"holds a '{family}' net"):
        OnnxRuntimeBackend(path, family=other).load()
    backend = OnnxRuntimeBackend(path).load()
    with pytest.raises(UserError, match="unexpected alpha"):
        backend(torch.rand(1, 3, 16, 16), alpha=0.5)


def test_fp16_and_fixed_size_exports(tmp_path):
    model = randomize(JohnsonNet(width=8, n_res=1))
    x = torch.rand(1, 3, 40, 56)
    want = _torch_out(model, "johnson", x)
    path = export_onnx(model, "johnson", tmp_path / "half.onnx", fp16=True)
    meta = read_metadata(path)
    assert meta["precision"] == "fp16"
    proto = onnx.load(str(path))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT   # IO stays fp32
    got = OnnxRuntimeBackend(path, threads=1)(x)
    assert (got - want).abs().max().item() * LEVELS <= 1.0   # measured ≈0.23

    path = export_onnx(model, "johnson", tmp_path / "fixed.onnx", dynamic=False, size=(40, 56))
    assert onnx_input_shapes(path)["image"] == [1, 3, 40, 56]
    assert (OnnxRuntimeBackend(path, threads=1)(x) - want).abs().max().item() * LEVELS <= 1


def test_export_refuses_bad_arguments(tmp_path):
    model = JohnsonNet(width=8, n_res=1)
    with pytest.raises(UserError, match="unknown model family 'jonson'"):
        export_onnx(model, "jonson", tmp_path / "x.onnx")
    with pytest.raises(UserError, match="opset 13"):
        export_onnx(model, "johnson", tmp_path / "x.onnx", opset=13)
    with pytest.raises(UserError, match="needs a size"):
        export_onnx(model, "johnson", tmp_path / "x.onnx", dynamic=False)


def test_profile_shapes_follow_the_image_axes():
    dims = {"image": ["N", 3, "H", "W"], "style_mean": ["N", 512, 1, 1], "alpha": ["N", 1, "Ha", "Wa"],
            "style": ["N", 4]}
    prof = profile_shapes(dims, ((1, 3, 32, 32), (2, 3, 720, 1280), (4, 3, 1080, 1920)))
    assert prof["image"] == [[1, 3, 32, 32], [2, 3, 720, 1280], [4, 3, 1080, 1920]]
    assert prof["style_mean"] == [[1, 512, 1, 1], [2, 512, 1, 1], [4, 512, 1, 1]]
    assert prof["style"] == [[1, 4], [2, 4], [4, 4]]
    assert prof["alpha"] == [[1, 1, 1, 1], [2, 1, 720, 1280], [4, 1, 1080, 1920]]   # a map: 1x1 .. the image
    with pytest.raises(UserError, match="min <= opt <= max"):
        profile_shapes(dims, ((1, 3, 64, 64), (1, 3, 32, 32), (1, 3, 128, 128)))


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed")
def test_build_engine_without_tensorrt_says_how_to_get_it(tmp_path):
    from rtstyle.export.tensorrt import build_engine
    with pytest.raises(UserError, match="needs the tensorrt package"):
        build_engine(tmp_path / "x.onnx", tmp_path)


# -- families from rtstyle.models.adain / depth ------------------------------------------------

def test_adain_parity_with_strength_and_depth_map(tmp_path):
    adain = pytest.importorskip("rtstyle.models.adain")
    torch.manual_seed(0)
    net = adain_net(adain.AdaINDecoder(width_scale=0.125, in_scale=1.0)).eval()
    path = export_onnx(net, "adain", tmp_path / "adain.onnx", {"styles": ["s"], "config": net.decoder.config})
    backend = OnnxRuntimeBackend(path, family="adain", threads=1).load()
    with torch.no_grad():
        mean, std = net.style_stats(torch.rand(2, 3, 32, 32))
    depth_map = torch.rand(2, 1, 8, 12)   # coarse map, resized onto the content inside the net
    for h, w in SIZES:
        x = torch.rand(2, 3, h, w)
        cases = [(0.7, dict(alpha=0.7)), (torch.tensor([1.0, 0.3]), None)]
        if min(h, w) >= net.min_size:   # below it the backend pads the frame before the map is resized
            cases.append((depth_map, dict(alpha=1.0, alpha_map=depth_map)))
        for alpha, want_kw in cases:
            got = backend(x, style_mean=mean[:, :, 0, 0], style_std=std, alpha=alpha)
            with torch.no_grad():
                if want_kw is None:
                    want = torch.cat([net(x[i:i + 1], mean[i:i + 1], std[i:i + 1], float(alpha[i]))
                                      for i in range(2)])
                else:
                    want = net(x, mean, std, **want_kw)
            assert got.shape == (2, 3, h, w)
            assert (got - want).abs().max().item() * LEVELS <= 1.0, (h, w, type(alpha))


def test_depth_parity_with_bn_folded(tmp_path):
    depth = pytest.importorskip("rtstyle.models.depth")
    torch.manual_seed(0)
    net = randomize(depth.build_depth_net("rt", width=0.125))
    path = export_onnx(net, "depth", tmp_path / "depth.onnx", {"config": net.config})
    assert "BatchNormalization" not in {n.op_type for n in onnx.load(str(path)).graph.node}
    backend = OnnxRuntimeBackend(path, family="depth", threads=1).load()
    for h, w in SIZES[:2]:
        x = torch.rand(1, 3, h, w)
        with torch.no_grad():
            want = net(x)
        got = backend(x)
        assert got.shape == (1, 1, h, w)
        scale = want.abs().max().clamp_min(1e-6)     # relative depth: compare relative to its range
        assert ((got - want).abs().max() / scale).item() < 1e-3


def test_residual_depth_parity_keeps_the_prior_ramp_dynamic(tmp_path):
    """The residual net (prior 'rows') exports with its ramp built from the output's shape: parity
    at several sizes, and an untrained export is the prior itself."""
    from rtstyle.models.depth import build_depth_net, rows_prior
    torch.manual_seed(0)
    fresh = build_depth_net("rt", width=0.125, prior="rows").eval()
    trained = randomize(build_depth_net("rt", width=0.125, prior="rows"))
    for name, net in (("fresh", fresh), ("trained", trained)):
        path = export_onnx(net, "depth", tmp_path / f"{name}.onnx", {"config": net.config})
        backend = OnnxRuntimeBackend(path, family="depth", threads=1).load()
        for h, w in SIZES[:2] + [(48, 80)]:
            x = torch.rand(1, 3, h, w)
            with torch.no_grad():
                want = net(x)
            got = backend(x)
            assert got.shape == (1, 1, h, w)
            scale = want.abs().max().clamp_min(1e-6)
            assert ((got - want).abs().max() / scale).item() < 1e-3, (name, h, w)
            if name == "fresh":
                assert (got - rows_prior(got)).abs().max().item() < 1e-5


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("RTSTYLE_SLOW_TESTS"), reason="≈20 s; set RTSTYLE_SLOW_TESTS=1")
def test_dynamo_exporter_is_also_correct_at_odd_sizes(tmp_path):
    """The fallback exporter (≈15 s on one core, hence slow) gives the same dynamic graph."""
    model = randomize(JohnsonNet(width=8, n_res=1))
    path = export_onnx(model, "johnson", tmp_path / "dynamo.onnx", exporter="dynamo")
    meta = read_metadata(path)
    assert meta["exporter"] == "dynamo" and int(meta["opset"]) >= 18
    backend = OnnxRuntimeBackend(path, family="johnson", threads=1)
    for h, w in SIZES:
        x = torch.rand(1, 3, h, w)
        assert (backend(x) - _torch_out(model, "johnson", x)).abs().max().item() * LEVELS <= 1.0


def _shipped():
    from rtstyle.weights import WEIGHTS_DIR, shipped_manifests
    return [(p, m) for p, m in shipped_manifests(WEIGHTS_DIR)]


@pytest.mark.parametrize("path,manifest", _shipped(), ids=[p.stem for p, _ in _shipped()])
def test_every_shipped_model_matches_torch_through_onnxruntime(path, manifest, tmp_path):
    """The parity the docs quote (docs/export.md), as a test: each shipped weights file exported
    and run by onnxruntime vs torch fp32 on the same input, at an odd size."""
    from rtstyle.weights import load_weights
    from rtstyle.export.onnx import family_net
    family = manifest["family"]
    model, _ = load_weights(path)
    net = family_net(model, family).eval()
    onnx_path = export_onnx(net, family, tmp_path / f"{path.stem}.onnx",
                            {"styles": manifest["styles"], "config": manifest["config"]})
    backend = OnnxRuntimeBackend(onnx_path, family=family, threads=1).load()
    x = torch.rand(1, 3, 67, 91, generator=torch.Generator().manual_seed(0))
    from rtstyle.bench.specs import extra_inputs
    from rtstyle.export.onnx import FamilySignature, family_inputs
    extra = extra_inputs(family, manifest["config"], "cpu") or {}   # a style row / AdaIN statistics
    got = backend(x, **extra)
    with torch.no_grad():
        want = FamilySignature(net, family)(*family_inputs(family, x, extra))
    scale = LEVELS if family != "depth" else LEVELS / max(float(want.max() - want.min()), 1e-6)
    assert got.shape == want.shape
    assert (got - want).abs().max().item() * scale <= 1.0, "more than one 8-bit level apart"


def test_the_style_vector_families_are_those_whose_onnx_takes_a_style_input():
    assert set(VECTOR_STYLED) == {f for f, io in FAMILY_IO.items() if "style" in io.inputs}


# -- the mirrored edge margin inside the graph (rtstyle export of lite nets) -------------------

def test_margin_in_the_graph_paints_like_the_stylizer(tmp_path):
    from rtstyle.ops import paint_with_margin
    torch.manual_seed(0)
    model = randomize(LiteNet(n_styles=3, width=8, n_res=1))
    path = export_onnx(model, "lite", tmp_path / "lite-m.onnx", {"styles": ["a", "b", "c"]}, margin=16)
    meta = read_metadata(path)
    assert meta["margin"] == 16 and meta["min_size"] >= 17
    assert [d for d in onnx_input_shapes(path)["image"] if isinstance(d, int)] == [3]   # still dynamic
    backend = OnnxRuntimeBackend(path, family="lite", threads=1).load()
    bare = OnnxRuntimeBackend(export_onnx(model, "lite", tmp_path / "lite.onnx", {"styles": ["a", "b", "c"]}),
                              family="lite", threads=1).load()
    for h, w in [(37, 53), (64, 80)]:
        x = torch.rand(2, 3, h, w)
        with torch.no_grad():
            want = paint_with_margin(lambda t: model(t, MIX), 16, x)
        got = backend(x, style=MIX)
        assert got.shape == (2, 3, h, w)
        assert (got - want).abs().max().item() * LEVELS <= 1.0, (h, w)
        # the margin changes the edge the bare net paints (what it is for)
        edge = (bare(x, style=MIX) - got)[..., :2, :].abs().max().item() * LEVELS
        assert edge > 2, edge


def test_margin_export_refuses_what_it_cannot_do(tmp_path):
    adain = pytest.importorskip("rtstyle.models.adain")
    net = adain_net(adain.AdaINDecoder(width_scale=0.125, in_scale=1.0)).eval()
    with pytest.raises(UserError, match="^a 'adain' net takes a per-pixel alpha input; export it without a margin$"):
        export_onnx(net, "adain", tmp_path / "a.onnx", margin=16)
    lite = LiteNet(n_styles=1, width=8, n_res=1)
    with pytest.raises(UserError, match="^a 16-px margin needs a frame larger than 16 px on each side, got 16x64"):
        export_onnx(lite, "lite", tmp_path / "l.onnx", dynamic=False, size=(16, 64), margin=16)
    with pytest.raises(UserError, match="^margin -1 is negative"):
        export_onnx(lite, "lite", tmp_path / "l.onnx", margin=-1)


def test_widen_profile_makes_room_for_the_margin():
    from rtstyle.export.tensorrt import DEFAULT_PROFILE, widen_profile
    lo, opt, hi = widen_profile(DEFAULT_PROFILE, 16)
    assert lo == (1, 3, 32, 32) and opt == (1, 3, 752, 1312) and hi == (1, 3, 2192, 3872)
    assert widen_profile(DEFAULT_PROFILE, 0) == tuple(tuple(s) for s in DEFAULT_PROFILE)
