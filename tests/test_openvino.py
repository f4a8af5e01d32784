"""OpenVINO backend: parity with torch fp32 per family on a real photo, the compiled-model cache
(never a stale one), the precision policy, and its place in backend selection."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rtstyle import backends
from rtstyle.backends import cpu_features
from rtstyle.backends.cpu_features import CpuFeatures, choose_precision, parse_cpuinfo
from rtstyle.weights import build_model, load_weights
from rtstyle.errors import UserError
from rtstyle.export.onnx import FamilySignature, family_inputs, family_net

ov = pytest.importorskip("openvino", reason="openvino is not importable (pip install openvino): "
                                            "the OpenVINO backend is not tested")

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "samples" / "landscape_picos_de_europa.jpg"
WEIGHTS = ROOT / "rtstyle" / "weights"
PRECISIONS = ["f32"] + (["bf16"] if cpu_features.detect().bf16 else [])
OV = backends.spec_named("openvino")


def photo(w=256, h=192) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)


def to_tensor(rgb):
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0


def net(family):
    """Shipped weights where they exist (johnson, lite, depth), else a small seeded net."""
    shipped = {"johnson": "johnson-mosaic", "lite": "lite-mosaic", "depth": "depth-rt"}
    if family in shipped:
        return load_weights(WEIGHTS / f"{shipped[family]}.safetensors")[0]
    torch.manual_seed(0)
    config = {"compact": {"width": 16, "n_res": 2}, "multi": {"n_styles": 4, "width": 16, "n_res": 2},
              "adain": {}}[family]
    return build_model(family, config).eval()


def extra_for(family, model):
    g = torch.Generator().manual_seed(1)
    if family in ("multi", "lite"):
        w = torch.rand(1, model.n_styles, generator=g)
        return {"style": w / w.sum()}                       # a mix, not only a one-hot row
    if family == "adain":
        return {"style_mean": torch.rand(1, 512, 1, 1, generator=g),
                "style_std": torch.rand(1, 512, 1, 1, generator=g) + 0.5,
                "alpha": torch.rand(1, 1, 48, 64, generator=g)}   # per-pixel alpha (depth-aware)
    return {}


def levels(t, lo=None, hi=None):
    """(1, C, H, W) -> (H, W, C) int levels 0..255 (depth: min-max of the reference first)."""
    if lo is not None:
        t = (t - lo) / (hi - lo)
    return (t[0].permute(1, 2, 0).clamp(0, 1) * 255).round().numpy().astype(int)


def assert_close(got, want, what):
    diff = np.abs(got - want)
    mean, p99 = diff.mean(), np.percentile(diff, 99)
    assert mean <= 1.0 and p99 <= 4.0, f"{what}: mean {mean:.3f}, p99 {p99:.1f} levels"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("ov-cache")


# -- parity ------------------------------------------------------------------------------------

@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("family", ["johnson", "compact", "multi", "lite", "adain", "depth"])
def test_matches_torch_fp32_on_a_photo(family, precision, cache):
    rgb = photo()
    x = to_tensor(rgb)
    model = net(family)
    extra = extra_for(family, model)
    with torch.no_grad():
        ref = FamilySignature(family_net(model, family).eval(), family)(*family_inputs(family, x, extra))
    lo, hi = (ref.min(), ref.max()) if family == "depth" else (None, None)
    want = levels(ref, lo, hi)
    be = backends.create(OV, model, family, {"config": getattr(model, "config", {})}, cache, precision=precision)
    assert be.precision == precision
    for call in ("first call (dynamic shapes)", "second call (compiled for this size)"):
        y = be(x, **extra)
        assert y.shape == ref.shape and y.dtype == torch.float32
        assert_close(levels(y, lo, hi), want, f"{family} {precision}, {call}")
    assert None in be._compiled and any(k is not None for k in be._compiled)   # both were run


def test_odd_and_tiny_frames_match_torch(cache):
    model = net("lite")
    extra = {"style": torch.ones(1, 1)}
    be = backends.create(OV, model, "lite", {}, cache, precision="f32")
    for h, w in ((37, 53), (3, 5)):   # below the net's minimum size: edge-padded like torch
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h))
        with torch.no_grad():
            ref = model(x, extra["style"])
        assert torch.allclose(be(x, **extra), ref, atol=2e-4)


def test_batch_of_two_matches_torch(cache):
    model = net("johnson")
    x = torch.rand(2, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    be = backends.create(OV, model, "johnson", {}, cache, precision="f32")
    with torch.no_grad():
        ref = model(x)
    assert torch.allclose(be(x), ref, atol=2e-4)


# -- the compiled-model cache ------------------------------------------------------------------

def blobs(d: Path) -> set[str]:
    return {p.name for p in d.glob("*.ovblob")}


def test_cache_hit_gives_the_same_model_and_stale_entries_are_not_used(tmp_path, monkeypatch):
    model = net("lite")
    extra = {"style": torch.ones(1, 1)}
    x = to_tensor(photo(96, 64))
    first = backends.create(OV, model, "lite", {}, tmp_path, precision="f32")
    assert first.cache_hits["dynamic"] is False
    y1 = first(x, **extra)
    made = blobs(tmp_path)
    assert len(made) == 1
    sidecar = json.loads(next(tmp_path.glob("*.ovblob")).with_suffix(".json").read_text())
    for part in ("onnx_sha256", "precision", "openvino_version", "cpu_name", "cpu_flags", "shapes"):
        assert part in sidecar

    again = backends.create(OV, model, "lite", {}, tmp_path, precision="f32")
    assert again.cache_hits["dynamic"] is True
    assert torch.equal(again(x, **extra), y1)       # imported at f32, not OpenVINO's default precision
    assert blobs(tmp_path) == made

    # A new OpenVINO version or another CPU: another key, compiled afresh, the old blob not used.
    monkeypatch.setattr(ov, "get_version", lambda: "9999.0.0-test")
    newer = backends.create(OV, model, "lite", {}, tmp_path, precision="f32")
    assert newer.cache_hits["dynamic"] is False
    monkeypatch.undo()
    other_cpu = CpuFeatures("Some Other CPU", ("avx2",), "test")
    monkeypatch.setattr(cpu_features, "detect", lambda: other_cpu)
    elsewhere = backends.create(OV, model, "lite", {}, tmp_path, precision="f32")
    assert elsewhere.cache_hits["dynamic"] is False
    assert len(blobs(tmp_path)) == 3


def test_other_precision_or_changed_weights_get_their_own_entry(tmp_path):
    if "bf16" not in PRECISIONS:
        pytest.skip("this CPU has no bf16 units")
    model = net("johnson")
    a = backends.create(OV, model, "johnson", {}, tmp_path, precision="f32")
    b = backends.create(OV, model, "johnson", {}, tmp_path, precision="bf16")
    assert b.cache_hits["dynamic"] is False
    changed = net("johnson")
    with torch.no_grad():
        next(changed.parameters()).mul_(1.01)
    c = backends.create(OV, changed, "johnson", {}, tmp_path, precision="f32")
    assert c.cache_hits["dynamic"] is False   # new ONNX file, new sha: nothing reused
    assert len({a.key_parts()["onnx_sha256"], c.key_parts()["onnx_sha256"]}) == 2
    assert len(blobs(tmp_path)) == 3


def test_damaged_blob_is_compiled_again(tmp_path):
    model = net("lite")
    extra = {"style": torch.ones(1, 1)}
    x = to_tensor(photo(96, 64))
    y = backends.create(OV, model, "lite", {}, tmp_path, precision="f32")(x, **extra)
    blob = next(tmp_path.glob("*.ovblob"))
    blob.write_bytes(blob.read_bytes()[:1000])        # truncated: the sidecar's size/sha256 disagree
    be = backends.create(OV, model, "lite", {}, tmp_path, precision="f32")
    assert be.cache_hits["dynamic"] is False
    assert torch.equal(be(x, **extra), y)
    assert blob.stat().st_size > 1000


# -- precision policy and selection ------------------------------------------------------------

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile amx_int8
"""


def test_cpuinfo_flags_and_auto_precision():
    intel = parse_cpuinfo(CPUINFO)
    assert intel.name == "Intel(R) Xeon(R) Platinum 8480+"
    assert {"amx_bf16", "avx512_bf16", "amx_int8"} <= set(intel.flags)
    assert choose_precision("auto", intel) == ("bf16", "auto: the CPU has bf16 units (AMX)")
    amd = parse_cpuinfo(CPUINFO.replace(" amx_bf16 amx_tile amx_int8", "")
                        .replace("Intel(R) Xeon(R) Platinum 8480+", "AMD EPYC"))
    assert choose_precision("auto", amd)[0] == "bf16" and "AVX512-BF16" in choose_precision("auto", amd)[1]
    old = parse_cpuinfo(CPUINFO.replace(" avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile amx_int8", ""))
    assert old.flags == ("avx2",)
    assert choose_precision("auto", old) == ("f32", "auto: the CPU has no bf16 units (no AMX-BF16 / AVX512-BF16)")
    assert choose_precision("f32", intel)[0] == "f32"
    assert choose_precision("int8", old)[0] == "int8"      # never automatic, but allowed when asked for
    with pytest.raises(UserError, match=r"--precision bf16 needs a CPU with bf16 units .* use --precision f32"):
        choose_precision("bf16", old)
    with pytest.raises(UserError, match="is not one of auto, bf16, f32, int8"):
        choose_precision("fp8", intel)


def test_auto_backend_on_a_cpu_prefers_openvino(monkeypatch):
    monkeypatch.setattr(backends, "_cuda_available", lambda: False)
    monkeypatch.setattr(backends, "_module_ok", lambda m: m != "tensorrt")
    assert backends.select("auto").name == "openvino"
    assert backends.select("auto", "int8").name == "openvino"
    monkeypatch.setattr(backends, "_module_ok", lambda m: m not in ("tensorrt", "openvino"))
    assert backends.select("auto").name == "onnxruntime"
    assert backends.select("auto", "f32").name == "onnxruntime"
    with pytest.raises(UserError, match=r"--precision bf16 needs --backend openvino, and none can run here: "
                                        r"openvino: the openvino package is not importable"):
        backends.select("auto", "bf16")
    monkeypatch.setattr(backends, "_cuda_available", lambda: True)
    monkeypatch.setattr(backends, "_module_ok", lambda m: True)
    assert backends.select("auto").name == "tensorrt"        # a GPU still wins
    assert backends.select("auto", "f32").name == "openvino"  # a forced CPU precision: a CPU backend


def test_precision_the_backend_cannot_run_is_one_clear_error():
    with pytest.raises(UserError, match=r"--precision bf16 needs --backend openvino \(or auto\); onnxruntime "
                                        r"runs fp32 only; leave out --precision to run it"):
        backends.select("onnxruntime", "bf16")
    with pytest.raises(UserError, match=r"--precision f32 needs --backend openvino or onnxruntime or torch "
                                        r"\(or auto\); torch-cuda runs fp16 only"):
        backends.create(backends.spec_named("torch-cuda"), net("johnson"), "johnson", precision="f32")
    assert backends.select("onnxruntime", "f32").name == "onnxruntime"


def test_cli_precision_errors_are_one_line(tmp_path, capsys):
    from rtstyle.cli import main
    out = tmp_path / "o.png"
    rc = main(["image", str(PHOTO), "-o", str(out), "--style", "mosaic", "--backend", "onnxruntime",
               "--precision", "int8"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("rtstyle: error: --precision int8 needs --backend openvino")
    assert not out.exists()
    with pytest.raises(SystemExit) as exc:
        main(["image", str(PHOTO), "-o", str(out), "--style", "mosaic", "--precision", "bf17"])
    assert exc.value.code == 2 and "invalid choice: 'bf17'" in capsys.readouterr().err


def test_frame_conversions_match_torch_exactly():
    from rtstyle.ops import to_tensor, to_uint8
    rgb = (np.random.default_rng(0).random((37, 53, 3)) * 255).astype(np.uint8)
    want = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div_(255.0)
    assert to_tensor(rgb).shape == want.shape and torch.allclose(to_tensor(rgb), want, atol=1e-7, rtol=0)
    y = torch.rand(1, 3, 37, 53, generator=torch.Generator().manual_seed(0)) * 1.4 - 0.2   # out of range too
    y[0, 0, 0, :3] = torch.tensor([0.5, 1.5, 2.5]) / 255                                  # halves round to even
    ref = y[0].permute(1, 2, 0).clamp(0, 1).mul(255.0).round().to(torch.uint8).numpy()
    assert np.array_equal(to_uint8(y), ref) and to_uint8(y).flags["C_CONTIGUOUS"]


def test_stylizer_on_openvino_paints_like_onnxruntime(tmp_path):
    from rtstyle.pipeline.stylizer import Stylizer
    rgb = photo(160, 120)
    with Stylizer("mosaic", "lite", "openvino", cache_dir=tmp_path, precision="f32") as a, \
            Stylizer("mosaic", "lite", "onnxruntime", cache_dir=tmp_path) as b:
        assert a.label.endswith("on openvino") and a.backend.precision == "f32"
        for _ in range(2):   # dynamic, then compiled for 160×120
            assert np.abs(a.frame(rgb).astype(int) - b.frame(rgb).astype(int)).max() <= 1
        a.strength = b.strength = 0.5
        assert np.abs(a.frame(rgb).astype(int) - b.frame(rgb).astype(int)).max() <= 1


def test_stylizer_frame_converts_with_opencv(tmp_path, monkeypatch):
    """Stylizer.frame goes through to_tensor / to_uint8 (one OpenCV pass each way), not torch's
    per-element passes, which cost more than the lite net on a busy 2-core machine."""
    from rtstyle.pipeline import stylizer
    calls = []
    for name in ("to_tensor", "to_uint8"):
        real = getattr(stylizer, name)
        monkeypatch.setattr(stylizer, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    with stylizer.Stylizer("mosaic", "lite", "openvino", cache_dir=tmp_path, precision="f32") as st:
        out = st.frame(photo(96, 64))
    assert calls == ["to_tensor", "to_uint8"] and out.shape == (64, 96, 3) and out.dtype == np.uint8


def test_int8_quantizes_and_stays_recognisable(tmp_path):
    pytest.importorskip("nncf", reason="nncf is not importable (pip install 'rtstyle[int8]'): int8 not tested")
    model = net("lite")
    extra = {"style": torch.ones(1, 1)}
    rgb = photo(128, 96)
    x = to_tensor(rgb)
    be = backends.create(OV, model, "lite", {}, tmp_path, precision="int8")
    y = be(x, **extra)
    runtime = be._compiled[next(k for k in be._compiled if k is not None)][0].get_runtime_model()
    precisions = {op.get_rt_info()["runtimePrecision"].astype(str) for op in runtime.get_ops()
                  if op.get_rt_info()["layerType"].astype(str) == "Convolution"}
    assert precisions & {"i8", "u8"}, precisions         # the convolutions really run in int8
    with torch.no_grad():
        ref = model(x, extra["style"])
    diff = np.abs(levels(y) - levels(ref))
    assert diff.mean() < 12, diff.mean()                  # changed a little, not broken
    again = backends.create(OV, model, "lite", {}, tmp_path, precision="int8")
    assert torch.equal(again(x, **extra), y)              # the cached int8 model: no new calibration
    assert again.cache_hits["static"] is True


def test_int8_without_photos_says_what_to_do(tmp_path, monkeypatch):
    from rtstyle.backends import openvino_int8
    monkeypatch.setenv("RTSTYLE_CALIBRATION", str(tmp_path))
    with pytest.raises(UserError, match=r"calibrates on photos, and .* has none .*set RTSTYLE_CALIBRATION"):
        openvino_int8.calibration_photos()


def test_doctor_names_cpu_features_and_the_choice():
    import io

    from rtstyle.cli import doctor
    buf = io.StringIO()
    doctor.report(buf)
    text = buf.getvalue()
    assert "CPU features" in text and "openvino precision:" in text
    precision, why = choose_precision("auto")
    assert f"openvino precision: {precision} ({why})" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("openvino ") and ".onnx" in line)
    assert row.split()[-1] == "available" and " auto " in row


def test_bench_rows_name_the_precision():
    from rtstyle.bench.specs import backend_variants, openvino_precisions
    rows, notes = backend_variants(["openvino"], precisions=["f32", "int8"])
    assert [(r.backend, r.precision) for r in rows] == [("openvino", "f32"), ("openvino", "int8")]
    assert openvino_precisions(None) == PRECISIONS
    with pytest.raises(UserError, match="not auto"):
        openvino_precisions("auto")
