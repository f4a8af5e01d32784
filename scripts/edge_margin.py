"""What a net's edge band is worth: content and style loss (rtstyle.bench.quality.Scorer, the photo at
its real size) of the Stylizer's output over mirrored edge margins of M px (rtstyle.ops.paint_with_margin).

A net that paints a frame at the edge scores a lower style loss with it (M = 0) than without it; the
numbers of docs/training.md, "Edges", come from here:

    python scripts/edge_margin.py --style starry_night --model lite --margins 0,8,16 \\
        --photos landscape_picos_de_europa.jpg,street_pedestrians.jpg
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from rtstyle import ops
from rtstyle.bench.quality import Scorer, _load
from rtstyle.pipeline.stylizer import Stylizer

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--style", required=True)
    ap.add_argument("--model", default="lite")
    ap.add_argument("--margins", default="0,16", help="comma-separated margins in px")
    ap.add_argument("--photos", default="landscape_picos_de_europa.jpg,street_pedestrians.jpg,animal_red_panda.jpg",
                    help="comma-separated files of samples/")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    scorer = Scorer(a.style)
    margins = [int(m) for m in a.margins.split(",")]
    stylizers = {m: Stylizer(a.style, a.model, backend="torch", margin=m) for m in margins}
    print(f"{a.model} {a.style} ({stylizers[margins[0]].entry.path.name})")
    for photo in a.photos.split(","):
        x = _load(SAMPLES / photo, 0)
        for m, st in stylizers.items():
            y = ops.to_tensor(st.frame(ops.to_uint8(x)))
            c, s, _ = scorer.score(y, x)
            print(f"{photo:32} margin {m:3}  content {c:.3f}  style {s:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
