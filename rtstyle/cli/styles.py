"""``rtstyle styles``: the bundled styles and which families have trained weights for each."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("styles", help="list the bundled styles and which have trained weights")
    p.set_defaults(func=run)


def run(a) -> int:
    from ..pipeline import jobs
    jobs.list_styles()
    return 0
