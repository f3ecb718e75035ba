"""Assignment 2: denoising score matching and Langevin sampling on two moons.

- ``denoising``: the score network, the denoising score-matching loss, Langevin sampling and the
  two-moons data (the graded exercises).
- ``annealed_langevin``: noise-conditional scores and annealed Langevin (Song & Ermon 2019), the
  assignment's extension.

The names of ``denoising`` and the measures of ``coursekit.moons_quality`` (how well samples
reproduce the moons: what the sampling check and the notebook's visible test judge) are
re-exported here: ``from
reference_solution.score_matching import generate_moons_data`` is what notebooks and grading
preludes use.
"""

from ..coursekit.moons_quality import (  # noqa: F401
    MIN_MOON_SHARE,
    MOONS_DISTANCE_THRESHOLD,
    moon_shares,
    moons_distance,
    uniform_cloud,
)
from .denoising import *  # noqa: F401,F403
from .denoising import __all__ as _denoising_names

__all__ = [*_denoising_names, "moons_distance", "moon_shares", "uniform_cloud",
           "MOONS_DISTANCE_THRESHOLD", "MIN_MOON_SHARE"]
