"""docs/cpu.png and docs/cpu_quality.md: the lite net next to the teacher it was distilled from.

For every style the shipped lite weights paint: the three sample photos, the teacher's output and
the lite net's output side by side, plus the relative content/style losses of both
(rtstyle.bench.quality; lower is closer to the photo / the painting) and the mean absolute difference
between the two outputs in 8-bit levels.

    python scripts/cpu_figure.py [--size 256]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from gallery import PHOTOS, fit, label  # noqa: E402
from rtstyle import styles  # noqa: E402
from rtstyle.bench import quality as evaluate  # noqa: E402
from rtstyle.io.images import read_image, write_image  # noqa: E402
from rtstyle.pipeline.stylizer import Stylizer  # noqa: E402


def lite_styles() -> list[str]:
    return sorted({s for e in styles.weights_entries() if e.family == "lite" for s in e.styles})


def teacher_family(style: str) -> str:
    from rtstyle.families import TEACHER_ORDER
    have = {e.family for e in styles.entries_for(style)}
    return next(f for f in TEACHER_ORDER if f in have)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "cpu.png")
    ap.add_argument("--table", type=Path, default=ROOT / "docs" / "cpu_quality.md")
    a = ap.parse_args()
    torch.set_num_threads(1)
    names = lite_styles()
    if not names:
        print("no lite weights installed (rtstyle train lite makes them)", file=sys.stderr)
        return 2
    photos = [fit(read_image(ROOT / "samples" / p)[0], a.size) for p in PHOTOS]
    rows, lines = [], ["| style | photo | teacher content ↓ | lite content ↓ | teacher style ↓ | lite style ↓ | "
                       "mean abs diff (levels) |", "|---|---|---|---|---|---|---|"]
    for name in names:
        fam = teacher_family(name)
        with Stylizer(name, fam, backend="torch") as teacher, Stylizer(name, "lite", backend="onnxruntime") as lite:
            scorer = evaluate.Scorer(name)
            for p, rgb in zip(PHOTOS, photos):
                t, li = teacher.frame(rgb), lite.frame(rgb)
                x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
                st = [scorer.score(torch.from_numpy(o).permute(2, 0, 1)[None].float() / 255, x) for o in (t, li)]
                diff = np.abs(t.astype(np.int16) - li.astype(np.int16)).mean()
                lines.append(f"| {name} | {p} | {st[0][0]:.3f} | {st[1][0]:.3f} | {st[0][1]:.3f} | {st[1][1]:.3f} | "
                             f"{diff:.1f} |")
                rows.append(np.concatenate([label(rgb, p.split('.')[0][:28]), label(t, f"teacher: {fam} {name}"),
                                            label(li, f"lite {name}")], axis=1))
    write_image(a.out, np.concatenate(rows, axis=0))
    a.table.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {a.out} and {a.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
