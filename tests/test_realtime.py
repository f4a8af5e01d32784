"""Live mode: drop-stale pipeline, latency, style switching, the webcam command, the CUDA path."""
import time

import numpy as np
import pytest
import torch

from conftest import TINY_H, TINY_W, tiny_frame
from rtstyle import cli
from rtstyle.pipeline import processors as gpu_pipeline
from rtstyle.pipeline import loop as pipeline
from rtstyle.io.sinks import NullSink, Sink
from rtstyle.io.camera import SimulatedCamera
from rtstyle.io.sources import PatternSource, pattern_frame, read_counter
from rtstyle.pipeline.live import StyleCycle, run_live

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _slow(seconds, fn=lambda x: x):
    def f(x):
        time.sleep(seconds)
        return fn(x)
    return f


class SlowSink(Sink):
    """Records what it shows (counter, latency) and takes ``seconds`` per frame."""

    def __init__(self, seconds=0.0, actions=()):
        self.seconds, self.shown, self._actions = seconds, [], list(actions)

    def write(self, rgb, t=None):
        time.sleep(self.seconds)
        self.shown.append((read_counter(rgb), None if t is None else time.perf_counter() - t))
        return time.perf_counter()

    def actions(self):
        out, self._actions = self._actions[:1], self._actions[1:]
        return out


# -- pipeline: drop-stale mode -----------------------------------------------------------------

def test_drop_stale_keeps_order_end_and_counts_drops():
    dropped = []
    out = []
    times = pipeline.run(range(200), _slow(0.002), out.append, drop_stale=True, on_drop=dropped.append)
    assert out == sorted(out) and out[-1] == 199, "order kept and the last frame (before the end) shown"
    assert times.extra["dropped_in"] + times.extra["dropped_out"] + len(out) == 200
    assert times.extra["dropped_in"] > 0 and len(dropped) == times.extra["dropped_out"]


def test_file_mode_never_drops():
    out = []
    times = pipeline.run(range(50), _slow(0.001), out.append)
    assert out == list(range(50)) and "dropped_in" not in times.extra


# -- run_live ----------------------------------------------------------------------------------

def test_live_throughput_follows_slowest_stage():
    # camera 100 fps, stylize 40 ms, display 30 ms: serial would be 70 ms/frame (14 fps),
    # overlapped stages 40 ms/frame (25 fps).
    sink = SlowSink(0.03)
    with SimulatedCamera("pattern", fps=100, size=(TINY_W, TINY_H)) as cam:
        stats = run_live(cam, _slow(0.04), sink, max_frames=25, log=lambda s: None)
    assert stats.shown == 25
    assert stats.fps > 19, f"{stats.fps:.1f} fps: stages do not overlap"
    assert stats.times.process / stats.times.frames == pytest.approx(0.04, rel=0.5)


def test_live_mode_drops_stale_frames_and_latency_stays_flat():
    sink = SlowSink()
    with SimulatedCamera("pattern", fps=60, size=(TINY_W, TINY_H)) as cam:
        stats = run_live(cam, _slow(0.05), sink, max_frames=20, log=lambda s: None)
    counters = [c for c, _ in sink.shown]
    assert counters == sorted(counters) and len(set(counters)) == 20
    assert counters[-1] - counters[0] > 30, "slow processing must skip frames, not queue them"
    assert stats.dropped > 10 and stats.captured >= stats.shown + stats.dropped - 2
    lat = [l for _, l in sink.shown]
    # A backlog would grow the latency by ~33 ms per frame (60 fps in, ~20 fps out); dropping
    # keeps it near process + one frame interval.
    assert max(lat[-5:]) < 0.25, f"latency grows: {[round(x * 1000) for x in lat]} ms"
    assert len(stats.latency) == 20 and 30 < stats.latency_ms(0.5) < 250


def test_live_stats_summary():
    with SimulatedCamera("pattern", fps=60, size=(TINY_W, TINY_H)) as cam:
        stats = run_live(cam, lambda x: x, NullSink(), max_frames=5, log=lambda s: None)
    text = stats.summary()
    assert "5 frames shown" in text and "latency: p50" in text and "per frame: process" in text
    d = stats.as_dict()
    assert d["shown"] == 5 and d["latency_ms"]["p50"] >= 0


def test_file_source_in_live_loop_has_no_latency_and_every_frame():
    sink = SlowSink()
    stats = run_live(PatternSource((TINY_W, TINY_H), frames=12), lambda x: x, sink, drop_stale=False,
                     log=lambda s: None)
    assert [c for c, _ in sink.shown] == list(range(12)) and stats.latency == []


def test_keys_switch_styles_strength_depth_and_quit():
    built = []

    class Fake:
        def __init__(self, name):
            self.style, self.strength, self.preserve_color = name, 1.0, False
            built.append(name)

        def frame(self, rgb):
            return rgb

    logs = []
    sink = SlowSink(actions=["next", "weaker", "color", "next", "depth", "prev", "quit"])
    cycle = StyleCycle(["a", "b"], Fake)
    with SimulatedCamera("pattern", fps=200, size=(16, 16)) as cam:
        stats = run_live(cam, cycle, sink, log=logs.append)
    assert built == ["a", "b"], "each style built once, on first use"
    assert cycle.name == "b" and cycle.strength == 0.9 and cycle.current.strength == 0.9
    assert cycle.preserve_color is True and cycle.current.preserve_color is True   # c: kept across styles
    assert any("cannot turn depth on" in line and "no depth network" in line for line in logs)
    assert stats.shown >= 5


def test_depth_key_toggles_one_shared_modulator_and_closes_it_once():
    class Fake:
        def __init__(self, name):
            self.style, self.strength, self.depth, self.closed = name, 1.0, None, 0

        def frame(self, rgb):
            return rgb

        def close(self):
            assert self.depth is None, "the cycle owns the shared depth modulator"
            self.closed += 1

    class Mod:
        resets = closes = 0

        def reset(self):
            Mod.resets += 1

        def close(self):
            Mod.closes += 1

    made = []
    cycle = StyleCycle(["a", "b"], Fake, depth=lambda: made.append(Mod()) or made[-1])
    assert cycle.current.depth is None and made == []          # built on first use only
    assert cycle.toggle_depth() is True and cycle.current.depth is made[0]
    cycle.step(1)
    assert cycle.current.depth is made[0]                      # the next style shares it
    assert cycle.toggle_depth() is False and cycle.current.depth is None
    assert cycle.toggle_depth() is True and len(made) == 1     # built once
    stylizers = list(cycle._built.values())
    cycle.close()
    assert Mod.closes == 1 and all(st.closed == 1 for st in stylizers)


def test_multi_style_switch_changes_only_the_style_vector(tiny_weights):
    from rtstyle import styles
    from rtstyle.pipeline.stylizer import Stylizer
    made = []

    def make(name):
        made.append(name)
        return Stylizer(name, None, "torch")

    cycle = StyleCycle(["great_wave", "poppies"], make, key=lambda n: styles.choose(n).path)
    rgb = tiny_frame(3)
    with cycle:
        st = cycle.current
        a = cycle.current.frame(rgb)
        cycle.step(1)
        assert cycle.current is st and made == ["great_wave"], "the multi net must not be rebuilt"
        assert st.extra["style"].tolist() == [[0.0, 1.0]]
        b = cycle.current.frame(rgb)
        cycle.step(1)
        assert st.extra["style"].tolist() == [[1.0, 0.0]]
        assert np.array_equal(cycle.current.frame(rgb), a) and not np.array_equal(a, b)
        with pytest.raises(Exception, match="cannot paint 'mosaic'"):
            st.set_style("mosaic")


# -- CPU conversions match Stylizer.frame, so the GPU path can be held to the same ------------------

def test_gpu_path_conversions_match_cpu_frame(tiny_weights):
    import cv2
    from rtstyle.pipeline.stylizer import Stylizer
    rgb = pattern_frame(4, 64, 48)
    with Stylizer("mosaic", backend="torch") as st, torch.inference_mode():
        got = gpu_pipeline.to_uint8(st.tensor(gpu_pipeline.to_input(torch.from_numpy(rgb), torch.float32))).numpy()
        assert np.array_equal(got, st.frame(rgb))
    # resizing on the GPU: torch's area / bilinear vs OpenCV's INTER_AREA / INTER_LINEAR
    for (w, h), interp in (((32, 24), cv2.INTER_AREA), ((96, 72), cv2.INTER_LINEAR), ((40, 30), cv2.INTER_AREA)):
        want = cv2.resize(rgb, (w, h), interpolation=interp).astype(int)
        x = gpu_pipeline.to_input(torch.from_numpy(rgb), torch.float32, (w, h))
        got = gpu_pipeline.to_uint8(x).numpy().astype(int)
        assert got.shape == want.shape and np.abs(got - want).max() <= 1, (w, h)


def test_gpu_path_paints_at_the_stroke_scales_working_size_as_the_cpu_frame(tiny_weights):
    """CudaFrameProcessor's steps (to_input at the working size, the net, resize_tensor to the
    output size) give Stylizer.frame's picture when the stroke scale makes the net paint smaller."""
    from rtstyle.pipeline.stylizer import Stylizer
    rgb = pattern_frame(4, 64, 48)
    with Stylizer("mosaic", backend="torch", style_scale=2.0) as st, torch.inference_mode():
        st.train_short = 24              # as if trained on 24-px photos: paints at 2·24/2 = 24 px short side
        out, work = st.sizes(64, 48)
        assert out == (64, 48) and work == (32, 24)
        want = st.frame(rgb)
        x = gpu_pipeline.to_input(torch.from_numpy(rgb), torch.float32, work)
        got = gpu_pipeline.to_uint8(gpu_pipeline.resize_tensor(st.tensor(x), out)).numpy()
    assert got.shape == want.shape == (48, 64, 3)
    diff = np.abs(got.astype(int) - want.astype(int))
    # frame quantises before its resize and OpenCV's uint8 bilinear is fixed-point: a level or two
    assert diff.max() <= 2 and diff.mean() < 0.5


def test_stylize_frames_on_cpu_keeps_order(tiny_weights):
    from rtstyle.pipeline.stylizer import Stylizer
    frames = [tiny_frame(i) for i in range(6)]
    out = []
    with Stylizer("mosaic", backend="torch") as st:
        times = gpu_pipeline.stylize_frames(iter(frames), st, out.append)
        assert all(np.array_equal(o, st.frame(f)) for o, f in zip(out, frames))
    assert times.frames == 6 and "gpu_compute" not in times.extra
    assert gpu_pipeline.video_codec(st, 64, 48, 12) == "libx264"


# -- the webcam command ------------------------------------------------------------------------

def test_webcam_cli_simulated_no_display_prints_stats(capsys, tiny_weights):
    code = cli.main(["webcam", "--style", "mosaic", "--simulate", "pattern", "--size", "64x48", "--fps", "60",
                     "--no-display", "--max-frames", "6", "--stats", "--backend", "torch"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "6 frames shown" in out and "capture-to-display latency" in out and "per frame:" in out


def test_webcam_cli_one_line_errors(capsys, tiny_weights):
    assert cli.main(["webcam", "--style", "mosaic", "--depth", "--depth-model", "full", "--simulate", "pattern",
                     "--no-display", "--backend", "torch"]) == 2
    err = capsys.readouterr().err
    assert "no trained depth weights of variant 'full'" in err and err.count("\n") == 1
    assert cli.main(["webcam", "--style", "mosaic", "--camera", "57", "--no-display", "--backend", "torch"]) == 2
    err = capsys.readouterr().err
    assert "camera 57" in err and "--camera" in err and err.count("\n") == 1
    assert cli.main(["webcam", "--style", "mosiac", "--simulate", "pattern"]) == 2
    assert "did you mean 'mosaic'" in capsys.readouterr().err


# -- CUDA path (run on a GPU machine) ----------------------------------------------------------

def _nearest(out: np.ndarray, refs: list[np.ndarray]) -> tuple[int, float, float]:
    """(index of the closest reference, its mean |diff|, the runner-up's)."""
    d = sorted((float(np.abs(out.astype(int) - r).mean()), i) for i, r in enumerate(refs))
    return d[0][1], d[0][0], d[1][0]


def _distinct_refs(cpu, frames) -> list[np.ndarray]:
    """CPU (fp32) outputs of ``frames``, checked to be far apart (> 10 levels mean), so a
    reordered, repeated or stale GPU frame cannot pass for the right one within fp16's tolerance.
    The shipped (trained) johnson-mosaic net, named on both sides (left to choose, the CPU takes
    the lite net, the GPU the johnson one); an untrained tiny net maps every frame within ~1 level."""
    refs = [cpu.frame(f).astype(int) for f in frames]
    gaps = [np.abs(a - b).mean() for i, a in enumerate(refs) for b in refs[i + 1:]]
    assert min(gaps) > 10, min(gaps)
    return refs


@pytest.mark.gpu
@cuda
def test_cuda_pipeline_matches_cpu_within_fp16():
    from rtstyle.pipeline.stylizer import Stylizer
    frames = [pattern_frame(i, 128, 96) for i in range(10)]
    with Stylizer("mosaic", "johnson", backend="torch") as cpu, \
            Stylizer("mosaic", "johnson", backend="torch-cuda") as gpu:
        refs = _distinct_refs(cpu, frames)
        out = []
        times = gpu_pipeline.stylize_frames(iter(frames), gpu, lambda rgb: out.append(rgb.copy()))
        assert times.extra["gpu_compute"] > 0
    assert len(out) == len(frames)
    for i, o in enumerate(out):
        d = np.abs(o.astype(int) - refs[i])
        assert d.max() <= 16 and d.mean() < 1.5, (i, d.max(), d.mean())   # fp16 vs fp32
        assert _nearest(o, refs)[0] == i


@pytest.mark.gpu
@cuda
def test_cuda_pipeline_keeps_order_exactly_through_replayed_graphs(monkeypatch):
    """Every frame through the net (strength 1) and a CUDA graph replay, with a slow sink so the
    out-ring wraps many times: each output is its own frame's, none stale or swapped."""
    from rtstyle.pipeline.stylizer import Stylizer
    replays = [0]
    real_replay = torch.cuda.CUDAGraph.replay

    def counting_replay(self):
        replays[0] += 1
        return real_replay(self)

    monkeypatch.setattr(torch.cuda.CUDAGraph, "replay", counting_replay)
    frames = [pattern_frame(i, 128, 96) for i in range(40)]
    with Stylizer("mosaic", "johnson", backend="torch") as cpu, \
            Stylizer("mosaic", "johnson", backend="torch-cuda") as st:
        refs = _distinct_refs(cpu, frames)
        out = []
        slow_sink = _slow(0.002, lambda rgb: out.append(rgb.copy()))
        gpu_pipeline.stylize_frames(iter(frames), st, slow_sink, depth=2)
        assert st.backend.cuda_graphs and len(st.backend._graphs) == 1   # captured once for the shape
    assert replays[0] >= len(frames)
    assert [_nearest(o, refs)[0] for o in out] == list(range(40))


@pytest.mark.gpu
@cuda
def test_cuda_pipeline_resizes_on_gpu_and_live_mode_releases_buffers(tiny_weights):
    from rtstyle.pipeline.stylizer import Stylizer
    with Stylizer("mosaic", backend="torch-cuda", scale=0.5) as st:
        proc = gpu_pipeline.make_processor(st, depth=2)
        assert isinstance(proc, gpu_pipeline.CudaFrameProcessor)
        ps = [proc.submit(tiny_frame(i)) for i in range(proc.n_out)]  # every out-slot in use
        assert ps[0].wait().shape == (TINY_H // 2, TINY_W // 2, 3)
        for p in ps:
            p.release()
        with SimulatedCamera("pattern", fps=120, size=(256, 144)) as cam:
            stats = run_live(cam, st, SlowSink(0.02), max_frames=30, log=lambda s: None)
        assert stats.shown == 30 and stats.gpu_compute > 0
        proc.close()


def test_webcam_cli_with_depth_runs_the_shipped_depth_net(capsys, tiny_weights):
    code = cli.main(["webcam", "--style", "mosaic", "--depth", "--depth-every", "2", "--simulate", "pattern",
                     "--size", "64x48", "--fps", "60", "--no-display", "--max-frames", "4", "--backend", "torch"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 frames" in out
