"""What a net costs to run, without weights: conv multiply-accumulates counted on the meta device."""
from __future__ import annotations

import torch

from ..families import FAMILIES


def count_macs(module: torch.nn.Module, run) -> int:
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


def conv_macs(family: str, config: dict, size: int = 64) -> int:
    """Conv MACs of ``family``'s net with ``config`` per ``size``² frame, AdaIN's VGG19 encoder
    included (it runs on every frame too). Built on the meta device: nothing is allocated or loaded."""
    from . import NETS
    from .vgg import VGG19Features
    with torch.device("meta"):
        net = NETS[family](**config).eval()
        x = torch.empty(1, 3, size, size)
        if FAMILIES[family].vector_styled:
            return count_macs(net, lambda: net(x, 0))
        if FAMILIES[family].arbitrary:   # the decoder runs on relu4_1 features (1/8 resolution)
            enc = VGG19Features("relu4_1")
            feat = torch.empty(1, 512, size // 8, size // 8)
            return count_macs(enc, lambda: enc(x, ["relu4_1"])) + count_macs(net, lambda: net(feat))
        return count_macs(net, lambda: net(x))
