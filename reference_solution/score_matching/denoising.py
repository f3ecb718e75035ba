"""Denoising score matching and Langevin sampling on two moons (Vincent 2011; Song & Ermon 2019).

The noisy data ``x_sigma = x + sigma * eps`` has the conditional score
``grad log q(x_sigma | x) = -(x_sigma - x) / sigma**2 = -eps / sigma`` (the seed wrote ``log q``
where it meant its gradient). Denoising score matching therefore regresses the score network
``s(x_sigma)`` on ``-eps / sigma``; :meth:`DenoisingScoreMatcher.forward` returns the per-element
squared error ``(s(x_sigma) + eps / sigma)**2`` with the input's shape, and ``loss`` sums it over
the coordinates and averages it over the batch, as the seed does.

Closed forms the grading checks rely on:

- data ``x ~ N(0, I)``, score ``s(x~) = -x~ / (1 + sigma**2)`` (the exact score of the noisy
  data): ``s + eps/sigma = -x/(1+sigma**2) + eps/(sigma (1+sigma**2))``, whose per-element
  mean square is ``1 / (sigma**2 (1 + sigma**2))``.
- Langevin ``x <- x + eta/2 s(x) + sqrt(eta) eps`` with ``s(x) = -x`` is the AR(1) chain
  ``x <- (1 - eta/2) x + sqrt(eta) eps`` with stationary variance ``1 / (1 - eta/4)``.

Sample quality (``moons_distance``, ``moon_shares``) lives in ``coursekit.moons_quality``, beside
the moons themselves, so that the notebook's visible test can use it too.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch.utils import data
from tqdm.auto import tqdm

from ..coursekit.moons import generate_moons_data, make_moons_data

__all__ = [
    "DenoisingScoreMatcher", "ScoreNet", "train_score_model", "make_moons_data",
    "generate_moons_data", "moons_loaders",
]

class DenoisingScoreMatcher(nn.Module):
    """Denoising score matching at one noise level ``sigma`` with Langevin sampling.

    ``score_model`` maps ``(B, *input_shape)`` to ``(B, *input_shape)``: an estimate of the
    score ``grad log q_sigma`` of the noisy data.
    """

    def __init__(self, score_model: nn.Module, input_shape: tuple[int, ...], sigma: float):
        super().__init__()
        self.score_model = score_model
        self.input_shape = tuple(input_shape)
        self.sigma = sigma

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-element squared error ``(s(x + sigma eps) + eps / sigma)**2``, shape of ``x``."""
        eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        noisy_x = x + self.sigma * eps
        s = self.score_model(noisy_x)
        return (s + eps / self.sigma) ** 2  # (B, *input_shape)

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        return {"total_loss": self(x, generator=generator).mean(dim=0).sum()}

    def langevin_dynamics(self, x: torch.Tensor, num_steps: int, eta: float,
                          generator: torch.Generator | None = None) -> torch.Tensor:
        """``num_steps`` steps of ``x <- x + eta/2 s(x) + sqrt(eta) eps``, ``eps ~ N(0, I)``."""
        for _ in range(num_steps):
            eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            x = x + 0.5 * eta * self.score_model(x) + math.sqrt(eta) * eps
        return x

    def sample(self, num_samples: int = 64, num_steps: int = 100, eta: float = 0.01,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``(num_samples, *input_shape)`` samples: Langevin from ``U[-1, 1]``, no autograd graph."""
        with torch.no_grad():
            # The generator lives on the CPU (a CUDA generator cannot be built everywhere), so the
            # start is drawn there and moved; the chain then runs on the model's device.
            x0 = 2.0 * torch.rand((num_samples, *self.input_shape), generator=generator) - 1.0
            x0 = x0.to(self.device)
            if generator is not None and x0.device != generator.device:
                generator = None
            return self.langevin_dynamics(x0, num_steps=num_steps, eta=eta, generator=generator)


class ScoreNet(nn.Module):
    """MLP score network ``R^d -> R^d``.

    SiLU, not ReLU: Langevin follows the score everywhere, and a ReLU net is piecewise linear,
    so its score field has kinks and, beyond the data, constant pieces that never point back;
    the score of a smooth density is itself smooth.
    """

    def __init__(self, input_dim: int = 2, hidden_size: int = 128, num_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_size), nn.SiLU()]
            width = hidden_size
        layers.append(nn.Linear(width, input_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, d)


def _epoch_loss(matcher: nn.Module, loader, device, optimizer=None) -> float:
    total, count = 0.0, 0
    for x in loader:
        x = x.to(device)
        loss = matcher.loss(x)["total_loss"]
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        total += float(loss.detach()) * x.shape[0]
        count += x.shape[0]
    return total / count


def train_score_model(matcher: nn.Module, train_loader, test_loader, epochs: int,
                      optimizer: torch.optim.Optimizer, scheduler=None,
                      device: torch.device | str | None = None, progress: bool = True) -> dict:
    """Train ``matcher`` by its ``loss``; returns ``{"train_losses", "test_losses"}`` per epoch.

    The test loss is measured under ``torch.no_grad`` (it is still noisy: each call draws new
    noise). ``scheduler.step()`` runs once per epoch.
    """
    device = torch.device(device) if device is not None else matcher.device
    matcher.to(device)
    history: dict[str, list[float]] = {"train_losses": [], "test_losses": []}
    bar = tqdm(range(epochs), desc="DSM", disable=not progress)
    for _ in bar:
        matcher.train()
        history["train_losses"].append(_epoch_loss(matcher, train_loader, device, optimizer))
        matcher.eval()
        with torch.no_grad():
            history["test_losses"].append(_epoch_loss(matcher, test_loader, device))
        if scheduler is not None:
            scheduler.step()
        bar.set_postfix(train=f"{history['train_losses'][-1]:.3f}",
                        test=f"{history['test_losses'][-1]:.3f}")
    return history


def moons_loaders(count: int = 5000, batch_size: int = 256, seed: int = 0):
    """``(train_loader, test_loader)`` over :func:`make_moons_data` (shuffled training batches)."""
    train, _, test, _ = make_moons_data(count, seed=seed)
    g = torch.Generator().manual_seed(seed)
    return (data.DataLoader(torch.from_numpy(train), batch_size=batch_size, shuffle=True,
                            generator=g),
            data.DataLoader(torch.from_numpy(test), batch_size=batch_size))
