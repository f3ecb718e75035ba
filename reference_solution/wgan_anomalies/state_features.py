"""Physical descriptors of stratospheric states: what a detector could be looking at.

A state is ``(2, S, S)`` (pv, gh) on the course's polar-stereographic grid (pole at the centre,
40N on the inscribed circle), both fields scaled to [0, 1]. The descriptors, one number a state:

- ``pv_contrast``, ``gh_contrast``: standard deviation of each field inside the mask. A strong,
  sharp-edged vortex has high contrast; a disturbed one lower.
- ``wave1``, ``wave2``: amplitudes of zonal wavenumbers 1 and 2 of gh on the 60N circle,
  ``|c_m| = 2 |sum_k gh(lambda_k) exp(-i m lambda_k)| / K`` over ``K`` equally spaced longitudes
  (bilinear interpolation). Displacements amplify wave 1, splits wave 2.
- ``vortex_strength``: mean gh 5 degrees south of 60N minus 5 degrees north of it, the height drop
  across 60N, which is proportional to the geostrophic zonal-mean westerly wind there
  (``u = -(g / f a) dZ/dphi``). The scaling to [0, 1] is a positive affine map of the height,
  so the sign survives it: ``vortex_strength < 0`` means an easterly wind at 60N, the
  Charlton & Polvani (2007) criterion of a sudden warming.
- ``easterly``: ``vortex_strength < 0`` as 0/1.

Course support code (the optional detector section of the notebook uses it): numpy and scipy only.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..coursekit.baselines import latitude_grid  # one grid for the descriptors and the baselines

__all__ = ["FEATURES", "latitude_grid", "ring_values", "wave_amplitudes", "vortex_strength",
           "state_features"]

FEATURES = ("pv_contrast", "gh_contrast", "wave1", "wave2", "vortex_strength", "easterly")
EDGE_LAT = 40.0  # latitude on the inscribed circle of the grid


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _radius_of(lat: float) -> float:
    """Stereographic radius of latitude ``lat`` in units of the 40N radius."""
    return math.tan(math.radians(90.0 - lat) / 2) / math.tan(math.radians(90.0 - EDGE_LAT) / 2)


def ring_values(fields, lat: float = 60.0, n_lon: int = 64) -> np.ndarray:
    """Bilinear samples of ``fields`` ``(N, S, S)`` on the circle of latitude ``lat`` -> ``(N, K)``."""
    f = _numpy(fields)
    if f.ndim != 3 or f.shape[1] != f.shape[2]:
        raise ValueError(f"expected fields of shape (N, S, S), found {f.shape}")
    size = f.shape[-1]
    c = (size - 1) / 2
    r = _radius_of(lat) * size / 2
    lam = 2 * np.pi * np.arange(n_lon) / n_lon
    rows, cols = c - r * np.sin(lam), c + r * np.cos(lam)
    out = np.empty((len(f), n_lon))
    for i, day in enumerate(f):
        out[i] = ndimage.map_coordinates(day, [rows, cols], order=1, mode="nearest")
    return out


def wave_amplitudes(gh, lat: float = 60.0, waves: tuple[int, ...] = (1, 2),
                    n_lon: int = 64) -> dict[int, np.ndarray]:
    """Amplitude of each zonal wavenumber ``m`` of ``gh`` ``(N, S, S)`` on the ``lat`` circle."""
    ring = ring_values(gh, lat, n_lon)  # (N, K)
    coeffs = np.fft.rfft(ring, axis=1) / n_lon  # (N, K/2 + 1)
    return {m: 2 * np.abs(coeffs[:, m]) for m in waves}


def _band_means(gh: np.ndarray, weights: np.ndarray) -> np.ndarray:
    w = weights / weights.sum()
    return np.tensordot(gh, w, axes=([1, 2], [0, 1]))


def vortex_strength(gh, mask=None, lat: float = 60.0, half_width: float = 5.0) -> np.ndarray:
    """Mean gh in ``[lat - half_width, lat)`` minus in ``[lat, lat + half_width)`` -> ``(N,)``.

    Positive: height falls towards the pole across ``lat``, a westerly wind; negative: easterly.
    """
    g = _numpy(gh)
    lats = latitude_grid(g.shape[-1])
    inside = np.ones_like(lats, bool) if mask is None else _numpy(mask) > 0.5
    south = ((lats >= lat - half_width) & (lats < lat) & inside).astype(float)
    north = ((lats >= lat) & (lats < lat + half_width) & inside).astype(float)
    if south.sum() == 0 or north.sum() == 0:
        raise ValueError(f"no pixel within {half_width} degrees of {lat}N on a {g.shape[-1]} px grid")
    return _band_means(g, south) - _band_means(g, north)


def state_features(states, mask=None) -> dict[str, np.ndarray]:
    """Every descriptor of ``FEATURES`` for ``states`` ``(N, 2, S, S)`` -> ``{name: (N,)}``."""
    x = _numpy(states)
    if x.ndim != 4 or x.shape[1] != 2:
        raise ValueError(f"expected states of shape (N, 2, S, S), found {x.shape}")
    inside = np.ones(x.shape[-2:], bool) if mask is None else _numpy(mask) > 0.5
    waves = wave_amplitudes(x[:, 1])
    strength = vortex_strength(x[:, 1], inside)
    return {"pv_contrast": x[:, 0][:, inside].std(axis=1),
            "gh_contrast": x[:, 1][:, inside].std(axis=1),
            "wave1": waves[1], "wave2": waves[2],
            "vortex_strength": strength,
            "easterly": (strength < 0).astype(np.float64)}
