"""int8 post-training quantization of an rtstyle net for OpenVINO, with NNCF, calibrated on photos.

Calibration set: square crops (and their mirror images) of the photos in ``$RTSTYLE_CALIBRATION``
(a folder), else the repository's ``samples/`` photos, resized to :data:`CALIBRATION_SIZE`, with
the family's other inputs: one-hot rows cycling through the styles (multi, lite), the VGG relu4_1
statistics of the bundled paintings (AdaIN), alpha 1. Its digest (the exact arrays) and the NNCF
version go into the compiled-model cache key, so a changed set is quantized again.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..families import VECTOR_STYLED

CALIBRATION_SIZE = 256
CROPS_PER_PHOTO = 4            # with mirrors: 8 samples per photo
MAX_SAMPLES = 64
_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def calibration_photos(folder=None) -> list[Path]:
    """The photos to calibrate on: ``folder``, else ``$RTSTYLE_CALIBRATION``, else samples/."""
    where = folder or os.environ.get("RTSTYLE_CALIBRATION") or SAMPLES
    d = Path(where)
    photos = sorted(p for p in d.glob("*") if p.suffix.lower() in _PHOTO_SUFFIXES) if d.is_dir() else []
    if not photos:
        raise UserError(f"--precision int8 calibrates on photos, and {d} has none (.jpg/.png); set "
                        f"RTSTYLE_CALIBRATION to a folder of photos, or use --precision auto", exit_code=1)
    return photos


@functools.lru_cache(maxsize=8)
def _images(folder: str | None) -> tuple[np.ndarray, ...]:
    """(1, 3, S, S) float32 [0, 1] crops of the calibration photos (deterministic)."""
    import cv2
    photos = calibration_photos(folder)
    per = max(1, min(CROPS_PER_PHOTO, MAX_SAMPLES // (2 * len(photos))))
    rng = np.random.default_rng(0)
    out = []
    for p in photos:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        for _ in range(per):
            s = int(min(h, w) * rng.uniform(0.5, 1.0))
            y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            crop = cv2.resize(rgb[y:y + s, x:x + s], (CALIBRATION_SIZE, CALIBRATION_SIZE),
                              interpolation=cv2.INTER_AREA)
            for img in (crop, crop[:, ::-1]):
                out.append(np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0)
    if not out:
        raise UserError(f"none of the calibration photos in {photos[0].parent} could be read", exit_code=1)
    return tuple(out[:MAX_SAMPLES])


@functools.lru_cache(maxsize=2)
def _adain_stats(n: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """relu4_1 (mean, std) of the first ``n`` bundled paintings, each two (1, 512, 1, 1)."""
    import torch

    from .. import styles
    from ..io.images import read_image
    from ..weights import adain_net
    from ..ops import to_tensor
    net = adain_net().eval()
    out = []
    for name in styles.style_names()[:n]:
        rgb, _ = read_image(styles.style_image(name))
        img = to_tensor(rgb)
        img = torch.nn.functional.interpolate(img, size=(256, 256), mode="area")
        with torch.no_grad():
            mean, std = net.style_stats(img)
        out.append((mean.numpy(), std.numpy()))
    return tuple(out)


def calibration_items(family: str, meta: dict, folder=None) -> list[dict]:
    """Inputs for each calibration sample, keyed by the ONNX input names."""
    images = _images(str(folder) if folder else None)
    items = []
    for i, img in enumerate(images):
        item = {"image": img}
        if family in VECTOR_STYLED:
            n = max(1, len(meta.get("styles") or []) or int((meta.get("config") or {}).get("n_styles", 1)))
            row = np.zeros((1, n), np.float32)
            row[0, i % n] = 1.0
            item["style"] = row
        elif family == "adain":
            stats = _adain_stats(8)
            item["style_mean"], item["style_std"] = stats[i % len(stats)]
            item["alpha"] = np.ones((1, 1, 1, 1), np.float32)
        items.append(item)
    return items


def _nncf():
    try:
        import nncf
    except ImportError as exc:
        raise UserError("--precision int8 needs the nncf package (pip install 'rtstyle[int8]'); or use "
                        "--precision auto", exit_code=1) from exc
    return nncf


def key_parts(family: str, folder=None) -> dict:
    """The calibration set's digest and NNCF's version, for the compiled-model cache key."""
    nncf = _nncf()
    h = hashlib.sha256(family.encode())
    for img in _images(str(folder) if folder else None):
        h.update(img.tobytes())
    return {"calibration_sha256": h.hexdigest(), "nncf_version": nncf.__version__,
            "calibration_size": CALIBRATION_SIZE}


def quantize(model, family: str, meta: dict, folder=None):
    """An int8 copy of the OpenVINO ``model`` (NNCF post-training quantization, mixed preset)."""
    nncf = _nncf()
    items = calibration_items(family, meta, folder)
    n_inputs = len(model.inputs)
    names = [p.get_any_name() for p in model.inputs]
    if n_inputs != len(items[0]):
        raise UserError(f"int8 calibration for a {family!r} net gave inputs {list(items[0])}, the model takes {names}",
                        exit_code=1)
    dataset = nncf.Dataset(items, lambda item: {n: item[n] for n in names})
    return nncf.quantize(model, dataset, subset_size=len(items), preset=nncf.QuantizationPreset.MIXED,
                         fast_bias_correction=True)
