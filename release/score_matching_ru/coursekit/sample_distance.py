# GENERATED from reference_solution/coursekit/sample_distance.py by `python -m reference_solution release`; edit the original
"""The sliced Wasserstein distance between two sets of states: how far generated states lie from
real ones, in the units of the data, with a floor that two real samples set.

Used by the notebook's per-epoch sample-quality curve and, through the package's ``metrics`` module,
by the grader and the benches: one definition for all of them.
"""

from __future__ import annotations

import torch

__all__ = ["sliced_wasserstein"]


def _flat(x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(x).reshape(len(x), -1).double()


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
