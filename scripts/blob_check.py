"""White-blob check for multi-style nets: the share of validation-crop pixels a net paints near
white (all three channels above a threshold), per style, beside the painting's own share.

The multi-style net trained with one style per step, or at lr 1e-3, grew white blobs that no
single-style net has (docs/training_history.md); this is the number that showed it.

    python scripts/blob_check.py runs/multi-20/ckpt.pt [--threshold 0.97] [--data ../shared/data/content]
    python scripts/blob_check.py rtstyle/weights/multi-multi.safetensors
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtstyle import styles  # noqa: E402
from rtstyle.models.transformer import MultiStyleNet  # noqa: E402
from rtstyle.train.data import CropSampler, list_images, split  # noqa: E402
from rtstyle.weights import load_weights  # noqa: E402


def load_net(path: Path) -> tuple[torch.nn.Module, list[str]]:
    if path.suffix == ".pt":   # a training checkpoint (rtstyle.train.loop)
        sd = torch.load(path, map_location="cpu", weights_only=False)["state"]["net"]
        n = sd["stages_in.0.norm.gamma"].shape[0]
        net = MultiStyleNet(n, width=sd["stages_in.0.conv.conv.weight"].shape[0])
        net.load_state_dict(sd)
        names = styles.style_names()
        if len(names) != n:
            raise SystemExit(f"{path} has {n} styles but {len(names)} are bundled; pass a weights file")
        return net.eval(), names
    net, manifest = load_weights(path)
    return net.float().eval(), manifest["styles"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", type=Path)
    ap.add_argument("--threshold", type=float, default=0.97)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "content"))
    ap.add_argument("--crop", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(1)
    net, names = load_net(a.weights)
    _, val = split(list_images(a.data))
    x = CropSampler(val[:18], a.crop, short=int(a.crop * 1.5)).fixed(18)
    photos = (x.min(1).values > a.threshold).float().mean().item() * 100
    shares = []
    print(f"{'style':30} {'net %':>7} {'painting %':>10}")
    with torch.no_grad():
        for i, name in enumerate(names):
            share = (net(x, i).min(1).values > a.threshold).float().mean().item() * 100
            img = cv2.imread(str(styles.style_image(name)))
            own = (img.min(2) > a.threshold * 255).mean() * 100
            shares.append(share)
            print(f"{name:30} {share:7.2f} {own:10.2f}")
    print(f"mean {sum(shares) / len(shares):.3f} % near white (> {a.threshold}) over {len(names)} styles; "
          f"max {max(shares):.2f} %; the photos themselves {photos:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
