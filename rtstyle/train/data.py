"""Training data: a folder of photos -> random crops with flips and scale jitter."""
from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import torch

from ..ops import to_tensor

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}

# The photos of samples/ that the quality evaluation scores (docs/training.md) were made from these
# training photos (samples/make_samples.py); the style trainers leave them and their crops out, so
# nets trained from now on are scored on photos they never saw.
EVAL_PHOTO_BASES = frozenset({"lomiri_picosdeeuropa", "gcompris_red_panda", "matplotlib_grace_hopper"})


def list_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"training data folder {folder} does not exist; pass --data DIR with photos in it")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return files


def split(files: list[Path], val_every: int = 20) -> tuple[list[Path], list[Path]]:
    """Deterministic hold-out: every ``val_every``-th file (sorted by name) is validation."""
    val = files[::val_every]
    train = [f for i, f in enumerate(files) if i % val_every]
    return train, val


def training_split(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """(train, validation) photos of ``folder`` for the style trainers: :func:`split`, then the
    photos of :data:`EVAL_PHOTO_BASES` and their crops dropped (after the split, so every other
    photo keeps its side)."""
    from ..bench.depth.heldout import base_name
    train, val = split(list_images(folder))
    keep = [f for f in train if base_name(f) not in EVAL_PHOTO_BASES]
    return keep, [f for f in val if base_name(f) not in EVAL_PHOTO_BASES]


def _read_rgb(path: Path, short: int) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot decode training image {path}")
    h, w = img.shape[:2]
    s = short / min(h, w)
    img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class CropSampler:
    """Photos held in memory at ``short`` px on the short side; ``batch()`` draws random crops.

    Each crop: a random scale in [``crop``/short·1, ``scale_max``] of the stored image, a random
    ``crop``×``crop`` window, a random horizontal flip. Returns (B, 3, crop, crop) float in [0, 1].
    """

    def __init__(self, files: list[Path], crop: int, short: int | None = None, scale_max: float = 1.0,
                 seed: int = 0):
        self.crop = crop
        self.short = short or 2 * crop
        self.scale_max = scale_max
        self.images = [_read_rgb(f, self.short) for f in files]
        self.rng = random.Random(seed)

    def _one(self) -> np.ndarray:
        img = self.images[self.rng.randrange(len(self.images))]
        h, w = img.shape[:2]
        lo = self.crop / min(h, w)
        s = self.rng.uniform(lo, max(lo, self.scale_max))
        if abs(s - 1.0) > 1e-3:
            img = cv2.resize(img, (max(self.crop, round(w * s)), max(self.crop, round(h * s))),
                             interpolation=cv2.INTER_AREA)
            h, w = img.shape[:2]
        y = self.rng.randrange(h - self.crop + 1)
        x = self.rng.randrange(w - self.crop + 1)
        out = img[y:y + self.crop, x:x + self.crop]
        return out[:, ::-1] if self.rng.random() < 0.5 else out

    def batch(self, n: int) -> torch.Tensor:
        return to_tensor(np.stack([self._one() for _ in range(n)]))

    def fixed(self, n: int) -> torch.Tensor:
        """Deterministic centre crops of the first ``n`` images (validation and sample grids)."""
        out = []
        for img in self.images[:n]:
            h, w = img.shape[:2]
            y, x = (h - self.crop) // 2, (w - self.crop) // 2
            out.append(img[y:y + self.crop, x:x + self.crop])
        return to_tensor(np.stack(out))


def load_style(path: str | Path, short: int) -> torch.Tensor:
    """Style image at ``short`` px on its short side -> (1, 3, H, W) float in [0, 1]."""
    return to_tensor(_read_rgb(Path(path), short))
