"""Statistics the verdicts use: KS tests and the uniformity of directions.

Trusted side only, numpy and torch only. Thresholds are set so that a right answer passes with
overwhelming probability (p-values above ``P_MIN``; see ``bench/bench_check_pass_rates.py``).
"""

from __future__ import annotations

import math

import numpy as np
__all__ = ["P_MIN", "ks_uniform_pvalue", "ks_two_sample_pvalue", "norm_law_pvalue",
           "direction_uniformity_pvalue"]

P_MIN = 1e-6  # smallest p-value a statistical check accepts


def _kolmogorov_pvalue(d: float, n_eff: float) -> float:
    lam = (math.sqrt(n_eff) + 0.12 + 0.11 / math.sqrt(n_eff)) * d
    if lam < 0.2:
        return 1.0
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return float(min(1.0, max(0.0, p)))


def ks_uniform_pvalue(u: np.ndarray) -> float:
    """p-value of "u ~ U(0, 1)" (one-sample KS, asymptotic law)."""
    u = np.sort(np.asarray(u, dtype=np.float64))
    n = len(u)
    i = np.arange(1, n + 1)
    d = max(float(np.max(i / n - u)), float(np.max(u - (i - 1) / n)))
    return _kolmogorov_pvalue(d, n)


def ks_two_sample_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    d = float(np.max(np.abs(np.searchsorted(a, grid, side="right") / len(a)
                            - np.searchsorted(b, grid, side="right") / len(b))))
    return _kolmogorov_pvalue(d, len(a) * len(b) / (len(a) + len(b)))


def norm_law_pvalue(z: np.ndarray, radius: float) -> float:
    """p-value of "rows uniform in the ball": ``(|z|/R)^n ~ U(0, 1)``; 0 if a norm exceeds R."""
    ratio = np.linalg.norm(z, axis=1) / radius
    if (ratio > 1 + 1e-6).any():
        return 0.0
    return ks_uniform_pvalue(np.minimum(ratio, 1.0) ** z.shape[1])


def direction_uniformity_pvalue(z: np.ndarray, seed: int = 0) -> float:
    """p-value (Bonferroni) of "directions uniform on the sphere": projections of ``z/|z|`` on
    random unit vectors, coordinate axes and two diagonals (which catch cube-shaped directions)
    against those of seeded Gaussian directions, by two-sample KS on values and absolute values."""
    d = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = d.shape[1]
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((4 * len(d), n))
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    v = np.concatenate([rng.standard_normal((6, n)), np.eye(n)[: min(n, 3)],
                        np.stack([np.ones(n), np.where(np.arange(n) % 2 == 0, 1.0, -1.0)])])
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    x, y = d @ v.T, ref @ v.T
    pvalues = []
    for k in range(v.shape[0]):
        pvalues.append(ks_two_sample_pvalue(x[:, k], y[:, k]))
        pvalues.append(ks_two_sample_pvalue(np.abs(x[:, k]), np.abs(y[:, k])))
    return float(min(1.0, len(pvalues) * min(pvalues)))
