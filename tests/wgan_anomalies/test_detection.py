"""Scoring in order, thresholds, the physics and PCA baselines, and the metrics."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import Dataset

from reference_solution.wgan_anomalies import detection


class IndexDataset(Dataset):
    """Item i is a constant image of value i/N, so an in-order scorer returns increasing scores."""

    def __init__(self, n=37, size=8):
        self.n, self.size = n, size

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((2, self.size, self.size), i / self.n)


class MeanLogit(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(10.0))

    def forward(self, x):
        return (self.w * (x.mean(dim=(1, 2, 3)) - 0.5)).reshape(-1, 1)


def test_score_dataset_keeps_dataset_order_and_returns_probabilities():
    scores = detection.score_dataset(MeanLogit(), IndexDataset(), batch_size=5, progress=False)
    assert scores.shape == (37,)
    assert np.all(np.diff(scores) > 0) and np.all((scores > 0) & (scores < 1))


def test_threshold_and_indices():
    scores = np.linspace(0, 1, 101)
    t = detection.threshold_for_rate(scores, 0.1)
    assert detection.idx_anomalies(scores, t).tolist() == list(range(91, 101))
    with pytest.raises(ValueError):
        detection.threshold_for_rate(scores, 1.5)


def test_latitude_grid_has_the_pole_at_the_centre_and_40N_at_the_edge():
    lat = detection.latitude_grid(65)
    assert lat[32, 32] == pytest.approx(90.0)
    assert lat[32, 0] == pytest.approx(40.0, abs=1.0)
    assert lat[32, 16] > lat[32, 8] > lat[32, 0]


def _fields(n=60, size=32, seed=0):
    rng = np.random.default_rng(seed)
    lat = detection.latitude_grid(size)
    gh = np.clip(0.3 + 0.5 * (90 - lat) / 50 + 0.02 * rng.standard_normal((n, size, size)), 0, 1)
    return gh.astype(np.float32), lat


def test_polar_cap_and_wind_index_rise_when_the_polar_cap_warms():
    gh, lat = _fields()
    warm = gh.copy()
    warm[7] += 0.4 * (lat > 60)  # raised polar heights: weaker, easterly flow at 60N
    for index in (detection.polar_cap_index, detection.wind_index):
        values = index(warm)
        assert int(np.argmax(values)) == 7


def test_pca_error_is_largest_for_the_odd_day():
    # Days vary along three smooth modes; day 11 adds a pattern outside them. The modes carry
    # far more variance than the one odd day, so a 3-component PCA keeps them, not the outlier.
    rng = np.random.default_rng(1)
    n, size = 300, 16
    modes = rng.random((3, 2, size, size))
    days = 0.5 + 0.1 * np.einsum("nk,kcij->ncij", rng.standard_normal((n, 3)), modes)
    days += 0.002 * rng.standard_normal(days.shape)
    days[11] += 0.05 * rng.standard_normal((2, size, size))
    errors = detection.pca_error(days[:, 0], days[:, 1], n_components=3)
    assert int(np.argmax(errors)) == 11


def test_detection_metrics_on_known_cases():
    truth = np.array([0, 0, 0, 1, 1], bool)
    perfect = detection.detection_metrics(truth, np.array([0.1, 0.2, 0.3, 0.8, 0.9]), 0.5)
    assert perfect["roc_auc"] == 1.0 and perfect["precision"] == 1.0 and perfect["recall"] == 1.0
    inverted = detection.detection_metrics(truth, np.array([0.9, 0.8, 0.7, 0.2, 0.1]), 0.5)
    assert inverted["roc_auc"] == 0.0 and inverted["recall"] == 0.0
    none = detection.detection_metrics(np.zeros(5, bool), np.linspace(0, 1, 5), 0.5)
    assert none["roc_auc"] is None
    with pytest.raises(ValueError, match="NaN"):
        detection.detection_metrics(truth, np.array([np.nan, 0, 0, 1, 1]), 0.5)


def test_pca_mahalanobis_is_the_standardised_distance_and_finds_the_extreme_day():
    # Fitted on all days, each squared standardised coefficient averages (n - 1) / n exactly.
    rng = np.random.default_rng(2)
    n, size = 400, 8
    modes = rng.random((3, 2, size, size))
    coeffs = rng.standard_normal((n, 3)) * np.array([3.0, 1.0, 0.3])
    days = 0.5 + 0.05 * np.einsum("nk,kcij->ncij", coeffs, modes)
    d = detection.pca_mahalanobis(days[:, 0], days[:, 1], n_components=3, fit_days=n)
    assert d.mean() == pytest.approx(3 * (n - 1) / n, rel=1e-6)
    # An extreme value of the weakest mode: small in pixels (PCA error blind to it), far in law.
    days[5] = 0.5 + 0.05 * np.einsum("k,kcij->cij", np.array([0.0, 0.0, 2.0]), modes)
    d = detection.pca_mahalanobis(days[:, 0], days[:, 1], n_components=3, fit_days=n)
    assert int(np.argmax(d)) == 5
