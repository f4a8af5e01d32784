"""scripts/gpu_run.sh, the one GPU command (issue #20): its packing and its CPU dry run."""
import dataclasses
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
MAX_FILES, MAX_BYTES = 8, 16 * 2**20


def _script(name: str):
    """scripts/NAME.py loaded as a fresh module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def gpu_run(tmp_path):
    mod = _script("gpu_run")
    mod.OUT, mod.WORK = tmp_path / "out", tmp_path / "work"
    mod.OUT.mkdir()
    mod.WORK.mkdir()
    mod._log_file = io.StringIO()
    return mod


def test_pack_makes_fp16_weights_from_a_running_checkpoint(gpu_run, tmp_path):
    """While a trainer runs, weights.tar carries fp16 weights + manifest made from its last
    checkpoint, loadable as shipped weights and as ``--init``."""
    from rtstyle.weights import load_weights
    from rtstyle.models import MultiStyleNet
    from rtstyle.train import common
    from rtstyle.train.transformer import TransformerConfig
    run = tmp_path / "work" / "multi"
    run.mkdir()
    cfg = TransformerConfig(family="multi", styles=["mosaic", "great_wave"], model={"width": 4, "n_res": 1})
    (run / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    torch.manual_seed(0)
    net = MultiStyleNet(2, width=4, n_res=1)
    scales = {"content": 1.0, "style": 2.0, "shift": 1.0}
    common.save_checkpoint(run / "ckpt.pt", state={"net": net.state_dict(), "opt": {}}, rngs={},
                           rng=common.rng_state(), step=12, wall=3.0, extra={"scales": scales})
    (run / "losses.csv").write_text("step,total,val_total\n12,1.5,2.5\n")
    log = tmp_path / "train-multi.log"
    log.write_text("x" * 10)
    gpu_run.pack([run], [log])
    with tarfile.open(gpu_run.OUT / "weights.tar") as tar:
        names = tar.getnames()
        _script("install_weights").extract(tar, tmp_path / "x")
    assert {"multi/multi-multi.safetensors", "multi/multi-multi.json", "multi/losses.csv",
            "logs/train-multi.log"} <= set(names)
    w = tmp_path / "x" / "multi" / "multi-multi.safetensors"
    model, manifest = load_weights(w)
    assert manifest["iterations"] == 12 and manifest["complete"] is False and manifest["loss_scales"] == scales
    assert manifest["val_loss"] == 2.5 and manifest["styles"] == ["mosaic", "great_wave"]
    for k, v in net.state_dict().items():
        if v.is_floating_point():
            assert torch.allclose(model.state_dict()[k], v.half().float()), k
    assert common.init_from_weights(MultiStyleNet(2, width=4, n_res=1), str(w)) == 12
    assert not list(gpu_run.OUT.glob("*.part"))


def test_pack_stays_under_the_size_limit(gpu_run, tmp_path):
    run = tmp_path / "work" / "adain"
    run.mkdir()
    (run / "adain-decoder.safetensors").write_bytes(b"w" * 1000)
    (run / "adain-decoder.json").write_text("{}")
    (run / "samples_000100.png").write_bytes(b"p" * 9000)
    gpu_run.TAR_LIMIT = 8000
    gpu_run.pack([run], [])
    with tarfile.open(gpu_run.OUT / "weights.tar") as tar:
        assert "adain/adain-decoder.safetensors" in tar.getnames()
        assert "adain/samples_000100.png" not in tar.getnames()   # the grid goes first


@pytest.mark.slow
def test_dry_run_writes_the_same_kinds_of_files_within_the_limits(tmp_path):
    """DRY_RUN=1 bash scripts/gpu_run.sh on this CPU: trainers stopped by their clock, packed from
    checkpoints while they run, bench, pipeline and quality stages; <= 8 files of <= 16 MiB, weights among
    them. (The inner GPU-test stage is skipped here: it only collects skipped tests on a CPU.)"""
    data = tmp_path / "data" / "content"
    data.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(21):
        img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (96, 72), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(data / f"p{i:02d}.png"), img)
    out = tmp_path / "out"
    env = dict(os.environ, DRY_RUN="1", OUT=str(out), WORK=str(tmp_path / "work"), BUDGET="90", SKIP="tests",
               PACK_EVERY="5", RTSTYLE_DATA=str(tmp_path / "data"), RTSTYLE_CACHE=str(tmp_path / "cache"))
    t = time.time()
    res = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_run.sh")], env=env, capture_output=True, text=True,
                         timeout=240)
    wall = time.time() - t
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert 0 < len(files) <= MAX_FILES and all(p.stat().st_size <= MAX_BYTES for p in files)
    assert {p.name for p in files} >= {"log.txt", "weights.tar", "bench.json", "bench.md", "pipeline.json",
                                       "summary.json", "eval.md"}
    evals = (out / "eval.md").read_text()
    assert "## mosaic" in evals and "| **mean** | gatys-3 |" in evals   # the net vs Gatys, per style
    with tarfile.open(out / "weights.tar") as tar:
        weights = [n for n in tar.getnames() if n.endswith(".safetensors")]
    assert sorted(weights) == ["adain/adain-decoder.safetensors", "multi/multi-multi.safetensors"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"]["train-multi"]["status"] == "exit 0"
    assert summary["stages"]["train-multi"]["complete"] is False   # stopped by --max-minutes, not iters
    assert "pack: weights.tar" in (out / "log.txt").read_text()
    assert wall < 180, wall
    print(f"dry run: {wall:.0f} s, files {[(p.name, p.stat().st_size) for p in files]}", file=sys.stderr)


@pytest.mark.slow
def test_install_weights_if_better_keeps_the_shipped_net_against_a_worse_one(tmp_path, monkeypatch):
    """The commit rule for weights coming back: same-name weights replace the shipped ones only
    when they score better (rtstyle.bench.quality content + style); a new name installs as is."""
    import shutil
    from rtstyle.weights import save_weights
    from rtstyle.models import JohnsonNet
    iw = _script("install_weights")
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    src = ROOT / "rtstyle" / "weights"
    for name in ("johnson-mosaic.safetensors", "johnson-mosaic.json", "vgg19_relu4_1.safetensors"):
        shutil.copy2(src / name, shipped / name)
    monkeypatch.setattr(iw, "WEIGHTS", shipped)
    monkeypatch.setattr(iw, "DOCS", tmp_path / "docs")
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(3)
    for i in range(21):   # every 20th is a validation photo: p00, p20
        img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (128, 96), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(photos / f"p{i:02d}.png"), img)
    run = tmp_path / "run"
    run.mkdir()
    manifest = json.loads((src / "johnson-mosaic.json").read_text())
    torch.manual_seed(0)
    save_weights(JohnsonNet(**manifest["config"]), run / "johnson-mosaic.safetensors",
                 {**manifest, "iterations": 5})   # untrained: worse than the shipped net
    before = (shipped / "johnson-mosaic.safetensors").read_bytes()
    iw.install_run(run, if_better=True, photos_dir=photos)
    assert (shipped / "johnson-mosaic.safetensors").read_bytes() == before
    (run / "johnson-mosaic.safetensors").rename(run / "johnson-newstyle.safetensors")
    (run / "johnson-mosaic.json").rename(run / "johnson-newstyle.json")
    iw.install_run(run, if_better=True, photos_dir=photos)
    assert (shipped / "johnson-newstyle.safetensors").exists()


@pytest.mark.parametrize("data_filter", [True, False])
def test_extract_refuses_a_path_out_of_the_folder(tmp_path, monkeypatch, data_filter):
    """A tarball member named ../x is not written outside the folder, with or without tarfile's
    "data" filter (Python 3.11 before 3.11.4 lacks it)."""
    mod = _script("install_weights")
    if not data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile data filter")
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    (tmp_path / "in").mkdir()
    with tarfile.open(bad) as tar, pytest.raises((SystemExit, tarfile.TarError)):
        mod.extract(tar, tmp_path / "in")
    assert not (tmp_path / "escaped.txt").exists()
