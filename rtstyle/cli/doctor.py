"""``rtstyle doctor``: GPU, driver, library versions, backends, cached exports, weights."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("doctor", help="GPU, driver, library versions, backends, cached exports, weights")
    p.set_defaults(func=run)


def run(a) -> int:
    from .. import doctor
    doctor.report()
    return 0
