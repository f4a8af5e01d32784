import threading
import time

import pytest

from rtstyle.pipeline import loop as pipeline


def test_order_kept_and_every_frame_written():
    out = []
    times = pipeline.run(range(200), lambda x: x * 2, out.append, depth=3)
    assert out == [2 * i for i in range(200)]
    assert times.frames == 200
    assert times.wall > 0 and times.fps > 0


def test_empty_source():
    out = []
    times = pipeline.run([], lambda x: x, out.append)
    assert out == [] and times.frames == 0


def _slow(seconds):
    def f(x):
        time.sleep(seconds)
        return x
    return f


def test_stages_overlap_throughput_follows_slowest_stage():
    # read 10 ms, process 20 ms, write 10 ms per frame: serial would take 40 ms/frame,
    # overlapped stages about 20 ms/frame (the slowest).
    n = 30

    def frames():
        for i in range(n):
            time.sleep(0.01)
            yield i

    out = []
    times = pipeline.run(frames(), _slow(0.02), lambda x: (time.sleep(0.01), out.append(x)))
    assert out == list(range(n))
    serial = n * 0.04
    assert times.wall < 0.75 * serial, f"no overlap: {times.wall:.3f} s vs serial {serial:.3f} s"
    assert times.process == pytest.approx(n * 0.02, rel=0.5)


@pytest.mark.parametrize("where", ["read", "process", "write"])
def test_error_in_any_stage_propagates_and_stops_threads(where):
    def frames():
        for i in range(1000):
            if where == "read" and i == 5:
                raise ValueError("boom")
            yield i

    def process(x):
        if where == "process" and x == 5:
            raise ValueError("boom")
        return x

    def write(x):
        if where == "write" and x == 5:
            raise ValueError("boom")

    before = threading.active_count()
    with pytest.raises(ValueError, match="boom"):
        pipeline.run(frames(), process, write)
    time.sleep(0.3)
    assert threading.active_count() <= before


def test_on_frame_counts():
    seen = []
    pipeline.run(range(7), lambda x: x, lambda x: None, on_frame=seen.append)
    assert seen == list(range(1, 8))
