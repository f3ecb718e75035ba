"""Annealed Langevin dynamics over a ladder of noise levels (Song & Ermon 2019, NCSN).

One small ``sigma`` makes the learned score accurate near the data but poor in the empty space
between and around the moons, where Langevin starts; it also mixes slowly between the moons, so
their relative weights come out wrong. A noise-conditional score network ``s(x, sigma)`` trained
on a geometric ladder ``sigma_1 > ... > sigma_L`` fixes both: the large levels fill space and
mix, the small ones sharpen. Annealed Langevin runs ``T`` steps at each level with step
``alpha_i = epsilon * sigma_i**2 / sigma_L**2`` (Algorithm 1 of the paper), so the
signal-to-noise ratio of each step stays the same across levels.

Training weights the level-``sigma`` DSM loss by ``lambda(sigma) = sigma**2``, which makes
every level's loss O(1): ``|sigma s(x~, sigma) + eps|**2``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn

from ..coursekit.moons_quality import moon_fraction, moons_distance
from .denoising import DenoisingScoreMatcher, ScoreNet, moons_loaders, train_score_model

__all__ = [
    "geometric_sigmas", "NoiseConditionalScoreNet", "NoiseConditionalMatcher",
    "annealed_langevin", "moon_fraction", "compare_single_and_annealed",
]


def geometric_sigmas(sigma_max: float = 1.0, sigma_min: float = 0.05, num: int = 10
                     ) -> torch.Tensor:
    """``num`` noise levels from ``sigma_max`` down to ``sigma_min``, equal ratios."""
    return torch.exp(torch.linspace(math.log(sigma_max), math.log(sigma_min), num))


class NoiseConditionalScoreNet(nn.Module):
    """``s(x, sigma)``: an MLP on ``(x, log sigma)`` whose output is divided by ``sigma``.

    The true score of the noisy data scales like ``1/sigma``; dividing by it lets the network
    predict an O(1) quantity (``-eps`` in expectation) at every level.
    """

    def __init__(self, input_dim: int = 2, hidden_size: int = 128, num_layers: int = 3):
        super().__init__()
        self.net = ScoreNet(input_dim + 1, hidden_size, num_layers).net
        self.net[-1] = nn.Linear(hidden_size, input_dim)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        sigma = sigma.expand(x.shape[0]).reshape(-1, 1)  # (B, 1)
        return self.net(torch.cat([x, sigma.log()], dim=1)) / sigma  # (B, d)


class NoiseConditionalMatcher(nn.Module):
    """DSM over a ladder of ``sigmas``: one random level per sample, weight ``sigma**2``."""

    def __init__(self, score_model: NoiseConditionalScoreNet, sigmas: torch.Tensor,
                 input_dim: int = 2):
        super().__init__()
        self.score_model = score_model
        self.input_dim = input_dim
        self.register_buffer("sigmas", torch.as_tensor(sigmas, dtype=torch.float32))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-element ``(sigma s(x + sigma eps, sigma) + eps)**2``, shape of ``x`` (B, d)."""
        idx = torch.randint(len(self.sigmas), (x.shape[0],), generator=generator)
        sigma = self.sigmas.cpu()[idx].to(x.device, x.dtype).reshape(-1, 1)  # (B, 1)
        eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return (sigma * self.score_model(x + sigma * eps, sigma.squeeze(1)) + eps) ** 2

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        return {"total_loss": self(x, generator=generator).mean(dim=0).sum()}

    def sample(self, num_samples: int = 64, steps_per_sigma: int = 100, epsilon: float = 1e-4,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Annealed Langevin from ``U[-1, 1]`` (the single-sigma matcher's start)."""
        with torch.no_grad():
            x0 = 2.0 * torch.rand(num_samples, self.input_dim, generator=generator) - 1.0
            return annealed_langevin(self.score_model, x0.to(self.device), self.sigmas.cpu(),
                                     steps_per_sigma, epsilon, generator=generator)


def annealed_langevin(score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                      x: torch.Tensor, sigmas: torch.Tensor, steps_per_sigma: int,
                      epsilon: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Algorithm 1 of Song & Ermon (2019): for each ``sigma_i`` (largest first) run
    ``steps_per_sigma`` steps ``x <- x + alpha_i/2 s(x, sigma_i) + sqrt(alpha_i) z`` with
    ``alpha_i = epsilon * sigma_i**2 / sigma_L**2``. ``x`` (N, d) is the start."""
    sigmas = [float(s) for s in sigmas]
    sigma_last = sigmas[-1]
    gen = generator if generator is not None and generator.device == x.device else None
    for sigma in sigmas:
        alpha = epsilon * sigma**2 / sigma_last**2
        level = torch.full((x.shape[0],), sigma, dtype=x.dtype, device=x.device)
        for _ in range(steps_per_sigma):
            z = torch.randn(x.shape, generator=gen, dtype=x.dtype, device=x.device)
            x = x + 0.5 * alpha * score_fn(x, level) + math.sqrt(alpha) * z
    return x


def compare_single_and_annealed(epochs: int = 60, sigma: float = 0.1,
                                sigmas: torch.Tensor | None = None, num_samples: int = 2000,
                                score_evaluations: int = 1000, eta: float = 0.01,
                                epsilon: float = 1e-4, hidden_size: int = 128,
                                count: int = 5000, seed: int = 0) -> dict[str, float]:
    """Train a single-``sigma`` DSM model and an NCSN on the same moons, sample both from
    ``U[-1, 1]`` with the same number of score evaluations, and return their
    :func:`moons_distance` and upper-moon share (``*_distance``, ``*_upper_moon``; the start's
    distance as ``start_distance``)."""
    sigmas = geometric_sigmas() if sigmas is None else torch.as_tensor(sigmas)
    results: dict[str, float] = {}
    torch.manual_seed(seed)
    train_loader, test_loader = moons_loaders(count, 256, seed=seed)
    single = DenoisingScoreMatcher(ScoreNet(2, hidden_size), (2,), sigma)
    annealed = NoiseConditionalMatcher(NoiseConditionalScoreNet(2, hidden_size), sigmas)
    for _name, model in (("single", single), ("annealed", annealed)):
        opt = torch.optim.Adam(model.parameters(), lr=5e-3)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.97)
        train_score_model(model, train_loader, test_loader, epochs, opt, sched, progress=False)
    g = torch.Generator().manual_seed(seed + 1)
    start = 2.0 * torch.rand(num_samples, 2, generator=g) - 1.0
    samples = {
        "single": single.sample(num_samples, score_evaluations, eta, generator=g),
        "annealed": annealed.sample(num_samples, max(1, score_evaluations // len(sigmas)),
                                    epsilon, generator=g),
    }
    results["start_distance"] = moons_distance(start)
    for name, x in samples.items():
        results[f"{name}_distance"] = moons_distance(x)
        results[f"{name}_upper_moon"] = moon_fraction(x)
    return results
