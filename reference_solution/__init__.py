"""Instructor package of the generative-models course: reference solutions, data and grading.

Modules, one concept each:

- ``stratosphere``: the synthetic 10 hPa winter stratosphere (course files + ground truth).
- ``dataset``: ``DS``, the memory-mapped course dataset.
- ``wgan``: generator, critic and gradient penalty of WGAN-GP.
- ``training``: the WGAN-GP training loop with checkpoints and resume.
- ``latent``: samplers of the latent space (sphere, ball, inner/outer split, chi quantile).
- ``classifier``: the normal-vs-anomalous classifier trained on generated states.
- ``detection``: scoring a dataset, thresholds, baselines and metrics.
- ``metrics``: sample-quality distances shared by both assignments.
- ``pipeline``: the main job, make-data -> WGAN-GP -> classifier -> detection -> report.
- ``score_matching``: denoising score matching and Langevin sampling on two moons.
"""

__version__ = "0.1.0"
