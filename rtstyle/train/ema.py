"""An exponential moving average of a net's weights: what ships when a run trains with ``--ema``.

At a constant learning rate a small net's weights keep moving around the minimum, and a snapshot's
real-size style loss swings by 5-40 % from one snapshot to the next (docs/training.md, session 20).
The average of the last ~1 / (1 - decay) steps' weights sits nearer the middle of that walk
(Polyak & Juditsky 1992). The running net is trained as before; this copy only follows it.
"""
from __future__ import annotations

import copy

import torch


class WeightAverage:
    """``net`` copied once; :meth:`update` moves each weight ``1 - decay`` of the way to the trained
    net's (buffers are copied). ``state_dict``/``load_state_dict`` are the copy's, so TrainLoop
    checkpoints it like a net."""

    def __init__(self, net: torch.nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay {decay} must be between 0 and 1 (e.g. 0.998)")
        self.decay = float(decay)
        self.net = copy.deepcopy(net).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, net: torch.nn.Module) -> None:
        for avg, p in zip(self.net.parameters(), net.parameters()):
            avg.lerp_(p.detach(), 1.0 - self.decay)
        for avg, b in zip(self.net.buffers(), net.buffers()):
            avg.copy_(b)

    @torch.no_grad()
    def reset(self, net: torch.nn.Module) -> None:
        """Start the average at ``net``'s weights (after loading a shipped net or an old checkpoint)."""
        self.net.load_state_dict(net.state_dict())

    def state_dict(self) -> dict:
        return self.net.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state)
