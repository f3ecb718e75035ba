"""Hidden checks of Part 3 of ``wgan_anomalies``: samplers, chi quantile, rejection probability.

The samplers' outputs come back as float64 rows and are tested here with KS statistics at
p > 1e-6 (Bonferroni over projections), from seeds the kernel learns only when the probe starts.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats

from .protocol import Check
from .statistics import P_MIN, direction_uniformity_pvalue, norm_law_pvalue

SAMPLER_SECONDS = 30.0  # a right sampler takes milliseconds; cube rejection never ends at n = 128


def _seed(rng) -> int:
    return int(rng.integers(1 << 31))


def _rows(got: dict, what: str, shape: tuple[int, int]) -> np.ndarray:
    assert got["kind"] in ("tensor", "ndarray"), f"{what} should return a numpy array or a tensor, got {got['kind']}"
    rows = np.asarray(got["rows"], dtype=np.float64)
    assert rows.shape == shape, f"{what} should return shape {shape}, got {rows.shape}"
    assert np.isfinite(rows).all(), f"{what} returned NaN or inf"
    return rows


def sphere_challenge(rng, folder: Path) -> dict:
    return {"function": "SamplingUnitSphereUniform", "_seed": _seed(rng),
            "cases": [{"seed": _seed(rng), "ndim": n, "nsamples": 4000, "kwargs": ["ndim", "nsamples"]}
                      for n in (2, 3, 128)]}


def sphere_sampler_is_uniform(challenge: dict, result: dict) -> None:
    """Unit-norm rows whose directions are uniform on the sphere (statistical tests, secret seeds)."""
    for case, got in zip(challenge["cases"], result["runs"]):
        n, count = case["ndim"], case["nsamples"]
        s = _rows(got, f"SamplingUnitSphereUniform(ndim={n}, nsamples={count})", (count, n))
        err = float(np.abs(np.linalg.norm(s, axis=1) - 1).max())
        assert err < 1e-5, f"points on the unit sphere should have norm 1 (off by {err:.2g} at n = {n})"
        p = direction_uniformity_pvalue(s, seed=challenge["_seed"] + n)
        assert p > P_MIN, (f"at n = {n} the directions are not uniform on the sphere (p = {p:.2g}); "
                           "normalise Gaussian vectors, not points of a cube")


def ball_challenge(rng, folder: Path) -> dict:
    return {"function": "SamplingBallUniform", "_seed": _seed(rng),
            "cases": [{"seed": _seed(rng), "ndim": n, "radius": r, "nsamples": 4000,
                       "kwargs": ["ndim", "radius", "nsamples"]}
                      for n, r in ((2, 1.0), (3, 2.5), (128, 12.77))]}


def ball_sampler_follows_the_norm_law(challenge: dict, result: dict) -> None:
    """Ball samples follow the norm law P(|b| <= r) = (r/R)^n with uniform directions, also at n = 128."""
    for case, got in zip(challenge["cases"], result["runs"]):
        n, radius, count = case["ndim"], case["radius"], case["nsamples"]
        b = _rows(got, f"SamplingBallUniform(ndim={n}, radius={radius}, nsamples={count})", (count, n))
        p = norm_law_pvalue(b, radius)
        assert p > P_MIN, (f"at n = {n}, R = {radius} the norms do not follow P(|b| <= r) = (r/R)^n "
                           f"(p = {p:.2g}; is the radius R * U^(1/n)?)")
        p = direction_uniformity_pvalue(b, seed=challenge["_seed"] + n)
        assert p > P_MIN, f"at n = {n} the directions of ball samples are not uniform (p = {p:.2g})"


def inner_outer_challenge(rng, folder: Path) -> dict:
    cases = []
    for n, r_in, r_out, count in ((2, 2.797149, None, 20000), (128, 12.765701, None, 8000), (5, 1.0, 1.5, 8000)):
        cases.append({"seed": _seed(rng), "ndim": n, "radius_inner": r_in,
                      "radius_outer": r_out or r_in * 2 ** (1 / n), "nsamples": count,
                      "kwargs": ["ndim", "radius_inner", "radius_outer", "nsamples"]})
    return {"function": "SampleInnerAndOuterExamples", "cases": cases}


def inner_and_outer_are_balanced(challenge: dict, result: dict) -> None:
    """Inner and outer samples split at radius_inner, together uniform in the outer ball, balanced 50/50."""
    for case, got in zip(challenge["cases"], result["runs"]):
        n, r_in, r_out, count = case["ndim"], case["radius_inner"], case["radius_outer"], case["nsamples"]
        n_in, n_out = len(np.asarray(got["inner"]["rows"])), len(np.asarray(got["outer"]["rows"]))
        assert n_in + n_out == count, (
            f"inner and outer samples should add up to nsamples = {count}, got {n_in} + {n_out}")
        inner = _rows(got["inner"], "samples_inner", (n_in, n)) if n_in else np.zeros((0, n))
        outer = _rows(got["outer"], "samples_outer", (n_out, n)) if n_out else np.zeros((0, n))
        r1, r2 = np.linalg.norm(inner, axis=1), np.linalg.norm(outer, axis=1)
        assert (r1 <= r_in * (1 + 1e-9)).all(), "inner samples should have norm <= radius_inner"
        assert (r2 > r_in * (1 - 1e-9)).all() and (r2 <= r_out * (1 + 1e-6)).all(), (
            "outer samples should have radius_inner < norm <= radius_outer")
        expected = (r_in / r_out) ** n
        sd = math.sqrt(expected * (1 - expected) / count)
        share = n_in / count
        assert abs(share - expected) < 5 * sd, (
            f"at n = {n} the share of inner samples should be (r_in / r_out)^n = {expected:.3f}, got {share:.3f}")
        p = norm_law_pvalue(np.concatenate([inner, outer]), r_out)
        assert p > P_MIN, f"together, inner and outer samples should be uniform in the outer ball (p = {p:.2g})"


def radii_challenge(rng, folder: Path) -> dict:
    return {"names": ["chi_p98", "R_INNER", "R_OUTER", "latent_dim"]}


def _value(result: dict, name: str) -> float:
    got = result[name]
    assert "error" not in got, got.get("error", "")
    value = float(got["value"])
    assert math.isfinite(value), f"{name} should be finite"
    return value


def chi_quantile_is_right(challenge: dict, result: dict) -> None:
    """chi_p98 is the 98% quantile of the chi law for latent_dim = 128 and R_OUTER = chi_p98 * 2^(1/n)."""
    n = _value(result, "latent_dim")
    assert n == 128, "latent_dim should stay 128"
    q = float(stats.chi.ppf(0.98, 128))
    got = _value(result, "chi_p98")
    assert abs(got - q) < 1e-3, (f"chi_p98 = {got:.4g} is not the 98% quantile of the chi law with 128 "
                                 "degrees of freedom (the law of |z|, not of |z|^2)")
    assert abs(_value(result, "R_INNER") - q) < 1e-3, "R_INNER should be the 98% chi quantile"
    assert abs(_value(result, "R_OUTER") - q * 2 ** (1 / 128)) < 1e-3, (
        "R_OUTER should make the outer ball twice as large in volume as the inner one")


def rejection_challenge(rng, folder: Path) -> dict:
    return {"names": ["P_REJECT_INNER"]}


def gaussian_scheme_rejects_inner_with_48_49(challenge: dict, result: dict) -> None:
    """The Gaussian scheme rejects inner samples with probability exactly 48/49."""
    p = _value(result, "P_REJECT_INNER")
    assert abs(p - 48 / 49) < 1e-9, (
        f"P_REJECT_INNER = {p:.6g} does not balance the classes: the kept inner mass "
        "0.98 * (1 - P_REJECT_INNER) should equal the outer mass 0.02 exactly")


CHECKS = [
    Check("sphere_sampler_is_uniform", "wgan_latent.sampler", sphere_challenge,
          sphere_sampler_is_uniform, seconds=SAMPLER_SECONDS),
    Check("ball_sampler_follows_the_norm_law", "wgan_latent.sampler", ball_challenge,
          ball_sampler_follows_the_norm_law, seconds=SAMPLER_SECONDS),
    Check("inner_and_outer_are_balanced", "wgan_latent.sampler", inner_outer_challenge,
          inner_and_outer_are_balanced, seconds=1.5 * SAMPLER_SECONDS),
    Check("chi_quantile_is_right", "wgan_latent.values", radii_challenge, chi_quantile_is_right, seconds=20),
    Check("gaussian_scheme_rejects_inner_with_48_49", "wgan_latent.values", rejection_challenge,
          gaussian_scheme_rejects_inner_with_48_49, seconds=20),
]
