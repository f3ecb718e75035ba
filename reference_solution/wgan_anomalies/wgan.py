"""Generator, critic and gradient penalty of WGAN-GP (Gulrajani et al. 2017, arXiv:1704.00028).

The critic ``D`` estimates the Wasserstein-1 distance between the data law and the generator's
law as ``E D(x_real) - E D(G(z))`` over 1-Lipschitz functions; the gradient penalty

    GP = E_xhat (||grad_xhat D(xhat)||_2 - 1)^2,   xhat = alpha * x_real + (1 - alpha) * x_fake,

with ``alpha ~ U(0, 1)`` drawn per sample, softly enforces that constraint. The penalty is taken
per sample, so the critic must not mix samples: no batch normalisation in the critic.

Both networks are resolution-agnostic: any power-of-two size >= 8 (256 px for the course data,
32-64 px in tests). Channel widths grow as the resolution shrinks and are capped by
``max_width`` so that 256 px stays affordable on one GPU.
"""

from __future__ import annotations

import math

import torch
from torch import nn

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


def _channels(resolution: int, size: int, width: int, max_width: int) -> int:
    """Channels at a given resolution: ``width`` at full size, doubling per halving, capped."""
    return min(max_width, width * (size // resolution))


class Generator(nn.Module):
    """``z`` (N, n_inputs) -> images (N, 2, size, size) in [0, 1].

    A linear layer to a 4 x 4 feature map, then ``log2(size / 4)`` blocks of nearest-neighbour
    x2 upsampling + 3x3 convolution + BatchNorm + ReLU, and a 3x3 convolution to 2 channels
    with a sigmoid (the course data are scaled to [0, 1]).
    """

    def __init__(self, n_inputs: int = 128, size: int = 256, width: int = 16, max_width: int = 256):
        super().__init__()
        n_blocks = _n_blocks(size, "Generator")
        if n_inputs < 1 or width < 1 or max_width < 1:
            raise ValueError(f"Generator: n_inputs, width and max_width must be >= 1, got "
                             f"{n_inputs}, {width}, {max_width}")
        # Kept so that load_generator can rebuild the network from a checkpoint.
        self.init_kwargs = dict(n_inputs=n_inputs, size=size, width=width, max_width=max_width)
        self.n_inputs, self.size = n_inputs, size
        c0 = _channels(4, size, width, max_width)
        self.project = nn.Linear(n_inputs, c0 * 4 * 4)
        self.project_norm = nn.Sequential(nn.BatchNorm2d(c0), nn.ReLU(inplace=True))
        blocks, c_in, resolution = [], c0, 4
        for _ in range(n_blocks):
            resolution *= 2
            c_out = _channels(resolution, size, width, max_width)
            blocks += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),  # BatchNorm supplies the bias
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.to_image = nn.Conv2d(c_in, N_CHANNELS, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.n_inputs:
            raise ValueError(f"Generator expected latent vectors of shape (N, {self.n_inputs}), "
                             f"got {tuple(z.shape)}")
        h = self.project(z).view(z.shape[0], -1, 4, 4)  # (N, c0, 4, 4)
        h = self.blocks(self.project_norm(h))  # (N, width, S, S)
        return torch.sigmoid(self.to_image(h))  # (N, 2, S, S)


class Discriminator(nn.Module):
    """The WGAN-GP critic: images (N, 2, size, size) -> scores (N, 1), unbounded.

    ``log2(size / 4)`` strided 4x4 convolutions (each halves the resolution) with LeakyReLU,
    then a linear head on the 4 x 4 map. No batch normalisation: the gradient penalty is per
    sample. No sigmoid: a Wasserstein critic's score is any real number.
    """

    def __init__(self, size: int = 256, width: int = 16, max_width: int = 256):
        super().__init__()
        n_blocks = _n_blocks(size, "Discriminator")
        if width < 1 or max_width < 1:
            raise ValueError(f"Discriminator: width and max_width must be >= 1, got "
                             f"{width}, {max_width}")
        self.init_kwargs = dict(size=size, width=width, max_width=max_width)
        self.size = size
        layers, c_in, resolution = [], N_CHANNELS, size
        for _ in range(n_blocks):
            resolution //= 2
            c_out = _channels(resolution, size, width, max_width)
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * 4 * 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (N_CHANNELS, self.size, self.size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"Discriminator expected input of shape (N, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        h = self.features(x)  # (N, c, 4, 4)
        return self.head(h.flatten(1))  # (N, 1)


def _uniform_per_sample(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """alpha ~ U(0, 1), one per sample, shaped (N, 1, ..., 1) to broadcast over ``like``."""
    shape = (like.shape[0],) + (1,) * (like.ndim - 1)
    device = generator.device if generator is not None else like.device
    alpha = torch.rand(shape, generator=generator, device=device, dtype=torch.float32)
    return alpha.to(like.device, like.dtype)


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean over samples of ``(||grad D(xhat)||_2 - 1)^2`` at random interpolates (a 0-d tensor).

    ``real`` and ``fake`` are (N, ...); ``alpha`` is drawn from ``generator`` (the global torch
    RNG when None). The graph is kept (``create_graph=True``) so that the penalty can be
    back-propagated into the critic's parameters: that is a double backward.
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real and fake differ in shape: "
                         f"{tuple(real.shape)} vs {tuple(fake.shape)}")
    alpha = _uniform_per_sample(real, generator)  # (N, 1, 1, 1)
    # Detached: the penalty trains the critic only, never the generator.
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    d_hat = critic(x_hat)  # (N, 1)
    (grad,) = torch.autograd.grad(d_hat.sum(), x_hat, create_graph=True)  # (N, ...)
    # At least float32: under bf16 autocast a sum of 2*256*256 squares would lose the "- 1".
    grad = grad.reshape(grad.shape[0], -1).to(torch.promote_types(grad.dtype, torch.float32))
    grad_norm = grad.norm(2, dim=1)  # (N,)
    return ((grad_norm - 1) ** 2).mean()


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
