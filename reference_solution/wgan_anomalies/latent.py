"""The latent space's laws: the chi quantile, the outer radius, and tests of a sampler's output.

The generator was trained on ``z ~ N(0, I_n)``; ``|z|`` follows the chi law with ``n`` degrees of
freedom. "Normal" latents lie inside the ball of radius ``q = chi_quantile(0.98, n)``, "anomalous"
ones outside. The samplers themselves are the notebook's solutions (``exercises``:
``SamplingUnitSphereUniform``, ``SamplingBallUniform``, ``SampleInnerAndOuterExamples`` and the two
balancing schemes inside ``train_classifier``; ``classifier.scheme_latents`` records the latter):

- ``"ball"``: uniform in the ball of radius ``q * 2**(1/n)``; the volume ratio makes inner and
  outer equally likely. (The seed's text once writes ``R_outer = 2**(1/n)``; it is ``q * 2**(1/n)``.)
- ``"gaussian"``: ``z ~ N(0, I)`` with inner samples rejected with probability 48/49, so the
  kept inner mass 0.98 / 49 = 0.02 equals the outer mass.

The catch: at n = 128 a uniform ball is all shell. Its radius ``R * U**(1/n)`` has median
``0.5**(1/128) R ~ 0.995 R`` and ``P(r < 0.95 R) = 0.95**128 ~ 0.0014``, so "ball" inner samples
have norms ~ 12.7 while the generator saw chi norms (mean ~ 11.29, sd ~ 0.71). The two schemes
therefore show the classifier very different inputs, and "ball" inner samples are rare under the
generator's own training law.

``norm_law_pvalue`` and ``direction_uniformity_pvalue`` are what the grader's statistics judge a
student's sampler by (``grading/statistics.py``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats

__all__ = ["chi_quantile", "outer_radius", "REJECT_INNER_PROBABILITY", "norm_law_pvalue",
           "direction_uniformity_pvalue"]

# P(|z| <= q_0.98) = 0.98; keeping inner samples with probability 0.02 / 0.98 = 1/49 leaves
# inner mass 0.02 = outer mass.
REJECT_INNER_PROBABILITY = 48 / 49



def _check_dims(n_dims: int, n_samples: int) -> None:
    if isinstance(n_dims, bool) or int(n_dims) != n_dims or n_dims < 1:
        raise ValueError(f"n_dims must be a positive integer, found {n_dims!r}")
    if isinstance(n_samples, bool) or int(n_samples) != n_samples or n_samples < 0:
        raise ValueError(f"n_samples must be a non-negative integer, found {n_samples!r}")


def _check_radius(radius: float, name: str = "radius") -> float:
    radius = float(radius)
    if not math.isfinite(radius) or radius < 0:
        raise ValueError(f"{name} must be finite and >= 0, found {radius}")
    return radius



def chi_quantile(p: float, n_dims: int) -> float:
    """Quantile ``p`` of the chi law with ``n_dims`` degrees of freedom (law of ``|z|``).

    ``chi_quantile(0.98, 128) ~ 12.7657``, ``chi_quantile(0.98, 2) ~ 2.7971``.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must lie in (0, 1), found {p}")
    _check_dims(n_dims, 0)
    return float(stats.chi.ppf(p, n_dims))


def outer_radius(radius_inner: float, n_dims: int) -> float:
    """Radius of the ball whose volume is twice that of the inner one: ``r * 2**(1/n)``."""
    _check_dims(n_dims, 0)
    return _check_radius(radius_inner, "radius_inner") * 2.0 ** (1.0 / n_dims)








def _as_rows(z) -> np.ndarray:
    if isinstance(z, torch.Tensor):
        z = z.detach().to("cpu", torch.float64).numpy()
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ValueError(f"expected samples of shape (N, n) with N, n >= 1, found {z.shape}")
    return z


def norm_law_pvalue(z, radius: float) -> float:
    """p-value of "rows of ``z`` are uniform in the ball of ``radius``" judged by their norms.

    Under the law ``(|z| / R)**n ~ U(0, 1)``; a Kolmogorov-Smirnov test compares them. A norm
    above ``R`` (beyond rounding) or a non-finite value gives 0. Directions are not tested
    (see ``direction_uniformity_pvalue``).
    """
    z = _as_rows(z)
    radius = _check_radius(radius)
    if radius == 0 or not np.isfinite(z).all():
        return 0.0
    ratio = np.linalg.norm(z, axis=1) / radius
    if (ratio > 1 + 1e-6).any():
        return 0.0
    u = np.minimum(ratio, 1.0) ** z.shape[1]
    return float(stats.kstest(u, "uniform").pvalue)


def direction_uniformity_pvalue(z, n_projections: int = 8, seed: int = 0) -> float:
    """p-value of "directions ``z / |z|`` are uniform on the sphere" (Bonferroni-combined).

    One coordinate ``x`` of a uniform point on the sphere in ``n >= 2`` dimensions satisfies
    ``(x + 1) / 2 ~ Beta((n - 1) / 2, (n - 1) / 2)``; by symmetry so does its projection on any
    unit vector. Projections on ``n_projections`` seeded random unit vectors, on up to 4
    coordinate axes and on two diagonals (which catch directions taken from a cube) are each
    compared with that law by a KS test, and their absolute values with the folded law (more
    power against symmetric deviations); the result is ``min(1, K * min p)`` over the K tests.
    For n = 1 the sign is tested against a fair coin. Zero rows are ignored; a non-finite value
    gives 0.
    """
    z = _as_rows(z)
    if not np.isfinite(z).all():
        return 0.0
    norm = np.linalg.norm(z, axis=1)
    d = z[norm > 0] / norm[norm > 0, None]
    n_rows, n = d.shape
    if n_rows == 0:
        return 0.0
    if n == 1:
        return float(stats.binomtest(int((d[:, 0] > 0).sum()), n_rows, 0.5).pvalue)
    rng = np.random.default_rng(seed)
    random_dirs = rng.standard_normal((n_projections, n))
    axes = np.eye(n)[: min(n, 4)]
    diagonals = np.stack([np.ones(n), np.where(np.arange(n) % 2 == 0, 1.0, -1.0)])
    v = np.concatenate([random_dirs, axes, diagonals])
    v /= np.linalg.norm(v, axis=1, keepdims=True)  # (K, n)
    law = stats.beta((n - 1) / 2, (n - 1) / 2)
    x = np.clip(d @ v.T, -1.0, 1.0)  # (N, K)
    pvalues = []
    for k in range(v.shape[0]):
        pvalues.append(stats.kstest((x[:, k] + 1) / 2, law.cdf).pvalue)
        # |x| doubles a symmetric deviation (directions bunched towards the cube's corners)
        pvalues.append(stats.kstest(np.abs(x[:, k]), lambda t: 2 * law.cdf((t + 1) / 2) - 1).pvalue)
    return float(min(1.0, len(pvalues) * min(pvalues)))
