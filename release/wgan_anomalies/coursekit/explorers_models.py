# GENERATED from reference_solution/coursekit/explorers_models.py by `python -m reference_solution release`; edit the original
"""Views of trained models: ``explore_latent`` (a generator) and ``explore_langevin`` (a score
model). Course support code (see ``widgets``): the models are duck-typed, a generator by
``.n_inputs`` and ``G(z)``, a matcher by ``.langevin_dynamics`` and ``.score_model``.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager

import numpy as np
import torch
from matplotlib.patches import Rectangle
from scipy import stats
from scipy.spatial import cKDTree

from .language import tr
from .plotting import CMAPS, draw_state
from .views import View, agg_figure, control, has_widgets, numpy


@contextmanager
def _one_thread():
    """Small forward passes (one latent, 500 particles) on one thread: on a busy 2-core CPU,
    two OpenMP threads wait on each other, measured 14 ms against 0.4 ms a Langevin step."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _placement(model) -> tuple[torch.device, torch.dtype]:
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    return (params[0].device, params[0].dtype) if params else (torch.device("cpu"), torch.float32)


class LatentView(View):
    """``G(z)`` for ``z = norm * q * u`` along a unit direction ``u`` drawn from ``seed``."""

    name = "latent"

    def __init__(self, generator, mask=None, quantile: float = 0.98, seed: int = 0,
                 norm: float = 0.9, max_norm: float = 2.0, strip: tuple[float, float] = (0.5, 2.0),
                 n_strip: int = 7, static: bool = False):
        self.generator = generator
        self.n_dims = n = int(generator.n_inputs)
        self.quantile = quantile
        self.radius_inner = float(stats.chi.ppf(quantile, n))  # q: "normal" inside
        self.radius_outer = self.radius_inner * 2.0 ** (1.0 / n)  # ball of twice the volume
        self.mask = None if mask is None else numpy(mask)
        self.strip_norms = np.linspace(strip[0], strip[1], n_strip)  # in units of q
        self.device, self.dtype = _placement(generator)
        self._strips: dict[int, np.ndarray] = {}
        first = self._generate(np.zeros((1, n)))[0]
        size = first.shape[-1]
        fig = agg_figure(max(7.0, 1.05 * n_strip), 4.6)
        grid = fig.add_gridspec(2, n_strip, height_ratios=[1.6, 1])
        thirds = [slice(round(k * n_strip / 3), round((k + 1) * n_strip / 3)) for k in range(3)]
        axes = [fig.add_subplot(grid[0, t]) for t in thirds]
        self.images = draw_state(axes[:2], first, self.mask, titles=["G(z) pv", "G(z) gh"])
        r = np.linspace(0, max_norm * self.radius_inner * 1.05, 300)
        chi_ax = axes[2]
        chi_ax.plot(r, stats.chi.pdf(r, n), color="k", lw=1)
        chi_ax.axvline(self.radius_inner, color="tab:red", ls="--", lw=1)
        chi_ax.set_title(f"law of |z| (chi, n={n}); q={self.radius_inner:.2f}", fontsize=8)
        chi_ax.tick_params(labelsize=7)
        chi_ax.set_yticks([])
        self.norm_line = chi_ax.axvline(0, color="tab:blue", lw=2)
        self.strip_images, self.strip_axes = [], []
        for k, u in enumerate(self.strip_norms):
            ax = fig.add_subplot(grid[1, k])
            ax.set_xticks([])
            ax.set_yticks([])
            self.strip_images.append(ax.imshow(np.zeros((size, size)), cmap=CMAPS["pv"], vmin=0,
                                               vmax=1, origin="lower", interpolation="nearest"))
            ax.set_title(f"{u:.2f} q", fontsize=8, color="tab:red" if u > 1 else "k")
            self.strip_axes.append(ax)
        fig.suptitle("pv along the ray (red: outside the 98% ball, anomalous)", fontsize=8,
                     y=0.02, va="bottom")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        super().__init__(fig, static)
        self.norm = control("FloatSlider", value=norm, min=0.0, max=max_norm, step=0.01,
                            description="|z| / q", continuous_update=True)
        self.seed = control("IntText", value=seed, description="direction")
        self.new_direction = control("Button", description="new direction")
        self.new_direction.on_click(lambda _: setattr(self.seed, "value", self.seed.value + 1))
        self.controls = [self.norm, self.seed, self.new_direction]
        self.animated = [*self.images, self.norm_line]
        self._watch(self.norm, self.seed)
        self._finish()

    def background_key(self):
        return int(self.seed.value)  # the strip changes with the direction only

    def direction(self, seed: int | None = None) -> np.ndarray:
        """The unit direction ``(n,)`` of ``seed`` (uniform on the sphere)."""
        rng = np.random.default_rng(int(self.seed.value if seed is None else seed))
        u = rng.standard_normal(self.n_dims)
        return u / np.linalg.norm(u)

    def _generate(self, z: np.ndarray) -> np.ndarray:
        g = self.generator
        was_training = getattr(g, "training", False)
        if hasattr(g, "eval"):
            g.eval()  # BatchNorm running statistics: one sample at a time must work
        try:
            with torch.no_grad(), _one_thread():
                out = g(torch.as_tensor(z, dtype=self.dtype, device=self.device))
        finally:
            if hasattr(g, "train"):
                g.train(was_training)
        return numpy(out)  # (k, 2, S, S)

    def key(self):
        return int(self.seed.value), round(float(self.norm.value), 6)

    def compute(self) -> dict:
        seed = int(self.seed.value)
        u = self.direction(seed)
        if seed not in self._strips:
            self._strips[seed] = self._generate(np.outer(self.strip_norms * self.radius_inner, u))
        z = float(self.norm.value) * self.radius_inner * u
        return {"z": z, "sample": self._generate(z[None])[0]}

    def draw(self, state: dict) -> None:
        self.z, self.sample = state["z"], state["sample"]
        self.strip = self._strips[int(self.seed.value)]
        for im, field in zip(self.images, self.sample):
            im.set_data(field if self.mask is None else np.ma.masked_where(self.mask < 0.5, field))
        for im, item in zip(self.strip_images, self.strip):
            pv = item[0]
            im.set_data(pv if self.mask is None else np.ma.masked_where(self.mask < 0.5, pv))
        r = float(np.linalg.norm(self.z))
        self.norm_line.set_xdata([r, r])
        self.status = "normal" if r <= self.radius_inner else "anomalous"
        where = ("inside the ball: a typical latent" if self.status == "normal" else
                 "outside the ball: a latent the generator rarely saw")
        self.label_text = (f"|z| = {r:.2f} = {self.norm.value:.2f} q, q = chi.ppf({self.quantile}, "
                           f"{self.n_dims}) = {self.radius_inner:.2f} (outer radius "
                           f"{self.radius_outer:.2f}): {self.status.upper()}, {where}")


def explore_latent(generator, mask=None, quantile: float = 0.98, seed: int = 0,
                   norm: float = 0.9, static: bool = False, **options) -> LatentView:
    """Walk along a latent direction of ``generator``: a norm slider in units of
    ``q = chi.ppf(quantile, n)``, ``G(z)`` live, normal (``|z| <= q``) or anomalous, and a strip
    of pv images along the ray. The strip spans ``strip=(0.5, 2.0)`` q rather than q to the
    outer radius ``q 2**(1/n)``, which at n = 128 is only 0.5% larger than q."""
    return LatentView(generator, mask, quantile, seed, norm=norm, static=static, **options)


class LangevinView(View):
    """Particles of Langevin sampling from ``U[-1, 1]^2`` over the data and the score field."""

    name = "langevin"
    max_runs = 8  # trajectories kept, one per (eta, num_steps)

    def __init__(self, matcher, data, eta: float = 0.01, num_steps: int = 200,
                 n_particles: int = 500, seed: int = 0, arrows: int = 20, static: bool = False):
        self.matcher, self.n_particles, self.seed = matcher, n_particles, seed
        self.data = numpy(data).reshape(len(data), -1)
        if self.data.shape[1] != 2:
            raise ValueError(f"explore_langevin shows 2-D points; found data of shape "
                             f"{tuple(np.shape(data))}, expected (N, 2)")
        self.tree = cKDTree(self.data)
        self.device, self.dtype = _placement(getattr(matcher, "score_model", matcher))
        params = inspect.signature(matcher.langevin_dynamics).parameters
        self._takes_generator = "generator" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values())
        self._runs: dict[tuple[float, int], np.ndarray] = {}
        lo = np.minimum(self.data.min(0), -1.0)
        hi = np.maximum(self.data.max(0), 1.0)
        lo, hi = lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)
        fig = agg_figure(6.4, 4.8)
        ax = fig.add_subplot()
        shown = self.data[np.random.default_rng(0).permutation(len(self.data))[:1500]]
        ax.scatter(*shown.T, s=3, color="0.6", alpha=0.4, label=tr("data"), linewidths=0)
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], arrows), np.linspace(lo[1], hi[1], arrows))
        points = np.stack([gx.ravel(), gy.ravel()], 1)
        with torch.no_grad():
            s = numpy(matcher.score_model(torch.as_tensor(points, dtype=self.dtype,
                                                          device=self.device)))
        self.score_field = (points, s)
        magnitude = np.linalg.norm(s, axis=1) + 1e-12
        cell = 0.8 * min((hi - lo) / arrows)
        ax.quiver(points[:, 0], points[:, 1], s[:, 0] / magnitude * cell,
                  s[:, 1] / magnitude * cell, np.log10(magnitude), cmap="Blues", angles="xy",
                  scale_units="xy", scale=1, width=0.0025, headwidth=4, headlength=4,
                  headaxislength=3.5, alpha=0.8)
        ax.add_patch(Rectangle((-1, -1), 2, 2, fill=False, ls=":", color="k", lw=0.8))  # start
        self.cloud = ax.scatter(np.zeros(n_particles), np.zeros(n_particles), s=5,
                                color="tab:orange", label=tr("particles"), linewidths=0)
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), aspect="equal")
        ax.legend(fontsize=7, loc="upper right")
        ax.tick_params(labelsize=7)
        self.axes = ax
        fig.tight_layout()
        super().__init__(fig, static)
        self.step = control("IntSlider", value=num_steps, min=0, max=num_steps,
                            description=tr("step"), continuous_update=True)
        self.eta = control("FloatLogSlider", value=eta, base=10, min=-4, max=-0.5, step=0.05,
                           description="eta", readout_format=".4f", continuous_update=False)
        self.num_steps = control("IntSlider", value=num_steps, min=10, max=2000, step=10,
                                 description=tr("steps"), continuous_update=False)
        self.controls = [self.step, self.eta, self.num_steps]
        if has_widgets():
            import ipywidgets as W

            self.play = W.Play(value=num_steps, min=0, max=num_steps, step=max(1, num_steps // 50),
                               interval=100)  # jslink copies the play value to the step first
            W.jslink((self.play, "value"), (self.step, "value"))
            W.jslink((self.play, "max"), (self.step, "max"))
            self.controls.insert(0, self.play)
        self.animated = [self.cloud, self.axes.title]
        self._syncing = False
        self.step.observe(lambda change: self._syncing or self.update(), names="value")
        self.eta.observe(self._rerun, names="value")
        self.num_steps.observe(self._rerun, names="value")
        self._finish()

    def trajectory(self, eta: float | None = None, num_steps: int | None = None) -> np.ndarray:
        """Positions ``(num_steps + 1, n_particles, 2)``: the start, then after each step."""
        eta = round(float(self.eta.value if eta is None else eta), 8)
        steps = int(self.num_steps.value if num_steps is None else num_steps)
        if (eta, steps) not in self._runs:
            if len(self._runs) >= self.max_runs:
                self._runs.pop(next(iter(self._runs)))
            self._runs[(eta, steps)] = self._sample(eta, steps)
        return self._runs[(eta, steps)]

    def _sample(self, eta: float, steps: int) -> np.ndarray:
        g = torch.Generator().manual_seed(self.seed)
        x = (2 * torch.rand((self.n_particles, 2), generator=g) - 1).to(self.device, self.dtype)
        out = np.empty((steps + 1, self.n_particles, 2), dtype=np.float32)
        out[0] = numpy(x)
        with torch.no_grad(), torch.random.fork_rng(devices=[]), _one_thread():
            torch.manual_seed(self.seed)  # for a langevin_dynamics without a generator argument
            for k in range(steps):  # one step per call, to record the path
                kwargs = {"generator": g} if self._takes_generator and x.device == g.device else {}
                x = self.matcher.langevin_dynamics(x, 1, eta, **kwargs)
                out[k + 1] = numpy(x)
        return out

    def _rerun(self, change=None) -> None:
        steps = int(self.num_steps.value)
        self.trajectory()
        self._syncing = True
        try:
            if getattr(self, "play", None) is not None:
                self.play.max = steps
                self.play.step = max(1, steps // 50)
            self.step.max = steps
            self.step.value = steps
        finally:
            self._syncing = False
        self.update()

    def key(self):
        return round(float(self.eta.value), 8), int(self.num_steps.value), int(self.step.value)

    def compute(self) -> np.ndarray:
        return self.trajectory()[min(int(self.step.value), int(self.num_steps.value))]

    def draw(self, particles: np.ndarray) -> None:
        self.particles = particles
        self.cloud.set_offsets(particles)
        self.distance = float(self.tree.query(particles)[0].mean())
        if not hasattr(self, "start_distance"):  # the start is the same for every run
            self.start_distance = float(self.tree.query(self.trajectory()[0])[0].mean())
        start = self.start_distance
        self.axes.set_title(tr("Langevin step {step} of {steps}, eta = {eta:.4f}", step=self.step.value,
                               steps=self.num_steps.value, eta=self.eta.value), fontsize=9)
        self.label_text = tr("step {step} of {steps} (eta {eta:.4f}): mean distance to the nearest data "
                             "point {distance:.3f} (start {start:.3f})", step=self.step.value,
                             steps=self.num_steps.value, eta=self.eta.value, distance=self.distance, start=start)


def explore_langevin(matcher, data, eta: float = 0.01, num_steps: int = 200,
                     n_particles: int = 500, seed: int = 0, static: bool = False) -> LangevinView:
    """Scrub Langevin sampling of ``matcher`` over 2-D ``data`` (N, 2): a step slider from the
    ``U[-1, 1]^2`` start to the final samples, the score field as arrows, and ``eta`` /
    number-of-steps sliders that rerun the sampling (runs are cached)."""
    return LangevinView(matcher, data, eta, num_steps, n_particles, seed, static=static)
