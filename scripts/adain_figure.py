"""docs/adain_unseen.jpg: the AdaIN decoder on the paintings it never saw in training (the
manifest's held_out_styles), beside two it did see, on the same three photos.

    python scripts/adain_figure.py [--size 160] [--out docs/adain_unseen.jpg]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtstyle import styles  # noqa: E402
from rtstyle.io.images import read_image, write_image  # noqa: E402
from rtstyle.pipeline.stylizer import Stylizer  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from gallery import PHOTOS, fit, label  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--seen", default="starry_night,mosaic", help="paintings it trained on, for comparison")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "adain_unseen.jpg")
    a = ap.parse_args()
    entry = styles.choose("mosaic", "adain")
    unseen = entry.manifest.get("held_out_styles", [])
    if not unseen:
        print(f"{entry.path.name} records no held-out paintings")
        return 1
    photos = [fit(read_image(ROOT / "samples" / p)[0], a.size) for p in PHOTOS]
    rows = [np.concatenate([np.full((a.size, a.size, 3), 255, np.uint8)] + photos, axis=1)]
    with Stylizer(unseen[0], "adain", "auto") as st:
        for name, seen in [(n, False) for n in unseen] + [(n, True) for n in a.seen.split(",")]:
            st.set_style(name)
            outs = [st.frame(p) for p in photos]
            tag = "seen in training" if seen else "never seen"
            rows.append(np.concatenate([label(fit(read_image(styles.style_image(name))[0], a.size),
                                              f"{name} ({tag})")] + outs, axis=1))
    write_image(a.out, np.concatenate(rows, axis=0))
    print(f"wrote {a.out}: {entry.path.name}, {entry.manifest.get('iterations')} steps; unseen {unseen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
