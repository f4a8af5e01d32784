"""What to time: the nets (:data:`MODELS`, :func:`model_specs`), the backend variants
(:func:`backend_variants`) and their per-frame inputs, from the ``--models`` / ``--backends`` /
``--sizes`` values."""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..families import ADAIN_CHANNELS, FAMILIES, VECTOR_STYLED

# Sample files of the rtstyle checkout, relative to the folder bench runs in (the package ships none).
SAMPLE_CLIP = Path("samples") / "bunny_4s.mp4"
GATYS_CONTENT = Path("samples") / "landscape_picos_de_europa.jpg"
GATYS_STYLE = "mosaic"
GATYS_REFERENCE_ITERS = 500    # Liu & Shuai 2019, Table 1
DEFAULT_SIZES = (256, 512, 1024)

# name -> (family, architecture): each family at its default architecture (rtstyle.families), plus
# variants. The plain family names take the shipped weights' architecture when there are any (see
# model_specs); the variants are always these.
_VARIANTS = {"compact": {"compact-down": {"width": 64, "n_res": 4, "downsample": True}},
             "depth": {"depth-rt": {"variant": "rt"}}}
MODELS: dict[str, tuple[str, dict]] = {
    name: (fam, config) for fam, f in FAMILIES.items()
    for name, config in {fam: dict(f.default_config), **_VARIANTS.get(fam, {})}.items()}
DEFAULT_MODELS = ("johnson", "compact", "multi", "adain", "depth")


@dataclass
class ModelSpec:
    name: str
    family: str
    config: dict
    weights: Path | None = None

    @property
    def weights_label(self) -> str:
        return f"trained: {self.weights.name}" if self.weights else "random init"

    def build(self):
        """(nn.Module in eval mode, config as the net reports it)."""
        import torch
        from ..weights import build_model, load_weights
        if self.weights is not None:
            model, manifest = load_weights(self.weights)
            return model, manifest["config"]
        torch.manual_seed(0)   # same weights every run: the backends' export cache hits
        model = build_model(self.family, dict(self.config)).eval()
        return model, dict(getattr(model, "config", self.config))


def _unknown(kind: str, name: str, known: list[str], flag: str) -> UserError:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return UserError(f"unknown {kind} {name!r}{hint} ({flag} takes a comma-separated list of: {', '.join(known)})")


def split_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for t in split_list(text):
        if not t.isdigit() or not 8 <= int(t) <= 8192:
            raise UserError(f"--sizes {text!r}: {t!r} is not a frame size; give square sizes in pixels "
                            f"between 8 and 8192, comma-separated (e.g. 256,512)")
        sizes.append(int(t))
    if not sizes:
        raise UserError("--sizes is empty; give e.g. 256,512,1024")
    return list(dict.fromkeys(sizes))


def shipped(family: str) -> list[tuple[Path, dict]]:
    """(weights path, manifest) of each distinct architecture of ``family`` in the weights folders."""
    from ..weights import shipped_manifests
    from ..styles import weights_dirs
    seen, out = set(), []
    for d in weights_dirs():
        for path, manifest in shipped_manifests(d):
            key = json.dumps(manifest["config"], sort_keys=True)
            if manifest["family"] == family and key not in seen:
                seen.add(key)
                out.append((path, manifest))
    return out


def model_specs(names: list[str], random_init: bool = False) -> list[ModelSpec]:
    """The nets to time: for a plain family name, each shipped architecture (random init with
    ``random_init``, or when none is shipped: the default architecture); variants as listed."""
    specs = []
    for name in names:
        if name not in MODELS:
            raise _unknown("model", name, list(MODELS), "--models")
        family, config = MODELS[name]
        found = [] if random_init or name != family else shipped(family)
        if found:
            specs += [ModelSpec(name, family, m["config"], None if random_init else p) for p, m in found]
        else:
            specs.append(ModelSpec(name, family, config))
    return specs


@dataclass(frozen=True)
class Variant:
    backend: str
    precision: str
    mode: str
    options: dict


def openvino_precisions(text: str | None) -> list[str]:
    """--precisions for the openvino rows: default f32, plus bf16 where the CPU has bf16 units."""
    from ..backends.cpu_features import check_precision, detect
    if not text:
        return ["f32", "bf16"] if detect().bf16 else ["f32"]
    out = []
    for t in split_list(text):
        p = check_precision(t)
        if p == "auto":
            raise UserError("--precisions names precisions to time (bf16, f32, int8), not auto")
        out.append(p)
    return list(dict.fromkeys(out))


def backend_variants(names: list[str], compile: bool = False, threads: int | None = None,
                     precisions: list[str] | None = None) -> tuple[list[Variant], list[str]]:
    """(rows to time, notes on requested backends that can't run here); ``threads`` caps
    onnxruntime's and OpenVINO's threads (torch's are process-wide: torch.set_num_threads);
    ``precisions``: the openvino rows (default :func:`openvino_precisions`)."""
    from .. import backends
    out, notes = [], []
    for name in names:
        if name == "auto":
            name = backends.select("auto").name
        spec = backends.spec_named(name)   # UserError with a suggestion for unknown names
        reason = backends.unavailable_reason(spec)
        if reason:
            notes.append(f"backend {spec.name} skipped: {reason}")
            continue
        if spec.name == "torch-cuda":
            import torch
            # cuDNN runs "fp32" convolutions on TF32 tensor cores unless told not to: say which.
            eager = "eager (TF32 convs)" if torch.backends.cudnn.allow_tf32 else "eager"
            out += [Variant(spec.name, "fp32", eager, dict(precision="fp32", channels_last=False, cuda_graphs=False)),
                    Variant(spec.name, "fp16", "channels_last", dict(precision="fp16", channels_last=True, cuda_graphs=False)),
                    Variant(spec.name, "fp16", "channels_last+graphs", dict(precision="fp16", channels_last=True, cuda_graphs=True))]
            if compile:
                out.append(Variant(spec.name, "fp16", "channels_last+compile",
                                   dict(precision="fp16", channels_last=True, cuda_graphs=False, compile=True)))
        elif spec.name == "torch":
            out.append(Variant(spec.name, "fp32", "eager", {}))
        elif spec.name == "onnxruntime":
            out.append(Variant(spec.name, spec.precision, "", {"threads": threads} if threads else {}))
        elif spec.name == "openvino":
            from ..backends.cpu_features import detect
            for p in precisions or openvino_precisions(None):
                if p == "bf16" and not detect().bf16:
                    notes.append(f"openvino bf16 skipped: {detect().name} has no bf16 units")
                    continue
                out.append(Variant(spec.name, p, "CPU", dict(precision=p, **({"threads": threads} if threads else {}))))
        else:
            out.append(Variant(spec.name, spec.precision, "engine" if spec.suffix == ".engine" else "", {}))
    first = {}   # a backend named twice (or as auto) is timed once
    for v in out:
        first.setdefault((v.backend, v.precision, v.mode), v)
    return list(first.values()), notes


def default_backends() -> list[str]:
    from .. import backends
    return [s.name for s in backends.BACKENDS if backends.available(s)]


def extra_inputs(family: str, config: dict, device) -> dict:
    """Per-frame inputs besides the image: a one-hot style row, or AdaIN style statistics."""
    import torch
    g = torch.Generator().manual_seed(0)
    if family in VECTOR_STYLED:
        style = torch.zeros(1, int(config.get("n_styles", 1)))
        style[0, 0] = 1.0
        return {"style": style.to(device)}
    if family == "adain":
        return {"style_mean": torch.rand(1, ADAIN_CHANNELS, 1, 1, generator=g).to(device),
                "style_std": (torch.rand(1, ADAIN_CHANNELS, 1, 1, generator=g) + 0.5).to(device),
                "alpha": torch.ones(1, 1, 1, 1, device=device)}
    return {}

