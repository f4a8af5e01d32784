"""Content and style ratios at a photo's real size for each --style-scale, per trained net (no Gatys).

    python scripts/style_scale_sweep.py --styles mosaic,starry_night [--photo samples/X.jpg] [--json FILE]

Shows whether the default stroke size (``--style-scale`` unset: the net paints at
2 x its training photos' short side, rtstyle.sizes.working_short) is where a net comes closest to
the painting by rtstyle.bench.quality's style ratio. Inference only: a few seconds per row on a CPU.
To score a training run's weights, put its folder first: RTSTYLE_WEIGHTS=runs/NAME.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtstyle import ops, styles  # noqa: E402
from rtstyle.bench.quality import Scorer, _load  # noqa: E402
from rtstyle.pipeline.stylizer import Stylizer  # noqa: E402

SCALES = [None, 0.5, 1.0, 1.5, 2.0, 3.0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--styles", default="mosaic,starry_night")
    ap.add_argument("--photo", type=Path, default=ROOT / "samples" / "landscape_picos_de_europa.jpg")
    ap.add_argument("--families", default="", help="comma-separated (default: every trained feed-forward family)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    x = _load(a.photo, 0)
    rows = []
    for style in a.styles.split(","):
        scorer = Scorer(style)
        fams = a.families.split(",") if a.families else \
            list(dict.fromkeys(e.family for e in styles.entries_for(style) if e.family != "adain"))
        for fam in fams:
            for s in SCALES:
                st = Stylizer(style, fam, backend="torch", style_scale=s)
                c, sy, _ = scorer.score(ops.to_tensor(st.frame(ops.to_uint8(x))), x)
                rows.append({"style": style, "family": fam, "style_scale": s, "content": round(c, 4),
                             "style_ratio": round(sy, 4), "weights": st.entry.path.name,
                             "weights_dir": st.entry.path.parent.name})
                print(f"{style:<28} {fam:<8} --style-scale {s!s:<5} content {c:.3f}  style {sy:.3f}", flush=True)
                st.close()
    if a.json:
        a.json.write_text(json.dumps({"photo": a.photo.name, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
