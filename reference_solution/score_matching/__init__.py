"""Assignment 2: denoising score matching and Langevin sampling on two moons.

- ``denoising``: the score network, the denoising score-matching loss, Langevin sampling, the
  two-moons data and the sample-quality distance (the graded exercises).
- ``annealed_langevin``: noise-conditional scores and annealed Langevin (Song & Ermon 2019), the
  assignment's extension.

The names of ``denoising`` are re-exported here: ``from reference_solution.score_matching import
generate_moons_data`` is what notebooks and grading preludes use.
"""

from .denoising import *  # noqa: F401,F403
from .denoising import __all__  # noqa: F401
