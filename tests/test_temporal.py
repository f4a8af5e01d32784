"""Temporal stability: flow, warping, occlusion, the warping error, and the --smooth stabiliser."""
import cv2
import numpy as np
import pytest
import torch

from rtstyle import cli
from rtstyle.pipeline import processors as gpu_pipeline
from rtstyle.pipeline import temporal
from rtstyle.errors import UserError


def texture(h=160, w=240, seed=0) -> np.ndarray:
    """(h, w, 3) uint8 smooth random texture (blurred noise, stretched to the full range)."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.uint8), (0, 0), 2)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)


def panning(frames=8, step=2, h=96, w=128, seed=0) -> list[np.ndarray]:
    """A camera panning right over a texture: frame t is the window at x = t·step."""
    tex = texture(h, w + frames * step, seed)
    return [np.ascontiguousarray(tex[:, t * step:t * step + w]) for t in range(frames)]


def test_warping_error_of_a_static_sequence_is_zero():
    frames = [texture()] * 4
    assert temporal.warping_error(frames, frames) == 0.0
    assert temporal.pair_errors(frames, [f.copy() for f in frames]) == [0.0, 0.0, 0.0]


def test_translated_texture_warps_back_with_its_true_flow_and_dis_finds_it():
    prev, cur = panning(frames=2, step=3)   # cur(x) = prev(x + 3)
    true = np.zeros(cur.shape[:2] + (2,), np.float32)
    true[..., 0] = 3
    back = temporal.warp(prev, true)
    assert np.abs(back[:, :-3].astype(int) - cur[:, :-3]).max() == 0   # exact shift, away from the edge
    f = temporal.flow(cur, prev, max_width=None)
    assert np.abs(f[8:-8, 8:-8] - true[8:-8, 8:-8]).mean() < 0.1
    # reduced resolution: computed at 64 px wide, vectors scaled back to the full frame
    small = temporal.flow(cur, prev, max_width=64)
    assert small.shape == f.shape and np.abs(np.median(small[..., 0]) - 3) < 0.3
    assert temporal.warping_error([prev, cur], [prev, cur]) < 2.0   # levels: the floor of a clean pan


def test_occlusion_flags_disoccluded_and_out_of_frame_pixels():
    h, w = 40, 60
    # a square moves 8 px right over a static background: in cur, x in [20, 28) is newly revealed
    back = np.zeros((h, w, 2), np.float32)   # cur -> prev
    fwd = np.zeros((h, w, 2), np.float32)    # prev -> cur
    back[10:30, 28:48, 0] = -8               # the square's pixels in cur came from 8 px left
    fwd[10:30, 20:40, 0] = 8                 # the square's pixels in prev go 8 px right
    occ = temporal.occlusion(back, fwd)
    assert occ[10:30, 20:28].all()                       # revealed background
    assert not occ[10:30, 29:47].any()                   # the square itself is consistent
    assert not occ[:8].any() and not occ[32:].any()      # static background
    # a pan: the right edge maps outside the previous frame
    pan = np.zeros((h, w, 2), np.float32)
    pan[..., 0] = 3
    edge = temporal.occlusion(pan, -pan)
    assert edge[:, -3:].all() and not edge[:, :-3].any()


def test_occlusion_from_dis_on_a_moving_square():
    bg, fg = texture(160, 240, seed=1), texture(160, 240, seed=2)
    prev, cur = bg.copy(), bg.copy()
    prev[50:110, 80:140] = fg[50:110, 80:140]
    cur[50:110, 88:148] = fg[50:110, 80:140]        # moved 8 px right: x in [80, 88) is revealed
    (f, valid), = temporal.pair_flows([prev, cur])
    assert np.abs(np.median(f[60:100, 100:136, 0]) + 8) < 0.2
    assert (~valid[54:106, 80:88]).mean() > 0.6     # most of the revealed strip is flagged
    assert (~valid[54:106, 98:138]).mean() < 0.05   # the square itself is tracked
    assert (~valid[:40]).mean() < 0.05 and (~valid[120:]).mean() < 0.05


def flickering(frames=10, sigma=12.0, seed=0):
    """Inputs: a pan; 'outputs': the same frames with fresh noise per frame (a flickering net)."""
    rng = np.random.default_rng(seed)
    inputs = panning(frames=frames, step=2)
    outputs = [np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8) for f in inputs]
    return inputs, outputs


def test_smoothing_reduces_the_warping_error_of_a_flickering_sequence():
    inputs, outputs = flickering()
    flows = temporal.pair_flows(inputs)
    plain = temporal.warping_error(inputs, outputs, flows)
    sm = temporal.TemporalSmoother(0.7)
    smoothed = [sm(sm.key(i), o) for i, o in zip(inputs, outputs)]
    assert temporal.warping_error(inputs, smoothed, flows) < 0.5 * plain
    assert np.array_equal(smoothed[0], outputs[0])   # nothing to blend with on the first frame
    assert sm.frames == len(inputs) and sm.seconds > 0
    off = temporal.TemporalSmoother(0.0)
    assert all(np.array_equal(off(off.key(i), o), o) for i, o in zip(inputs, outputs))


def test_smoother_state_resets_on_reset_scene_and_size():
    inputs, outputs = flickering(frames=3)
    sm = temporal.TemporalSmoother(0.8)
    k0, k1, k2 = (sm.key(i) for i in inputs)
    sm(k0, outputs[0], scene="a")
    assert not np.array_equal(sm(k1, outputs[1], scene="a"), outputs[1])   # blended
    assert np.array_equal(sm(k2, outputs[2], scene="b"), outputs[2])       # new style: starts over
    sm.reset()
    assert np.array_equal(sm(k1, outputs[1], scene="b"), outputs[1])       # reset: starts over
    small = np.ascontiguousarray(outputs[2][:, :64])
    assert np.array_equal(sm(sm.key(small), small, scene="b"), small)      # new size: starts over
    with pytest.raises(UserError, match="--smooth 1.5 is outside"):
        temporal.TemporalSmoother(1.5)


def test_a_cut_is_not_blended():
    a, b = texture(seed=3), texture(seed=4)
    y_a, y_b = np.full_like(a, 40), np.full_like(b, 200)
    sm = temporal.TemporalSmoother(1.0)
    sm(sm.key(a), y_a)
    out = sm(sm.key(b), y_b)
    assert np.abs(out.astype(int) - 200).mean() < 20   # the new shot wins almost everywhere


def test_the_pipeline_hook_equals_the_smoother_in_frame_order():
    inputs, outputs = flickering(frames=8)
    table = {i.tobytes(): o for i, o in zip(inputs, outputs)}
    got = []
    times = gpu_pipeline.stylize_frames(iter(inputs), lambda rgb: table[rgb.tobytes()], got.append, smooth=0.6)
    sm = temporal.TemporalSmoother(0.6)
    want = [sm(sm.key(i), o) for i, o in zip(inputs, outputs)]
    assert len(got) == len(want) and all(np.array_equal(g, w) for g, w in zip(got, want))
    assert times.extra["smooth"] > 0 and "smooth" in times.summary()
    again = []   # a new call (a new video) starts from a fresh state
    gpu_pipeline.stylize_frames(iter(inputs[3:]), lambda rgb: table[rgb.tobytes()], again.append, smooth=0.6)
    assert np.array_equal(again[0], outputs[3])


def test_processor_starts_over_when_the_style_changes():
    class Fake:   # a stylizer whose output is its style's grey level
        style = "a"

        def frame(self, rgb):
            return np.full_like(rgb, 60 if self.style == "a" else 180)

    st, inputs = Fake(), panning(frames=3)
    proc = gpu_pipeline.make_processor(st, smooth=0.9)
    assert isinstance(proc, gpu_pipeline.SmoothingProcessor)
    first, second = proc.submit(inputs[0]).wait(), proc.submit(inputs[1]).wait()
    assert (first == 60).all() and (second == 60).all()
    st.style = "b"
    assert (proc.submit(inputs[2]).wait() == 180).all()   # not blended with the old style


def test_video_cli_with_smooth_writes_every_frame(capsys, tmp_path, tiny_weights, tiny_video):
    from rtstyle.io.video import VideoReader, probe
    out = tmp_path / "out.mp4"
    code = cli.main(["video", str(tiny_video), str(out), "--style", "mosaic", "--smooth", "0.5",
                     "--preserve-color", "--no-progress", "--backend", "torch"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "smooth 0.5" in cap.out and "(smooth " in cap.out
    src, dst = probe(tiny_video), probe(out)
    assert dst.frame_count == src.frame_count and dst.has_audio
    with VideoReader(out) as r:
        assert sum(1 for _ in r) == src.frame_count


def test_smooth_out_of_range_is_a_one_line_error(capsys, tmp_path, tiny_weights, tiny_video):
    code = cli.main(["video", str(tiny_video), str(tmp_path / "o.mp4"), "--style", "mosaic", "--smooth", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "--smooth 2.0 is outside [0, 1]" in err and err.count("\n") == 1
    assert not (tmp_path / "o.mp4").exists()
    code = cli.main(["webcam", "--style", "mosaic", "--simulate", "pattern", "--smooth", "-0.5", "--no-display"])
    err = capsys.readouterr().err
    assert code == 2 and "--smooth -0.5 is outside" in err


def test_webcam_with_smooth_and_style_switch(capsys, tiny_weights):
    from rtstyle.io.sources import PatternSource
    from rtstyle.io.sinks import NullSink
    from rtstyle.pipeline.live import StyleCycle, run_live
    from rtstyle.pipeline.stylizer import Stylizer
    code = cli.main(["webcam", "--style", "mosaic", "--simulate", "pattern", "--size", "64x48", "--fps", "60",
                     "--no-display", "--max-frames", "4", "--backend", "torch", "--smooth", "0.7"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 frames" in out
    class Spy(temporal.TemporalSmoother):   # records the scene token of each frame it smooths
        scenes: list = []

        def __call__(self, key, y, scene=None):
            self.scenes.append(scene)
            return super().__call__(key, y, scene)

    class SwitchOnThirdFrame(NullSink):
        n = 0

        def actions(self):
            self.n += 1
            return ["next"] if self.n == 3 else []

    with StyleCycle(["great_wave", "poppies"], lambda n: Stylizer(n, "multi", "torch"), smooth=0.7) as cycle:
        cycle.smoother = spy = Spy(0.7)
        with PatternSource((64, 48), frames=5) as src, SwitchOnThirdFrame() as sink:
            stats = run_live(src, cycle, sink, drop_stale=False, log=lambda *_: None)
    assert stats.shown == 5
    assert [s[1] for s in spy.scenes] == ["great_wave"] * 2 + ["poppies"] * 3


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_pipeline_with_smooth_matches_cpu_within_fp16(tiny_weights):
    from rtstyle.pipeline.stylizer import Stylizer
    frames = panning(frames=10, step=2, h=48, w=64)
    with Stylizer("mosaic", backend="torch") as cpu, Stylizer("mosaic", backend="torch-cuda") as gpu:
        want, got = [], []
        gpu_pipeline.stylize_frames(iter(frames), cpu, want.append, smooth=0.7)
        times = gpu_pipeline.stylize_frames(iter(frames), gpu, lambda rgb: got.append(rgb.copy()), smooth=0.7)
    assert times.extra["gpu_compute"] > 0 and times.extra["smooth"] > 0
    assert len(got) == len(want) == len(frames)
    for w, g in zip(want, got):
        d = np.abs(w.astype(int) - g)
        assert d.max() <= 10 and d.mean() < 1.0, (d.max(), d.mean())
