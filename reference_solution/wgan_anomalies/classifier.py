"""The normal-vs-anomalous classifier F(x), trained on states made by a frozen generator.

Labels come for free from the latent norm: ``z`` inside the 98% chi-quantile ball gives a
"normal" state (y = 0), outside an "anomalous" one (y = 1). Batches are balanced by the latent
sampling scheme (``latent.balanced_latents``), so the classifier sees both classes equally
often although anomalies are 2% of the generator's own prior.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .latent import balanced_latents

__all__ = ["Classifier", "ClassifierConfig", "ClassifierHistory", "generated_batch",
           "train_classifier"]


class Classifier(nn.Module):
    """CNN ``(N, 2, S, S) -> (N, 1)`` logits (apply a sigmoid for P(anomalous)).

    Strided convolutions halve the grid down to 4x4 whatever ``size`` (a power of two >= 8),
    so one class serves 32 px tests and 256 px data.
    """

    def __init__(self, size: int = 256, width: int = 16, max_width: int = 128):
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"size must be a power of two >= 8, got {size}")
        self.size = size
        layers: list[nn.Module] = []
        c_in, c_out, s = 2, width, size
        while s > 4:
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                       nn.GroupNorm(min(8, c_out), c_out), nn.LeakyReLU(0.2)]
            c_in, c_out, s = c_out, min(2 * c_out, max_width), s // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(c_in * 16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 2, S, S) -> (N, 1)
        if x.ndim != 4 or x.shape[1:] != (2, self.size, self.size):
            raise ValueError(f"Classifier expects (N, 2, {self.size}, {self.size}), "
                             f"got {tuple(x.shape)}")
        return self.head(self.features(x))


@dataclass(frozen=True)
class ClassifierConfig:
    batch_size: int = 64  # generated states per batch, half normal and half anomalous on average
    batches_per_epoch: int = 32  # training batches per epoch (the data are endless)
    val_batches: int = 4  # fresh validation batches per epoch, drawn from a fixed seed
    epochs: int = 10  # passes of batches_per_epoch batches
    lr: float = 1e-3  # Adam learning rate
    lr_decay: float = 0.9  # ExponentialLR gamma, stepped once per epoch
    weight_decay: float = 1e-4  # Adam weight decay; the generated data are cheap but correlated
    scheme: str = "gaussian"  # latent sampling: "gaussian" (rejection, as the notebook recommends) or "ball"
    quantile: float = 0.98  # chi quantile that separates normal from anomalous latents
    seed: int = 0  # seeds the latent draws of training and validation


@dataclass
class ClassifierHistory:
    train_loss: list[float] = field(default_factory=list)  # mean BCE per epoch
    val_loss: list[float] = field(default_factory=list)  # BCE on the validation batches
    val_accuracy: list[float] = field(default_factory=list)  # at probability 0.5

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def generated_batch(model_gen: nn.Module, n_inputs: int, batch_size: int, scheme: str = "ball",
                    quantile: float = 0.98, mask: torch.Tensor | None = None,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A labelled batch ``x (B, 2, S, S)``, ``y (B, 1)`` made by the frozen generator."""
    device = next(model_gen.parameters()).device
    z, y = balanced_latents(n_inputs, batch_size, scheme=scheme, quantile=quantile,
                            generator=generator)
    x = model_gen(z.to(device))
    if mask is not None:
        x = x * mask.to(device)
    return x, y.to(device).reshape(-1, 1)


def _n_inputs(model_gen: nn.Module) -> int:
    n = getattr(model_gen, "n_inputs", None)
    if n is None:
        raise AttributeError("the generator must expose its latent size as .n_inputs")
    return int(n)


def train_classifier(model_gen: nn.Module, model_clf: nn.Module,
                     config: ClassifierConfig = ClassifierConfig(),
                     mask: torch.Tensor | None = None, progress: bool = True) -> ClassifierHistory:
    """Train ``model_clf`` on balanced generated batches; ``model_gen`` stays frozen in eval mode.

    Both models must be on the same device. The generator's ``requires_grad`` flags and mode
    are restored afterwards, so the caller's model is left as it was.
    """
    from tqdm.auto import tqdm

    n_inputs = _n_inputs(model_gen)
    was_training = model_gen.training
    flags = [p.requires_grad for p in model_gen.parameters()]
    model_gen.eval()
    model_gen.requires_grad_(False)
    g_train = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.Adam(model_clf.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=config.lr_decay)
    history = ClassifierHistory()

    def batch(g):
        return generated_batch(model_gen, n_inputs, config.batch_size, config.scheme,
                               config.quantile, mask, g)

    try:
        bar = tqdm(range(config.epochs), desc="classifier", disable=not progress)
        for _epoch in bar:
            # Step 1: fit on fresh generated batches.
            model_clf.train()
            total = 0.0
            for _ in range(config.batches_per_epoch):
                x, y = batch(g_train)
                loss = F.binary_cross_entropy_with_logits(model_clf(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item()
            history.train_loss.append(total / config.batches_per_epoch)
            # Step 2: validate on batches from a fixed stream, comparable across epochs.
            model_clf.eval()
            g_val = torch.Generator().manual_seed(config.seed + 10_007)
            v_loss, v_acc = 0.0, 0.0
            with torch.no_grad():
                for _ in range(config.val_batches):
                    x, y = batch(g_val)
                    logits = model_clf(x)
                    v_loss += float(F.binary_cross_entropy_with_logits(logits, y))
                    v_acc += float(((logits > 0).float() == y).float().mean())
            history.val_loss.append(v_loss / config.val_batches)
            history.val_accuracy.append(v_acc / config.val_batches)
            sched.step()
            bar.set_postfix(train=f"{history.train_loss[-1]:.3f}",
                            val=f"{history.val_loss[-1]:.3f}")
    finally:
        for p, flag in zip(model_gen.parameters(), flags):
            p.requires_grad_(flag)
        model_gen.train(was_training)
    if not all(math.isfinite(v) for v in history.train_loss):
        raise FloatingPointError("classifier loss became NaN/inf; lower the learning rate")
    return history
