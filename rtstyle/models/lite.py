"""The lite family: a small multi-style transformer for real time on a CPU.

Measured in onnxruntime on the 2-core dev machine (docs/cpu.md), three choices make it fast:

- the first conv is a 3×3 stride-2 conv (not Johnson's 9×9 at full resolution, which alone costs
  ~7.8 k MACs per pixel), so nothing but the last conv touches full resolution;
- the residual blocks run at ¼ resolution with ``2·width`` channels (32 at the default width 16);
- convs pad with zeros inside the conv (no separate reflection-pad op and copy per layer).

Style conditioning is the multi-style net's: conditional instance norm, one (γ, β) row per style,
mixed by a style vector — so styles switch (and mix) per frame at no cost. It is trained by
distillation from teacher nets (rtstyle.train.distill), not from VGG losses alone.

(N,3,H,W) RGB float [0, 1] of any H, W -> the same; ``style``: an index or (S,)/(N, S) weights.
"""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from ..ops import crop_to, pad_to_multiple
from .transformer import CondInstanceNorm, _out, style_vector


class _CondConv(nn.Module):
    """conv (zero-padded) -> conditional instance norm -> ReLU; ``up`` first doubles the size."""

    def __init__(self, cin: int, cout: int, n_styles: int, stride: int = 1, up: bool = False):
        super().__init__()
        self.up = up
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1)
        self.norm = CondInstanceNorm(cout, n_styles)

    def forward(self, x, style):
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.relu(self.norm(self.conv(x), style))


class _Residual(nn.Module):
    def __init__(self, ch: int, n_styles: int):
        super().__init__()
        self.c1, self.n1 = nn.Conv2d(ch, ch, 3, 1, 1), CondInstanceNorm(ch, n_styles)
        self.c2, self.n2 = nn.Conv2d(ch, ch, 3, 1, 1), CondInstanceNorm(ch, n_styles)

    def forward(self, x, style):
        return x + self.n2(self.c2(F.relu(self.n1(self.c1(x), style))), style)


class LiteNet(nn.Module):
    """3×3/2 w → 3×3/2 2w → ``n_res`` residual blocks (2w, ¼ res) → up 3×3 w → up 3×3 → 3.

    All norms are conditional instance norms over ``n_styles`` styles; ``styles`` (names) is kept
    in the manifest, not here. ``forward(x, style=0)`` as :class:`MultiStyleNet`.
    """

    multiple = 4
    min_size = 8

    def __init__(self, n_styles: int, width: int = 16, n_res: int = 4):
        super().__init__()
        w = width
        self.n_styles = n_styles
        self.down = nn.ModuleList([_CondConv(3, w, n_styles, 2), _CondConv(w, 2 * w, n_styles, 2)])
        self.blocks = nn.ModuleList(_Residual(2 * w, n_styles) for _ in range(n_res))
        self.up = _CondConv(2 * w, w, n_styles, up=True)
        self.head = nn.Conv2d(w, 3, 3, 1, 1)
        self.config = {"n_styles": n_styles, "width": width, "n_res": n_res}

    def forward(self, x, style=0):
        s = style_vector(style, self.n_styles, x.shape[0], x.device, x.dtype)
        h, size = pad_to_multiple(x, self.multiple, self.min_size)
        for m in [*self.down, *self.blocks, self.up]:
            h = m(h, s)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        return crop_to(_out(self.head(h)), size)
