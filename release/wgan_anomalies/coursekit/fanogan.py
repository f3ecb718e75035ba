# GENERATED from reference_solution/coursekit/fanogan.py by `python -m reference_solution release`; edit the original
"""f-AnoGAN (Schlegl et al. 2019, Medical Image Analysis 54): an encoder that inverts G in one pass.

After the WGAN-GP is trained, ``G`` and the critic ``D`` are frozen and an encoder
``E: x -> z`` is trained on the data by the "izi_f" objective (image -> latent -> image, with
the critic's features ``f``, the input of ``D``'s last layer):

    L(x) = |m * (x - G(E(x)))|^2 / n  +  kappa |f(x) - f(G(E(x)))|^2 / n_d,

``n`` the number of pixels inside the mask (times 2 channels), ``n_d`` the feature dimension,
``kappa = 1`` in the paper. The anomaly score is the same quantity at test time,
``A(x) = A_R(x) + kappa A_D(x)``: a state the generator cannot reproduce through the encoder has
a large image residual, one whose features the critic finds off has a large feature residual.
The encoder's latent norm ``|E(x)|`` is reported beside it (the seed's premise once more).

Course support code (the optional detector section of the notebook): numpy and torch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from .critic_score import batched_states, critic_features

__all__ = ["Encoder", "FAnoGANConfig", "FAnoGANHistory", "FAnoGANScores", "train_encoder",
           "fanogan_scores", "izi_f_terms"]


class Encoder(nn.Module):
    """``E``: states ``(N, 2, S, S)`` -> latents ``(N, n_latent)``, unbounded (``z ~ N(0, I)``).

    The critic's layout (strided 4x4 convolutions halving the grid to 4 x 4, LeakyReLU, no
    normalisation) and a linear head: any power-of-two ``size >= 8``.
    """

    def __init__(self, n_latent: int = 128, size: int = 256, width: int = 16, max_width: int = 256):
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"Encoder: size must be a power of two >= 8, found {size}")
        self.n_latent, self.size = n_latent, size
        self.init_kwargs = dict(n_latent=n_latent, size=size, width=width, max_width=max_width)
        layers, c_in, res = [], 2, size
        while res > 4:
            res //= 2
            c_out = min(max_width, width * (size // res))
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * 16, n_latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (2, self.size, self.size):
            raise ValueError(f"Encoder expected (N, 2, {self.size}, {self.size}), found {tuple(x.shape)}")
        return self.head(self.features(x).flatten(1))  # (N, n_latent)


@dataclass(frozen=True)
class FAnoGANConfig:
    epochs: int = 10  # passes over the data
    batch_size: int = 64  # states per encoder step
    lr: float = 1e-3  # Adam learning rate (the paper: 1e-4 for 256 px and far more steps)
    lr_decay: float = 0.9  # ExponentialLR gamma, stepped once per epoch
    kappa: float = 1.0  # weight of the critic-feature residual, in training and in the score
    max_steps_per_epoch: int | None = None  # cap on steps per epoch; None = the whole data
    width: int = 8  # base channel width of the encoder
    seed: int = 0  # seeds shuffling


@dataclass
class FAnoGANHistory:
    loss: list[float] = field(default_factory=list)  # mean izi_f loss per epoch
    residual: list[float] = field(default_factory=list)  # mean image residual per epoch
    feature_residual: list[float] = field(default_factory=list)  # mean feature residual per epoch


@dataclass
class FAnoGANScores:
    score: np.ndarray  # (N,) A(x) = A_R + kappa A_D
    residual: np.ndarray  # (N,) A_R, mean squared image residual inside the mask
    feature_residual: np.ndarray  # (N,) A_D, mean squared critic-feature residual
    z: torch.Tensor  # (N, n) E(x), on the CPU

    @property
    def norm(self) -> np.ndarray:
        return self.z.double().norm(dim=1).numpy()


def izi_f_terms(encoder: nn.Module, generator: nn.Module, features, x: torch.Tensor,
                mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(z, A_R, A_D)`` for a batch ``x`` ``(B, 2, S, S)``: ``E(x)`` and the two residuals ``(B,)``."""
    z = encoder(x)  # (B, n)
    g = generator(z)  # (B, 2, S, S)
    if mask is not None:
        g = g * mask
        residual = (g - x).pow(2).flatten(1).sum(dim=1) / (x.shape[1] * mask.sum())
    else:
        residual = (g - x).pow(2).flatten(1).mean(dim=1)
    feature_residual = (features(g) - features(x)).pow(2).mean(dim=1)
    return z, residual, feature_residual


def _frozen(*models: nn.Module):
    """Eval mode and no parameter gradients; returns a function that restores both."""
    saved = [(m, m.training, [p.requires_grad for p in m.parameters()]) for m in models]
    for m in models:
        m.eval()
        m.requires_grad_(False)

    def restore():
        for m, training, flags in saved:
            m.train(training)
            for p, flag in zip(m.parameters(), flags):
                p.requires_grad_(flag)
    return restore


def train_encoder(encoder: nn.Module, generator: nn.Module, critic: nn.Module, dataset,
                  config: FAnoGANConfig = FAnoGANConfig(), mask: torch.Tensor | None = None,
                  progress: bool = False) -> FAnoGANHistory:
    """Train ``encoder`` by izi_f on ``dataset`` (items ``(2, S, S)``); ``G`` and ``D`` stay frozen."""
    params = list(encoder.parameters())
    device = params[0].device
    m = None if mask is None else torch.as_tensor(mask, dtype=torch.float32).to(device)
    features = critic_features(critic)
    restore = _frozen(generator, critic)
    opt = torch.optim.Adam(params, lr=config.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=config.lr_decay)
    history = FAnoGANHistory()
    epochs = range(config.epochs)
    if progress:
        try:
            from tqdm.auto import tqdm
            epochs = tqdm(epochs, desc="f-AnoGAN encoder")
        except ImportError:
            pass
    try:
        for epoch in epochs:
            encoder.train()
            loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=True,
                                drop_last=len(dataset) > config.batch_size,
                                generator=torch.Generator().manual_seed(config.seed * 1_009 + epoch))
            totals, steps = np.zeros(3), 0
            for batch in loader:
                if config.max_steps_per_epoch is not None and steps >= config.max_steps_per_epoch:
                    break
                x = (batch[0] if isinstance(batch, (list, tuple)) else batch).to(device, torch.float32)
                x = x if m is None else x * m
                _, r, f = izi_f_terms(encoder, generator, features, x, m)
                loss = (r + config.kappa * f).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                totals += [float(loss.detach()), float(r.detach().mean()), float(f.detach().mean())]
                steps += 1
            sched.step()
            mean = totals / max(steps, 1)
            history.loss.append(mean[0])
            history.residual.append(mean[1])
            history.feature_residual.append(mean[2])
            if not math.isfinite(mean[0]):
                raise FloatingPointError("f-AnoGAN encoder loss became NaN/inf; lower FAnoGANConfig.lr")
    finally:
        restore()
    return history


@torch.no_grad()
def fanogan_scores(encoder: nn.Module, generator: nn.Module, critic: nn.Module, dataset,
                   kappa: float = 1.0, mask: torch.Tensor | None = None, batch_size: int = 256,
                   progress: bool = False) -> FAnoGANScores:
    """``A(x) = A_R(x) + kappa A_D(x)`` for every day of ``dataset`` in order, with its parts."""
    device = next(encoder.parameters()).device
    m = None if mask is None else torch.as_tensor(mask, dtype=torch.float32).to(device)
    features = critic_features(critic)
    was_training = encoder.training
    encoder.eval()
    restore = _frozen(generator, critic)
    zs, rs, fs = [], [], []
    try:
        for _, x in batched_states(dataset, batch_size, m, device, progress, "f-AnoGAN"):
            z, r, f = izi_f_terms(encoder, generator, features, x, m)
            zs.append(z.cpu())
            rs.append(r.double().cpu())
            fs.append(f.double().cpu())
    finally:
        restore()
        encoder.train(was_training)
    residual, feature_residual = torch.cat(rs).numpy(), torch.cat(fs).numpy()
    return FAnoGANScores(residual + kappa * feature_residual, residual, feature_residual,
                         torch.cat(zs))
