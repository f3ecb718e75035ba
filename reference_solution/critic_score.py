"""The WGAN-GP critic as an anomaly detector: its score ``D(x)`` and its features ``f(x)``.

A Wasserstein critic trained to optimality is a 1-Lipschitz potential whose value is high where
the data law has more mass than the generator's and low where it has less (Arjovsky et al.
2017). Two readings of ``D(x)`` as an anomaly score follow:

- ``-D(x)`` (the usual one, e.g. in the f-AnoGAN comparisons of Schlegl et al. 2019): a state
  unlike anything in training gets a low critic value.
- ``+D(x)``: here the warmings *are* in the training data, but a generator trained briefly
  under-produces rare states, so the critic learns that they are "more real than the
  generator can make" and scores them high.

Which one applies is an empirical question; the pipeline takes the sign from its preset, chosen
on tuning seeds and not on the evaluation ones (see ``docs/DETECTOR.md``).

``critic_features`` exposes the critic's last feature map, ``f(x)``, which AnoGAN and f-AnoGAN
use as a learned feature space for their "feature residual".

Course support code (the optional detector section of the notebook): numpy and torch only.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn as nn

__all__ = ["critic_scores", "critic_features", "batched_states"]


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are a nicety
        return iterable
    return tqdm(iterable, total=total, desc=desc)


def batched_states(dataset, batch_size: int, mask: torch.Tensor | None = None,
                   device: torch.device | str = "cpu", progress: bool = False, desc: str = ""):
    """Yield ``(start, x)`` with ``x`` ``(B, 2, S, S)`` float32 on ``device``, in dataset order.

    ``dataset`` is a tensor ``(N, 2, S, S)`` or anything with ``len`` and ``ds[i]`` a ``(2, S, S)``
    day; ``mask`` ``(S, S)`` is applied when given (idempotent on already masked data).
    """
    n = len(dataset)
    starts = range(0, n, batch_size)
    m = None if mask is None else torch.as_tensor(mask, dtype=torch.float32).to(device)
    for start in _progress(starts, len(starts), desc, progress):
        stop = min(n, start + batch_size)
        if isinstance(dataset, torch.Tensor):
            x = dataset[start:stop]
        else:
            x = torch.stack([torch.as_tensor(dataset[i]) for i in range(start, stop)])
        x = x.to(device=device, dtype=torch.float32)
        yield start, (x if m is None else x * m)


def _device(model: nn.Module) -> torch.device:
    params = list(model.parameters())
    return params[0].device if params else torch.device("cpu")


@torch.no_grad()
def critic_scores(critic: nn.Module, dataset, batch_size: int = 256,
                  mask: torch.Tensor | None = None, progress: bool = False) -> np.ndarray:
    """``D(x)`` for every day of ``dataset`` in order -> ``(N,)`` float64 (higher = more "real")."""
    device = _device(critic)
    was_training = critic.training
    critic.eval()
    out = np.empty(len(dataset))
    try:
        for start, x in batched_states(dataset, batch_size, mask, device, progress, "critic"):
            out[start:start + len(x)] = critic(x).float().reshape(-1).cpu().numpy()
    finally:
        critic.train(was_training)
    return out


def critic_features(critic: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``f``: ``(B, 2, S, S) -> (B, F)``, the critic's input to its final linear layer.

    Uses ``critic.features`` (the course's ``Discriminator``); a critic without it must be a
    ``nn.Sequential`` whose last module is the scoring layer.
    """
    body = getattr(critic, "features", None)
    if body is None:
        if not isinstance(critic, nn.Sequential) or len(critic) < 2:
            raise TypeError("critic_features needs a critic with a .features module or a "
                            f"nn.Sequential ending in its scoring layer; found {type(critic).__name__}")
        body = critic[:-1]

    def f(x: torch.Tensor) -> torch.Tensor:
        return body(x).flatten(1)  # (B, F)

    return f
