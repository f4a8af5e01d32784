"""Style registry: bundled style images and which trained weights can paint each one."""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from .checkpoints import WEIGHTS_DIR, build_model, shipped_manifests
from .errors import UserError

STYLE_DIR = Path(__file__).resolve().parent / "styles"
# Families whose one set of weights paints any style image (arbitrary style transfer).
ARBITRARY = ("adain",)
STYLIZING = ("johnson", "compact", "multi", "adain")


@dataclass(frozen=True)
class WeightsEntry:
    family: str
    path: Path
    manifest: dict

    @property
    def styles(self) -> list[str]:
        return list(self.manifest.get("styles", []))


def style_names() -> list[str]:
    return sorted(p.stem for p in STYLE_DIR.glob("*.jpg"))


def style_image(name: str) -> Path:
    return STYLE_DIR / f"{check_style(name)}.jpg"


def suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""


def check_style(name: str) -> str:
    """Return ``name`` if it is a bundled style, else raise a UserError with close matches."""
    known = style_names()
    if name in known:
        return name
    raise UserError(f"unknown style {name!r}; {suggest(name, known)}(rtstyle styles lists the {len(known)} styles)")


def weights_dirs() -> list[Path]:
    """Folders searched for weights: those in $RTSTYLE_WEIGHTS (os.pathsep-separated, e.g. your own
    training runs) first, then the shipped ``rtstyle/weights``."""
    extra = [Path(p) for p in os.environ.get("RTSTYLE_WEIGHTS", "").split(os.pathsep) if p]
    return [*extra, WEIGHTS_DIR]


def weights_entries() -> list[WeightsEntry]:
    return [WeightsEntry(m["family"], p, m) for d in weights_dirs() for p, m in shipped_manifests(d)
            if m["family"] in STYLIZING]


def entries_for(style: str) -> list[WeightsEntry]:
    """Weights that can paint ``style``: nets trained on it, plus arbitrary-style nets."""
    return [e for e in weights_entries() if e.family in ARBITRARY or style in e.styles]


def _count_macs(module: torch.nn.Module, run) -> int:
    """Multiply-accumulates of the Conv2d layers of ``module`` during ``run()``."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        total += out.numel() * mod.weight[0].numel()

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return total


@lru_cache(maxsize=None)
def _macs(family: str, config_key: str) -> int:
    """Conv MACs of a net per 64×64 frame: a cheap proxy for speed, counted once per config."""
    import json
    net = build_model(family, json.loads(config_key)).eval()
    x = torch.rand(1, 3, 64, 64)
    if family == "multi":
        return _count_macs(net, lambda: net(x, 0))
    if family == "adain":  # the VGG encoder runs on every frame too
        from .models.vgg import VGG19Features
        enc = VGG19Features("relu4_1")
        return _count_macs(enc, lambda: enc(x, ["relu4_1"])) + _count_macs(net, lambda: net(torch.rand(1, 512, 8, 8)))
    return _count_macs(net, lambda: net(x))


def cost(entry: WeightsEntry) -> int:
    import json
    return _macs(entry.family, json.dumps(entry.manifest["config"], sort_keys=True))


def choose(style: str, family: str | None = None) -> WeightsEntry:
    """The weights to paint ``style``: the requested family, or the cheapest net that has it."""
    check_style(style)
    found = entries_for(style)
    if family is not None:
        if family not in STYLIZING:
            raise UserError(f"unknown model family {family!r}; {suggest(family, list(STYLIZING))}"
                            f"choose one of {', '.join(STYLIZING)}")
        found = [e for e in found if e.family == family]
        if not found:
            have = sorted({e.family for e in entries_for(style)})
            alt = f"families with weights for it: {', '.join(have)}" if have else "no family has weights for it yet"
            raise UserError(f"style {style!r} has no trained {family} weights; {alt} "
                            f"(rtstyle styles shows what is trained; rtstyle train makes more)")
    if not found:
        raise UserError(f"style {style!r} has no trained weights yet; rtstyle styles lists the styles "
                        f"that have them, and 'rtstyle train transformer --style {style}' trains one")
    return min(found, key=lambda e: (cost(e), e.path.name))
