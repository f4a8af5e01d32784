"""Model families in one torch-free table: what each net is for and what its exported graph takes.

argparse lists the names from here cheaply; rtstyle.weights builds the nets, rtstyle.export names
the ONNX inputs/outputs, rtstyle.backends checks a file's metadata, rtstyle.styles chooses
weights and rtstyle.bench picks default architectures, all from :data:`FAMILIES`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UserError

IMAGE_RANGE = "[0,1] float32 RGB"


@dataclass(frozen=True)
class Family:
    name: str
    inputs: tuple[str, ...]            # ONNX input names, in forward() argument order
    output: str = "stylized"           # ONNX output name (ONNX forbids reusing an input's name)
    output_range: str = IMAGE_RANGE
    stylizing: bool = True             # paints a style (rtstyle.styles.choose picks among their weights)
    arbitrary: bool = False            # one set of weights paints any style image
    cpu_tier: bool = False             # a distilled copy made for CPUs: chosen on a GPU only when asked for
    default_config: dict = field(default_factory=dict)   # the architecture timed when no weights ship
    # px of mirrored edge painted around each frame and cut off (ops.paint_with_margin): the lite
    # convs pad with zeros and paint a dark frame at the edge without it (docs/training.md, "Edges")
    edge_margin: int = 0

    @property
    def vector_styled(self) -> bool:
        """One conditional-norm row per style, picked (or mixed) by a ``style`` vector input."""
        return "style" in self.inputs

    @property
    def mixes(self) -> bool:
        """One set of weights paints a weighted mix of styles (style vector, or AdaIN statistics)."""
        return self.arbitrary or self.vector_styled


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("johnson", ("image",), default_config={"width": 32, "n_res": 5}),
    # compact at full resolution, as Liu & Shuai 2019 describe it (bench also times a downsampled one)
    Family("compact", ("image",), default_config={"width": 64, "n_res": 4, "downsample": False}),
    # 20 = the bundled styles
    Family("multi", ("image", "style"), default_config={"n_styles": 20, "width": 32, "n_res": 5}),
    Family("lite", ("image", "style"), cpu_tier=True, default_config={"n_styles": 20, "width": 16, "n_res": 4},
           edge_margin=16),
    # the decoder; the frozen VGG19 relu4_1 encoder runs in front of it (rtstyle.export.onnx.family_net)
    Family("adain", ("image", "style_mean", "style_std", "alpha"), arbitrary=True,
           default_config={"width_scale": 1.0}),
    Family("depth", ("image",), "depth", "relative depth (N,1,H,W) float32, larger = farther", stylizing=False,
           default_config={"variant": "full"}),
)}

STYLIZING = tuple(n for n, f in FAMILIES.items() if f.stylizing)
ARBITRARY = tuple(n for n, f in FAMILIES.items() if f.arbitrary)
VECTOR_STYLED = tuple(n for n, f in FAMILIES.items() if f.vector_styled)
CPU_TIER = tuple(n for n, f in FAMILIES.items() if f.cpu_tier)
# Teachers for the lite family's distillation, best first (rtstyle.train.distill).
TEACHER_ORDER = ("multi", "johnson", "compact", "adain")


def weights_stem(family: str, styles: list[str]) -> str:
    """The shipped file stem of a trained net: multi-multi, lite-multi (several styles), else
    <family>-<style>."""
    return f"{family}-{'multi' if family == 'multi' or len(styles) > 1 else styles[0]}"
ADAIN_CHANNELS = 512   # VGG19 relu4_1: the size of AdaIN's style_mean / style_std inputs


def family(name: str) -> Family:
    """The table row of ``name``; a one-line UserError naming the known families otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise UserError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}") from None


def net_margin(name: str, manifest: dict) -> int:
    """The mirrored edge margin (px) a net is painted over: its family's ``edge_margin`` or the
    ``margin`` its weights were trained with (manifest), whichever is larger."""
    return max(family(name).edge_margin, int(manifest.get("margin", 0) or 0))
