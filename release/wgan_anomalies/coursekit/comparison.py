# GENERATED from reference_solution/coursekit/comparison.py by `python -m reference_solution release`; edit the original
"""Comparing anomaly detectors against ground truth: ROC-AUC, average precision, a common workload.

Numpy only (course support code: the optional detector section of the notebook uses it).
Definitions follow scikit-learn's, ties included, so the numbers match ``sklearn.metrics``:

- ``roc_auc``: the probability that a random positive day scores above a random negative one,
  ties counting one half (the Mann-Whitney statistic over ``n_pos * n_neg``).
- ``average_precision``: ``sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds,
  highest first (the area under the precision-recall steps, no interpolation).
- at a workload ``flag_rate``: the top ``flag_rate`` share of days is flagged (score above the
  ``1 - flag_rate`` quantile), and precision and recall are counted there, so detectors whose
  scores live on different scales are compared flagging the same number of days.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["roc_curve", "roc_auc", "average_precision", "compare_detectors", "format_table"]


def _check(truth, scores) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(truth).astype(bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if t.shape != s.shape:
        raise ValueError(f"truth has {t.size} days, scores {s.size}; expected one score a day")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    if t.all() or not t.any():
        raise ValueError("truth needs both positive and negative days")
    return t, s


def _steps(t: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct threshold, highest score first."""
    order = np.argsort(-s, kind="stable")
    s, t = s[order], t[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each tie group
    tp = np.cumsum(t)[last]
    return tp, (last + 1) - tp


def roc_curve(truth, scores) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, tpr)`` from ``(0, 0)`` to ``(1, 1)``, one point per distinct threshold."""
    t, s = _check(truth, scores)
    tp, fp = _steps(t, s)
    return np.r_[0.0, fp / (~t).sum()], np.r_[0.0, tp / t.sum()]


def roc_auc(truth, scores) -> float:
    """ROC-AUC by ranks (ties count one half)."""
    t, s = _check(truth, scores)
    ranks = stats.rankdata(s)  # average ranks for ties
    n_pos, n_neg = t.sum(), (~t).sum()
    return float((ranks[t].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(truth, scores) -> float:
    """Area under the precision-recall steps, as ``sklearn.metrics.average_precision_score``."""
    t, s = _check(truth, scores)
    tp, fp = _steps(t, s)
    precision, recall = tp / (tp + fp), tp / t.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def compare_detectors(scores: dict[str, np.ndarray], truth, flag_rate: float = 0.06) -> dict[str, dict]:
    """Per named score array: ROC-AUC, AP, and precision/recall/flagged at ``flag_rate``."""
    if not 0 < flag_rate < 1:
        raise ValueError(f"flag_rate must lie in (0, 1), found {flag_rate}")
    out = {}
    for name, values in scores.items():
        t, s = _check(truth, values)
        flagged = s > np.quantile(s, 1 - flag_rate)
        hits = int((flagged & t).sum())
        out[name] = {"roc_auc": roc_auc(t, s), "average_precision": average_precision(t, s),
                     "flagged": int(flagged.sum()), "hits": hits,
                     "precision": hits / flagged.sum() if flagged.any() else 0.0,
                     "recall": hits / t.sum()}
    return out


def format_table(results: dict[str, dict]) -> str:
    """A plain-text table of ``compare_detectors``'s results, best ROC-AUC first."""
    rows = sorted(results.items(), key=lambda kv: -kv[1]["roc_auc"])
    width = max([8] + [len(k) for k in results])
    lines = [f"{'detector':<{width}}  ROC-AUC     AP  flagged  hits  precision  recall"]
    for name, m in rows:
        lines.append(f"{name:<{width}}  {m['roc_auc']:7.3f}  {m['average_precision']:5.3f}  "
                     f"{m['flagged']:7d}  {m['hits']:4d}  {m['precision']:9.3f}  {m['recall']:6.3f}")
    return "\n".join(lines)
