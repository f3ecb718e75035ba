# GENERATED from reference_solution/coursekit/widgets.py by `python -m reference_solution release`; edit the original
"""Interactive views of data and trained models, each one call: ``explore_dataset(ds)``.

- ``explore_dataset(ds, events=None)``: day slider, one-day buttons and date picker over pv and gh, and on
  synthetic data the ground truth and the wind at 60N (``explorers_data``).
- ``explore_anomalies(scores, dataset=None, truth=None, threshold=0.5)``: score histogram,
  threshold slider, counts, galleries, precision / recall / ROC (``explorers_anomalies``).
- ``explore_latent(generator, mask=None, quantile=0.98, seed=0)``: norm slider along a latent
  direction, ``G(z)`` live, normal or anomalous, a strip along the ray (``explorers_models``).
- ``explore_langevin(matcher, data, eta=0.01, num_steps=200, n_particles=500, seed=0)``: step
  slider over the particle cloud, score field, ``eta`` and step sliders (``explorers_models``).

Each returns a view: its controls (``.day``, ``.threshold``, ``.norm``, ``.step`` ...) are
ipywidgets whose ``.value`` can be set from code, ``.figure`` is the matplotlib figure shown,
``.label`` the text under it, ``.widget`` the box a notebook displays. The figure is rendered
to PNG bytes in an ``ipywidgets.Image``; frames are cached, so revisiting a value is instant.

Without ipywidgets or a kernel the views degrade to static frames (see ``views``).

Course support code: copied next to student notebooks, so it imports only numpy, scipy, torch,
matplotlib, ipywidgets, scikit-learn, the standard library and sibling support modules. Models
and datasets are duck-typed; nothing here imports a solution module.
"""

from .explorers_anomalies import explore_anomalies
from .explorers_data import explore_dataset
from .explorers_models import explore_langevin, explore_latent
from .views import View, encode_png, frontend_problem

__all__ = ["explore_dataset", "explore_anomalies", "explore_latent", "explore_langevin",
           "frontend_problem", "View", "encode_png"]
