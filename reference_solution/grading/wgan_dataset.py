"""Hidden checks of Part 1 of ``wgan_anomalies``: the memory-mapped dataset ``DS``.

Every check writes course files with random contents and random names into the grader's inbox
(read-only for the kernel): reading them the way ``DS`` must is the only way to return the right
days. Under grading the memory-mapped check's files are larger than all the memory the jail gives
the kernel (sparse on disk): a file read whole cannot fit, whatever the kernel reports.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..coursekit.data_cache import synthetic_course_files
from ..coursekit.stratosphere import disk_mask
from . import expect
from .protocol import Check, Context

GRADING_DATA = {"size": 32, "winters": 6, "seed": 0}  # the notebook's CPU/grading configuration
MAPPED_DAYS, MAPPED_SIZE = 1024, 256  # 256 MB per file, sparse on disk (no memory limit known)
MAPPED_MARGIN = 512 * 2**20  # under a jail, each file is this much larger than its memory limit
MAPPED_HEADROOM = 96 * 2**20  # data memory DS may use on top of the kernel's (a file is 256 MB)


def prepare_cache(folder: Path, assignment: str) -> None:
    """Make the shared data of the notebook's grading configuration (before any kernel starts)."""
    if assignment == "wgan_anomalies":
        synthetic_course_files(**GRADING_DATA, root=folder)


def _write(folder: Path, rng: np.random.Generator, n: int, size: int, *, gh_days: int | None = None,
           mask_size: int | None = None, missing: str | None = None) -> dict:
    tag = rng.integers(1 << 40)
    names = {k: folder / f"{k}_{tag:x}.npy" for k in ("pv", "gh", "mask")}
    pv = rng.random((n, size, size), dtype=np.float32)
    gh = rng.random((gh_days or n, size, size), dtype=np.float32)
    mask = disk_mask(mask_size or size)
    for key, values in (("pv", pv), ("gh", gh), ("mask", mask)):
        if key != missing:
            np.save(names[key], values)
    return {"pv": str(names["pv"]), "gh": str(names["gh"]), "mask": str(names["mask"]),
            "_pv": pv, "_gh": gh, "_mask": mask}


def items_challenge(rng: np.random.Generator, folder: Path, context: Context) -> dict:
    cases = []
    for n, size in ((7, 16), (3, 32)):
        case = _write(folder, rng, n, size)
        case["days"] = sorted({0, n - 1, int(rng.integers(n))})
        cases.append(case)
    return {"cases": [{k: v for k, v in c.items() if not k.startswith("_")} for c in cases],
            "batch_sizes": [1, 3], "_cases": cases}


def ds_items_are_masked_two_channel_tensors(challenge: dict, result: dict) -> None:
    """Items are float32 tensors of shape (2, H, W): pv then gh, zero outside the mask."""
    for case, got in zip(challenge["_cases"], expect.cases(result, "cases", len(challenge["_cases"]))):
        n, size = case["_pv"].shape[0], case["_pv"].shape[1]
        found = expect.integer(expect.entry(got, "len"), "len(ds)")
        assert found == n, f"len(ds) should be the number of days {n}, got {found}"
        mask = case["_mask"]
        days = case["days"]
        kinds = expect.cases(got, "kinds", len(days), "item types")
        items = expect.cases(got, "items", len(days), "items")
        for day, kind, item in zip(days, kinds, items):
            assert kind == "tensor", f"ds[{day}] should be a torch.Tensor, got {kind}"
            item = expect.array(item, f"ds[{day}]", shape=(2, size, size), dtype="float32")
            assert float(np.abs(item[:, mask == 0]).max()) == 0.0, "items should be zero outside the mask"
            assert np.allclose(item[0], case["_pv"][day] * mask, atol=1e-6), (
                "channel 0 should be pv of the same day, times the mask")
            assert np.allclose(item[1], case["_gh"][day] * mask, atol=1e-6), (
                "channel 1 should be gh of the same day, times the mask")
        expected = 2 * np.stack([case["_pv"][0], case["_gh"][0]]) * mask
        transformed = expect.array(expect.entry(got, "transformed"), "ds[0] with a transform",
                                   shape=expected.shape)
        assert np.allclose(transformed, expected, atol=1e-6), "the transform should be applied to the masked item"
        batches = expect.cases(got, "batches", len(challenge["batch_sizes"]), "DataLoader batches")
        for b, batch in zip(challenge["batch_sizes"], batches):
            want = (min(b, n), 2, size, size)
            kind = expect.entry(batch, "kind")
            data = expect.entry(batch, "data")
            assert kind == "tensor" and isinstance(data, np.ndarray) and data.shape == want, (
                f"a DataLoader batch of {b} should be a tensor of shape {want}, got {kind} "
                f"{tuple(np.shape(data))}")
            days_in = np.stack([np.stack([case["_pv"][d], case["_gh"][d]]) * mask for d in range(want[0])])
            assert np.allclose(expect.array(data, "a batch"), days_in, atol=1e-6), (
                f"a DataLoader batch of {b} should stack the first {want[0]} items")


def _sparse_npy(path: Path, shape: tuple[int, ...], days: dict[int, np.ndarray]) -> None:
    """A ``.npy`` file of ``shape`` float32 whose days are zero (holes, no disk) except ``days``."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
    for day, values in days.items():
        array[day] = values
    array.flush()
    del array


def mapped_challenge(rng: np.random.Generator, folder: Path, context: Context) -> dict:
    tag = rng.integers(1 << 40)
    day_bytes = MAPPED_SIZE * MAPPED_SIZE * 4
    n_days = MAPPED_DAYS if context.memory_limit is None else \
        max(MAPPED_DAYS, -(-(context.memory_limit + MAPPED_MARGIN) // day_bytes))
    days = sorted({0, n_days - 1, int(rng.integers(1, n_days - 1))})
    shape = (n_days, MAPPED_SIZE, MAPPED_SIZE)
    values = {k: {d: rng.random(shape[1:], dtype=np.float32) for d in days} for k in ("pv", "gh")}
    paths = {k: folder / f"{k}_{tag:x}.npy" for k in ("pv", "gh", "mask")}
    for key in ("pv", "gh"):
        _sparse_npy(paths[key], shape, values[key])
    mask = disk_mask(MAPPED_SIZE)
    np.save(paths["mask"], mask)
    return {"pv": str(paths["pv"]), "gh": str(paths["gh"]), "mask": str(paths["mask"]), "days": days,
            "headroom": MAPPED_HEADROOM, "_values": values, "_mask": mask, "_mb": n_days * day_bytes / 2**20}


def _holds_day(item, pv: np.ndarray, gh: np.ndarray, mask: np.ndarray) -> bool:
    """The item holds that day's pv and gh inside the mask, in either channel order; its shape,
    channel order and masking are the items check's business, not this one's."""
    if not isinstance(item, np.ndarray) or item.dtype.kind not in "biuf" or item.size != 2 * mask.size:
        return False
    inside = item.reshape(2, *mask.shape)[:, mask > 0]
    want = np.stack([pv[mask > 0], gh[mask > 0]])
    return bool(np.allclose(inside, want, atol=1e-6) or np.allclose(inside, want[::-1], atol=1e-6))


def ds_reads_files_memory_mapped(challenge: dict, result: dict) -> None:
    """The data files are memory-mapped: days of files larger than the kernel's memory are read."""
    mb = challenge["_mb"]
    if "error" in result:
        error = expect.text(result["error"], "the error")
        hint = (" (it ran out of memory: open the files with np.load(..., mmap_mode='r') and copy "
                "out one day per item)") if "MemoryError" in error else ""
        raise AssertionError(f"reading 3 days of two {mb:.0f} MB files failed: {error}{hint}")
    values = challenge["_values"]
    items = expect.cases(result, "items", len(challenge["days"]), "items")
    for day, item in zip(challenge["days"], items):
        assert _holds_day(item, values["pv"][day], values["gh"][day], challenge["_mask"]), (
            f"ds[{day}] of the large files does not hold pv and gh of day {day}")


def refusals_challenge(rng: np.random.Generator, folder: Path, context: Context) -> dict:
    cases = [("valid files", _write(folder, rng, 4, 16)),
             ("valid files of another size", _write(folder, rng, 2, 8)),
             ("a missing pv file", _write(folder, rng, 4, 16, missing="pv")),
             ("a missing mask file", _write(folder, rng, 4, 16, missing="mask")),
             ("pv and gh with different numbers of days", _write(folder, rng, 4, 16, gh_days=5)),
             ("a mask of the wrong shape", _write(folder, rng, 4, 16, mask_size=8))]
    order = rng.permutation(len(cases))  # valid and invalid cases in a secret order
    cases = [cases[i] for i in order]
    return {"cases": [{k: v for k, v in c.items() if not k.startswith("_")} for _, c in cases],
            "_cases": cases}


def ds_rejects_missing_and_mismatched_files(challenge: dict, result: dict) -> None:
    """A missing file, pv and gh of different shapes and a mask of the wrong shape raise clear errors."""
    outcomes = expect.cases(result, "outcomes", len(challenge["_cases"]), "outcomes")
    for (what, case), got in zip(challenge["_cases"], outcomes):
        if what.startswith("valid"):
            assert isinstance(got, dict) and "error" not in got, (
                f"DS should accept {what}, but raised {got.get('error') if isinstance(got, dict) else got}")
            assert _holds_day(expect.entry(got, "item"), case["_pv"][0], case["_gh"][0], case["_mask"]), (
                f"on {what} ds[0] should hold pv and gh of day 0")
            assert expect.integer(expect.entry(got, "len"), "len(ds)") == case["_pv"].shape[0], (
                f"on {what} len(ds) is wrong")
        else:
            assert isinstance(got, dict) and isinstance(got.get("error"), str), (
                f"DS should raise an exception for {what}")


CHECKS = [
    Check("ds_items_are_masked_two_channel_tensors", "wgan_dataset.items", items_challenge,
          ds_items_are_masked_two_channel_tensors, seconds=60,
          verifies="items and DataLoader batches of random files in secret sizes, compared value by value with the "
                   "files times the mask"),
    Check("ds_reads_files_memory_mapped", "wgan_dataset.memory_mapped", mapped_challenge,
          ds_reads_files_memory_mapped, seconds=60,
          verifies="three secret days of two files larger than all the memory the jail gives the kernel (sparse on "
                   "disk), compared with the values written"),
    Check("ds_rejects_missing_and_mismatched_files", "wgan_dataset.refusals", refusals_challenge,
          ds_rejects_missing_and_mismatched_files, seconds=60,
          trusts="that DS raised for the three broken cases (the valid cases, mixed in a secret order, "
                 "must return the right days)",
          verifies="the valid cases (secret order among the broken ones) must return the right day and length"),
]
