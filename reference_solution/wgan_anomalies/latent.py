"""Samplers of the latent space: unit sphere, ball, inner/outer split and balanced batches.

The generator was trained on ``z ~ N(0, I_n)``; ``|z|`` follows the chi law with ``n`` degrees of
freedom. "Normal" latents lie inside the ball of radius ``q = chi_quantile(0.98, n)``, "anomalous"
ones outside. Two ways to draw a balanced batch (``balanced_latents``):

- ``"ball"``: uniform in the ball of radius ``q * 2**(1/n)``; the volume ratio makes inner and
  outer equally likely. (The seed's text once writes ``R_outer = 2**(1/n)``; it is ``q * 2**(1/n)``.)
- ``"gaussian"``: ``z ~ N(0, I)`` with inner samples rejected with probability 48/49, so the
  kept inner mass 0.98 / 49 = 0.02 equals the outer mass.

The catch: at n = 128 a uniform ball is all shell. Its radius ``R * U**(1/n)`` has median
``0.5**(1/128) R ~ 0.995 R`` and ``P(r < 0.95 R) = 0.95**128 ~ 0.0014``, so "ball" inner samples
have norms ~ 12.7 while the generator saw chi norms (mean ~ 11.29, sd ~ 0.71). The two schemes
therefore show the classifier very different inputs, and "ball" inner samples are rare under the
generator's own training law.

Radii are computed in float64: ``U**(1/n)`` at n = 128 squeezes [0, 1] into about [0.9, 1],
where float16/bfloat16 rounding would push points outside the ball or onto a few radii.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats

__all__ = [
    "chi_quantile", "outer_radius", "REJECT_INNER_PROBABILITY",
    "sample_unit_sphere", "sample_ball", "split_by_norm", "sample_inner_and_outer",
    "balanced_latents", "norm_law_pvalue", "direction_uniformity_pvalue",
]

# P(|z| <= q_0.98) = 0.98; keeping inner samples with probability 0.02 / 0.98 = 1/49 leaves
# inner mass 0.02 = outer mass.
REJECT_INNER_PROBABILITY = 48 / 49

_CHUNK_ELEMENTS = 1 << 22  # numbers per bulk Gaussian draw in the rejection sampler (16 MB)


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


def _draw_device(generator: torch.Generator | None, device) -> torch.device:
    # A generator draws on its own device; results are moved to ``device`` afterwards.
    if generator is not None:
        return generator.device
    return torch.device(device) if device is not None else torch.device("cpu")


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


def sample_unit_sphere(n_dims: int, n_samples: int, generator: torch.Generator | None = None,
                       device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(N, n)`` points uniform on the unit sphere: Gaussian vectors divided by their norms."""
    _check_dims(n_dims, n_samples)
    d = torch.randn(n_samples, n_dims, generator=generator, dtype=torch.float64,
                    device=_draw_device(generator, device))
    norm = d.norm(dim=1, keepdim=True)
    while (norm == 0).any():  # probability ~0, but a zero vector has no direction
        zero = (norm == 0).squeeze(1)
        d[zero] = torch.randn(int(zero.sum()), n_dims, generator=generator, dtype=torch.float64,
                              device=d.device)
        norm = d.norm(dim=1, keepdim=True)
    return (d / norm).to(device=device or d.device, dtype=dtype)  # (N, n)


def sample_ball(n_dims: int, radius: float, n_samples: int,
                generator: torch.Generator | None = None, device=None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(N, n)`` points uniform in the ball of ``radius``: direction x radius x ``U**(1/n)``.

    ``P(|b| <= r) = (r / R)**n``: at n = 128 the median norm is ``0.995 R``.
    """
    radius = _check_radius(radius)
    s = sample_unit_sphere(n_dims, n_samples, generator, dtype=torch.float64)  # (N, n)
    u = torch.rand(n_samples, 1, generator=generator, dtype=torch.float64, device=s.device)
    b = s * (radius * u ** (1.0 / n_dims))  # float64 radii, see the module docstring
    return b.to(device=device or b.device, dtype=dtype)


def split_by_norm(z: torch.Tensor, radius_inner: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inner, outer)``: rows of ``z`` with ``|z| <= radius_inner`` and the rest."""
    if z.ndim != 2:
        raise ValueError(f"expected z of shape (N, n), found {tuple(z.shape)}")
    inner = z.double().norm(dim=1) <= radius_inner
    return z[inner], z[~inner]


def sample_inner_and_outer(n_dims: int, radius_inner: float, radius_outer: float, n_samples: int,
                           generator: torch.Generator | None = None, device=None,
                           dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_samples`` uniform in the ball of ``radius_outer``, split at ``radius_inner``.

    With ``radius_outer = outer_radius(radius_inner, n)`` both parts are 50/50 in expectation.
    """
    radius_inner = _check_radius(radius_inner, "radius_inner")
    if radius_inner > _check_radius(radius_outer, "radius_outer"):
        raise ValueError(f"radius_inner ({radius_inner}) must not exceed radius_outer ({radius_outer})")
    b = sample_ball(n_dims, radius_outer, n_samples, generator, device, dtype)
    return split_by_norm(b, radius_inner)


def balanced_latents(n_dims: int, batch_size: int, scheme: str = "ball", quantile: float = 0.98,
                     generator: torch.Generator | None = None,
                     device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of latents and labels, normal (0) and anomalous (1) equally likely.

    Returns ``z`` ``(B, n)`` float32 and ``labels`` ``(B,)`` float32: 1 where ``|z|`` (of the
    float32 ``z``, measured in float64) exceeds ``chi_quantile(quantile, n)``.

    - ``"ball"``: uniform in the ball of radius ``q * 2**(1/n)``.
    - ``"gaussian"``: ``z ~ N(0, I)``; inner samples kept with probability ``(1 - p) / p``
      (1/49 at p = 0.98, i.e. rejected with ``REJECT_INNER_PROBABILITY``), outer ones kept.
      Drawn in bulk and topped up until ``batch_size`` are kept.
    """
    _check_dims(n_dims, batch_size)
    q = chi_quantile(quantile, n_dims)
    if scheme == "ball":
        z = sample_ball(n_dims, outer_radius(q, n_dims), batch_size, generator)
    elif scheme == "gaussian":
        z = _gaussian_balanced(n_dims, batch_size, q, quantile, generator)
    else:
        raise ValueError(f"scheme must be 'ball' or 'gaussian', found {scheme!r}")
    z = z.to(torch.float32)
    labels = (z.double().norm(dim=1) > q).to(torch.float32)
    target = device if device is not None else z.device
    return z.to(target), labels.to(target)  # (B, n), (B,)


def _gaussian_balanced(n_dims: int, batch_size: int, q: float, p: float,
                       generator: torch.Generator | None) -> torch.Tensor:
    keep_inner = min(1.0, (1 - p) / p)  # 1/49 at p = 0.98
    keep_outer = min(1.0, p / (1 - p))  # 1 unless p < 0.5
    accept_rate = p * keep_inner + (1 - p) * keep_outer
    dev = _draw_device(generator, None)
    kept, n_kept = [], 0
    while n_kept < batch_size:
        need = batch_size - n_kept
        rows = min(max(1, _CHUNK_ELEMENTS // n_dims), int(need / accept_rate * 1.2) + 64)
        z = torch.randn(rows, n_dims, generator=generator, device=dev)
        outer = torch.linalg.vector_norm(z, dim=1, dtype=torch.float64) > q
        u = torch.rand(rows, generator=generator, dtype=torch.float64, device=dev)
        keep = torch.where(outer, u < keep_outer, u < keep_inner)
        kept.append(z[keep][:need])
        n_kept += kept[-1].shape[0]
    return torch.cat(kept)  # (B, n), i.i.d. in draw order


# ---- statistical tests for grading code ------------------------------------------------------

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
