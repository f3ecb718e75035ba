"""Hidden checks of the ``score_matching`` notebook (denoising score matching on two moons).

Each check takes the student's objects, raises ``AssertionError`` with a message that says what
was expected without giving the solution away, and returns ``None`` on success. Checks compare
plain Python floats (objects that pretend to equal everything cannot pass), seed their own
randomness and rely on closed forms with tolerances of at least 8 standard errors, so they do not
depend on how a student draws random numbers:

- data ``N(0, I)``, score ``-x~/(1+sigma**2)``: per-element DSM error has mean ``1/(sigma**2 (1+sigma**2))``;
- score ``0``: ``(eps/sigma)**2`` has mean ``1/sigma**2``; Langevin from 0 has variance ``k eta``;
- score ``1``: Langevin drifts by ``k eta / 2``; score ``-x``: stationary variance ``1/(1 - eta/4)``.

This module must stay self-contained (torch and numpy only): a student can patch other modules
in the grading kernel, but :func:`reference_solution.grading.fresh` loads this file anew.
"""

from __future__ import annotations

import contextlib
import io
import math
import numbers
import warnings

import numpy as np
import torch
import torch.nn as nn

# Sliced-Wasserstein distance to the moons below which samples pass; see
# reference_solution.score_matching.MOONS_DISTANCE_THRESHOLD for the measurements.
MOONS_DISTANCE_THRESHOLD = 0.15
# Relative tolerance of the statistical checks: >= 8 standard errors at the sample sizes used.
RTOL = 0.03


class _Score(nn.Module):
    """A fixed score ``s(x)`` with one unused parameter, so ``matcher.device`` works."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, x):
        return self.fn(x)


def _tensor(value, what: str) -> torch.Tensor:
    assert type(value) is torch.Tensor, f"{what} should be a torch.Tensor, got {type(value).__name__}"
    return value


def _stat(t: torch.Tensor, how: str) -> float:
    t = t.detach().to("cpu", torch.float64)
    return float((t.mean() if how == "mean" else t.var()).item())


def _close(found: float, expected: float, rtol: float = RTOL) -> bool:
    return math.isfinite(found) and abs(found - expected) <= rtol * abs(expected)


def _call(what: str, fn, *args, **kwargs):
    """Run student code; an exception becomes a failed check that names the call."""
    try:
        return fn(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any crash in student code fails the check
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc}") from None


def _matcher(Matcher, fn, sigma: float = 0.5, input_shape=(2,)):
    return _call("DenoisingScoreMatcher(score_model, input_shape, sigma)", Matcher,
                 score_model=_Score(fn), input_shape=input_shape, sigma=sigma)


def forward_returns_per_element_error(Matcher) -> None:
    """``forward`` keeps the input's shape and dtype, is not averaged, and with score 0 equals
    ``(eps/sigma)**2`` with independent noise per element: mean ``1/sigma**2``, rows differ."""
    torch.manual_seed(1)
    for shape in [(1, 2), (16, 2), (5, 3), (4, 1, 6)]:
        m = _matcher(Matcher, torch.zeros_like, sigma=0.5, input_shape=shape[1:])
        out = _tensor(_call("forward", m, torch.zeros(shape)), "forward(x)")
        assert tuple(out.shape) == shape, (
            f"forward(x) for x of shape {shape} should return the per-element squared error of "
            f"the same shape, got {tuple(out.shape)}")
        assert out.dtype == torch.float32, f"forward(x) of a float32 x returned {out.dtype}"
    sigma = 0.25
    m = _matcher(Matcher, torch.zeros_like, sigma=sigma)
    with torch.no_grad():
        out = _tensor(_call("forward", m, torch.zeros(100_000, 2)), "forward(x)")
    found = _stat(out, "mean")
    assert _close(found, 1 / sigma**2), (
        f"with a score model that returns 0, forward should return (eps/sigma)^2 per element, "
        f"mean 1/sigma^2 = {1 / sigma**2:.3g}; found mean {found:.4g}")
    assert float(out.min().item()) >= 0.0, "a squared error cannot be negative"
    spread = _stat(out[:, 0], "var")
    assert _close(spread, 2 / sigma**4, rtol=0.1), (
        "the per-element errors should vary like independent (eps/sigma)^2 draws: is the noise "
        "drawn afresh for every element of the batch, and is nothing averaged?")


def dsm_error_matches_closed_form(Matcher) -> None:
    """Data ``N(0, I)`` and the exact noisy score ``-x~/(1+sigma**2)`` give a mean per-element
    error ``1/(sigma**2 (1+sigma**2))`` (catches unscaled noise, a wrong sign, a wrong target)."""
    # Different seeds: the same stream for the data and the student's noise would correlate them.
    g = torch.Generator().manual_seed(20240917)
    torch.manual_seed(2)
    for sigma in (0.1, 0.3, 0.7):
        m = _matcher(Matcher, lambda x, s=sigma: -x / (1 + s**2), sigma=sigma)
        x = torch.randn(200_000, 2, generator=g)
        with torch.no_grad():
            out = _tensor(_call("forward", m, x), "forward(x)")
        assert tuple(out.shape) == (200_000, 2), "forward(x) should keep the shape of x"
        expected = 1 / (sigma**2 * (1 + sigma**2))
        found = _stat(out, "mean")
        assert _close(found, expected), (
            f"for data N(0, I) and the exact score of the noisy data, the mean per-element "
            f"error at sigma = {sigma} should be 1/(sigma^2 (1 + sigma^2)) = {expected:.4g}; "
            f"found {found:.4g}. Check how the noisy input and the target -eps/sigma are formed.")


def _langevin(Matcher, fn, x0, num_steps, eta) -> torch.Tensor:
    m = _matcher(Matcher, fn)
    with torch.no_grad():
        out = _call("langevin_dynamics", m.langevin_dynamics, x0.clone(), num_steps=num_steps,
                    eta=eta)
    out = _tensor(out, "langevin_dynamics(x, ...)")
    assert tuple(out.shape) == tuple(x0.shape), (
        f"langevin_dynamics should return samples of the start's shape {tuple(x0.shape)}, "
        f"got {tuple(out.shape)}")
    return out


def langevin_step_matches_the_update_rule(Matcher) -> None:
    """``x <- x + eta/2 s(x) + sqrt(eta) eps``: noise variance, drift and stationary law."""
    torch.manual_seed(3)
    n, k = 100_000, 10
    eta = 0.3
    out = _langevin(Matcher, torch.zeros_like, torch.zeros(n, 2), k, eta)
    found = _stat(out, "var")
    assert _close(found, k * eta), (
        f"with score 0, each step should add independent N(0, eta) noise to every element, so "
        f"{k} steps from 0 with eta = {eta} give variance {k * eta:.3g}; found {found:.4g}")
    eta = 0.2
    out = _langevin(Matcher, torch.ones_like, torch.zeros(n, 2), k, eta)
    found = _stat(out, "mean")
    assert abs(found - k * eta / 2) < 0.03, (
        f"with score 1, each step should move x by eta/2 on average, so {k} steps from 0 with "
        f"eta = {eta} end at mean {k * eta / 2:.3g}; found {found:.4g}")
    for eta in (0.5, 1.5):
        out = _langevin(Matcher, torch.neg, torch.zeros(n, 2), 80, eta)
        expected = 1 / (1 - eta / 4)
        found = _stat(out, "var")
        assert _close(found, expected), (
            f"with score s(x) = -x, Langevin with eta = {eta} should settle at variance "
            f"1/(1 - eta/4) = {expected:.4g}; found {found:.4g}")


def sample_returns_detached_samples(Matcher) -> None:
    """``sample`` returns ``(n, *input_shape)`` float32 samples without an autograd graph, uses
    its ``num_steps`` and ``eta`` and leaves gradients switched on."""
    torch.manual_seed(4)
    for shape in [(2,), (3,), (1, 4)]:
        m = _call("DenoisingScoreMatcher(...)", Matcher, score_model=nn.Linear(shape[-1], shape[-1]),
                  input_shape=shape, sigma=0.1)
        out = _tensor(_call("sample", m.sample, 7, num_steps=3, eta=0.01), "sample(...)")
        assert tuple(out.shape) == (7, *shape), (
            f"sample(7) with input_shape {shape} should return shape {(7, *shape)}, "
            f"got {tuple(out.shape)}")
        assert out.dtype == torch.float32, f"sample returned {out.dtype}, expected torch.float32"
        assert out.requires_grad is False and out.grad_fn is None, (
            "sample should run without building an autograd graph (torch.no_grad)")
        assert out.device == m.device, f"sample returned a tensor on {out.device}, not {m.device}"
        assert torch.is_grad_enabled(), "sample should not switch gradients off for good"
    default = _tensor(_call("sample", m.sample, 5), "sample(5)")
    assert tuple(default.shape) == (5, 1, 4), "sample(5) with default arguments should work"
    m = _matcher(Matcher, torch.zeros_like)
    with torch.no_grad():
        out = _tensor(_call("sample", m.sample, 50_000, num_steps=40, eta=0.5), "sample(...)")
    found = _stat(out, "var")
    assert 20 * (1 - RTOL) <= found <= 21.5 * (1 + RTOL), (
        f"with score 0, sample(num_steps=40, eta=0.5) should run 40 Langevin steps from the start "
        f"(variance about 20 plus the start's); found variance {found:.4g}. Are num_steps and eta "
        f"passed on?")


def runs_on_the_models_device(Matcher) -> None:
    """Noise and samples are made on the model's device (CUDA when there is one; otherwise
    PyTorch's data-free ``meta`` device, which also rejects tensors left on the CPU)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "meta")
    m = _call("DenoisingScoreMatcher(...)", Matcher, score_model=nn.Linear(2, 2).to(device),
              input_shape=(2,), sigma=0.1)
    x = torch.zeros(6, 2, device=device)
    hint = "; draw noise on the input's device (torch.randn_like, or device=x.device)"
    out = _tensor(_call(f"forward on {device.type}" + hint, m, x), "forward(x)")
    assert out.device.type == device.type, f"forward(x) of a {device.type} x returned {out.device}"
    loss = _tensor(_call(f"loss on {device.type}" + hint, m.loss, x)["total_loss"], "loss")
    assert loss.device.type == device.type and loss.ndim == 0, "loss should be a scalar on x's device"
    out = _tensor(_call(f"sample on {device.type}" + hint, m.sample, 4, num_steps=2, eta=0.01),
                  "sample(...)")
    assert out.device.type == device.type, f"sample returned {out.device}, not the model's {device}"


def _real(value, name: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    assert ok, f"{name} should be a number, got {type(value).__name__}"
    result = float(value)
    assert math.isfinite(result), f"{name} should be finite"
    return result


def hyperparameters_within_bounds(BATCH_SIZE, EPOCHS, LR, HIDDEN_SIZE, SIGMA) -> None:
    """The seed's bounds: EPOCHS > 50, LR > 1e-3, HIDDEN_SIZE > 32, 0.01 < SIGMA < 1."""
    for name, value in (("BATCH_SIZE", BATCH_SIZE), ("EPOCHS", EPOCHS), ("HIDDEN_SIZE", HIDDEN_SIZE)):
        assert isinstance(value, (int, np.integer)) and not isinstance(value, bool), (
            f"{name} should be an int, got {type(value).__name__}")
    assert int(BATCH_SIZE) >= 1, "BATCH_SIZE should be positive"
    assert int(EPOCHS) > 50, "EPOCHS should be greater than 50"
    assert _real(LR, "LR") > 1e-3, "LR should be greater than 1e-3"
    assert int(HIDDEN_SIZE) > 32, "HIDDEN_SIZE should be greater than 32"
    sigma = _real(SIGMA, "SIGMA")
    assert 0.01 < sigma < 1.0, "SIGMA should lie strictly between 0.01 and 1"


def score_network_maps_points_to_scores(score_model) -> None:
    """``score_model`` is a trainable module mapping ``(B, 2)`` float32 points to ``(B, 2)``."""
    assert isinstance(score_model, nn.Module), "score_model should be a torch.nn.Module"
    params = [p for p in score_model.parameters() if p.requires_grad]
    assert params, "score_model should have trainable parameters"
    device = params[0].device
    for b in (1, 7, 64):
        x = torch.randn(b, 2, generator=torch.Generator().manual_seed(b)).to(device)
        out = _tensor(_call("score_model(x)", score_model, x), "score_model(x)")
        assert tuple(out.shape) == (b, 2), f"score_model on ({b}, 2) returned {tuple(out.shape)}"
        assert out.dtype == torch.float32, f"score_model returned {out.dtype}"
        assert bool(torch.isfinite(out).all().item()), "score_model returned non-finite values"
        assert out.grad_fn is not None, "the output should depend on the trainable parameters"


def _moons(n: int, noise: float, seed: int) -> np.ndarray:
    """``sklearn.datasets.make_moons`` rebuilt with numpy (no dependence on patched sklearn)."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n - n_out)
    points = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                             np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    return points + noise * rng.standard_normal(points.shape)


def _sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, n_projections: int = 256) -> float:
    theta = torch.randn(2, n_projections, generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)
    theta = theta / theta.norm(dim=0, keepdim=True)
    px, py = torch.sort(x @ theta, dim=0).values, torch.sort(y @ theta, dim=0).values
    return float((px - py).abs().mean().item())


def moons_distance(samples: torch.Tensor) -> float:
    """Sliced-Wasserstein distance of 2000 samples ``(2000, 2)`` to 2000 moons points."""
    data = torch.from_numpy(_moons(2000, 0.1, seed=12345))
    x = samples.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(x).all().item()):
        return math.inf
    return _sliced_wasserstein(x, data)


def training_loop_updates_the_model(train_model, Matcher) -> None:
    """``train_model`` runs ``epochs`` epochs: it changes the parameters, steps the scheduler
    once per epoch and returns per-epoch ``train_losses`` and ``test_losses``."""
    from torch.utils.data import DataLoader

    torch.manual_seed(5)
    points = torch.from_numpy(_moons(640, 0.1, seed=5).astype("float32"))
    train_loader = DataLoader(points[:512], batch_size=128, shuffle=True)
    test_loader = DataLoader(points[512:], batch_size=128)
    net = nn.Sequential(nn.Linear(2, 32), nn.SiLU(), nn.Linear(32, 2))
    matcher = _call("DenoisingScoreMatcher(...)", Matcher, score_model=net, input_shape=(2,),
                    sigma=0.3)
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.Adam(matcher.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    epochs = 3
    # A progress bar or a warning on stderr would make nbgrader score the test cell 0.
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = _call("train_model", train_model, matcher, train_loader, test_loader,
                        epochs=epochs, optimizer=optimizer, scheduler=scheduler,
                        device=torch.device("cpu"), progress=False)
    changed = any(not torch.equal(a, b.detach()) for a, b in zip(before, net.parameters()))
    assert changed, "train_model should update the score model's parameters"
    assert scheduler.last_epoch == epochs, (
        f"the scheduler should step once per epoch ({epochs} epochs), it stepped "
        f"{scheduler.last_epoch} times")
    assert isinstance(history, dict), "train_model should return a dict of loss histories"
    for key in ("train_losses", "test_losses"):
        assert key in history, f"the returned dict should have a {key!r} entry"
        values = [_real(v.item() if type(v) is torch.Tensor else v, key) for v in history[key]]
        assert len(values) == epochs, f"{key} should hold one value per epoch"


def samples_land_near_the_moons(matcher, num_steps, eta) -> None:
    """The trained matcher's ``sample(2000, num_steps, eta)`` lies within the sliced-Wasserstein
    threshold of the moons (a uniform cloud over the moons' box is at 0.22)."""
    num_steps = int(_real(num_steps, "NUM_STEPS"))
    eta = _real(eta, "ETA")
    assert 1 <= num_steps <= 10_000, "NUM_STEPS should be between 1 and 10000 (grading budget)"
    torch.manual_seed(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _tensor(_call("sample", matcher.sample, 2000, num_steps=num_steps, eta=eta),
                      "matcher.sample(...)")
    assert tuple(out.shape) == (2000, 2), f"sample(2000) returned shape {tuple(out.shape)}"
    distance = moons_distance(out)
    assert distance < MOONS_DISTANCE_THRESHOLD, (
        f"samples are too far from the moons: sliced-Wasserstein distance {distance:.3f}, "
        f"needed below {MOONS_DISTANCE_THRESHOLD}. Check the training and the Langevin "
        f"settings (enough steps for the chain to reach the moons).")
