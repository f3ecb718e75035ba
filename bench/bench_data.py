"""Speed of the synthetic stratosphere: in-memory generation and course-file writing.

    python bench/bench_data.py                       # 64 px x 30 winters, 256 px x 30 winters
    python bench/bench_data.py --sizes 64 --winters 10

MB/s counts the bytes of the two N x S x S float32 fields (pv and gh) produced per second.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from reference_solution.coursekit.stratosphere import (
    DAYS_PER_WINTER,
    event_summary,
    generate,
    read_events,
    write_course_files,
)


def _measure(size: int, winters: int, mode: str) -> tuple[float, dict]:
    start = time.perf_counter()
    if mode == "memory":
        data = generate(winters=winters, size=size, seed=0)
        summary = event_summary(data)
        del data
    else:
        with tempfile.TemporaryDirectory() as tmp:
            files = write_course_files(tmp, winters=winters, size=size, seed=0, progress=False)
            summary = event_summary(read_events(files.events))
    return time.perf_counter() - start, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256], help="grid sizes (px)")
    parser.add_argument("--winters", type=int, default=30, help="winters per run")
    parser.add_argument("--memory-limit", type=int, default=64,
                        help="largest size also timed in memory (generate); larger sizes only write")
    args = parser.parse_args()
    print(f"{'size':>5} {'winters':>7} {'mode':>7} {'days':>6} {'seconds':>8} {'days/s':>8} "
          f"{'MB/s':>8} {'GB out':>7} {'events/w':>8} {'split':>6}")
    for size in args.sizes:
        modes = ["memory", "files"] if size <= args.memory_limit else ["files"]
        for mode in modes:
            seconds, summary = _measure(size, args.winters, mode)
            days = args.winters * DAYS_PER_WINTER
            megabytes = 2 * days * size * size * 4 / 1e6
            print(f"{size:>5} {args.winters:>7} {mode:>7} {days:>6} {seconds:>8.2f} "
                  f"{days / seconds:>8.0f} {megabytes / seconds:>8.1f} {megabytes / 1e3:>7.2f} "
                  f"{summary['events_per_winter']:>8.2f} {summary['split_share']:>6.2f}")


if __name__ == "__main__":
    main()
