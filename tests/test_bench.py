"""rtstyle bench: table shape, real measurements (timing follows a known sleep), outputs that parse."""
import json
import time

import pytest
import torch

from rtstyle import cli
from rtstyle.bench.measure import run_bench, time_gatys
from rtstyle.bench.render import render_text, table
from rtstyle.bench.specs import MODELS
from rtstyle.bench.timing import Cell, Policy, percentile, sample
from rtstyle.backends.torch_backend import TorchBackend
from rtstyle.pipeline.gatys import GatysResult

SIZES = [32, 48]
QUICK = Policy(iters=3, min_time=0.0, budget=5.0, min_samples=2, warmup=1)


@pytest.fixture
def tiny_models(monkeypatch, tmp_path):
    """Benchmark-sized architectures shrunk to test size; exports go to a temporary cache."""
    monkeypatch.setitem(MODELS, "johnson", ("johnson", {"width": 4, "n_res": 1}))
    monkeypatch.setitem(MODELS, "compact", ("compact", {"width": 4, "n_res": 1, "downsample": False}))
    monkeypatch.setitem(MODELS, "multi", ("multi", {"n_styles": 3, "width": 4, "n_res": 1}))
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(tmp_path / "no-weights"))   # nothing shipped: random init
    return tmp_path


def check_cell(cell):
    assert cell.iters >= 2 and cell.p50_ms > 0 and cell.min_ms > 0
    assert cell.p95_ms >= cell.p50_ms >= cell.min_ms
    assert cell.fps == pytest.approx(1000.0 / cell.p50_ms, rel=1e-9)


def test_table_rows_and_columns_are_real_measurements(tiny_models):
    report = run_bench(["johnson", "multi"], ["torch", "onnxruntime"], SIZES, policy=QUICK,
                             random_init=True, log=lambda m: None)
    assert [(r.model, r.backend) for r in report.rows] == [
        ("johnson", "torch"), ("johnson", "onnxruntime"), ("multi", "torch"), ("multi", "onnxruntime")]
    for row in report.rows:
        assert row.error is None and not row.skipped
        assert sorted(row.cells) == SIZES and row.weights == "random init"
        assert row.config == MODELS[row.model][1]
        for cell in row.cells.values():
            check_cell(cell)
    assert report.rows[1].mode == "CPU EP"   # the provider onnxruntime really used
    header, body = table(report)
    assert len(header) == 6 + 3 * len(SIZES) and len(body) == 4
    assert all(len(line) == len(header) for line in body)
    assert any("random init" in n and "weight values" in n for n in report.notes)


def test_reported_time_follows_the_backend_call(tiny_models, monkeypatch):
    """A backend that sleeps size/1000 s must be reported at ≈ size ms, and scale with it."""
    def slow(self, image, **extra):
        time.sleep(image.shape[-1] / 1000.0)
        return image
    monkeypatch.setattr(TorchBackend, "__call__", slow)
    report = run_bench(["johnson"], ["torch"], SIZES, policy=QUICK, random_init=True, log=lambda m: None)
    cells = report.rows[0].cells
    for size in SIZES:
        check_cell(cells[size])
        assert size <= cells[size].p50_ms < size + 15   # sleep overshoots a little, never undershoots
    assert cells[48].p50_ms - cells[32].p50_ms == pytest.approx(16, abs=10)


def test_adaptive_policy_stops_on_iterations_or_budget():
    calls = []
    ms = sample(lambda: calls.append(time.sleep(0.002)), Policy(iters=5, min_time=0, warmup=2))
    assert len(ms) == 5 and len(calls) == 7 and all(m >= 2 for m in ms)
    # min_time keeps going past iters; budget stops a slow cell once min_samples are in
    ms = sample(lambda: time.sleep(0.002), Policy(iters=1, min_time=0.03, warmup=0))
    assert len(ms) >= 8
    ms = sample(lambda: time.sleep(0.02), Policy(iters=100, min_time=10, budget=0.05, min_samples=3,
                                                              warmup=0))
    assert 3 <= len(ms) <= 4


def test_percentile_and_cell_stats():
    assert percentile([1, 2, 3, 4, 5], 50) == 3
    assert percentile([10, 20], 95) == pytest.approx(19.5)
    cell = Cell.from_samples(64, [10.0, 12.0, 11.0, 30.0])
    assert cell.p50_ms == 11.5 and cell.p95_ms == pytest.approx(27.3) and cell.fps == pytest.approx(1000 / 11.5)


def test_slow_sizes_are_skipped_and_said(tiny_models, monkeypatch):
    monkeypatch.setattr(TorchBackend, "__call__", lambda self, image, **extra: time.sleep(0.01) or image)
    report = run_bench(["johnson"], ["torch"], [32, 256], policy=QUICK, frame_limit=0.05,
                             random_init=True, log=lambda m: None)
    row = report.rows[0]
    assert list(row.cells) == [32] and 256 in row.skipped and "predicted" in row.skipped[256]
    assert any("not measured" in n and "256²" in n for n in report.notes)
    assert "skipped" in render_text(report)


def test_gatys_row_measures_or_extrapolates(monkeypatch):
    import rtstyle.pipeline.gatys
    import rtstyle.weights

    def fake_gatys(content, style, iters=500, vgg=None, **kw):
        return GatysResult(content, [], [0.5] + [0.1] * (iters - 1), 1.0)
    monkeypatch.setattr(rtstyle.pipeline.gatys, "gatys", fake_gatys)
    monkeypatch.setattr(rtstyle.weights, "load_vgg19", lambda last: torch.nn.Identity())
    row = time_gatys([32], 4, None, log=lambda m: None)
    info = row.cells[32].gatys
    assert info["total_500_s"] == pytest.approx(1.0 + 0.5 + 499 * 0.1)
    assert info["how"] == "extrapolated from 4 measured iterations" and not info["measured"]
    assert row.cells[32].p50_ms == pytest.approx(100.0) and row.cells[32].iters == 3  # warm-up excluded
    row = time_gatys([32], 500, None, log=lambda m: None)
    assert row.cells[32].gatys["measured"] and row.cells[32].gatys["how"] == "measured (500 iterations)"
    assert row.cells[32].gatys["total_500_s"] == pytest.approx(1.0 + 0.5 + 499 * 0.1)


def test_cli_json_and_markdown_parse(tiny_models, capsys):
    out_json, out_md = tiny_models / "b.json", tiny_models / "b.md"
    code = cli.main(["bench", "--models", "johnson,compact", "--backends", "torch", "--sizes", "32,48",
                     "--iters", "2", "--min-time", "0", "--random-init", "--threads", "1", "--quiet", "--json", str(out_json), "--markdown", str(out_md)])
    assert code == 0
    text = capsys.readouterr().out
    for word in ("device", "torch", "onnxruntime", "PyAV", "p50", "p95", "fps", "johnson", "compact"):
        assert word in text
    data = json.loads(out_json.read_text())
    assert set(data) >= {"environment", "settings", "rows", "notes"}
    assert data["settings"]["sizes"] == [32, 48] and data["settings"]["command"].startswith("rtstyle bench")
    assert data["environment"]["cpu"] and data["environment"]["versions"]["torch"] == torch.__version__
    assert data["environment"]["torch_threads"] == 1 and data["environment"]["onnxruntime_threads"] == 1
    assert len(data["rows"]) == 2
    for row in data["rows"]:
        assert set(row["cells"]) == {"32", "48"}
        for c in row["cells"].values():
            assert c["p95_ms"] >= c["p50_ms"] > 0 and round(c["fps"], 6) == round(1000 / c["p50_ms"], 6)
    table = [line for line in out_md.read_text().splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2   # header, separator, one line per row
    assert len({line.count("|") for line in table}) == 1
    assert table[0].count("|") == 6 + 3 * 2 + 1


@pytest.mark.parametrize("args, expect", [
    (["--models", "jonson"], "did you mean 'johnson'"),
    (["--backends", "onnxruntme"], "did you mean 'onnxruntime'"),
    (["--sizes", "32,big"], "not a frame size"),
])
def test_cli_names_errors_with_suggestions(capsys, args, expect):
    assert cli.main(["bench", *args]) == 2
    assert expect in capsys.readouterr().err


def test_pipeline_throughput_on_a_clip(tiny_models, tiny_video):
    report = run_bench(["johnson"], ["torch"], [32], policy=QUICK, pipeline_clip=tiny_video,
                             random_init=True, log=lambda m: None)
    p = report.pipeline
    assert p["frames"] == 12 and p["fps"] > 0 and p["size"] == "64x48"
    assert p["decode_ms_per_frame"] > 0 and p["stylize_ms_per_frame"] > 0 and p["encode_ms_per_frame"] > 0
    assert "not model latency" in render_text(report)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_events_time_the_call():
    ms = sample(lambda: time.sleep(0.01), Policy(iters=3, min_time=0, warmup=1), cuda=True)
    assert all(9 <= m < 30 for m in ms)
