# GENERATED from reference_solution/coursekit/moons.py by `python -m reference_solution release`; edit the original
"""The two-moons data of the score-matching assignment (scikit-learn's ``make_moons``).

Course support code: the notebook's data cell, the solutions and the grading all take their
moons from here.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_moons

__all__ = ["moons_points", "make_moons_data", "generate_moons_data"]


def moons_points(count: int, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` two-moons points ``(count, 2)`` float64 and their moon labels ``(count,)``."""
    return make_moons(n_samples=count, noise=noise, random_state=seed)


def make_moons_data(count: int, noise: float = 0.1, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two moons, float32: ``train_data (0.8 count, 2), train_labels, test_data, test_labels``."""
    points, labels = moons_points(count, noise, seed)
    points = points.astype("float32")
    split = int(0.8 * count)
    return points[:split], labels[:split], points[split:], labels[split:]


def generate_moons_data(count: int, seed: int = 0) -> tuple:
    """The seed's name and return order for :func:`make_moons_data` (noise 0.1)."""
    return make_moons_data(count, noise=0.1, seed=seed)
