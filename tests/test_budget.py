"""Live frame budget: the working size drops when frames are too slow for the camera, and comes back."""
import time

import pytest

from conftest import TINY_H, TINY_W
from rtstyle.io.camera import SimulatedCamera
from rtstyle.io.sinks import NullSink
from rtstyle.pipeline import budget as B
from rtstyle.pipeline.budget import FrameBudget, level_short
from rtstyle.pipeline.live import run_live
from rtstyle.sizes import target_size, working_short


class FakeStylizer:
    """The sizing rule of Stylizer.sizes, and a cost proportional to the pixels painted."""

    def __init__(self, train_short=384, seconds_per_mpx=0.2):
        self.train_short, self.style_scale, self.work_cap = train_short, None, None
        self.seconds_per_mpx = seconds_per_mpx

    def sizes(self, w, h):
        short = working_short(min(w, h), self.train_short, self.style_scale)
        if self.work_cap is not None:
            short = min(short, self.work_cap)
        return (w, h), target_size(w, h, short) if short != min(w, h) else (w, h)

    def cost(self, w, h):
        ww, wh = self.sizes(w, h)[1]
        return self.seconds_per_mpx * ww * wh / 1e6

    def frame(self, rgb):
        time.sleep(self.cost(rgb.shape[1], rgb.shape[0]))
        return rgb


def _drive(budget, st, wh, frames, cost=None):
    notes = []
    for _ in range(frames):
        note = budget.observe(st, wh, cost(*wh) if cost else st.cost(*wh))
        if note:
            notes.append(note)
    return notes


def test_levels_go_down_to_half_the_default_and_no_lower():
    assert B.LEVELS == 5
    assert [level_short(720, k) for k in range(B.LEVELS)] == [720, 612, 520, 442, 376]
    assert level_short(720, B.LEVELS - 1) >= 360


def test_too_slow_steps_straight_to_the_size_that_fits():
    st = FakeStylizer(seconds_per_mpx=0.05)   # 1280x720 = 0.92 Mpx -> 46 ms, over a 30 fps camera
    budget = FrameBudget(1 / 30)
    notes = _drive(budget, st, (1280, 720), 40)
    assert len(notes) == 1, notes      # one jump, then it holds (no oscillation)
    assert st.work_cap == 612          # 46 ms x (612/720)^2 = 33.2 ms <= 33.3 ms
    assert notes[0].startswith("painting at 1088x612 to keep up with 30 fps (46 ms per frame")
    assert "--style-scale" in notes[0]


def test_never_below_the_floor_however_slow():
    st = FakeStylizer(seconds_per_mpx=1.0)
    budget = FrameBudget(1 / 30)
    _drive(budget, st, (1280, 720), 60)
    assert st.work_cap == level_short(720, B.LEVELS - 1) == 376
    assert st.sizes(1280, 720)[1] == (668, 376)


def test_fast_enough_changes_nothing():
    st = FakeStylizer(seconds_per_mpx=0.01)   # 9 ms a frame
    assert _drive(FrameBudget(1 / 30), st, (1280, 720), 50) == []
    assert st.work_cap is None and st.sizes(1280, 720)[1] == (1280, 720)


def test_comes_back_up_when_the_load_goes_away():
    st = FakeStylizer()
    budget = FrameBudget(1 / 30)
    _drive(budget, st, (1280, 720), 30, cost=lambda w, h: 0.2)     # a busy machine: to the floor
    assert st.work_cap == 376
    notes = _drive(budget, st, (1280, 720), 200, cost=lambda w, h: 0.002)   # idle again
    assert st.work_cap is None and notes and "there is room again" in notes[-1]


def test_the_first_frames_after_a_change_are_not_judged():
    st = FakeStylizer()
    budget = FrameBudget(1 / 30)
    # compile-like slow first frames, then fast: nothing changes
    costs = iter([1.0] * B.SETTLE + [0.001] * 30)
    assert _drive(budget, st, (1280, 720), B.SETTLE + 30, cost=lambda w, h: next(costs)) == []
    assert st.work_cap is None


def test_a_plain_function_is_left_alone():
    assert FrameBudget(0.01).observe(lambda x: x, (64, 48), 1.0) is None
    with pytest.raises(ValueError):
        FrameBudget(0)


def test_run_live_with_a_budget_reports_the_size_it_painted_at():
    st = FakeStylizer(train_short=48, seconds_per_mpx=40.0)   # 64x48 frame: 0.12 s per frame at 50 fps
    logs = []
    with SimulatedCamera("pattern", fps=50, size=(TINY_W, TINY_H)) as cam:
        stats = run_live(cam, st, NullSink(), max_frames=20, log=logs.append, budget=FrameBudget(1 / 50))
    assert stats.shown == 20
    assert st.work_cap == level_short(min(TINY_W, TINY_H), B.LEVELS - 1)
    assert stats.working == st.sizes(TINY_W, TINY_H)[1] and min(stats.working) == st.work_cap
    assert any(line.startswith("painting at ") for line in logs)
    assert f"painted at {stats.working[0]}x{stats.working[1]}" in stats.summary()
