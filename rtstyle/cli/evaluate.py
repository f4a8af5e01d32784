"""``rtstyle eval``: quality numbers of a trained net against Gatys on photos."""
from __future__ import annotations

from pathlib import Path

from ..families import STYLIZING


def register(sub) -> None:
    p = sub.add_parser("eval", help="quality numbers: a trained net vs Gatys on photos (content/style/shift losses)")
    p.add_argument("photos", nargs="+", type=Path, metavar="PHOTO")
    p.add_argument("--style", required=True)
    p.add_argument("--model", dest="family", default=None, choices=STYLIZING)
    p.add_argument("--size", type=int, default=256, help="short side of the evaluated images (0 = each photo's real size)")
    p.add_argument("--gatys-iters", type=int, default=500, help="Gatys iterations for the baseline (0 = skip)")
    p.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")
    p.set_defaults(func=run)


def run(a) -> int:
    from ..bench import quality
    from ..files import check_input
    for ph in a.photos:
        check_input(ph, "photo")
    scores = quality.evaluate(a.photos, a.style, a.family, a.size, a.gatys_iters)
    text = quality.table(scores)
    print(text)
    if a.markdown:
        a.markdown.write_text(text + "\n")
    return 0
