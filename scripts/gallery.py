"""docs/gallery.jpg: every style that has trained weights, applied to the same three photos,
next to the style image. Each photo is painted at its real size (512×384, as users get it: the
net's strokes keep their trained size) and then shrunk to its tile. One row per style, painted by the weights `rtstyle` picks by default on
a CPU (the row label names the family); ``--all-families`` gives one row per (style, family);
``--families multi,lite`` gives one row per style with the photos painted by each named family
side by side (the top row names them). Rerun after installing new weights.

    python scripts/gallery.py [--size 160] [--out docs/gallery.jpg] [--all-families | --families multi,lite]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtstyle import styles  # noqa: E402
from rtstyle.io.images import read_image, write_image  # noqa: E402
from rtstyle.pipeline.stylizer import Stylizer  # noqa: E402

PHOTOS = ["portrait_grace_hopper.jpg", "animal_red_panda.jpg", "landscape_picos_de_europa.jpg"]


def fit(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square and resize to size×size."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(rgb[y:y + s, x:x + s], (size, size), interpolation=cv2.INTER_AREA)


def label(tile: np.ndarray, text: str, bar: int = 18, font: float = 0.42) -> np.ndarray:
    """``text`` in white on a black bar ``bar`` px high across the top of a copy of ``tile``."""
    tile = tile.copy()
    cv2.rectangle(tile, (0, 0), (tile.shape[1], bar), (0, 0, 0), -1)
    scale = min(font, (tile.shape[1] - 8) / (len(text) * 19))   # long names shrink to fit the tile
    x = bar // 4
    cv2.putText(tile, text, (x, bar - x - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--all-families", action="store_true", help="one row per (style, family), not the default only")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery.jpg")
    ap.add_argument("--families", default="", help="comma list: one block of photo columns per family")
    ap.add_argument("--backend", default="auto")
    a = ap.parse_args()
    full = [read_image(ROOT / "samples" / p)[0] for p in PHOTOS]
    photos = [fit(p, a.size) for p in full]
    if a.families:
        return side_by_side(a, full, photos, a.families.split(","))
    rows = [np.concatenate([np.full((a.size, a.size, 3), 255, np.uint8)] + photos, axis=1)]
    pairs = []
    for name in styles.style_names():
        found = styles.entries_for(name)
        if not found:
            continue
        if a.all_families:
            pairs += [(name, f) for f in sorted({e.family for e in found})]
        else:
            pairs.append((name, styles.choose(name).family))
    for name, family in pairs:
        with Stylizer(name, family, a.backend) as st:
            outs = [fit(st.frame(p), a.size) for p in full]
            print(f"{name} ({family}, {st.entry.path.name})")
        style_tile = label(fit(read_image(styles.style_image(name))[0], a.size), f"{name} ({family})")
        rows.append(np.concatenate([style_tile] + outs, axis=1))
    if len(rows) == 1:
        print("no trained weights installed; nothing to show")
        return 1
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_image(a.out, np.concatenate(rows, axis=0))
    print(f"wrote {a.out} ({len(rows) - 1} rows)")
    return 0


def side_by_side(a, full: list[np.ndarray], photos: list[np.ndarray], families: list[str]) -> int:
    """One row per style that every family in ``families`` paints: style image, then each family's
    outputs on the photos; the top row shows the photos, labelled with the family of the column."""
    blank = np.full((a.size, a.size, 3), 255, np.uint8)
    rows = [np.concatenate([blank] + [label(p, f) for f in families for p in photos], axis=1)]
    for name in styles.style_names():
        have = {e.family for e in styles.entries_for(name)}
        if not set(families) <= have:
            print(f"{name}: skipped (has {', '.join(sorted(have)) or 'no weights'})")
            continue
        outs = []
        for family in families:
            with Stylizer(name, family, a.backend) as st:
                outs += [fit(st.frame(p), a.size) for p in full]
                print(f"{name} ({family}, {st.entry.path.name})")
        rows.append(np.concatenate([label(fit(read_image(styles.style_image(name))[0], a.size), name)] + outs,
                                   axis=1))
    if len(rows) == 1:
        print(f"no style has weights of every family in {families}; nothing to show")
        return 1
    write_image(a.out, np.concatenate(rows, axis=0))
    print(f"wrote {a.out} ({len(rows) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
