"""The student's run of assignment 1, measured: the release notebook filled with the reference
solutions, executed top to bottom as a student runs it (no grader, CPU), once per ``SEED``.

Per seed it records the notebook's wall time and, from a cell appended after the last one (it
reads the notebook's own variables), what the run teaches from:

- sliced Wasserstein distance of 1000 states of the averaged generator to the held-out days
  (``val_part``), beside the real-real floor (training days against the same held-out days);
- the share of generated states with an easterly 60N wind, beside the real days' share;
- ROC-AUC and average precision of the seed's classifier for each latent scheme;
- f-AnoGAN and the polar-cap index of the optional section, on the same generator.

    python bench/bench_notebook.py --seeds 0 1 2 3 4 --jobs 2

Results: ``runs/bench_notebook/seed<k>.json`` and the executed notebooks beside them; the
summary table is printed (Markdown) and the seeds' results are merged into
``docs/results/notebook_runs.json`` (a seed run again replaces its entry; the others stay).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from reference_solution.course.submissions import fill_release_with_solutions  # noqa: E402

OUT = REPO / "runs" / "bench_notebook"
ASSIGNMENT = "wgan_anomalies"

MEASURE = r'''
import json as _json
from reference_solution.metrics import sliced_wasserstein as _swd
from reference_solution.wgan_anomalies.state_features import state_features as _features
from coursekit.comparison import average_precision as _ap, roc_auc as _auc
gen.eval()  # held_out and floor: the training cell's own
with torch.no_grad():
    _fake = gen(torch.randn(1000, latent_dim, generator=torch.Generator().manual_seed(1))) * mask
_all = torch.stack([ds_test[i] for i in range(len(ds_test))])
_out = {"swd": _swd(_fake, held_out), "swd_floor": floor,
        "easterly_generated": float(_features(_fake, mask)["easterly"].mean()),
        "easterly_real": float(_features(_all, mask)["easterly"].mean())}
for _s, _c in classifiers.items():
    _c.eval()
    with torch.no_grad():
        _p = np.concatenate([torch.sigmoid(_c(_all[i:i + 256])).squeeze(1).numpy() for i in range(0, len(_all), 256)])
    _out[f"classifier_{_s}"] = {"roc_auc": _auc(truth, _p), "ap": _ap(truth, _p)}
if RUN_OPTIONAL:
    for _k, _name in (("fanogan", "f-AnoGAN score"), ("polar_cap", "polar-cap height (baseline)")):
        _out[_k] = {"roc_auc": _auc(truth, detector_scores[_name]), "ap": _ap(truth, detector_scores[_name])}
_out["ssw_share"] = float(truth.mean())
print("BENCH" + _json.dumps(_out))
'''


def run_seed(seed: int, timeout: int) -> dict:
    work = OUT / f"seed{seed}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(REPO / "release" / ASSIGNMENT, work,
                    ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    nb = fill_release_with_solutions(REPO, ASSIGNMENT)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert re.search(r"^SEED = 0\b", setup.source, re.M), "the setup cell should set SEED = 0"
    setup.source = re.sub(r"^SEED = 0\b", f"SEED = {seed}", setup.source, flags=re.M)
    nb.cells.append(nbformat.v4.new_code_cell(MEASURE))
    start = time.time()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    wall = time.time() - start
    nbformat.write(nb, work / f"{ASSIGNMENT}.ipynb")
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    result = json.loads(text.split("BENCH", 1)[1].strip().splitlines()[0])
    result.update(seed=seed, wall_s=round(wall, 1))
    (OUT / f"seed{seed}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result), flush=True)
    return result


def _row(results: list[dict], label: str, get) -> str:
    values = [get(r) for r in results]
    return (f"| {label} | {statistics.mean(values):.3f} | {min(values):.3f} | {max(values):.3f} | "
            + " ".join(f"{v:.3f}" for v in values) + " |")


def summary(results: list[dict]) -> str:
    lines = ["| over seeds " + ", ".join(str(r["seed"]) for r in results) + " | mean | min | max | per seed |",
             "|---|---|---|---|---|",
             _row(results, "sliced Wasserstein / real-real floor", lambda r: r["swd"] / r["swd_floor"]),
             _row(results, "easterly-60N share, generated", lambda r: r["easterly_generated"]),
             _row(results, "easterly-60N share, real days", lambda r: r["easterly_real"])]
    for key, label in (("classifier_gaussian", "seed's classifier, Gaussian scheme"),
                       ("classifier_ball", "seed's classifier, uniform-ball scheme"),
                       ("fanogan", "f-AnoGAN score"), ("polar_cap", "polar-cap height index")):
        if all(key in r for r in results):
            lines.append(_row(results, f"{label}: ROC-AUC", lambda r, k=key: r[k]["roc_auc"]))
            lines.append(_row(results, f"{label}: AP", lambda r, k=key: r[k]["ap"]))
    lines.append(_row(results, "notebook wall time (s)", lambda r: r["wall_s"]))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--jobs", type=int, default=1, help="notebooks at once (each uses one torch thread)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    ap.add_argument("--summary-only", action="store_true", help="summarise the stored runs")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.pop("NBGRADER_EXECUTION", None)  # the student's run, not the grader's
    if a.summary_only:
        results = [json.loads((OUT / f"seed{s}.json").read_text()) for s in a.seeds]
    else:
        with ThreadPoolExecutor(a.jobs) as pool:
            results = list(pool.map(lambda s: run_seed(s, a.timeout), a.seeds))
    table = summary(results)
    print(table)
    # The README's table lists every seed: a run of some seeds replaces theirs and keeps the others.
    stored = REPO / "docs" / "results" / "notebook_runs.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    kept = {r["seed"]: r for r in (json.loads(stored.read_text()) if stored.is_file() else [])}
    kept.update({r["seed"]: r for r in results})
    stored.write_text(json.dumps([kept[s] for s in sorted(kept)], indent=1))


if __name__ == "__main__":
    main()
