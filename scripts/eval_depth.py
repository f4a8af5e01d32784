"""Ordinal accuracy of a trained depth net on data it never saw, plus baselines and CPU speed.

    python scripts/eval_depth.py [WEIGHTS] [--json docs/depth_eval.json] [--speed]

Sets: held-out synthetic views (seeds no training run uses), the ground-truth disparity of two
Middlebury stereo scenes (Aloe, from OpenCV's samples; motorcycle, Middlebury 2014, bundled in the
scikit-image wheel), structure-from-motion pairs from the clips (for big_buck_bunny_20s only first
frames >= 300: training may use frames 0..299), and our human-judged DIW-style pairs
(rtstyle/bench/depth/diw_pairs.json, photos kept out of training), and the test rooms of the real
indoor stereo pairs of the stereodemo wheel (rtstyle.bench.depth.stereodemo), and real ground truth
found in public packages: Middlebury Cones 2003 (a PyPI source archive) and ViSP's castel RGB-D frames
(a Debian package; rtstyle.bench.depth.packaged). Baselines on the same pairs:
"lower = nearer" (depth = −row), and for Aloe, OpenCV StereoSGBM's own disparity.
None of these sets is used for training or for choosing training settings.
Also scored: how often the weak training cues are right on synthetic views (ground-pair labels,
sky detector), which says how much weight they deserve.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from rtstyle.depth_cues import sky_mask
from rtstyle.weights import load_weights
from rtstyle.bench.depth import truth as T
from rtstyle.bench.depth.metrics import Pairs, merge, ordinal_accuracy
from rtstyle.train.depth_data import pairs as P
from rtstyle.train.depth_data import synth

DATA = Path(os.environ.get("RTSTYLE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ROOT = Path(__file__).resolve().parents[1]


def predict(net, rgb: np.ndarray, short: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) depth, the net run at ``short`` px (multiple of 16) on the short side."""
    h, w = rgb.shape[:2]
    s = short / min(h, w)
    ph, pw = max(16, round(h * s / 16) * 16), max(16, round(w * s / 16) * 16)
    x = torch.from_numpy(cv2.resize(rgb, (pw, ph), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        d = net(x)
    return F.interpolate(d, size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()


def lower_is_nearer(h: int, w: int) -> np.ndarray:
    return -np.repeat(np.arange(h, dtype=np.float32)[:, None], w, 1)


def score(preds, pair_sets, tol=0.02):
    return merge([ordinal_accuracy(p, pr, tol) for p, pr in zip(preds, pair_sets)])


def synthetic(net, n: int, h: int, w: int, short: int):
    rng = np.random.default_rng(12345)
    views = [synth.render_view(1_000_000_000 + i, h, w) for i in range(n)]
    prs = [T.dense_pairs(v.depth, 2000, rng, 0.02, local_frac=0.0) for v in views]
    res = {"net": score([predict(net, v.rgb, short) for v in views], prs),
           "lower_is_nearer": score([lower_is_nearer(h, w)] * n, prs)}
    # Weak cues checked against the truth.
    g_right, s_iou, s_found = [], [], 0
    for v in views:
        gp = P.ground_pairs(h, w, 500, rng)
        true = T.label(v.depth.reshape(-1)[gp.ia], v.depth.reshape(-1)[gp.ib], 0.02)
        g_right.append(np.mean(true[true != 0] == gp.r[true != 0]) if (true != 0).any() else np.nan)
        m = sky_mask(v.rgb)
        if m is not None:
            s_found += 1
            s_iou.append((m & v.sky).sum() / max(1, (m | v.sky).sum()))
    res["weak_cues"] = {"ground_pair_labels_right": float(np.nanmean(g_right)),
                        "sky_detector_fires_on": f"{s_found}/{n} views ({int(sum(v.sky.any() for v in views))} have sky)",
                        "sky_detector_iou_when_fired": float(np.mean(s_iou)) if s_iou else None}
    return res


def aloe(net, short: int, grid: int = 4):
    left = cv2.cvtColor(cv2.imread(str(DATA / "depth" / "aloeL.jpg")), cv2.COLOR_BGR2RGB)
    right = cv2.cvtColor(cv2.imread(str(DATA / "depth" / "aloeR.jpg")), cv2.COLOR_BGR2RGB)
    gt = cv2.imread(str(DATA / "depth" / "aloeGT.png"), cv2.IMREAD_UNCHANGED).astype(np.float32)
    gt_s = gt[::grid, ::grid]
    rng = np.random.default_rng(7)
    prs = T.disparity_pairs(np.where(gt_s > 0, gt_s, np.nan), 20000, rng, 0.02, local_frac=0.0)
    small = cv2.resize(left, (gt_s.shape[1], gt_s.shape[0]), interpolation=cv2.INTER_AREA)
    res = {"net": ordinal_accuracy(predict(net, left, short)[::grid, ::grid], prs),
           "lower_is_nearer": ordinal_accuracy(lower_is_nearer(*gt_s.shape), prs)}
    res["ground_cue_right"] = ground_cue(np.where(gt_s > 0, 1.0 / np.maximum(gt_s, 1e-6), np.nan))
    # StereoSGBM at half resolution against the ground truth, on the pairs where it has a value.
    disp = T.stereo_disparity(cv2.resize(left, None, fx=0.5, fy=0.5), cv2.resize(right, None, fx=0.5, fy=0.5), 128)
    disp = cv2.resize(disp, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_NEAREST)[::grid, ::grid]
    ok = np.isfinite(disp.reshape(-1))
    keep = ok[prs.ia] & ok[prs.ib]
    sub = Pairs(prs.ia[keep], prs.ib[keep], prs.r[keep])
    res["stereo_sgbm"] = ordinal_accuracy(np.nan_to_num(1.0 / disp, nan=0.0), sub)
    res["stereo_sgbm"]["coverage"] = float(keep.mean())
    res["_image"] = small
    return res


def ground_cue(gt_depth: np.ndarray, n: int = 20000) -> float:
    """How often the weak ground-pair labels are right on a real depth map (NaN = unknown)."""
    rng = np.random.default_rng(11)
    h, w = gt_depth.shape
    gp = P.ground_pairs(h, w, n, rng)
    za, zb = gt_depth.reshape(-1)[gp.ia], gt_depth.reshape(-1)[gp.ib]
    ok = np.isfinite(za) & np.isfinite(zb)
    true = T.label(za[ok], zb[ok], 0.02)
    m = true != 0
    return float(np.mean(true[m] == gp.r[ok][m]))


def motorcycle(net, short: int, grid: int = 2):
    """Middlebury 2014 motorcycle (scikit-image's bundled copy, 741×500): GT disparity, NaN = unknown."""
    from skimage import data as skdata   # main() checks it is installed before any scoring
    left, _, disp = skdata.stereo_motorcycle()
    disp = np.asarray(disp, np.float32)
    if disp.ndim == 3:
        disp = disp[..., 0]
    d_s = disp[::grid, ::grid]
    rng = np.random.default_rng(7)
    prs = T.disparity_pairs(np.where(np.isfinite(d_s) & (d_s > 0), d_s, np.nan), 20000, rng, 0.02, local_frac=0.0)
    res = {"net": ordinal_accuracy(predict(net, left, short)[::grid, ::grid], prs),
           "lower_is_nearer": ordinal_accuracy(lower_is_nearer(*d_s.shape), prs)}
    res["ground_cue_right"] = ground_cue(np.where(d_s > 0, 1.0 / d_s, np.nan))
    return res


def diw(net, short: int):
    """Our human-judged pairs (rtstyle/bench/depth/diw_pairs.json): ordered accuracy, all and per kind."""
    from rtstyle.bench.depth import heldout
    kinds: dict[str, list] = {}
    for e in heldout.load():
        rgb = cv2.cvtColor(cv2.imread(str(DATA / "content" / e["photo"])), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        d_net, d_pri = predict(net, rgb, short), lower_is_nearer(h, w)
        for q in e["pairs"]:
            pr = heldout.pairs_for({"pairs": [q]}, h, w)
            # Ordinal accuracy with equal_tol 0: only the order of the two points counts.
            for key, d in (("net", d_net), ("lower_is_nearer", d_pri)):
                right = ordinal_accuracy(d, pr, equal_tol=0.0)["ordered"]
                kinds.setdefault(q.get("kind", "pair"), []).append((key, right))
    out = {}
    for kind, rows in [("all", [r for v in kinds.values() for r in v])] + sorted(kinds.items()):
        out[kind] = {key: {"right": int(sum(r for k, r in rows if k == key)),
                           "n": int(sum(1 for k, _ in rows if k == key))} for key in ("net", "lower_is_nearer")}
        for v in out[kind].values():
            v["acc"] = v["right"] / max(1, v["n"])
    return out


def net_vs_prior(net, short: int, scenes, grid: int):
    """``scenes``: (name, rgb, pairs on its 1/``grid`` grid, coverage of the truth); the net's and the
    prior's ordinal accuracy per scene and pooled."""
    nets, priors, per = [], [], {}
    for name, rgb, prs, cover in scenes:
        nets.append(ordinal_accuracy(predict(net, rgb, short)[::grid, ::grid], prs))
        priors.append(ordinal_accuracy(lower_is_nearer(*rgb.shape[:2])[::grid, ::grid], prs))
        per[name] = {"coverage": round(cover, 3), "net": nets[-1]["ordered"],
                     "lower_is_nearer": priors[-1]["ordered"], "n_ordered": nets[-1]["n_ordered"]}
    return {"scenes": per, "net": merge(nets), "lower_is_nearer": merge(priors)}


def stereo_test(net, short: int):
    """The test rooms of the stereodemo wheel's real indoor pairs (rtstyle.bench.depth.stereodemo.TEST):
    depth order measured by stereo matching; per scene and pooled, the prior beside the net."""
    from rtstyle.bench.depth import stereodemo as S
    return net_vs_prior(net, short, [(sc.name, sc.left, S.pairs(sc), S.coverage(sc)) for sc in S.load(S.TEST)],
                        S.GRID)


def packaged(net, short: int, scenes, n: int, grid: int = 2, seed: int = 7):
    """Real ground truth from public packages (rtstyle.bench.depth.packaged): ``n`` uniform pairs per
    scene on a 1/``grid`` grid where the truth is known, ordered at 2 %; the prior beside the net."""
    def pairs(sc):
        d = sc.depth[::grid, ::grid]
        valid = np.isfinite(d)
        return T.dense_pairs(np.where(valid, d, 0), n, np.random.default_rng(seed), 0.02, valid=valid, local_frac=0.0)
    return net_vs_prior(net, short, [(sc.name, sc.rgb, pairs(sc), float(np.isfinite(sc.depth).mean()))
                                     for sc in scenes], grid)


def sfm(net, short: int):
    res = {}
    for clip in (DATA / "video" / "big_buck_bunny_20s.mp4", ROOT / "samples" / "bunny_4s.mp4",
                 DATA / "video" / "pedestrians_street_20s.mp4", DATA / "video" / "tree_wind_20s.mp4"):
        if not clip.exists():
            continue
        t0 = time.time()
        # big_buck_bunny_20s frames 0..299 may be used for training (rtstyle train depth --sfm-frames 0:276).
        frames = (300, 1 << 30) if clip.name == "big_buck_bunny_20s.mp4" else None
        items = P.clip_sfm_points(clip, gap=24, stride=6, frames=frames)
        rng = np.random.default_rng(3)
        prs = [P.point_pairs(xy, z, fr.shape[:2], 400, rng, tau=0.05) for fr, xy, z in items]
        entry = {"frames_used": len(items), "points": int(sum(len(z) for _, _, z in items)),
                 "sfm_seconds": round(time.time() - t0, 1)}
        if items:
            entry["net"] = score([predict(net, fr, short) for fr, _, _ in items], prs)
            entry["lower_is_nearer"] = score([lower_is_nearer(*fr.shape[:2]) for fr, _, _ in items], prs)
        res[clip.name] = entry
    return res


def times_ms(run, x, warmup: int, reps: int) -> list[float]:
    """Milliseconds of ``reps`` calls of ``run(x)`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run(x)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run(x)
        ts.append(1000 * (time.perf_counter() - t0))
    return ts


def speed(net, sizes=((96, 128), (192, 256), (240, 320)), reps=10):
    out = {}
    with torch.no_grad():
        for h, w in sizes:
            ts = times_ms(net, torch.rand(1, 3, h, w), 2, reps)
            out[f"{w}x{h}"] = {"p50_ms": round(float(np.median(ts)), 1), "fps": round(1000 / float(np.median(ts)), 1)}
    return out


def backend_speed(net, sizes=((240, 320), (128, 176), (112, 160)), reps=15, threads=2):
    """p50 ms of the exported ONNX net on onnxruntime and (if installed) OpenVINO CPU with the bf16
    hint, batch 1, at each (H, W) processing size. Measures only; the backends live in rtstyle.backends."""
    import tempfile

    import onnxruntime as ort

    from rtstyle.export.onnx import export_onnx
    out = {"threads": threads}
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(net, "depth", Path(tmp) / "depth.onnx", {"config": dict(net.config)})
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        runners = {"onnxruntime": lambda x: sess.run(None, {name: x})}
        try:
            import openvino as ov
            core = ov.Core()
            for hint in ("bf16", "f32"):
                cm = core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": hint,
                                                         "INFERENCE_NUM_THREADS": threads})
                runners[f"openvino-{hint}"] = (lambda c: (lambda x: c([x])))(cm)
        except Exception as exc:  # noqa: BLE001 - report, do not fail the evaluation
            out["openvino_error"] = repr(exc)[:200]
        for key, run in runners.items():
            out[key] = {}
            for h, w in sizes:
                ts = times_ms(run, np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32), 3, reps)
                out[key][f"{w}x{h}"] = {"p50_ms": round(float(np.median(ts)), 1),
                                        "min_ms": round(float(np.min(ts)), 1)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="?", type=Path, default=ROOT / "rtstyle" / "weights" / "depth-rt.safetensors")
    ap.add_argument("--short", type=int, default=192, help="short side the net runs at on real images")
    ap.add_argument("--synth-views", type=int, default=96)
    ap.add_argument("--synth-size", default="128x96")
    ap.add_argument("--speed", action="store_true", help="also time the net on CPU")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--speed-backends", action="store_true",
                    help="time the exported ONNX on onnxruntime and OpenVINO (bf16 hint), 2 threads")
    ap.add_argument("--only-speed", action="store_true", help="with --speed-backends: skip the accuracy sets")
    ap.add_argument("--no-synth", action="store_true", help="skip the synthetic views (slow to render)")
    ap.add_argument("--cues", type=json.loads, default=None, metavar="JSON",
                    help='score rtstyle.depth_cues with this CueConfig instead of a net, e.g. \'{"sky": 1.0}\'')
    a = ap.parse_args()
    import importlib.util
    if not a.only_speed and importlib.util.find_spec("skimage") is None:
        raise SystemExit("error: the Middlebury motorcycle test set ships in the scikit-image wheel, which is not "
                         "installed; run `pip install scikit-image` and score again")
    if a.cues is not None:
        from rtstyle.depth_cues import CueDepth
        net = CueDepth(**a.cues)
        manifest, a.weights = {"config": net.config}, Path("cues")
    else:
        net, manifest = load_weights(a.weights)
    w, h = (int(v) for v in a.synth_size.split("x"))
    if a.only_speed:
        print(json.dumps({"weights": a.weights.name, "backend_speed": backend_speed(net)}, indent=2))
        return
    res = {"weights": a.weights.name, "config": manifest["config"], "iterations": manifest.get("iterations"),
           "sfm": sfm(net, a.short)}
    if not a.no_synth:
        res["synthetic_heldout"] = synthetic(net, a.synth_views, h, w, min(h, w))
    if (DATA / "depth" / "aloeGT.png").exists():
        res["aloe"] = aloe(net, a.short)
        res["aloe"].pop("_image")
    res["motorcycle"] = motorcycle(net, a.short)
    res["diw_ours"] = diw(net, a.short)
    from rtstyle.errors import UserError
    from rtstyle.bench.depth import packaged as K
    fetched = (("stereodemo_test", "stereo-test", lambda: stereo_test(net, a.short)),
               ("cones", "cones", lambda: packaged(net, a.short, [K.cones()], 20000)),
               ("castel", "castel", lambda: packaged(net, a.short, K.castel(), 2000)))
    for key, label, run in fetched:
        try:
            res[key] = run()
        except UserError as exc:   # offline and no cached archive, or no apt-get: the other sets still count
            print(f"warning: {label} skipped: {exc}", file=sys.stderr)
            res[key] = {"skipped": str(exc)}
    if a.speed_backends:
        res["backend_speed"] = backend_speed(net)
    if a.speed:
        res["cpu_speed"] = {"threads": torch.get_num_threads(), **speed(net)}
    text = json.dumps(res, indent=2, default=float)
    print(text)
    if a.json:
        a.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
