"""Instructor package of the generative-models course: reference solutions, data and grading.

Modules, one concept each:

- ``stratosphere``: the synthetic 10 hPa winter stratosphere (course files + ground truth).
- ``warmings``: Charlton & Polvani (2007) sudden-warming detection and ``events.csv``.
- ``course_files``: names and discovery of the course data files.
- ``dataset``: ``DS``, the memory-mapped course dataset.
- ``wgan``: generator, critic and gradient penalty of WGAN-GP.
- ``training``: the WGAN-GP training loop with checkpoints and resume.
- ``latent``: samplers of the latent space (sphere, ball, inner/outer split, chi quantile).
- ``classifier``: the normal-vs-anomalous classifier trained on generated states.
- ``detection``: scoring a dataset, thresholds, baselines and metrics.
- ``metrics``: sample-quality distances shared by both assignments.
- ``pipeline``, ``report``: the main job, make-data -> WGAN-GP -> classifier -> detection -> report.
- ``plotting``, ``widgets``: figures and ipywidgets explorers (support code copied to students).
- ``score_matching``: denoising score matching and Langevin sampling on two moons.
- ``annealed_langevin``: noise-conditional scores and annealed Langevin (Song & Ermon 2019).
- ``grading``: the checks that hidden test cells call.
- ``course``, ``submissions``, ``autograde``, ``sandbox``: support-file sync, release generation,
  example submissions, and the hardened nbgrader autograder.
- ``cli``: ``python -m reference_solution make-data | pipeline | sync-support | release |
  autograde-demo``.
"""

__version__ = "0.1.0"
