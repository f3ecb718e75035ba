"""Hidden checks of the ``wgan_anomalies`` notebook: dataset, networks, penalty, samplers, scoring.

Each check takes the student's objects, raises ``AssertionError`` with a message that says what
was expected without giving the solution away, and returns ``None`` on success. Checks compare
plain floats/ints/bools, seed both global RNGs (numpy and torch) before calling student code, and
use statistical tests whose thresholds a right answer passes with overwhelming probability
(p-values above 1e-6 with fixed seeds). The statistics (Kolmogorov-Smirnov) are computed here with
numpy, so a student who patched scipy in the kernel changes nothing. The training loops are
checked in ``wgan_training_checks``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import signal
import tempfile
import tracemalloc
import warnings

import numpy as np
import torch
import torch.nn as nn

# 98% quantiles of the chi law (scipy.stats.chi.ppf(0.98, n)), kept as numbers: see the tests.
CHI_P98 = {2: 2.797149, 128: 12.765701}
P_MIN = 1e-6  # smallest p-value a statistical check accepts
SAMPLER_SECONDS = 20.0  # wall-clock limit of one sampler call (a right one takes milliseconds)


# ---- helpers ---------------------------------------------------------------------------------

@contextlib.contextmanager
def quiet():
    """Student code may print progress bars or warnings: nothing reaches stderr (or stdout)."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def time_limit(seconds: float, what: str):
    """Fail a call that runs longer than ``seconds`` (SIGALRM; main thread on POSIX only)."""
    usable = hasattr(signal, "setitimer") and _main_thread()
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise _TimeUp  # a BaseException: neither ``call`` nor a student's ``except Exception`` eats it

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _TimeUp:
        raise AssertionError(f"{what} took longer than {seconds:.0f} s; a sampler that rejects "
                             "points of a cube never finishes in high dimension") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class _TimeUp(BaseException):
    """Raised by the alarm of ``time_limit``."""


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def call(what: str, fn, *args, **kwargs):
    """Run student code quietly; an exception becomes a failed check that names the call."""
    try:
        with quiet():
            return fn(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any crash in student code fails the check
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc}") from None


def tensor(value, what: str) -> torch.Tensor:
    assert type(value) is torch.Tensor, f"{what} should be a torch.Tensor, got {type(value).__name__}"
    return value


def rows(value, what: str, shape: tuple[int, int]) -> np.ndarray:
    """A sampler's output (numpy array or tensor) as a float64 array of the given shape."""
    if type(value) is torch.Tensor:
        value = value.detach().to("cpu", torch.float64).numpy()
    assert type(value) is np.ndarray, f"{what} should return a numpy array or a tensor, got {type(value).__name__}"
    assert value.shape == shape, f"{what} should return shape {shape}, got {value.shape}"
    out = np.array(value, dtype=np.float64)
    assert np.isfinite(out).all(), f"{what} returned NaN or inf"
    return out


def seed_all(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)


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


# ---- the dataset -----------------------------------------------------------------------------

def _disk(size: int) -> np.ndarray:
    c = (np.arange(size) - (size - 1) / 2) / (size / 2)
    return (c[:, None] ** 2 + c[None, :] ** 2 <= 1).astype(np.float32)


def _write(folder: str, n: int, size: int, seed: int, mask_size: int | None = None,
           gh_days: int | None = None) -> tuple[str, str, str, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pv = rng.random((n, size, size), dtype=np.float32)
    gh = rng.random((gh_days or n, size, size), dtype=np.float32)
    mask = _disk(mask_size or size)
    paths = [os.path.join(folder, f) for f in ("pv.npy", "gh.npy", "mask.npy")]
    for path, array in zip(paths, (pv, gh, mask)):
        np.save(path, array)
    return (*paths, pv, gh, mask)


def ds_items_are_masked_two_channel_tensors(DS) -> None:
    """``DS`` items are (2, H, W) float32 tensors pv then gh, times the mask, at any size;
    ``len`` is the number of days; a transform is applied; a DataLoader batches them."""
    from torch.utils.data import DataLoader

    with tempfile.TemporaryDirectory() as folder:
        for n, size in ((7, 16), (3, 32)):
            pv_f, gh_f, mask_f, pv, gh, mask = _write(folder, n, size, seed=size)
            ds = call("DS(pv, gh, mask)", DS, pv_f, gh_f, mask_f)
            length = call("len(ds)", len, ds)
            assert length == n, f"len(ds) should be the number of days {n}, got {length}"
            for i in sorted({0, n // 2, n - 1}):
                item = tensor(call(f"ds[{i}]", ds.__getitem__, i), f"ds[{i}]")
                assert tuple(item.shape) == (2, size, size), (
                    f"one item should have shape (2, H, W) = {(2, size, size)}, got {tuple(item.shape)}")
                assert item.dtype == torch.float32, f"items should be float32, got {item.dtype}"
                got = item.detach().numpy().astype(np.float64)
                assert float(np.abs(got[:, mask == 0]).max()) == 0.0, "items should be zero outside the mask"
                assert np.allclose(got[0], pv[i] * mask, atol=1e-6), (
                    "channel 0 should be pv of the same day, times the mask")
                assert np.allclose(got[1], gh[i] * mask, atol=1e-6), (
                    "channel 1 should be gh of the same day, times the mask")
            doubled = call("DS(..., transform)", DS, pv_f, gh_f, mask_f, lambda x: x * 2)
            item = tensor(call("ds[0] with a transform", doubled.__getitem__, 0), "ds[0]")
            assert np.allclose(item.detach().numpy(), 2 * np.stack([pv[0], gh[0]]) * mask, atol=1e-6), (
                "the transform should be applied to the masked item")
            for b in (1, 3):
                batch = call("next(iter(DataLoader(ds)))", lambda: next(iter(DataLoader(ds, batch_size=b))))
                batch = tensor(batch, "a DataLoader batch")
                assert tuple(batch.shape) == (b, 2, size, size), (
                    f"a DataLoader batch of {b} should have shape {(b, 2, size, size)}, got {tuple(batch.shape)}")


def ds_reads_files_memory_mapped(DS) -> None:
    """Opening the dataset and reading items allocates memory for a few days, not the whole files
    (numpy allocations are traced; two files of 48 MB against a budget of 12 MB)."""
    n, size = 192, 256  # 192 days x 256 KB = 48 MB per file
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        paths = [os.path.join(folder, f) for f in ("pv.npy", "gh.npy", "mask.npy")]
        for path in paths[:2]:
            day = rng.random((size, size), dtype=np.float32)
            out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, size, size))
            out[:] = day  # every day the same: fast to write, values in [0, 1]
            out.flush()
            del out
        np.save(paths[2], _disk(size))
        tracemalloc.start()
        try:
            ds = call("DS(pv, gh, mask)", DS, *paths)
            for i in (0, n // 2, n - 1):
                tensor(call(f"ds[{i}]", ds.__getitem__, i), f"ds[{i}]")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        del ds
    budget = 12 * 2**20
    assert peak < budget, (
        f"creating the dataset and reading 3 items allocated {peak / 2**20:.0f} MB for files of "
        f"48 MB each: open them memory-mapped (np.load(..., mmap_mode='r')) and copy out one day per item")


def ds_rejects_missing_and_mismatched_files(DS) -> None:
    """A missing file, pv and gh with different shapes, and a mask of the wrong shape raise."""
    with tempfile.TemporaryDirectory() as folder:
        cases = []
        pv_f, gh_f, mask_f, *_ = _write(folder, 4, 16, seed=0)
        ds = call("DS(pv, gh, mask) on valid files", DS, pv_f, gh_f, mask_f)  # refusing everything is no check
        tensor(call("ds[0] on valid files", ds.__getitem__, 0), "ds[0]")
        cases.append(("a missing pv file", (os.path.join(folder, "missing.npy"), gh_f, mask_f)))
        cases.append(("a missing mask file", (pv_f, gh_f, os.path.join(folder, "missing.npy"))))
        sub = os.path.join(folder, "days")
        os.mkdir(sub)
        cases.append(("pv and gh with different numbers of days", _write(sub, 4, 16, 1, gh_days=5)[:3]))
        sub = os.path.join(folder, "mask")
        os.mkdir(sub)
        cases.append(("a mask of the wrong shape", _write(sub, 4, 16, 2, mask_size=8)[:3]))
        for what, args in cases:
            raised = False
            try:
                with quiet():
                    ds = DS(*args)
                    ds[0]
                    len(ds)
            except Exception:  # noqa: BLE001 - any exception is a clear refusal
                raised = True
            assert raised, f"DS should raise an exception for {what}"


# ---- networks --------------------------------------------------------------------------------

def _scaled(module: nn.Module, factor: float) -> nn.Module:
    big = copy.deepcopy(module)
    with torch.no_grad():
        for p in big.parameters():
            p.mul_(factor)
    return big


def generator_maps_latents_to_unit_interval_images(Generator) -> None:
    """``Generator(n_inputs, size)``: (N, n_inputs) -> (N, 2, size, size) float32 in [0, 1] for
    several sizes and batch sizes, even with large weights; different latents, different images."""
    seed_all(0)
    for n_inputs, size in ((16, 32), (128, 16), (128, 256)):
        g = call(f"Generator(n_inputs={n_inputs}, size={size})", Generator, n_inputs=n_inputs, size=size)
        batches = (2,) if size == 256 else (2, 5)
        for b in batches:
            z = torch.randn(b, n_inputs)
            with torch.no_grad():
                out = tensor(call("generator(z)", g, z), "generator(z)")
            assert tuple(out.shape) == (b, 2, size, size), (
                f"Generator(n_inputs={n_inputs}, size={size}) on z of shape {(b, n_inputs)} should "
                f"return {(b, 2, size, size)}, got {tuple(out.shape)}")
            assert out.dtype == torch.float32, f"the generator returned {out.dtype}, expected float32"
            assert float((out[0] - out[1]).abs().max()) > 0, "different latents should give different images"
        if size == 256:
            continue
        g.eval()
        with torch.no_grad():
            one = tensor(call("generator(z) for one latent in eval mode", g, torch.randn(1, n_inputs)), "out")
            big = tensor(call("generator with weights x10", _scaled(g, 10.0).train(), torch.randn(8, n_inputs) * 3), "out")
        assert tuple(one.shape) == (1, 2, size, size), "a batch of one latent should work in eval mode"
        for t in (out, one, big):
            lo, hi = float(t.min()), float(t.max())
            assert math.isfinite(lo) and math.isfinite(hi) and lo >= 0.0 and hi <= 1.0, (
                f"generated values should lie in [0, 1] like the data (found [{lo:.3g}, {hi:.3g}]; "
                "also with large weights): think about the output activation")


def critic_is_unbounded_without_batch_norm(Discriminator) -> None:
    """``Discriminator(size)``: (N, 2, size, size) -> (N, 1) float32 scores, no batch norm (each
    score depends on its own sample only), no bounding output activation."""
    seed_all(1)
    for size in (32, 16):
        d = call(f"Discriminator(size={size})", Discriminator, size=size)
        bn = [type(m).__name__ for m in d.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        assert not bn, f"the critic should not use batch normalisation (found {bn[0]})"
        d.train()
        x = torch.rand(6, 2, size, size)
        for b in (1, 3, 6):
            out = tensor(call("critic(x)", d, x[:b]), "critic(x)")
            assert tuple(out.shape) == (b, 1), f"the critic on {(b, 2, size, size)} should return {(b, 1)}, got {tuple(out.shape)}"
            assert out.dtype == torch.float32, f"the critic returned {out.dtype}, expected float32"
            assert out.grad_fn is not None, "the critic's score should depend on its parameters"
        with torch.no_grad():
            whole = call("critic(x)", d, x).double()
            single = torch.cat([call("critic(x[i:i+1])", d, x[i:i + 1]).double() for i in range(6)])
        assert float((whole - single).abs().max()) <= 1e-4 * (1 + float(whole.abs().max())), (
            "each sample's score should not depend on the other samples of the batch (no batch "
            "statistics in the critic: the gradient penalty is per sample)")
        with torch.no_grad():
            big = call("critic with weights x10", _scaled(d, 10.0), x * 4 - 2).double()
        assert math.isfinite(float(big.abs().max())) and float(big.abs().max()) > 1.0, (
            "the critic's score should be unbounded (with large weights it should leave [-1, 1]): "
            "a Wasserstein critic has no sigmoid or tanh at the output")


def optimizers_cover_each_network(opt_gen, opt_dsc, gen, dsc) -> None:
    """``opt_gen`` holds exactly the generator's parameters and ``opt_dsc`` exactly the critic's."""
    for opt, net, name in ((opt_gen, gen, "opt_gen"), (opt_dsc, dsc, "opt_dsc")):
        assert isinstance(opt, torch.optim.Optimizer), f"{name} should be a torch.optim optimizer"
        held = {id(p) for group in opt.param_groups for p in group["params"]}
        wanted = {id(p) for p in net.parameters() if p.requires_grad}
        assert held == wanted, f"{name} should optimize exactly the parameters of its own network"


# ---- the gradient penalty --------------------------------------------------------------------

class _Linear(nn.Module):
    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return (x.flatten(1) * self.w.flatten()).sum(1, keepdim=True) + self.b  # (N, 1)


class _Quadratic(nn.Module):
    """D(x) = 0.5 |x|^2 per sample: gradient x, norm |x|. Records its inputs."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.ones(()))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return 0.5 * self.anchor * (x.flatten(1) ** 2).sum(1, keepdim=True)


def gradient_penalty_matches_a_known_critic(compute_gradient_penalty) -> None:
    """Linear critic: GP = (|w| - 1)^2 and dGP/dw = 2(|w| - 1) w/|w|; quadratic critic with
    real = fake: GP = mean_i (|x_i| - 1)^2 (per sample); alpha uniform, one per sample."""
    seed_all(2)
    shape = (2, 4, 4)
    for norm, batch in ((3.0, 5), (0.25, 1), (1.5, 8)):
        w = torch.randn(shape, dtype=torch.float64)
        w = w / w.norm() * norm
        critic = _Linear(w)
        real, fake = torch.rand(batch, *shape, dtype=torch.float64), torch.rand(batch, *shape, dtype=torch.float64)
        gp = tensor(call("compute_gradient_penalty", compute_gradient_penalty, critic, real, fake), "the penalty")
        assert gp.ndim == 0, f"the penalty should be a 0-d tensor (a mean over samples), got shape {tuple(gp.shape)}"
        expected = (norm - 1) ** 2
        assert abs(float(gp.detach()) - expected) <= 1e-6 * (1 + expected), (
            f"for a linear critic D(x) = <w, x> with |w| = {norm} and a batch of {batch}, the "
            f"penalty should be (|w| - 1)^2 = {expected:.4g}, got {float(gp.detach()):.4g}")
        assert gp.requires_grad, "the penalty should be differentiable w.r.t. the critic (create_graph=True)"
        try:
            (grad,) = torch.autograd.grad(gp, critic.w)
        except RuntimeError as exc:
            raise AssertionError(f"back-propagating the penalty into the critic failed: {exc}") from None
        expected_grad = 2 * (norm - 1) * w / norm
        assert torch.allclose(grad, expected_grad, atol=1e-6), (
            "the penalty's gradient w.r.t. the critic's weights is wrong (keep the graph: create_graph=True)")
    critic = _Quadratic().double()
    x = torch.rand(6, *shape, dtype=torch.float64) * torch.linspace(0.1, 1.0, 6, dtype=torch.float64).view(6, 1, 1, 1)
    gp = tensor(call("compute_gradient_penalty", compute_gradient_penalty, critic, x, x.clone()), "the penalty")
    expected = float(((x.flatten(1).norm(dim=1) - 1) ** 2).mean())
    assert gp.ndim == 0 and abs(float(gp.detach()) - expected) <= 1e-6 * (1 + expected), (
        f"with a critic whose gradient norm differs per sample the penalty should be the mean over "
        f"samples of (|grad_i| - 1)^2 = {expected:.4g}; got {float(gp.detach()):.4g}: take one norm per sample")
    critic = _Quadratic()
    n = 2000
    real, fake = torch.zeros(n, *shape), torch.ones(n, *shape)
    seed_all(3)
    call("compute_gradient_penalty", compute_gradient_penalty, critic, real, fake)
    assert critic.seen, "the penalty should evaluate the critic at the interpolates"
    xhat = critic.seen[-1].double()
    assert tuple(xhat.shape) == (n, *shape), "the critic should see one interpolate per sample"
    alpha = 1 - xhat.flatten(1).mean(1).numpy()  # x_hat = alpha * 0 + (1 - alpha) * 1
    spread = float(xhat.flatten(1).std(1).max())
    assert spread < 1e-5, "one alpha per sample should scale the whole sample"
    assert alpha.min() >= -1e-6 and alpha.max() <= 1 + 1e-6, "alpha should lie in [0, 1]"
    p = ks_uniform_pvalue(np.clip(alpha, 0, 1))
    assert p > P_MIN, (f"alpha should be drawn from U(0, 1) independently for every sample (p = {p:.2g})")


# ---- samplers --------------------------------------------------------------------------------

def sphere_sampler_is_uniform(SamplingUnitSphereUniform) -> None:
    """Rows of unit norm with directions uniform on the sphere, for n = 2, 3, 128."""
    for seed, (n, count) in enumerate(((2, 4000), (3, 4000), (128, 4000))):
        seed_all(10 + seed)
        with time_limit(SAMPLER_SECONDS, "SamplingUnitSphereUniform"):
            s = rows(call("SamplingUnitSphereUniform", SamplingUnitSphereUniform, ndim=n, nsamples=count),
                     f"SamplingUnitSphereUniform(ndim={n}, nsamples={count})", (count, n))
        err = float(np.abs(np.linalg.norm(s, axis=1) - 1).max())
        assert err < 1e-5, f"points on the unit sphere should have norm 1 (off by {err:.2g} at n = {n})"
        p = direction_uniformity_pvalue(s, seed=seed)
        assert p > P_MIN, (f"at n = {n} the directions are not uniform on the sphere (p = {p:.2g}); "
                           "normalise Gaussian vectors, not points of a cube")


def ball_sampler_follows_the_norm_law(SamplingBallUniform) -> None:
    """Rows uniform in the ball: norm law ``P(|b| <= r) = (r/R)^n`` and uniform directions."""
    for seed, (n, radius, count) in enumerate(((2, 1.0, 4000), (3, 2.5, 4000), (128, 12.77, 4000))):
        seed_all(20 + seed)
        with time_limit(SAMPLER_SECONDS, f"SamplingBallUniform(ndim={n})"):
            b = rows(call("SamplingBallUniform", SamplingBallUniform, ndim=n, radius=radius, nsamples=count),
                     f"SamplingBallUniform(ndim={n}, radius={radius}, nsamples={count})", (count, n))
        p = norm_law_pvalue(b, radius)
        assert p > P_MIN, (f"at n = {n}, R = {radius} the norms do not follow P(|b| <= r) = (r/R)^n "
                           f"(p = {p:.2g}; is the radius R * U^(1/n)?)")
        p = direction_uniformity_pvalue(b, seed=seed)
        assert p > P_MIN, f"at n = {n} the directions of ball samples are not uniform (p = {p:.2g})"


def inner_and_outer_are_balanced(SampleInnerAndOuterExamples) -> None:
    """Inner rows have norm <= r_in, outer rows r_in < norm <= r_out, ``nsamples`` rows in all,
    uniform in the outer ball; with r_out = r_in 2^(1/n) the split is 50/50 within 5 sd."""
    for seed, (n, r_in, count) in enumerate(((2, 2.797149, 20000), (128, 12.765701, 20000), (5, 1.0, 8000))):
        seed_all(30 + seed)
        r_out = r_in * 2 ** (1 / n) if seed < 2 else 1.5
        with time_limit(1.5 * SAMPLER_SECONDS, f"SampleInnerAndOuterExamples(ndim={n})"):
            out = call("SampleInnerAndOuterExamples", SampleInnerAndOuterExamples, ndim=n,
                       radius_inner=r_in, radius_outer=r_out, nsamples=count)
        assert isinstance(out, tuple) and len(out) == 2, "return (samples_inner, samples_outer)"
        n_in = len(out[0]) if hasattr(out[0], "__len__") else -1
        n_out = len(out[1]) if hasattr(out[1], "__len__") else -1
        assert n_in >= 0 and n_out >= 0 and n_in + n_out == count, (
            f"inner and outer samples should add up to nsamples = {count}, got {n_in} + {n_out}")
        inner = rows(out[0], "samples_inner", (n_in, n))
        outer = rows(out[1], "samples_outer", (n_out, n))
        r1, r2 = np.linalg.norm(inner, axis=1), np.linalg.norm(outer, axis=1)
        assert (r1 <= r_in * (1 + 1e-9)).all(), "inner samples should have norm <= radius_inner"
        assert (r2 > r_in * (1 - 1e-9)).all() and (r2 <= r_out * (1 + 1e-6)).all(), (
            "outer samples should have radius_inner < norm <= radius_outer")
        share = n_in / count
        expected = (r_in / r_out) ** n
        sd = math.sqrt(expected * (1 - expected) / count)
        assert abs(share - expected) < 5 * sd, (
            f"at n = {n} the share of inner samples should be (r_in / r_out)^n = {expected:.3f}, got {share:.3f}")
        p = norm_law_pvalue(np.concatenate([inner, outer]), r_out)
        assert p > P_MIN, f"together, inner and outer samples should be uniform in the outer ball (p = {p:.2g})"


def _number(value, name: str) -> float:
    if type(value) is torch.Tensor and value.numel() == 1:
        value = value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    assert isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool), (
        f"{name} should be a number, got {type(value).__name__}")
    out = float(value)
    assert math.isfinite(out), f"{name} should be finite"
    return out


def chi_quantile_is_right(chi_p98, R_INNER, R_OUTER, latent_dim) -> None:
    """chi_p98 = chi.ppf(0.98, 128) = 12.7657, R_INNER = chi_p98, R_OUTER = chi_p98 * 2^(1/128)."""
    n = int(_number(latent_dim, "latent_dim"))
    assert n == 128, "latent_dim should stay 128"
    q = _number(chi_p98, "chi_p98")
    assert abs(q - CHI_P98[n]) < 1e-3, (
        f"chi_p98 = {q:.4g} is not the 98% quantile of the chi law with {n} degrees of freedom "
        "(the law of |z|, not of |z|^2)")
    assert abs(_number(R_INNER, "R_INNER") - CHI_P98[n]) < 1e-3, "R_INNER should be the 98% chi quantile"
    expected = CHI_P98[n] * 2 ** (1 / n)
    assert abs(_number(R_OUTER, "R_OUTER") - expected) < 1e-3, (
        "R_OUTER should make the outer ball twice as large in volume as the inner one")


def gaussian_scheme_rejects_inner_with_48_49(P_REJECT_INNER) -> None:
    """Keeping inner Gaussian samples with probability 1/49 leaves 0.98/49 = 0.02 = the outer mass."""
    p = _number(P_REJECT_INNER, "P_REJECT_INNER")
    assert abs(p - 48 / 49) < 1e-9, (
        f"P_REJECT_INNER = {p:.6g} does not balance the classes: the kept inner mass "
        "0.98 * (1 - P_REJECT_INNER) should equal the outer mass 0.02 exactly")


# ---- classifier and scoring ------------------------------------------------------------------

def classifier_outputs_one_logit_per_sample(Classifier) -> None:
    """``Classifier(size)``: (N, 2, size, size) -> (N, 1) float32 logits, unbounded (no sigmoid)."""
    seed_all(4)
    for size in (32, 16):
        clf = call(f"Classifier(size={size})", Classifier, size=size)
        x = torch.rand(9, 2, size, size)
        for mode in ("train", "eval"):
            getattr(clf, mode)()
            for b in ((2, 9) if mode == "train" else (1, 4)):
                out = tensor(call("classifier(x)", clf, x[:b]), "classifier(x)")
                assert tuple(out.shape) == (b, 1), f"the classifier on {(b, 2, size, size)} should return {(b, 1)}, got {tuple(out.shape)}"
                assert out.dtype == torch.float32, f"the classifier returned {out.dtype}"
                assert out.grad_fn is not None, "the logits should depend on the classifier's parameters"
        clf.eval()
        with torch.no_grad():
            big = call("classifier with weights x10", _scaled(clf, 10.0), x * 4 - 2).double()
        assert float(big.abs().max()) > 1.0, (
            "the classifier should return logits (any real number); the sigmoid belongs to the loss "
            "(BCEWithLogitsLoss) or to the scoring")


def anomalies_are_indices_above_the_threshold(probs, threshold, idx_anomalies, clf, ds_test) -> None:
    """``probs`` holds sigmoid(clf(x)) of every day in the dataset's order, in [0, 1];
    ``idx_anomalies`` are exactly the indices with ``probs > threshold``."""
    n = call("len(ds_test)", len, ds_test)
    if type(probs) is torch.Tensor:
        probs = probs.detach().cpu().numpy()
    assert type(probs) is np.ndarray, f"probs should be a numpy array, got {type(probs).__name__}"
    p = np.array(probs, dtype=np.float64).reshape(-1)
    assert p.shape == (n,), f"probs should hold one value per day ({n}), got shape {np.shape(probs)}"
    assert np.isfinite(p).all() and p.min() >= 0 and p.max() <= 1, "probs should be probabilities in [0, 1]"
    t = _number(threshold, "threshold")
    if type(idx_anomalies) is torch.Tensor:
        idx_anomalies = idx_anomalies.detach().cpu().numpy()
    idx = np.array(idx_anomalies).reshape(-1)
    assert idx.dtype.kind in "iu" or idx.size == 0, "idx_anomalies should hold integer indices"
    expected = np.flatnonzero(p > t)
    assert sorted(int(i) for i in idx) == [int(i) for i in expected], (
        "idx_anomalies should be the indices of the days whose probability is above the threshold")
    clf.eval()
    device = next(clf.parameters()).device
    rng = np.random.default_rng(5)
    days = sorted({0, 1, n - 1, *rng.choice(n, size=min(n, 8), replace=False).tolist()})
    with torch.no_grad():
        x = torch.stack([tensor(call(f"ds_test[{i}]", ds_test.__getitem__, i), "an item") for i in days])
        mine = torch.sigmoid(call("clf(x)", clf, x.to(device)).double()).reshape(-1).cpu().numpy()
    assert np.allclose(mine, p[days], atol=1e-3), (
        "probs[i] should be sigmoid(clf(ds_test[i])) of day i: score the days in order (no "
        "shuffling), with the classifier in eval mode")
