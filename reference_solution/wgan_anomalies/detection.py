"""Scoring a whole dataset, choosing a threshold, and judging detections against ground truth.

Next to the GAN pipeline's score this module computes simple baselines on the same data, so a
user sees honestly how the pipeline compares:

- ``polar_cap_index``, ``wind_index``: circulation indices of the height field (``baselines``,
  re-exported here).
- ``pca_error``: reconstruction error of a PCA fitted on all days; rare states fit worst.
- ``pca_mahalanobis``: Mahalanobis distance of a day's leading PCA coefficients, the density of
  a Gaussian fitted to all days: the simplest unsupervised "rare state" detector, and what
  latent inversion computes for a linear generator (probabilistic PCA).

All three need only the course files, so they also run on the real data.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from ..coursekit.baselines import latitude_grid, polar_cap_index, wind_index

__all__ = ["score_dataset", "threshold_for_rate", "idx_anomalies", "latitude_grid",
           "polar_cap_index", "wind_index", "pca_error", "pca_mahalanobis",
           "detection_metrics"]


@torch.no_grad()
def score_dataset(model_clf: nn.Module, dataset: Dataset, batch_size: int = 64,
                  progress: bool = True) -> np.ndarray:
    """P(anomalous) for every item of ``dataset``, in order: ``(N,)`` float64."""
    from tqdm.auto import tqdm

    device = next(model_clf.parameters()).device
    was_training = model_clf.training
    model_clf.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    out = []
    for x in tqdm(loader, desc="scoring", disable=not progress):
        out.append(torch.sigmoid(model_clf(x.to(device)).float()).reshape(-1).cpu())
    model_clf.train(was_training)
    return torch.cat(out).double().numpy()


def threshold_for_rate(scores: np.ndarray, rate: float) -> float:
    """The threshold that flags the top ``rate`` share of days (e.g. the expected SSW share)."""
    if not 0 < rate < 1:
        raise ValueError(f"rate must be in (0, 1), got {rate}")
    return float(np.quantile(np.asarray(scores, dtype=float), 1 - rate))


def idx_anomalies(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of the days whose score exceeds ``threshold``, in dataset order."""
    return np.flatnonzero(np.asarray(scores) > threshold)


def pca_error(pv: np.ndarray, gh: np.ndarray, mask: np.ndarray | None = None,
              n_components: int = 8, fit_days: int = 2000, seed: int = 0,
              max_pixels: int = 64 * 64) -> np.ndarray:
    """Reconstruction error of a PCA of both fields (inside the mask), per day.

    Large grids are subsampled to about ``max_pixels`` pixels per field (strided), which keeps
    the 256 px case cheap and changes little: the leading components are smooth.
    """
    return _pca_days(pv, gh, mask, n_components, fit_days, seed, max_pixels)[0]


def pca_mahalanobis(pv: np.ndarray, gh: np.ndarray, mask: np.ndarray | None = None,
                    n_components: int = 4, fit_days: int = 2000, seed: int = 0,
                    max_pixels: int = 64 * 64) -> np.ndarray:
    """``sum_k c_k^2 / lambda_k`` over the leading ``n_components`` PCA coefficients, per day.

    The squared Mahalanobis distance under a Gaussian fitted to the days: high = rare. The
    default of 4 components was chosen on tuning seeds (see ``docs/DETECTOR.md``).
    """
    return _pca_days(pv, gh, mask, n_components, fit_days, seed, max_pixels)[1]


def _pca_days(pv, gh, mask, n_components, fit_days, seed, max_pixels) -> tuple[np.ndarray, np.ndarray]:
    """Per-day PCA reconstruction error and squared Mahalanobis distance of the coefficients."""
    from sklearn.decomposition import PCA

    size = gh.shape[-1]
    step = max(1, int(math.ceil(math.sqrt(size * size / max_pixels))))
    inside = (np.ones((size, size), bool) if mask is None else np.asarray(mask) > 0.5)[::step, ::step]

    def features(lo: int, hi: int) -> np.ndarray:
        a = np.asarray(pv[lo:hi, ::step, ::step])[:, inside]
        b = np.asarray(gh[lo:hi, ::step, ::step])[:, inside]
        return np.concatenate([a, b], axis=1).astype(np.float64)

    n = len(gh)
    rng = np.random.default_rng(seed)
    fit_idx = np.sort(rng.choice(n, size=min(n, fit_days), replace=False))
    fit = np.concatenate([features(i, i + 1) for i in fit_idx]) if n > fit_days else features(0, n)
    pca = PCA(n_components=min(n_components, len(fit) - 1), random_state=seed).fit(fit)
    errors, distances = np.empty(n), np.empty(n)
    variances = np.maximum(pca.explained_variance_, 1e-12)
    for i in range(0, n, 512):
        x = features(i, min(n, i + 512))
        c = pca.transform(x)
        errors[i:i + len(x)] = ((pca.inverse_transform(c) - x) ** 2).mean(axis=1)
        distances[i:i + len(x)] = (c ** 2 / variances).sum(axis=1)
    return errors, distances


def detection_metrics(truth: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """ROC-AUC, average precision, and precision/recall/F1 at ``threshold`` (scikit-learn)."""
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

    truth = np.asarray(truth, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf")
    flagged = scores > threshold
    out = {"threshold": float(threshold), "flagged": int(flagged.sum()),
           "positives": int(truth.sum()), "days": int(len(truth))}
    if 0 < truth.sum() < len(truth):
        out["roc_auc"] = float(roc_auc_score(truth, scores))
        out["average_precision"] = float(average_precision_score(truth, scores))
    else:
        out["roc_auc"] = out["average_precision"] = None
    out["precision"] = float(precision_score(truth, flagged, zero_division=0))
    out["recall"] = float(recall_score(truth, flagged, zero_division=0))
    out["f1"] = float(f1_score(truth, flagged, zero_division=0))
    return out
