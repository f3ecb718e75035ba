"""Statistics the verdicts use: the p-value floor and the KS tests of the latent and GP checks.

One implementation each: the laws of the latent samplers (uniform in the ball, directions uniform
on the sphere) are the solution library's own tests (``wgan_anomalies.latent``), which the
library's tests pin down on right and wrong samplers; the one-sample KS test is scipy's.
Thresholds are set so that a right answer passes with overwhelming probability (p-values above
``P_MIN``; see ``bench/bench_check_pass_rates.py``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..wgan_anomalies.latent import direction_uniformity_pvalue, norm_law_pvalue

__all__ = ["P_MIN", "ks_uniform_pvalue", "norm_law_pvalue", "direction_uniformity_pvalue"]

P_MIN = 1e-6  # smallest p-value a statistical check accepts


def ks_uniform_pvalue(u: np.ndarray) -> float:
    """p-value of "u ~ U(0, 1)" (one-sample Kolmogorov-Smirnov)."""
    return float(stats.kstest(np.asarray(u, dtype=np.float64).reshape(-1), "uniform").pvalue)
