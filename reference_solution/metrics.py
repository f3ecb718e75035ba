"""Sample-quality distances between two sets of samples, shared by both assignments.

All functions take tensors of shape ``(N, ...)`` (flattened per sample), work on any device,
and draw their random projections from an explicit ``torch.Generator`` so that results are
deterministic for a given seed.
"""

from __future__ import annotations

import torch

from .coursekit.sample_distance import sliced_wasserstein

__all__ = [
    "sliced_wasserstein",
    "energy_distance",
    "mean_pairwise_distance",
    "diversity_ratio",
    "masked_channel_stats",
]


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).double()


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean Euclidean distance between distinct samples of ``x`` (N, ...)."""
    x = _flat(x)
    n = x.shape[0]
    if n < 2:
        raise ValueError("need at least two samples for a pairwise distance")
    d = torch.cdist(x, x)
    return float(d.sum() / (n * (n - 1)))


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """Energy distance ``2 E|X-Y| - E|X-X'| - E|Y-Y'|`` (zero iff the laws agree)."""
    x, y = _flat(x), _flat(y)
    xy = torch.cdist(x, y).mean()
    return float(2 * xy) - mean_pairwise_distance(x) - mean_pairwise_distance(y)


def diversity_ratio(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Mean pairwise distance of ``fake`` over that of ``real``; near 0 means mode collapse."""
    return mean_pairwise_distance(fake) / mean_pairwise_distance(real)


def masked_channel_stats(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of ``x`` (N, C, H, W) over the pixels where ``mask`` (H, W) is 1."""
    inside = mask.to(x.device).bool()
    values = x[:, :, inside]  # (N, C, P)
    values = values.transpose(0, 1).reshape(x.shape[1], -1).double()
    return values.mean(dim=1), values.std(dim=1)
