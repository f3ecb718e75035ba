"""Hidden checks of ``DenoisingScoreMatcher`` (``score_matching``): closed forms on fixed scores.

They do not depend on how a student draws random numbers (tolerances of at least 8 standard
errors at the sample sizes used):

- score ``0``: ``(eps/sigma)^2`` has mean ``1/sigma^2``, variance ``2/sigma^4``, and the errors
  of two elements of one sample are independent; two calls draw fresh noise;
- score ``b`` (a parameter): the gradient of the mean error w.r.t. ``b`` is ``2 b`` on average;
- data ``N(0, I)`` and score ``-x~/(1+sigma^2)``: mean error ``1/(sigma^2 (1+sigma^2))``;
- Langevin from 0 with score 0: variance ``k eta``; score 1: mean ``k eta / 2``; score ``-x``:
  stationary variance ``1/(1 - eta/4)``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .protocol import Check

RTOL = 0.03  # relative tolerance of the statistical checks: >= 8 standard errors here


def _seed(rng) -> int:
    return int(rng.integers(1 << 62))


def _close(found: float, expected: float, rtol: float = RTOL) -> bool:
    return math.isfinite(found) and abs(found - expected) <= rtol * abs(expected)


def forward_challenge(rng, folder: Path) -> dict:
    cases = [{"what": "forward", "score": "zero", "sigma": 0.5, "shape": list(s), "input_shape": list(s[1:])}
             for s in ((1, 2), (16, 2), (5, 3), (4, 1, 6))]
    cases.append({"what": "forward", "score": "zero", "sigma": 0.25, "shape": [100_000, 2], "twice": True})
    b = rng.normal(0, 1, 2).astype(np.float32)
    cases.append({"what": "gradient", "constant": b, "sigma": 0.5, "shape": [50_000, 2]})
    return {"seed": _seed(rng), "cases": cases}


def forward_returns_per_element_dsm_error(challenge: dict, result: dict) -> None:
    """forward returns the per-element error (s(x + sigma eps) + eps/sigma)^2: fresh, independent noise, gradients kept."""  # noqa: E501
    cases, got = challenge["cases"], result["cases"]
    for case, out in zip(cases[:4], got[:4]):
        y = np.asarray(out["out"])
        shape = tuple(case["shape"])
        assert y.shape == shape, (f"forward(x) for x of shape {shape} should return the per-element "
                                  f"squared error of the same shape, got {tuple(y.shape)}")
        assert y.dtype == np.float32, f"forward(x) of a float32 x returned {y.dtype}"
    sigma = cases[4]["sigma"]
    y, again = np.asarray(got[4]["out"], dtype=np.float64), np.asarray(got[4]["again"], dtype=np.float64)
    assert y.shape == (100_000, 2), "forward(x) should keep the shape of x"
    found = float(y.mean())
    assert _close(found, 1 / sigma**2), (
        f"with a score model that returns 0, forward should return (eps/sigma)^2 per element, "
        f"mean 1/sigma^2 = {1 / sigma**2:.3g}; found mean {found:.4g}")
    assert float(y.min()) >= 0.0, "a squared error cannot be negative"
    assert _close(float(y[:, 0].var()), 2 / sigma**4, rtol=0.1), (
        "the per-element errors should vary like independent (eps/sigma)^2 draws: is the noise "
        "drawn afresh for every element of the batch, and is nothing averaged?")
    corr = float(np.corrcoef(y[:, 0], y[:, 1])[0, 1])
    assert abs(corr) < 0.05, (f"the errors of the two coordinates of a sample are correlated ({corr:.2f}): "
                              "draw independent noise for every element, with the shape of x (torch.randn_like(x))")
    assert float(np.mean(y == again)) < 0.01, "every call of forward should draw new noise"
    grad_case, grad_out = cases[5], got[5]
    assert not grad_out.get("no_graph"), (
        "forward's error should be differentiable w.r.t. the score model (do not detach the score "
        "or compute it under torch.no_grad)")
    b = np.asarray(grad_case["constant"], dtype=np.float64)
    grad = np.asarray(grad_out["grad"], dtype=np.float64).reshape(-1)
    n, sigma = grad_case["shape"][0], grad_case["sigma"]
    tol = 8 * 2 / (sigma * math.sqrt(n)) + 1e-4
    assert grad.shape == b.shape and np.abs(grad - 2 * b / grad_case["shape"][1]).max() < tol, (
        "the gradient of the mean error w.r.t. a constant score b should be 2 b / d (d elements "
        f"per sample); found {np.round(grad, 3).tolist()} for b = {np.round(b, 3).tolist()}: the "
        "error should be (s(x_noisy) + eps/sigma)^2 with the score model's output kept in the graph")


def closed_form_challenge(rng, folder: Path) -> dict:
    return {"seed": _seed(rng), "cases": [
        {"what": "forward", "exact": s, "sigma": s, "x": rng.standard_normal((200_000, 2)).astype(np.float32)}
        for s in (0.1, 0.3, 0.7)]}


def dsm_error_matches_the_closed_form(challenge: dict, result: dict) -> None:
    """For data N(0, I) and the exact score -x/(1 + sigma^2) the mean error is 1/(sigma^2 (1 + sigma^2))."""
    for case, out in zip(challenge["cases"], result["cases"]):
        sigma = case["sigma"]
        y = np.asarray(out["out"], dtype=np.float64)
        assert y.shape == (200_000, 2), "forward(x) should keep the shape of x"
        expected = 1 / (sigma**2 * (1 + sigma**2))
        found = float(y.mean())
        assert _close(found, expected), (
            f"for data N(0, I) and the exact score of the noisy data, the mean per-element error at "
            f"sigma = {sigma} should be 1/(sigma^2 (1 + sigma^2)) = {expected:.4g}; found {found:.4g}. "
            "Check how the noisy input and the target -eps/sigma are formed.")


def langevin_challenge(rng, folder: Path) -> dict:
    n = 100_000
    cases = [{"what": "langevin", "score": "zero", "sigma": 0.5, "shape": [n, 2], "steps": 10, "eta": 0.3},
             {"what": "langevin", "score": "one", "sigma": 0.5, "shape": [n, 2], "steps": 10, "eta": 0.2}]
    cases += [{"what": "langevin", "score": "neg", "sigma": 0.5, "shape": [n, 2], "steps": 80, "eta": eta}
              for eta in (0.5, 1.5)]
    return {"seed": _seed(rng), "cases": cases}


def langevin_step_matches_the_update_rule(challenge: dict, result: dict) -> None:
    """Langevin with score 0 adds N(0, eta) noise per step; with score -x it settles at variance 1/(1 - eta/4)."""
    outs = [np.asarray(c["out"], dtype=np.float64) for c in result["cases"]]
    for case, y in zip(challenge["cases"], outs):
        assert y.shape == tuple(case["shape"]), (
            f"langevin_dynamics should return samples of the start's shape {tuple(case['shape'])}, got {y.shape}")
    (zero, one, *settled), cases = outs, challenge["cases"]
    k, eta = cases[0]["steps"], cases[0]["eta"]
    assert _close(float(zero.var()), k * eta), (
        f"with score 0, each step should add independent N(0, eta) noise to every element, so {k} "
        f"steps from 0 with eta = {eta} give variance {k * eta:.3g}; found {float(zero.var()):.4g}")
    k, eta = cases[1]["steps"], cases[1]["eta"]
    assert abs(float(one.mean()) - k * eta / 2) < 0.03, (
        f"with score 1, each step should move x by eta/2 on average, so {k} steps from 0 with "
        f"eta = {eta} end at mean {k * eta / 2:.3g}; found {float(one.mean()):.4g}")
    for case, y in zip(cases[2:], settled):
        expected = 1 / (1 - case["eta"] / 4)
        assert _close(float(y.var()), expected), (
            f"with score s(x) = -x, Langevin with eta = {case['eta']} should settle at variance "
            f"1/(1 - eta/4) = {expected:.4g}; found {float(y.var()):.4g}")


def sample_challenge(rng, folder: Path) -> dict:
    return {"seed": _seed(rng), "shapes": [[2], [3], [1, 4]]}


def sample_returns_detached_samples(challenge: dict, result: dict) -> None:
    """sample returns (n, *input_shape) samples on the model's device without an autograd graph."""
    for shape, run in zip(challenge["shapes"], result["runs"]):
        assert run["kind"] == "tensor" and run["shape"] == [7, *shape], (
            f"sample(7) with input_shape {tuple(shape)} should return a tensor of shape {(7, *shape)}, "
            f"got {run['kind']} {tuple(run['shape'])}")
        assert run["dtype"] == "torch.float32", f"sample returned {run['dtype']}, expected torch.float32"
        assert not run["requires_grad"] and not run["graph"], (
            "sample should run without building an autograd graph (torch.no_grad)")
        assert run["same_device"], "sample should return a tensor on the model's device"
        assert run["grad_enabled_after"], "sample should not switch gradients off for good"
    assert result["default_shape"] == [5, 1, 4], "sample(5) with default arguments should work"
    found = float(np.asarray(result["walk"], dtype=np.float64).var())
    assert 20 * (1 - RTOL) <= found <= 21.5 * (1 + RTOL), (
        f"with score 0, sample(num_steps=40, eta=0.5) should run 40 Langevin steps from the start "
        f"(variance about 20 plus the start's); found variance {found:.4g}. Are num_steps and eta passed on?")


def device_challenge(rng, folder: Path) -> dict:
    return {}


def matcher_runs_on_the_models_device(challenge: dict, result: dict) -> None:
    """Noise and samples are created on the model's device (checked on a GPU or PyTorch's meta device)."""
    device = result["device"]
    hint = "; draw noise on the input's device (torch.randn_like, or device=x.device)"
    for name in ("forward", "loss", "sample"):
        got = result[name]
        assert "error" not in got, f"{name} on the {device} device failed: {got.get('error')}{hint}"
        assert got["kind"] == "tensor" and got["device"] == device, (
            f"{name} on a {device} input returned a {got['kind']} on {got['device'] or 'no device'}{hint}")
    assert result["loss"]["ndim"] == 0, "loss should be a scalar on x's device"


CHECKS = [
    Check("forward_returns_per_element_dsm_error", "score_matching.matcher", forward_challenge,
          forward_returns_per_element_dsm_error, seconds=60),
    Check("dsm_error_matches_the_closed_form", "score_matching.matcher", closed_form_challenge,
          dsm_error_matches_the_closed_form, seconds=60),
    Check("langevin_step_matches_the_update_rule", "score_matching.matcher", langevin_challenge,
          langevin_step_matches_the_update_rule, seconds=60),
    Check("sample_returns_detached_samples", "score_matching.sample", sample_challenge,
          sample_returns_detached_samples, seconds=60),
    Check("matcher_runs_on_the_models_device", "score_matching.device", device_challenge,
          matcher_runs_on_the_models_device, seconds=30),
]
