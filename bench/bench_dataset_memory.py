"""Memory and speed of ``DS`` on a course dataset larger than 1 GB.

Writes a pv/gh pair of ``N x S x S`` float32 files (default 2200 x 256 x 256, 0.58 GB each) to a
temporary folder, iterates ``DS`` through a ``DataLoader`` and prints, per pass, the throughput
and the growth of the process's memory:

- anonymous memory (``RssAnon``): what the process copied into its own memory. Memory-mapped
  reading keeps this at a few batches whatever the file size.
- file-backed memory (``RssFile``): pages of the memory map that are resident; the kernel can
  drop them at any time, so they are cache, not a copy of the file.

The first pass reads from disk (the files' cached pages are dropped with ``posix_fadvise``
first, where the OS supports it); the second reads from the page cache. The files are removed
at the end.

    python bench/bench_dataset_memory.py [--n-days 2200] [--size 256] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from reference_solution.coursekit.course_files import GH_FILE, PV_FILE, mask_file
from reference_solution.wgan_anomalies.dataset import DS


def proc_status_kb(*keys: str) -> dict[str, int]:
    """Memory figures of this process from /proc/self/status, in kB (0 where unavailable)."""
    out = dict.fromkeys(keys, 0)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in out:
                    out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


def write_files(folder: Path, n_days: int, size: int, chunk: int = 100) -> int:
    rng = np.random.default_rng(0)
    for name in (PV_FILE, GH_FILE):
        arr = np.lib.format.open_memmap(folder / name, mode="w+", dtype=np.float32,
                                        shape=(n_days, size, size))
        for start in range(0, n_days, chunk):  # chunked so that writing does not hold the file
            stop = min(start + chunk, n_days)
            arr[start:stop] = rng.random((stop - start, size, size), dtype=np.float32)
        arr.flush()
        del arr
    yy, xx = np.mgrid[:size, :size]
    c = (size - 1) / 2
    np.save(folder / mask_file(size), ((yy - c) ** 2 + (xx - c) ** 2 <= (size / 2) ** 2)
            .astype(np.float32))
    return sum((folder / name).stat().st_size for name in (PV_FILE, GH_FILE))


def drop_page_cache(paths: list[Path]) -> bool:
    if not hasattr(os, "posix_fadvise"):
        return False
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


def one_pass(ds: DS, batch_size: int, num_workers: int) -> dict[str, float]:
    base = proc_status_kb("RssAnon", "RssFile")
    peak_anon = peak_file = 0
    checksum, n_items = 0.0, 0
    start = time.perf_counter()
    for batch in DataLoader(ds, batch_size=batch_size, num_workers=num_workers):
        checksum += float(batch[:, :, ::64, ::64].sum())  # touch the batch
        n_items += batch.shape[0]
        now = proc_status_kb("RssAnon", "RssFile")
        peak_anon = max(peak_anon, now["RssAnon"] - base["RssAnon"])
        peak_file = max(peak_file, now["RssFile"] - base["RssFile"])
    seconds = time.perf_counter() - start
    return {"items": n_items, "seconds": seconds, "items_per_s": n_items / seconds,
            "peak_anon_mb": peak_anon / 1024, "peak_file_mb": peak_file / 1024,
            "checksum": checksum}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-days", type=int, default=2200)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2],
                        help="DataLoader num_workers to time (memory is exact for 0 only)")
    parser.add_argument("--dir", default=None, help="parent of the temporary folder")
    args = parser.parse_args()
    torch.set_num_threads(1)

    folder = Path(tempfile.mkdtemp(prefix="bench_ds_", dir=args.dir))
    try:
        t0 = time.perf_counter()
        total_bytes = write_files(folder, args.n_days, args.size)
        print(f"wrote 2 files, {total_bytes / 1e9:.2f} GB in all ({args.n_days} x {args.size} x "
              f"{args.size} float32 each) to {folder} in {time.perf_counter() - t0:.1f} s")
        before = proc_status_kb("RssAnon", "VmHWM")
        t0 = time.perf_counter()
        ds = DS.from_folder(folder)
        after = proc_status_kb("RssAnon")
        print(f"DS.from_folder: {1e3 * (time.perf_counter() - t0):.1f} ms, anonymous memory "
              f"+{(after['RssAnon'] - before['RssAnon']) / 1024:.1f} MB; {ds!r}")
        item_mb = 2 * args.size * args.size * 4 / 2**20
        print(f"one item {item_mb:.2f} MB, one batch {args.batch_size * item_mb:.1f} MB")
        for workers in args.workers:
            for label in ("cold (page cache dropped)", "warm (page cache)"):
                if label.startswith("cold") and not drop_page_cache([ds.pv_path, ds.gh_path]):
                    continue
                r = one_pass(ds, args.batch_size, workers)
                print(f"num_workers={workers} {label}: {r['items']} items in {r['seconds']:.1f} s, "
                      f"{r['items_per_s']:.0f} items/s ({r['items_per_s'] * item_mb:.0f} MB/s); "
                      f"main process peak growth: anonymous +{r['peak_anon_mb']:.0f} MB, "
                      f"file-backed +{r['peak_file_mb']:.0f} MB")
        hwm = proc_status_kb("VmHWM")["VmHWM"]
        print(f"peak RSS of the process (VmHWM): {hwm / 1024:.0f} MB, of which at most "
              f"{(hwm - before['VmHWM']) / 1024:.0f} MB since the files were written; "
              f"files total {total_bytes / 2**20:.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"removed {folder}")


if __name__ == "__main__":
    main()
