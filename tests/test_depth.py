"""Depth: synthetic renderer, ordinal pairs, accuracy, ranking-loss training, depth-aware blending, CLI."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rtstyle import cli
from rtstyle.weights import save_weights
from rtstyle.depth_cues import sky_mask
from rtstyle.train.depth_data import pairs as P
from rtstyle.train.depth_data import synth
from rtstyle.pipeline.depth import DepthModulator
from rtstyle.bench.depth import truth as T
from rtstyle.bench.depth.metrics import Pairs, merge, ordinal_accuracy
from rtstyle.models.depth import build_depth_net


@pytest.fixture(scope="module")
def pool():
    return synth.TexturePool.procedural(4)


def test_render_is_deterministic_and_shaped(pool):
    a = synth.render_view(3, 24, 32, pool)
    b = synth.render_view(3, 24, 32, pool)
    assert a.rgb.shape == (24, 32, 3) and a.rgb.dtype == np.uint8
    assert a.depth.shape == (24, 32) and a.depth.dtype == np.float32 and a.sky.dtype == bool
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)
    assert np.all(a.depth[a.sky] == synth.SKY_DEPTH) and np.all(a.depth[~a.sky] < synth.SKY_DEPTH)
    assert np.all(a.depth > 0)


def test_open_ground_recedes_towards_horizon_and_sky_is_on_top(pool):
    for seed in range(4):
        v = synth.render_view(seed, 48, 64, pool, layout="open", objects=False)
        c = v.depth.shape[1] // 2
        col, sky = v.depth[:, c], v.sky[:, c]
        n_sky = int(sky.sum())
        assert np.all(sky[:n_sky]) and not sky[n_sky:].any()      # sky is one band at the top
        ground = col[n_sky:]
        assert len(ground) > 5 and np.all(np.diff(ground) < 0)    # lower rows are nearer
        assert v.sky[0].mean() > 0.5 and not v.sky[-1].any()


def test_ground_plane_depth_matches_geometry():
    """Directly: a ground-only camera gives z = height·f / (row offset) under the horizon."""
    o = np.array([0.0, 1.5, 0.0])
    d = np.array([[0.0, -0.1, 1.0], [0.0, -0.2, 1.0], [0.0, 0.1, 1.0]], np.float32)
    t = synth._plane_t(o, d, 1, 0.0)
    assert t[0] == pytest.approx(15.0) and t[1] == pytest.approx(7.5) and np.isinf(t[2])


def test_box_in_front_occludes():
    o = np.array([0.0, 1.0, 0.0])
    d = np.array([[0.0, 0.0, 1.0]], np.float32)
    hits = synth._Hits(1)
    fn = lambda p, idx: (np.zeros(3, np.float32), np.zeros((len(idx), 2), np.float32))
    hits.add(synth._plane_t(o, d, 2, 20.0), o, d, fn, 0, np.ones(3))          # back wall at z = 20
    t, axis = synth._box_t(o, d, np.array([-1, 0, 5.0]), np.array([1, 2, 6.0]))
    hits.add(t, o, d, fn, 1, np.ones(3))
    assert hits.t[0] == pytest.approx(5.0) and hits.tex[0] == 1 and axis[0] == 2
    t2, _ = synth._box_t(o, d, np.array([-1, 0, 30.0]), np.array([1, 2, 31.0]))   # behind the wall
    hits.add(t2, o, d, fn, 2, np.ones(3))
    assert hits.tex[0] == 1


def test_shard_roundtrip(tmp_path, pool):
    path = synth.make_shard(tmp_path / "s.npz", [1, 2], 16, 16, pool)
    rgb, depth, sky = synth.load_shard(path)
    assert rgb.shape == (2, 16, 16, 3) and depth.shape == (2, 16, 16) and sky.shape == (2, 16, 16)


def test_dense_pairs_on_a_ramp_are_labelled_right():
    depth = np.tile(np.linspace(1, 10, 40, dtype=np.float32), (20, 1))   # farther to the right
    pr = T.dense_pairs(depth, 500, np.random.default_rng(0), tau=0.02)
    xa, xb = pr.ia % 40, pr.ib % 40
    za, zb = depth.reshape(-1)[pr.ia], depth.reshape(-1)[pr.ib]
    eq = np.abs(za / zb - 1) < 0.02
    assert np.all(pr.r[eq] == 0)
    assert np.all(pr.r[~eq & (xa > xb)] == 1) and np.all(pr.r[~eq & (xa < xb)] == -1)
    assert (pr.r == 1).sum() > 100 and (pr.r == -1).sum() > 100


def test_disparity_and_ground_and_sky_pairs():
    disp = np.tile(np.linspace(10, 1, 30, dtype=np.float32)[:, None], (1, 10))  # larger disparity at top = nearer
    pr = T.disparity_pairs(disp, 200, np.random.default_rng(1))
    ya, yb = pr.ia // 10, pr.ib // 10
    assert np.all(pr.r[(pr.r != 0) & (ya < yb)] == -1)   # higher row = larger disparity = nearer
    g = P.ground_pairs(40, 30, 300, np.random.default_rng(2))
    assert np.all(g.r[g.ia // 30 > g.ib // 30] == -1)
    mask = np.zeros((10, 10), bool)
    mask[:3] = True
    s = P.sky_pairs(mask, 50, np.random.default_rng(3))
    assert np.all(mask.reshape(-1)[s.ia]) and set(np.unique(s.r)) <= {0, 1}
    assert np.all(mask.reshape(-1)[s.ib[s.r == 0]]) and not np.any(mask.reshape(-1)[s.ib[s.r == 1]])


def test_sky_mask_finds_a_blue_top_band():
    img = np.zeros((40, 60, 3), np.uint8)
    img[:15] = (110, 160, 235)
    img[15:] = (np.random.default_rng(0).random((25, 60, 3)) * 255).astype(np.uint8)
    m = sky_mask(img)
    assert m is not None and m[:12].all() and not m[20:].any()
    assert sky_mask(img[15:].copy()) is None


def test_sfm_orders_a_near_plane_before_a_far_one():
    """Camera moves sideways past a textured far plane (z = 10) and a near panel (z = 4): the
    panel's points must come out nearer. Fronto-parallel planes shift by f·baseline/z pixels."""
    rng = np.random.default_rng(0)
    h, w, f, base = 240, 320, 300.0, 0.4
    far_tex = cv2.resize((rng.random((60, 100)) * 255).astype(np.uint8), (400, 240), interpolation=cv2.INTER_NEAREST)
    near_tex = cv2.resize((rng.random((30, 30)) * 255).astype(np.uint8), (120, 120), interpolation=cv2.INTER_NEAREST)

    def view(x):
        img = far_tex[:, 40 + int(round(f * x / 10)):][:, :w].copy()
        u0 = 100 - int(round(f * x / 4))
        img[60:180, u0:u0 + 120] = near_tex
        return cv2.cvtColor(cv2.GaussianBlur(img, (3, 3), 0), cv2.COLOR_GRAY2RGB)
    res = P.sfm_points(view(0.0), view(base), focal=f, min_parallax_deg=0.5)
    assert res is not None
    xy, z = res
    on_panel = (xy[:, 0] > 104) & (xy[:, 0] < 216) & (xy[:, 1] > 64) & (xy[:, 1] < 176)
    off = ~on_panel & ((xy[:, 0] < 90) | (xy[:, 0] > 230))
    assert on_panel.sum() > 10 and off.sum() > 10
    assert np.median(z[on_panel]) < 0.7 * np.median(z[off])
    pr = P.point_pairs(xy, z, (h, w), 200, rng)
    assert len(pr) > 150 and set(np.unique(pr.r)) <= {-1, 0, 1}


def test_ordinal_accuracy_hand_examples():
    pred = np.array([[0.0, 1.0, 2.0, 2.0]])
    pairs = Pairs(np.array([1, 0, 2, 3]), np.array([0, 1, 3, 0]), np.array([1, 1, 0, -1], np.int8))
    res = ordinal_accuracy(pred, pairs, equal_tol=0.02)
    # (1 vs 0: farther, right) (0 vs 1: said nearer, wrong) (2 vs 3: equal, right) (3 vs 0: farther, wrong)
    assert res["all"] == pytest.approx(0.5) and res["ordered"] == pytest.approx(1 / 3) and res["equal"] == 1.0
    both = merge([res, ordinal_accuracy(pred, Pairs(np.array([2]), np.array([0]), np.array([1], np.int8)))])
    assert both["all"] == pytest.approx(3 / 5) and both["n"] == 5


def test_ranking_loss_training_improves_accuracy():
    """A tiny hourglass learns 'brighter = farther' from pairs alone within a few steps."""
    from rtstyle.losses import ranking_loss
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = build_depth_net("rt", width=0.125)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)

    def batch(n):
        blobs = rng.random((n, 4, 4)).astype(np.float32)
        depth = np.stack([cv2.resize(b, (32, 32), interpolation=cv2.INTER_CUBIC) for b in blobs]) + 1.0
        x = torch.from_numpy(np.repeat((depth - 1)[:, None], 3, 1)).clamp(0, 1)
        prs = [T.dense_pairs(d, 200, rng, 0.01).resample(200, rng) for d in depth]
        return x, depth, prs

    x_val, d_val, p_val = batch(4)

    def acc():
        net.eval()
        with torch.no_grad():
            z = net(x_val)[:, 0].numpy()
        return merge([ordinal_accuracy(zz, pp, equal_tol=0.0) for zz, pp in zip(z, p_val)])["ordered"]
    before = acc()
    for _ in range(20):
        net.train()
        x, _, prs = batch(4)
        ia, ib, r = (torch.from_numpy(np.stack([getattr(p, k) for p in prs])) for k in ("ia", "ib", "r"))
        loss = ranking_loss(net(x), ia, ib, r)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = acc()
    assert after > 0.8 and after > before + 0.1


class _FakeNet:
    """Depth = the first colour channel; lets tests pin the α map."""
    def __call__(self, x):
        return x[:, :1]

    def close(self):
        pass


def test_depth_alpha_map_blends_original_and_stylized():
    mod = DepthModulator(strength=1.0, net=_FakeNet())
    x = torch.zeros(1, 3, 4, 6)
    x[:, 0, :, 3:] = 1.0                         # right half far (α = 1), left half near (α = 0)
    a = mod.alpha(x)
    assert torch.all(a[..., :3] == 0) and torch.all(a[..., 3:] == 1)
    stylized = torch.full_like(x, 0.7)

    class St:
        family, strength = "johnson", 1.0
        paint = staticmethod(lambda img, alpha=None: stylized)
    y = mod.stylize(St, x)
    assert torch.allclose(y[..., :3], x[..., :3]) and torch.allclose(y[..., 3:], stylized[..., 3:])
    near = DepthModulator(strength=1.0, near_style=True, net=_FakeNet()).alpha(x)
    assert torch.all(near[..., :3] == 1) and torch.all(near[..., 3:] == 0)
    off = DepthModulator(strength=0.0, net=_FakeNet()).alpha(x)
    assert torch.all(off == 1)


def test_depth_video_every_and_smoothing():
    mod = DepthModulator(strength=1.0, every=2, smooth=0.5, net=_FakeNet())
    a = torch.zeros(1, 3, 2, 2)
    a[:, 0, 0, 0] = 1
    b = torch.zeros(1, 3, 2, 2)
    b[:, 0, 1, 1] = 1
    first = mod.alpha(a).clone()
    assert torch.equal(mod.alpha(b), first)       # frame 2 reuses frame 1's map
    third = mod.alpha(b)                          # recomputed and averaged with the past
    assert third[0, 0, 0, 0] == pytest.approx(0.5) and third[0, 0, 1, 1] == pytest.approx(0.5)


def test_adain_depth_alpha_map_zero_keeps_content_features():
    from rtstyle.models.adain import AdaINDecoder, AdaINNet
    from rtstyle.models.vgg import VGG19Features
    torch.manual_seed(0)
    net = AdaINNet(decoder=AdaINDecoder(0.125, in_scale=1.0), encoder=VGG19Features("relu4_1")).eval()
    x = torch.rand(1, 3, 16, 16)
    mean, std = torch.rand(1, 512, 1, 1), torch.rand(1, 512, 1, 1) + 0.5
    with torch.no_grad():
        plain = net.decoder(net.encode(x))
        zero = net(x, mean, std, 1.0, alpha_map=torch.zeros(1, 1, 16, 16))
        one = net(x, mean, std, 1.0, alpha_map=torch.ones(1, 1, 16, 16))
        full = net(x, mean, std, 1.0)
    assert torch.allclose(zero, plain, atol=1e-5) and torch.allclose(one, full, atol=1e-5)


@pytest.fixture
def depth_weights(tmp_path, monkeypatch):
    d = tmp_path / "weights"
    torch.manual_seed(0)
    net = build_depth_net("rt", width=0.125)
    save_weights(net.eval(), d / "depth-rt.safetensors", {"family": "depth", "styles": [], "config": dict(net.config)})
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(d))
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path / "cache"))
    return d


def _photo(tmp_path, h=21, w=35):
    p = tmp_path / "in.png"
    cv2.imwrite(str(p), (np.random.default_rng(0).random((h, w, 3)) * 255).astype(np.uint8))
    return p


def test_depth_command_writes_colour_and_raw_png(tmp_path, depth_weights, capsys):
    src = _photo(tmp_path)
    assert cli.main(["depth", str(src), str(tmp_path / "d.png"), "--size", "32", "--backend", "torch"]) == 0
    img = cv2.imread(str(tmp_path / "d.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (21, 35, 3) and img.dtype == np.uint8
    assert cli.main(["depth", str(src), str(tmp_path / "r.png"), "--raw", "--size", "32", "--backend", "torch"]) == 0
    raw = cv2.imread(str(tmp_path / "r.png"), cv2.IMREAD_UNCHANGED)
    assert raw.shape == (21, 35) and raw.dtype == np.uint16 and raw.max() == 65535 and raw.min() == 0


def test_missing_depth_weights_is_a_clear_error(tmp_path, monkeypatch, capsys):
    import rtstyle.weights as ck
    monkeypatch.setattr(ck, "WEIGHTS_DIR", tmp_path / "none")
    monkeypatch.setattr("rtstyle.styles.WEIGHTS_DIR", tmp_path / "none")
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(tmp_path / "empty"))
    code = cli.main(["depth", str(_photo(tmp_path)), str(tmp_path / "d.png"), "--model", "rt"])
    err = capsys.readouterr().err
    assert code == 2 and "no trained depth weights yet" in err and "rtstyle train depth" in err
    assert not (tmp_path / "d.png").exists()


def test_image_with_depth_flag(tmp_path, depth_weights, capsys):
    from rtstyle.models import JohnsonNet
    save_weights(JohnsonNet(width=4, n_res=1), depth_weights / "johnson-mosaic.safetensors",
                 {"family": "johnson", "styles": ["mosaic"], "config": {"width": 4, "n_res": 1}})
    src = _photo(tmp_path)
    code = cli.main(["image", str(src), "-o", str(tmp_path / "o.png"), "--style", "mosaic", "--backend", "torch",
                     "--depth", "--depth-size", "32", "--depth-strength", "0.8"])
    assert code == 0, capsys.readouterr().err
    assert cv2.imread(str(tmp_path / "o.png")).shape == (21, 35, 3)


def test_train_depth_cli_tiny_run_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "depth", "--out", str(out), "--net-width", "0.125", "--size", "32x32", "--batch", "2", "--real-batch", "0",
            "--iters", "2", "--pairs", "50", "--buffer", "4", "--fresh", "1", "--val-views", "2",
            "--log-every", "1", "--ckpt-every", "1", "--threads", "1", "--textures", str(tmp_path / "none")]
    assert cli.main(args) == 0
    assert (out / "depth-rt.safetensors").exists() and (out / "losses.csv").exists()
    import json
    man = json.loads((out / "depth-rt.json").read_text())
    assert man["family"] == "depth" and man["iterations"] == 2 and 0 <= man["val_ordinal_accuracy"]["all"] <= 1
    args[args.index("--iters") + 1] = "3"
    assert cli.main(args) == 0 and "resumed" in capsys.readouterr().out
    assert json.loads((out / "depth-rt.json").read_text())["iterations"] == 3


# -- residual learning on the prior, held-out DIW-style set ---------------------------------------

def test_ordinal_accuracy_counts_ties_as_wrong_for_ordered_pairs():
    """equal_tol=0 (the DIW scoring): only the order counts; a tie is wrong for an ordered pair."""
    pred = np.array([[3.0, 1.0, 1.0, 0.0]])
    pairs = Pairs(np.array([0, 1, 3, 1]), np.array([1, 2, 0, 3]), np.array([1, -1, -1, -1], np.int8))
    res = ordinal_accuracy(pred, pairs, equal_tol=0.0)
    # (0 vs 1: farther, right) (1 vs 2: tie, wrong) (3 vs 0: nearer, right) (1 vs 3: farther, wrong)
    assert res["ordered"] == pytest.approx(0.5) and res["n_ordered"] == 4
    ramp = np.repeat(np.arange(4.0)[:, None], 3, 1)      # farther downwards
    lower_nearer = -ramp
    pr = T.dense_pairs(ramp + 1, 300, np.random.default_rng(0), tau=0.0)
    assert ordinal_accuracy(ramp, pr, 0.0)["ordered"] == 1.0
    assert ordinal_accuracy(lower_nearer, pr, 0.0)["ordered"] == 0.0


def test_residual_head_starts_exactly_at_the_prior(tmp_path):
    from rtstyle.models.depth import rows_prior
    from rtstyle.train.depth import _init
    torch.manual_seed(0)
    net = build_depth_net("rt", width=0.125, prior="rows")
    assert net.config["prior"] == "rows"
    x = torch.rand(2, 3, 37, 53)       # not a multiple of 16: padded inside, ramp on the cropped output
    for mode in (True, False):
        net.train(mode)
        with torch.no_grad():
            z = net(x)
        assert z.shape == (2, 1, 37, 53) and torch.equal(z, rows_prior(z))
    col = rows_prior(torch.zeros(1, 1, 5, 2))[0, 0, :, 0]
    assert torch.allclose(col, torch.tensor([0.8, 0.4, 0.0, -0.4, -0.8])) # top far, bottom near
    # Starting from a plain net's weights keeps the head at zero: still exactly the prior.
    plain = build_depth_net("rt", width=0.125)
    for p in plain.parameters():
        p.data.normal_(0, 0.1)
    save_weights(plain.eval(), tmp_path / "plain.safetensors", {"family": "depth", "styles": [], "config": dict(plain.config)})
    fresh = build_depth_net("rt", width=0.125, prior="rows").eval()
    assert _init(fresh, str(tmp_path / "plain.safetensors")) == 0
    assert torch.allclose(fresh.stem[0].weight, plain.stem[0].weight, atol=1e-3)   # stored as fp16
    with torch.no_grad():
        z = fresh(x)
    assert torch.equal(z, rows_prior(z))
    # ... and training moves it: a step on pairs the prior gets wrong changes the output.
    opt = torch.optim.SGD(fresh.parameters(), lr=0.1)
    from rtstyle import losses
    fresh.train()
    z = fresh(x[:1])
    ia, ib = torch.tensor([[0]]), torch.tensor([[36 * 53]])
    losses.ranking_loss(z, ia, ib, torch.tensor([[-1]], dtype=torch.int8)).backward()   # top row nearer
    opt.step()
    assert fresh.head.weight.abs().sum() > 0


def test_diw_set_is_well_formed_and_follows_its_selection_rule():
    from rtstyle.bench.depth import heldout
    photos = heldout.load()
    assert len(photos) >= 20 and len({p["photo"] for p in photos}) == len(photos)
    n = 0
    for e in photos:
        assert e["pairs"], e["photo"]
        for q in e["pairs"]:
            assert q["nearer"] in ("a", "b") and q["a"] != q["b"]
            assert all(0.0 <= v <= 1.0 for v in q["a"] + q["b"])
            n += 1
        pr = heldout.pairs_for(e, 100, 120)
        assert pr.ia.max() < 100 * 120 and set(np.unique(pr.r)) <= {-1, 1}
    assert n >= 20
    content = Path(os.environ.get("RTSTYLE_DATA", "/work/shared/data")) / "content"
    if content.is_dir():
        names = [p.name for p in content.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
        assert [b + ".jpg" for b in heldout.pick_photos(names)] == [p["photo"] for p in photos]


def test_heldout_photos_and_their_crops_never_reach_training(tmp_path, monkeypatch):
    from rtstyle.bench.depth import heldout
    from rtstyle.train import depth as TD
    held = heldout.load()[0]["photo"]                      # e.g. gcompris_camels.jpg
    stem = Path(held).stem
    assert heldout.base_name(f"{stem}_crop2.jpg") == stem and heldout.is_heldout(f"/x/{stem}_crop1.jpg")
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = [held, f"{stem}_crop1.jpg", f"{stem}_crop2.jpg"] + [f"other_{i:02d}.jpg" for i in range(40)]
    for name in names:
        cv2.imwrite(str(folder / name), rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    kept = heldout.exclude(sorted(folder.iterdir()))
    assert len(kept) == 40 and not any(heldout.is_heldout(p) for p in kept)
    # The trainer's photo list and the scene textures go through the same filter.
    seen = {}
    real_init = TD.RealPhotos.__init__

    def spy(self, files, *a, **k):
        seen["files"] = list(files)
        real_init(self, files, *a, **k)
    monkeypatch.setattr(TD.RealPhotos, "__init__", spy)
    pool_files = []
    real_from_folder = synth.TexturePool.from_folder.__func__

    def spy_pool(cls, f, limit=96, seed=0, exclude=None):
        files = sorted(p for p in Path(f).glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        pool_files.extend(exclude(files) if exclude else files)
        return real_from_folder(cls, f, limit, seed, exclude)
    monkeypatch.setattr(synth.TexturePool, "from_folder", classmethod(spy_pool))
    TD._POOLS.clear()
    synth.default_pool.cache_clear()
    cfg = TD.DepthConfig(model={"width": 0.125, "prior": "rows"}, out=str(tmp_path / "run"), height=32, width=32,
                         batch=1, real_batch=1, iters=1, pairs=20, buffer=2, fresh=0, val_views=1,
                         real_data=str(folder), textures=str(folder), log_every=1, ckpt_every=1, threads=1,
                         precision="fp32")
    try:
        TD.train(cfg)
    finally:
        TD._POOLS.clear()
        synth.default_pool.cache_clear()
    assert seen["files"] and not any(heldout.is_heldout(p) for p in seen["files"])
    assert pool_files and not any(heldout.is_heldout(p) for p in pool_files)


def test_cue_pairs_come_only_from_shallow_focus_photos_and_never_from_validation_photos(tmp_path):
    from rtstyle.bench.depth import heldout
    from rtstyle.train import depth as TD
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:128]
    blob = ((yy - 48) ** 2 + (xx - 64) ** 2 < 20 ** 2)[..., None]
    soft = np.full((96, 128, 3), 120, np.uint8)
    shallow = np.where(blob, rng.integers(0, 255, (96, 128, 3)), soft).astype(np.uint8)   # sharp centre, flat rest
    sharp_all = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)                        # sharp everywhere
    val_photo = heldout.load(heldout.VAL_PAIRS_FILE)[0]["photo"]
    paths = {}
    for name, img in [("shallow.png", shallow), ("sharp.png", sharp_all), (val_photo, shallow)]:
        paths[name] = tmp_path / name
        cv2.imwrite(str(paths[name]), img)
    files = list(paths.values())
    allowed = heldout.exclude(files, heldout.heldout_bases(heldout.VAL_PAIRS_FILE))
    assert paths[val_photo] not in allowed and len(allowed) == 2
    real = TD.RealPhotos(files, 48, 64, seed=0, cue_files=allowed, cue_gate=1.2)
    assert [c is not None for c in real.cues] == [True, False, False]
    assert real.n_cue_photos == 1
    # The cue map of the shallow-focus photo puts its sharp centre nearer (smaller) than the flat
    # background at the same row (where the row prior is equal).
    c = real.cues[0]
    h, w = c.shape
    assert c[h // 2, w // 2] < c[h // 2, 2] and c[h // 2, w // 2] < c[h // 2, -3] and (c > 0).all()
    for _ in range(5):
        _, ground, sky, cue = real.batch(3, 50)
        assert len(ground) == 3 and all(0 <= j < 3 for j, _ in cue)
        assert all(len(p.r) == 50 and set(np.unique(p.r)) <= {-1, 0, 1} for _, p in cue)
