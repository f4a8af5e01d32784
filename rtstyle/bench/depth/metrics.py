"""Ordinal accuracy: the share of point pairs a relative-depth prediction orders right.

A prediction says "a farther than b" when z_a − z_b > δ, "nearer" when < −δ and "equal" in
between, with δ = ``equal_tol`` × the prediction's robust range (2nd to 98th percentile over the
map), so the score does not depend on the prediction's scale or offset. Ordered pairs (r = ±1) are
right when the prediction says the same order; equal pairs (r = 0) when it says equal.
``equal_tol=0`` makes every non-tied prediction ordered (Chen et al.'s plain ordinal accuracy on
the ordered pairs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Pairs:
    """Point pairs on an H·W map (rtstyle.bench.depth.truth makes them from measured depth, rtstyle.train.depth_data.pairs from weak cues and motion, heldout from judgements)."""

    ia: np.ndarray   # (K,) int64 flat indices of point a
    ib: np.ndarray   # (K,) int64 flat indices of point b
    r: np.ndarray    # (K,) int8: +1 a farther, -1 a nearer, 0 equal

    def __len__(self) -> int:
        return len(self.r)

    def resample(self, k: int, rng: np.random.Generator) -> "Pairs":
        """Exactly ``k`` pairs (drawn with replacement when there are fewer)."""
        if len(self) == 0:
            raise ValueError("cannot resample an empty pair set")
        sel = rng.choice(len(self), size=k, replace=len(self) < k)
        return Pairs(self.ia[sel], self.ib[sel], self.r[sel])


def ordinal_accuracy(pred: np.ndarray, pairs: Pairs, equal_tol: float = 0.02,
                     weights: np.ndarray | None = None) -> dict[str, float]:
    """Score a prediction (H, W) (or flat) on ``pairs``.

    Returns ``{"all", "ordered", "equal"}`` accuracies in [0, 1] (NaN where there is no such pair)
    and ``n``, ``n_ordered``, ``n_equal`` counts (weighted sums when ``weights`` is given).
    """
    flat = np.asarray(pred, np.float64).reshape(-1)
    if len(pairs) == 0:
        nan = float("nan")
        return {"all": nan, "ordered": nan, "equal": nan, "n": 0, "n_ordered": 0, "n_equal": 0}
    lo, hi = np.percentile(flat, [2, 98])
    delta = equal_tol * max(hi - lo, 1e-12)
    d = flat[pairs.ia] - flat[pairs.ib]
    said = np.where(d > delta, 1, np.where(d < -delta, -1, 0))
    right = said == pairs.r
    w = np.ones(len(pairs)) if weights is None else np.asarray(weights, np.float64)
    ordered = pairs.r != 0

    def share(m):
        tot = w[m].sum()
        return float((w[m] * right[m]).sum() / tot) if tot > 0 else float("nan")

    return {"all": share(np.ones_like(ordered)), "ordered": share(ordered), "equal": share(~ordered),
            "n": float(w.sum()), "n_ordered": float(w[ordered].sum()), "n_equal": float(w[~ordered].sum())}


def merge(results: list[dict[str, float]]) -> dict[str, float]:
    """Pool per-image results into one (weighted by each image's pair counts)."""
    out = {}
    for key, count in (("all", "n"), ("ordered", "n_ordered"), ("equal", "n_equal")):
        num = sum(r[key] * r[count] for r in results if r[count] > 0)
        den = sum(r[count] for r in results if r[count] > 0)
        out[key] = num / den if den else float("nan")
        out[count] = den
    return out
