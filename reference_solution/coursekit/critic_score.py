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

from collections.abc import Callable

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

    Uses ``critic.features`` when the critic has it (the course's ``Discriminator``), all but the
    last module of a ``nn.Sequential``, and otherwise the input of the critic's last
    ``nn.Linear``, caught by a hook during a forward pass (any student's critic that ends in one).
    """
    body = getattr(critic, "features", None)
    if isinstance(body, nn.Module):
        return lambda x: body(x).flatten(1)  # (B, F)
    if isinstance(critic, nn.Sequential) and len(critic) >= 2:
        return lambda x: critic[:-1](x).flatten(1)
    linears = [m for m in critic.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError("critic_features needs a critic with a .features module, a nn.Sequential "
                        f"or a final nn.Linear layer; found {type(critic).__name__} without one")
    last = linears[-1]

    def f(x: torch.Tensor) -> torch.Tensor:
        caught = []
        handle = last.register_forward_pre_hook(lambda module, args: caught.append(args[0]))
        try:
            critic(x)
        finally:
            handle.remove()
        return caught[-1].flatten(1)  # (B, F)

    return f
