"""Choose the settings of rtstyle.depth_cues on VALIDATION data only (never the test sets).

    python scripts/validate_depth_cues.py [--grid] [--json FILE]

Validation sets:
- ``val_pairs``: the pairs we marked by eye on *training* photos of shared/data/content
  (rtstyle/bench/depth/val_pairs.json: 98 on 51 photos until 2026-12-07, 187 on 101 since; none of the
  held-out DIW photos), ordered accuracy, no equal band;
- ``sfm_val``: structure-from-motion points on big_buck_bunny_20s with both frames < 300 (the
  training range; the test set uses first frames >= 300), gaps 18/24/30/36, stride 3;
- ``synthetic``: 32 rendered views (seeds 2e9.., not the 1e9.. of scripts/eval_depth.py);
- ``stereo_val``: the validation rooms of the real indoor stereo pairs of the stereodemo wheel
  (rtstyle.bench.depth.stereodemo.VALIDATION, 5 scenes; the other rooms are a test set), depth
  order measured by stereo matching, 4000 pairs per scene (added 2026-12-03).
Each configuration is scored on all of them with the prior beside it.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import pickle
import time
from pathlib import Path

import cv2
import numpy as np

from rtstyle.bench.depth import heldout
from rtstyle.train.depth_data import pairs as P
from rtstyle.depth_cues import CueConfig, cue_depth
from rtstyle.bench.depth.metrics import merge, ordinal_accuracy
from rtstyle.bench.depth.truth import dense_pairs

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RTSTYLE_DATA", ROOT.parent / "shared" / "data"))
VAL_PAIRS = ROOT / "rtstyle" / "bench" / "depth" / "val_pairs.json"
CACHE = Path(os.environ.get("RTSTYLE_VAL_CACHE", "/tmp/rtstyle_depth_val.pkl"))
BUNNY = DATA / "video" / "big_buck_bunny_20s.mp4"


def _stereo_val():
    from rtstyle.bench.depth import stereodemo
    from rtstyle.errors import UserError
    try:
        scenes = stereodemo.load(stereodemo.VALIDATION)
    except UserError as exc:   # the rule needs stereo-val: stop with the one line that says what to do
        raise SystemExit(f"error: {exc}") from None
    return [(sc, stereodemo.pairs(sc)) for sc in scenes]


def _photos(entries) -> list:
    bases = heldout.heldout_bases()
    out = []
    for e in entries:
        assert heldout.base_name(e["photo"]) not in bases, e["photo"]
        out.append((cv2.cvtColor(cv2.imread(str(DATA / "content" / e["photo"])), cv2.COLOR_BGR2RGB), e))
    return out


def load_sets():
    pairs_sha = hashlib.sha256(VAL_PAIRS.read_bytes()).hexdigest()
    if CACHE.exists():
        sets = pickle.loads(CACHE.read_bytes())
        if sets.get("pairs_sha") == pairs_sha:   # else the pairs file changed since: rebuild
            if "stereo" not in sets:   # a cache written before the stereo validation rooms were added
                sets["stereo"] = _stereo_val()
                CACHE.write_bytes(pickle.dumps(sets))
            return sets
    from rtstyle.train.depth_data import synth
    photos = _photos(heldout.load(VAL_PAIRS))
    sfm = []
    for gap in (18, 24, 30, 36):
        sfm += P.clip_sfm_points(BUNNY, gap=gap, stride=3, frames=(0, 300 - gap))
    views = [synth.render_view(2_000_000_000 + i, 96, 128) for i in range(32)]
    sets = {"photos": photos, "sfm": sfm, "views": views, "stereo": _stereo_val(), "pairs_sha": pairs_sha}
    CACHE.write_bytes(pickle.dumps(sets))
    return sets


def score(fn, sets) -> dict:
    out = {}
    right = {"all": [0, 0]}
    for rgb, e in sets["photos"]:
        h, w = rgb.shape[:2]
        d = fn(rgb)
        for q in e["pairs"]:
            ok = ordinal_accuracy(d, heldout.pairs_for({"pairs": [q]}, h, w), equal_tol=0.0)["ordered"]
            for k in ("all", q["kind"]):
                right.setdefault(k, [0, 0])
                right[k][0] += int(ok)
                right[k][1] += 1
    out["val_pairs"] = {k: f"{r}/{n}" for k, (r, n) in right.items()}
    out["val_pairs_acc"] = right["all"][0] / right["all"][1]
    if "sfm" not in sets:   # --pairs: the judged photos only
        return out
    rng = np.random.default_rng(3)
    res = []
    for fr, xy, z in sets["sfm"]:
        res.append(ordinal_accuracy(fn(fr), P.point_pairs(xy, z, fr.shape[:2], 400, rng, tau=0.05)))
    out["sfm_val"] = merge(res)["ordered"] if res else float("nan")
    rng = np.random.default_rng(12345)
    res = [ordinal_accuracy(fn(v.rgb), dense_pairs(v.depth, 2000, rng, 0.02, local_frac=0.0)) for v in sets["views"]]
    out["synthetic"] = merge(res)["ordered"]
    from rtstyle.bench.depth.stereodemo import GRID
    res = [ordinal_accuracy(fn(sc.left)[::GRID, ::GRID], prs) for sc, prs in sets.get("stereo", [])]
    out["stereo_val"] = merge(res)["ordered"] if res else float("nan")
    return out


P0, D, S = CueConfig(), CueConfig(sharp=1.0, gate=1.8), CueConfig(salient=1.0, gate=1.5)
_S = {"salient": 1.0, "gate": 1.5}


def _product(base: list[CueConfig], fixed: dict, **axes) -> list[CueConfig]:
    """``base`` and then one CueConfig per combination of the ``axes`` values (itertools.product order,
    the first axis slowest), each with the ``fixed`` settings."""
    names = list(axes)
    return base + [CueConfig(**fixed, **dict(zip(names, v))) for v in itertools.product(*axes.values())]


# Every grid a selection in docs/depth.md ran: flag -> (help, configurations in the order scored).
GRIDS = {
    "grid": ("search the grid below (else: prior + one config per term)",
             lambda: _product([P0], {}, sky=(0, 1.0), sharp=(0.25, 0.5, 1.0), centre=(0, 0.25, 0.5),
                              gate=(0, 1.2, 1.5, 1.8))),
    "grid1": ("the first grid (contact x sky x sharp x centre, no gate)",
              lambda: _product([], {}, contact=(0, 0.25), sky=(0, 1.0), sharp=(0, 0.1, 0.25, 0.5), centre=(0, 0.25))),
    "grid-salient": ("the saliency grid (2026-12-07): salient x sharp x gate x sky, with prior and D beside it",
                     lambda: _product([P0, D], {}, salient=(0.25, 0.5, 1.0), sharp=(0, 1.0), gate=(0, 1.2, 1.5, 1.8),
                                      sky=(0, 1.0))),
    "grid-figure": ("the figure-on-ground grid (2026-12-07, session 22): figure x threshold x per column x gate x "
                    "salient, with prior, D and S beside it",
                    lambda: _product([P0, D, S], {}, figure=(0.5, 1.0), figure_thresh=(2.0, 3.0),
                                     figure_columns=(False, True), gate=(0, 1.5), salient=(0, 1.0))),
    "grid-figure-s": ("the second figure grid (session 22): S with an ungated figure term beside it",
                      lambda: _product([P0, S], {**_S, "figure_gate": 0.0}, figure=(0.5, 1.0),
                                       figure_thresh=(2.0, 3.0), figure_columns=(False, True))),
    "grid-haze": ("the haze grid (session 23): haze x patch x sky only x with S, with prior and S beside it",
                  lambda: [P0, S] + [CueConfig(haze=hz, haze_patch=p, haze_sky=sk, **(_S if with_s else {}))
                                     for hz, p, sk, with_s in itertools.product((0.25, 0.5, 1.0), (3, 7), (False, True),
                                                                                (False, True))]),
    "grid-haze-rise": ("the second haze grid (session 23): haze gated by its rise towards the top, with S or not",
                       lambda: [P0, S] + [CueConfig(haze=hz, haze_patch=p, haze_rise=r, **(_S if with_s else {}))
                                          for hz, p, r, with_s in itertools.product((0.5, 1.0), (3, 7), (0.3, 0.6),
                                                                                    (False, True))]),
    "grid-haze-blue": ("the third haze grid (session 24): S + haze gated by a blue sky, with the rise gate or not",
                       lambda: _product([P0, S], _S, haze=(0.5, 1.0), haze_patch=(3, 7), haze_blue=(0.3, 0.6),
                                        haze_rise=(None, 0.3))),
    "grid-haze-subject": ("the fourth haze grid (session 24): S + haze with the salient subject masked out of it",
                          lambda: _product([P0, S], _S, haze=(0.5, 1.0), haze_subject=(0.5, 1.0),
                                           haze_blue=(None, 0.3), haze_rise=(None, 0.3))),
}
# Without a grid or --config: the prior and one configuration per term.
TERMS = [P0] + [CueConfig(contact=c, edge=e) for c in (0.5, 1.0) for e in (1.0, 2.0, 3.0)] + \
        [CueConfig(sky=1.0), CueConfig(centre=0.25), CueConfig(centre=0.5), CueConfig(sharp=0.25),
         CueConfig(sharp=0.5), CueConfig(smooth=4)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grid = ap.add_mutually_exclusive_group()
    for flag, (text, _) in GRIDS.items():
        grid.add_argument(f"--{flag}", dest="grid_name", action="store_const", const=flag, help=text)
    grid.add_argument("--config", type=json.loads, action="append", default=None,
                      help='a CueConfig as JSON, e.g. {"contact": 0.5}, scored beside the prior (may be repeated)')
    ap.add_argument("--pairs", type=Path, default=None,
                    help="score only the judged pairs of this file (a new batch, before it joins the pairs file)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    cv2.setNumThreads(1)
    sets = load_sets() if a.pairs is None else {"photos": _photos(json.loads(a.pairs.read_text()))}
    print(f"validation: {len(sets['photos'])} photos / {sum(len(e['pairs']) for _, e in sets['photos'])} pairs, "
          f"{len(sets.get('sfm', []))} SfM frame pairs ({sum(len(z) for *_, z in sets.get('sfm', []))} points), "
          f"{len(sets.get('views', []))} views", flush=True)
    if a.config is not None:
        configs = [P0] + [CueConfig(**c) for c in a.config]
    else:
        configs = GRIDS[a.grid_name][1]() if a.grid_name else TERMS
    rows = []
    for cfg in configs:
        t0 = time.time()
        r = score(lambda rgb: cue_depth(rgb, cfg), sets)
        r["config"] = cfg.to_dict()
        r["seconds"] = round(time.time() - t0, 1)
        rows.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "config"} | {"cfg": {k: v for k, v in cfg.to_dict().items()
                                                                                 if v != getattr(CueConfig(), k)}}),
              flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
