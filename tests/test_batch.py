"""rtstyle batch: keyframe segment plans, exact range decoding, and Ray runs on a local 2-CPU
instance (split/join equals `rtstyle video`, a killed worker is retried, reruns resume)."""

import logging
import sys

import av
import numpy as np
import pytest
import torch
from conftest import make_video

from rtstyle import cli
from rtstyle.weights import save_weights
from rtstyle.errors import UserError
from rtstyle.io.video import VideoReader
from rtstyle.models.transformer import JohnsonNet
from rtstyle.scale import plan
from rtstyle.scale.worker import CRASH_ONCE_ENV, read_range

CLIP_FRAMES, CLIP_FPS, CLIP_GOP = 48, 12, 6


def make_gop_clip(path, frames=CLIP_FRAMES, fps=CLIP_FPS, gop=CLIP_GOP):
    """64x48 H.264 with a keyframe every ``gop`` frames (B-frames on) and a 1 kHz AAC tone."""
    return make_video(path, frames=frames, fps=fps, faststart=False,
                      x264={"preset": "veryfast", "g": str(gop), "keyint_min": str(gop)})


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_gop_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """A tiny untrained net for 'mosaic' (test-only; exercises the plumbing, not the style)."""
    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    save_weights(JohnsonNet(width=4, n_res=1), d / "johnson-mosaic.safetensors",
                 {"family": "johnson", "styles": ["mosaic"], "config": {"width": 4, "n_res": 1}})
    return d


@pytest.fixture
def tiny_weights(weights_dir, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RTSTYLE_WEIGHTS", str(weights_dir))
    monkeypatch.setenv("RTSTYLE_CACHE", str(weights_dir / "cache"))
    monkeypatch.delenv(CRASH_ONCE_ENV, raising=False)
    return weights_dir


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance with 2 CPUs for every Ray test here (starting one takes seconds)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def decoded(path):
    """(frames, video pts list, fps, audio packet (pts, size) list) of a video file."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        pts = sorted(p.pts for p in c.demux(v) if p.size)
        fps = v.average_rate
    with av.open(str(path)) as c:
        audio = [(p.pts, p.size) for p in c.demux(audio=0) if p.size] if c.streams.audio else []
    return [f for f, _ in VideoReader(path)], pts, fps, audio


def batch(src, out_dir, **kw):
    from rtstyle.scale.driver import run_batch
    lines = []
    kw = {"workers": 2, "segment_seconds": 1.0, "backend": "torch", "progress": False, **kw}
    run_batch([src], out_dir, "mosaic", log=lines.append, **kw)
    return "\n".join(lines)


# -- planning and exact ranges (no Ray) ------------------------------------------------------------

def test_scan_finds_every_frame_and_keyframe(clip):
    index = plan.scan(clip)
    assert index.frames == CLIP_FRAMES and len(index.pts) == CLIP_FRAMES
    assert index.keyframes == list(range(0, CLIP_FRAMES, CLIP_GOP))


def test_segments_cut_on_keyframes_and_cover_every_frame_once():
    keys = list(range(0, 48, 6))
    segs = plan.plan_segments(48, keys, 12, seconds=1.0)
    assert segs == [(0, 12), (12, 24), (24, 36), (36, 48)]
    # keyframes too sparse for 2 workers (bunny_4s: keyframes at 0 and 71): cut inside the GOP
    segs = plan.plan_segments(96, [0, 71], 24, seconds=10.0, min_segments=2)
    assert segs == [(0, 48), (48, 96)]
    for n, keys, secs, k in [(1, [0], 10, 4), (97, [0, 30, 33, 90], 1.0, 1), (250, [], 0.5, 3)]:
        segs = plan.plan_segments(n, keys, 24, secs, k)
        flat = [i for a, b in segs for i in range(a, b)]
        assert flat == list(range(n)) and all(b > a for a, b in segs)


def test_read_range_decodes_exactly_its_frames(clip):
    index = plan.scan(clip)
    full = [f for f, _ in VideoReader(clip)]
    for a, b in [(0, 12), (12, 24), (7, 20), (47, 48)]:  # on keyframes and inside a GOP
        end_pts = index.pts[b] if b < index.frames else None
        got = list(read_range(clip, index.pts[a], end_pts, b - a))
        assert len(got) == b - a and all(np.array_equal(x, y) for x, y in zip(got, full[a:b]))


def test_batch_without_ray_says_how_to_install(tmp_path, clip, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    code = cli.main(["batch", str(clip), "--out-dir", str(tmp_path), "--style", "mosaic"])
    err = capsys.readouterr().err
    assert code == 1 and "pip install 'rtstyle[ray]'" in err and len(err.strip().splitlines()) == 1


def test_batch_missing_input_and_bad_address(tmp_path, clip, capsys):
    pytest.importorskip("ray")
    code = cli.main(["batch", str(tmp_path / "nope.mp4"), "--out-dir", str(tmp_path), "--style", "mosaic"])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    from rtstyle.scale.driver import connect
    import ray
    if ray.is_initialized():
        pytest.skip("Ray already initialised in this process")
    with pytest.raises(UserError, match="cannot connect to the Ray cluster at '127.0.0.1:1'"):
        connect(ray, "127.0.0.1:1", 1)


# -- Ray runs (local instance, 2 CPU workers) -------------------------------------------------------

def test_batch_equals_single_machine_run_and_rerun_skips(tmp_path, clip, tiny_weights, ray_local):
    from rtstyle.pipeline.jobs import stylize_video
    log = batch(clip, tmp_path / "out")
    assert "-> 4 segments (4 start on a keyframe" in log and "remux join" in log
    out = tmp_path / "out" / "clip.mp4"
    assert not (tmp_path / "out" / ".rtstyle-work").exists()  # work folder removed once joined
    ref = tmp_path / "ref.mp4"
    stylize_video(clip, ref, "mosaic", backend="torch", progress=False, log=lambda *a: None)
    frames, pts, fps, audio = decoded(out)
    ref_frames, ref_pts, ref_fps, ref_audio = decoded(ref)
    assert len(frames) == len(ref_frames) == CLIP_FRAMES
    assert fps == ref_fps == CLIP_FPS and pts == ref_pts  # continuous timestamps, same rate
    assert audio and audio == ref_audio  # the same audio packets, cut at the same place
    diffs = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames, ref_frames)]
    assert max(diffs) < 6, diffs  # same stylized pixels up to H.264 (crf 20) differences
    mtime = out.stat().st_mtime_ns
    assert "skip clip.mp4" in batch(clip, tmp_path / "out") and out.stat().st_mtime_ns == mtime


def test_killed_worker_is_retried(tmp_path, clip, tiny_weights, ray_local, monkeypatch):
    flag = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ONCE_ENV, str(flag))
    log = batch(clip, tmp_path / "out", retries=1)
    assert flag.exists() and "WorkerCrashedError" in log and "retry 1/1" in log
    frames, pts, _, audio = decoded(tmp_path / "out" / "clip.mp4")
    assert len(frames) == CLIP_FRAMES and len(set(pts)) == CLIP_FRAMES and audio


def test_failed_run_keeps_finished_segments_and_rerun_resumes(tmp_path, clip, tiny_weights, ray_local,
                                                              monkeypatch):
    monkeypatch.setenv(CRASH_ONCE_ENV, str(tmp_path / "crashed"))
    with pytest.raises(UserError, match="failed after 1 attempt .*rerun to resume"):
        batch(clip, tmp_path / "out", retries=0)
    assert not (tmp_path / "out" / "clip.mp4").exists()
    kept = list((tmp_path / "out" / ".rtstyle-work").glob("*/seg-*.mp4"))
    assert kept  # the segment in flight on the other worker was finished and kept
    monkeypatch.delenv(CRASH_ONCE_ENV)
    log = batch(clip, tmp_path / "out")
    assert f"{len(kept)} already done" in log
    assert len(decoded(tmp_path / "out" / "clip.mp4")[0]) == CLIP_FRAMES
