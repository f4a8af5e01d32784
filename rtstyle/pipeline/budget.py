"""Live frame budget: lower the size a net paints at when stylizing cannot keep up with the camera.

A net that learnt its strokes on large photos paints a 720p frame at its full size
(rtstyle.sizes.working_short), which on a laptop CPU can take several camera intervals per frame.
Live, a user would rather keep the frame rate: :class:`FrameBudget` watches the process stage's
time per frame and steps the working size down (strokes grow on the frame; time is taken as
proportional to pixels) until a frame fits the camera's interval, never below half the default
size (``--style-scale 2``'s strokes), and back up when there is room. Files are not live and
always paint at the default size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

STEP = 0.85          # each level paints at 0.85x the previous short side (0.72x the pixels)
FLOOR = 0.5          # never below half the default working size: strokes at most 2x larger
SETTLE = 3           # frames skipped after a change (a new input shape may recompile or warm up)
WINDOW = 8           # frames measured at a level before judging it
SLOW, ROOM = 1.05, 0.75   # step down when over 1.05 intervals; up when the larger size is predicted under 0.75
LEVELS = int(math.floor(math.log(FLOOR) / math.log(STEP))) + 1   # b, 0.85b, ... >= b/2


def level_short(base: int, level: int) -> int:
    """Working short side at ``level`` for a default working short side ``base`` (even, >= 16)."""
    return max(16, int(round(base * STEP ** level / 2)) * 2)


@dataclass
class _State:
    level: int = 0
    seen: int = 0          # frames observed since the last change
    mean: float = 0.0      # mean process seconds of the frames judged at this level


class FrameBudget:
    """Keep a live stylizer's process time per frame within ``interval`` seconds (1 / camera fps).

    ``observe(stylizer, frame_wh, seconds)`` after each frame; it sets ``stylizer.work_cap`` (the
    largest short side the net paints at; None = the default) and returns a line to tell the user
    when the size changed, else None. Pure bookkeeping: it never times anything itself.
    """

    def __init__(self, interval: float):
        if not interval > 0:
            raise ValueError(f"interval {interval} must be above 0")
        self.interval = interval
        self._states: dict[tuple[int, tuple[int, int]], _State] = {}

    def observe(self, stylizer, frame_wh: tuple[int, int], seconds: float) -> str | None:
        if not hasattr(stylizer, "sizes"):
            return None   # a plain function: nothing to resize
        key = (id(stylizer), tuple(frame_wh))
        st = self._states.setdefault(key, _State())
        st.seen += 1
        if st.seen <= SETTLE:
            return None
        judged = st.seen - SETTLE
        st.mean += (seconds - st.mean) / judged
        if judged < WINDOW:
            return None
        base = self._base(stylizer, frame_wh)
        new = st.level
        if st.mean > SLOW * self.interval and st.level < LEVELS - 1:
            # time ~ pixels: go straight to the first level predicted to fit (or the floor)
            now = level_short(base, st.level)
            new = next((k for k in range(st.level + 1, LEVELS)
                        if st.mean * (level_short(base, k) / now) ** 2 <= self.interval), LEVELS - 1)
        elif st.level > 0:
            grow = (level_short(base, st.level - 1) / level_short(base, st.level)) ** 2
            if st.mean * grow < ROOM * self.interval:
                new = st.level - 1
        if new == st.level:
            st.seen, st.mean = SETTLE, 0.0   # judge the next window afresh (the load may change)
            return None
        self._states[key] = _State(level=new)
        stylizer.work_cap = None if new == 0 else level_short(base, new)
        _, (ww, wh) = stylizer.sizes(*frame_wh)
        fps = 1 / self.interval
        why = (f"{1000 * st.mean:.0f} ms per frame is over the camera's {1000 * self.interval:.0f} ms"
               if new > st.level else "there is room again")
        return (f"painting at {ww}x{wh} to keep up with {fps:g} fps ({why}); --style-scale fixes the "
                f"stroke size and turns this off")

    @staticmethod
    def _base(stylizer, frame_wh) -> int:
        cap, stylizer.work_cap = stylizer.work_cap, None
        try:
            _, work = stylizer.sizes(*frame_wh)
        finally:
            stylizer.work_cap = cap
        return min(work)
