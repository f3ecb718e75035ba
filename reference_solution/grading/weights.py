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


def _matrices(initial: dict[str, np.ndarray], trained: dict[str, np.ndarray]):
    """(initial, trained) of every weight matrix and kernel (ndim >= 2), flattened, float64."""
    for k, w0 in initial.items():
        if w0.ndim >= 2:
            yield w0.astype(np.float64).reshape(-1), trained[k].astype(np.float64).reshape(-1)


def descent(initial: dict[str, np.ndarray], trained: dict[str, np.ndarray]) -> float:
    """The smallest cosine similarity, over weight matrices and kernels, of trained and initial
    weights: training from the secret start keeps them alike, weights from anywhere else are not."""
    return min((float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-300))
                for a, b in _matrices(initial, trained)), default=1.0)


def stillness(initial: dict[str, np.ndarray], trained: dict[str, np.ndarray]) -> float:
    """The smallest relative change |W - W0| / |W0| over weight matrices and kernels: training
    moves every one (at least 2 % measured, even in one epoch at 256 px), fitting only biases and
    scales moves none."""
    return min((float(np.linalg.norm(b - a) / max(np.linalg.norm(a), 1e-300))
                for a, b in _matrices(initial, trained)), default=math.inf)
