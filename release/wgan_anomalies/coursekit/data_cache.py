# GENERATED from reference_solution/coursekit/data_cache.py by `python -m reference_solution release`; edit the original
"""Synthetic course data made once and shared: one folder per grid size, winters and seed.

Every run of the notebook and every graded student would otherwise write the same files again
(7 MB at 32 px, 2.4 GB at 256 px). ``synthetic_course_files`` looks in the cache folder
(``$STRATO_DATA_CACHE``, default ``~/.cache/strato-course``) and writes the data there only when
it is missing, atomically (a half-written folder is never used). Under grading the cache is
read-only and made beforehand by the grader; where it cannot be written at all, the data go
into ``./data_synthetic_<size>`` instead.

This module is course support code: it is copied next to student notebooks.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .course_files import CourseFiles, find_course_files
from .synthetic_files import write_course_files

__all__ = ["CACHE_ENV", "cache_root", "synthetic_course_files"]

CACHE_ENV = "STRATO_DATA_CACHE"
COMPLETE = "complete"  # written last: the folder holds every file


def cache_root() -> Path:
    """The shared cache folder: ``$STRATO_DATA_CACHE`` or ``~/.cache/strato-course``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "strato-course")


def _complete(folder: Path) -> CourseFiles | None:
    if not (folder / COMPLETE).is_file():
        return None
    try:
        return find_course_files(folder)
    except (FileNotFoundError, ValueError):
        return None


def synthetic_course_files(size: int, winters: int, seed: int = 0, *, root: str | Path | None = None,
                           progress: bool = False) -> CourseFiles:
    """The synthetic course files for ``(size, winters, seed)``, made on first use."""
    root = Path(root) if root is not None else cache_root()
    folder = root / f"synthetic-{size}px-{winters}w-seed{seed}"
    found = _complete(folder)
    if found is not None:
        return found
    try:
        root.mkdir(parents=True, exist_ok=True)
        partial = root / f".{folder.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        write_course_files(partial, winters=winters, size=size, seed=seed, progress=progress)
        (partial / COMPLETE).write_text(f"size={size} winters={winters} seed={seed}\n")
    except OSError:  # a read-only cache (grading) or no home folder: keep the data here
        local = Path(f"data_synthetic_{size}")
        found = _complete(local)
        if found is None:
            write_course_files(local, winters=winters, size=size, seed=seed, progress=progress)
            (local / COMPLETE).write_text(f"size={size} winters={winters} seed={seed}\n")
            found = find_course_files(local)
        return found
    try:
        partial.rename(folder)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(partial, ignore_errors=True)
    found = _complete(folder)
    if found is None:
        raise RuntimeError(f"the synthetic data in {folder} are incomplete; delete the folder")
    return found
