"""A resumable training loop: progress bar, CSV losses + plot, sample grids, time limit.

A trainer supplies three functions — one optimisation step, a validation loss, the sample-grid
rows — and the state to checkpoint; :class:`TrainLoop` does the rest the same way for every
family: ``out/ckpt.pt`` written atomically every ``ckpt_every`` steps (with every RNG state, so a
resumed run draws the same batches as an uninterrupted one), ``out/losses.csv`` + ``losses.png``,
``out/samples_<step>.png``, and a clean stop with a checkpoint once ``max_minutes`` have passed
since the process started (:func:`process_start`: loading data and nets, calibrating the loss,
filling buffers count, so ``--max-minutes`` bounds the whole command).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from . import common

_IMPORTED = time.time()


def process_start() -> float:
    """When this process started (``time.time()`` scale): from /proc on Linux, else when this
    module was first imported (after the interpreter and torch started)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2:].split()[19])   # field 22, starttime, after comm
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        import os
        start = boot + ticks / os.sysconf("SC_CLK_TCK")
        if start <= _IMPORTED + 1:   # btime has 1-s resolution
            return min(start, _IMPORTED)
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    return _IMPORTED


class TrainLoop:
    """Run ``step_fn`` from the checkpointed step up to ``iters``.

    Args:
        out: run folder.
        iters, log_every, ckpt_every, max_minutes: schedule (``max_minutes`` 0 = no limit),
            counted from ``started`` (default :func:`process_start`).
        fields: loss names ``step_fn`` returns; ``val_field`` (default ``val_total``) is added for
            what ``val_fn`` returns.
        state: name -> object with ``state_dict()``/``load_state_dict()`` (nets, optimisers).
        rngs: name -> object with ``getstate()``/``setstate()`` (e.g. a CropSampler's ``rng``).
        desc: progress-bar label; ``title``: loss-plot title.
    """

    def __init__(self, out: Path, *, iters: int, log_every: int, ckpt_every: int, max_minutes: float,
                 fields: list[str], state: dict, rngs: dict | None = None, desc: str = "train",
                 title: str = "", started: float | None = None, val_field: str = "val_total"):
        self.out = Path(out)
        self.iters, self.log_every, self.ckpt_every, self.max_minutes = iters, log_every, ckpt_every, max_minutes
        self.state, self.rngs = state, rngs or {}
        self.desc, self.title = desc, title or desc
        self.val_field = val_field
        self.log = common.LossLog(self.out / "losses.csv", [*fields, val_field])
        self.ckpt = self.out / "ckpt.pt"
        self.step, self.wall = 0, 0.0
        self.extra: dict = {}        # trainer values to checkpoint (e.g. loss scales)
        self.stopped_early = False
        self.missing: list[str] = []   # state names the resumed checkpoint did not hold
        self._t0 = time.time()
        self.started = process_start() if started is None else started

    def resume(self, device) -> bool:
        """Load ``out/ckpt.pt`` if there is one; True when it did. A state the checkpoint does not
        hold (one the trainer added since, e.g. an ``ema`` copy) is left as it is and named in
        ``self.missing``, for the trainer to initialise."""
        if not self.ckpt.exists():
            return False
        saved = torch.load(self.ckpt, map_location=device, weights_only=False)
        self.missing = [name for name in self.state if name not in saved["state"]]
        for name, obj in self.state.items():
            if name not in self.missing:
                obj.load_state_dict(saved["state"][name])
        for name, rng in self.rngs.items():
            rng.setstate(saved["rngs"][name])
        common.set_rng_state(saved["rng"])
        self.step, self.wall, self.extra = saved["step"], saved["wall"], saved.get("extra", {})
        self.log.truncate_after(self.step)
        print(f"resumed {self.ckpt} at step {self.step}")
        return True

    @property
    def wall_time(self) -> float:
        return self.wall + time.time() - self._t0

    def save(self) -> None:
        common.save_checkpoint(self.ckpt, state={k: v.state_dict() for k, v in self.state.items()},
                               rngs={k: r.getstate() for k, r in self.rngs.items()}, rng=common.rng_state(),
                               step=self.step, wall=self.wall_time, extra=self.extra)

    def _snapshot(self, samples_fn) -> None:
        self.save()
        common.save_grid(samples_fn(), self.out / f"samples_{self.step:06d}.png")
        common.plot_losses(self.out / "losses.csv", self.out / "losses.png", self.title)

    def run(self, step_fn: Callable[[int], dict], val_fn: Callable[[], float],
            samples_fn: Callable[[], list]) -> None:
        """Train; ``step_fn(step) -> {field: float}``, ``val_fn() -> float``,
        ``samples_fn() -> rows of (N,3,H,W) [0,1]`` for the grid. Ends with a checkpoint."""
        self._t0 = time.time()
        bar = tqdm(total=self.iters, initial=self.step, desc=self.desc, unit="it", dynamic_ncols=True)
        while self.step < self.iters:
            losses = step_fn(self.step)
            total = losses.get("total", next(iter(losses.values())))
            if total != total or abs(total) == float("inf"):
                raise FloatingPointError(f"loss became {total} at step {self.step}; lower --lr or the loss weights")
            self.step += 1
            bar.update(1)
            if self.step % self.log_every == 0 or self.step == self.iters:
                val = val_fn()
                self.log.add(self.step, **{self.val_field: val}, **losses)
                bar.set_postfix(loss=f"{total:.3g}", val=f"{val:.3g}")
            if self.step % self.ckpt_every == 0:
                self._snapshot(samples_fn)
            if self.max_minutes and time.time() - self.started > self.max_minutes * 60 and self.step < self.iters:
                self.stopped_early = True
                break
        bar.close()
        self._snapshot(samples_fn)
        self.wall, self._t0 = self.wall_time, time.time()

    def manifest_losses(self) -> dict:
        """Losses of the last logged step, for the weights manifest."""
        logged = self.log.last()
        return {"train_loss": {k: round(v, 6) for k, v in logged.items() if k not in ("step", self.val_field)},
                "val_loss": round(logged.get(self.val_field, float("nan")), 6),
                "logged_at_step": int(logged.get("step", 0))}
