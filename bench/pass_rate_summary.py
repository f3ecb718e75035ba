"""The README's compact table of check fairness, from ``bench_check_pass_rates.py --json``.

One row per stochastic check: how many right answers (reference + VALID alternatives) and how
many catalogued bugs were run over how many seeds, how many ended on the wrong side, and the
largest estimated probability of a wrong outcome among them.

    python bench/bench_check_pass_rates.py --report-only --json runs/pass_rates/results.json
    python bench/pass_rate_summary.py runs/pass_rates/results.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def summary(results: list[dict]) -> str:
    rows = defaultdict(lambda: {"right": [], "bugs": []})
    for r in results:
        kind = "bugs" if r["role"] == "mutant" else "right"
        rows[r["check"]][kind].append(r)
    lines = ["| check | right answers: cases, seeds each, wrong outcomes, max est. P(wrong) | "
             "catalogued bugs: cases, seeds each, wrong outcomes, max est. P(wrong) |", "|---|---|---|"]

    def cell(cases: list[dict], right: bool) -> str:
        if not cases:
            return "-"
        runs = sorted({c["summary"]["runs"] for c in cases})
        wrong = sum((c["summary"]["runs"] - c["summary"]["passes"]) if right else c["summary"]["passes"]
                    for c in cases)
        tail = max(c["summary"]["tail"] for c in cases)
        seeds = f"{runs[0]}" if len(runs) == 1 else f"{runs[0]}-{runs[-1]}"
        return f"{len(cases)}, {seeds}, {wrong}, {tail:.1e}"

    for check, kinds in rows.items():
        lines.append(f"| `{check}` | {cell(kinds['right'], True)} | {cell(kinds['bugs'], False)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(json.loads(open(sys.argv[1]).read())))
