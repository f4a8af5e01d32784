"""Flicker of plain per-frame stylization vs the --smooth stabiliser, on held-back clips.

For each clip: the first ``--frames`` frames at ≤ ``--max-width`` px, the shipped net
(``--style``, onnxruntime, 1 thread), then the warping error (rtstyle.pipeline.temporal.warping_error:
masked mean |O_t − warp(O_{t−1})| in 8-bit levels, flow and occlusion from the INPUT frames by
DIS 'medium' at full clip size) of: the input clip itself (the floor set by flow error and new
content), the plain output, and the output smoothed at each ``--smooth`` value. As a cross-check
the same is measured with Farneback flow. Writes JSON, a markdown table and a side-by-side clip.

    OMP_NUM_THREADS=1 python scripts/flicker_eval.py --json docs/temporal_eval.json \
        --markdown docs/temporal_table.md --side-by-side docs/temporal_side_by_side.mp4
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from fractions import Fraction  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from rtstyle.pipeline import temporal  # noqa: E402
from rtstyle.io.video import VideoReader, probe  # noqa: E402
from rtstyle.io.video_writer import VideoWriter  # noqa: E402
from rtstyle.sizes import target_size  # noqa: E402
from rtstyle.pipeline.stylizer import Stylizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("RTSTYLE_DATA", ROOT.parent / "shared" / "data"))
CLIPS = [ROOT / "samples" / "bunny_4s.mp4", DATA / "video" / "big_buck_bunny_20s.mp4",
         DATA / "video" / "pedestrians_street_20s.mp4", DATA / "video" / "tree_wind_20s.mp4"]


def read_clip(path: Path, frames: int, max_width: int) -> tuple[list[np.ndarray], Fraction]:
    """The first ``frames`` RGB frames of ``path``, shrunk (area) to ≤ ``max_width`` px, even sides."""
    info = probe(path)
    scale = min(1.0, max_width / info.width)
    size = target_size(info.width, info.height, scale=scale) if scale < 1 else (info.width, info.height)
    out = []
    with VideoReader(path) as reader:
        for rgb, _ in reader:
            if len(out) >= frames:
                break
            if rgb.shape[1::-1] != size:
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            out.append(np.ascontiguousarray(rgb))
    return out, info.fps


def farneback_pair_flows(inputs: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """As temporal.pair_flows, with OpenCV Farneback flow (an independent estimate)."""
    def fb(a, b):
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 3, 5, 1.2, 0)
    greys = [temporal.grey(f) for f in inputs]
    return [(fb(cur, prev), ~temporal.occlusion(fb(cur, prev), fb(prev, cur)))
            for prev, cur in zip(greys, greys[1:])]


def stylizer(style: str, family: str | None, threads: int) -> Stylizer:
    """The shipped net on onnxruntime with ``threads`` intra-op threads."""
    from rtstyle.backends.onnxruntime_backend import OnnxRuntimeBackend
    st = Stylizer(style, family, "onnxruntime")
    path = st.backend.path
    st.backend.close()
    st.backend = OnnxRuntimeBackend(path, family=st.family, threads=threads).load()
    return st


def smooth(inputs, outputs, s: float) -> tuple[list[np.ndarray], float]:
    """Run the stabiliser over a clip; returns the frames and its ms per frame."""
    sm = temporal.TemporalSmoother(s)
    out = [sm(sm.key(i), o) for i, o in zip(inputs, outputs)]
    return out, 1000 * sm.seconds / max(sm.frames - 1, 1)


def cost(inputs, outputs, sizes=((432, 240), (640, 480), (1280, 720)), s: float = 0.8) -> dict:
    """Median ms per frame of the stabiliser on this clip's frames resized to each (W, H)."""
    out = {}
    for w, h in sizes:
        ins = [cv2.resize(f, (w, h)) for f in inputs]
        outs = [cv2.resize(f, (w, h)) for f in outputs]
        sm, times = temporal.TemporalSmoother(s), []
        for i, o in zip(ins, outs):
            t0 = time.perf_counter()
            sm(sm.key(i), o)
            times.append(time.perf_counter() - t0)
        out[f"{w}x{h}"] = round(1000 * float(np.median(times[1:])), 2)
    return out


def detail(frames: list[np.ndarray]) -> float:
    """Mean |Laplacian| of the grey frames: how much fine texture they carry."""
    return float(np.mean([np.abs(cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_32F)).mean()
                          for f in frames]))


def label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    cv2.putText(img, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--clips", nargs="+", type=Path, default=CLIPS)
    ap.add_argument("--frames", type=int, default=96, help="first N frames of each clip")
    ap.add_argument("--max-width", type=int, default=432)
    ap.add_argument("--style", default="mosaic")
    ap.add_argument("--model", dest="family", default=None)
    ap.add_argument("--smooth", default="0.3,0.5,0.7,0.8", help="comma-separated --smooth values")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime / torch / OpenCV threads")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--markdown", type=Path, default=None)
    ap.add_argument("--side-by-side", type=Path, default=None, help="plain | smoothed clip of the first clip")
    ap.add_argument("--side-smooth", type=float, default=0.7, help="--smooth value shown in the side-by-side")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    cv2.setNumThreads(a.threads)
    values = [float(v) for v in a.smooth.split(",")]
    st = stylizer(a.style, a.family, a.threads)
    rows = []
    side = None
    for clip in a.clips:
        if not clip.exists():
            print(f"skip {clip}: not found")
            continue
        inputs, fps = read_clip(clip, a.frames, a.max_width)
        t0 = time.perf_counter()
        plain = [st.frame(f) for f in inputs]
        net_ms = 1000 * (time.perf_counter() - t0) / len(inputs)
        flows = temporal.pair_flows(inputs, preset="medium", max_width=None)
        fflows = farneback_pair_flows(inputs)
        row = {"clip": clip.name, "frames": len(inputs), "size": f"{inputs[0].shape[1]}x{inputs[0].shape[0]}",
               "fps": float(fps), "net_ms": round(net_ms, 1),
               "valid_fraction": round(float(np.mean([v.mean() for _, v in flows])), 3),
               "input": temporal.warping_error(inputs, inputs, flows),
               "plain": temporal.warping_error(inputs, plain, flows),
               "farneback": {"input": temporal.warping_error(inputs, inputs, fflows),
                             "plain": temporal.warping_error(inputs, plain, fflows)},
               "smooth": {}}
        for s in values:
            out, ms = smooth(inputs, plain, s)
            row["smooth"][f"{s:g}"] = {
                "error": temporal.warping_error(inputs, out, flows),
                "farneback": temporal.warping_error(inputs, out, fflows),
                "ms_per_frame": round(ms, 2),
                # how far the stabilised frames are from the per-frame output (8-bit levels)
                "change_vs_plain": float(np.mean([np.abs(o.astype(np.float32) - p).mean()
                                                  for o, p in zip(out, plain)])),
                # fine texture left, relative to the plain output (smoothing averages texture away)
                "detail_kept": detail(out) / detail(plain)}
            if side is None and a.side_by_side and abs(s - a.side_smooth) < 1e-9:
                side = (inputs, plain, out, fps, s)
        if not rows:   # cost of the stabiliser alone, at a few sizes, on the first clip
            row["stabiliser_ms_median"] = cost(inputs, plain)
        rows.append(row)
        best = ", ".join(f"S={k}: {v['error']:.2f} ({v['error'] / row['plain']:.0%})" for k, v in row["smooth"].items())
        print(f"{clip.name} {row['size']} x{row['frames']}: input {row['input']:.2f}, plain {row['plain']:.2f}, "
              f"{best}; net {net_ms:.0f} ms/frame", flush=True)
    weights = str(st.entry.path.relative_to(ROOT) if st.entry.path.is_relative_to(ROOT) else st.entry.path)
    print(f"weights: {weights} ({st.family})")
    st.close()
    env = {"machine": platform.machine(), "cpu_count": os.cpu_count(), "threads": a.threads,
           "opencv": cv2.__version__, "torch": torch.__version__,
           "load_1min": round(os.getloadavg()[0], 2),
           "revision": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                      capture_output=True, text=True).stdout.strip()}
    result = {"style": a.style, "weights": weights, "backend": "onnxruntime", "metric": "warping error, 8-bit levels, DIS medium "
              "flow at clip size; occlusion by forward-backward check", "env": env, "clips": rows}
    if a.json:
        a.json.write_text(json.dumps(result, indent=2) + "\n")
    text = table(rows, values) + "\n\n" + summary(rows, values)
    if a.markdown:
        a.markdown.write_text(text + "\n")
    print(text)
    if side is not None:
        write_side_by_side(a.side_by_side, *side)
    return 0


def table(rows: list[dict], values: list[float]) -> str:
    head = ["clip", "frames", "size", "input (floor)", "plain"] + [f"smooth {s:g}" for s in values]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["clip"], str(r["frames"]), r["size"], f"{r['input']:.2f}", f"{r['plain']:.2f}"]
        cells += [f"{r['smooth'][f'{s:g}']['error']:.2f} ({r['smooth'][f'{s:g}']['error'] / r['plain']:.0%})"
                  for s in values]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(rows: list[dict], values: list[float]) -> str:
    """Per --smooth value, over the clips: flicker vs plain, texture kept, change, cost."""
    lines = ["| --smooth | warping error vs plain (per clip) | same, Farneback flow | detail kept "
             "| mean change vs plain (levels) | stabiliser ms/frame |", "|---|---|---|---|---|---|"]
    for s in values:
        per = [(r["smooth"][f"{s:g}"], r) for r in rows]
        cols = [[f"{p['error'] / r['plain']:.0%}" for p, r in per],
                [f"{p['farneback'] / r['farneback']['plain']:.0%}" for p, r in per],
                [f"{p['detail_kept']:.0%}" for p, _ in per],
                [f"{p['change_vs_plain']:.1f}" for p, _ in per],
                [f"{p['ms_per_frame']:.1f}" for p, _ in per]]
        lines.append(f"| {s:g} | " + " | ".join(", ".join(c) for c in cols) + " |")
    return "\n".join(lines)


def write_side_by_side(path: Path, inputs, plain, smoothed, fps, s: float) -> None:
    h, w = plain[0].shape[:2]
    with VideoWriter(path, fps, (2 * w, h), crf=30, preset="slow", threads=1) as writer:
        for p, o in zip(plain, smoothed):
            writer.write(np.hstack([label(p, "plain"), label(o, f"--smooth {s:g}")]))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    raise SystemExit(main())
