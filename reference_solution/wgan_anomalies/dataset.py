"""``DS``, the course dataset: memory-mapped pv and gh fields, masked, one day per item.

One item is a ``(2, S, S)`` float32 tensor: channel 0 = potential vorticity (pv), channel 1 =
geopotential height (gh), both multiplied by the ``S x S`` mask. (The seed's hint of
``[1, 2, 256, 256]`` contradicts its own plotting code; the kit uses ``(2, S, S)`` and a
``DataLoader`` adds the batch axis.)

The data files are opened with ``np.load(..., mmap_mode="r")``: a file of several GB is never
read whole, each item copies one day out of the memory map and then unmaps that day's pages,
so the process's resident memory stays flat over an epoch. The maps are not pickled; a worker
process of a ``DataLoader`` reopens them on first access.

This module is course support code: it is copied next to student notebooks, so it imports only
numpy, torch, the standard library and sibling support modules (relatively).
"""

from __future__ import annotations

import mmap
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..coursekit.course_files import find_course_files

__all__ = ["DS", "DataFileError"]

_SCAN_CHUNK = 64  # days per read when scanning a whole file for NaN/inf


class DataFileError(ValueError):
    """A course data file exists but does not hold what the dataset expects."""

    def __init__(self, path: str | Path, message: str):
        self.path = Path(path)
        super().__init__(f"{self.path}: {message}")


def _open_npy(path: Path, role: str, mmap: bool) -> np.ndarray:
    """Open one ``.npy`` file (memory-mapped if ``mmap``) with a message naming it on failure."""
    if not path.exists():
        raise FileNotFoundError(f"{role} file {path} does not exist; expected a .npy file")
    if not path.is_file():
        raise DataFileError(path, f"expected the {role} .npy file, found a folder or special file")
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DataFileError(path, f"cannot read the {role} file as a .npy array ({err}); "
                                  "expected a file written by numpy.save") from err
    if not isinstance(array, np.ndarray):  # np.load returns an NpzFile for .npz archives
        raise DataFileError(path, f"expected a single .npy array for {role}, found an .npz archive")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
            or array.dtype == np.bool_):
        raise DataFileError(path, f"expected real numbers for {role}, found dtype {array.dtype}")
    return array


def _release_pages(array: np.ndarray, index: int) -> None:
    """Unmap the pages of day ``index`` from this process once it has been copied.

    Without this, every page read stays mapped and the process's resident memory (RSS) grows to
    the file's size over one epoch: harmless page cache that the kernel may reclaim, but it looks
    like the whole file was loaded and counts against memory limits. Best effort: only for
    C-ordered maps on systems with ``madvise``; the page cache itself is untouched.
    """
    mm = getattr(array, "_mmap", None)
    if mm is None or not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    if not array.flags.c_contiguous:
        return
    day_bytes = array.strides[0]
    start = array.offset % mmap.ALLOCATIONGRANULARITY + index * day_bytes  # within the map
    first = start - start % mmap.PAGESIZE
    try:
        mm.madvise(mmap.MADV_DONTNEED, first, start + day_bytes - first)
    except (OSError, ValueError):
        pass


class DS(Dataset):
    """The course dataset: ``len(ds)`` days, each a masked ``(2, S, S)`` float32 tensor.

    Args:
        pv_fname: ``N x S x S`` potential vorticity, scaled to [0, 1].
        gh_fname: ``N x S x S`` geopotential height, same shape as pv.
        mask_fname: ``S x S`` mask, 1 inside the 40N disk and 0 outside.
        transform: applied to each masked ``(2, S, S)`` tensor, if given.
        check_finite: scan both data files (in chunks) for NaN/inf at creation. Off by default
            because it reads the whole files; each item is checked on access anyway.

    Attributes:
        mask: ``(S, S)`` float32 tensor.
        size: the grid size ``S``.
        shape: ``(N, 2, S, S)``, the shape of the whole dataset stacked.
    """

    def __init__(self, pv_fname: str | Path, gh_fname: str | Path, mask_fname: str | Path,
                 transform: Callable[[torch.Tensor], Any] | None = None,
                 check_finite: bool = False):
        self.pv_path = Path(pv_fname)
        self.gh_path = Path(gh_fname)
        self.mask_path = Path(mask_fname)
        self.transform = transform
        self._pv: np.ndarray | None = None
        self._gh: np.ndarray | None = None
        self._open()
        pv, gh = self._pv, self._gh
        for path, array, role in ((self.pv_path, pv, "pv"), (self.gh_path, gh, "gh")):
            if array.ndim != 3:
                raise DataFileError(path, f"expected a 3-D {role} array N x S x S, found shape "
                                          f"{array.shape} ({array.ndim}-D)")
            if array.shape[1] != array.shape[2]:
                raise DataFileError(path, f"expected a square S x S grid for {role}, found "
                                          f"{array.shape[1]} x {array.shape[2]} (shape {array.shape})")
            if array.shape[0] == 0:
                raise DataFileError(path, f"expected at least one day of {role}, found shape {array.shape}")
        if pv.shape != gh.shape:
            raise DataFileError(self.gh_path, f"gh has shape {gh.shape} but pv ({self.pv_path.name}) "
                                              f"has shape {pv.shape}; expected the same N x S x S")
        n_days, size = pv.shape[0], pv.shape[1]
        mask = _open_npy(self.mask_path, "mask", mmap=False)
        if mask.shape != (size, size):
            raise DataFileError(self.mask_path, f"expected a mask of shape ({size}, {size}) to match "
                                                f"the data, found {mask.shape}")
        if not np.isfinite(mask).all():
            raise DataFileError(self.mask_path, f"the mask holds {int((~np.isfinite(mask)).sum())} "
                                                "NaN/inf values; expected finite values (0 or 1)")
        self._mask_np = mask.astype(np.float32)
        self.mask = torch.from_numpy(self._mask_np.copy())  # (S, S)
        self.size = size
        self.shape = (n_days, 2, size, size)
        if check_finite:
            self._scan_finite()

    @classmethod
    def from_folder(cls, data_dir: str | Path,
                    transform: Callable[[torch.Tensor], Any] | None = None,
                    check_finite: bool = False) -> DS:
        """The dataset of the course files in ``data_dir`` (see ``find_course_files``)."""
        files = find_course_files(data_dir)
        return cls(files.pv, files.gh, files.mask, transform=transform, check_finite=check_finite)

    def _open(self) -> None:
        self._pv = _open_npy(self.pv_path, "pv", mmap=True)
        self._gh = _open_npy(self.gh_path, "gh", mmap=True)

    def _scan_finite(self) -> None:
        for path, array, role in ((self.pv_path, self._pv, "pv"), (self.gh_path, self._gh, "gh")):
            for start in range(0, len(array), _SCAN_CHUNK):
                bad = ~np.isfinite(np.asarray(array[start:start + _SCAN_CHUNK]))
                if bad.any():
                    day = start + int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0])
                    raise DataFileError(path, f"{role} day {day} holds NaN/inf values; expected "
                                              "finite values in [0, 1]")

    def __len__(self) -> int:
        return self.shape[0]

    def _check_index(self, index: Any) -> int:
        if isinstance(index, torch.Tensor) and index.numel() == 1 and not index.is_floating_point():
            index = index.item()
        if isinstance(index, (bool, np.bool_)):
            raise TypeError(f"dataset index must be an integer, found {type(index).__name__}")
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"dataset index must be an integer, found {type(index).__name__}") from None
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {n} days in {self.pv_path.name}; "
                             f"expected 0 <= index < {n}")
        return i % n

    def __getitem__(self, index: int) -> Any:
        i = self._check_index(index)
        if self._pv is None:  # reopened lazily in a worker process after unpickling
            self._open()
        item = np.empty(self.shape[1:], dtype=np.float32)  # (2, S, S)
        item[0] = self._pv[i]  # copies one day out of the memory map
        item[1] = self._gh[i]
        _release_pages(self._pv, i)
        _release_pages(self._gh, i)
        if not np.isfinite(item).all():
            ch = 0 if not np.isfinite(item[0]).all() else 1
            path, role = (self.pv_path, "pv") if ch == 0 else (self.gh_path, "gh")
            raise DataFileError(path, f"{role} day {i} holds NaN/inf values; expected finite "
                                      "values in [0, 1]")
        item *= self._mask_np
        x = torch.from_numpy(item)
        return self.transform(x) if self.transform is not None else x

    def __getstate__(self) -> dict:
        # A pickled memmap would carry the whole file; workers reopen the maps instead.
        state = self.__dict__.copy()
        state["_pv"] = state["_gh"] = None
        return state

    def __repr__(self) -> str:
        return (f"DS({len(self)} days of {self.size}x{self.size}, pv={self.pv_path.name}, "
                f"gh={self.gh_path.name}, mask={self.mask_path.name})")
