"""Feed-forward style transformers.

All three take (N, 3, H, W) RGB float in [0, 1] of any H, W and return the same shape in [0, 1].
Inputs are edge-padded up to the net's stride multiple and cropped back, so odd sizes work.

- :class:`JohnsonNet` (Johnson, Alahi & Fei-Fei 2016, "Perceptual losses for real-time style
  transfer"): instance norm, reflection padding, nearest-upsample + conv.
- :class:`CompactNet` (Liu & Shuai 2019, "Fast neural style transfer with spatial constraint",
  Computer Science 46(3)): 64-channel residual net with BatchNorm, full-resolution ("literal") or
  with two stride-2 stages ("downsampled"); BN folds into the convs at export.
- :class:`MultiStyleNet` (Dumoulin, Shlens & Kudlur 2017): Johnson's layout with conditional instance norm.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..ops import crop_to, pad_to_multiple


def _out(x: torch.Tensor) -> torch.Tensor:
    # tanh squashed to [0, 1]: bounded output as in Liu & Shuai 2019, no clamp needed at inference.
    return 0.5 * (torch.tanh(x) + 1.0)


class ConvLayer(nn.Module):
    """Reflection-padded conv (keeps borders free of zero-padding seams)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1):
        super().__init__()
        self.pad = nn.ReflectionPad2d(k // 2)
        self.conv = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv(self.pad(x))


class UpConv(nn.Module):
    """Nearest 2× upsample then conv: no checkerboard artefacts, unlike ConvTranspose2d."""

    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = ConvLayer(cin, cout, k)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class CondInstanceNorm(nn.Module):
    """Instance norm whose (γ, β) are a mix of per-style rows: γ = w·Γ, β = w·B.

    ``style`` is (N, S) mixing weights (one-hot selects a style; rows summing to 1 interpolate).
    """

    def __init__(self, channels: int, n_styles: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.gamma = nn.Parameter(torch.ones(n_styles, channels))
        self.beta = nn.Parameter(torch.zeros(n_styles, channels))

    def forward(self, x, style):
        g = (style @ self.gamma)[:, :, None, None]
        b = (style @ self.beta)[:, :, None, None]
        return self.norm(x) * g + b


def _norm(kind: str, channels: int, n_styles: int = 0) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "cond":
        return CondInstanceNorm(channels, n_styles)
    raise ValueError(f"unknown norm {kind!r}")


class _Stage(nn.Module):
    """conv (or upsample+conv) -> norm -> ReLU, passing the style vector to conditional norms."""

    def __init__(self, conv: nn.Module, norm: nn.Module):
        super().__init__()
        self.conv, self.norm = conv, norm

    def forward(self, x, style=None):
        x = self.conv(x)
        x = self.norm(x, style) if isinstance(self.norm, CondInstanceNorm) else self.norm(x)
        return F.relu(x)


class ResidualBlock(nn.Module):
    """x + norm(conv(relu(norm(conv(x))))) — two 3×3 convs, no activation after the sum."""

    def __init__(self, ch: int, norm: str, n_styles: int = 0):
        super().__init__()
        self.c1, self.n1 = ConvLayer(ch, ch, 3), _norm(norm, ch, n_styles)
        self.c2, self.n2 = ConvLayer(ch, ch, 3), _norm(norm, ch, n_styles)

    def _n(self, norm, x, style):
        return norm(x, style) if isinstance(norm, CondInstanceNorm) else norm(x)

    def forward(self, x, style=None):
        y = F.relu(self._n(self.n1, self.c1(x), style))
        return x + self._n(self.n2, self.c2(y), style)


class _Transformer(nn.Module):
    """Shared body: stages in, residual blocks, stages out, a final conv, tanh -> [0, 1]."""

    multiple = 4
    min_size = 8  # 9×9 reflection padding needs > 4 px, the ¼-res 3×3 convs need > 1 px

    def __init__(self, stages_in, blocks, stages_out, head):
        super().__init__()
        self.stages_in = nn.ModuleList(stages_in)
        self.blocks = nn.ModuleList(blocks)
        self.stages_out = nn.ModuleList(stages_out)
        self.head = head

    def _body(self, x, style=None):
        x, size = pad_to_multiple(x, self.multiple, self.min_size)
        for m in [*self.stages_in, *self.blocks, *self.stages_out]:
            x = m(x, style)
        return crop_to(_out(self.head(x)), size)


class JohnsonNet(_Transformer):
    """Johnson et al. transformer: 9×9 w → 3×3/2 2w → 3×3/2 4w → n_res blocks → up 2w → up w → 9×9 3.

    ``width`` = 32 is the paper's; 16 or 8 make slim CPU nets. (N,3,H,W) [0,1] -> same.
    """

    def __init__(self, width: int = 32, n_res: int = 5, norm: str = "instance", n_styles: int = 0):
        w = width
        super().__init__(
            [_Stage(ConvLayer(3, w, 9), _norm(norm, w, n_styles)),
             _Stage(ConvLayer(w, 2 * w, 3, 2), _norm(norm, 2 * w, n_styles)),
             _Stage(ConvLayer(2 * w, 4 * w, 3, 2), _norm(norm, 4 * w, n_styles))],
            [ResidualBlock(4 * w, norm, n_styles) for _ in range(n_res)],
            [_Stage(UpConv(4 * w, 2 * w), _norm(norm, 2 * w, n_styles)),
             _Stage(UpConv(2 * w, w), _norm(norm, w, n_styles))],
            ConvLayer(w, 3, 9),
        )
        self.config = {"width": width, "n_res": n_res}

    def forward(self, x):
        return self._body(x)


class CompactNet(_Transformer):
    """Liu & Shuai 2019's compact net: all maps ``width`` channels, BatchNorm + ReLU, 4 residual blocks.

    literal (``downsample=False``): 9×9 → 4 res → 3×3 → 3×3 → 9×9, all at full resolution.
    downsampled: 9×9 → 3×3/2 → 3×3/2 → 4 res → up 3×3 → up 3×3 → 9×9 (same conv count, 1/16 the
    work in the residual blocks). (N,3,H,W) [0,1] -> same.
    """

    def __init__(self, width: int = 64, n_res: int = 4, downsample: bool = False):
        w = width
        first = [_Stage(ConvLayer(3, w, 9), nn.BatchNorm2d(w))]
        if downsample:
            first += [_Stage(ConvLayer(w, w, 3, 2), nn.BatchNorm2d(w)),
                      _Stage(ConvLayer(w, w, 3, 2), nn.BatchNorm2d(w))]
            last = [_Stage(UpConv(w, w), nn.BatchNorm2d(w)), _Stage(UpConv(w, w), nn.BatchNorm2d(w))]
        else:
            last = [_Stage(ConvLayer(w, w, 3), nn.BatchNorm2d(w)), _Stage(ConvLayer(w, w, 3), nn.BatchNorm2d(w))]
        super().__init__(first, [ResidualBlock(w, "batch") for _ in range(n_res)], last, ConvLayer(w, 3, 9))
        self.multiple = 4 if downsample else 1
        self.config = {"width": width, "n_res": n_res, "downsample": downsample}

    def forward(self, x):
        return self._body(x)


class MultiStyleNet(JohnsonNet):
    """Johnson layout with conditional instance norm over ``n_styles`` styles.

    ``forward(x, style)``: style an int index, or (S,) / (N, S) mixing weights.
    (N,3,H,W) [0,1] -> same.
    """

    def __init__(self, n_styles: int, width: int = 32, n_res: int = 5):
        super().__init__(width, n_res, norm="cond", n_styles=n_styles)
        self.n_styles = n_styles
        self.config = {"n_styles": n_styles, "width": width, "n_res": n_res}

    def style_vector(self, style, batch: int, device, dtype) -> torch.Tensor:
        return style_vector(style, self.n_styles, batch, device, dtype)

    def forward(self, x, style=0):
        return self._body(x, self.style_vector(style, x.shape[0], x.device, x.dtype))


def one_hot_styles(indices, n_styles: int, device, dtype) -> torch.Tensor:
    """Style indices, one per image -> (N, S) one-hot mixing weights (training draws one style per image)."""
    bad = [i for i in indices if not 0 <= i < n_styles]
    if bad:
        raise ValueError(f"style index {bad[0]} out of range 0..{n_styles - 1}")
    idx = torch.as_tensor(list(indices), dtype=torch.long)
    vec = torch.zeros(idx.numel(), n_styles, device=device, dtype=dtype)
    vec[torch.arange(idx.numel()), idx] = 1.0
    return vec


def style_vector(style, n_styles: int, batch: int, device, dtype) -> torch.Tensor:
    """An int index, or (S,) / (N, S) weights -> (N, S) mixing weights for conditional norms."""
    if isinstance(style, int):
        style = one_hot_styles([style], n_styles, device, dtype)[0]
    style = torch.as_tensor(style, device=device, dtype=dtype)
    if style.shape[-1] != n_styles:
        raise ValueError(f"style weights need {n_styles} entries, got {tuple(style.shape)}")
    return style.expand(batch, -1) if style.dim() == 1 else style
