# GENERATED from reference_solution/coursekit/polar_grid.py by `python -m reference_solution release`; edit the original
"""The course grid: polar-stereographic pixels with the pole at the centre, 40N on the edge.

Geometry only (latitude, longitude, map factor, the 40N disk mask, the spherical Laplacian and
the Coriolis parameter), shared by the synthetic stratosphere and anything that needs latitudes
of pixels. Course support code: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EARTH_RADIUS = 6.371e6  # m
OMEGA = 7.292e-5  # rad/s, Earth's rotation
GRAVITY = 9.81  # m/s^2
F0 = 2 * OMEGA * np.sin(np.radians(60.0))  # Coriolis parameter at 60N, the QG reference
EDGE_LAT = 40.0  # latitude that touches the grid edge
_TAN_EDGE = np.tan(np.radians(90.0 - EDGE_LAT) / 2)  # stereographic radius of 40N on a unit sphere



@dataclass(frozen=True)
class Grid:
    """Pixel geometry of an ``S x S`` course grid (optionally padded by ``pad`` pixels)."""

    lat: np.ndarray  # (S+2p, S+2p) deg
    lon: np.ndarray  # (S+2p, S+2p) rad, 0 to the right (+column), pi/2 up (-row)
    radius: np.ndarray  # (S+2p, S+2p) distance from the pole in units of the disk radius
    map_factor: np.ndarray  # (S+2p, S+2p) k = sec^2(colat/2): grid length = k * sphere length
    spacing: float  # m, pixel size on the projection plane


def make_grid(size: int, pad: int = 0) -> Grid:
    """Polar-stereographic grid with the pole at the centre and 40N touching the edge."""
    offsets = (np.arange(-pad, size + pad) + 0.5 - size / 2) / (size / 2)
    x, y = np.meshgrid(offsets, -offsets)  # y grows upwards, i.e. against the row index
    radius = np.hypot(x, y)
    half_colat = np.arctan(radius * _TAN_EDGE)
    return Grid(lat=90.0 - np.degrees(2 * half_colat), lon=np.arctan2(y, x), radius=radius,
                map_factor=1.0 / np.cos(half_colat) ** 2,
                spacing=2 * EARTH_RADIUS * _TAN_EDGE / (size / 2))


def disk_mask(size: int) -> np.ndarray:
    """``(S, S)`` float32 mask, 1 where the pixel centre lies inside the 40N circle."""
    return (make_grid(size).radius <= 1.0).astype(np.float32)


def sphere_laplacian(z_padded: np.ndarray, size: int) -> np.ndarray:
    """Spherical Laplacian of ``(..., S+2, S+2)`` fields on the padded course grid -> ``(..., S, S)``.

    Stereographic projection is conformal, so the sphere's Laplacian is the plane's 5-point
    Laplacian times the squared map factor.
    """
    grid = make_grid(size)
    z = z_padded
    flat = (z[..., 2:, 1:-1] + z[..., :-2, 1:-1] + z[..., 1:-1, 2:] + z[..., 1:-1, :-2]
            - 4 * z[..., 1:-1, 1:-1]) / grid.spacing ** 2
    return flat * grid.map_factor ** 2


def coriolis(lat_deg: np.ndarray) -> np.ndarray:
    return 2 * OMEGA * np.sin(np.radians(lat_deg))
