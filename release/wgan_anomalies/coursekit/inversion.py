# GENERATED from reference_solution/coursekit/inversion.py by `python -m reference_solution release`; edit the original
"""Latent inversion of a trained generator (AnoGAN, Schlegl et al. 2017, arXiv:1703.05921).

For a state ``x`` find ``z* = argmin_z L(z)`` by gradient descent on ``z`` alone (``G`` frozen):

    L(z) = (1 - lambda) R(z) + lambda F(z),
    R(z) = |m * (G(z) - x)|^2 / (2 |m|)             (mean squared residual inside the mask m),
    F(z) = |f(G(z)) - f(x)|^2 / dim f               (mean squared critic-feature residual).

Schlegl et al. use an L1 residual and ``lambda = 0.1``; we use the squared residual of f-AnoGAN
(Schlegl et al. 2019) so the two detectors share one scale. Three anomaly scores follow:

- the residual ``R(z*)`` (and ``F(z*)``): a state the generator cannot make is anomalous;
- ``|z*|``, the seed's own premise tested directly: the seed says that inverting ``G`` is out of
  reach and trains a classifier instead; here we invert, and flag ``|z*| > q_0.98`` (the 98%
  chi quantile). Started from ``z = 0``, plain gradient descent on a *linear* generator
  ``G(z) = A z + b`` stays in the row space of ``A`` and ends at the minimum-norm preimage
  ``A^+ (x - b)``; ``|z*|`` is then the Mahalanobis distance of ``x`` under the generator's
  Gaussian law (probabilistic PCA). For a deep ``G`` this holds only approximately, and since
  ``G`` ignores most of the 128 latent directions, ``|z*|`` is far below the chi law of a
  random ``z``: the 98% quantile of chi(128) is the wrong yardstick for it (the report shows
  both).

Course support code (the optional detector section of the notebook): numpy, scipy and torch only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
from scipy import stats

from .critic_score import batched_states

__all__ = ["InversionConfig", "InversionResult", "invert", "invert_dataset", "outside_chi_ball"]


@dataclass(frozen=True)
class InversionConfig:
    steps: int = 100  # gradient steps on z per batch of states
    lr: float = 0.05  # step size (Adam) or learning rate (SGD)
    optimizer: str = "adam"  # "adam", or "sgd" (momentum; from z = 0 it keeps a linear G's min-norm preimage)
    momentum: float = 0.9  # SGD momentum (unused by Adam)
    lambda_feature: float = 0.0  # lambda: weight of the critic-feature residual F in L (AnoGAN: 0.1)
    batch_size: int = 512  # states inverted together (each has its own z; the problems are separable)
    init: str = "zeros"  # starting latents: "zeros" or "normal" (seeded N(0, I))
    seed: int = 0  # seeds the "normal" start

    def __post_init__(self):
        if self.steps < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"InversionConfig: steps >= 0, batch_size >= 1 and lr > 0 expected, "
                             f"found {self.steps}, {self.batch_size}, {self.lr}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"InversionConfig.optimizer must be 'adam' or 'sgd', found {self.optimizer!r}")
        if self.init not in ("zeros", "normal"):
            raise ValueError(f"InversionConfig.init must be 'zeros' or 'normal', found {self.init!r}")
        if not 0.0 <= self.lambda_feature <= 1.0:
            raise ValueError(f"InversionConfig.lambda_feature must lie in [0, 1], found {self.lambda_feature}")


@dataclass
class InversionResult:
    z: torch.Tensor  # (N, n) latents found, on the CPU
    residual: np.ndarray  # (N,) R(z*), mean squared residual inside the mask
    feature_residual: np.ndarray | None  # (N,) F(z*), or None without critic features
    curve: list[float] = field(default_factory=list)  # mean L over all states after each step

    @property
    def norm(self) -> np.ndarray:
        """``|z*|`` per state ``(N,)``."""
        return self.z.double().norm(dim=1).numpy()

    def objective(self, lambda_feature: float) -> np.ndarray:
        """``(1 - lambda) R + lambda F`` per state (``R`` alone without features)."""
        if self.feature_residual is None or lambda_feature == 0:
            return self.residual.copy()
        return (1 - lambda_feature) * self.residual + lambda_feature * self.feature_residual


def outside_chi_ball(norm: np.ndarray, n_dims: int, quantile: float = 0.98) -> np.ndarray:
    """``|z| > chi.ppf(quantile, n_dims)``: the seed's rule for an anomalous latent -> ``(N,)`` bool."""
    return np.asarray(norm) > stats.chi.ppf(quantile, n_dims)


def _masked_sq(diff: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``diff**2`` over channels and the pixels inside ``mask`` -> ``(B,)``."""
    if mask is None:
        return diff.pow(2).flatten(1).mean(dim=1)
    return (diff * mask).pow(2).flatten(1).sum(dim=1) / (diff.shape[1] * mask.sum())


def invert(generator: nn.Module, x: torch.Tensor, config: InversionConfig = InversionConfig(),
           mask: torch.Tensor | None = None,
           features: Callable[[torch.Tensor], torch.Tensor] | None = None,
           init: torch.Tensor | None = None,
           rng: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor,
                                                        torch.Tensor | None, list[float]]:
    """Invert one batch ``x`` ``(B, 2, S, S)``; returns ``z* (B, n)``, ``R (B,)``, ``F (B,)`` or
    None, and the mean objective after each step. ``generator`` stays frozen and unchanged."""
    device = x.device
    n = int(generator.n_inputs)
    m = None if mask is None else torch.as_tensor(mask, dtype=x.dtype, device=device)
    lam = config.lambda_feature if features is not None else 0.0
    if init is not None:
        z0 = init.to(device=device, dtype=torch.float32)
    elif config.init == "normal":
        z0 = torch.randn(len(x), n, generator=rng).to(device)
    else:
        z0 = torch.zeros(len(x), n, device=device)
    z = z0.clone().requires_grad_(True)  # (B, n)
    opt = (torch.optim.Adam([z], lr=config.lr) if config.optimizer == "adam"
           else torch.optim.SGD([z], lr=config.lr, momentum=config.momentum))
    with torch.no_grad():
        f_x = features(x) if lam > 0 else None  # (B, F)

    def objective(z_):
        g = generator(z_)  # (B, 2, S, S)
        r = _masked_sq(g - x, m)  # (B,)
        if lam == 0:
            return r, r, None
        g = g if m is None else g * m
        f = (features(g) - f_x).pow(2).mean(dim=1)  # (B,)
        return (1 - lam) * r + lam * f, r, f

    curve = []
    for _ in range(config.steps):
        loss, _, _ = objective(z)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()  # per-state sums: each z_i gets the gradient of its own L_i
        opt.step()
        curve.append(float(loss.detach().mean()))
    with torch.no_grad():
        _, r, f = objective(z)
    return z.detach(), r, f, curve


def invert_dataset(generator: nn.Module, dataset, config: InversionConfig = InversionConfig(),
                   mask: torch.Tensor | None = None,
                   features: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   init: torch.Tensor | None = None, progress: bool = False) -> InversionResult:
    """Invert every day of ``dataset`` (a tensor ``(N, 2, S, S)`` or a ``DS``), in order.

    ``init`` ``(N, n)`` overrides ``config.init`` (e.g. an f-AnoGAN encoder's latents).
    ``features`` (``critic_score.critic_features``) adds the feature residual, used in the
    objective with weight ``config.lambda_feature`` and reported either way.
    """
    params = list(generator.parameters())
    device = params[0].device if params else torch.device("cpu")
    flags = [p.requires_grad for p in params]
    was_training = generator.training
    generator.eval()
    generator.requires_grad_(False)
    rng = torch.Generator().manual_seed(config.seed)
    n = len(dataset)
    zs, rs, fs, curve = [], [], [], np.zeros(config.steps)
    try:
        for start, x in batched_states(dataset, config.batch_size, mask, device, progress,
                                       "inversion"):
            z0 = None if init is None else init[start:start + len(x)]
            z, r, f, c = invert(generator, x, config, mask, features, z0, rng)
            if features is not None and f is None:  # lambda = 0: report F at z* anyway
                with torch.no_grad():
                    g = generator(z)
                    g = g if mask is None else g * torch.as_tensor(mask, dtype=g.dtype, device=device)
                    f = (features(g) - features(x)).pow(2).mean(dim=1)
            zs.append(z.cpu())
            rs.append(r.detach().double().cpu())
            fs.append(None if f is None else f.detach().double().cpu())
            curve += np.asarray(c) * len(x) / n
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
        generator.train(was_training)
    feature_residual = None if features is None else torch.cat(fs).numpy()
    return InversionResult(torch.cat(zs), torch.cat(rs).numpy(), feature_residual, curve.tolist())
