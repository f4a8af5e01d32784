"""Soak run: many frames through the real live pipeline, watching memory and frame rate.

A source (the moving test card, or a video file looped) -> rtstyle.pipeline.live.run_live (the
capture / stylize / show threads; on a CUDA stylizer the pinned-buffer CUDA path) -> a Stylizer
-> a NullSink (or a FileSink with --output). Every ``--window`` frames the sink records host RSS
(/proc/self/statm), CUDA memory when a GPU is present (torch's allocated / reserved, and the
device-wide use from cudaMemGetInfo, which also sees onnxruntime and TensorRT memory) and the
window's frame rate. Writes everything to a JSON file and prints a summary.

    OMP_NUM_THREADS=1 python scripts/soak.py --frames 10000 --size 160x96 --backend auto \
        --threads 1 --json docs/bench/soak-cpu.json
    python scripts/soak.py --frames 100000 --size 720p --backend auto --json soak-gpu.json   # on a GPU

``--live`` uses a SimulatedCamera paced at ``--fps`` (frames are dropped when stylizing is
slower, as with a real camera); without it every frame is stylized, as fast as possible.
``--max-rss-growth-mb`` makes the run fail (exit 1) when host RSS grows more than that between
the end of the first window and the end of the run.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1 << 20


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; psutil elsewhere; 0 if neither)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
        return psutil.Process().memory_info().rss
    except ImportError:
        return 0


def cuda_memory() -> dict | None:
    """torch's allocated / reserved and the device-wide used memory (MiB), or None without CUDA."""
    import torch
    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info()
    return {"allocated_mb": round(torch.cuda.memory_allocated() / MB, 1),
            "reserved_mb": round(torch.cuda.memory_reserved() / MB, 1),
            "device_used_mb": round((total - free) / MB, 1)}


def machine() -> dict:
    import torch
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None}


class MeterSink:
    """Wraps a sink; every ``window`` frames records memory and the window's frame rate."""

    def __init__(self, inner, window: int, log):
        self.inner, self.window, self.log = inner, window, log
        self.frames = 0
        self.samples: list[dict] = []
        self._t_window = None

    def sample(self, label: str | None = None) -> dict:
        s = {"frame": self.frames, "t": round(time.perf_counter() - self.t0, 3),
             "rss_mb": round(rss_bytes() / MB, 1)}
        cuda = cuda_memory()
        if cuda is not None:
            s["cuda"] = cuda
        if label:
            s["label"] = label
        return s

    def start(self):
        self.inner.start()
        self.t0 = time.perf_counter()
        return self

    def write(self, rgb, t=None):
        shown = self.inner.write(rgb, t)
        self.frames += 1
        now = time.perf_counter()
        if self.frames == 1:   # everything is loaded and the first frame's buffers exist
            self.samples.append(self.sample("first frame"))
            self._t_window, self._f_window = now, 1
        elif self.frames % self.window == 0:
            s = self.sample()
            n = self.frames - self._f_window
            s["window_fps"] = round(n / max(now - self._t_window, 1e-9), 2)
            self._t_window, self._f_window = now, self.frames
            self.samples.append(s)
            cuda = s.get("cuda")
            self.log(f"{self.frames:>7} frames  {s['window_fps']:7.1f} fps  RSS {s['rss_mb']:.1f} MiB"
                     + (f"  CUDA alloc {cuda['allocated_mb']} / reserved {cuda['reserved_mb']} / device "
                        f"{cuda['device_used_mb']} MiB" if cuda else ""))
        return shown

    def stop(self):
        self.inner.stop()

    def __getattr__(self, name):   # actions, notify, set_status: from the inner sink
        return getattr(self.inner, name)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def summarize(samples: list[dict], frames: int, wall: float) -> dict:
    fps = [s["window_fps"] for s in samples if "window_fps" in s]
    # the first full window includes warm-up (allocator growth, cuDNN autotune): keep it out of "steady"
    steady = [s for s in samples if "window_fps" in s]
    first, last = samples[0], samples[-1]
    out = {"frames": frames, "wall_s": round(wall, 1), "fps_overall": round(frames / wall, 2) if wall else 0.0,
           "rss_mb": {"first_frame": first["rss_mb"], "after_first_window": steady[0]["rss_mb"] if steady else None,
                      "end": last["rss_mb"], "max": max(s["rss_mb"] for s in samples)},
           "window_fps": {"min": min(fps), "median": round(statistics.median(fps), 2), "max": max(fps),
                          "windows": len(fps)} if fps else None}
    if steady:
        out["rss_growth_mb_after_first_window"] = round(last["rss_mb"] - steady[0]["rss_mb"], 1)
    if "cuda" in first:
        out["cuda_mb"] = {k: {"first_frame": first["cuda"][k],
                              "after_first_window": steady[0]["cuda"][k] if steady else None,
                              "end": last["cuda"][k], "max": max(s["cuda"][k] for s in samples)}
                          for k in first["cuda"]}
        if steady:
            out["cuda_growth_mb_after_first_window"] = {k: round(last["cuda"][k] - steady[0]["cuda"][k], 1)
                                                        for k in first["cuda"]}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--frames", type=int, default=10000, help="frames to show")
    ap.add_argument("--size", default="160x96", help="frame size WxH, or a short side / name (720p: 16:9)")
    ap.add_argument("--style", default="mosaic")
    ap.add_argument("--model", dest="family", default=None)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--source", default="pattern", help="'pattern' (moving test card) or a video file (looped)")
    ap.add_argument("--live", action="store_true", help="a simulated camera paced at --fps, dropping stale frames")
    ap.add_argument("--fps", type=float, default=30.0, help="--live camera rate")
    ap.add_argument("--window", type=int, default=500, help="frames per measurement window")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 0) or 0),
                    help="CPU threads for torch / onnxruntime (0 = library default; default: $OMP_NUM_THREADS)")
    ap.add_argument("--output", type=Path, default=None, help="also encode to this .mp4 (FileSink)")
    ap.add_argument("--json", type=Path, default=None, help="write samples and summary here")
    ap.add_argument("--max-rss-growth-mb", type=float, default=None,
                    help="fail (exit 1) if RSS grows more than this after the first window")
    ap.add_argument("--max-gpu-growth-mb", type=float, default=None,
                    help="fail (exit 1) if CUDA memory (reserved or device-wide) grows more than this after the "
                         "first window")
    a = ap.parse_args(argv)

    import torch

    from rtstyle.io.sinks import FileSink, NullSink
    from rtstyle.io.camera import SimulatedCamera
    from rtstyle.io.sources import FileSource, PatternSource
    from rtstyle.pipeline.live import run_live
    from rtstyle.sizes import capture_size   # WxH, or a short side as 16:9
    from rtstyle.pipeline.stylizer import Stylizer

    if a.frames < 1 or a.window < 1:
        ap.error("--frames and --window must be at least 1")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    w, h = capture_size(a.size)
    log = lambda text: print(text, flush=True)   # noqa: E731
    rss_before = rss_bytes()
    st = Stylizer(a.style, a.family, a.backend, size=None if str(a.source) == "pattern" else (w, h))
    if a.threads > 0 and hasattr(st.backend, "threads") and st.backend.threads != a.threads:
        st.backend.close()   # onnxruntime: a session with the asked-for intra-op thread count
        st.backend.threads = a.threads
        st.backend.load()
    if a.live:
        source = SimulatedCamera(a.source, a.fps, (w, h))
    elif str(a.source) == "pattern":
        source = PatternSource((w, h), fps=a.fps)
    else:
        source = FileSource(a.source, loop=True)
    inner = FileSink(a.output, source.fps or a.fps) if a.output else NullSink()
    sink = MeterSink(inner, a.window, log)
    info = {"config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()},
            "command": " ".join(["python scripts/soak.py", *sys.argv[1:]]) if argv is None else None,
            "machine": machine(), "stylizer": st.label, "size": [w, h],
            "rss_mb_before_load": round(rss_before / MB, 1)}
    log(f"soak: {a.frames} frames of {w}x{h} ({'live camera' if a.live else 'every frame'}, "
        f"source {a.source}) -> {st.label} -> {'file ' + str(a.output) if a.output else 'null sink'}; "
        f"{torch.get_num_threads()} torch threads")
    t0 = time.perf_counter()
    try:
        with st, source, sink:
            stats = run_live(source, st, sink, max_frames=a.frames, drop_stale=a.live, log=log)
            wall = time.perf_counter() - t0
            sink.samples.append(sink.sample("end"))   # before the stylizer and sink are closed
    except BaseException:
        print(f"soak stopped after {sink.frames} frames", file=sys.stderr)
        raise
    summary = summarize(sink.samples, sink.frames, wall)
    summary["dropped"] = stats.dropped
    summary["per_frame_ms"] = stats.as_dict()["per_frame_ms"]
    info["machine"]["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    info.update(summary=summary, samples=sink.samples)
    r, f = summary["rss_mb"], summary["window_fps"]
    log(f"\n{summary['frames']} frames in {summary['wall_s']} s ({summary['fps_overall']} fps overall)")
    log(f"host RSS MiB: before load {info['rss_mb_before_load']}, first frame {r['first_frame']}, after first "
        f"window {r['after_first_window']}, end {r['end']}, max {r['max']} "
        f"(growth after first window {summary.get('rss_growth_mb_after_first_window')})")
    if f:
        log(f"fps per {a.window}-frame window: min {f['min']}, median {f['median']}, max {f['max']} "
            f"({f['windows']} windows)")
    for k, v in summary.get("cuda_mb", {}).items():
        log(f"CUDA {k}: first frame {v['first_frame']}, end {v['end']}, max {v['max']} MiB")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(info, indent=1) + "\n")
        log(f"wrote {a.json}")
    failed = False
    growth = summary.get("rss_growth_mb_after_first_window")
    if a.max_rss_growth_mb is not None and growth is not None and growth > a.max_rss_growth_mb:
        log(f"FAIL: host RSS grew {growth} MiB after the first window (limit {a.max_rss_growth_mb})")
        failed = True
    for k, g in summary.get("cuda_growth_mb_after_first_window", {}).items():
        if a.max_gpu_growth_mb is not None and k != "allocated_mb" and g > a.max_gpu_growth_mb:
            log(f"FAIL: CUDA {k} grew {g} MiB after the first window (limit {a.max_gpu_growth_mb})")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
