"""Seconds to autograde one submission through plain ``nbgrader autograde``, optionally side by side
with another revision of the kit (same machine, same run, alternating, so load affects both).

    python bench/bench_autograde.py score_matching
    python bench/bench_autograde.py wgan_anomalies --baseline 201bb7b --repeat 2
    python bench/bench_autograde.py toy --root tests/fixtures/toy_course

For each revision: the wall time of grading one submission (nbgrader start, jailed kernel,
every cell and hidden check, gradebook), the median over ``--repeat`` runs, and for the current
revision the slowest cells and checks (from the per-cell record the executor writes). The
baseline revision is exported with ``git archive`` into a temporary folder and graded by its own
code (its ``reference_solution`` first on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Runs inside a revision's checkout: grade its own example submission, print JSON.
GRADE_ONE = r"""
import json, sys, time
from pathlib import Path
try:
    from reference_solution.course.autograde import ScratchCourse, example_submissions
except ImportError:  # a revision from before issue 11's layout (flat modules)
    from reference_solution.autograde import ScratchCourse, example_submissions
root, assignment, which = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
with ScratchCourse(root, assignment) as scratch:
    submission = example_submissions(root, assignment, scratch.release_dir)[which]
    started = time.perf_counter()
    result = scratch.grade({which: submission})[which]
    seconds = time.perf_counter() - started
cells = [{k: c.get(k) for k in ("index", "grade_id", "seconds", "outcome", "check")} for c in result.cells]
print(json.dumps({"seconds": seconds, "status": result.status, "total": result.total,
                  "max_total": result.max_total, "cells": cells}))
"""


def grade_once(checkout: Path, root: Path, assignment: str, which: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", GRADE_ONE, str(root), assignment, which], cwd=checkout,
                          env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"grading with {checkout} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def export(revision: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment")
    parser.add_argument("--root", type=Path, default=None, help="course root (default: the checkout)")
    parser.add_argument("--which", choices=["complete", "partial", "blank"], default="complete")
    parser.add_argument("--baseline", help="git revision to time side by side (e.g. 201bb7b)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per revision (median reported)")
    parser.add_argument("--slowest", type=int, default=8, help="cells and checks to list")
    a = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        checkouts = {"current": REPO}
        if a.baseline:
            checkouts[f"baseline {a.baseline}"] = export(a.baseline, Path(tmp))
        runs: dict[str, list[dict]] = {name: [] for name in checkouts}
        for _ in range(a.repeat):
            for name, checkout in checkouts.items():  # alternate, so load drifts hit both
                root = a.root.resolve() if a.root else checkout
                runs[name].append(grade_once(checkout, root, a.assignment, a.which))
    load = os.getloadavg()
    print(f"{a.assignment}, {a.which} submission, {a.repeat} run(s) each; load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")
    medians = {}
    for name, results in runs.items():
        seconds = [r["seconds"] for r in results]
        medians[name] = statistics.median(seconds)
        r = results[-1]
        print(f"  {name:<22} {medians[name]:7.1f} s  (runs: {', '.join(f'{s:.1f}' for s in seconds)}; "
              f"status {r['status']}, {r['total']:g}/{r['max_total']:g} points)")
    if a.baseline:
        base = medians[f"baseline {a.baseline}"]
        print(f"  ratio current / baseline: {medians['current'] / base:.2f}")
    cells = runs["current"][-1]["cells"]
    print("slowest cells and checks (current):")
    for c in sorted(cells, key=lambda c: -(c["seconds"] or 0))[: a.slowest]:
        kind = "check" if c.get("check") else f"cell {c['index']:>3}"
        print(f"  {c['seconds']:8.2f} s  {kind:<9} {c['grade_id'] or '(no grade id)'}")


if __name__ == "__main__":
    main()
