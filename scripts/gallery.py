"""docs/gallery.png: every style that has trained weights, applied to the same three photos,
next to the style image. One row per (style, family); rerun after installing new weights.

    python scripts/gallery.py [--size 256] [--out docs/gallery.png]
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
from rtstyle.families import ARBITRARY  # noqa: E402
from rtstyle.io.images import read_image, write_image  # noqa: E402
from rtstyle.stylizer import Stylizer  # noqa: E402

PHOTOS = ["portrait_grace_hopper.jpg", "animal_red_panda.jpg", "landscape_picos_de_europa.jpg"]


def fit(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square and resize to size×size."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(rgb[y:y + s, x:x + s], (size, size), interpolation=cv2.INTER_AREA)


def label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.rectangle(tile, (0, 0), (tile.shape[1], 18), (0, 0, 0), -1)
    cv2.putText(tile, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery.png")
    ap.add_argument("--backend", default="auto")
    a = ap.parse_args()
    photos = [fit(read_image(ROOT / "samples" / p)[0], a.size) for p in PHOTOS]
    rows = [np.concatenate([np.full((a.size, a.size, 3), 255, np.uint8)] + photos, axis=1)]
    seen = set()
    for entry in sorted(styles.weights_entries(), key=lambda e: (e.family, e.path.name)):
        names = styles.style_names() if entry.family in ARBITRARY else entry.styles
        for name in names:
            if (name, entry.family) in seen:
                continue
            seen.add((name, entry.family))
            with Stylizer(name, entry.family, a.backend) as st:
                outs = [st.frame(p) for p in photos]
            style_tile = label(fit(read_image(styles.style_image(name))[0], a.size), f"{name} ({entry.family})")
            rows.append(np.concatenate([style_tile] + outs, axis=1))
            print(f"{name} ({entry.family}, {entry.path.name})")
    if len(rows) == 1:
        print("no trained weights installed; nothing to show")
        return 1
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_image(a.out, np.concatenate(rows, axis=0))
    print(f"wrote {a.out} ({len(rows) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
