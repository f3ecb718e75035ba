"""How weights that come back relate to the secret start the grader sent.

Training from the grader's secret initial weights keeps every weight matrix recognisably alike
(cosine similarity with its start) and moves every one of them; weights made anywhere else, or
only biases and scales fitted in closed form, do neither. The convergence and training checks of
both assignments ask both.
"""

from __future__ import annotations

import math

import numpy as np

MIN_MOVE = 1e-3  # smallest relative change of every weight matrix (the references: 0.02 and more)


def descent(initial: dict[str, np.ndarray], trained: dict[str, np.ndarray]) -> float:
    """The smallest cosine similarity, over weight matrices and kernels, of trained and initial
    weights: training from the secret start keeps them alike, weights from anywhere else are not."""
    worst = 1.0
    for k, w0 in initial.items():
        if w0.ndim >= 2:
            a, b = w0.astype(np.float64).reshape(-1), trained[k].astype(np.float64).reshape(-1)
            worst = min(worst, float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-300)))
    return worst


def stillness(initial: dict[str, np.ndarray], trained: dict[str, np.ndarray]) -> float:
    """The smallest relative change |W - W0| / |W0| over weight matrices and kernels: training
    moves every one (at least 2 % measured, even in one epoch at 256 px), fitting only biases and
    scales moves none."""
    least = math.inf
    for k, w0 in initial.items():
        if w0.ndim >= 2:
            a, b = w0.astype(np.float64).reshape(-1), trained[k].astype(np.float64).reshape(-1)
            least = min(least, float(np.linalg.norm(b - a) / max(np.linalg.norm(a), 1e-300)))
    return least


