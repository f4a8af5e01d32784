"""Function-preserving growth of a trained lite net: wider or deeper, starting as the same function.

**Wider** (Net2WiderNet; Chen, Goodfellow & Shlens 2016). A wider net starts as exactly the narrow one: every new channel is a copy of a random old channel
of the same layer (its conv filter, bias and per-style γ, β), and each consumer of a copied channel
splits that channel's incoming weight among the copies, with fractions that sum to 1. Instance norm
normalises each channel on its own, so a copied channel normalises to the same values; the split
fractions are unequal (random, not 1/k) so the copies get different gradients and drift apart.

The lite net's residual stream (``down.1``'s output and every block's ``c2``/``n2`` output) is added
channel by channel, so it shares one channel map; ``down.0``, each block's inner ``c1``/``n1`` and
``up`` have their own.

**Deeper.** New residual blocks go after the trained ones, each adding ``n2(c2(...))`` to the
stream; with its last norm's γ and β at 0 a new block adds exactly 0. Its convs start random, so the
gradient reaches γ at once and the block grows from nothing (zero-init residual branches).

Pure tensor maths on a state dict: no module is built here.
"""
from __future__ import annotations

import torch

Tensor = torch.Tensor


def channel_map(old: int, new: int, gen: torch.Generator) -> Tensor:
    """(new,) old-channel index of each new channel: 0..old-1 first, then random old channels."""
    if new < old:
        raise ValueError(f"cannot widen {old} channels to {new}")
    extra = torch.randint(0, old, (new - old,), generator=gen)
    return torch.cat([torch.arange(old), extra])


def split_fractions(mapping: Tensor, gen: torch.Generator) -> Tensor:
    """(new,) fractions, one per new channel, summing to 1 over the copies of each old channel;
    random in [0.25, 0.75] of an even split, so copies are not symmetric."""
    raw = 0.5 + torch.rand(mapping.numel(), generator=gen, dtype=torch.float64)
    total = torch.zeros(int(mapping.max()) + 1, dtype=torch.float64).index_add_(0, mapping, raw)
    return (raw / total[mapping]).float()


def _out(state: dict, prefix: str, mapping: Tensor, norm: str | None) -> None:
    """Copy output channels of conv ``prefix`` (and of its cond. instance norm ``norm``) by ``mapping``."""
    for k in (f"{prefix}.weight", f"{prefix}.bias"):
        state[k] = state[k][mapping]
    if norm:
        for k in (f"{norm}.gamma", f"{norm}.beta"):
            state[k] = state[k][:, mapping]


def _in(state: dict, prefix: str, mapping: Tensor, frac: Tensor) -> None:
    """Widen the input channels of conv ``prefix``: copy by ``mapping``, scale by ``frac``."""
    w = state[f"{prefix}.weight"]
    state[f"{prefix}.weight"] = w[:, mapping] * frac.to(w.dtype)[None, :, None, None]


def widen_lite(state: dict[str, Tensor], width: int, new_width: int, n_res: int,
               seed: int = 0) -> dict[str, Tensor]:
    """A state dict of ``LiteNet(width=new_width, n_res=n_res)`` that computes what ``state``
    (a ``LiteNet(width=width)``) computes, up to float rounding. ``state`` is not modified."""
    if new_width == width:
        return dict(state)
    gen = torch.Generator().manual_seed(seed)
    s = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}

    def group(old: int, new: int) -> tuple[Tensor, Tensor]:
        m = channel_map(old, new, gen)
        return m, split_fractions(m, gen)

    first, stream = group(width, new_width), group(2 * width, 2 * new_width)
    _out(s, "down.0.conv", first[0], "down.0.norm")
    _in(s, "down.1.conv", *first)
    _out(s, "down.1.conv", stream[0], "down.1.norm")
    for i in range(n_res):
        inner = group(2 * width, 2 * new_width)
        _in(s, f"blocks.{i}.c1", *stream)
        _out(s, f"blocks.{i}.c1", inner[0], f"blocks.{i}.n1")
        _in(s, f"blocks.{i}.c2", *inner)
        _out(s, f"blocks.{i}.c2", stream[0], f"blocks.{i}.n2")
    up = group(width, new_width)
    _in(s, "up.conv", *stream)
    _out(s, "up.conv", up[0], "up.norm")
    _in(s, "head", *up)
    return s


def deepen_lite(state: dict[str, Tensor], n_res: int, new_n_res: int, seed: int = 0) -> dict[str, Tensor]:
    """A state dict of a lite net with ``new_n_res`` residual blocks that computes what ``state``
    (``n_res`` blocks) computes: blocks ``n_res…new_n_res-1`` are added as identities (random convs,
    first norm γ = 1, β = 0; last norm γ = β = 0). ``state`` is not modified."""
    if new_n_res < n_res:
        raise ValueError(f"cannot deepen {n_res} residual blocks to {new_n_res}")
    s = dict(state)
    gen = torch.Generator().manual_seed(seed)
    w = s["blocks.0.c1.weight"] if n_res else s["down.1.conv.weight"]
    ch, n_styles = w.shape[0], s["down.0.norm.gamma"].shape[0]
    for i in range(n_res, new_n_res):
        for conv in ("c1", "c2"):   # PyTorch's default conv init: U(±1/sqrt(fan_in)), weight and bias
            bound = (ch * 9) ** -0.5
            s[f"blocks.{i}.{conv}.weight"] = (torch.rand(ch, ch, 3, 3, generator=gen) * 2 - 1) * bound
            s[f"blocks.{i}.{conv}.bias"] = (torch.rand(ch, generator=gen) * 2 - 1) * bound
        s[f"blocks.{i}.n1.gamma"], s[f"blocks.{i}.n1.beta"] = torch.ones(n_styles, ch), torch.zeros(n_styles, ch)
        s[f"blocks.{i}.n2.gamma"], s[f"blocks.{i}.n2.beta"] = torch.zeros(n_styles, ch), torch.zeros(n_styles, ch)
    return s
