# GENERATED from reference_solution/coursekit/synthetic_files.py by `python -m reference_solution release`; edit the original
"""The synthetic stratosphere written as course files, memory-mapped one winter at a time.

``write_course_files`` produces the original course's three files (``PV_FILE``, ``GH_FILE``,
``mask_<S>.npy``) plus ``events.csv``; the arrays equal ``stratosphere.generate``'s bit for bit.
Course support code: numpy, the standard library, tqdm and sibling support modules.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .course_files import EVENTS_FILE, GH_FILE, PV_FILE, CourseFiles, mask_file
from .polar_grid import disk_mask
from .stratosphere import DAYS_PER_WINTER, StratosphereConfig, _Fields, _fill_scaled, _progress, winter_dates
from .warmings import write_events


def write_course_files(out_dir: str | Path, winters: int = 30, size: int = 64, seed: int = 0,
                       config: StratosphereConfig = StratosphereConfig(),
                       progress: bool = True) -> CourseFiles:
    """Write ``PV_FILE``, ``GH_FILE``, ``mask_<size>.npy`` and ``events.csv`` into ``out_dir``.

    Winter by winter into memory-mapped ``.npy`` files in physical units, tracking the min and
    max over the disk, then a second pass rescales in place one winter at a time, so 256 px x
    30+ winters (> 1 GB a file) never sits in memory. The arrays equal ``generate``'s. Files are
    written under ``.partial`` names and renamed at the end, so an interrupted run leaves no
    half-written course file behind.
    """
    if winters < 1:
        raise ValueError(f"winters must be at least 1; found {winters}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fields = _Fields(size, config)
    shape = (winters * DAYS_PER_WINTER, size, size)
    targets = [out_dir / GH_FILE, out_dir / PV_FILE]
    partial = [path.with_name(path.name + ".partial") for path in targets]
    gh, pv = (_FileWindows(path, shape) for path in partial)
    bar = _progress(progress, 2 * winters, f"writing {out_dir.name or out_dir}")
    parts, _ = _fill_scaled(gh, pv, winters, seed, config, fields, bar)
    bar.close()
    for source, target in zip(partial, targets):
        os.replace(source, target)
    mask_path = out_dir / mask_file(size)
    for stale in out_dir.glob("mask_*.npy"):  # a mask of another size would no longer match
        if stale != mask_path:
            stale.unlink()
    np.save(mask_path, disk_mask(size))
    events_path = out_dir / EVENTS_FILE
    write_events(events_path, np.concatenate([winter_dates(w, config) for w in range(winters)]),
                 np.concatenate([p.ssw for p in parts]), np.concatenate([p.central for p in parts]),
                 np.concatenate([p.event_type for p in parts]), np.concatenate([p.u60 for p in parts]))
    return CourseFiles(out_dir / PV_FILE, out_dir / GH_FILE, mask_path, events_path)


class _FileWindows:
    """A ``.npy`` file made by ``open_memmap``, opened one day-slice at a time.

    Each slice is its own short-lived map, so the process never maps (and never counts as
    resident) more than one winter of a multi-GB file.
    """

    def __init__(self, path: Path, shape: tuple[int, int, int]):
        header = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
        self.path, self.shape, self.offset = path, shape, header.offset
        del header

    def __getitem__(self, span: slice) -> np.memmap:
        frame = self.shape[1] * self.shape[2] * 4  # bytes per day
        return np.memmap(self.path, dtype=np.float32, mode="r+",
                         offset=self.offset + span.start * frame,
                         shape=(span.stop - span.start, *self.shape[1:]))
