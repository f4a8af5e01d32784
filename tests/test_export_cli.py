"""rtstyle export / doctor: valid ONNX files with metadata, clear errors, the backend table."""
import numpy as np
import onnx
import pytest
import torch

from rtstyle import cli
from rtstyle.backends.onnxruntime_backend import OnnxRuntimeBackend
from rtstyle.weights import load_weights, save_weights
from rtstyle.export.tensorrt import onnx_input_shapes
from rtstyle.export.onnx import read_metadata
from rtstyle.cli.export import parse_hw
from rtstyle.models import JohnsonNet, MultiStyleNet
from rtstyle.models.depth import build_depth_net


@pytest.fixture
def weights(tmp_path, monkeypatch):
    """Tiny untrained nets on $RTSTYLE_WEIGHTS (test-only: plumbing, not style)."""
    d = tmp_path / "weights"
    torch.manual_seed(0)
    save_weights(JohnsonNet(width=4, n_res=1), d / "johnson-mosaic.safetensors",
                 {"family": "johnson", "styles": ["mosaic"], "config": {"width": 4, "n_res": 1}, "iterations": 7})
    save_weights(MultiStyleNet(2, width=4, n_res=1), d / "multi-test.safetensors",
                 {"family": "multi", "styles": ["great_wave", "poppies"],
                  "config": {"n_styles": 2, "width": 4, "n_res": 1}})
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(d))
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return d


def run_cli(capsys, *args):
    code = cli.main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_export_onnx_is_valid_carries_metadata_and_matches_torch(weights, capsys):
    code, out, err = run_cli(capsys, "export", "--style", "mosaic", "--model", "johnson")
    assert code == 0, err
    path = weights.parent / "mosaic-johnson.onnx"          # default name, in the current folder
    assert "wrote mosaic-johnson.onnx" in out
    onnx.checker.check_model(onnx.load(str(path)))
    meta = read_metadata(path)
    assert meta["family"] == "johnson" and meta["style"] == "mosaic" and meta["styles"] == ["mosaic"]
    assert meta["config"] == {"width": 4, "n_res": 1} and meta["weights"] == "johnson-mosaic.safetensors"
    assert meta["weights_iterations"] == "7" and meta["precision"] == "fp32" and meta["dynamic"] is True
    model, _ = load_weights(weights / "johnson-mosaic.safetensors")
    x = torch.rand(1, 3, 37, 50)
    with torch.no_grad():
        ref = model(x)
    with OnnxRuntimeBackend(path, family="johnson", threads=1) as be:
        assert (be(x) - ref).abs().max().item() * 255 < 0.5


def test_export_fixed_size_fp16_multi(weights, capsys):
    out = weights.parent / "poppies.onnx"
    code, _, err = run_cli(capsys, "export", "--style", "poppies", "--size", "48x64", "--fp16", "-o", out)
    assert code == 0, err
    onnx.checker.check_model(onnx.load(str(out)))
    meta = read_metadata(out)
    assert meta["family"] == "multi" and meta["style_index"] == "1" and meta["dynamic"] is False
    assert meta["precision"] == "fp16"
    assert onnx_input_shapes(out)["image"] == [1, 3, 48, 64]     # HxW, height first
    with OnnxRuntimeBackend(out, threads=1) as be:
        y = be(torch.rand(1, 3, 48, 64), style=torch.tensor([0.0, 1.0]))
    assert y.shape == (1, 3, 48, 64) and np.isfinite(y.numpy()).all()


def test_export_refuses_to_overwrite_and_names_mistakes(weights, capsys):
    assert run_cli(capsys, "export", "--style", "mosaic")[0] == 0
    code, _, err = run_cli(capsys, "export", "--style", "mosaic")
    assert code == 2 and "--overwrite" in err
    assert run_cli(capsys, "export", "--style", "mosaic", "--overwrite")[0] == 0
    code, _, err = run_cli(capsys, "export", "--style", "mosaik")
    assert code == 2 and "did you mean 'mosaic'" in err
    code, _, err = run_cli(capsys, "export", "--style", "mosaic", "--model", "jonson")
    assert code == 2 and "did you mean 'johnson'" in err
    code, _, err = run_cli(capsys, "export", "--style", "mosaic", "--size", "64by48")
    assert code == 2 and "HxW" in err
    code, _, err = run_cli(capsys, "export")
    assert code == 2 and "--style" in err and "--depth" in err


def test_lite_export_carries_the_edge_margin_the_stylizer_paints(weights, capsys):
    from rtstyle.models.lite import LiteNet
    from rtstyle.ops import paint_with_margin
    torch.manual_seed(0)
    save_weights(LiteNet(n_styles=1, width=4, n_res=1), weights / "lite-mosaic.safetensors",
                 {"family": "lite", "styles": ["mosaic"], "config": {"n_styles": 1, "width": 4, "n_res": 1}})
    code, out, err = run_cli(capsys, "export", "--style", "mosaic", "--model", "lite")
    assert code == 0, err
    assert "16-px mirrored edge margin" in out
    path = weights.parent / "mosaic-lite.onnx"
    assert read_metadata(path)["margin"] == 16
    model, _ = load_weights(weights / "lite-mosaic.safetensors")
    x = torch.rand(1, 3, 41, 58)
    with torch.no_grad():
        ref = paint_with_margin(lambda t: model(t, torch.ones(1, 1)), 16, x)
    with OnnxRuntimeBackend(path, family="lite", threads=1) as be:
        assert (be(x, style=torch.ones(1)) - ref).abs().max().item() * 255 < 0.5
    code, out, err = run_cli(capsys, "export", "--style", "mosaic", "--model", "lite", "--margin", "0",
                             "-o", "bare.onnx")
    assert code == 0, err
    assert read_metadata(weights.parent / "bare.onnx")["margin"] == 0 and "margin" not in out
    code, _, err = run_cli(capsys, "export", "--style", "mosaic", "--model", "lite", "--margin", "-2", "-o", "x.onnx")
    assert code == 2 and "--margin -2 is negative; use 0 (the bare net) or more pixels" in err
    assert not (weights.parent / "x.onnx").exists()


def test_parse_hw():
    assert parse_hw("dynamic") is None and parse_hw(None) is None
    assert parse_hw("720x1280") == (720, 1280)


def test_engine_format_says_what_is_missing(weights, capsys):
    from rtstyle import backends
    if backends.available(backends.spec_named("tensorrt")):
        pytest.skip("TensorRT and a GPU are here: the engine builds")
    code, _, err = run_cli(capsys, "export", "--style", "mosaic", "--format", "engine")
    assert code == 1 and "TensorRT" in err and "--format onnx" in err
    assert not list(weights.parent.glob("*.engine"))


def test_export_depth(weights, capsys, monkeypatch, tmp_path):
    import rtstyle.styles
    monkeypatch.setattr(rtstyle.styles, "WEIGHTS_DIR", tmp_path / "no-shipped-weights")  # hide shipped depth
    code, _, err = run_cli(capsys, "export", "--depth")
    assert code == 1 and "no trained depth weights" in err
    net = build_depth_net("rt", width=0.125)
    save_weights(net, weights / "depth-tiny.safetensors", {"family": "depth", "styles": [], "config": net.config})
    code, out, err = run_cli(capsys, "export", "--depth", "-o", "d.onnx")
    assert code == 0, err
    meta = read_metadata(weights.parent / "d.onnx")
    assert meta["family"] == "depth" and meta["outputs"] == ["depth"] and meta["config"]["variant"] == "rt"


def test_doctor_prints_backends_cache_and_weights(weights, capsys):
    (weights.parent / "cache").mkdir()
    assert run_cli(capsys, "export", "--style", "mosaic", "-o", weights.parent / "cache" / "m.onnx")[0] == 0
    code, out, err = run_cli(capsys, "doctor")
    assert code == 0, err
    for word in ("torch", "onnxruntime", "av (PyAV)", "tensorrt", "backends", "auto ->"):
        assert word in out
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.strip().startswith(("tensorrt ", "torch-cuda ", "onnxruntime ", "torch "))}
    assert set(rows) >= {"tensorrt", "torch-cuda", "onnxruntime", "torch"}
    assert "available" in rows["torch"] and "available" in rows["onnxruntime"]
    if not torch.cuda.is_available():
        assert "unavailable: " in rows["torch-cuda"] and "no CUDA GPU" in rows["torch-cuda"]
    assert "m.onnx" in out and "johnson" in out                     # the cached export
    assert "johnson-mosaic.safetensors" in out and "multi-test.safetensors" in out
