"""What students receive beside their notebooks: data, plotting, interactive views, detectors.

Written once here and copied into ``release/<assignment>/coursekit/`` when the release is
generated (``reference_solution.course.release``); never committed under ``source/``. It imports
nothing else of ``reference_solution``, only numpy, scipy, torch, matplotlib, ipywidgets,
scikit-learn, tqdm, the standard library and its own modules.

- ``course_files``: names, discovery and writing of the course data files.
- ``stratosphere``: the synthetic 10 hPa winter stratosphere (physics and ground truth).
- ``warmings``: Charlton & Polvani (2007) sudden-warming detection and ``events.csv``.
- ``data_cache``: one synthetic dataset per machine, generated on first use.
- ``moons``: the two-moons data of the score-matching assignment; ``moons_quality``: how well
  samples reproduce them (the sampling check's bars).
- ``baselines``: circulation indices (polar cap, zonal wind at 60N).
- ``comparison``: ROC-AUC, average precision and the detector table.
- ``critic_score``, ``inversion``, ``fanogan``: detectors built on a trained WGAN-GP.
- ``sample_distance``: the sliced Wasserstein distance of generated to real states.
- ``ema``: the running average of a generator's weights that the notebook samples from.
- ``plotting``: figures of states, histories and detections.
- ``views``: the base of the interactive views; ``explorers_data``, ``explorers_anomalies``,
  ``explorers_models``: the views; ``widgets``: their public entry points.
"""
