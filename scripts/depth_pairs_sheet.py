"""Sheets for judging depth pairs by eye (DIW-style, Chen et al. 2016), and the pairs file from the answers.

    python scripts/depth_pairs_sheet.py draw --out DIR [--every 2] [--start 0] [--seed 2028] [--per-photo 3]
    python scripts/depth_pairs_sheet.py collect DIR/candidates.json DIR/labels.txt --out pairs.json

``draw`` picks photos of the training split of shared/data/content by rule, before anything is looked
at: the distinct bases (crops folded into their original) that are neither held out
(rtstyle/bench/depth/diw_pairs.json) nor already in rtstyle/bench/depth/val_pairs.json, sorted by
name, every ``--every``-th from ``--start``. Per photo it draws ``--per-photo`` uniform random point
pairs in [0.05, 0.95]² at least 0.15 apart, and writes sheets of 4 photos (``sheet_NN.png``) with
the points marked 1a/1b, 2a/2b, ... and ``candidates.json``.

``labels.txt`` holds one line per photo: its index, then one answer per pair, ``a`` or ``b`` (the
nearer point) or ``-`` (not certain: the pair is dropped). ``collect`` turns it into entries of the
pairs-file format (``kind`` "random"), ready to be appended to a validation file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("RTSTYLE_DATA", ROOT.parent / "shared" / "data"))

from rtstyle.bench.depth.heldout import VAL_PAIRS_FILE, base_name, exclude, heldout_bases  # noqa: E402
from rtstyle.train.data import list_images, split  # noqa: E402

COLOURS = [(0, 0, 255), (0, 255, 255), (255, 0, 255), (0, 255, 0)]   # BGR, one per pair
TILE_W = 520


def candidates(content: Path, every: int, start: int, per_photo: int, seed: int) -> list[dict]:
    train, _ = split(exclude(list_images(content)))
    taken = heldout_bases(VAL_PAIRS_FILE)
    bases = sorted({base_name(f) for f in train} - taken)[start::every]
    first = {}
    for f in sorted(train, key=lambda f: (base_name(f), Path(f).stem != base_name(f), str(f))):
        first.setdefault(base_name(f), f)   # the original where it is in the split, else its first crop
    rng = np.random.default_rng(seed)
    out = []
    for b in bases:
        pairs = []
        while len(pairs) < per_photo:
            a, c = rng.uniform(0.05, 0.95, 2), rng.uniform(0.05, 0.95, 2)
            if np.hypot(*(a - c)) >= 0.15:
                pairs.append((a.round(3).tolist(), c.round(3).tolist()))
        out.append({"photo": Path(first[b]).name, "path": str(first[b]), "pairs": pairs})
    return out


def _label(img, text, org, colour, scale=0.55):
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1)


def tile(item: dict, index: int) -> np.ndarray:
    img = cv2.imread(item["path"])
    s = TILE_W / img.shape[1]
    img = cv2.resize(img, (TILE_W, int(round(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
    h = img.shape[0]
    for i, pair in enumerate(item["pairs"]):
        col = COLOURS[i % len(COLOURS)]
        for name, (x, y) in zip("ab", pair):
            p = (int(x * TILE_W), int(y * h))
            cv2.circle(img, p, 7, (0, 0, 0), 3)
            cv2.circle(img, p, 7, col, 2)
            _label(img, f"{i + 1}{name}", (p[0] + 9, p[1] + 5), col)
    _label(img, f"#{index} {item['photo'][:40]}", (5, 18), (255, 255, 255), 0.5)
    return img


def sheets(items: list[dict], out: Path) -> list[Path]:
    paths = []
    for m in range(0, len(items), 4):
        tiles = [tile(it, m + k) for k, it in enumerate(items[m:m + 4])]
        hh = max(t.shape[0] for t in tiles)
        tiles = [cv2.copyMakeBorder(t, 0, hh - t.shape[0], 0, 0, cv2.BORDER_CONSTANT, value=(40, 40, 40)) for t in tiles]
        tiles += [np.full_like(tiles[0], 40)] * (4 - len(tiles))
        path = out / f"sheet_{m // 4:02d}.png"
        cv2.imwrite(str(path), np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])]))
        paths.append(path)
    return paths


def collect(items: list[dict], labels: str) -> list[dict]:
    """Judged entries from the answer lines; every photo must be answered, one answer per pair."""
    answers = {}
    for n, line in enumerate(labels.splitlines(), 1):
        if not line.strip():
            continue
        idx, *vals = line.split()
        if not idx.isdigit() or int(idx) >= len(items) or len(vals) != len(items[int(idx)]["pairs"]) \
                or any(v not in ("a", "b", "-") for v in vals):
            raise ValueError(f"labels line {n}: {line!r}: want the photo index and one of a/b/- per pair")
        answers[int(idx)] = vals
    missing = sorted(set(range(len(items))) - set(answers))
    if missing:
        raise ValueError(f"no answers for photos {missing}")
    out = []
    for i, it in enumerate(items):
        pairs = [{"a": a, "b": b, "nearer": v, "kind": "random"}
                 for (a, b), v in zip(it["pairs"], answers[i]) if v != "-"]
        if pairs:
            out.append({"photo": it["photo"], "pairs": pairs})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("draw")
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--every", type=int, default=2)
    d.add_argument("--start", type=int, default=0)
    d.add_argument("--per-photo", type=int, default=3)
    d.add_argument("--seed", type=int, default=2028)
    c = sub.add_parser("collect")
    c.add_argument("candidates", type=Path)
    c.add_argument("labels", type=Path)
    c.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    if a.cmd == "draw":
        a.out.mkdir(parents=True, exist_ok=True)
        items = candidates(DATA / "content", a.every, a.start, a.per_photo, a.seed)
        (a.out / "candidates.json").write_text(json.dumps(items, indent=1) + "\n")
        print(f"{len(items)} photos, {len(sheets(items, a.out))} sheets in {a.out}")
        return 0
    try:
        entries = collect(json.loads(a.candidates.read_text()), a.labels.read_text())
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    a.out.write_text(json.dumps(entries, indent=1) + "\n")
    print(f"{sum(len(e['pairs']) for e in entries)} pairs on {len(entries)} photos -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
