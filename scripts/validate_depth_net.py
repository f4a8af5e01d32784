"""Choose a residual depth net's correction scale s on VALIDATION data only, then (optionally) ship it.

    python scripts/validate_depth_net.py runs/depth-rt-cue/depth-rt.safetensors [--json FILE]
    python scripts/validate_depth_net.py WEIGHTS --ship S --out rtstyle/weights/depth-rt.safetensors

The net's output is g·prior + s·head(features) (head conv weight and bias times s; s = 0 is the
prior, exactly). Each s of the grid is scored on the validation sets of scripts/validate_depth_cues.py
(the judged pairs on training photos, SfM pairs on the training frames of big_buck_bunny_20s,
32 synthetic views, the stereodemo validation rooms), never on a test set. The rule, the same as
for the cue settings (docs/depth.md): the most validation pairs subject to SfM-val >= the prior's,
stereo-val >= the prior's (since 2026-12-03) and synthetic >= the prior's - 1 point; ties go to the
smaller s. s = 0 means "no net beats the prior here".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_depth import predict  # noqa: E402
from validate_depth_cues import load_sets, score  # noqa: E402

from rtstyle.bench.depth import heldout  # noqa: E402
from rtstyle.weights import load_weights, save_weights  # noqa: E402

GRID = [round(0.1 * i, 1) for i in range(11)]


def scaled(net, head0: dict, s: float):
    with torch.no_grad():
        net.head.weight.copy_(head0["weight"] * s)
        net.head.bias.copy_(head0["bias"] * s)
    return net


def choose(rows: list[dict], sfm_tol: float = 0.0) -> float:
    """The rule: the most validation pairs subject to SfM-val >= prior - ``sfm_tol`` (points),
    stereo-val >= prior and synthetic >= prior - 1 point; ties go to the smaller s."""
    prior = next(r for r in rows if r["s"] == 0.0)
    ok = [r for r in rows if r["sfm_val"] >= prior["sfm_val"] - sfm_tol / 100
          and r["synthetic"] >= prior["synthetic"] - 0.01
          and not r["stereo_val"] < prior["stereo_val"]]   # NaN (no stereo scenes) passes
    best = max(r["val_pairs_acc"] for r in ok)
    return min(r["s"] for r in ok if r["val_pairs_acc"] == best)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", type=Path)
    ap.add_argument("--short", type=int, default=192, help="short side the net runs at on photos")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--stereo-val", default="val", metavar="SCENES",
                    help="stereodemo scenes that serve as stereo validation: 'val' (all of its validation rooms) "
                         "or a comma-separated list of them (for a net that trained on the others)")
    ap.add_argument("--sfm-tol", type=float, default=0.0, metavar="POINTS",
                    help="points SfM-val may fall below the prior's (default 0; pre-register any other value)")
    ap.add_argument("--ship", type=float, default=None, metavar="S", help="write the net with its head times S")
    ap.add_argument("--out", type=Path, default=None, help="with --ship: the weights file to write")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    net, manifest = load_weights(a.weights)
    if manifest.get("config", {}).get("prior") != "rows":
        sys.exit(f"error: {a.weights} is not a residual net (config prior 'rows'); there is no correction to scale")
    net.eval()
    head0 = {"weight": net.head.weight.detach().clone(), "bias": net.head.bias.detach().clone()}
    if a.ship is not None:
        if a.out is None:
            sys.exit("error: --ship needs --out FILE")
        scaled(net, head0, a.ship)
        n_pairs = sum(len(e["pairs"]) for e in heldout.load(heldout.VAL_PAIRS_FILE))
        manifest["correction_scale"] = {
            "s": a.ship, "how": "head conv weight and bias multiplied by s after training: z = g*prior + s*correction",
            "chosen_on": f"validation only (scripts/validate_depth_net.py): {n_pairs} judged pairs on training photos, "
                         "SfM pairs of big_buck_bunny_20s training frames, 32 synthetic views; no test set"}
        save_weights(net, a.out, manifest)
        print(f"wrote {a.out} (head x {a.ship})")
        return 0
    sets = load_sets()
    if a.stereo_val != "val":
        from rtstyle.bench.depth import stereodemo
        names = tuple(n.strip() for n in a.stereo_val.split(",") if n.strip())
        bad = [n for n in names if n not in stereodemo.VALIDATION]
        if bad:
            sys.exit(f"error: --stereo-val {', '.join(bad)}: not stereodemo validation scenes "
                     f"({', '.join(stereodemo.VALIDATION)})")
        sets = dict(sets, stereo=[(sc, stereodemo.pairs(sc)) for sc in stereodemo.load(names)])
    rows = []
    for s in GRID:
        r = score(lambda rgb: predict(scaled(net, head0, s), rgb, a.short), sets)
        rows.append({"s": s, **r})
        print(json.dumps(rows[-1]), flush=True)
    pick = choose(rows, a.sfm_tol)
    print(f"rule picks s = {pick}" + (" (the prior: this net does not beat it on validation)" if pick == 0 else ""))
    if a.json:
        a.json.write_text(json.dumps({"weights": str(a.weights), "stereo_val": a.stereo_val, "sfm_tol": a.sfm_tol,
                                      "rows": rows, "chosen_s": pick}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
