"""The human-judged DIW-style test set (``diw_pairs.json``) and the rule that keeps it out of training.

In the manner of Chen et al. 2016's "Depth in the Wild": for each of 22 photos of
``shared/data/content`` a person marked two points and which of them is nearer. The photos were
picked before any point was looked at, by a fixed rule (every 9th distinct photo, crops folded into
their original, sorted by name, starting at the 5th: ``pick_photos``), then the points were placed by
eye where the order is certain. Every training path that reads photos (the weak-cue photos, the
textures of the synthetic scenes) drops these photos *and their crops* (``name_crop1.jpg`` ...)
through :func:`exclude`; tests check it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .metrics import Pairs

PAIRS_FILE = Path(__file__).with_name("diw_pairs.json")
VAL_PAIRS_FILE = Path(__file__).with_name("val_pairs.json")   # validation pairs, on training photos
_CROP = re.compile(r"_crop\d+$")


def base_name(path: str | Path) -> str:
    """The original photo a file comes from: ``gcompris_bee_crop2.jpg`` -> ``gcompris_bee``."""
    return _CROP.sub("", Path(path).stem)


def pick_photos(names: list[str], every: int = 9, start: int = 4) -> list[str]:
    """The selection rule used to pick the photos (before any point was marked)."""
    bases = sorted({base_name(n) for n in names})
    return bases[start::every]


def load(path: Path = PAIRS_FILE) -> list[dict]:
    """The judged photos: ``[{"photo": "name.jpg", "pairs": [{"a": [x, y], "b": [x, y], "nearer": "a"|"b"}]}]``,
    points as fractions of width and height."""
    return json.loads(Path(path).read_text())["photos"]


def heldout_bases(path: Path = PAIRS_FILE) -> set[str]:
    return {base_name(p["photo"]) for p in load(path)}


def is_heldout(path: str | Path, bases: set[str] | None = None) -> bool:
    return base_name(path) in (heldout_bases() if bases is None else bases)


def exclude(files: list, bases: set[str] | None = None) -> list:
    """``files`` without the held-out photos and their crops."""
    bases = heldout_bases() if bases is None else bases
    return [f for f in files if base_name(f) not in bases]


def pairs_for(entry: dict, h: int, w: int) -> Pairs:
    """One photo's judged pairs as :class:`Pairs` on an (h, w) grid (r = −1: a nearer, +1: a farther)."""
    ia, ib, r = [], [], []
    for q in entry["pairs"]:
        (xa, ya), (xb, yb) = q["a"], q["b"]
        ia.append(min(h - 1, int(ya * h)) * w + min(w - 1, int(xa * w)))
        ib.append(min(h - 1, int(yb * h)) * w + min(w - 1, int(xb * w)))
        r.append(-1 if q["nearer"] == "a" else 1)
    return Pairs(np.array(ia, np.int64), np.array(ib, np.int64), np.array(r, np.int8))
