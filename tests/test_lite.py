"""The lite family: its net, the distillation trainer, the resumable loop and `rtstyle train lite`."""
import json

import cv2
import numpy as np
import pytest
import torch

from rtstyle.weights import load_weights
from rtstyle.cli import main
from rtstyle.models.lite import LiteNet
from rtstyle.models.transformer import JohnsonNet
from rtstyle.train.distill import DistillConfig, _shift, consistency_loss, train


@pytest.fixture
def photos(tmp_path):
    """Eight small random-texture photos (enough for the train/val split)."""
    d = tmp_path / "photos"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        img = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (64, 48), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(d / f"p{i}.png"), img)
    return d


def test_lite_is_cheaper_than_the_johnson_teacher_it_copies():
    from rtstyle.models.cost import count_macs as _count_macs
    x = torch.rand(1, 3, 64, 64)
    lite, teacher = LiteNet(n_styles=20).eval(), JohnsonNet(width=16, n_res=5).eval()
    lite_macs = _count_macs(lite, lambda: lite(x, 0))
    assert lite_macs * 3 < _count_macs(teacher, lambda: teacher(x))


def test_shift_translates_with_edges_replicated():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    s = _shift(x, 1, -1)
    assert torch.equal(s[0, 0, 1:, :3], x[0, 0, :3, 1:])     # moved down 1, left 1
    assert torch.equal(s[0, 0, 0, :3], x[0, 0, 0, 1:])       # top row replicated


def test_consistency_loss_is_zero_for_a_net_that_commutes_with_shifts():
    x = torch.rand(2, 3, 40, 40)
    ident = lambda t, style: t  # noqa: E731 — identity commutes with any shift
    g = torch.Generator().manual_seed(0)
    assert consistency_loss(ident, x, x, 0, 0.0, g).item() < 1e-6
    assert consistency_loss(ident, x, x, 0, 0.1, g).item() > 0.05    # noise is not ignored


def test_distill_trains_resumes_and_ships_a_manifest(photos, tmp_path):
    out = tmp_path / "run"
    cfg = DistillConfig(styles=["mosaic"], data=str(photos), out=str(out), model={"width": 4, "n_res": 1},
                        crop=32, batch=1, iters=2, log_every=1, ckpt_every=1, device="cpu", consistency_weight=0.5)
    train(cfg)
    more = DistillConfig(**{**cfg.__dict__, "iters": 3})
    weights = train(more)                 # resumes at step 2
    rows = (out / "losses.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    assert rows[0].split(",") == ["step", "total", "pixel", "feature", "consistency", "val_total"]
    manifest = json.loads(weights.with_suffix(".json").read_text())
    assert manifest["family"] == "lite" and manifest["styles"] == ["mosaic"] and manifest["iterations"] == 3
    assert manifest["teachers"]["mosaic"].split(":")[0] in ("multi", "johnson")   # TEACHER_ORDER: multi first
    assert np.isfinite(manifest["val_loss"]) and manifest["loss_scales"]["feature"] > 0
    net, _ = load_weights(weights)
    y = net(torch.rand(1, 3, 21, 35), 0)
    assert y.shape == (1, 3, 21, 35) and 0 <= y.min() and y.max() <= 1
    assert list(out.glob("samples_*.png")) and (out / "losses.png").exists()
    from rtstyle.train.snapshot import snapshot    # what the campaign ships mid-run says the same
    _, snap = snapshot(out, tmp_path / "ship")
    for key in ("teachers", "loss_weights", "taps", "loss_scales", "train_photo_short"):
        assert snap[key] == manifest[key], key
    assert manifest["train_photo_short"] == 48     # 1.5 x crop by default


def test_distill_photo_short_sets_the_students_stroke_scale_and_says_when_the_teachers_differ(photos, tmp_path,
                                                                                           capsys):
    out = tmp_path / "run"
    cfg = DistillConfig(styles=["mosaic"], data=str(photos), out=str(out), model={"width": 4, "n_res": 1},
                        crop=32, photo_short=40, batch=1, iters=1, log_every=1, ckpt_every=1, device="cpu",
                        teacher="johnson")
    manifest = json.loads(train(cfg).with_suffix(".json").read_text())
    assert manifest["train_photo_short"] == 40 and "photos at 40 px" in manifest["data"]
    out_text = capsys.readouterr().out   # the shipped johnson-mosaic learnt its strokes at 384 px
    assert ("note: teachers learnt their strokes on photos of another short side than this run's 40 px "
            "(johnson-mosaic.safetensors: 384)") in out_text
    from rtstyle.train.snapshot import snapshot
    assert snapshot(out, tmp_path / "ship")[1]["train_photo_short"] == 40


def test_train_lite_cli_says_which_style_has_no_teacher(photos, capsys, monkeypatch, tmp_path):
    from rtstyle import styles
    monkeypatch.setattr("rtstyle.styles.WEIGHTS_DIR", tmp_path / "none")   # the shipped multi net paints all 20
    monkeypatch.delenv("RTSTYLE_WEIGHTS", raising=False)
    untrained = next(s for s in styles.style_names() if not styles.entries_for(s))   # e.g. poppies
    assert main(["train", "lite", "--style", untrained, "--data", str(photos), "--iters", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"no trained teacher for style '{untrained}'" in err
    assert main(["train", "lite", "--style", "mosaic,mosaic", "--data", str(photos)]) == 2
    assert "twice" in capsys.readouterr().err
    assert main(["train", "lite", "--style", "mosaic", "--data", str(photos), "--crop", "64",
                 "--photo-short", "48"]) == 2
    err = capsys.readouterr().err
    assert "--photo-short 48 is smaller than --crop 64" in err and len(err.strip().splitlines()) == 1


def test_lite_is_the_cpu_default_and_full_nets_are_the_gpu_default(tmp_path, monkeypatch):
    from rtstyle import styles
    from rtstyle.weights import save_weights
    save_weights(LiteNet(n_styles=1, width=4, n_res=1), tmp_path / "lite-mosaic.safetensors",
                 {"family": "lite", "styles": ["mosaic"], "config": {"n_styles": 1, "width": 4, "n_res": 1}})
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(tmp_path))      # plus the shipped johnson-mosaic
    assert styles.choose("mosaic").family == "lite"
    assert styles.choose("mosaic", gpu=True).family == "johnson"
    assert styles.choose("mosaic", "lite", gpu=True).family == "lite"


def test_at_equal_cost_a_styles_own_net_comes_before_a_shared_one(tmp_path, monkeypatch):
    from rtstyle import styles
    from rtstyle.weights import save_weights
    cfg = {"width": 4, "n_res": 1}
    save_weights(LiteNet(n_styles=1, **cfg), tmp_path / "lite-starry_night.safetensors",
                 {"family": "lite", "styles": ["starry_night"], "config": {"n_styles": 1, **cfg}})
    save_weights(LiteNet(n_styles=2, **cfg), tmp_path / "lite-multi.safetensors",   # sorts first by name
                 {"family": "lite", "styles": ["mosaic", "starry_night"], "config": {"n_styles": 2, **cfg}})
    monkeypatch.setattr("rtstyle.styles.WEIGHTS_DIR", tmp_path / "none")
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(tmp_path))
    a, b = (styles.entries_for("starry_night"))[:2]
    assert styles.cost(a) == styles.cost(b)
    assert styles.choose("starry_night").path.name == "lite-starry_night.safetensors"
    assert styles.choose("mosaic").path.name == "lite-multi.safetensors"


def test_own_weights_shadow_the_shipped_file_of_the_same_name_even_when_costlier(tmp_path, monkeypatch):
    """A wider lite-starry_night of your own on $RTSTYLE_WEIGHTS is what paints, not the cheaper
    shipped width-16 net of that name (it used to lose to it on cost)."""
    from rtstyle import styles
    from rtstyle.weights import save_weights
    cfg = {"n_styles": 1, "width": 24, "n_res": 4}
    save_weights(LiteNet(**cfg), tmp_path / "lite-starry_night.safetensors",
                 {"family": "lite", "styles": ["starry_night"], "config": cfg})
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(tmp_path))
    mine = styles.choose("starry_night")
    assert mine.path == tmp_path / "lite-starry_night.safetensors" and mine.manifest["config"]["width"] == 24
    names = [e.path.name for e in styles.weights_entries()]
    assert names.count("lite-starry_night.safetensors") == 1
    assert "lite-mosaic.safetensors" in names   # the shipped ones without a namesake stay

def test_every_style_and_mixture_of_a_style_input_net_shares_one_onnx_export(tmp_path, monkeypatch):
    from rtstyle.weights import save_weights
    from rtstyle.pipeline.stylizer import Stylizer
    names = ["mosaic", "starry_night"]
    net = LiteNet(n_styles=2, width=4, n_res=1)
    with torch.no_grad():   # two different style rows (fresh ones are all γ = 1, β = 0)
        for name, prm in net.named_parameters():
            if name.endswith(("gamma", "beta")):
                prm.copy_(torch.randn(prm.shape, generator=torch.Generator().manual_seed(len(name))))
    save_weights(net, tmp_path / "lite-multi.safetensors",
                 {"family": "lite", "styles": names, "config": {"n_styles": 2, "width": 4, "n_res": 1}})
    monkeypatch.setattr("rtstyle.styles.WEIGHTS_DIR", tmp_path / "none")   # the shipped own nets would paint
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(tmp_path))
    cache = tmp_path / "cache"
    rgb = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    outs = []
    for style in ["mosaic", "starry_night", "mosaic:0.3,starry_night:0.7"]:
        with Stylizer(style, "lite", backend="onnxruntime", cache_dir=cache) as st:
            outs.append(st.frame(rgb))
    assert len(list(cache.glob("*.onnx"))) == 1
    assert np.abs(outs[0].astype(int) - outs[2]).max() > 0 and np.abs(outs[1].astype(int) - outs[2]).max() > 0


def test_the_lite_stylizer_paints_frames_over_a_mirrored_edge_margin():
    """The lite convs pad with zeros and paint a dark frame at the edge; the Stylizer paints each
    frame over a 16-px mirrored margin and cuts it off (families.FAMILIES['lite'].edge_margin)."""
    from rtstyle.errors import UserError
    from rtstyle.pipeline.stylizer import Stylizer
    x = torch.rand(1, 3, 48, 64)
    with Stylizer("mosaic", "lite", backend="torch") as st:
        assert st.margin == 16
        seen, backend = [], st.backend

        class Spy:    # what the net is given
            def __call__(self, t, **kw):
                seen.append(tuple(t.shape[-2:]))
                return backend(t, **kw)

            def close(self):
                backend.close()
        st.backend = Spy()
        y = st.tensor(x)
        assert seen == [(80, 96)] and y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    with Stylizer("mosaic", "lite", backend="torch", margin=0) as plain:
        y0 = plain.tensor(x)
    edge = torch.ones(48, 64, dtype=torch.bool)
    edge[4:-4, 4:-4] = False
    assert (y - y0).abs()[..., edge].mean() > (y - y0).abs()[..., ~edge].mean()   # the margin changes the edge most
    with pytest.raises(UserError, match="margin -1 is negative"):
        Stylizer("mosaic", "lite", backend="torch", margin=-1)


def test_on_a_gpu_a_styles_own_net_comes_before_a_shared_full_net(tmp_path, monkeypatch):
    from rtstyle import styles
    from rtstyle.weights import build_model, save_weights
    # the shipped weights: church_at_auvers has the shared multi net and a lite net of its own;
    # mosaic has a johnson net of its own too, and the full net of its own wins there
    assert styles.choose("church_at_auvers", gpu=True).path.name == "lite-church_at_auvers.safetensors"
    assert styles.choose("mosaic", gpu=True).family == "johnson"
    assert styles.choose("church_at_auvers").family == "lite"   # the CPU is unchanged
    # no net of its own: the shared full net before the shared CPU-tier one
    monkeypatch.setattr(styles, "WEIGHTS_DIR", tmp_path / "none")
    cfg = {"width": 4, "n_res": 1}
    save_weights(LiteNet(n_styles=2, **cfg), tmp_path / "lite-multi.safetensors",
                 {"family": "lite", "styles": ["mosaic", "starry_night"], "config": {"n_styles": 2, **cfg}})
    mcfg = {"n_styles": 2, "width": 4, "n_res": 1}
    save_weights(build_model("multi", mcfg), tmp_path / "multi-multi.safetensors",
                 {"family": "multi", "styles": ["mosaic", "starry_night"], "config": mcfg})
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(tmp_path))
    assert styles.choose("starry_night", gpu=True).family == "multi"
    assert styles.choose("starry_night").family == "lite"
