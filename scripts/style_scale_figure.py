"""docs/style_scale.png: one 1280x720 video frame painted with the same weights at four stroke
sizes (--style-scale), to show why the default paints at a working resolution tied to training.

    python scripts/style_scale_figure.py [--style mosaic] [--model lite] [--video ...] [--out ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtstyle.io.images import write_image  # noqa: E402
from rtstyle.pipeline.stylizer import Stylizer  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from gallery import label  # noqa: E402

BAR = {"bar": 24, "font": 0.55}   # the label bar of these larger tiles


def frame_at(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == index:
                return f.to_ndarray(format="rgb24")
    raise SystemExit(f"{path} has fewer than {index + 1} frames")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--style", default="mosaic")
    ap.add_argument("--model", default=None)
    ap.add_argument("--video", type=Path, default=ROOT.parent / "shared" / "data" / "video" / "big_buck_bunny_20s.mp4")
    ap.add_argument("--frame", type=int, default=120)
    ap.add_argument("--tile", type=int, default=640, help="width of each tile in the figure")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "style_scale.png")
    a = ap.parse_args()
    rgb = frame_at(a.video, a.frame)
    h, w = rgb.shape[:2]
    th = round(a.tile * h / w)
    tiles = [label(cv2.resize(rgb, (a.tile, th), interpolation=cv2.INTER_AREA), f"input {w}x{h}", **BAR)]
    with Stylizer(a.style, a.model, "auto") as probe:
        ts = probe.train_short
        family = probe.family
    native = 2 * ts / min(h, w)   # the style scale at which the net paints at the frame's own size
    for scale, what in ((native, "net at the frame's size (old behaviour)"), (None, "default"), (2.0, "--style-scale 2")):
        with Stylizer(a.style, a.model, "auto", style_scale=scale) as st:
            out = st.frame(rgb)
        name = what if scale is None or scale == 2.0 else f"--style-scale {scale:.2f}: {what}"
        tiles.append(label(cv2.resize(out, (a.tile, th), interpolation=cv2.INTER_AREA), name, **BAR))
    grid = np.concatenate([np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0)
    write_image(a.out, grid)
    print(f"wrote {a.out}: {a.style} ({family}, trained on {ts}-px photos), frame {a.frame} of {a.video.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
