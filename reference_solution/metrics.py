"""Sample-quality distances between two sets of samples, shared by both assignments.

All functions take tensors of shape ``(N, ...)`` (flattened per sample), work on any device,
and draw their random projections from an explicit ``torch.Generator`` so that results are
deterministic for a given seed.
"""

from __future__ import annotations

import torch

__all__ = [
    "sliced_wasserstein",
    "energy_distance",
    "mean_pairwise_distance",
    "diversity_ratio",
    "masked_channel_stats",
]


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).double()


def sliced_wasserstein(
    x: torch.Tensor, y: torch.Tensor, n_projections: int = 256, seed: int = 0
) -> float:
    """Sliced 1-Wasserstein distance between two sample sets ``(N, ...)`` and ``(M, ...)``.

    Both sets are projected on ``n_projections`` random unit directions; in 1-D the
    Wasserstein distance is the mean gap between matching quantiles. Different sizes
    are compared on a common grid of quantile levels.
    """
    x, y = _flat(x), _flat(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"samples differ in size: {tuple(x.shape)} vs {tuple(y.shape)}")
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(x.shape[1], n_projections, generator=g, dtype=torch.float64)
    theta = (theta / theta.norm(dim=0, keepdim=True)).to(x.device)
    px = torch.sort(x @ theta, dim=0).values  # (N, P)
    py = torch.sort(y @ theta, dim=0).values  # (M, P)
    if px.shape[0] != py.shape[0]:
        levels = torch.linspace(0, 1, max(px.shape[0], py.shape[0]), dtype=torch.float64,
                                device=x.device)
        px = torch.quantile(px, levels, dim=0)
        py = torch.quantile(py, levels, dim=0)
    return float((px - py).abs().mean())


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
