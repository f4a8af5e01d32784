"""``rtstyle depth``: relative depth of an image (its parser and run live in rtstyle.depth.cli for now)."""
from __future__ import annotations

from ..depth import cli as depth_cli


def register(sub) -> None:
    depth_cli.register(sub)
