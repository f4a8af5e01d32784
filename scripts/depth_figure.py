"""docs/depth.png: sample photos, their estimated depth, plain and depth-aware stylization side by side.

    python scripts/depth_figure.py [--style mosaic] [--depth-model cues|rt|full] [--out docs/depth.png]
        [--clip docs/depth_bunny.mp4]

Uses the depth source rtstyle uses by default (--depth-model cues: the row prior with validated
image cues; rt | full: the trained net rtstyle finds) and the cheapest trained net for --style. Columns: photo | depth (bright = near) | stylized | depth-aware (far stylized, near
keeps content) | depth-aware, --near-style. With --clip, also a depth-aware version of the sample
clip (kept only if under 1 MB).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from rtstyle.ops import colorize
from rtstyle.pipeline.depth import DepthModulator, depth_source
from rtstyle.io.images import read_image
from rtstyle.pipeline.stylizer import Stylizer

ROOT = Path(__file__).resolve().parents[1]


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (8 + 7 * len(text), 16), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", default="mosaic")
    ap.add_argument("--height", type=int, default=224, help="tile height")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "depth.png")
    ap.add_argument("--clip", type=Path, default=None, help="also write a depth-aware sample clip here")
    ap.add_argument("--depth-model", choices=["cues", "rt", "full"], default="cues")
    a = ap.parse_args()
    photos = sorted((ROOT / "samples").glob("*.jpg"))
    net = depth_source(a.depth_model, backend="torch", size=192)
    plain = Stylizer(a.style, backend="torch")
    far = Stylizer(a.style, backend="torch", depth=DepthModulator(net=net))
    near = Stylizer(a.style, backend="torch", depth=DepthModulator(net=net, near_style=True))
    rows = []
    for p in photos:
        rgb, _ = read_image(p)
        s = a.height / rgb.shape[0]
        rgb = cv2.resize(rgb, (int(round(rgb.shape[1] * s / 2)) * 2, a.height), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
        with torch.inference_mode():
            d = net(x)[0, 0].numpy()
        tiles = [label(rgb, p.stem), label(colorize(d), "depth (bright = near)"),
                 label(plain.frame(rgb), f"{a.style}"), label(far.frame(rgb), "depth-aware"),
                 label(near.frame(rgb), "depth-aware, near-style")]
        rows.append(np.concatenate(tiles, 1))
    width = max(r.shape[1] for r in rows)
    grid = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    a.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(a.out), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    source = net.path.name if hasattr(net, "path") else "cues (rtstyle.depth_cues)"
    print(f"wrote {a.out} ({grid.shape[1]}x{grid.shape[0]}) with {plain.label} and depth {source}")
    if a.clip:
        from rtstyle.pipeline.jobs import stylize_video
        opts = {"strength": 1.0, "every": 2, "smooth": 0.6, "size": 128, "backend": "torch",
                "variant": a.depth_model}
        stylize_video(ROOT / "samples" / "bunny_4s.mp4", a.clip, a.style, backend="torch", size=180,
                      overwrite=True, progress=False, depth=opts)
        mb = a.clip.stat().st_size / 1e6
        if mb >= 1.0:
            a.clip.unlink()
            print(f"clip was {mb:.2f} MB (limit 1 MB): not kept")
        else:
            print(f"wrote {a.clip} ({mb:.2f} MB)")


if __name__ == "__main__":
    main()
