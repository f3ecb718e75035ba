# GENERATED from reference_solution/coursekit/course_files.py by `python -m reference_solution release`; edit the original
"""Names and discovery of the course's data files (the original format, real or synthetic).

The original course ships three files: ``pv_data_projected_all.normed01.npy`` and
``hgt_data_projected_all.normed01.npy`` (each ``N x S x S`` float32 in [0, 1]) and
``mask_<S>.npy`` (``S x S``, 1 inside the 40N disk). The synthetic generator writes the same
three plus ``events.csv`` with the ground truth the real files lack.

This module is course support code: it is copied next to student notebooks, so it imports
nothing from solution modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PV_FILE = "pv_data_projected_all.normed01.npy"
GH_FILE = "hgt_data_projected_all.normed01.npy"
EVENTS_FILE = "events.csv"


def mask_file(size: int) -> str:
    """File name of the mask for an ``size x size`` grid, e.g. ``mask_256.npy``."""
    return f"mask_{size}.npy"


@dataclass(frozen=True)
class CourseFiles:
    """Paths of one course data set."""

    pv: Path  # potential vorticity, N x S x S
    gh: Path  # geopotential height, N x S x S
    mask: Path  # S x S, 1 inside the 40N disk
    events: Path | None  # per-day ground truth; None for the real course files

    @property
    def has_ground_truth(self) -> bool:
        return self.events is not None


def find_course_files(data_dir: str | Path) -> CourseFiles:
    """Locate the course files in ``data_dir``; raise a message naming what is missing."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data folder {data_dir} does not exist; expected a folder "
                                f"holding {PV_FILE}, {GH_FILE} and mask_<size>.npy")
    missing = [name for name in (PV_FILE, GH_FILE) if not (data_dir / name).is_file()]
    masks = sorted(p for p in data_dir.glob("mask_*.npy") if re.fullmatch(r"mask_\d+\.npy", p.name))
    if not masks:
        missing.append("mask_<size>.npy")
    if missing:
        raise FileNotFoundError(f"{data_dir} lacks {', '.join(missing)}; expected the course files "
                                f"{PV_FILE}, {GH_FILE} and mask_<size>.npy")
    if len(masks) > 1:
        raise ValueError(f"{data_dir} holds several masks ({', '.join(p.name for p in masks)}); "
                         "keep the one that matches the data")
    events = data_dir / EVENTS_FILE
    return CourseFiles(data_dir / PV_FILE, data_dir / GH_FILE, masks[0],
                       events if events.is_file() else None)
