"""Seconds to autograde one submission of an assignment through the hardened nbgrader pipeline.

    python bench/bench_autograde.py toy --root tests/fixtures/toy_course
    python bench/bench_autograde.py score_matching [--which complete|partial|blank]

Prints the one-off generation time of the scratch course, the wall time of one student (nbgrader
start, kernel start, execution, gradebook), the time spent inside cells per notebook, and the
slowest cells (from the per-cell record ``GuardedExecute`` writes).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from reference_solution.autograde import ScratchCourse, example_submissions, format_report

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment")
    parser.add_argument("--root", type=Path, default=REPO, help="course root (default: the repository)")
    parser.add_argument("--which", choices=["complete", "partial", "blank"], default="complete")
    parser.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell")
    parser.add_argument("--slowest", type=int, default=5, help="cells to list")
    a = parser.parse_args()

    started = time.perf_counter()
    with ScratchCourse(a.root, a.assignment, cell_timeout=a.cell_timeout, workers=1) as scratch:
        generated = time.perf_counter() - started
        submission = example_submissions(a.root, a.assignment, scratch.release_dir)[a.which]
        started = time.perf_counter()
        result = scratch.grade({a.which: submission})[a.which]
        graded = time.perf_counter() - started
    print(format_report({a.which: result}))
    print(f"\nscratch course generation: {generated:7.2f} s (once per batch)")
    print(f"autograde one submission:  {graded:7.2f} s (status {result.status})")
    for notebook in sorted({c["notebook"] for c in result.cells}):
        inside = sum(c["seconds"] for c in result.cells if c["notebook"] == notebook)
        print(f"  {notebook}.ipynb: {inside:7.2f} s inside cells, "
              f"{graded - inside:6.2f} s nbgrader + kernel overhead")
    print(f"slowest cells:")
    for c in sorted(result.cells, key=lambda c: -c["seconds"])[: a.slowest]:
        print(f"  {c['seconds']:8.2f} s  {c['notebook']} cell {c['index']:>3} "
              f"{c['grade_id'] or '(no grade id)'}  [{c['outcome']}]")


if __name__ == "__main__":
    main()
