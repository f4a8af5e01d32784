#!/usr/bin/env python3
"""Pipeline benchmark in one call: file -> file with audio, and webcam mode from a simulated camera.

On the CPU (what docs/pipeline.md reports; small sizes)::

    nice -n 15 python scripts/pipeline_bench.py --out /tmp/bench --backend torch \\
        --file-size native --live-size 432x240 --live-fps 24 --live-frames 48

Measures, for the style's weights (shipped, or on $RTSTYLE_WEIGHTS; without any, a randomly
initialised Johnson net, reported as "plumbing only"):

1. model: ``Stylizer.tensor`` on a frame already on the device (median ms; CUDA-synchronised),
   and ``Stylizer.frame`` (uint8 in -> uint8 out, serial, what a loop without a pipeline pays);
2. file: ``rtstyle video`` on samples/bunny_4s.mp4 scaled to --file-size (audio kept): fps,
   per-stage ms, the pipeline's overhead over the model's own time;
3. live: ``run_live`` from a SimulatedCamera at --live-size / --live-fps into a NullSink:
   shown fps, capture-to-display latency percentiles, drops, per-stage ms.

Writes ``pipeline_bench.json`` and ``pipeline_bench.md`` into --out. It needs PyAV, which the GPU
image lacks; the GPU session's pipeline figures come from scripts/gpu_run.sh (its pipeline stage).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _sync(device) -> None:
    import torch
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def ensure_weights(style: str, family: str | None, tmp: Path, width: int) -> str | None:
    """None when real weights paint ``style``; else installs a random Johnson net and says so."""
    from rtstyle import styles
    from rtstyle.errors import UserError
    try:
        styles.choose(style, family)
        return None
    except UserError:
        pass
    import torch
    from rtstyle.checkpoints import save_weights
    from rtstyle.models import JohnsonNet
    torch.manual_seed(0)
    d = tmp / "random-weights"
    save_weights(JohnsonNet(width=width, n_res=5), d / f"random-johnson{width}-{style}.safetensors",
                 {"family": "johnson", "styles": [style], "config": {"width": width, "n_res": 5},
                  "data": "none: random initialisation, for pipeline timing only"})
    os.environ["RTSTYLE_WEIGHTS"] = os.pathsep.join(filter(None, [str(d), os.environ.get("RTSTYLE_WEIGHTS")]))
    return f"random-init Johnson width {width} (no trained weights for {style!r}): plumbing/timing only"


def scaled_clip(src: Path, size, tmp: Path) -> Path:
    """``src`` resized to ``size`` (parse_size text or 'native'), audio copied; not timed."""
    from rtstyle.io.sinks import FileSink
    from rtstyle.io.sources import FileSource
    from rtstyle.stylizer import parse_size, target_size
    if size == "native":
        return src
    with FileSource(src) as fs:
        w, h = target_size(*fs.size, parse_size(size))
        out = tmp / f"{src.stem}_{w}x{h}.mp4"
        import cv2
        with FileSink(out, fs.info.fps, (w, h), audio_from=src, crf=16) as sink:
            for rgb, _t in fs:
                sink.write(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC))
    return out


def bench_model(st, size, iters: int) -> dict:
    """Median ms of Stylizer.tensor (device-resident input) and of Stylizer.frame (uint8 round trip)."""
    import torch
    from rtstyle.io.sources import pattern_frame
    w, h = size
    rgb = pattern_frame(0, w, h)
    dev = st.backend.device
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255).to(dev)
    out = {}
    for name, fn in (("tensor_ms", lambda: st.tensor(x)), ("frame_ms", lambda: st.frame(rgb))):
        with torch.inference_mode():
            for _ in range(3):
                fn()
            _sync(dev)
            ts = []
            for _ in range(iters):
                t = time.perf_counter()
                fn()
                _sync(dev)
                ts.append(1000 * (time.perf_counter() - t))
        out[name] = round(statistics.median(ts), 2)
    out["size"] = f"{w}x{h}"
    return out


def bench_file(clip: Path, style, family, backend, tmp: Path) -> dict:
    from rtstyle import jobs
    from rtstyle.io.video import probe
    dst = tmp / "bench_out.mp4"
    times = jobs.stylize_video(clip, dst, style, family, backend, overwrite=True, progress=False, log=lambda s: None)
    info, out = probe(clip), probe(dst)
    n = max(times.frames, 1)
    res = {"clip": f"{clip.name} {info.width}x{info.height} @ {float(info.fps):g} fps, {info.frame_count} frames"
                   f"{', audio' if info.has_audio else ''}",
           "frames": times.frames, "wall_s": round(times.wall, 3), "fps": round(times.fps, 2),
           "per_frame_ms": {"decode": round(1000 * times.read / n, 2), "stylize": round(1000 * times.process / n, 2),
                            "encode": round(1000 * times.write / n, 2)},
           "output": f"{out.codec} {out.width}x{out.height}, {out.frame_count} frames, audio {out.has_audio}"}
    if "gpu_compute" in times.extra:
        res["per_frame_ms"]["gpu_compute"] = round(1000 * times.extra["gpu_compute"] / n, 2)
    return res


def bench_live(style, family, backend, size, fps, frames, simulate) -> dict:
    from rtstyle.io.sinks import NullSink
    from rtstyle.io.sources import SimulatedCamera
    from rtstyle.realtime import run_live
    from rtstyle.stylizer import Stylizer
    with Stylizer(style, family, backend) as st, SimulatedCamera(simulate, fps, size) as cam:
        run_live(cam, st, NullSink(), max_frames=5, log=lambda s: None)  # warm-up (graphs, autotune)
        stats = run_live(cam, st, NullSink(), max_frames=frames, log=lambda s: None)
    d = stats.as_dict()
    d["camera"] = f"simulated {simulate} {size[0]}x{size[1]} @ {fps:g} fps"
    return d


def env_info(backend_label: str) -> dict:
    import av
    import torch
    info = {"python": platform.python_version(), "torch": torch.__version__, "av": av.__version__,
            "cpu_count": os.cpu_count(), "machine": platform.machine(), "backend": backend_label}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    try:
        info["load_avg"] = os.getloadavg()
    except OSError:
        pass
    return info


def markdown(r: dict) -> str:
    m, f, lv = r["model"], r["file"], r["live"]
    lines = [f"# Pipeline benchmark ({r['env'].get('gpu', 'CPU')})", ""]
    if r["weights_note"]:
        lines += [f"**Weights: {r['weights_note']}.**", ""]
    lines += [f"Stylizer: {r['stylizer']}", "",
              "| measurement | value |", "|---|---|",
              f"| model alone, tensor on device ({m['size']}) | {m['tensor_ms']} ms |",
              f"| model with uint8 conversions, serial ({m['size']}) | {m['frame_ms']} ms |",
              f"| file -> file ({f['clip']}) | {f['fps']} fps, {f['wall_s']} s |",
              "| file per-frame stage times | " + ", ".join(f"{k} {v} ms" for k, v in f["per_frame_ms"].items()) + " |",
              f"| file: wall time per frame over the model's time in the same run | {r['overhead_pct']}% |",
              f"| file: wall time per frame over the model timed alone (serial) | {r['overhead_vs_model_alone_pct']}% |",
              f"| live ({lv['camera']}) | {lv['fps']} fps shown, {lv['dropped']} dropped |"]
    if lv.get("latency_ms"):
        lat = lv["latency_ms"]
        lines.append(f"| live capture-to-display latency | p50 {lat['p50']} ms, p90 {lat['p90']} ms, "
                     f"p99 {lat['p99']} ms, max {lat['max']} ms |")
    lines.append("| live per-frame stage times | " + ", ".join(f"{k} {v} ms" for k, v in lv["per_frame_ms"].items()) + " |")
    lines += ["", "Environment: " + ", ".join(f"{k} {v}" for k, v in r["env"].items()), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench-out")))
    ap.add_argument("--style", default="mosaic")
    ap.add_argument("--model", dest="family", default=None)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--clip", type=Path, default=ROOT / "samples" / "bunny_4s.mp4")
    ap.add_argument("--file-size", default="1080p", help="the clip is scaled to this ('native' = as is)")
    ap.add_argument("--live-size", default="720p")
    ap.add_argument("--live-fps", type=float, default=30.0)
    ap.add_argument("--live-frames", type=int, default=300)
    ap.add_argument("--simulate", default="pattern", help="'pattern' or a video file for the simulated camera")
    ap.add_argument("--model-iters", type=int, default=30)
    ap.add_argument("--random-width", type=int, default=32, help="width of the random net when no weights exist")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    from rtstyle.realtime import _capture_size
    from rtstyle.stylizer import Stylizer
    with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmpd:
        tmp = Path(tmpd)
        note = ensure_weights(a.style, a.family, tmp, a.random_width)
        clip = scaled_clip(a.clip, a.file_size, tmp)
        from rtstyle.io.video import probe
        info = probe(clip)
        with Stylizer(a.style, a.family, a.backend) as st:
            label = st.label
            model = bench_model(st, (info.width, info.height), a.model_iters)
        print(f"model: {model}", flush=True)
        file_res = bench_file(clip, a.style, a.family, a.backend, tmp)
        print(f"file: {file_res}", flush=True)
        live = bench_live(a.style, a.family, a.backend, _capture_size(a.live_size), a.live_fps, a.live_frames,
                          a.simulate)
        print(f"live: {live}", flush=True)
    per_frame_wall = 1000 * file_res["wall_s"] / max(file_res["frames"], 1)
    stage = file_res["per_frame_ms"].get("gpu_compute", file_res["per_frame_ms"]["stylize"])
    result = {"weights_note": note, "stylizer": label, "model": model, "file": file_res, "live": live,
              # the pipeline's cost beyond the model's time in the same run (stylize stage on CPU,
              # GPU compute by CUDA events on GPU): decode/encode not hidden, hand-overs, copies
              "overhead_pct": round(100 * (per_frame_wall / stage - 1), 1),
              # vs the model timed alone before the run (Stylizer.frame, serial); moves with machine load
              "overhead_vs_model_alone_pct": round(100 * (per_frame_wall / model["frame_ms"] - 1), 1),
              "env": env_info(label.rsplit(" on ", 1)[-1])}
    (a.out / "pipeline_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (a.out / "pipeline_bench.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
