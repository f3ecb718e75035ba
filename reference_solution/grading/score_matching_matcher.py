"""Hidden checks of ``DenoisingScoreMatcher`` (``score_matching``): the matcher on secret scores.

The score models are the grader's (``probes/score_matching.py``): affine scores
``s(x) = -a (x - m)`` and a learnable constant, with secret ``a, m``, data and ``sigma``. They
record what they are called on, so the verdict recovers the noise the student drew and
recomputes every output here:

- ``forward``: the recorded noisy input gives ``delta = x_noisy - x``; the error must be
  ``(s(x_noisy) + c delta)^2`` element by element for one constant ``c``, with ``delta`` fresh,
  independent, Gaussian; the DSM target is ``c delta = eps / sigma``, so ``c |delta|`` has
  spread ``1/sigma`` (this check) and ``delta = sigma eps``, ``c = 1/sigma^2`` (the closed-form
  check);
- Langevin: the recorded states ``x_0 .. x_K`` give the steps; regressed on the score they must
  be ``eta/2 s(x_k)`` plus ``sqrt(eta)`` times fresh N(0, 1) noise.

A result made up without running these models on the secret inputs cannot fit them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats

from . import expect
from .protocol import Check, Context
from .statistics import P_MIN

RTOL = 0.03  # relative tolerance of the statistical checks: >= 8 standard errors here
ROWS = 4096  # rows of an input the recording score models keep (probes/score_matching.py)


def _seed(rng) -> int:
    return int(rng.integers(1 << 62))


def _affine(rng) -> dict:
    return {"a": float(rng.uniform(0.5, 2.0)), "m": float(rng.uniform(-1.0, 1.0))}


def _score(case: dict, x: np.ndarray) -> np.ndarray:
    return -case["a"] * (x - case["m"])


def fit_error(out: np.ndarray, x: np.ndarray, noisy: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """(c, worst relative residual) of ``out = (s + c (noisy - x))^2`` fitted element by element."""
    y, d, s = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (out, noisy - x, s))
    design = np.stack([2 * d * s, d * d], axis=1)
    (c, c2), *_ = np.linalg.lstsq(design, y - s * s, rcond=None)
    residual = np.abs(y - (s + c * d) ** 2) / (1 + np.abs(y))
    return float(c), float(residual.max()) if residual.size else math.inf


def _recorded(got, key: str, shape: tuple) -> np.ndarray:
    seen = expect.entry(got, key, "what the score model was called on")
    assert isinstance(seen, list) and seen, "forward should call the score model on the noisy input"
    return expect.array(seen[0], "the score model's input", shape=shape, kinds="f").astype(np.float64)


def _forward_case(case: dict, got) -> tuple[np.ndarray, np.ndarray, float]:
    """(out, delta, c) of one forward case, after its shape, dtype and the fit are checked."""
    x = case["x"]
    out = expect.array(expect.entry(got, "out"), "forward(x)", kinds="f")
    assert out.shape == x.shape, (f"forward(x) for x of shape {x.shape} should return the per-element "
                                  f"squared error of the same shape, got {tuple(out.shape)}")
    assert out.dtype == np.float32, f"forward(x) of a float32 x returned {out.dtype}"
    rows = min(len(x), ROWS)
    noisy = _recorded(got, "seen", (rows, *x.shape[1:]))
    c, worst = fit_error(out[:rows], x[:rows], noisy, _score(case, noisy))
    assert worst < 1e-4, ("forward should return (s(x_noisy) + target)^2 element by element, with the score "
                          "model evaluated at the noisy input and a target proportional to the noise added to x")
    return out, noisy - x[:rows], c


def forward_challenge(rng, folder: Path, context: Context) -> dict:
    cases = [{"what": "forward", **_affine(rng), "sigma": float(rng.uniform(0.2, 0.7)),
              "x": rng.standard_normal(s).astype(np.float32), "input_shape": list(s[1:])}
             for s in ((1, 2), (16, 2), (5, 3), (4, 1, 6))]
    cases.append({"what": "forward", **_affine(rng), "sigma": float(rng.uniform(0.2, 0.7)), "twice": True,
                  "x": rng.standard_normal((100_000, 2)).astype(np.float32)})
    cases.append({"what": "gradient", "constant": rng.normal(0, 1, 2).astype(np.float32),
                  "sigma": float(rng.uniform(0.2, 0.7)), "x": rng.standard_normal((50_000, 2)).astype(np.float32)})
    return {"seed": _seed(rng), "cases": cases}


def noise_figures(case: dict, got) -> dict[str, float]:
    """Of the large forward case: the target's spread times sigma, the noise's normality (KS
    p-value), the correlation of the two coordinates' noise, the share of noise repeated by a second call."""
    _, delta, c = _forward_case(case, got)
    z = (delta / delta.std()).reshape(-1) if delta.std() > 0 else np.zeros(delta.size)
    again, first = _recorded(got, "seen_again", delta.shape), _recorded(got, "seen", delta.shape)
    return {"spread": float(np.sqrt(np.mean((c * delta) ** 2))) * case["sigma"],
            "normal_p": float(stats.kstest(z, "norm").pvalue) if delta.std() > 0 else 0.0,
            "corr": float(np.corrcoef(delta[:, 0], delta[:, 1])[0, 1]) if delta.std() > 0 else 1.0,
            "repeated": float(np.mean(again == first))}


def forward_returns_per_element_dsm_error(challenge: dict, result: dict) -> None:
    """forward returns the per-element error (s(x + sigma eps) + eps/sigma)^2: fresh, independent Gaussian noise, gradients kept."""  # noqa: E501
    cases = challenge["cases"]
    got = expect.cases(result, "cases", len(cases))
    for case, out in zip(cases[:4], got[:4]):
        _forward_case(case, out)
    f = noise_figures(cases[4], got[4])
    assert abs(f["spread"] - 1) < 0.05, (
        f"the target should be eps/sigma with eps ~ N(0, 1): its spread is {f['spread']:.3g}/sigma, not 1/sigma")
    assert f["normal_p"] > P_MIN, f"the noise should be Gaussian, N(0, 1) per element (p = {f['normal_p']:.2g})"
    assert abs(f["corr"]) < 0.1, (f"the noise of the two coordinates of a sample is correlated ({f['corr']:.2f}): "
                                  "draw independent noise for every element, with the shape of x (torch.randn_like(x))")
    assert f["repeated"] < 0.01, "every call of forward should draw new noise"
    grad_case, grad_out = cases[5], got[5]
    assert not grad_out.get("no_graph"), (
        "forward's error should be differentiable w.r.t. the score model (do not detach the score "
        "or compute it under torch.no_grad)")
    x = grad_case["x"]
    b = grad_case["constant"].astype(np.float64)
    out = expect.array(expect.entry(grad_out, "out"), "forward(x)", shape=x.shape, kinds="f")
    noisy = _recorded(grad_out, "seen", x.shape)
    c, worst = fit_error(out, x, noisy, np.broadcast_to(b, x.shape))
    assert worst < 1e-4, "forward should return (s(x_noisy) + target)^2 element by element"
    want = 2 * (b + c * (noisy - x)).mean(axis=0) / x.shape[1]
    grad = expect.array(expect.entry(grad_out, "grad"), "the gradient", shape=b.shape, kinds="f")
    assert np.allclose(grad, want, rtol=1e-3, atol=1e-5), (
        "the gradient of the mean error w.r.t. a constant score b should be the mean of 2 (b + target) / d "
        f"(d elements per sample); found {np.round(grad, 3).tolist()}, expected {np.round(want, 3).tolist()}: the "
        "error should keep the score model's output in the graph")


def closed_form_challenge(rng, folder: Path, context: Context) -> dict:
    cases = []
    for s in (0.1, 0.3, 0.7):  # the exact score of N(0, I) data seen through noise of sigma
        cases.append({"what": "forward", "a": 1 / (1 + s * s), "m": 0.0, "sigma": s, "exact": True,
                      "x": rng.standard_normal((200_000, 2)).astype(np.float32)})
    cases.append({"what": "forward", **_affine(rng), "sigma": float(rng.uniform(0.2, 0.7)),
                  "x": rng.standard_normal((20_000, 2)).astype(np.float32)})
    return {"seed": _seed(rng), "cases": cases}


def dsm_error_matches_the_closed_form(challenge: dict, result: dict) -> None:
    """The noisy input is x + sigma eps and the target -eps/sigma: for data N(0, I) and the exact score -x/(1 + sigma^2) the mean error is 1/(sigma^2 (1 + sigma^2))."""  # noqa: E501
    cases = challenge["cases"]
    for case, got in zip(cases, expect.cases(result, "cases", len(cases))):
        sigma = case["sigma"]
        out, delta, c = _forward_case(case, got)
        scale = float(delta.std()) / sigma
        assert abs(scale - 1) < 0.05, (
            f"the noisy input should be x + sigma eps with eps ~ N(0, 1); the noise added has spread "
            f"{scale:.3g} sigma at sigma = {sigma:.3g}")
        # the mean error alone is met by any unit-variance noise (+-1 offsets): its law too
        p = float(stats.kstest((delta / sigma).reshape(-1), "norm").pvalue)
        assert p > P_MIN, f"the noise added to x should be Gaussian, N(0, sigma^2) per element (p = {p:.2g})"
        assert abs(c * sigma * sigma - 1) < 1e-2, (
            f"the error should be (s(x + sigma eps) + eps/sigma)^2; at sigma = {sigma:.3g} your target is "
            f"{c * sigma * sigma:.3g} eps/sigma (check its sign and the power of sigma)")
        if case.get("exact"):
            expected = 1 / (sigma**2 * (1 + sigma**2))
            found = float(out.astype(np.float64).mean())
            assert abs(found - expected) <= RTOL * expected, (
                f"for data N(0, I) and the exact score of the noisy data, the mean per-element error at "
                f"sigma = {sigma} should be 1/(sigma^2 (1 + sigma^2)) = {expected:.4g}; found {found:.4g}")


def langevin_figures(case: dict, states: list, out: np.ndarray) -> dict[str, float]:
    """The steps x_0 .. x_K (what the score model saw, then the output) regressed on the score:
    drift factor ``beta`` (and its standard error), noise spread ``gamma``, the noise's normality
    (KS p-value) and its correlation from one step to the next."""
    x = np.stack([*states, out]).astype(np.float64)  # (K + 1, rows, ...)
    steps = len(states)
    inc = (x[1:] - x[:-1]).reshape(steps, -1)
    s = _score(case, x[:-1]).reshape(steps, -1)
    ss = max(float((s * s).sum()), 1e-300)
    beta = float((inc * s).sum() / ss)
    r = inc - beta * s
    gamma = float(r.std())
    lag = float(np.corrcoef(r[1:].reshape(-1), r[:-1].reshape(-1))[0, 1]) if steps > 1 and gamma > 0 else 1.0
    p = float(stats.kstest((r / gamma).reshape(-1), "norm").pvalue) if gamma > 0 else 0.0
    return {"beta": beta, "beta_se": gamma / math.sqrt(ss), "gamma": gamma, "normal_p": p, "lag": lag}


def langevin_steps(case: dict, states: list, out: np.ndarray, steps: int, eta: float, drift: bool) -> None:
    """Check that ``states`` (what the score model saw) and ``out`` follow
    x <- x + eta/2 s(x) + sqrt(eta) N(0, 1); ``drift=False`` only asks for a drift along the score
    (its factor is the step check's business), so that a walk that ignores the score or climbs
    away from the modes fails both."""
    assert len(states) == steps, f"Langevin with num_steps = {steps} should call the score model {steps} times, got {len(states)}"  # noqa: E501
    f = langevin_figures(case, states, out)
    if drift:
        assert abs(f["beta"] - eta / 2) <= max(RTOL * eta / 2, 8 * f["beta_se"]), (
            f"each Langevin step should move x by eta/2 s(x): with eta = {eta:.3g} your drift is "
            f"{f['beta']:.3g} s(x), not {eta / 2:.3g} s(x)")
    else:
        assert f["beta"] > max(0.1 * eta / 2, 8 * f["beta_se"]), (
            f"the Langevin steps do not follow the score (drift {f['beta']:.3g} s(x); eta/2 = {eta / 2:.3g}): "
            "each step should add eta/2 s(x)")
    assert abs(f["gamma"] / math.sqrt(eta) - 1) < RTOL, (
        f"each Langevin step should add sqrt(eta) N(0, 1) noise: with eta = {eta:.3g} the noise has spread "
        f"{f['gamma']:.3g}, not {math.sqrt(eta):.3g}")
    assert f["normal_p"] > P_MIN, f"the Langevin noise should be Gaussian (p = {f['normal_p']:.2g})"
    assert abs(f["lag"]) < 0.05, (
        f"the Langevin noise should be drawn afresh at every step (correlation {f['lag']:.2f} between steps)")


def _states(got, shape: tuple) -> tuple[list, np.ndarray]:
    seen = expect.entry(got, "seen", "the Langevin states")
    assert isinstance(seen, list), "the Langevin states are missing"
    states = [expect.array(v, "a Langevin state", shape=shape, kinds="f") for v in seen]
    out = expect.array(expect.entry(got, "out"), "the samples", shape=shape, kinds="f")
    return states, out


def langevin_challenge(rng, folder: Path, context: Context) -> dict:
    cases = []
    for _ in range(3):
        x = rng.standard_normal((ROWS, 2)).astype(np.float32) * float(rng.uniform(0.5, 2))
        cases.append({"what": "langevin", **_affine(rng), "sigma": 0.5, "x": x, "steps": int(rng.integers(10, 26)),
                      "eta": float(rng.uniform(0.05, 0.5))})
    return {"seed": _seed(rng), "cases": cases}


def langevin_step_matches_the_update_rule(challenge: dict, result: dict) -> None:
    """Each Langevin step is x <- x + eta/2 s(x) + sqrt(eta) eps with fresh N(0, 1) noise (recovered step by step for secret scores)."""  # noqa: E501
    cases = challenge["cases"]
    for case, got in zip(cases, expect.cases(result, "cases", len(cases))):
        states, out = _states(got, case["x"].shape)
        assert states and np.allclose(states[0], case["x"]), "langevin_dynamics should start from x"
        langevin_steps(case, states, out, case["steps"], case["eta"], drift=True)


def sample_challenge(rng, folder: Path, context: Context) -> dict:
    # 4000 chains: enough that the drift along the score stands out of the noise for every eta
    return {"seed": _seed(rng), "shapes": [[2], [3], [1, 4]], **_affine(rng), "steps": int(rng.integers(8, 16)),
            "eta": float(rng.uniform(0.05, 0.5)), "count": 4000}


def sample_returns_detached_samples(challenge: dict, result: dict) -> None:
    """sample(n, num_steps, eta) runs num_steps Langevin steps from its start and returns (n, *input_shape) samples without an autograd graph."""  # noqa: E501
    shapes = challenge["shapes"]
    for shape, run in zip(shapes, expect.cases(result, "runs", len(shapes), "runs")):
        want = (challenge["count"], *shape)
        assert expect.entry(run, "kind") == "tensor", f"sample should return a tensor, got {run['kind']}"
        assert run["dtype"] == "torch.float32", f"sample returned {run['dtype']}, expected torch.float32"
        states, out = _states(run, want)
        assert states, "sample should run Langevin dynamics with the score model"
        steps, eta = challenge["steps"], challenge["eta"]
        assert len(states) == steps, (
            f"sample(n, num_steps={steps}, eta={eta:.3g}) called the score model {len(states)} times, not {steps}: "
            "sample should pass its num_steps and eta on to langevin_dynamics")
        try:
            langevin_steps(challenge, states, out, steps, eta, drift=False)
        except AssertionError as exc:  # sample's steps are langevin_dynamics': say where to look
            raise AssertionError(
                f"the chain sample(n, num_steps={steps}, eta={eta:.3g}) ran: {exc}. sample runs your "
                "langevin_dynamics: if its test (langevin_step_matches_the_update_rule) fails too, fix "
                "langevin_dynamics first; if not, sample does not pass eta on to it unchanged") from None
        assert not expect.flag(run["requires_grad"], "requires_grad") and not expect.flag(run["graph"], "graph") \
            and not expect.flag(run["grad_during"], "grad mode"), (
            "sample should run without building an autograd graph (torch.no_grad)")
        assert expect.flag(run["same_device"], "device"), "sample should return a tensor on the model's device"
        assert expect.flag(run["grad_enabled_after"], "grad mode"), "sample should not switch gradients off for good"
    assert expect.entry(result, "default_shape") == [5, 1, 4], "sample(5) with default arguments should work"


def device_challenge(rng, folder: Path, context: Context) -> dict:
    return {}


def matcher_runs_on_the_models_device(challenge: dict, result: dict) -> None:
    """Noise and samples are created on the model's device (checked on a GPU or PyTorch's meta device)."""
    device = expect.text(expect.entry(result, "device"), "the device", ("cuda", "meta"))
    hint = "; draw noise on the input's device (torch.randn_like, or device=x.device)"
    for name in ("forward", "loss", "sample"):
        got = expect.entry(result, name)
        assert isinstance(got, dict) and "error" not in got, (
            f"{name} on the {device} device failed: {got.get('error') if isinstance(got, dict) else got}{hint}")
        assert got.get("kind") == "tensor" and got.get("device") == device, (
            f"{name} on a {device} input returned a {got.get('kind')} on {got.get('device') or 'no device'}{hint}")
    assert result["loss"].get("ndim") == 0, "loss should be a scalar on x's device"


CHECKS = [
    Check("forward_returns_per_element_dsm_error", "score_matching.matcher", forward_challenge,
          forward_returns_per_element_dsm_error, seconds=60,
          verifies="the noise recovered from the secret score model's recorded input; the error refitted element by "
                   "element; noise law, independence, freshness; the gradient recomputed"),
    Check("dsm_error_matches_the_closed_form", "score_matching.matcher", closed_form_challenge,
          dsm_error_matches_the_closed_form, seconds=60,
          verifies="the same refit: Gaussian noise of scale sigma and target eps/sigma; the closed-form mean for the "
                   "exact score"),
    Check("langevin_step_matches_the_update_rule", "score_matching.matcher", langevin_challenge,
          langevin_step_matches_the_update_rule, seconds=60,
          verifies="every recorded step regressed on a secret score: drift eta/2, noise sqrt(eta), Gaussian and fresh"),
    Check("sample_returns_detached_samples", "score_matching.sample", sample_challenge,
          sample_returns_detached_samples, seconds=60,
          trusts="that the samples carry no autograd graph and lie on the model's device (the Langevin "
                 "steps themselves are recovered and checked here)",
          verifies="the recorded Langevin states: num_steps calls, a drift along the secret score, sqrt(eta) noise, "
                   "fresh at every step; shape and dtype"),
    Check("matcher_runs_on_the_models_device", "score_matching.device", device_challenge,
          matcher_runs_on_the_models_device, seconds=30,
          trusts="everything: where a tensor was created can only be seen in the kernel (unverifiable, 1 point)",
          verifies="nothing"),
]
