"""The normal-vs-anomalous classifier F(x), trained on states made by a frozen generator.

Labels come for free from the latent norm: ``z`` inside the 98% chi-quantile ball gives a
"normal" state (y = 0), outside an "anomalous" one (y = 1). Batches are balanced by the latent
sampling scheme ("gaussian": N(0, I) with inner latents rejected at the exact rate; "ball":
uniform in the ball of radius q 2^(1/n), split at q), so the classifier sees both classes equally
often although anomalies are 2% of the generator's own prior.

The network and the training loop are the notebook's own solutions (``exercises``, generated
from its solution cells); this module adds what the main job needs around them: input checks, a
config, seeded randomness that leaves the caller's RNGs alone, and the generator's state restored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn as nn

from . import exercises

__all__ = ["Classifier", "ClassifierConfig", "ClassifierHistory", "train_classifier"]

SCHEMES = ("gaussian", "ball")


class Classifier(exercises.Classifier):
    """The notebook's CNN ``(N, 2, S, S) -> (N, 1)`` logits (apply a sigmoid for P(anomalous)).

    Strided convolutions with GroupNorm halve the grid down to 4x4 whatever ``size`` (a power of
    two >= 8), so one class serves 32 px tests and 256 px data.
    """

    def __init__(self, size: int = 256):
        if not isinstance(size, int) or size < 8 or size & (size - 1):
            raise ValueError(f"Classifier: size must be a power of two >= 8, got {size!r}")
        super().__init__(size=size)
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 2, S, S) -> (N, 1)
        if x.ndim != 4 or x.shape[1:] != (2, self.size, self.size):
            raise ValueError(f"Classifier expects (N, 2, {self.size}, {self.size}), "
                             f"got {tuple(x.shape)}")
        return super().forward(x)


@dataclass(frozen=True)
class ClassifierConfig:
    batch_size: int = 64  # generated states per batch, half normal and half anomalous on average
    batches_per_epoch: int = 32  # training batches per epoch (the data are endless)
    epochs: int = 10  # passes of batches_per_epoch batches
    lr: float = 1e-3  # Adam learning rate
    lr_decay: float = 0.9  # ExponentialLR gamma, stepped once per epoch
    scheme: str = "gaussian"  # latent sampling: "gaussian" (as the notebook recommends) or "ball"
    seed: int = 0  # seeds the latent draws and dropout

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"ClassifierConfig.scheme must be one of {SCHEMES}, got {self.scheme!r}")
        for name in ("batch_size", "batches_per_epoch", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"ClassifierConfig.{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class ClassifierHistory:
    val_loss: list[float] = field(default_factory=list)  # BCE on fresh generated batches, per epoch

    def to_dict(self) -> dict:
        return asdict(self)


def _n_inputs(model_gen: nn.Module) -> int:
    n = getattr(model_gen, "n_inputs", None)
    if n is None:
        raise AttributeError("the generator must expose its latent size as .n_inputs")
    return int(n)


def train_classifier(model_gen: nn.Module, model_clf: nn.Module,
                     config: ClassifierConfig = ClassifierConfig(),
                     mask: torch.Tensor | None = None, progress: bool = True) -> ClassifierHistory:
    """Train ``model_clf`` on balanced generated batches with the notebook's ``train_classifier``;
    ``model_gen`` stays frozen in eval mode.

    Both models must be on the same device. numpy's and torch's global RNGs are seeded from
    ``config.seed`` for the run and restored afterwards, and so are the generator's mode and
    ``requires_grad`` flags: the caller's state is left as it was.
    """
    n_inputs = _n_inputs(model_gen)
    was_training = model_gen.training
    flags = [p.requires_grad for p in model_gen.parameters()]
    model_gen.requires_grad_(False)
    device = next(model_clf.parameters()).device
    np_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(config.seed)
            np.random.seed(config.seed)
            val_loss = exercises.train_classifier(
                model_gen, model_clf, batch_size=config.batch_size,
                batches_per_epoch=config.batches_per_epoch, max_epochs=config.epochs,
                latent_dim=n_inputs, mask=mask, lr=config.lr, lr_gamma=config.lr_decay,
                scheme=config.scheme, progress=progress)
    finally:
        np.random.set_state(np_state)
        for p, flag in zip(model_gen.parameters(), flags):
            p.requires_grad_(flag)
        model_gen.train(was_training)
    history = ClassifierHistory(val_loss=[float(v) for v in val_loss])
    if not all(math.isfinite(v) for v in history.val_loss):
        raise FloatingPointError("classifier loss became NaN/inf; lower the learning rate")
    return history


class _LatentRecorder(nn.Module):
    """Stands in for the generator: records every latent batch, returns one number per latent."""

    def __init__(self, n_inputs: int):
        super().__init__()
        self.n_inputs = n_inputs
        self.batches: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, n) -> (B, 1, 1, 1)
        self.batches.append(z.detach().cpu())
        return torch.zeros(z.shape[0], 1, 1, 1, device=z.device)


class _OneWeight(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (B, 1)
        return self.w * x.flatten(1).mean(1, keepdim=True)


def scheme_latents(n_inputs: int, n_samples: int, scheme: str = "gaussian",
                   seed: int = 0) -> np.ndarray:
    """``(n_samples, n_inputs)`` latents as the notebook's ``train_classifier`` draws them under
    ``scheme`` (its first training batch, recorded by a stand-in generator): for figures and tests
    of the schemes, with the one implementation of them the course has."""
    recorder = _LatentRecorder(n_inputs)
    config = ClassifierConfig(batch_size=n_samples, batches_per_epoch=1, epochs=1, scheme=scheme, seed=seed)
    with torch.enable_grad():  # callers may be under no_grad (the report); the stand-in still trains
        train_classifier(recorder, _OneWeight(), config, progress=False)
    return recorder.batches[0].numpy().astype(np.float64)
