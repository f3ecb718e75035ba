"""Reference DSM, Langevin sampling and annealed Langevin on two moons: closed forms and budgets."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from reference_solution.score_matching import (
    MOONS_DISTANCE_THRESHOLD,
    DenoisingScoreMatcher,
    ScoreNet,
    moons_distance,
    moons_loaders,
    train_score_model,
)
from reference_solution.score_matching.annealed_langevin import (
    NoiseConditionalScoreNet,
    annealed_langevin,
    compare_single_and_annealed,
    geometric_sigmas,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Fixed(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn, self.w = fn, nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.fn(x)


@pytest.mark.parametrize("sigma", [0.1, 0.5])
def test_dsm_error_closed_form(sigma):
    m = DenoisingScoreMatcher(Fixed(lambda x: -x / (1 + sigma**2)), (2,), sigma)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(200_000, 2, generator=g)
    out = m(x, generator=torch.Generator().manual_seed(2))
    assert out.shape == x.shape
    assert float(out.double().mean()) == pytest.approx(1 / (sigma**2 * (1 + sigma**2)), rel=0.02)
    assert m.loss(x)["total_loss"].ndim == 0


@pytest.mark.parametrize("eta", [0.5, 1.5])
def test_langevin_stationary_variance(eta):
    m = DenoisingScoreMatcher(Fixed(torch.neg), (2,), 0.1)
    x = m.langevin_dynamics(torch.zeros(100_000, 2), 80, eta, generator=torch.Generator().manual_seed(3))
    assert float(x.double().var()) == pytest.approx(1 / (1 - eta / 4), rel=0.03)


def test_sample_shape_no_graph_and_generator_reproducible():
    m = DenoisingScoreMatcher(ScoreNet(3, 16), (3,), 0.1)
    a = m.sample(5, 4, 0.01, generator=torch.Generator().manual_seed(0))
    b = m.sample(5, 4, 0.01, generator=torch.Generator().manual_seed(0))
    assert a.shape == (5, 3) and a.grad_fn is None and not a.requires_grad
    assert torch.equal(a, b)
    assert m.sample(2).shape == (2, 3)  # the seed's positional interface


def test_training_converges_at_a_small_budget():
    torch.manual_seed(0)
    train_loader, test_loader = moons_loaders(5000, 256)
    m = DenoisingScoreMatcher(ScoreNet(2, 128), (2,), 0.2)
    opt = torch.optim.Adam(m.parameters(), lr=5e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, 0.97)
    hist = train_score_model(m, train_loader, test_loader, 60, opt, sched, progress=False)
    assert len(hist["train_losses"]) == len(hist["test_losses"]) == 60
    assert hist["train_losses"][-1] < hist["train_losses"][0]
    x = m.sample(2000, 1000, 0.01, generator=torch.Generator().manual_seed(1))
    assert moons_distance(x) < MOONS_DISTANCE_THRESHOLD


def test_annealed_step_sizes_follow_song_and_ermon():
    sigmas = geometric_sigmas(1.0, 0.1, 3)
    assert torch.allclose(sigmas, torch.tensor([1.0, math.sqrt(0.1), 0.1]))
    # Zero score: the variance added is sum_i T * alpha_i with alpha_i = eps sigma_i^2 / sigma_L^2.
    x = annealed_langevin(lambda x, s: torch.zeros_like(x), torch.zeros(100_000, 1), sigmas, 4,
                          1e-3, generator=torch.Generator().manual_seed(0))
    expected = 4 * 1e-3 * float((sigmas**2).sum()) / 0.1**2
    assert float(x.var()) == pytest.approx(expected, rel=0.03)
    net = NoiseConditionalScoreNet(2, 16)
    assert net(torch.zeros(5, 2), torch.full((5,), 0.5)).shape == (5, 2)


def test_compare_single_and_annealed_runs():
    r = compare_single_and_annealed(epochs=3, num_samples=300, score_evaluations=50, count=600)
    assert set(r) >= {"start_distance", "single_distance", "annealed_distance",
                      "single_upper_moon", "annealed_upper_moon"}
    assert all(math.isfinite(v) for v in r.values())
