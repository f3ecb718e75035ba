"""Sample quality on two moons: shape per moon and the moons' shares, against known clouds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reference_solution.coursekit.moons import moons_points
from reference_solution.coursekit.moons_quality import (
    LOST_DISTANCE,
    MIN_MOON_SHARE,
    MOONS_DISTANCE_THRESHOLD,
    lost_samples,
    moon_fraction,
    moon_shares,
    moons_distance,
    uniform_cloud,
)


def moons(count: int, upper_share: float = 0.5, blur: float = 0.0, seed: int = 7) -> np.ndarray:
    """``count`` fresh moons points (not the reference's), ``upper_share`` of them on the upper
    moon, each moved by Gaussian noise of scale ``blur`` (what a sigma-smoothed model samples)."""
    g = np.random.default_rng(seed)
    points, labels = moons_points(4 * count, noise=0.1, seed=seed)
    upper = int(round(upper_share * count))
    chosen = np.concatenate([points[labels == 0][:upper], points[labels == 1][:count - upper]])
    return chosen + blur * g.standard_normal(chosen.shape)


def test_fresh_moons_are_close_and_balanced():
    x = moons(2000)
    assert moons_distance(x) < 0.03
    assert moon_shares(x) == pytest.approx((0.5, 0.5), abs=0.02)
    assert moon_fraction(torch.from_numpy(x)) == pytest.approx(0.5, abs=0.02)


def test_a_lopsided_split_of_good_samples_costs_no_distance():
    # what a correct model often samples (Langevin mixes slowly between the moons)
    balanced, lopsided = moons(2000, 0.5, blur=0.2), moons(2000, 0.65, blur=0.2)
    assert moons_distance(lopsided) < moons_distance(balanced) + 0.02 < MOONS_DISTANCE_THRESHOLD / 2
    assert min(moon_shares(lopsided)) == pytest.approx(0.35, abs=0.03) and min(moon_shares(lopsided)) > MIN_MOON_SHARE


def test_one_moon_only_is_caught_by_the_shares():
    x = moons(2000, upper_share=1.0)
    assert moons_distance(x) < MOONS_DISTANCE_THRESHOLD
    assert min(moon_shares(x)) < MIN_MOON_SHARE


@pytest.mark.parametrize("name", ["uniform box hugging the data", "uniform cloud", "U[-1, 1] start",
                                  "Gaussian blob over the moons", "moons blurred by sigma = 0.7"])
def test_clouds_that_are_not_the_moons_are_far(name):
    g = np.random.default_rng(0)
    x = {"uniform box hugging the data": lambda: g.uniform([-1, -0.5], [2, 1], (2000, 2)),
         "uniform cloud": lambda: uniform_cloud(2000).numpy(),
         "U[-1, 1] start": lambda: g.uniform(-1, 1, (2000, 2)),
         "Gaussian blob over the moons": lambda: g.normal([0.5, 0.25], 0.5, (2000, 2)),
         "moons blurred by sigma = 0.7": lambda: moons(2000, blur=0.7)}[name]()
    assert moons_distance(x) > 1.2 * MOONS_DISTANCE_THRESHOLD


def test_runaway_and_non_finite_samples_are_lost_and_nothing_else():
    x = moons(2000, blur=0.2)
    assert not lost_samples(x).any()  # sigma-smoothed samples stay within reach
    x[:3] = [[1e8, -1e8], [np.inf, 0.0], [np.nan, np.nan]]
    x[3] = [0.5, 0.25 + 10 * LOST_DISTANCE]
    lost = lost_samples(x).numpy()
    assert lost[:4].all() and lost.sum() == 4


def test_bad_input():
    assert math.isinf(moons_distance(torch.full((10, 2), float("nan"))))
    assert math.isinf(moons_distance(np.zeros((0, 2))))  # nothing left to judge
    assert all(math.isnan(s) for s in moon_shares(np.full((10, 2), np.inf)))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        moons_distance(torch.zeros(10, 3))
