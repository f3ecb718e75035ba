"""Physical descriptors against fields with known waves and winds, and against the ground truth."""

import math

import numpy as np
import pytest

from reference_solution.wgan_anomalies import detection
from reference_solution.wgan_anomalies.state_features import (
    latitude_grid,
    ring_values,
    state_features,
    vortex_strength,
    wave_amplitudes,
)


def _ring_radius(size, lat=60.0):
    return math.tan(math.radians(90 - lat) / 2) / math.tan(math.radians(25.0)) * size / 2


def test_latitude_grid_is_the_detection_grid():
    np.testing.assert_allclose(latitude_grid(33), detection.latitude_grid(33))


def test_a_linear_field_is_a_pure_wave_one_of_known_amplitude():
    size = 32
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    gh = 0.5 + 0.2 * (xx - c) / _ring_radius(size)  # on the 60N circle: 0.5 + 0.2 cos(lambda)
    ring = ring_values(gh[None])
    np.testing.assert_allclose(ring[0], 0.5 + 0.2 * np.cos(2 * np.pi * np.arange(64) / 64), atol=1e-9)
    waves = wave_amplitudes(gh[None])
    assert waves[1][0] == pytest.approx(0.2, abs=1e-9) and waves[2][0] == pytest.approx(0, abs=1e-9)


def test_a_quadratic_saddle_is_a_wave_two():
    size = 64
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    r = _ring_radius(size)
    gh = 0.5 + 0.1 * ((xx - c) ** 2 - (yy - c) ** 2) / r ** 2  # 0.1 cos(2 lambda) on the circle
    waves = wave_amplitudes(gh[None])
    assert waves[2][0] == pytest.approx(0.1, rel=0.02) and waves[1][0] < 1e-3


def test_vortex_strength_is_westerly_for_a_polar_low_and_easterly_for_a_polar_high():
    lat = latitude_grid(32)
    low = 0.2 + 0.6 * (90 - lat) / 50  # heights fall towards the pole: westerly
    strength = vortex_strength(np.stack([low, 1 - low]))
    assert strength[0] > 0 > strength[1]
    assert strength[0] == pytest.approx(-strength[1])


def test_easterly_states_are_the_synthetic_days_with_an_easterly_wind():
    from reference_solution.coursekit.stratosphere import generate

    d = generate(winters=2, size=32, seed=3, progress=False)
    f = state_features(np.stack([d.pv, d.gh], 1), d.mask)
    assert set(f) == {"pv_contrast", "gh_contrast", "wave1", "wave2", "vortex_strength", "easterly"}
    assert np.mean((f["easterly"] > 0) == (d.u60 < 0)) > 0.98
    assert np.corrcoef(f["vortex_strength"], d.u60)[0, 1] > 0.99
    with pytest.raises(ValueError, match="N, 2, S, S"):
        state_features(np.zeros((3, 32, 32)))
