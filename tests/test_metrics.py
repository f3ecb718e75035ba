"""Oracle tests of the sample-quality distances."""

import math

import pytest
import torch

from reference_solution import metrics


def test_sliced_wasserstein_is_zero_for_identical_sets_and_positive_otherwise():
    x = torch.randn(500, 6, generator=torch.Generator().manual_seed(1))
    assert metrics.sliced_wasserstein(x, x) == pytest.approx(0.0, abs=1e-12)
    assert metrics.sliced_wasserstein(x, x + 1.0) > 0.5


def test_sliced_wasserstein_of_a_shift_matches_its_closed_form():
    # Projecting a shift c*1 on a uniform direction theta moves every quantile by c*<1, theta>,
    # so SW1 = c * E|<1, theta>|; in 2-D, E|cos + sin| = E|sqrt(2) sin| = 2 sqrt(2) / pi.
    x = torch.randn(4000, 2, generator=torch.Generator().manual_seed(2))
    c = 0.7
    expected = c * 2 * math.sqrt(2) / math.pi
    assert metrics.sliced_wasserstein(x, x + c, n_projections=4000) == pytest.approx(expected, rel=0.03)


def test_sliced_wasserstein_compares_sets_of_different_sizes():
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(300, 4, generator=g), torch.randn(700, 4, generator=g)
    assert metrics.sliced_wasserstein(a, b) < 0.15
    with pytest.raises(ValueError, match="differ in size"):
        metrics.sliced_wasserstein(a, torch.randn(10, 5))


def test_energy_distance_separates_laws():
    g = torch.Generator().manual_seed(4)
    same = metrics.energy_distance(torch.randn(800, 3, generator=g), torch.randn(800, 3, generator=g))
    shifted = metrics.energy_distance(torch.randn(800, 3, generator=g), 1 + torch.randn(800, 3, generator=g))
    assert abs(same) < 0.05 < shifted


def test_diversity_ratio_detects_mode_collapse():
    g = torch.Generator().manual_seed(5)
    real = torch.randn(200, 2, 4, 4, generator=g)
    collapsed = real[:1].repeat(200, 1, 1, 1) + 1e-3 * torch.randn(200, 2, 4, 4, generator=g)
    assert metrics.diversity_ratio(collapsed, real) < 0.01
    assert metrics.diversity_ratio(real.flip(0), real) == pytest.approx(1.0)


def test_masked_channel_stats_ignore_pixels_outside_the_mask():
    x = torch.zeros(10, 2, 4, 4)
    x[:, 0] = 0.25
    x[:, 1] = 0.75
    x[:, :, 0, 0] = 100.0  # outside the mask: must not count
    mask = torch.ones(4, 4)
    mask[0, 0] = 0
    mean, std = metrics.masked_channel_stats(x, mask)
    assert mean.tolist() == pytest.approx([0.25, 0.75])
    assert std.tolist() == pytest.approx([0.0, 0.0])
