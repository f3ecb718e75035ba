"""Assignment 1: WGAN-GP anomalies in the winter stratosphere, one module per stage.

- ``dataset``: ``DS``, the memory-mapped course dataset.
- ``wgan``: generator, critic and gradient penalty of WGAN-GP.
- ``training``: the WGAN-GP training loop with checkpoints and resume.
- ``latent``: samplers of the latent space (sphere, ball, inner/outer split, chi quantile).
- ``classifier``: the normal-vs-anomalous classifier trained on generated states.
- ``detection``: scoring a dataset, thresholds, baselines and metrics.
- ``detectors``: the pipeline's detector stage (classifier, critic, inversion, f-AnoGAN).
- ``state_features``: what the classifier separates, in plain circulation descriptors.
- ``exercises``: the notebook's reference solutions (``DS``, ``Generator``, ``train_model``, the samplers,
  ``train_classifier``, ...), generated from ``source/wgan_anomalies/wgan_anomalies.ipynb``: what the
  student writes and the grader checks, importable for benches and scripts.
- ``pipeline``, ``report``: the main job, make-data -> WGAN-GP -> classifier -> detection -> report.
"""
