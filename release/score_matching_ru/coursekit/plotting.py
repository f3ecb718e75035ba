# GENERATED from reference_solution/coursekit/plotting.py by `python -m reference_solution release`; edit the original
"""Figures of stratospheric states, training curves and anomaly scores.

Course support code: copied next to student notebooks, so it imports only numpy, matplotlib
and torch. Every function returns its ``matplotlib.figure.Figure`` (nothing is shown or saved
here), so notebooks display it and the pipeline report saves it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

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
    fig.tight_layout(rect=(0, 0, 1 - 0.9 / fig.get_figwidth(), 1))  # 0.9 inch for the colour bars
    _colour_bars(fig, [channel] if channel is not None else [0, 1])
    return fig


def _colour_bars(fig, channels: Sequence[int]) -> None:
    """One colour bar per channel at the right edge: what the colours of the scaled fields mean."""
    height, width = 0.8 / len(channels), fig.get_figwidth()
    for k, c in enumerate(channels):
        name = CHANNELS[c]
        cax = fig.add_axes((1 - 0.75 / width, 0.1 + (len(channels) - 1 - k) * height + 0.05 * height,
                            0.12 / width, 0.85 * height))
        bar = fig.colorbar(ScalarMappable(norm=Normalize(0, 1), cmap=CMAPS[name]), cax=cax)
        bar.set_label(name, fontsize=7)  # fields are scaled to [0, 1]
        bar.ax.tick_params(labelsize=6)


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


def loss_curves(curves: dict[str, Sequence[float]], xlabel: str | dict[str, str] = "step",
                title: str | None = None):
    """One panel per named curve (e.g. critic loss, generator loss, validation W estimate);
    ``xlabel`` for all panels, or per curve name (``{"validation": "epoch"}``, others "step")."""
    fig, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves), 3), squeeze=False)
    for ax, (name, values) in zip(axes[0], curves.items()):
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, lw=1)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel.get(name, "step") if isinstance(xlabel, dict) else xlabel)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def quality_curve(distances: Sequence[float], floor: float, ylabel: str = "sliced Wasserstein distance"):
    """Per-epoch distance of generated states to held-out days, with the real-real ``floor``."""
    distances = np.asarray(distances, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(np.arange(1, len(distances) + 1), distances, "o-", ms=3, lw=1, label="generated vs held-out days")
    ax.axhline(floor, color="k", ls="--", lw=1, label="training vs held-out days (floor)")
    ax.axhline(2 * floor, color="k", ls=":", lw=1, label="twice the floor")
    ax.set(xlabel="epoch", ylabel=ylabel, yscale="log", title="sample quality per epoch")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
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


def probability_groups(groups: dict[str, np.ndarray], threshold: float | None = None,
                       title: str = "What the classifier separates"):
    """Overlaid density histograms of ``P(anomalous)`` for named groups of states (e.g. generated
    inside and outside the chi ball, SSW and other days), with the threshold when given."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    bins = np.linspace(0.0, 1.0, 41)
    for k, (name, values) in enumerate(groups.items()):
        values = np.asarray(values, dtype=float)
        ax.hist(values, bins=bins, density=True, histtype="step", lw=1.5, color=f"C{k}",
                label=f"{name} (n={len(values)})")
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.2f}")
    ax.set(xlabel="P(anomalous)", ylabel="density", title=title)
    ax.title.set_fontsize(10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def roc_curves(scores: dict, truth, title: str = "ROC curves against the ground truth"):
    """Every named score's ROC curve on one axes, with its ROC-AUC in the legend (best first)."""
    from .comparison import roc_auc, roc_curve  # only the wgan assignment ships it

    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    aucs = {name: roc_auc(truth, s) for name, s in scores.items()}
    for k, name in enumerate(sorted(aucs, key=aucs.get, reverse=True)):
        fpr, tpr = roc_curve(truth, scores[name])
        ax.plot(fpr, tpr, lw=1.2, color=f"C{k % 10}", ls="-" if k < 10 else "--",
                label=f"{name} ({aucs[name]:.3f})")
    ax.plot([0, 1], [0, 1], color="0.6", ls=":", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="recall (true positive rate)", xlim=(0, 1),
           ylim=(0, 1.01), title=title)
    ax.title.set_fontsize(9)
    ax.legend(fontsize=6.5, loc="lower right", title="ROC-AUC", title_fontsize=7)
    fig.tight_layout()
    return fig


def detector_summary(table: dict[str, dict[str, dict]], metric: str = "roc_auc",
                     title: str | None = None):
    """Horizontal bars of ``metric`` per detector with its range over seeds, one group a preset.

    ``table[preset][detector]`` holds ``{"mean": m, "min": a, "max": b}`` (e.g. the bench's
    summary); bars show the mean, whiskers the range.
    """
    presets = list(table)
    names = list(dict.fromkeys(n for preset in presets for n in table[preset]))
    fig, ax = plt.subplots(figsize=(7.0, 0.32 * len(names) * len(presets) + 1.2))
    height = 0.8 / len(presets)
    for k, preset in enumerate(presets):
        y = np.arange(len(names)) + (k - (len(presets) - 1) / 2) * height
        rows = [table[preset].get(n) for n in names]
        mean = np.array([r["mean"] if r else np.nan for r in rows])
        lo = np.array([r["mean"] - r["min"] if r else 0 for r in rows])
        hi = np.array([r["max"] - r["mean"] if r else 0 for r in rows])
        ax.barh(y, mean, height=height * 0.9, xerr=[lo, hi], color=f"C{k}", alpha=0.8,
                error_kw={"lw": 1, "capsize": 2}, label=preset)
    ax.set_yticks(np.arange(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    if metric == "roc_auc":
        ax.axvline(0.5, color="0.5", ls=":", lw=1)
        ax.axvline(0.9, color="tab:green", ls="--", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"{metric} (bar: mean over seeds, whiskers: range)")
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def close(fig) -> None:
    """Release a figure's memory (figures made in loops should be closed)."""
    plt.close(fig)


__all__ = ["draw_state", "state_grid", "real_vs_generated", "loss_curves", "score_histogram",
           "norm_histograms", "roc_curves", "detector_summary", "close"]
