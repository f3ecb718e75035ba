"""DS: item shapes and masking, DataLoader batches, memory mapping, errors naming the file."""

from __future__ import annotations

import pickle
import sys
import tracemalloc

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from reference_solution.coursekit.course_files import GH_FILE, PV_FILE, mask_file
from reference_solution.wgan_anomalies.dataset import DS, DataFileError


def disk_mask(size: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    c = (size - 1) / 2
    return ((yy - c) ** 2 + (xx - c) ** 2 <= (size / 2) ** 2).astype(np.float32)


def write_course_files(folder, n_days=10, size=32, seed=0, pv=None, gh=None, mask=None):
    rng = np.random.default_rng(seed)
    pv = rng.random((n_days, size, size), dtype=np.float32) if pv is None else pv
    gh = rng.random((n_days, size, size), dtype=np.float32) if gh is None else gh
    mask = disk_mask(size) if mask is None else mask
    paths = folder / PV_FILE, folder / GH_FILE, folder / mask_file(mask.shape[-1] if mask.ndim else size)
    for path, array in zip(paths, (pv, gh, mask)):
        np.save(path, array)
    return paths


@pytest.mark.parametrize("size", [32, 64])
def test_item_is_masked_pv_and_gh(tmp_path, size):
    pv_path, gh_path, mask_path = write_course_files(tmp_path, n_days=7, size=size)
    ds = DS(pv_path, gh_path, mask_path)
    pv, gh, mask = np.load(pv_path), np.load(gh_path), np.load(mask_path)
    assert len(ds) == 7 and ds.size == size and ds.shape == (7, 2, size, size)
    assert ds.mask.dtype == torch.float32 and ds.mask.shape == (size, size)
    for i in (0, 3, 6, -1):
        x = ds[i]
        assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (2, size, size)
        np.testing.assert_array_equal(x[0].numpy(), pv[i] * mask)
        np.testing.assert_array_equal(x[1].numpy(), gh[i] * mask)
        assert (x[:, mask == 0] == 0).all() and 0 <= x.min() and x.max() <= 1
    assert torch.equal(ds[np.int64(2)], ds[2]) and torch.equal(ds[torch.tensor(2)], ds[2])


def test_items_are_copies_not_views(tmp_path):
    ds = DS(*write_course_files(tmp_path))
    x = ds[0]
    x += 1  # a writable copy: neither the memmap (read-only) nor later items change
    assert ds[0].max() <= 1


def test_from_folder_and_transform(tmp_path):
    write_course_files(tmp_path, size=32)
    ds = DS.from_folder(tmp_path, transform=lambda x: 2 * x - 1)
    plain = DS.from_folder(tmp_path)
    torch.testing.assert_close(ds[4], 2 * plain[4] - 1)
    assert "32x32" in repr(ds)


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("batch_size", [1, 4, 7])
def test_dataloader_batches(tmp_path, batch_size, num_workers):
    ds = DS(*write_course_files(tmp_path, n_days=10, size=32))
    loader = DataLoader(ds, batch_size=batch_size, num_workers=num_workers, shuffle=False)
    batches = list(loader)
    assert [b.shape[0] for b in batches] == [min(batch_size, 10 - s) for s in range(0, 10, batch_size)]
    for b in batches:
        assert b.shape[1:] == (2, 32, 32) and b.dtype == torch.float32
    torch.testing.assert_close(torch.cat(batches), torch.stack([ds[i] for i in range(10)]))


def test_pickling_drops_the_memory_maps(tmp_path):
    ds = DS(*write_course_files(tmp_path, n_days=50, size=64))
    blob = pickle.dumps(ds)
    assert len(blob) < 50 * 64 * 64 * 4  # far less than one of the files
    clone = pickle.loads(blob)
    assert clone._pv is None  # reopened lazily, as in a spawned worker
    torch.testing.assert_close(clone[17], ds[17])
    assert isinstance(clone._pv, np.memmap)


def test_files_are_memory_mapped(tmp_path):
    ds = DS(*write_course_files(tmp_path))
    assert isinstance(ds._pv, np.memmap) and isinstance(ds._gh, np.memmap)
    assert ds._pv.mode == "r"


def test_iterating_does_not_load_the_file(tmp_path):
    n_days, size = 400, 128  # 26 MB per file
    rng = np.random.default_rng(1)
    for name in (PV_FILE, GH_FILE):
        arr = np.lib.format.open_memmap(tmp_path / name, mode="w+", dtype=np.float32,
                                        shape=(n_days, size, size))
        arr[:] = rng.random((n_days, size, size), dtype=np.float32)
        arr.flush()
        del arr
    np.save(tmp_path / mask_file(size), disk_mask(size))
    file_bytes = n_days * size * size * 4
    tracemalloc.start()
    try:
        ds = DS.from_folder(tmp_path)
        total = 0.0
        for batch in DataLoader(ds, batch_size=16):
            total += float(batch.sum())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 0
    assert peak < file_bytes / 10, f"peak {peak / 1e6:.1f} MB while a file is {file_bytes / 1e6:.0f} MB"


def _rss_file_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssFile:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_iterating_does_not_keep_the_file_resident(tmp_path):
    # Pages read through the map are released after each copy, so the resident set (what a
    # student sees in a task manager) does not grow to the file size over an epoch.
    n_days, size = 300, 128  # 20 MB per file
    rng = np.random.default_rng(2)
    write_course_files(tmp_path, n_days, size, pv=rng.random((n_days, size, size), dtype=np.float32),
                       gh=rng.random((n_days, size, size), dtype=np.float32))
    ds = DS.from_folder(tmp_path)
    ds[0]
    before = _rss_file_kb()
    for i in range(len(ds)):
        ds[i]
    grown = (_rss_file_kb() - before) * 1024
    assert grown < n_days * size * size * 4 / 4, f"resident file pages grew by {grown / 1e6:.1f} MB"


# ---- errors name the file and the expectation ------------------------------------------------

def test_missing_file(tmp_path):
    pv, gh, mask = write_course_files(tmp_path)
    gh.unlink()
    with pytest.raises(FileNotFoundError, match=GH_FILE):
        DS(pv, gh, mask)
    with pytest.raises(FileNotFoundError, match="lacks"):
        DS.from_folder(tmp_path)


def test_not_a_npy_file(tmp_path):
    pv, gh, mask = write_course_files(tmp_path)
    pv.write_text("not an array")
    with pytest.raises(DataFileError, match=f"{PV_FILE}.*\\.npy") as err:
        DS(pv, gh, mask)
    assert err.value.path == pv and isinstance(err.value, ValueError)


def test_folder_instead_of_file(tmp_path):
    pv, gh, mask = write_course_files(tmp_path)
    with pytest.raises(DataFileError, match="folder"):
        DS(tmp_path, gh, mask)


def test_npz_archive_rejected(tmp_path):
    pv, gh, mask = write_course_files(tmp_path)
    archive = tmp_path / "pv.npz"
    np.savez(archive, a=np.load(pv))
    with pytest.raises(DataFileError, match="npz"):
        DS(archive, gh, mask)


def test_wrong_ndim(tmp_path):
    pv, gh, mask = write_course_files(tmp_path, pv=np.zeros((4, 2, 32, 32), np.float32))
    with pytest.raises(DataFileError, match=f"{PV_FILE}.*3-D.*4-D"):
        DS(pv, gh, mask)


def test_non_numeric_dtype(tmp_path):
    pv, gh, mask = write_course_files(tmp_path, gh=np.full((10, 32, 32), "a"))
    with pytest.raises(DataFileError, match=f"{GH_FILE}.*dtype"):
        DS(pv, gh, mask)


def test_pv_gh_shape_mismatch(tmp_path):
    pv, gh, mask = write_course_files(tmp_path, gh=np.zeros((9, 32, 32), np.float32))
    with pytest.raises(DataFileError, match=r"\(9, 32, 32\).*\(10, 32, 32\)") as err:
        DS(pv, gh, mask)
    assert GH_FILE in str(err.value) and PV_FILE in str(err.value)


def test_non_square_grid(tmp_path):
    rect = np.zeros((3, 32, 16), np.float32)
    pv, gh, mask = write_course_files(tmp_path, pv=rect, gh=rect)
    with pytest.raises(DataFileError, match=f"{PV_FILE}.*square.*32 x 16"):
        DS(pv, gh, mask)


def test_empty_file(tmp_path):
    empty = np.zeros((0, 32, 32), np.float32)
    pv, gh, mask = write_course_files(tmp_path, pv=empty, gh=empty)
    with pytest.raises(DataFileError, match="at least one day"):
        DS(pv, gh, mask)


def test_mask_of_wrong_shape(tmp_path):
    pv, gh, mask = write_course_files(tmp_path, size=32, mask=disk_mask(64))
    with pytest.raises(DataFileError, match=r"mask_64\.npy.*\(32, 32\).*\(64, 64\)"):
        DS(pv, gh, mask)


def test_mask_with_nan(tmp_path):
    bad = disk_mask(32)
    bad[3, 4] = np.nan
    pv, gh, mask = write_course_files(tmp_path, mask=bad)
    with pytest.raises(DataFileError, match=r"mask_32\.npy.*NaN"):
        DS(pv, gh, mask)


def test_boolean_mask_accepted(tmp_path):
    pv, gh, mask = write_course_files(tmp_path, mask=disk_mask(32).astype(bool))
    assert DS(pv, gh, mask).mask.dtype == torch.float32


def test_nan_in_an_item_is_reported_on_access(tmp_path):
    rng = np.random.default_rng(0)
    gh_data = rng.random((10, 32, 32), dtype=np.float32)
    gh_data[6, 16, 16] = np.nan  # inside the disk
    pv, gh, mask = write_course_files(tmp_path, gh=gh_data)
    ds = DS(pv, gh, mask)  # not scanned at creation: too slow on GB files
    ds[5]
    with pytest.raises(DataFileError, match=f"{GH_FILE}.*day 6.*NaN"):
        ds[6]
    with pytest.raises(DataFileError, match=f"{GH_FILE}.*day 6"):
        DS(pv, gh, mask, check_finite=True)


def test_check_finite_scans_in_chunks(tmp_path):
    rng = np.random.default_rng(0)
    pv_data = rng.random((150, 32, 32), dtype=np.float32)
    pv_data[137, 0, 0] = np.inf  # in the third chunk of 64
    pv, gh, mask = write_course_files(tmp_path, n_days=150, pv=pv_data)
    with pytest.raises(DataFileError, match=f"{PV_FILE}.*day 137"):
        DS(pv, gh, mask, check_finite=True)


def test_index_out_of_range(tmp_path):
    ds = DS(*write_course_files(tmp_path, n_days=10))
    for i in (10, -11, 10**9):
        with pytest.raises(IndexError, match=f"index {i} is out of range for 10 days"):
            ds[i]
    with pytest.raises(TypeError, match="integer"):
        ds[1.5]
    with pytest.raises(TypeError, match="integer"):
        ds[True]
    assert len([x for x in ds]) == 10  # plain iteration stops at the IndexError
