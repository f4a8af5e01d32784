#!/usr/bin/env python3
"""The driver behind scripts/gpu_run.sh (read that file's header first): one bounded GPU session.

Stages, each under a deadline taken from one budget counted from this process's start:
  tests     pytest -m gpu on the GPU test files (timeout)                  -> tests.txt
  train     multi-style net (all styles) + AdaIN decoder, two processes at once, with the CPU
            campaign's flags (scripts/train_campaign.py) and a GPU batch, resumed from the shipped
            weights (--init) when there are any, --max-minutes to the stage's end (counted from
            each trainer's process start)                                    -> weights.tar
  bench     rtstyle bench on torch-cuda (eager / fp16+channels_last / +CUDA graphs) at 256/512/1024
                                                                              -> bench.json, bench.md
  pipeline  CudaFrameProcessor fps (pinned, double-buffered) at 720p and 1080p, no file IO
                                                                              -> pipeline.json
  quality   rtstyle eval at the sample photos' real size: the default net of 5 styles against
            Gatys-500 (the baseline a CPU session cannot afford: ~45 min per photo there)  -> eval.md
The tests and the training run side by side (the tests are short; the training gets the minutes).
Every PACK_EVERY seconds, and at the end, the newest fp16 weights + manifests of each run (from
its last checkpoint while it trains, its final file once done), losses and logs are packed into
weights.tar, so a kill at the limit still brings back recent weights. log.txt and summary.json
complete the at most 8 files in $OUT (the limit is 8, each <= 16 MiB; tars are kept < 15 MiB).

DRY_RUN=1: the same stages on the CPU with tiny settings (2-style net, width 8, 64-px crops, stopped
by their clock; bench and pipeline at small sizes) in BUDGET=150 s.
Knobs (environment): OUT, WORK (run folders, default /tmp/rtstyle-gpu-run), BUDGET (s),
SKIP (comma-separated stage names), PACK_EVERY (s), RTSTYLE_DATA (photos under content/).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

T0 = time.time()
ROOT = Path(__file__).resolve().parent.parent
DRY = os.environ.get("DRY_RUN", "") not in ("", "0")
OUT = Path(os.environ.get("OUT") or (ROOT / "runs" / "gpu-out"))
WORK = Path(os.environ.get("WORK") or "/tmp/rtstyle-gpu-run")
BUDGET = float(os.environ.get("BUDGET") or (150 if DRY else 530))
SKIP = set(filter(None, os.environ.get("SKIP", "").split(",")))
PACK_EVERY = float(os.environ.get("PACK_EVERY") or (10 if DRY else 60))
DATA = Path(os.environ.get("RTSTYLE_DATA") or (ROOT.parent / "shared" / "data")) / "content"
TAR_LIMIT = 15 * 2**20
PY = sys.executable
WEIGHTS = ROOT / "rtstyle" / "weights"
TEST_FILES = ["tests/test_backends.py", "tests/test_realtime.py", "tests/test_temporal.py", "tests/test_bench.py",
              "tests/test_gpu_readiness.py"]

# stage ends, seconds from T0 (full run; the dry run scales them to its budget)
PLAN = {"tests": 160, "train": 340, "bench": 430, "pipeline": 475, "quality": 525}
if DRY:   # bench, pipeline, quality take ~10 s each on a CPU whatever the budget; training gets the rest
    PLAN = {"tests": BUDGET - 70, "train": BUDGET - 70, "bench": BUDGET - 45, "pipeline": BUDGET - 25,
            "quality": BUDGET - 2}
elif BUDGET != 530:
    PLAN = {k: v * BUDGET / 530 for k, v in PLAN.items()}

_log_file = None
summary: dict = {"dry_run": DRY, "budget_s": BUDGET, "stages": {}, "started": time.strftime("%Y-%m-%d %H:%M:%S")}


def log(msg: str) -> None:
    line = f"[{time.time() - T0:6.1f}s] {msg}"
    print(line, flush=True)
    _log_file.write(line + "\n")
    _log_file.flush()


def left(stage: str) -> float:
    return PLAN[stage] - (time.time() - T0)


def env_for_children() -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("RTSTYLE_CACHE", str(WORK / "cache"))
    if DRY:
        env["CUDA_VISIBLE_DEVICES"] = ""    # the dry run is the CPU path even on a GPU machine
    return env


def run(cmd: list[str], timeout: float, out_path: Path, name: str, shown: str | None = None) -> int | None:
    """Run ``cmd`` with its output in ``out_path``; the exit code, or None when it timed out."""
    if timeout < 5:
        log(f"{name}: skipped, no time left")
        summary["stages"][name] = {"status": "skipped (no time left)"}
        return None
    t = time.time()
    log(f"{name}: {shown or ' '.join(cmd)} (timeout {timeout:.0f}s)")
    with open(out_path, "w") as fh:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, env=env_for_children(), stdout=fh, stderr=subprocess.STDOUT,
                                timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = None
    summary["stages"][name] = {"status": "timed out" if rc is None else f"exit {rc}",
                               "seconds": round(time.time() - t, 1)}
    log(f"{name}: {summary['stages'][name]['status']} after {time.time() - t:.0f}s")
    return rc


# -- training ------------------------------------------------------------------------------------

def campaign_args(name: str) -> list[str]:
    """The CPU campaign's flags for stage ``name`` (scripts/train_campaign.py PLAN: architecture,
    loss, crops), so the GPU continues the same training and ``--init`` fits."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("train_campaign", ROOT / "scripts" / "train_campaign.py")
    mod = sys.modules.setdefault("train_campaign", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(mod)
    return list(mod.BY_NAME[name].args)


def _set(args: list[str], flag: str, value: str) -> list[str]:
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    return args


def train_commands(minutes: float) -> dict[str, tuple[list[str], Path]]:
    data = ["--data", str(DATA)]
    common = ["--max-minutes", f"{minutes:.2f}"]
    if DRY:
        multi = ["transformer", "--family", "multi", "--style", "mosaic,great_wave", "--width", "8", "--n-res", "1",
                 "--crop", "64", "--style-size", "64", "--batch", "1", "--iters", "400", "--log-every", "4",
                 "--ckpt-every", "4", "--device", "cpu", "--threads", "1"]
        adain = ["adain", "--crop", "64", "--batch", "1", "--iters", "400", "--width-scale", "0.25", "--log-every",
                 "4", "--ckpt-every", "4", "--device", "cpu", "--threads", "1"]
    else:
        # the CPU campaign's stages (same net, loss and crops: the GPU run continues them), a GPU
        # batch, and --iters far beyond what fits: the clock ends the run ("complete": false)
        multi, adain = campaign_args("multi-20"), campaign_args("adain")
        for args in (multi, adain):
            for flag, value in (("--batch", "16"), ("--iters", "100000"), ("--log-every", "50"),
                                ("--ckpt-every", "200"), ("--device", "cuda"), ("--threads", "4")):
                _set(args, flag, value)
        for args, stem in ((multi, "multi-multi"), (adain, "adain-decoder")):
            init = WEIGHTS / f"{stem}.safetensors"
            if init.exists():
                args += ["--init", str(init)]
                names = json.loads(init.with_suffix(".json").read_text()).get("styles")
                if stem == "multi-multi" and names:   # its style rows, in its order (--init checks shapes only)
                    _set(args, "--style", ",".join(names))
    return {
        "multi": ([PY, "-m", "rtstyle.cli", "train", *multi, *data, "--out", str(WORK / "multi"), *common],
                  WORK / "multi"),
        "adain": ([PY, "-m", "rtstyle.cli", "train", *adain, *data, "--out", str(WORK / "adain"), *common],
                  WORK / "adain"),
    }


def _partial_weights(run: Path, stage: Path) -> list[Path]:
    """fp16 safetensors + manifest from ``run``'s last checkpoint (rtstyle.train.snapshot)."""
    sys.path.insert(0, str(ROOT))
    from rtstyle.train.snapshot import snapshot
    dest = stage / run.name
    dest.mkdir(parents=True, exist_ok=True)
    path, _ = snapshot(run, dest, {"snapshot": "last checkpoint of a GPU run in progress (scripts/gpu_run.py)"})
    return [path, path.with_suffix(".json")]


def pack(runs: list[Path], logs: list[Path]) -> None:
    """weights.tar: per run, its weights (final, else from the checkpoint), manifest, losses,
    log tail, newest sample grid; atomically replaced, kept under TAR_LIMIT (grids dropped first)."""
    stage = WORK / "pack"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    must, nice = [], []
    for run in runs:
        if not run.exists():
            continue
        final = list(run.glob("*.safetensors"))
        if final:
            for w in final:
                must += [(w, f"{run.name}/{w.name}"), (w.with_suffix(".json"), f"{run.name}/{w.with_suffix('.json').name}")]
        elif (run / "ckpt.pt").exists():
            try:
                for p in _partial_weights(run, stage):
                    must.append((p, f"{run.name}/{p.name}"))
            except Exception as exc:   # a checkpoint being replaced, an old format: next time
                log(f"pack: {run.name}: no weights from its checkpoint yet ({type(exc).__name__}: {exc})")
        for name in ("losses.csv", "config.json"):
            if (run / name).exists():
                must.append((run / name, f"{run.name}/{name}"))
        for name in ("losses.png",):
            if (run / name).exists():
                nice.append((run / name, f"{run.name}/{name}"))
        grids = sorted(run.glob("samples_*.png"))
        if grids:
            nice.append((grids[-1], f"{run.name}/{grids[-1].name}"))
    for lg in logs:
        if lg.exists():
            tail = lg.read_bytes()[-256 * 1024:]
            p = stage / lg.name
            p.write_bytes(tail)
            must.append((p, f"logs/{lg.name}"))
    total, members = 0, []
    for path, arc in must + nice:
        size = path.stat().st_size
        if total + size + 4096 > TAR_LIMIT:
            log(f"pack: left out {arc} ({size / 2**20:.1f} MiB): the tar would pass {TAR_LIMIT / 2**20:.0f} MiB")
            continue
        total += size + 1024
        members.append((path, arc))
    part = OUT / "weights.tar.part"
    with tarfile.open(part, "w") as tar:
        for path, arc in members:
            tar.add(path, arcname=arc)
    os.replace(part, OUT / "weights.tar")
    n_w = sum(arc.endswith(".safetensors") for _, arc in members)
    log(f"pack: weights.tar {(OUT / 'weights.tar').stat().st_size / 2**20:.2f} MiB, {n_w} weight files")


def stage_tests_and_train() -> None:
    """The trainers and the GPU tests side by side; packs weights.tar every PACK_EVERY s meanwhile."""
    jobs: dict[str, dict] = {}   # name -> {proc, start, deadline, kind}
    runs, logs = [], []
    if "train" not in SKIP:
        if not DATA.is_dir():
            log(f"train: no photos at {DATA} (set RTSTYLE_DATA; ../shared/tools/gpu-kit copies them): skipped")
            summary["stages"]["train"] = {"status": f"skipped (no {DATA})"}
        else:
            minutes = max(0.1, (left("train") - (20 if DRY else 25)) / 60)   # leave the final save its time
            for name, (cmd, rdir) in train_commands(minutes).items():
                lg = WORK / f"train-{name}.log"
                log(f"train {name}: {' '.join(cmd)}")
                jobs[f"train-{name}"] = _start(cmd, lg, PLAN["train"] + (10 if DRY else 40))
                runs.append(rdir)
                logs.append(lg)
    if "tests" not in SKIP:
        cmd = [PY, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "-rs", *TEST_FILES]
        log(f"tests: {' '.join(cmd)} (until {PLAN['tests']:.0f}s)")
        jobs["tests"] = _start(cmd, OUT / "tests.txt", PLAN["tests"])
    last_pack = time.time()
    try:
        while jobs:
            for name, job in list(jobs.items()):
                p = job["proc"]
                if p.poll() is None and time.time() - T0 > job["deadline"]:   # past its stage: stop it
                    p.terminate()
                    try:
                        p.wait(15)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
                    job["status"] = "timed out (stopped at the stage's deadline)"
                if p.poll() is not None:
                    status = job.get("status", f"exit {p.returncode}")
                    summary["stages"][name] = {"status": status, "seconds": round(time.time() - job["start"], 1)}
                    if name == "tests":
                        lines = (OUT / "tests.txt").read_text(errors="replace").strip().splitlines()
                        summary["stages"][name]["result"] = lines[-1] if lines else ""
                        status += f": {summary['stages'][name]['result']}"
                    log(f"{name}: {status} after {time.time() - job['start']:.0f}s")
                    del jobs[name]
            if runs and any(n.startswith("train") for n in jobs) and time.time() - last_pack >= PACK_EVERY:
                pack(runs, logs)
                last_pack = time.time()
            time.sleep(0.5 if DRY else 2)
    finally:
        for job in jobs.values():   # an error here must not leave trainers or tests running
            job["proc"].kill()
    if runs:
        pack(runs, logs)
        for rdir in runs:
            for w in (rdir.glob("*.safetensors") if rdir.exists() else []):
                man = json.loads(w.with_suffix(".json").read_text())
                summary["stages"].setdefault(f"train-{rdir.name}", {}).update(
                    {"weights": w.name, "iterations": man.get("iterations"), "val_loss": man.get("val_loss"),
                     "complete": man.get("complete")})


def _start(cmd: list[str], log_path: Path, deadline: float) -> dict:
    with open(log_path, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env_for_children(), stdout=fh, stderr=subprocess.STDOUT)
    return {"proc": proc, "start": time.time(), "deadline": deadline}


# -- bench and pipeline --------------------------------------------------------------------------

def stage_bench() -> None:
    if DRY:
        args = ["--models", "johnson", "--backends", "torch", "--sizes", "32,48", "--iters", "1", "--min-time", "0"]
    else:
        args = ["--models", "johnson,compact,multi,adain,depth", "--backends", "torch-cuda", "--sizes",
                "256,512,1024", "--iters", "20", "--min-time", "0.4"]
    run([PY, "-m", "rtstyle.cli", "bench", *args, "--json", str(OUT / "bench.json"), "--markdown",
         str(OUT / "bench.md")], left("bench"), WORK / "bench.log", "bench")


PIPELINE_CODE = r"""
import json, sys, time, torch
from rtstyle.pipeline.processors import stylize_frames
from rtstyle.io.sources import pattern_frame
from rtstyle.pipeline.stylizer import Stylizer
backend, sizes, n = sys.argv[1], [tuple(map(int, s.split("x"))) for s in sys.argv[2].split(",")], int(sys.argv[3])
res = {"backend": backend, "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
       "what": "CudaFrameProcessor (pinned in/out rings, upload/compute/download streams) on the shipped "
               "johnson-mosaic net; frames pre-made in memory, written to a null sink: no decode, no encode",
       "sizes": {}}
with Stylizer("mosaic", "johnson", backend=backend) as st:
    for w, h in sizes:
        frames = [pattern_frame(i, w, h) for i in range(8)]
        stylize_frames(iter(frames[:3]), st, lambda rgb: None)   # warm-up: rings, graph
        t = time.perf_counter()
        times = stylize_frames((frames[i % 8] for i in range(n)), st, lambda rgb: None)
        wall = time.perf_counter() - t
        gpu = times.extra.get("gpu_compute")
        res["sizes"][f"{w}x{h}"] = {"frames": times.frames, "wall_s": round(wall, 3),
                                     "fps": round(times.frames / wall, 1),
                                     "gpu_compute_ms_per_frame": None if gpu is None else round(1000 * gpu / n, 2),
                                     "processor": "CudaFrameProcessor" if gpu is not None else "CpuFrameProcessor"}
        print(w, h, res["sizes"][f"{w}x{h}"], flush=True)
json.dump(res, open(sys.argv[4], "w"), indent=2)
"""


def stage_pipeline() -> None:
    backend, sizes, n = ("torch", "128x72,192x108", "6") if DRY else ("torch-cuda", "1280x720,1920x1080", "300")
    run([PY, "-c", PIPELINE_CODE, backend, sizes, n, str(OUT / "pipeline.json")], left("pipeline"),
        WORK / "pipeline.log", "pipeline", shown=f"{'CpuFrameProcessor (dry run)' if DRY else 'CudaFrameProcessor'} fps, {backend}, {sizes}, "
              f"{n} frames each")


QUALITY_STYLES = ["mosaic", "starry_night", "great_wave", "kandinsky_composition_viii", "cafe_terrace_at_night"]
QUALITY_CODE = r"""
import sys
from pathlib import Path
from rtstyle.bench.quality import evaluate, table
iters, size, out = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
photos = sorted(Path("samples").glob("*.jpg"))
out.write_text(f"# rtstyle eval --size {size} --gatys-iters {iters} (default net vs Gatys), per style\n")
for style in sys.argv[4].split(","):
    rows = evaluate(photos, style, None, size, iters)
    with open(out, "a") as f:   # one style at a time: a timeout keeps what is done
        f.write(f"\n## {style}\n\n{table(rows)}\n")
"""


def stage_quality() -> None:
    iters, size, names = ("3", "48", "mosaic") if DRY else ("500", "0", ",".join(QUALITY_STYLES))
    run([PY, "-c", QUALITY_CODE, iters, size, str(OUT / "eval.md"), names], left("quality"), WORK / "quality.log",
        "quality", shown=f"rtstyle eval, Gatys-{iters}, size {size}, styles {names}")


def main() -> int:
    global _log_file
    OUT.mkdir(parents=True, exist_ok=True)
    if WORK.exists():
        keep = {"cache"}
        for p in WORK.iterdir():
            if p.name not in keep:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    WORK.mkdir(parents=True, exist_ok=True)
    _log_file = open(OUT / "log.txt", "w")
    log(f"gpu_run: {'DRY RUN (CPU, tiny)' if DRY else 'GPU run'}; budget {BUDGET:.0f}s; OUT={OUT}; stages end at "
        + ", ".join(f"{k} {v:.0f}s" for k, v in PLAN.items()))
    try:
        import torch
        summary["torch"] = torch.__version__
        summary["cuda"] = torch.cuda.is_available()
        summary["device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
        log(f"torch {torch.__version__}, device {summary['device']}")
        if not DRY and not torch.cuda.is_available():
            log("no CUDA device: this is the GPU command (DRY_RUN=1 runs it on a CPU)")
    except ImportError:
        log("no torch")
    if shutil.which("nvidia-smi"):
        q = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                            "--format=csv,noheader"], capture_output=True, text=True)
        summary["nvidia_smi"] = q.stdout.strip()
        log(f"nvidia-smi: {q.stdout.strip()}")
    try:
        stage_tests_and_train()
        if "bench" not in SKIP:
            stage_bench()
        if "pipeline" not in SKIP:
            stage_pipeline()
        if "quality" not in SKIP:
            stage_quality()
    finally:
        for name in ("bench.log", "pipeline.log", "quality.log"):   # short logs: appended to log.txt
            p = WORK / name
            if p.exists():
                _log_file.write(f"\n==== {name} (tail) ====\n")
                _log_file.write(p.read_text(errors="replace")[-20000:])
        summary["wall_s"] = round(time.time() - T0, 1)
        summary["files"] = {p.name: p.stat().st_size for p in sorted(OUT.iterdir()) if p.is_file()}
        (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        log(f"done in {time.time() - T0:.0f}s; files in {OUT}: "
            + ", ".join(f"{k} {v / 2**20:.2f} MiB" for k, v in summary["files"].items()))
        _log_file.close()
    bad = [k for k, v in summary["stages"].items() if not str(v.get("status", "")).startswith(("exit 0", "skipped"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
