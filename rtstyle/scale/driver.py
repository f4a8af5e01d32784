"""Driver of ``rtstyle batch``: plan segments, run them as Ray tasks, retry, join, resume.

Work for one video lives in ``OUT_DIR/.rtstyle-work/<key>/`` (key = the video's fingerprint and
the style settings): one mp4 per finished segment, each renamed into place only when complete,
so a killed worker or driver loses at most the segments in flight. A rerun skips finished
outputs and reuses finished segments; the folder is removed once the video is joined.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from . import plan
from .worker import CRASH_ONCE_ENV, PASS_ENV, Progress, SegmentJob, StyleSettings, stylize_segment

WORK_DIR = ".rtstyle-work"
GPU_BACKENDS = ("auto", "tensorrt", "torch-cuda", "cuda")


@dataclass
class _Video:
    src: Path
    dst: Path
    work: Path
    fps: object
    jobs: list[SegmentJob]
    done: set = field(default_factory=set)  # indices of finished segments

    @property
    def frames(self) -> int:
        return sum(j.frames for j in self.jobs)


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise UserError("rtstyle batch needs Ray, which is not installed; pip install 'rtstyle[ray]'",
                        exit_code=1) from exc
    return ray


def connect(ray, address: str | None, num_cpus: int) -> bool:
    """Join the cluster at ``address`` ('auto', 'host:port', 'ray://host:port'), or start a local
    Ray instance with ``num_cpus`` when it is None. True when this call started/joined Ray (and
    should shut it down); False when Ray was already initialised by the caller."""
    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        ray.init(num_cpus=num_cpus, include_dashboard=False, **quiet)
        return True
    _check_reachable(address)
    try:
        ray.init(address=address, **quiet)
    except Exception as exc:  # ConnectionError, grpc/timeout errors, missing ray[client], ...
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(f"cannot connect to the Ray cluster at {address!r} ({why}); check that 'ray start "
                        f"--head' runs there, the host and port (Ray Client: ray://HOST:10001) and, on Ray "
                        f">= 2.59, the cluster's token (RAY_AUTH_TOKEN); or leave out --address to run here",
                        exit_code=1) from exc
    return True


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a HOST:PORT that nothing answers on: ray.init would retry for minutes."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if address == "auto" or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UserError(f"cannot connect to the Ray cluster at {address!r}: nothing answers on {hostport} "
                        f"({exc.strerror or type(exc).__name__}); check that 'ray start --head' runs there and "
                        f"the port is open (GCS: 6379, Ray Client: ray://HOST:10001)", exit_code=1) from exc


def worker_options(ray, backend: str, workers: int | None, cpus_per_worker: int | None):
    """(workers, Ray task options, torch threads per worker) for the cluster Ray is connected to:
    one worker per GPU when the cluster has GPUs and the backend can use them, else CPU workers."""
    res = ray.cluster_resources()
    gpus, cpus = int(res.get("GPU", 0)), max(1, int(res.get("CPU", 1)))
    if gpus and backend in GPU_BACKENDS:
        cpw = cpus_per_worker or max(1, min(4, cpus // gpus))
        return workers or gpus, {"num_gpus": 1, "num_cpus": cpw}, cpw
    if cpus_per_worker is None:
        cpus_per_worker = max(1, cpus // workers) if workers else 1
    return workers or max(1, cpus // cpus_per_worker), {"num_cpus": cpus_per_worker}, cpus_per_worker


def _outputs(inputs: list[Path], out_dir: Path) -> list[Path]:
    from ..files import check_input
    outs: dict[Path, Path] = {}
    for src in inputs:
        check_input(src)
        dst = out_dir / f"{src.stem}.mp4"
        if dst in outs:
            raise UserError(f"inputs {outs[dst]} and {src} would both be written to {dst}; "
                            f"rename one or run them with different --out-dir")
        if dst.exists() and os.path.samefile(src, dst):
            raise UserError(f"input {src} is its own output {dst}; choose another --out-dir")
        outs[dst] = src
    return list(outs)


def _plan_video(src: Path, dst: Path, out_dir: Path, key_settings: dict, settings: StyleSettings,
                seconds: float, min_segments: int, log) -> _Video:
    from ..io.video import probe
    from ..sizes import target_size
    info = probe(src)
    index = plan.scan(src)
    if index.frames == 0:
        raise UserError(f"{src} has no video frames; give a video with at least one frame")
    out_size = target_size(info.width, info.height, settings.size, settings.scale)
    key = plan.work_key(src, {**key_settings, "out": out_size})
    work = out_dir / WORK_DIR / key
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob(".*.part.*"):  # temporary files of writers that were killed
        stale.unlink(missing_ok=True)
    if index.pts is None:
        ranges = [(0, index.frames)]
        log(f"{src.name}: no usable timestamps; processed as one segment")
    else:
        ranges = plan.plan_segments(index.frames, index.keyframes, info.fps, seconds, min_segments)
    crash = os.environ.get(CRASH_ONCE_ENV)
    jobs = []
    for i, (a, b) in enumerate(ranges):
        pts = index.pts
        jobs.append(SegmentJob(src=str(src.resolve()), out=str((work / plan.segment_name(a, b)).resolve()),
                               index=i, start=a, end=b, start_pts=pts[a] if pts else None,
                               end_pts=pts[b] if pts and b < len(pts) else None, fps=info.fps,
                               out_size=out_size, settings=settings, crash_flag=crash))
    v = _Video(src, dst, work, info.fps, jobs, {j.index for j in jobs if Path(j.out).is_file()})
    on_keys = sum(1 for a, _ in ranges if a in set(index.keyframes))
    log(f"{src.name}: {index.frames} frames, {len(index.keyframes)} keyframes -> {len(jobs)} segments "
        f"({on_keys} start on a keyframe; {len(v.done)} already done, in {work})")
    return v


def _short(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0][:200]
    return f"{type(cause).__name__}: {first}"


def run_batch(inputs, out_dir, style: str, family=None, backend="auto", size=None, scale=None,
              strength=1.0, address=None, workers=None, cpus_per_worker=None, segment_seconds=10.0,
              retries=2, overwrite=False, keep_work=False, progress=True, log=print,
              preserve_color: bool = False) -> list[Path]:
    """Stylize each video of ``inputs`` to ``out_dir/<stem>.mp4`` on Ray; returns the outputs."""
    from .. import styles
    if segment_seconds <= 0:
        raise UserError(f"--segment-seconds {segment_seconds} must be > 0 (e.g. 10)")
    if workers is not None and workers < 1:
        raise UserError(f"--workers {workers} must be at least 1")
    if retries < 0:
        raise UserError(f"--retries {retries} must be 0 or more")
    ray = import_ray()
    inputs, out_dir = [Path(p) for p in inputs], Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out-dir {out_dir} ({exc.strerror}); choose a writable folder") from exc
    outs = _outputs(inputs, out_dir)
    todo = []
    for src, dst in zip(inputs, outs):
        if dst.exists() and not overwrite:
            log(f"skip {src.name}: {dst} exists (--overwrite redoes it)")
        else:
            todo.append((src, dst))
    if not todo:
        return outs
    entry = styles.choose(style, family)
    stat = entry.path.stat()
    key_settings = {"style": style, "family": entry.family, "weights": [entry.path.name, stat.st_size,
                    stat.st_mtime_ns], "backend": backend, "size": size, "scale": scale,
                    "strength": strength, "crf": 20, **({"preserve_color": True} if preserve_color else {})}
    started = connect(ray, address, num_cpus=max(os.cpu_count() or 1, workers or 1))
    try:
        workers, options, threads = worker_options(ray, backend, workers, cpus_per_worker)
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        settings = StyleSettings(style, entry.family, backend, size, scale, strength, threads, env, preserve_color)
        min_segments = workers if len(todo) < workers else 1
        videos = [_plan_video(src, dst, out_dir, key_settings, settings, segment_seconds, min_segments, log)
                  for src, dst in todo]
        log(f"{workers} workers ({', '.join(f'{k}={v}' for k, v in options.items())} each)")
        _run(ray, videos, workers, options, retries, progress, log)
        for v in videos:
            if not keep_work:
                shutil.rmtree(v.work, ignore_errors=True)
    finally:
        if started:
            ray.shutdown()
    try:
        (out_dir / WORK_DIR).rmdir()  # only when empty
    except OSError:
        pass
    return outs


def _run(ray, videos: list[_Video], workers: int, options: dict, retries: int, progress: bool, log) -> None:
    from tqdm import tqdm

    from .join import join_segments
    task = ray.remote(max_retries=0, max_calls=0, **options)(stylize_segment)
    tracker = ray.remote(num_cpus=0)(Progress).remote()
    pending = deque((v, j, 1) for v in videos for j in v.jobs if j.index not in v.done)
    total_segments = sum(len(v.jobs) for v in videos)
    reused = sum(j.frames for v in videos for j in v.jobs if j.index in v.done)
    bar = tqdm(total=sum(v.frames for v in videos), initial=reused, unit="frame", desc="batch",
               disable=not progress, dynamic_ncols=True)

    def say(msg: str) -> None:  # above the progress bar, not through it
        with tqdm.external_write_mode():
            log(msg)

    running: dict = {}
    failed: UserError | None = None  # set when a segment is out of retries: drain, then raise
    t0, computed, busy, cpu = time.perf_counter(), 0, 0.0, 0.0  # busy/cpu: wall/CPU s in finished tasks
    # Joins run beside the dispatch loop, so workers get new segments while a video is remuxed.
    joiner, joins = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtstyle-join"), []
    try:
        for v in videos:
            if len(v.done) == len(v.jobs):
                joins.append(joiner.submit(_join, v, join_segments, say))
        while running or (pending and failed is None):
            while pending and failed is None and len(running) < workers:
                v, job, attempt = pending.popleft()
                running[task.remote(job, tracker)] = (v, job, attempt)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in ready:
                v, job, attempt = running.pop(ref)
                try:
                    result = ray.get(ref)
                except UserError as exc:  # the worker's own UserError: retrying cannot help
                    cause = getattr(exc, "cause", exc)
                    failed = failed or UserError(str(cause), getattr(cause, "exit_code", 2))
                    continue
                except ray.exceptions.RayError as exc:
                    tracker.report.remote(job.out, 0)
                    if attempt > retries:
                        failed = failed or UserError(
                            f"segment {job.index + 1}/{len(v.jobs)} (frames {job.start}-{job.end}) of {v.src} "
                            f"failed after {attempt} attempt{'s' if attempt > 1 else ''} ({_short(exc)}); "
                            f"finished segments are kept in {v.work}: rerun to resume", exit_code=1)
                        continue
                    say(f"segment {job.index + 1}/{len(v.jobs)} of {v.src.name} failed ({_short(exc)}); "
                        f"retry {attempt}/{retries}")
                    pending.appendleft((v, job, attempt + 1))
                    continue
                v.done.add(job.index)
                computed += job.frames
                busy, cpu = busy + result["seconds"], cpu + result["cpu_seconds"]
                if len(v.done) == len(v.jobs) and failed is None:
                    joins.append(joiner.submit(_join, v, join_segments, say))
            bar.set_postfix_str(f"segments {sum(len(v.done) for v in videos)}/{total_segments}", refresh=False)
            bar.update(reused + ray.get(tracker.total.remote()) - bar.n)
        for f in joins:
            f.result()  # re-raises a join's error
    except BaseException:  # Ctrl-C or a failed join: stop the cluster's work now
        for ref in running:
            ray.cancel(ref, force=True)
        raise
    finally:
        joiner.shutdown(wait=True)
        bar.close()
    if failed is not None:
        raise failed
    wall = time.perf_counter() - t0
    say(f"stylized {computed} frames in {wall:.1f} s ({computed / wall if wall else 0:.1f} frames/s) on "
        f"{workers} workers; segment tasks: {busy:.1f} s ({busy / wall if wall else 0:.1f} running on average), "
        f"{cpu:.1f} CPU s ({1000 * cpu / max(computed, 1):.0f} ms per frame)")


def _join(v: _Video, join_segments, log) -> None:
    t = time.perf_counter()
    parts = [Path(j.out) for j in v.jobs]
    how = join_segments(parts, [j.frames for j in v.jobs], v.dst, v.fps, audio_from=v.src)
    log(f"wrote {v.dst} ({v.frames} frames; {how} join of {len(parts)} segments in "
        f"{time.perf_counter() - t:.2f} s)")
