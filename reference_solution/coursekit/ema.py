"""An exponential moving average of a network's weights, for sampling from a GAN's generator.

A GAN's generator keeps moving while the critic chases it: the weights of any single step
carry that step's oscillation. Their running average (Yazici et al. 2019, "The unusual
effectiveness of averaging in GAN training"; used by ProGAN, StyleGAN and BigGAN) samples
better than the last weights at no cost to training: the average is a separate copy that the
optimizer never touches.

    ema = WeightAverage(gen, decay=0.998)
    for batch in loader:
        ...  # critic and generator steps
        ema.update(gen)
    samples = ema.model(z)  # sample from the average, not from gen

``decay`` is the share of the old average kept at each ``update``; early updates use the
warm-up ``min(decay, (1 + t) / (10 + t))`` so that the random initial weights are forgotten
within the first few dozen updates instead of the first few thousand.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["WeightAverage"]


class WeightAverage:
    """A frozen copy of ``model`` whose parameters follow an exponential moving average."""

    def __init__(self, model: nn.Module, decay: float = 0.998):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must lie in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights; copy its buffers (BN statistics)."""
        self.updates += 1
        beta = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for mine, theirs in zip(self.model.parameters(), model.parameters(), strict=True):
            mine.lerp_(theirs.detach(), 1.0 - beta)
        for mine, theirs in zip(self.model.buffers(), model.buffers(), strict=True):
            mine.copy_(theirs)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "model": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.updates = float(state["decay"]), int(state["updates"])
        self.model.load_state_dict(state["model"])
