"""Every detector over several seeds: the measured table of the README and docs/DETECTOR.md.

Runs ``python -m reference_solution pipeline --preset <p> --seed <k>`` for each seed (resuming
finished runs), then writes, from the runs' own ``metrics.json``:

- ``<out>/metrics.json``: per preset and seed every detector's ROC-AUC, average precision,
  precision and recall at the common workload, timings and the load average around the run;
  and per detector the mean, min and max over seeds;
- ``<figures>/detector_auc.png`` and ``detector_ap.png``: bars of the mean, whiskers of the range;
- a Markdown table on stdout.

    nice -n 19 python bench/bench_detectors.py --preset quick --seeds 0 1 2
    nice -n 19 python bench/bench_detectors.py --preset medium --seeds 0 1 2
    python bench/bench_detectors.py --summarize   # tables and figures from the runs there

Seeds 0-2 are the evaluation seeds; every choice of the presets was made on seeds 100-101
(``bench/tune_detectors.py``). Timings are wall-clock seconds on this machine with the load
average beside them: on a shared machine they are upper bounds of an idle run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

METRICS = ("roc_auc", "average_precision", "precision", "recall")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_seed(preset: str, seed: int, runs: Path, threads: int) -> dict:
    import torch

    from reference_solution.wgan_anomalies.pipeline import run_pipeline

    torch.set_num_threads(threads)
    out = runs / preset / f"seed{seed}"
    done = out / "report" / "metrics.json"
    record = out / "bench.json"
    if done.is_file() and record.is_file():
        return json.loads(record.read_text())
    load_before = os.getloadavg()
    t = time.perf_counter()
    run_pipeline(out, preset=preset, seed=seed, device="cpu", progress=False)
    info = {"wall_s": round(time.perf_counter() - t, 1), "load_before": load_before,
            "load_after": os.getloadavg(), "threads": threads}
    record.write_text(json.dumps(info))
    return info


def summarize(runs: Path, presets: list[str]) -> dict:
    import torch

    table: dict = {"machine": {"cpu": _cpu(), "cores": os.cpu_count(), "torch": torch.__version__},
                   "presets": {}}
    for preset in presets:
        folders = sorted((runs / preset).glob("seed*/report/metrics.json"))
        if not folders:
            continue
        per_seed = {}
        for path in folders:
            m = json.loads(path.read_text())
            bench = path.parent.parent / "bench.json"
            per_seed[str(m["seed"])] = {
                "detectors": {k: {x: d[x] for x in METRICS} | {"flagged": d["flagged"]}
                              for k, d in m["detectors"].items()},
                "timings": {k: round(v, 1) for k, v in m["timings"].items()},
                "run": json.loads(bench.read_text()) if bench.is_file() else None,
                "ssw_days": m["ssw_days"], "days": m["days"],
                "at_rule": {k: {x: d["at_rule"][x] for x in ("flagged", "precision", "recall")}
                            for k, d in m["detectors"].items() if "at_rule" in d}}
        names = list(next(iter(per_seed.values()))["detectors"])
        summary = {}
        for name in names:
            summary[name] = {}
            for metric in METRICS:
                values = [s["detectors"][name][metric] for s in per_seed.values()]
                summary[name][metric] = {"mean": float(np.mean(values)), "min": float(np.min(values)),
                                         "max": float(np.max(values))}
        totals = [s["timings"]["total_s"] for s in per_seed.values()]
        table["presets"][preset] = {
            "command": f"python -m reference_solution pipeline --preset {preset} --seed <k> "
                       f"--out runs/bench/{preset}/seed<k>",
            "seeds": sorted(int(k) for k in per_seed), "per_seed": per_seed, "summary": summary,
            "total_s": {"mean": float(np.mean(totals)), "min": float(np.min(totals)),
                        "max": float(np.max(totals))}}
    return table


def markdown(table: dict) -> str:
    presets = list(table["presets"])
    lines = ["| detector | " + " | ".join(f"{p} ROC-AUC | {p} AP" for p in presets) + " |",
             "|---|" + "---|---|" * len(presets)]
    first = table["presets"][presets[0]]["summary"]
    order = sorted(first, key=lambda n: -first[n]["roc_auc"]["mean"])
    from reference_solution.wgan_anomalies.detectors import DESCRIPTIONS

    for name in order:
        cells = []
        for p in presets:
            s = table["presets"][p]["summary"].get(name)
            cells += ["n/a", "n/a"] if s is None else [
                f"{s[m]['mean']:.3f} ({s[m]['min']:.3f}-{s[m]['max']:.3f})"
                for m in ("roc_auc", "average_precision")]
        lines.append(f"| {DESCRIPTIONS.get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figures(table: dict, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from reference_solution.coursekit import plotting

    folder.mkdir(parents=True, exist_ok=True)
    for metric, name in (("roc_auc", "detector_auc.png"), ("average_precision", "detector_ap.png")):
        data = {p: {d: v[metric] for d, v in t["summary"].items()} for p, t in table["presets"].items()}
        seeds = {p: t["seeds"] for p, t in table["presets"].items()}
        fig = plotting.detector_summary(data, metric=metric,
                                        title=f"{metric} over seeds {seeds} (evaluation seeds)")
        fig.savefig(folder / name, dpi=110)
        plotting.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=["quick", "medium", "full"], action="append")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "bench")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "results")
    ap.add_argument("--figures", type=Path, default=REPO / "docs" / "figures")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--summarize", action="store_true", help="only aggregate existing runs")
    a = ap.parse_args()
    presets = a.preset or ["quick", "medium"]
    if not a.summarize:
        for preset in presets:
            for seed in a.seeds:
                info = run_seed(preset, seed, a.runs, a.threads)
                print(f"{preset} seed {seed}: {info['wall_s']} s, load {info['load_before']} -> "
                      f"{info['load_after']}", flush=True)
    table = summarize(a.runs, ["quick", "medium", "full"])
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "metrics.json").write_text(json.dumps(table, indent=1))
    figures(table, a.figures)
    print(markdown(table))


if __name__ == "__main__":
    main()
