# GENERATED from reference_solution/coursekit/baselines.py by `python -m reference_solution release`; edit the original
"""Field-only baselines: two circulation indices from the normalised height field.

- ``polar_cap_index``: mean height over the polar cap (north of 65N) minus the mean over the
  40-60N band. A warming raises polar heights and weakens the vortex, so high means anomalous.
- ``wind_index``: minus the height drop across 60N, a proxy of the geostrophic zonal-mean wind
  at 60N (the quantity that *defines* an SSW), from the normalised height field alone.

Numpy only (course support code: the notebook's detector comparison puts them beside the GAN
scores). ``detection`` re-exports them with the PCA baselines.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["latitude_grid", "polar_cap_index", "wind_index"]


def latitude_grid(size: int) -> np.ndarray:
    """Latitude (degrees) of every pixel of the polar-stereographic grid, 40N at the edge."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    rho = np.hypot(xx - c, yy - c) / (size / 2)  # 1 at the inscribed circle (40N)
    return 90.0 - 2.0 * np.degrees(np.arctan(rho * math.tan(math.radians(25.0))))


def _bands(size: int, mask: np.ndarray | None):
    lat = latitude_grid(size)
    inside = np.ones_like(lat, bool) if mask is None else np.asarray(mask) > 0.5
    return lat, inside


def _field_means(gh_files: np.ndarray, weights: np.ndarray, chunk: int = 512) -> np.ndarray:
    """``gh (N, S, S)`` memmap-friendly weighted means: one pass, ``chunk`` days at a time."""
    out = np.empty(len(gh_files))
    w = weights / weights.sum()
    for i in range(0, len(gh_files), chunk):
        out[i:i + chunk] = np.tensordot(np.asarray(gh_files[i:i + chunk], dtype=np.float64), w,
                                        axes=([1, 2], [0, 1]))
    return out


def polar_cap_index(gh: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Polar-cap (>65N) minus mid-latitude (40-60N) mean of normalised height, per day."""
    lat, inside = _bands(gh.shape[-1], mask)
    cap = _field_means(gh, ((lat > 65) & inside).astype(float))
    band = _field_means(gh, ((lat < 60) & inside).astype(float))
    return cap - band


def wind_index(gh: np.ndarray, mask: np.ndarray | None = None, half_width: float = 5.0) -> np.ndarray:
    """Height north of 60N minus south of it, in a ``half_width``-degree ring: high = easterly."""
    lat, inside = _bands(gh.shape[-1], mask)
    north = _field_means(gh, ((lat >= 60) & (lat < 60 + half_width) & inside).astype(float))
    south = _field_means(gh, ((lat < 60) & (lat >= 60 - half_width) & inside).astype(float))
    return north - south
