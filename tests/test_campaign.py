"""The CPU training campaign's pieces: snapshots of a running run's checkpoint ship as loadable fp16
weights, a run whose checkpoint is gone continues from shipped weights (--init), the ledger keeps
every shipped row, and the trainers record the precision they chose."""
import importlib.util
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rtstyle.weights import load_weights
from rtstyle.styles import STYLE_DIR
from rtstyle.train import common
from rtstyle.train.snapshot import copy_run_docs, snapshot
from rtstyle.train.transformer import TransformerConfig
from rtstyle.train.transformer import train as train_transformer

ROOT = Path(__file__).resolve().parents[1]


def _campaign():
    spec = importlib.util.spec_from_file_location("train_campaign", ROOT / "scripts" / "train_campaign.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(2)
    for i in range(21):
        img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (64, 48), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(d / f"p{i:02d}.png"), img)
    return d


def _cfg(photos, out, **kw):
    base = dict(family="multi", styles=["mosaic", "starry_night"], style_dir=str(STYLE_DIR), data=str(photos),
                out=str(out), model={"width": 4, "n_res": 1}, crop=48, style_size=48, batch=1, iters=2,
                log_every=1, ckpt_every=1, device="cpu", precision="fp32")
    base.update(kw)
    return TransformerConfig(**base)


def test_snapshot_matches_the_run_and_init_continues_it(photos, tmp_path):
    final = train_transformer(_cfg(photos, tmp_path / "a"))
    snap, manifest = snapshot(tmp_path / "a", tmp_path / "ship")
    assert snap.name == "multi-multi.safetensors"
    assert manifest["iterations"] == 2 and manifest["complete"] and manifest["precision"] == "fp32"
    assert manifest["styles"] == ["mosaic", "starry_night"] and manifest["loss_scales"]["style"]
    x = torch.rand(1, 3, 24, 32)
    a, _ = load_weights(final)
    b, _ = load_weights(snap)
    assert torch.equal(a(x, 1), b(x, 1))   # same fp16 weights as the trainer's own file

    # ckpt.pt gone: a new run folder starts from the shipped weights and counts their steps as done
    cont = train_transformer(_cfg(photos, tmp_path / "b", iters=4, init=str(snap)))
    m = json.loads(cont.with_suffix(".json").read_text())
    assert m["iterations"] == 4
    assert m["loss_scales"] == manifest["loss_scales"]   # the loss it was trained on is kept
    rows = (tmp_path / "b" / "losses.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [3, 4]


def test_run_docs_keep_the_curves_and_the_last_grid_as_a_small_jpeg(tmp_path):
    run, docs = tmp_path / "run", tmp_path / "docs"
    run.mkdir()
    (run / "losses.csv").write_text("step,total\n1,2.0\n")
    ramp = torch.linspace(0, 1, 64)
    smooth = torch.stack([ramp[None, :].expand(64, 64), ramp[:, None].expand(64, 64), 1 - ramp[None, :].expand(64, 64)])
    for step in (50, 100):   # the grid of the last step is the one shown
        rows = [torch.stack([smooth, smooth.flip(-1)]) * (step / 100)]
        common.save_grid(rows, run / f"samples_{step:06d}.png")
    docs.mkdir()
    (docs / "samples_last.png").write_bytes(b"an earlier ship's grid")
    written = copy_run_docs(run, docs)
    assert sorted(p.name for p in written) == ["losses.csv", "samples_last.jpg"]
    assert not (docs / "samples_last.png").exists()
    assert (docs / "losses.csv").read_text() == (run / "losses.csv").read_text()
    jpg = cv2.imread(str(docs / "samples_last.jpg"))
    png = cv2.imread(str(run / "samples_000100.png"))
    assert jpg.shape == png.shape == (64, 128, 3)
    assert np.abs(jpg.astype(int) - png.astype(int)).mean() < 3   # the same picture, lossy
    assert (docs / "samples_last.jpg").stat().st_size < (run / "samples_000100.png").stat().st_size


def test_init_refuses_weights_of_another_shape(photos, tmp_path):
    final = train_transformer(_cfg(photos, tmp_path / "a"))
    with pytest.raises(ValueError, match="does not fit this net"):
        train_transformer(_cfg(photos, tmp_path / "c", iters=3, model={"width": 8, "n_res": 1}, init=str(final)))


def test_ledger_keeps_rows_in_order(tmp_path):
    camp = _campaign()
    doc = tmp_path / "training.md"
    doc.write_text("# Training\n\ntext\n")
    stage = camp.BY_NAME["multi-20"]
    for steps in (100, 200):
        camp.add_ledger_row(doc, camp.ledger_row(stage, {"iterations": steps, "wall_time_s": 600.0, "cpu": "X",
                                                         "precision": "bf16-autocast", "train_loss": {"total": 1.5},
                                                         "val_loss": 1.6}))
    lines = doc.read_text().splitlines()
    rows = [ln for ln in lines if ln.startswith("| 20")]
    assert len(rows) == 2 and f"100 / {stage.iters}" in rows[0] and f"200 / {stage.iters}" in rows[1]
    assert lines.count(camp.LEDGER_HEAD) == 1


def test_campaign_resumes_from_shipped_weights_without_a_checkpoint(tmp_path, monkeypatch):
    camp = _campaign()
    monkeypatch.setattr(camp, "RUNS", tmp_path)
    stage = camp.BY_NAME["multi-20"]
    cmd = camp.command(stage, threads=1, max_minutes=30)
    shipped = ROOT / "rtstyle" / "weights" / f"{stage.stem}.safetensors"
    assert ("--init" in cmd) == shipped.exists()
    (tmp_path / stage.name).mkdir()
    (tmp_path / stage.name / "ckpt.pt").write_bytes(b"")
    assert "--init" not in camp.command(stage, threads=1, max_minutes=30)   # the checkpoint wins


def test_every_lite_continuation_trains_at_its_shipped_nets_style_weight():
    # a continuation keeps its shipped net's loss scales, so it must keep its style weight too (poppies
    # and ejiri_in_suruga were trained at 1.0 and 0.75, not the recipe's 3.0)
    # (the newest such stage of each net: an older one is history, e.g. harvest_at_la_crau's -2 at 3.0
    # before its -sw6 trade shipped a net trained at 6.0)
    camp = _campaign()
    checked = []
    newest = {}
    for stage in camp.PLAN:
        if re.fullmatch(r"lite-.+-crop256(-\d+|-sw\d+)?", stage.name) and "--recalibrate" not in stage.args:
            newest[stage.stem] = stage
    for stage in newest.values():
        manifest = ROOT / "rtstyle" / "weights" / f"{stage.stem}.json"
        if not manifest.exists():
            continue
        shipped = json.loads(manifest.read_text())["loss_weights"]["style"]
        assert stage.args.count("--style-weight") == 1
        assert float(stage.args[stage.args.index("--style-weight") + 1]) == shipped, stage.name
        checked.append(stage.name)
    stems = {camp.BY_NAME[name].stem for name in checked}
    assert {"lite-poppies", "lite-ejiri_in_suruga", "lite-harvest_at_la_crau"} <= stems


def test_a_style_with_no_net_yet_starts_from_its_related_net(tmp_path, monkeypatch):
    camp = _campaign()
    monkeypatch.setattr(camp, "RUNS", tmp_path)
    stage = camp.BY_NAME["johnson-cafe_terrace_at_night-real"]
    weights = ROOT / "rtstyle" / "weights"
    cmd = camp.command(stage, threads=1, max_minutes=30)
    if (weights / f"{stage.stem}.safetensors").exists():      # once shipped, it continues itself
        assert cmd[cmd.index("--init") + 1].endswith(f"{stage.stem}.safetensors")
    else:
        assert cmd[cmd.index("--init") + 1] == str(weights / f"{stage.init}.safetensors")
    assert cmd[cmd.index("--photo-short") + 1] == "384" and cmd[cmd.index("--style") + 1] == "cafe_terrace_at_night"


def test_a_stage_can_start_from_a_kept_unshipped_net(tmp_path, monkeypatch):
    camp = _campaign()
    monkeypatch.setattr(camp, "RUNS", tmp_path)
    for name in ("compact-mosaic-real-2", "compact-mosaic-real-3"):
        _kept_init(camp, camp.BY_NAME[name])


def _kept_init(camp, stage):
    cmd = camp.command(stage, threads=1, max_minutes=30)
    if not (ROOT / "rtstyle" / "weights" / f"{stage.stem}.safetensors").exists():
        kept = ROOT / stage.init
        assert kept.exists() and cmd[cmd.index("--init") + 1] == str(kept)
        assert json.loads(kept.with_suffix(".json").read_text())["family"] == "compact"
    assert "--recalibrate" not in cmd   # it keeps the loss scales it was trained on


def test_precision_choice_is_recorded_and_forced(monkeypatch):
    dev = torch.device("cpu")
    assert common.choose_precision(dev, "fp32").name == "fp32"
    assert common.choose_precision(dev, "bf16").name == "bf16-autocast"
    monkeypatch.setattr(common, "cpu_info", lambda: {"model": "Old CPU", "bf16_units": []})
    p = common.choose_precision(dev, "auto")
    assert p.name == "fp32" and "no bf16 units" in p.why and not p.autocast._enabled
    with pytest.raises(ValueError, match="choose auto, bf16 or fp32"):
        common.choose_precision(dev, "fp16")


def test_a_resumed_run_keeps_its_precision_whatever_the_probe_says(monkeypatch):
    """The auto probe is a timing: on a loaded machine it can flip, and a resumed run that switched
    precision would not end where an uninterrupted one does."""
    dev = torch.device("cpu")
    monkeypatch.setattr(common, "cpu_info", lambda: {"model": "Some CPU", "bf16_units": ["avx512_bf16"]})
    monkeypatch.setattr(common, "_probe_ms", lambda: (10.0, 1.0))   # bf16 looks faster
    first = {"precision": "fp32", "precision_reason": "Some CPU has avx512_bf16; conv probe ... -> fp32"}
    kept = common.choose_precision(dev, "auto", first)
    assert kept.name == "fp32" and kept.why == first["precision_reason"] and not kept.autocast._enabled
    assert common.choose_precision(dev, "auto").name == "bf16-autocast"           # a fresh run probes
    assert common.choose_precision(dev, "bf16", first).name == "bf16-autocast"    # asked for wins

    class Loop:
        extra = {"precision": first}
    assert common.loop_precision(Loop, dev, "auto").name == "fp32" and Loop.extra["precision"]["precision"] == "fp32"


def test_multi_style_losses_are_normalised_per_style(photos):
    """One painting far above the others (mosaic) must not dominate a multi-style net: with
    per-style scales, plain photos score 1 per tap for *every* style."""
    from rtstyle import losses
    from rtstyle.weights import load_vgg19
    from rtstyle.train.data import CropSampler, list_images
    from rtstyle.train.transformer import _Targets
    cfg = _cfg(photos, "unused", styles=["mosaic", "starry_night", "poppies"])
    vgg = load_vgg19("relu4_1")
    t = _Targets(vgg, cfg, torch.device("cpu"))
    x = CropSampler(list_images(photos)[:4], 48, short=72).fixed(4)
    t.calibrate(vgg, cfg, x)
    f = vgg(x, cfg.style_taps)
    for i in range(3):
        scales, _ = t.style_scales(i)
        per_tap = [losses.style_loss(t.grams[i], f, [tap], scales).item() for tap in cfg.style_taps]
        assert per_tap == pytest.approx([1.0] * 4, rel=1e-3)
    saved = t.scales()
    assert len(saved["style_per_style"]) == 3 and set(saved["style"]) == set(cfg.style_taps)
    t2 = _Targets(vgg, cfg, torch.device("cpu"))
    t2.load_scales(saved)
    assert t2.style_scales(2) == t.style_scales(2)


def test_the_quality_photos_and_their_crops_never_reach_style_training(tmp_path):
    from rtstyle.train.data import EVAL_PHOTO_BASES, split, training_split
    folder = tmp_path / "photos"
    folder.mkdir()
    names = [f"{b}{c}.jpg" for b in sorted(EVAL_PHOTO_BASES) for c in ("", "_crop1", "_crop2")]
    names += [f"other_{i:02d}.jpg" for i in range(40)]
    for n in names:
        cv2.imwrite(str(folder / n), np.full((8, 8, 3), 128, np.uint8))
    train, val = training_split(folder)
    kept = {f.name for f in train + val}
    assert kept == {n for n in names if n.startswith("other_")}
    # every other photo keeps the side (train / validation) it had before
    old_train, old_val = split(sorted(folder.iterdir()))
    assert [f for f in old_train if f.name in kept] == train and [f for f in old_val if f.name in kept] == val


def test_the_held_out_names_are_the_sample_photos():
    # samples/make_samples.py made the scored photos from these training photos: the names must match
    import os
    from rtstyle.train.data import EVAL_PHOTO_BASES
    content = Path(os.environ.get("RTSTYLE_DATA", "/work/shared/data")) / "content"
    if not content.is_dir():
        pytest.skip("no data folder")
    for sample in ("portrait_grace_hopper.jpg", "animal_red_panda.jpg", "landscape_picos_de_europa.jpg"):
        a = cv2.imread(str(ROOT / "samples" / sample)).astype(np.float32)
        diffs = {b: np.abs(cv2.resize(cv2.imread(str(content / f"{b}.jpg")), a.shape[1::-1],
                                      interpolation=cv2.INTER_AREA) - a).mean() for b in EVAL_PHOTO_BASES}
        assert min(diffs.values()) < 5.0, (sample, diffs)


def test_run_files_keep_a_dotted_stage_name(tmp_path, monkeypatch):
    """A stage named ...-sw1.5 gets its own .pid and .log, not ...-sw1.pid shared with a ...-sw1.x sibling."""
    mod = _campaign()
    monkeypatch.setattr(mod, "RUNS", tmp_path)
    stage = mod.BY_NAME["lite-ejiri_in_suruga-crop256-sw1.5"]
    assert mod._beside(stage, ".pid") == tmp_path / "lite-ejiri_in_suruga-crop256-sw1.5.pid"
    assert mod._beside(stage, ".log").name == "lite-ejiri_in_suruga-crop256-sw1.5.log"
    assert mod._pid(stage) is None


def test_the_rules_say_what_fails():
    from rtstyle.train.rule import PHOTOS, Bar, Continuation, Trade
    land, street, panda = PHOTOS
    shipped = {land: (0.30, 0.060), street: (0.31, 0.070), panda: (0.33, 0.050)}
    better = {land: (0.305, 0.050), street: (0.30, 0.060), panda: (0.335, 0.049)}
    assert Continuation().check(better, shipped) == []
    worse = dict(better, **{land: (0.3101, 0.050), panda: (0.33, 0.050)})
    assert Continuation().check(worse, shipped) == [
        f"{land}: content 0.3101 above the shipped 0.3000 + 0.01",
        f"{panda}: style 0.0500 not below the shipped 0.0500"]
    assert Continuation().check({land: better[land]}, shipped) == [f"{street}: not scored", f"{panda}: not scored"]
    # a shipped net over the cap (0.45 on the red panda): the plain rule refuses even a net better in
    # both losses; with cap_at_shipped the shipped content is the cap there, and only there
    over = dict(shipped, **{panda: (0.45, 0.050)})
    both_better = dict(better, **{panda: (0.44, 0.049)})
    assert Continuation().check(both_better, over) == [f"{panda}: content 0.4400 above 0.42"]
    assert Continuation(cap_at_shipped=True).check(both_better, over) == []
    assert Continuation(cap_at_shipped=True).check(dict(both_better, **{panda: (0.4501, 0.049)}), over) == [
        f"{panda}: content 0.4501 above the shipped 0.4500 (the shipped net is over 0.42)"]
    assert Continuation(cap_at_shipped=True).check(dict(both_better, **{land: (0.4201, 0.05)}), over) == [
        f"{land}: content 0.4201 above the shipped 0.3000 + 0.01", f"{land}: content 0.4201 above 0.42"]
    traded = {land: (0.36, 0.040), street: (0.367, 0.050), panda: (0.30, 0.049)}
    assert Trade(cap=0.366).check(traded, shipped) == [f"{street}: content 0.3670 above 0.366"]
    bar = Bar(((land, 1.204, 0.054), (panda, 1.167, 0.057)))
    assert bar.check({land: (1.2, 0.053), panda: (1.17, 0.057)}) == [
        f"{panda}: content 1.1700 above the bar 1.167", f"{panda}: style 0.0570 not below the bar 0.057"]


def _trained_stage(photos, tmp_path, monkeypatch, name, **kw):
    """A two-step multi run of a stage ``name`` with the continuation rule, and an empty checkout to
    ship into: (campaign module, stage, runs folder, checkout)."""
    from rtstyle.train.rule import Continuation
    camp = _campaign()
    stage = camp.Stage(name, [], 2, "multi-multi", 1, "a test stage", rule=Continuation())
    monkeypatch.setitem(camp.BY_NAME, stage.name, stage)
    runs, to = tmp_path / "runs", tmp_path / "checkout"
    (to / "rtstyle" / "weights").mkdir(parents=True)
    (to / "docs").mkdir()
    (to / "docs" / "training.md").write_text("# Training\n")
    train_transformer(_cfg(photos, runs / stage.name, **kw))
    return camp, stage, runs, to


def test_ship_takes_only_the_snapshot_that_score_passed(photos, tmp_path, monkeypatch, capsys):
    from rtstyle.train.rule import PHOTOS
    camp, stage, runs, to = _trained_stage(photos, tmp_path, monkeypatch, "multi-test")
    shipped = {p: (0.30, 0.060) for p in PHOTOS}
    verdicts = iter([{p: (0.32, 0.050) for p in PHOTOS}, shipped, {p: (0.305, 0.050) for p in PHOTOS}, shipped])
    monkeypatch.setattr(camp, "_scores_of", lambda *a: next(verdicts))

    assert camp.main(["--runs", str(runs), "score", stage.name]) == 1   # content + 0.02: fails
    rec = json.loads((runs / f"{stage.name}.scored" / "step-2" / "score.json").read_text())
    assert rec["passes"] is False and len(rec["fails"]) == 3 and rec["shipped"] == {p: list(v) for p, v in shipped.items()}
    assert camp.main(["--runs", str(runs), "ship", stage.name, "--to", str(to)]) == 0
    assert "fails Continuation" in capsys.readouterr().out
    assert not (to / "rtstyle" / "weights" / "multi-multi.safetensors").exists()   # nothing shipped

    assert camp.main(["--runs", str(runs), "score", stage.name]) == 0
    assert camp.main(["--runs", str(runs), "ship", stage.name, "--to", str(to)]) == 0
    scored = runs / f"{stage.name}.scored" / "step-2" / "multi-multi.safetensors"
    shipped_file = to / "rtstyle" / "weights" / "multi-multi.safetensors"
    assert shipped_file.read_bytes() == scored.read_bytes()   # the very file that was scored
    assert json.loads(shipped_file.with_suffix(".json").read_text())["campaign_stage"] == stage.name
    assert f"| {stage.name} | 2 / 2 |" in (to / "docs" / "training.md").read_text()


def test_score_puts_the_trained_net_beside_a_moving_average_and_ship_takes_the_average(photos, tmp_path,
                                                                                       monkeypatch, capsys):
    from safetensors.torch import load_file
    from rtstyle.train.rule import PHOTOS
    camp, stage, runs, to = _trained_stage(photos, tmp_path, monkeypatch, "multi-ema-test", ema=0.5)
    seen = []

    def scores(style, family, weights_dir, threads):   # the average, the shipped net, the trained net
        seen.append(weights_dir)
        return {p: ((0.30, 0.050), (0.30, 0.060), (0.30, 0.055))[len(seen) - 1] for p in PHOTOS}
    monkeypatch.setattr(camp, "_scores_of", scores)
    assert camp.main(["--runs", str(runs), "score", stage.name]) == 0
    out = capsys.readouterr().out
    assert "| trained net, step 2 (the average's; comparison only) | 0.3000 / 0.0550" in out
    step = runs / f"{stage.name}.scored" / "step-2"
    rec = json.loads((step / "score.json").read_text())
    assert rec["passes"] and rec["trained"] == {p: [0.30, 0.055] for p in PHOTOS}
    assert seen == [step, None, step / "trained"]
    avg, raw = load_file(step / "multi-multi.safetensors"), load_file(step / "trained" / "multi-multi.safetensors")
    assert any(not torch.equal(avg[k], raw[k]) for k in avg)
    assert camp.main(["--runs", str(runs), "ship", stage.name, "--to", str(to)]) == 0
    shipped = to / "rtstyle" / "weights" / "multi-multi.safetensors"
    assert shipped.read_bytes() == (step / "multi-multi.safetensors").read_bytes()   # the average ships
    assert json.loads(shipped.with_suffix(".json").read_text())["ema"] == 0.5
