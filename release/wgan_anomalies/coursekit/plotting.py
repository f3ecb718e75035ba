# GENERATED from reference_solution/plotting.py by `python -m reference_solution sync-support`; edit the original
"""Figures of stratospheric states, training curves and anomaly scores.

Course support code: copied next to student notebooks, so it imports only numpy, matplotlib
and torch. Every function returns its ``matplotlib.figure.Figure`` (nothing is shown or saved
here), so notebooks display it and the pipeline report saves it.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

CHANNELS = ("pv", "gh")
# Perceptually uniform maps with a clear low/high: PV in purples (high PV = strong vortex),
# height in a diverging map so the polar low and the ring of high heights both read.
CMAPS = {"pv": "magma", "gh": "RdYlBu_r"}


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def _masked(field: np.ndarray, mask: np.ndarray | None) -> np.ma.MaskedArray:
    if mask is None:
        return np.ma.masked_invalid(field)
    return np.ma.masked_where(np.asarray(mask) < 0.5, field)


def draw_state(axes: Sequence, state, mask=None, titles: Sequence[str] | None = None) -> list:
    """Draw one state ``(2, H, W)`` (pv, gh) into two axes; pixels outside ``mask`` blank."""
    state = _numpy(state)
    if state.ndim != 3 or state.shape[0] != 2:
        raise ValueError(f"expected one state of shape (2, H, W), got {state.shape}")
    mask = None if mask is None else _numpy(mask)
    images = []
    for c, ax in enumerate(axes):
        name = CHANNELS[c]
        images.append(ax.imshow(_masked(state[c], mask), cmap=CMAPS[name], vmin=0, vmax=1,
                                origin="lower", interpolation="nearest"))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(titles[c] if titles else name, fontsize=8)
    return images


def state_grid(states, mask=None, labels: Sequence[str] | None = None, ncols: int = 4,
               channel: int | None = None, title: str | None = None, panel: float = 1.8):
    """A grid of states ``(N, 2, H, W)``: both channels side by side, or one ``channel``."""
    states = _numpy(states)
    n = len(states)
    if n == 0:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center")
        return fig
    per = 1 if channel is not None else 2
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols * per, figsize=(panel * ncols * per, panel * nrows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, ncols)
        label = labels[i] if labels is not None else str(i)
        if channel is None:
            axs = axes[r, 2 * c: 2 * c + 2]
            for ax in axs:
                ax.axis("on")
            draw_state(axs, states[i], mask, titles=[f"{label} pv", "gh"])
        else:
            ax = axes[r, c]
            ax.axis("on")
            ax.imshow(_masked(states[i, channel], mask), cmap=CMAPS[CHANNELS[channel]],
                      vmin=0, vmax=1, origin="lower", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def real_vs_generated(real, fake, mask=None, n: int = 4):
    """Top rows real states, bottom rows generated ones (pv and gh for each)."""
    real, fake = _numpy(real)[:n], _numpy(fake)[:n]
    fig, axes = plt.subplots(2, 2 * n, figsize=(1.8 * 2 * n, 4), squeeze=False)
    for i in range(len(real)):
        draw_state(axes[0, 2 * i: 2 * i + 2], real[i], mask, titles=["real pv", "real gh"])
    for i in range(len(fake)):
        draw_state(axes[1, 2 * i: 2 * i + 2], fake[i], mask, titles=["generated pv", "gh"])
    fig.tight_layout()
    return fig


def loss_curves(curves: dict[str, Sequence[float]], xlabel: str = "step", title: str | None = None):
    """One panel per named curve (e.g. critic loss, generator loss, validation W estimate)."""
    fig, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves), 3), squeeze=False)
    for ax, (name, values) in zip(axes[0], curves.items()):
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, lw=1)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def score_histogram(scores, threshold: float, truth=None, bins: int = 50,
                    xlabel: str = "P(anomalous)"):
    """Histogram of anomaly scores with the threshold; split by ground truth when given."""
    scores = np.asarray(scores, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    edges = np.linspace(min(scores.min(), threshold), max(scores.max(), threshold), bins + 1)
    if truth is None:
        ax.hist(scores, bins=edges, color="tab:blue", alpha=0.8)
    else:
        truth = np.asarray(truth, dtype=bool)
        ax.hist(scores[~truth], bins=edges, color="tab:blue", alpha=0.7, label="no SSW (truth)")
        ax.hist(scores[truth], bins=edges, color="tab:red", alpha=0.7, label="SSW days (truth)")
        ax.legend(fontsize=8)
    ax.axvline(threshold, color="k", ls="--", lw=1)
    above = int((scores > threshold).sum())
    ax.set_title(f"threshold {threshold:.3g}: {above} anomalous, {len(scores) - above} normal",
                 fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("days")
    ax.set_yscale("log")
    fig.tight_layout()
    return fig


def norm_histograms(norms: dict[str, np.ndarray], n_dims: int, radius_inner: float | None = None):
    """Histograms of latent norms ``|z|`` against the chi density of ``n_dims`` degrees of freedom."""
    from scipy import stats

    fig, ax = plt.subplots(figsize=(6, 3.2))
    all_norms = np.concatenate([np.asarray(v, dtype=float) for v in norms.values()])
    grid = np.linspace(0, all_norms.max() * 1.05, 400)
    for name, values in norms.items():
        ax.hist(np.asarray(values, dtype=float), bins=60, density=True, alpha=0.5, label=name)
    ax.plot(grid, stats.chi.pdf(grid, n_dims), "k", lw=1.2, label=f"chi density, n={n_dims}")
    if radius_inner is not None:
        ax.axvline(radius_inner, color="k", ls="--", lw=1, label="98% chi quantile")
    ax.set_xlabel("|z|")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def close(fig) -> None:
    """Release a figure's memory (figures made in loops should be closed)."""
    plt.close(fig)


__all__ = ["draw_state", "state_grid", "real_vs_generated", "loss_curves", "score_histogram",
           "norm_histograms", "close"]
