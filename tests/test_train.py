"""The style trainers (transformer families, AdaIN) on tiny nets: they train, log, resume exactly
where they stopped, and write weights with a complete manifest. `rtstyle train lite` is in
test_lite.py, `rtstyle train depth` in test_depth.py."""
import json

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rtstyle.weights import load_weights
from rtstyle.cli import main
from rtstyle.styles import STYLE_DIR
from rtstyle.train.adain import AdaINConfig
from rtstyle.train.adain import train as train_adain
from rtstyle.train.transformer import TransformerConfig
from rtstyle.train.transformer import train as train_transformer

MANIFEST_KEYS = {"family", "styles", "config", "data", "iterations", "complete", "train_loss", "val_loss",
                 "loss_weights", "taps", "wall_time_s", "device", "code_revision"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    for i in range(21):   # 20 train + 1 validation (every 20th file)
        img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (64, 48), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(d / f"p{i:02d}.png"), img)
    return d


def _tiny(photos, out, **kw):
    base = dict(family="johnson", styles=["mosaic"], style_dir=str(STYLE_DIR), data=str(photos), out=str(out),
                model={"width": 4, "n_res": 1}, crop=48, style_size=48, batch=1, iters=2, log_every=1,
                ckpt_every=1, device="cpu")
    base.update(kw)
    return TransformerConfig(**base)


@pytest.mark.parametrize("family,styles,extra", [
    ("johnson", ["mosaic"], {}),
    ("compact", ["mosaic"], {"shift_weight": 0.7, "model": {"width": 4, "n_res": 1, "downsample": True}}),
    ("multi", ["mosaic", "starry_night"], {}),
    ("lite", ["mosaic"], {}),
    ("lite", ["mosaic", "starry_night"], {}),
])
def test_transformer_families_train_and_ship_a_manifest(photos, tmp_path, family, styles, extra):
    weights = train_transformer(_tiny(photos, tmp_path / family, family=family, styles=styles, **extra))
    manifest = json.loads(weights.with_suffix(".json").read_text())
    assert MANIFEST_KEYS <= set(manifest)
    assert manifest["family"] == family and manifest["styles"] == styles and manifest["iterations"] == 2
    assert manifest["complete"] and np.isfinite(manifest["val_loss"])
    assert ("shift" in manifest["train_loss"]) == (family == "compact")
    assert set(manifest["loss_scales"]["style"]) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1"}
    assert all(t.dtype == torch.float16 for t in load_file(weights).values())
    net, _ = load_weights(weights)
    x = torch.rand(1, 3, 19, 27)
    y = net(x, len(styles) - 1) if family in ("multi", "lite") else net(x)
    assert y.shape == x.shape
    assert (tmp_path / family / "losses.png").exists() and list((tmp_path / family).glob("samples_*.png"))
    assert weights.stem == {"johnson": "johnson-mosaic", "compact": "compact-mosaic", "multi": "multi-multi",
                            "lite": "lite-mosaic" if len(styles) == 1 else "lite-multi"}[family]
    from rtstyle.train.snapshot import snapshot    # a mid-run snapshot names and builds it the same
    path, snap = snapshot(tmp_path / family, tmp_path / "ship")
    assert path.name == weights.name and snap["config"] == manifest["config"]


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(photos, tmp_path):
    straight = train_transformer(_tiny(photos, tmp_path / "a", iters=4))
    train_transformer(_tiny(photos, tmp_path / "b", iters=2))
    resumed = train_transformer(_tiny(photos, tmp_path / "b", iters=4))
    a, b = load_file(straight), load_file(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a), "same batches, same steps, same weights"
    rows = (tmp_path / "b" / "losses.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["1", "2", "3", "4"]


def test_a_resumed_multi_style_run_draws_the_same_per_image_styles(photos, tmp_path):
    kw = dict(family="multi", styles=["mosaic", "starry_night", "great_wave"], batch=2)
    straight = train_transformer(_tiny(photos, tmp_path / "a", iters=4, **kw))
    train_transformer(_tiny(photos, tmp_path / "b", iters=2, **kw))
    resumed = train_transformer(_tiny(photos, tmp_path / "b", iters=4, **kw))
    a, b = load_file(straight), load_file(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_per_image_styles_score_each_image_against_its_own_painting():
    from rtstyle.train.transformer import _Targets, _style_terms
    cfg = TransformerConfig(family="multi", styles=["a", "b"], shift_weight=0.5)
    taps = cfg.style_taps
    targets = _Targets.__new__(_Targets)
    g = torch.Generator().manual_seed(0)
    targets.grams = [{t: torch.rand(1, 4, 4, generator=g) for t in taps} for _ in range(2)]
    targets.shift = [{t: (torch.rand(1, 4, 4, generator=g), torch.rand(1, 4, 4, generator=g)) for t in taps}
                     for _ in range(2)]
    targets.per_style = [{t: 1.0 + i for t in taps} for i in range(2)]
    targets.per_style_shift = [{t: 2.0 + i for t in taps} for i in range(2)]
    fy = {t: torch.rand(3, 4, 8, 8, generator=g) for t in taps}
    mixed = _style_terms(cfg, targets, fy, [1, 0, 1])
    one = [_style_terms(cfg, targets, {t: fy[t][i:i + 1] for t in taps}, s) for i, s in enumerate([1, 0, 1])]
    for k in ("style", "shift"):
        assert torch.allclose(mixed[k], sum(o[k] for o in one) / 3)
    assert not torch.allclose(mixed["style"], _style_terms(cfg, targets, fy, 0)["style"])


def test_time_limit_stops_with_a_checkpoint_and_an_incomplete_manifest(photos, tmp_path):
    weights = train_transformer(_tiny(photos, tmp_path / "t", iters=1000, max_minutes=1e-6))
    manifest = json.loads(weights.with_suffix(".json").read_text())
    assert manifest["iterations"] == 1 and manifest["complete"] is False
    assert (tmp_path / "t" / "ckpt.pt").exists()


def test_adain_decoder_trains_and_resumes(photos, tmp_path):
    cfg = AdaINConfig(data=str(photos), style_dir=str(STYLE_DIR), out=str(tmp_path / "adain"), width_scale=0.125,
                      crop=32, batch=1, iters=1, log_every=1, ckpt_every=1, device="cpu")
    train_adain(cfg)
    weights = train_adain(AdaINConfig(**{**cfg.__dict__, "iters": 2}))
    manifest = json.loads(weights.with_suffix(".json").read_text())
    assert manifest["family"] == "adain" and manifest["iterations"] == 2 and manifest["arbitrary_style"]
    assert manifest["encoder"] == "vgg19_relu4_1.safetensors" and np.isfinite(manifest["val_loss"])


def test_train_cli_refuses_bad_requests_in_one_line(photos, capsys):
    assert main(["train", "transformer", "--style", "mosaic,starry_night", "--data", str(photos)]) == 2
    assert "--family multi" in capsys.readouterr().err
    assert main(["train", "transformer", "--style", "mosiac", "--data", str(photos)]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'mosaic'" in err and len(err.strip().splitlines()) == 1
    assert main(["train", "transformer", "--style", "mosaic", "--data", str(photos / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "transformer", "--style", "mosaic", "--data", str(photos), "--crop", "128",
                 "--photo-short", "96"]) == 2
    err = capsys.readouterr().err
    assert "--photo-short 96 is smaller than --crop 128" in err and len(err.strip().splitlines()) == 1


def test_photo_short_sets_the_stroke_scale_and_recalibrate_remeasures_the_scales(photos, tmp_path):
    first = train_transformer(_tiny(photos, tmp_path / "a"))
    m0 = json.loads(first.with_suffix(".json").read_text())
    assert m0["train_photo_short"] == 72 and m0["style_size"] == 48     # 1.5 x crop by default
    kept = train_transformer(_tiny(photos, tmp_path / "b", init=str(first), iters=3, style_size=96))
    assert json.loads(kept.with_suffix(".json").read_text())["loss_scales"] == m0["loss_scales"]
    fresh = train_transformer(_tiny(photos, tmp_path / "c", init=str(first), iters=3, style_size=96,
                                    photo_short=60, recalibrate=True))
    m2 = json.loads(fresh.with_suffix(".json").read_text())
    assert m2["train_photo_short"] == 60 and m2["style_size"] == 96 and m2["iterations"] == 3
    assert m2["loss_scales"]["style"] != m0["loss_scales"]["style"]
    from rtstyle.train.snapshot import snapshot    # what the campaign ships mid-run keeps the stroke scale
    _, snap = snapshot(tmp_path / "c", tmp_path / "snap")
    assert snap["train_photo_short"] == 60 and snap["style_size"] == 96


def test_margin_trains_on_the_mirrored_edge_and_the_manifest_and_snapshot_keep_it(photos, tmp_path, capsys):
    from rtstyle.train import transformer as tr
    seen = []

    class Spy(torch.nn.Module):   # records what the net is given; returns it unchanged
        def forward(self, x):
            seen.append(tuple(x.shape[-2:]))
            return x

    x = torch.rand(2, 3, 48, 40)
    assert torch.equal(tr._run(Spy(), x, "johnson", 0, margin=16), x) and seen == [(80, 72)]
    weights = train_transformer(_tiny(photos, tmp_path / "m", family="lite", margin=16))
    assert json.loads(weights.with_suffix(".json").read_text())["margin"] == 16
    from rtstyle.train.snapshot import snapshot
    assert snapshot(tmp_path / "m", tmp_path / "ship")[1]["margin"] == 16
    capsys.readouterr()
    assert main(["train", "transformer", "--style", "mosaic", "--data", str(photos), "--crop", "64",
                 "--margin", "64"]) == 2
    err = capsys.readouterr().err
    assert "--margin 64 must be between 0 and --crop 64 - 1" in err and len(err.strip().splitlines()) == 1


def test_ema_ships_the_moving_average_and_resumes_it(photos, tmp_path, capsys):
    from rtstyle.train.ema import WeightAverage
    from rtstyle.train.snapshot import snapshot
    # the average itself: each weight moves (1 - decay) of the way to the trained net's
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    avg = WeightAverage(a, 0.75)
    avg.update(b)
    assert torch.allclose(avg.net.weight, 0.75 * a.weight + 0.25 * b.weight)
    assert not any(p.requires_grad for p in avg.net.parameters())
    # a run with --ema ships the average, which is not the last step's weights, and a snapshot ships the same
    weights = train_transformer(_tiny(photos, tmp_path / "e", family="lite", iters=3, ema=0.5))
    saved = torch.load(tmp_path / "e" / "ckpt.pt", weights_only=False)["state"]
    shipped = load_file(weights)
    assert all(torch.equal(shipped[k], saved["ema"][k].half()) for k in shipped)
    assert any(not torch.equal(saved["ema"][k], saved["net"][k]) for k in saved["net"])
    assert json.loads(weights.with_suffix(".json").read_text())["ema"] == 0.5
    path, snap = snapshot(tmp_path / "e", tmp_path / "ship")
    assert snap["ema"] == 0.5 and all(torch.equal(load_file(path)[k], shipped[k]) for k in shipped)
    # resumed, the average goes on where it stopped: the same weights as an uninterrupted run
    train_transformer(_tiny(photos, tmp_path / "f", family="lite", iters=2, ema=0.5))
    resumed = load_file(train_transformer(_tiny(photos, tmp_path / "f", family="lite", iters=3, ema=0.5)))
    assert all(torch.equal(resumed[k], shipped[k]) for k in shipped)
    # a run that started without it starts its average at the resumed net
    train_transformer(_tiny(photos, tmp_path / "g", family="lite", iters=2))
    later = train_transformer(_tiny(photos, tmp_path / "g", family="lite", iters=3, ema=0.5))
    assert json.loads(later.with_suffix(".json").read_text())["ema"] == 0.5
    capsys.readouterr()
    assert main(["train", "transformer", "--style", "mosaic", "--data", str(photos), "--ema", "1.0"]) == 2
    err = capsys.readouterr().err
    assert "--ema 1.0 must be at least 0 and below 1" in err and len(err.strip().splitlines()) == 1
