"""How one cell is timed (:class:`Policy`, :func:`sample`) and the report it goes into
(:class:`Cell`, :class:`Row`, :class:`Report`); the method is in :mod:`rtstyle.bench`'s docstring."""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Policy:
    """How long to time one cell (see :mod:`rtstyle.bench`)."""

    iters: int = 10          # at least this many timed iterations ...
    min_time: float = 1.0    # ... and at least this many seconds of them
    budget: float = 3.0      # a slow cell stops after this many seconds once min_samples are in
    min_samples: int = 3
    warmup: int = 1          # untimed calls first
    max_iters: int = 10_000

    @classmethod
    def for_device(cls, cuda: bool, iters: int | None = None, min_time: float | None = None) -> "Policy":
        """Defaults: CPU 1 warm-up, >= 10 iterations and 1 s, 3 s budget; CUDA 5, 50, 1 s, 5 s."""
        base = cls(iters=50, min_time=1.0, budget=5.0, warmup=5) if cuda else cls()
        iters = base.iters if iters is None else iters
        return cls(iters=iters, min_time=base.min_time if min_time is None else min_time, budget=base.budget,
                   min_samples=min(base.min_samples, iters), warmup=base.warmup)


def timer(cuda: bool) -> Callable[[Callable[[], object]], float]:
    """``measure(fn) -> ms`` for one call of ``fn``: CUDA events around it on a synchronised
    device, or ``time.perf_counter`` on the CPU."""
    if cuda:
        import torch

        def measure(fn):
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        return measure

    def measure(fn):
        t = time.perf_counter()
        fn()
        return 1000.0 * (time.perf_counter() - t)
    return measure


def sample(fn: Callable[[], object], policy: Policy, cuda: bool = False) -> list[float]:
    """Milliseconds of successive calls of ``fn`` after ``policy.warmup`` untimed ones."""
    measure = timer(cuda)
    for _ in range(policy.warmup):
        measure(fn)
    samples: list[float] = []
    t0 = time.perf_counter()
    while len(samples) < policy.max_iters:
        samples.append(measure(fn))
        elapsed = time.perf_counter() - t0
        if len(samples) >= policy.iters and elapsed >= policy.min_time:
            break
        if len(samples) >= policy.min_samples and elapsed >= policy.budget:
            break
    return samples


def percentile(values: list[float], q: float) -> float:
    """q-th percentile (0..100) with linear interpolation between order statistics."""
    xs = sorted(values)
    if not xs:
        raise ValueError("percentile of no values")
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Cell:
    """One (row, size) measurement in milliseconds."""

    size: int
    p50_ms: float
    p95_ms: float
    fps: float
    iters: int
    mean_ms: float
    min_ms: float
    seconds: float           # timed seconds in all
    gatys: dict | None = None  # Gatys rows: setup, 500-iteration total and how it was obtained

    @classmethod
    def from_samples(cls, size: int, ms: list[float], **kw) -> "Cell":
        p50 = statistics.median(ms)
        return cls(size=size, p50_ms=p50, p95_ms=percentile(ms, 95), fps=1000.0 / p50, iters=len(ms),
                   mean_ms=statistics.fmean(ms), min_ms=min(ms), seconds=sum(ms) / 1000.0, **kw)


@dataclass
class Row:
    model: str               # MODELS key, or 'gatys'
    family: str
    config: dict
    weights: str             # 'trained: <file>' | 'random init'
    backend: str
    precision: str
    mode: str                # eager | channels_last | channels_last+graphs | ... | provider
    timing: str = ""         # how the cells were timed
    policy: dict | None = None
    cells: dict[int, Cell] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.model} × {self.backend} × {self.precision} ({self.mode})"


@dataclass
class Report:
    environment: dict
    settings: dict
    rows: list[Row]
    notes: list[str]
    pipeline: dict | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        for row in d["rows"]:   # JSON keys are strings
            row["cells"] = {str(k): v for k, v in row["cells"].items()}
            row["skipped"] = {str(k): v for k, v in row["skipped"].items()}
        return d

