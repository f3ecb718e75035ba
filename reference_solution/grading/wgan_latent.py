"""Hidden checks of Part 3 of ``wgan_anomalies``: samplers, chi quantile, rejection probability.

The samplers' outputs come back as float64 rows and are tested here with KS statistics at
p > 1e-6 (Bonferroni over projections). Dimensions, radii and sample counts are drawn from the
grader's secret seed, so no stored set of samples answers them: only a sampler does. The
constants are checked by re-running the student's own cell in the kernel with a secret
``latent_dim`` (and ``QUANTILE``): the values must follow the formulas, not one memorised number.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats

from . import expect
from .protocol import Check, Context
from .statistics import P_MIN, direction_uniformity_pvalue, norm_law_pvalue

SAMPLER_SECONDS = 30.0  # a right sampler takes milliseconds; cube rejection never ends at n = 128
RADII_CELL = "latent_radii_code"  # the solution cell that defines chi_p98, R_INNER, R_OUTER, P_REJECT_INNER


def _seed(rng) -> int:
    return int(rng.integers(1 << 31))


def _rows(got, what: str, shape: tuple[int, int]) -> np.ndarray:
    kind = expect.entry(got, "kind", f"the type of what {what} returned")
    assert kind in ("tensor", "ndarray"), f"{what} should return a numpy array or a tensor, got {kind}"
    return expect.rows(expect.entry(got, "rows"), f"what {what} returned", shape[0], shape[1])


def _dims(rng, fixed: int = 128) -> list[int]:
    """A small, a middling and the course's dimension, the first two secret."""
    return [int(rng.integers(2, 6)), int(rng.integers(7, 200)), fixed]


def sphere_challenge(rng, folder: Path, context: Context) -> dict:
    return {"function": "SamplingUnitSphereUniform", "_seed": _seed(rng),
            "cases": [{"seed": _seed(rng), "ndim": n, "nsamples": int(rng.integers(3000, 5001)),
                       "kwargs": ["ndim", "nsamples"]} for n in _dims(rng)]}


def sphere_sampler_is_uniform(challenge: dict, result: dict) -> None:
    """Unit-norm rows whose directions are uniform on the sphere (statistical tests, secret sizes)."""
    for case, got in zip(challenge["cases"], expect.cases(result, "runs", len(challenge["cases"]), "runs")):
        n, count = case["ndim"], case["nsamples"]
        s = _rows(got, f"SamplingUnitSphereUniform(ndim={n}, nsamples={count})", (count, n))
        err = float(np.abs(np.linalg.norm(s, axis=1) - 1).max())
        assert err < 1e-5, f"points on the unit sphere should have norm 1 (off by {err:.2g} at n = {n})"
        p = direction_uniformity_pvalue(s, seed=challenge["_seed"] + n)
        assert p > P_MIN, (f"at n = {n} the directions are not uniform on the sphere (p = {p:.2g}); "
                           "normalise Gaussian vectors, not points of a cube")


def ball_challenge(rng, folder: Path, context: Context) -> dict:
    dims = _dims(rng)
    radii = [float(rng.uniform(0.5, 3.0)), float(rng.uniform(1.0, 20.0)), float(rng.uniform(11.0, 14.0))]
    return {"function": "SamplingBallUniform", "_seed": _seed(rng),
            "cases": [{"seed": _seed(rng), "ndim": n, "radius": r, "nsamples": int(rng.integers(3000, 5001)),
                       "kwargs": ["ndim", "radius", "nsamples"]} for n, r in zip(dims, radii)]}


def ball_sampler_follows_the_norm_law(challenge: dict, result: dict) -> None:
    """Ball samples follow the norm law P(|b| <= r) = (r/R)^n with uniform directions, also at n = 128."""
    for case, got in zip(challenge["cases"], expect.cases(result, "runs", len(challenge["cases"]), "runs")):
        n, radius, count = case["ndim"], case["radius"], case["nsamples"]
        b = _rows(got, f"SamplingBallUniform(ndim={n}, radius={radius:.4g}, nsamples={count})", (count, n))
        p = norm_law_pvalue(b, radius)
        assert p > P_MIN, (f"at n = {n}, R = {radius:.4g} the norms do not follow P(|b| <= r) = (r/R)^n "
                           f"(p = {p:.2g}; is the radius R * U^(1/n)?)")
        p = direction_uniformity_pvalue(b, seed=challenge["_seed"] + n)
        assert p > P_MIN, f"at n = {n} the directions of ball samples are not uniform (p = {p:.2g})"


def inner_outer_challenge(rng, folder: Path, context: Context) -> dict:
    cases = []
    small, middle, _ = _dims(rng)
    for n, r_in, ratio, count in ((small, float(rng.uniform(0.5, 4.0)), None, 20000),
                                  (128, float(stats.chi.ppf(0.98, 128)) * float(rng.uniform(0.9, 1.1)), None, 8000),
                                  (middle, float(rng.uniform(0.5, 4.0)), float(rng.uniform(1.005, 1.05)), 8000)):
        cases.append({"seed": _seed(rng), "ndim": n, "radius_inner": r_in,
                      "radius_outer": r_in * (ratio or 2 ** (1 / n)), "nsamples": count,
                      "kwargs": ["ndim", "radius_inner", "radius_outer", "nsamples"]})
    return {"function": "SampleInnerAndOuterExamples", "_seed": _seed(rng), "cases": cases}


def inner_and_outer_are_balanced(challenge: dict, result: dict) -> None:
    """Inner and outer samples split at radius_inner, together uniform in the outer ball, balanced 50/50."""
    for case, got in zip(challenge["cases"], expect.cases(result, "runs", len(challenge["cases"]), "runs")):
        n, r_in, r_out, count = case["ndim"], case["radius_inner"], case["radius_outer"], case["nsamples"]
        parts = {}
        for key in ("inner", "outer"):
            rows = expect.entry(expect.entry(got, key), "rows")
            k = rows.shape[0] if isinstance(rows, np.ndarray) and rows.ndim == 2 else 0
            parts[key] = _rows(got[key], f"samples_{key}", (k, n)) if k else np.zeros((0, n))
        inner, outer = parts["inner"], parts["outer"]
        assert len(inner) + len(outer) == count, (
            f"inner and outer samples should add up to nsamples = {count}, got {len(inner)} + {len(outer)}")
        r1, r2 = np.linalg.norm(inner, axis=1), np.linalg.norm(outer, axis=1)
        assert (r1 <= r_in * (1 + 1e-9)).all(), "inner samples should have norm <= radius_inner"
        assert (r2 > r_in * (1 - 1e-9)).all() and (r2 <= r_out * (1 + 1e-6)).all(), (
            "outer samples should have radius_inner < norm <= radius_outer")
        expected = (r_in / r_out) ** n
        sd = math.sqrt(expected * (1 - expected) / count)
        share = len(inner) / count
        assert abs(share - expected) < 5 * sd, (
            f"at n = {n} the share of inner samples should be (r_in / r_out)^n = {expected:.3f}, got {share:.3f}")
        both = np.concatenate([inner, outer])
        p = norm_law_pvalue(both, r_out)
        assert p > P_MIN, f"together, inner and outer samples should be uniform in the outer ball (p = {p:.2g})"
        p = direction_uniformity_pvalue(both, seed=challenge["_seed"] + n)
        assert p > P_MIN, f"at n = {n} the directions of inner and outer samples are not uniform (p = {p:.2g})"


def _rerun(rng, context: Context, names: list[str], overrides: dict) -> dict:
    return {"cell": context.cells.get(RADII_CELL), "defines": "chi_p98", "names": names,
            "overrides": overrides}


def radii_challenge(rng, folder: Path, context: Context) -> dict:
    # both secret: a table of chi.ppf(0.98, n) over the few hundred possible sizes answers nothing
    return _rerun(rng, context, ["chi_p98", "R_INNER", "R_OUTER"], {"latent_dim": int(rng.integers(16, 513)),
                                                                    "QUANTILE": float(rng.uniform(0.9, 0.995))})


def _values(got, names: list[str], where: str) -> dict[str, float]:
    out = {}
    for name in names:
        value = expect.entry(got, name)
        if isinstance(value, dict) and "error" in value:
            raise AssertionError(f"{name} {where}: {expect.text(value['error'], 'the error')}")
        out[name] = expect.number(expect.entry(value, "value", name), f"{name} {where}")
    return out


def _radii_right(values: dict[str, float], n: int, where: str, level: float = 0.98) -> None:
    q = float(stats.chi.ppf(level, n))
    assert abs(values["chi_p98"] - q) < 1e-3 * max(1.0, q / 10), (
        f"chi_p98 = {values['chi_p98']:.4g} {where} is not the {level:.4g} quantile of the chi law with {n} "
        f"degrees of freedom (the law of |z|, not of |z|^2)")
    assert abs(values["R_INNER"] - q) < 1e-3 * max(1.0, q / 10), f"R_INNER {where} should be the chi quantile"
    assert abs(values["R_OUTER"] - q * 2 ** (1 / n)) < 1e-3 * max(1.0, q / 10), (
        f"R_OUTER {where} should make the outer ball twice as large in volume as the inner one")


def chi_quantile_is_right(challenge: dict, result: dict) -> None:
    """chi_p98 is the QUANTILE quantile of the chi law for latent_dim (also for other values of both); R_OUTER = chi_p98 * 2^(1/n)."""  # noqa: E501
    names = challenge["names"]
    n = _values(expect.entry(result, "original"), ["latent_dim"], "in your notebook")["latent_dim"]
    assert n == 128, "latent_dim should stay 128"
    _radii_right(_values(result["original"], names, "in your notebook"), 128, "in your notebook")
    secret, level = challenge["overrides"]["latent_dim"], challenge["overrides"]["QUANTILE"]
    where = f"with latent_dim = {secret}, QUANTILE = {level:.4f}"
    _radii_right(_values(expect.entry(result, "rerun"), names, f"when your cell runs {where}"), secret, where, level)


def rejection_challenge(rng, folder: Path, context: Context) -> dict:
    return _rerun(rng, context, ["P_REJECT_INNER"], {"QUANTILE": float(rng.uniform(0.9, 0.995)),
                                                      "latent_dim": int(rng.integers(16, 513))})


def _balanced(p_reject: float, level: float, where: str) -> None:
    expected = 1 - (1 - level) / level
    assert abs(p_reject - expected) < 1e-9, (
        f"P_REJECT_INNER = {p_reject:.6g} {where} does not balance the classes: the kept inner mass "
        f"QUANTILE * (1 - P_REJECT_INNER) should equal the outer mass 1 - QUANTILE exactly")


def rejection_probability_balances_the_gaussian_scheme(challenge: dict, result: dict) -> None:
    """P_REJECT_INNER makes the Gaussian scheme's kept inner mass equal its outer mass, for any QUANTILE."""
    original = _values(expect.entry(result, "original"), ["P_REJECT_INNER", "QUANTILE"], "in your notebook")
    assert original["QUANTILE"] == 0.98, "QUANTILE should stay 0.98"
    _balanced(original["P_REJECT_INNER"], 0.98, "in your notebook")
    level = challenge["overrides"]["QUANTILE"]
    _balanced(_values(expect.entry(result, "rerun"), ["P_REJECT_INNER"],
                      f"when your cell runs with QUANTILE = {level:.4f}")["P_REJECT_INNER"], level,
              f"with QUANTILE = {level:.4f} (write it as a formula of QUANTILE)")


CHECKS = [
    Check("sphere_sampler_is_uniform", "wgan_latent.sampler", sphere_challenge,
          sphere_sampler_is_uniform, seconds=SAMPLER_SECONDS,
          verifies="KS tests of samples in secret dimensions and counts"),
    Check("ball_sampler_follows_the_norm_law", "wgan_latent.sampler", ball_challenge,
          ball_sampler_follows_the_norm_law, seconds=SAMPLER_SECONDS,
          verifies="KS tests of the norm law and directions in secret dimensions, radii and counts"),
    Check("inner_and_outer_are_balanced", "wgan_latent.sampler", inner_outer_challenge,
          inner_and_outer_are_balanced, seconds=1.5 * SAMPLER_SECONDS,
          verifies="split, share, norm law and directions in secret dimensions and radii"),
    Check("chi_quantile_is_right", "wgan_latent.rerun", radii_challenge, chi_quantile_is_right, seconds=20,
          verifies="the student's cell run again with a secret latent_dim and QUANTILE: the values must follow the "
                   "chi law there too"),
    Check("rejection_probability_balances_the_gaussian_scheme", "wgan_latent.rerun", rejection_challenge,
          rejection_probability_balances_the_gaussian_scheme, seconds=20,
          verifies="the student's cell run again with a secret QUANTILE: the value must follow the balancing formula"),
]
