"""rtstyle.depth_cues: cheap geometric cues on the row prior, and the validation pairs they were chosen on."""
from __future__ import annotations

import cv2
import pytest
import numpy as np
import torch

from rtstyle.bench.depth import heldout
from rtstyle.depth_cues import (CueConfig, CueDepth, blue_share, cue_depth, figure_held, haze_depth, haze_rise, rows_prior,
                                run_bottom, saliency, sky_mask)
from rtstyle.bench.depth.metrics import Pairs, ordinal_accuracy

VAL = heldout.PAIRS_FILE.with_name("val_pairs.json")


def _photo(h=96, w=128, seed=0):
    """A sharp, textured subject in the middle of a blurred background: shallow depth of field."""
    rng = np.random.default_rng(seed)
    bg = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 6)
    img = bg.copy()
    y0, y1, x0, x1 = h // 4, 3 * h // 4, 3 * w // 8, 5 * w // 8
    img[y0:y1, x0:x1] = rng.integers(0, 255, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
    return img, (y0, y1, x0, x1)


def test_no_cue_is_the_prior_exactly_and_maps_are_deterministic():
    rgb, _ = _photo()
    assert np.array_equal(cue_depth(rgb), rows_prior(96, 128))
    assert cue_depth(rgb).dtype == np.float32 and cue_depth(rgb).shape == (96, 128)
    p = rows_prior(4, 3)
    assert p[0, 0] > p[-1, 0] and np.allclose(p[:, 0], p[:, 2]) and np.isclose(p[0, 0], -p[-1, 0])
    # Photo cues gated off (an all-blurred frame has no sharp subject): exactly the prior too.
    flat = cv2.GaussianBlur(rgb, (0, 0), 8)
    assert np.array_equal(cue_depth(flat, CueConfig(centre=0.25, sharp=0.5, gate=1.8)), rows_prior(96, 128))
    assert np.array_equal(cue_depth(flat, CueConfig(salient=1.0, gate=1.5)), rows_prior(96, 128))
    assert np.array_equal(cue_depth(flat, CueConfig(figure=1.0, gate=1.5)), rows_prior(96, 128))
    cfg = CueConfig(contact=0.25, sky=1.0, centre=0.25, sharp=0.5, smooth=2)
    a, b = cue_depth(rgb, cfg), cue_depth(rgb, cfg)
    assert np.array_equal(a, b) and a.shape == (96, 128) and np.isfinite(a).all()


def test_run_bottom_finds_the_nearest_edge_below():
    e = np.zeros((6, 2), bool)
    e[3, 0] = True
    rb = run_bottom(e)
    assert rb[:, 0].tolist() == [3, 3, 3, 3, 5, 5] and rb[:, 1].tolist() == [5] * 6


def test_focus_cue_orders_a_sharp_subject_before_the_lower_blurred_background():
    rgb, (y0, y1, x0, x1) = _photo()
    h, w = rgb.shape[:2]
    # the subject's centre vs blurred background lower in the frame: the prior gets this pair wrong.
    a, b = ((y0 + y1) // 2) * w + (x0 + x1) // 2, (y1 + 8) * w + 8
    pr = Pairs(np.array([a]), np.array([b]), np.array([-1], np.int8))   # a nearer
    assert ordinal_accuracy(rows_prior(h, w), pr, equal_tol=0.0)["ordered"] == 0.0
    for cfg in (CueConfig(centre=0.25, sharp=0.5), CueConfig(sharp=1.0, gate=1.0)):
        assert ordinal_accuracy(cue_depth(rgb, cfg), pr, equal_tol=0.0)["ordered"] == 1.0


def test_saliency_finds_the_odd_patch_and_puts_it_before_the_lower_background():
    h, w = 96, 128
    rng = np.random.default_rng(2)
    grey = (0.5 + rng.normal(0, 0.02, (h, w))).astype(np.float32)
    grey[20:36, 80:96] = 0.95                                      # one bright patch, high in the frame
    sal = saliency(grey)
    assert sal.shape == (h, w) and sal.dtype == np.float32 and sal.min() == 0.0 and sal.max() == 1.0
    assert sal[28, 88] > 0.5 > 0.1 > sal[80, 20]                   # on the patch vs the plain background
    rgb = np.repeat((grey * 255).clip(0, 255).astype(np.uint8)[..., None], 3, 2)
    # the patch's centre vs plain background lower in the frame: the prior gets it wrong, saliency right
    pr = Pairs(np.array([28 * w + 88]), np.array([60 * w + 20]), np.array([-1], np.int8))
    assert ordinal_accuracy(rows_prior(h, w), pr, equal_tol=0.0)["ordered"] == 0.0
    assert ordinal_accuracy(cue_depth(rgb, CueConfig(salient=1.0)), pr, equal_tol=0.0)["ordered"] == 1.0


def test_figure_held_stands_each_blob_at_its_lowest_row():
    h, w = 40, 50
    prior = rows_prior(h, w)
    sal = np.zeros((h, w), np.float32)
    sal[5:15, 10:20] = 1.0                          # a square blob, rows 5..14
    sal[20:30, 30:34] = 1.0                         # an L: a post, rows 20..29 ...
    sal[20:24, 34:40] = 1.0                         # ... with an arm, rows 20..23
    held = figure_held(sal, prior, thresh=3.0)
    assert held.dtype == np.float32 and held.shape == (h, w)
    assert np.array_equal(held[5:15, 10:20], np.full((10, 10), prior[14, 0]))   # the blob at its base
    assert np.array_equal(held[20:24, 34:40], np.full((4, 6), prior[29, 0]))    # the arm at the post's base
    outside = np.ones((h, w), bool)
    outside[5:15, 10:20] = outside[20:30, 30:34] = outside[20:24, 34:40] = False
    assert np.array_equal(held[outside], prior[outside])
    cols = figure_held(sal, prior, thresh=3.0, columns=True)
    assert np.array_equal(cols[20:24, 34:40], np.full((4, 6), prior[23, 0]))    # per column: the arm's own base
    assert np.array_equal(cols[20:30, 30:34], np.full((10, 4), prior[29, 0]))
    # blobs outside the area bounds (a speck, or most of the frame) are left alone
    speck = np.zeros((h, w), np.float32)
    speck[3, 3] = 1.0
    assert np.array_equal(figure_held(speck, prior), prior)
    assert np.array_equal(figure_held(np.ones((h, w), np.float32) + (np.arange(w) > 2), prior), prior)


def test_figure_cue_brings_a_salient_subject_forward_to_where_it_stands():
    h, w = 96, 128
    rng = np.random.default_rng(2)
    grey = (0.5 + rng.normal(0, 0.02, (h, w))).astype(np.float32)
    grey[20:60, 80:96] = rng.uniform(0.2, 1.0, (40, 16))          # a textured post standing at row 59
    rgb = np.repeat((grey * 255).clip(0, 255).astype(np.uint8)[..., None], 3, 2)
    d = cue_depth(rgb, CueConfig(figure=1.0))
    # its top vs background a little lower beside it: the prior orders it wrong, the held post right
    pr = Pairs(np.array([24 * w + 88]), np.array([40 * w + 20]), np.array([-1], np.int8))
    assert ordinal_accuracy(rows_prior(h, w), pr, equal_tol=0.0)["ordered"] == 0.0
    assert ordinal_accuracy(d, pr, equal_tol=0.0)["ordered"] == 1.0
    assert np.abs(d[80:, :60] - rows_prior(h, w)[80:, :60]).max() < 1e-6    # far from the post: the prior
    # a gate that never fires turns it off; its own gate at 0 keeps it on whatever ``gate`` says
    assert np.array_equal(cue_depth(rgb, CueConfig(figure=1.0, gate=9.0)), rows_prior(h, w))
    assert np.array_equal(cue_depth(rgb, CueConfig(figure=1.0, gate=9.0, figure_gate=0.0)), d)


def test_sky_goes_behind_everything():
    h, w = 96, 128
    rgb = np.full((h, w, 3), (150, 110, 70), np.uint8)          # brown, textured ground and wall
    rgb = np.clip(rgb + np.random.default_rng(1).integers(-40, 40, rgb.shape), 0, 255).astype(np.uint8)
    rgb[: h // 2, : w // 2] = (135, 180, 235)                      # clear sky, top left, down to mid-height
    z = cue_depth(rgb, CueConfig(sky=1.0))
    assert z[h // 2 - 6, 10] > z[2, w - 10]                        # low sky farther than the top of the wall
    assert ordinal_accuracy(rows_prior(h, w), Pairs(np.array([(h // 2 - 6) * w + 10]), np.array([2 * w + w - 10]),
                                                    np.array([1], np.int8)), equal_tol=0.0)["ordered"] == 0.0


def test_cue_depth_behind_the_depth_net_interface():
    x = torch.rand(2, 3, 48, 64)
    d = CueDepth(sky=1.0)(x)
    assert d.shape == (2, 1, 48, 64) and d.dtype == torch.float32
    assert torch.equal(CueDepth()(x)[0, 0], torch.from_numpy(rows_prior(48, 64)))


def test_validation_pairs_are_on_training_photos_only():
    photos = heldout.load(VAL)
    held = heldout.heldout_bases()
    assert len(photos) >= 165 and sum(len(p["pairs"]) for p in photos) >= 314
    assert not any(heldout.base_name(p["photo"]) in held for p in photos)
    assert len({p["photo"] for p in photos}) == len(photos)   # one entry per photo, batches never overlap
    for p in photos:
        for q in p["pairs"]:
            assert q["nearer"] in ("a", "b") and q["kind"] in ("subject-vs-background", "lowest-background", "random")
            assert all(0 <= v <= 1 for v in q["a"] + q["b"])


def test_depth_defaults_to_the_cue_map_without_any_weights(tmp_path, monkeypatch, capsys):
    import cv2
    from rtstyle import cli
    from rtstyle.depth_cues import CHOSEN, CueDepth
    from rtstyle.pipeline.depth import depth_source, from_options
    monkeypatch.setattr("rtstyle.weights.WEIGHTS_DIR", tmp_path / "none")
    monkeypatch.setattr("rtstyle.styles.WEIGHTS_DIR", tmp_path / "none")
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(tmp_path / "empty"))
    assert isinstance(depth_source(), CueDepth) and depth_source().cfg == CHOSEN
    assert isinstance(from_options({"strength": 1.0}).net, CueDepth)
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    assert cli.main(["depth", str(photo), str(tmp_path / "d.png"), "--raw"]) == 0
    d = cv2.imread(str(tmp_path / "d.png"), cv2.IMREAD_UNCHANGED)
    assert d.shape == (48, 64) and d.dtype == np.uint16
    assert d[:8].mean() > d[-8:].mean()   # the prior: the top is farther than the bottom
    assert "row prior + image cues" in capsys.readouterr().out


def _sheet_tool():
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        "depth_pairs_sheet", Path(__file__).resolve().parents[1] / "scripts" / "depth_pairs_sheet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pair_sheets_turn_answers_into_judged_pairs_and_refuse_bad_lines(tmp_path):
    S = _sheet_tool()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(5):
        f = tmp_path / f"p{i}.png"
        cv2.imwrite(str(f), rng.integers(0, 255, (60 + 10 * i, 80, 3), dtype=np.uint8))
        paths.append(f)
    items = [{"photo": f.name, "path": str(f), "pairs": [([0.1, 0.2], [0.5, 0.9]), ([0.3, 0.3], [0.8, 0.1])]}
             for f in paths]
    sheets = S.sheets(items, tmp_path)
    assert [s.name for s in sheets] == ["sheet_00.png", "sheet_01.png"]
    assert cv2.imread(str(sheets[0])).shape[1] == 2 * S.TILE_W
    entries = S.collect(items, "0 a -\n1 - -\n2 b a\n3 a a\n4 - b\n")
    assert [e["photo"] for e in entries] == ["p0.png", "p2.png", "p3.png", "p4.png"]   # p1: nothing certain
    assert entries[1]["pairs"] == [{"a": [0.1, 0.2], "b": [0.5, 0.9], "nearer": "b", "kind": "random"},
                                   {"a": [0.3, 0.3], "b": [0.8, 0.1], "nearer": "a", "kind": "random"}]
    with pytest.raises(ValueError, match=r"labels line 1: '0 a': want the photo index and one of a/b/- per pair"):
        S.collect(items, "0 a\n")
    with pytest.raises(ValueError, match=r"no answers for photos \[3, 4\]"):
        S.collect(items, "0 a a\n1 a a\n2 a a\n")


def test_haze_depth_puts_the_hazier_region_farther():
    h, w = 60, 80
    rng = np.random.default_rng(3)
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, :40] = rng.integers(0, 255, (h, 40, 3))                       # clear: some channel near 0
    rgb[:, 40:] = 150 + rng.integers(0, 60, (h, 40, 3))                  # hazy: every channel lifted
    d = haze_depth(rgb, patch=3)
    assert d.shape == (h, w) and d.dtype == np.float32 and 0.0 <= d.min() and d.max() <= 1.0
    assert d[:, 45:].mean() > d[:, :35].mean() + 0.3
    assert np.array_equal(haze_depth(np.zeros((h, w, 3), np.uint8)), np.zeros((h, w), np.float32))
    # as a cue: the hazy side comes out farther than the clear side on the same row; haze_sky without
    # a sky in the frame leaves the prior
    z = cue_depth(rgb, CueConfig(haze=1.0))
    assert z[30, 60] > z[30, 20]
    assert np.array_equal(cue_depth(rgb, CueConfig(haze=1.0, haze_sky=True)), rows_prior(h, w))


def test_haze_blue_gate_keeps_haze_only_under_a_blue_sky():
    h, w = 60, 80
    rng = np.random.default_rng(5)
    ground = rng.integers(0, 120, (h, w, 3)).astype(np.uint8)           # textured, some channel low
    blue, wall = ground.copy(), ground.copy()
    blue[:20] = (120, 170, 230)                                          # a clear sky over the top third
    wall[:20] = (225, 215, 200)                                          # a pale warm wall there instead
    sky_b, sky_w = sky_mask(blue), sky_mask(wall)
    assert sky_b is not None and sky_w is not None                       # both pass for a sky by brightness
    assert blue_share(blue, sky_b) == 1.0 and blue_share(wall, sky_w) == 0.0
    assert blue_share(blue, None) == 0.0
    grey = np.repeat(blue.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert blue_share(grey, sky_mask(grey)) == 0.0                       # no colour, no blue sky
    cfg = CueConfig(haze=1.0, haze_blue=0.5)
    assert cue_depth(blue, cfg)[5, 40] > rows_prior(h, w)[5, 40]         # under the sky: haze counts
    assert np.array_equal(cue_depth(wall, cfg), rows_prior(h, w))        # under the wall: the prior
    assert np.array_equal(cue_depth(grey, cfg), rows_prior(h, w))
    assert not np.array_equal(cue_depth(wall, CueConfig(haze=1.0)), rows_prior(h, w))


def test_haze_subject_keeps_a_pale_salient_subject_out_of_the_haze():
    h, w = 60, 80
    rng = np.random.default_rng(6)
    rgb = rng.integers(0, 90, (h, w, 3)).astype(np.uint8)              # dark textured ground: no haze
    rgb[35:50, 30:45] = 235                                             # a white object near the camera
    plain = cue_depth(rgb, CueConfig(haze=1.0))
    masked = cue_depth(rgb, CueConfig(haze=1.0, haze_subject=1.0))
    lift = lambda z: float((z - rows_prior(h, w))[35:50, 30:45].mean())  # noqa: E731  (how far back it goes)
    assert lift(plain) > 1.0                                            # the dark channel sends it back
    assert lift(masked) < 0.5 * lift(plain)                             # the saliency mask takes most of it back
    assert np.array_equal(cue_depth(rgb, CueConfig(haze=1.0, haze_subject=0.0)), plain)


def test_haze_rise_gate_keeps_haze_only_where_it_grows_towards_the_top():
    h, w = 60, 80
    up = np.repeat(np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None], w, 1)     # hazier towards the top
    assert haze_rise(up) > 0.99 and haze_rise(up[::-1]) < -0.99 and haze_rise(np.ones((h, w))) == 0.0
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 255, (h, w, 3)).astype(np.uint8)
    rgb[:, 40:] = 150 + rng.integers(0, 60, (h, 40, 3))      # hazy on the right, not towards the top
    assert not np.array_equal(cue_depth(rgb, CueConfig(haze=1.0)), rows_prior(h, w))
    assert np.array_equal(cue_depth(rgb, CueConfig(haze=1.0, haze_rise=0.5)), rows_prior(h, w))
    lifted = rgb.astype(np.int32)
    lifted[:20] = 150 + rng.integers(0, 60, (20, w, 3))      # the top third hazy: the gate opens
    z = cue_depth(lifted.astype(np.uint8), CueConfig(haze=1.0, haze_rise=0.5))
    assert z[5, 20] > rows_prior(h, w)[5, 20]
