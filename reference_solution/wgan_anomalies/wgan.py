"""Generator, critic and gradient penalty of WGAN-GP (Gulrajani et al. 2017, arXiv:1704.00028).

The critic ``D`` estimates the Wasserstein-1 distance between the data law and the generator's
law as ``E D(x_real) - E D(G(z))`` over 1-Lipschitz functions; the gradient penalty

    GP = E_xhat (||grad_xhat D(xhat)||_2 - 1)^2,   xhat = alpha * x_real + (1 - alpha) * x_fake,

with ``alpha ~ U(0, 1)`` drawn per sample, softly enforces that constraint. The penalty is taken
per sample, so the critic must not mix samples: no batch normalisation in the critic.

The networks and the penalty are the notebook's own solutions (``exercises``, generated from
the notebook's solution cells): this module adds only what the main job needs around them, input
checks with clear messages, the constructor arguments a checkpoint rebuilds a net from, and a
penalty whose ``alpha`` comes from a seeded generator. Both networks are resolution-agnostic: any
power-of-two size >= 8 (256 px for the course data, 32-64 px in tests).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import exercises

__all__ = [
    "Generator",
    "Discriminator",
    "gradient_penalty",
    "critic_loss",
    "generator_loss",
    "apply_mask",
]

N_CHANNELS = 2  # channel 0 = potential vorticity, channel 1 = geopotential height


def _n_blocks(size: int, who: str) -> int:
    """Number of x2 resolution steps between 4 px and ``size``; rejects sizes it cannot reach."""
    if not isinstance(size, int) or size < 8 or size & (size - 1):
        raise ValueError(f"{who}: size must be a power of two >= 8 (e.g. 32, 64, 256), got {size!r}")
    return int(math.log2(size // 4))


class Generator(exercises.Generator):
    """The notebook's generator: ``z`` (N, n_inputs) -> images (N, 2, size, size) in [0, 1].

    A linear layer to a 4 x 4 feature map, then ``log2(size / 4)`` blocks of nearest-neighbour
    x2 upsampling + 3x3 convolution + BatchNorm + ReLU, and a 3x3 convolution to 2 channels
    with a sigmoid (the course data are scaled to [0, 1]).
    """

    def __init__(self, n_inputs: int = 128, size: int = 256):
        _n_blocks(size, "Generator")
        if not isinstance(n_inputs, int) or n_inputs < 1:
            raise ValueError(f"Generator: n_inputs must be an integer >= 1, got {n_inputs!r}")
        super().__init__(n_inputs=n_inputs, size=size)
        # Kept so that load_generator can rebuild the network from a checkpoint.
        self.init_kwargs = dict(n_inputs=n_inputs, size=size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.n_inputs:
            raise ValueError(f"Generator expected latent vectors of shape (N, {self.n_inputs}), "
                             f"got {tuple(z.shape)}")
        return super().forward(z)  # (N, 2, S, S)


class Discriminator(exercises.Discriminator):
    """The notebook's WGAN-GP critic: images (N, 2, size, size) -> scores (N, 1), unbounded.

    ``log2(size / 4)`` strided 4x4 convolutions (each halves the resolution) with LeakyReLU,
    then a linear head on the 4 x 4 map. No batch normalisation: the gradient penalty is per
    sample. No sigmoid: a Wasserstein critic's score is any real number.
    """

    def __init__(self, size: int = 256):
        _n_blocks(size, "Discriminator")
        super().__init__(size=size)
        self.init_kwargs = dict(size=size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (N_CHANNELS, self.size, self.size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"Discriminator expected input of shape (N, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        return super().forward(x)  # (N, 1)


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean over samples of ``(||grad D(xhat)||_2 - 1)^2`` at random interpolates (a 0-d tensor).

    The notebook's ``compute_gradient_penalty``, which draws ``alpha`` from the global torch RNG;
    with ``generator`` that RNG is seeded from it for the call and then restored, so a run's
    penalties depend on its own generator only. ``real`` and ``fake`` are (N, ...) float32 or
    float64 (under bf16 autocast the critic's output is bf16, the gradient is the inputs' dtype).
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real and fake differ in shape: "
                         f"{tuple(real.shape)} vs {tuple(fake.shape)}")
    if generator is None:
        return exercises.compute_gradient_penalty(critic, real, fake)
    seed = int(torch.randint(0, 2**62, (), generator=generator, device=generator.device))
    devices = [real.device] if real.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return exercises.compute_gradient_penalty(critic, real, fake)


def critic_loss(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    lambda_gp: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Critic objective to minimise: ``mean D(fake) - mean D(real) + lambda_gp * GP``.

    Returns ``(loss, wasserstein, penalty)`` where ``wasserstein = mean D(real) - mean D(fake)``
    (detached, the critic's estimate of W1) and ``penalty`` is GP (detached; zero and not
    computed when ``lambda_gp == 0``). ``fake`` is detached: this loss trains the critic only.
    """
    n_real = real.shape[0]
    # One forward over both halves: no batch norm in the critic, so the samples do not mix.
    scores = critic(torch.cat([real, fake.detach()]))  # (N_real + N_fake, 1)
    d_real, d_fake = scores[:n_real].mean(), scores[n_real:].mean()
    if lambda_gp:
        penalty = gradient_penalty(critic, real, fake, generator)
    else:
        penalty = torch.zeros((), device=real.device)
    loss = d_fake - d_real + lambda_gp * penalty
    return loss, (d_real - d_fake).detach(), penalty.detach()


def generator_loss(critic: nn.Module, fake: torch.Tensor) -> torch.Tensor:
    """Generator objective to minimise: ``-mean D(fake)`` (raise the critic's score of fakes)."""
    return -critic(fake).mean()


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero ``x`` (N, C, S, S) outside ``mask`` (S, S) (1 inside the 40N disk, 0 outside)."""
    mask = torch.as_tensor(mask)
    if tuple(mask.shape) != tuple(x.shape[-2:]):
        raise ValueError(f"apply_mask: mask of shape {tuple(x.shape[-2:])} expected for images "
                         f"{tuple(x.shape)}, got {tuple(mask.shape)}")
    return x * mask.to(device=x.device, dtype=x.dtype)
