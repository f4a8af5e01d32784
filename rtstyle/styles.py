"""Style registry: bundled style images and which trained weights can paint each one."""
from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from .weights import WEIGHTS_DIR, shipped_manifests
from .errors import UserError
from .families import ARBITRARY, CPU_TIER, FAMILIES, STYLIZING, VECTOR_STYLED

STYLE_DIR = Path(__file__).resolve().parent / "styles"
PAINTING_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


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


def is_painting_file(name: str) -> bool:
    """True when ``--style`` names an image file of the user's (any painting, for AdaIN) rather
    than a bundled style: it ends in an image suffix or contains a path separator."""
    return name.lower().endswith(PAINTING_SUFFIXES) or os.sep in name or "/" in name


def paintings_in(folder: Path) -> list[str]:
    """The painting files in ``folder`` (sorted), as --style values; a UserError when there are none."""
    found = sorted(str(p) for p in Path(folder).iterdir() if p.suffix.lower() in PAINTING_SUFFIXES)
    if not found:
        raise UserError(f"--style folder {folder} holds no paintings ({', '.join(PAINTING_SUFFIXES)}); "
                        f"put JPEG or PNG files in it")
    return found


def style_image(name: str) -> Path:
    """The image of a style: a bundled painting, or the user's painting file."""
    name = check_style(name)
    return Path(name) if is_painting_file(name) else STYLE_DIR / f"{name}.jpg"


def suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""


def check_style(name: str) -> str:
    """Return ``name`` if it is a bundled style or an existing painting file, else raise a
    UserError (with close matches for names)."""
    if is_painting_file(name):
        path = Path(name)
        if not path.is_file():
            what = "is a folder, not a painting file" if path.is_dir() else "does not exist"
            raise UserError(f"style file {name!r} {what}; give a painting's path (JPEG/PNG) or a bundled "
                            f"style name (rtstyle styles lists them)")
        return name
    known = style_names()
    if name in known:
        return name
    raise UserError(f"unknown style {name!r}; {suggest(name, known)}(rtstyle styles lists the {len(known)} styles)")


def parse_mix(text: str) -> list[tuple[str, float]]:
    """``--style`` text -> [(style, weight)] with the weights normalised to sum 1.

    ``'mosaic'`` -> [('mosaic', 1.0)]; ``'a,b'`` -> equal weights; ``'a:0.7,b:0.3'`` -> those weights
    (any non-negative numbers with a positive sum). Styles of weight 0 are checked, then dropped.
    Raises a one-line UserError for an unknown name (with close matches), a name given twice, a
    weight that is not a number or is negative, weights summing to 0, or an empty entry.
    """
    parts = [p.strip() for p in text.split(",")]
    if any(not p for p in parts):
        raise UserError(f"--style {text!r} has an empty entry; give NAME, or NAME:WEIGHT,NAME:WEIGHT "
                        f"to mix (e.g. great_wave:0.7,poppies:0.3)")
    mix: dict[str, float] = {}
    for part in parts:
        name, sep, num = (s.strip() for s in part.partition(":"))
        check_style(name)
        if name in mix:
            raise UserError(f"style {name!r} is given twice in --style {text!r}; give each style once")
        weight = 1.0
        if sep:
            try:
                weight = float(num)
            except ValueError:
                raise UserError(f"style weight {num!r} of {name!r} is not a number; write NAME:WEIGHT, "
                                f"e.g. {name}:0.5") from None
            if not math.isfinite(weight) or weight < 0:
                raise UserError(f"style weight {num} of {name!r} must be a finite number >= 0 "
                                f"(e.g. {name}:0.5)")
        mix[name] = weight
    total = sum(mix.values())
    if total <= 0:
        raise UserError(f"the style weights of --style {text!r} sum to 0; give at least one a positive weight")
    return [(name, w / total) for name, w in mix.items() if w > 0]


def mix_label(mix: list[tuple[str, float]]) -> str:
    """[('a', 0.7), ('b', 0.3)] -> 'a 70% + b 30%'; one style -> its name."""
    if len(mix) == 1:
        return mix[0][0]
    return " + ".join(f"{name} {100 * w:.0f}%" for name, w in mix)


def can_mix(family: str) -> bool:
    """True when one set of ``family`` weights paints a weighted mix of styles: nets with a
    ``style`` mixing-vector input (conditional instance norm) and arbitrary-style nets (AdaIN
    mixes the styles' feature statistics): rtstyle.families.Family.mixes."""
    return family in FAMILIES and FAMILIES[family].mixes


def weights_dirs() -> list[Path]:
    """Folders searched for weights: those in $RTSTYLE_WEIGHTS (os.pathsep-separated, e.g. your own
    training runs) first, then the shipped ``rtstyle/weights``."""
    extra = [Path(p) for p in os.environ.get("RTSTYLE_WEIGHTS", "").split(os.pathsep) if p]
    return [*extra, WEIGHTS_DIR]


def weights_entries() -> list[WeightsEntry]:
    """Stylizing weights in :func:`weights_dirs` order; a file shadows same-named files of later
    folders (your ``lite-starry_night`` on $RTSTYLE_WEIGHTS is used instead of the shipped one, even
    when it is a wider, costlier net)."""
    seen, out = set(), []
    for d in weights_dirs():
        for p, m in shipped_manifests(d):
            if m["family"] in STYLIZING and p.name not in seen:
                seen.add(p.name)
                out.append(WeightsEntry(m["family"], p, m))
    return out


def entries_for(style: str) -> list[WeightsEntry]:
    """Weights that can paint ``style``: nets trained on it, plus arbitrary-style nets (the only
    ones that paint a painting file)."""
    painting = is_painting_file(style)
    return [e for e in weights_entries() if e.family in ARBITRARY or (not painting and style in e.styles)]


@lru_cache(maxsize=None)
def _macs(family: str, config_key: str) -> int:
    """Conv MACs of a net per 64×64 frame (rtstyle.models.cost): a cheap proxy for speed, once per config."""
    from .models.cost import conv_macs
    return conv_macs(family, json.loads(config_key))


def cost(entry: WeightsEntry) -> int:
    return _macs(entry.family, json.dumps(entry.manifest["config"], sort_keys=True))


def _best(found: list[WeightsEntry], gpu: bool) -> WeightsEntry:
    """An entry of the family with the cheapest net (conv MACs). On a GPU, where every family is
    fast, a net of the style's own comes first, then the full nets before their CPU-tier copies:
    a shared net spends its weights on every style it paints, and on all 15 styles whose only full
    net is the shared multi-style one, the style's own lite net has 10–69 % less style loss at the
    photos' real size (docs/training.md, "On a GPU: a style's own net first"). Within that family a
    net trained for fewer styles comes first, even when it is wider (a single-style net spends all
    its weights on the one painting), then the cheaper one, then the file name."""
    if gpu:
        own = [e for e in found if len(e.styles) == 1]
        found = own or found
        if any(e.family not in CPU_TIER for e in found):
            found = [e for e in found if e.family not in CPU_TIER]
    family = min(found, key=lambda e: (cost(e), len(e.styles), e.path.name)).family
    return min((e for e in found if e.family == family), key=lambda e: (len(e.styles), cost(e), e.path.name))


def choose(style: str, family: str | None = None, gpu: bool = False) -> WeightsEntry:
    """The weights to paint ``style``: the requested family, or the cheapest net that has it
    (with ``gpu``: a net of the style's own first, full nets before the CPU tier, see :func:`_best`).

    ``style`` may be a mixture (``'a:0.7,b:0.3'``, see :func:`parse_mix`): then the weights must
    paint every named style and be able to mix them (:func:`can_mix`).
    """
    names = [name for name, _ in parse_mix(style)]
    if len(names) > 1:
        return _choose_mix(style, names, family, gpu)
    style = names[0]
    found = entries_for(style)
    if family is not None:
        _check_family(family)
        found = [e for e in found if e.family == family]
        if not found and is_painting_file(style):
            raise UserError(f"--model {family} paints only the styles it was trained on; a painting file "
                            f"({style}) needs --model {' or '.join(ARBITRARY)} (arbitrary style)")
        if not found:
            have = sorted({e.family for e in entries_for(style)})
            alt = f"families with weights for it: {', '.join(have)}" if have else "no family has weights for it yet"
            raise UserError(f"style {style!r} has no trained {family} weights; {alt} "
                            f"(rtstyle styles shows what is trained; rtstyle train makes more)")
    if not found and is_painting_file(style):
        raise UserError(f"painting file {style!r} needs arbitrary-style weights ({', '.join(ARBITRARY)}), and "
                        f"none are installed; train them with 'rtstyle train adain --data DIR'")
    if not found:
        raise UserError(f"style {style!r} has no trained weights yet; rtstyle styles lists the styles "
                        f"that have them, and 'rtstyle train transformer --style {style}' trains one")
    return _best(found, gpu)


def _check_family(family: str) -> None:
    if family not in STYLIZING:
        raise UserError(f"unknown model family {family!r}; {suggest(family, list(STYLIZING))}"
                        f"choose one of {', '.join(STYLIZING)}")


def _choose_mix(text: str, names: list[str], family: str | None, gpu: bool = False) -> WeightsEntry:
    mixing = [f for f in STYLIZING if can_mix(f)]
    if family is not None:
        _check_family(family)
        if not can_mix(family):
            raise UserError(f"--model {family} paints one style per weights file and cannot mix "
                            f"{text!r}; families that mix: {', '.join(mixing)}")
    painting = any(is_painting_file(n) for n in names)
    found = [e for e in weights_entries() if can_mix(e.family)
             and (e.family in ARBITRARY or (not painting and set(names) <= set(e.styles)))
             and (family is None or e.family == family)]
    if not found:
        which = f"{family} weights" if family else f"weights of a family that mixes ({', '.join(mixing)})"
        raise UserError(f"no trained {which} paint all of {', '.join(names)}; a mixture needs one net "
                        f"that knows every style (rtstyle styles shows what is trained)")
    return _best(found, gpu)


def trained_styles() -> list[str]:
    """Styles that some non-lite trained net paints (AdaIN, if trained, paints them all)."""
    entries = [e for e in weights_entries() if e.family != "lite"]
    if any(e.family in ARBITRARY for e in entries):
        return style_names()
    return sorted({s for e in entries for s in e.styles})


def adain_style_stats(decoder: torch.nn.Module, name: str, short: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """AdaIN: the relu4_1 mean and std of style image ``name`` (a bundled name or a painting file),
    read at ``short`` px on its short side if given: two (1, 512, 1, 1) float32 (CPU)."""
    from .io.images import read_image
    from .weights import adain_net
    from .ops import to_tensor
    rgb, _ = read_image(style_image(name))
    if short:
        import cv2
        f = short / min(rgb.shape[:2])
        rgb = cv2.resize(rgb, (max(16, round(rgb.shape[1] * f)), max(16, round(rgb.shape[0] * f))),
                         interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    with torch.no_grad():
        return adain_net(decoder).style_stats(to_tensor(rgb))


def style_inputs(entry: WeightsEntry, mix: list[tuple[str, float]], model: torch.nn.Module,
                 stats=adain_style_stats) -> dict[str, torch.Tensor]:
    """The inputs besides the image with which ``entry``'s net (``model``, as loaded) paints ``mix``
    ([(style, weight)], :func:`parse_mix`), batch 1 on the CPU: a style-mixing vector for the
    conditional-norm families, mixed relu4_1 statistics (and alpha 1) for AdaIN, none otherwise.
    ``stats(model, name)``: AdaIN statistics of one style (a caller may cache them)."""
    if entry.family in VECTOR_STYLED:
        # conditional norms: (γ, β) = w·Γ, w·B; one-hot w picks a style, a weighted w mixes them
        vec = torch.zeros(1, len(entry.styles))
        for name, w in mix:
            vec[0, entry.styles.index(name)] = w
        return {"style": vec}
    if entry.family in ARBITRARY:
        from .models.adain import mix_stats
        # AdaIN(f_c, s) = σ_s·n + μ_s with n = (f_c − μ_c)/σ_c is affine in (σ_s, μ_s), so the
        # weighted mean of the styles' (μ, σ) gives exactly Σ w_k·AdaIN(f_c, s_k): the mix of the
        # per-style feature targets (before the decoder, which is not linear).
        mean, std = mix_stats([stats(model, name) for name, _ in mix], [w for _, w in mix])
        return {"style_mean": mean, "style_std": std, "alpha": torch.ones(1, 1, 1, 1)}
    return {}
