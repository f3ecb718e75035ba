"""Pass rates of the stochastic hidden checks over many grader seeds.

A grader draws a secret seed per student, so every stochastic check must pass a right answer
and fail a catalogued bug whatever the seed. For each stochastic check of ``wgan_anomalies``
and ``score_matching`` this bench runs, over the same list of seeds:

- the reference solution and the VALID alternatives (``tests/grading/mutants_*.py``) of the
  cells the check exercises (an alternative of another cell leaves every object the probe uses
  identical to the reference's, hence the same figures): they must pass;
- the mutants that list the check in ``expected_failing``, and for the convergence checks the
  broken trainers listed in ``may_fail`` (``BROKEN_TRAINERS``): they must fail;

through the same challenge -> probe -> verdict path as grading (``protocol.prepare``, the probe
source, ``protocol.judge``), in process, on one torch thread (the full-size check uses what its
configuration says). Besides pass/fail it records the figures the verdict compares with their
bars, and prints per case the distribution (mean, sd, min, max) and an estimated tail
probability of landing on the wrong side of the bar:

- ``normal``: a normal law fitted to the seeds' values (mean, sd), ``P(wrong side)``;
- ``p-value``: for a p-value compared with ``P_MIN`` on a right answer, the exact bound
  ``P(p < P_MIN) <= P_MIN`` (Bonferroni-corrected p-values are valid p-values); for bugs the
  normal law of ``log10 p``.

A case's tail is the union bound over its bars for cases that must pass, and the smallest
per-bar probability of passing for cases that must fail (a bug passes only if it clears every
bar). Margins are in sd of the seeds' distribution: ``(bar - mean) / sd``.

Results are cached line by line (JSONL, keyed by check, case, seed and a fingerprint of the check's
sources and of the cells), so a run can be stopped and resumed, or split over processes with
``--shard i/k`` (appends are atomic lines).

Run (heavy: under ``nice -n 19``)::

    python bench/bench_check_pass_rates.py                      # every check, 50 seeds
    python bench/bench_check_pass_rates.py --checks training_converges_at_cpu_scale --seeds 50
    python bench/bench_check_pass_rates.py --json runs/pass_rates/results.json --report-only
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import inspect
import io
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "grading"))

import mutants_score_matching as msm  # noqa: E402
import mutants_wgan as mw  # noqa: E402

from reference_solution.course.notebook_namespace import build_namespace, solution_cells  # noqa: E402
from reference_solution.course.submissions import apply_mutation  # noqa: E402
from reference_solution.grading import codec, protocol  # noqa: E402
from reference_solution.grading import score_matching_matcher as smm  # noqa: E402
from reference_solution.grading import wgan_convergence as wcv  # noqa: E402
from reference_solution.grading.statistics import P_MIN, direction_uniformity_pvalue, ks_uniform_pvalue, norm_law_pvalue  # noqa: E402

FIRST_SEED = 1000  # seeds are FIRST_SEED, FIRST_SEED + 1, ...
CACHE = REPO / "runs" / "pass_rates" / "cache.jsonl"
MUTANT_SECONDS = 5.0  # probe limit for bugs of cheap checks (a right answer takes < 2 s; some bugs never end)
NORMAL = NormalDist()


# ---- figures: the numbers each verdict compares, with its bars ---------------------------------

@dataclass(frozen=True)
class Figure:
    value: float
    op: str  # "<", ">", "<=", ">=", "|<|" (absolute value below), "in" (limit is (low, high))
    limit: float | tuple
    kind: str = "normal"  # or "p-value" (value is log10 p, limit log10 P_MIN)

    def passes(self) -> bool:
        v = self.value
        if not math.isfinite(v):
            return False
        if self.op == "<":
            return v < self.limit
        if self.op == ">":
            return v > self.limit
        if self.op == "<=":
            return v <= self.limit
        if self.op == ">=":
            return v >= self.limit
        if self.op == "|<|":
            return abs(v) < self.limit
        low, high = self.limit
        return (low is None or v >= low) and (high is None or v <= high)


def _log10p(p: float) -> float:
    return math.log10(max(float(p), 1e-300))


LOG_PMIN = math.log10(P_MIN)


def _rows(got) -> np.ndarray:
    return np.asarray(got["rows"], dtype=np.float64)


def fig_sphere(ch, res):
    out = {}
    for case, got in zip(ch["cases"], res["runs"]):
        n = case["ndim"]
        p = direction_uniformity_pvalue(_rows(got), seed=ch["_seed"] + n)
        out[f"log10 p directions n={n}"] = Figure(_log10p(p), ">", LOG_PMIN, "p-value")
    return out


def fig_ball(ch, res):
    out = {}
    for case, got in zip(ch["cases"], res["runs"]):
        n, b = case["ndim"], _rows(got)
        out[f"log10 p norm law n={n}"] = Figure(_log10p(norm_law_pvalue(b, case["radius"])), ">", LOG_PMIN, "p-value")
        out[f"log10 p directions n={n}"] = Figure(
            _log10p(direction_uniformity_pvalue(b, seed=ch["_seed"] + n)), ">", LOG_PMIN, "p-value")
    return out


def fig_inner_outer(ch, res):
    out = {}
    # by the case's role, not its secret n: one figure per role collects every seed (a figure per n
    # would hold one or two seeds, and a normal law fitted to them says nothing)
    for role, case, got in zip(("small n", "n=128", "middle n"), ch["cases"], res["runs"]):
        n, r_in, r_out, count = case["ndim"], case["radius_inner"], case["radius_outer"], case["nsamples"]
        inner, outer = _rows(got["inner"]).reshape(-1, n), _rows(got["outer"]).reshape(-1, n)
        expected = (r_in / r_out) ** n
        sd = math.sqrt(expected * (1 - expected) / count)
        out[f"inner share z, {role}"] = Figure((len(inner) / count - expected) / sd, "|<|", 5.0)
        both = np.concatenate([inner, outer])
        out[f"log10 p norm law, {role}"] = Figure(_log10p(norm_law_pvalue(both, r_out)), ">", LOG_PMIN, "p-value")
        p = direction_uniformity_pvalue(both, seed=ch["_seed"] + n)
        out[f"log10 p directions, {role}"] = Figure(_log10p(p), ">", LOG_PMIN, "p-value")
    return out


def _rel(found, expected):
    return (float(found) - expected) / abs(expected)


def fig_penalty(ch, res):
    from reference_solution.grading.wgan_networks import _alphas

    case, got = ch["cases"][-1], res["cases"][-1]
    found = _alphas(got["seen"], case["real"], case["fake"])
    p = ks_uniform_pvalue(found[1]) if found is not None else 0.0
    return {"log10 p alpha ~ U(0,1)": Figure(_log10p(p), ">", LOG_PMIN, "p-value")}


def _accuracy_figure(ch, res, separation: bool) -> Figure:
    from reference_solution.grading.wgan_scoring import MIN_ACCURACY, _accuracy

    acc = _accuracy(ch, res)
    return Figure(max(acc, 1 - acc) if separation else acc, ">=", MIN_ACCURACY)


def fig_balanced(ch, res):
    from reference_solution.grading.wgan_scoring import LATENT, Q98

    z = np.concatenate([np.asarray(c, dtype=np.float64).reshape(-1, LATENT) for c in res["calls_z"]])
    share = float((np.linalg.norm(z, axis=1) > Q98).mean())
    limit = max(5 * math.sqrt(0.25 / len(z)), 0.05)
    return {"anomalous share - 1/2": Figure(share - 0.5, "|<|", limit),
            "accuracy on secret latents": _accuracy_figure(ch, res, separation=False)}


def fig_frozen(ch, res):
    return {"separation on secret latents": _accuracy_figure(ch, res, separation=True)}


def fig_forward(ch, res):
    f = smm.noise_figures(ch["cases"][4], res["cases"][4])
    return {"target spread - 1": Figure(f["spread"] - 1, "|<|", 0.05),
            "log10 p noise normal": Figure(_log10p(f["normal_p"]), ">", LOG_PMIN, "p-value"),
            "correlation": Figure(f["corr"], "|<|", 0.1),
            "repeated share": Figure(f["repeated"], "<", 0.01)}


def fig_dsm(ch, res):
    out = {}
    for case, got in zip(ch["cases"], res["cases"]):
        s = case["sigma"]
        y, delta, c = smm._forward_case(case, got)
        out[f"noise scale - 1 sigma={s:.3g}"] = Figure(float(delta.std()) / s - 1, "|<|", 0.05)
        if case.get("exact"):
            out[f"mean rel. error sigma={s}"] = Figure(
                _rel(y.astype(np.float64).mean(), 1 / (s**2 * (1 + s**2))), "|<|", smm.RTOL)
    return out


def _langevin_figures(case, got, shape, eta, drift: bool, prefix: str) -> dict:
    states, out = smm._states(got, shape)
    f = smm.langevin_figures(case, states, out)
    figures = {f"{prefix}noise spread / sqrt(eta) - 1": Figure(f["gamma"] / math.sqrt(eta) - 1, "|<|", smm.RTOL),
               f"{prefix}log10 p noise normal": Figure(_log10p(f["normal_p"]), ">", LOG_PMIN, "p-value"),
               f"{prefix}lag correlation": Figure(f["lag"], "|<|", 0.05)}
    if drift:
        limit = max(smm.RTOL * eta / 2, 8 * f["beta_se"])
        figures[f"{prefix}drift / limit"] = Figure((f["beta"] - eta / 2) / limit, "|<|", 1.0)
    return figures


def fig_langevin(ch, res):
    out = {}
    for i, (case, got) in enumerate(zip(ch["cases"], res["cases"])):
        out.update(_langevin_figures(case, got, case["x"].shape, case["eta"], True, f"case {i}: "))
    return out


def fig_sample(ch, res):
    out = {}
    for shape, run in zip(ch["shapes"], res["runs"]):
        out.update(_langevin_figures(ch, run, (700, *shape), ch["eta"], False, f"shape {shape}: "))
    return out


def fig_moons(ch, res):
    from reference_solution.coursekit import moons_quality as sq
    from reference_solution.grading import score_matching_training as smt

    samples, replayed = smt.sampled_and_replayed(ch, res)
    q = sq.sample_quality(samples)
    return {"log10 replay error / tolerance": Figure(math.log10(max(replayed.error, 1e-300)), "<=", 0.0),
            "lost share": Figure(q.lost_share, "<=", sq.MAX_LOST_SHARE),
            "moons distance": Figure(q.distance, "<", sq.MOONS_DISTANCE_THRESHOLD),
            "smaller moon share": Figure(q.smaller_share, ">=", sq.MIN_MOON_SHARE)}


def fig_training(ch, res):
    from reference_solution.grading import dsm_replay
    from reference_solution.grading import score_matching_training as smt

    trained = smt._weights(ch, res)
    replayed = dsm_replay.replay_reproduced(ch, res, trained)
    net = smt._network(trained)
    start = smt.probe_scope()["GraderScoreNet"](smt.HIDDEN)
    start.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ch["network"].items()})
    before, after = smt.dsm_loss(start, ch["_held_out"], ch["sigma"]), smt.dsm_loss(net, ch["_held_out"], ch["sigma"])
    return {"log10 replay error / tolerance": Figure(math.log10(max(replayed.error, 1e-300)), "<=", 0.0),
            "held-out loss drop": Figure(1 - after / before, ">", smt.MIN_LOSS_DROP)}


def _bar_figure(bar: wcv.Bar, value: float) -> Figure:
    if bar.low is not None and bar.high is not None:
        return Figure(value, "in", (bar.low, bar.high))
    return Figure(value, ">=", bar.low) if bar.low is not None else Figure(value, "<=", bar.high)


def convergence_figures(cfg: wcv.Convergence, raw: dict[str, float]) -> dict[str, Figure]:
    """The figures of a convergence run against ``cfg``'s current bars (the others for information)."""
    out = {bar.figure: _bar_figure(bar, raw.get(bar.figure, math.nan)) for bar in cfg.bars}
    out["descent"] = Figure(raw.get("descent", math.nan), ">=", cfg.min_descent)
    for key, value in raw.items():
        out.setdefault(key, Figure(value, "in", (None, None)))
    return out


def fig_convergence(cfg: wcv.Convergence):
    def figures(ch, res):
        return convergence_figures(cfg, wcv.convergence_figures_of(cfg, ch, res)[1])
    return figures


# ---- what to run ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    check: str
    assignment: str
    cells: tuple[str, ...]  # solution cells whose VALID alternatives can change the check's result
    figures: Callable[[dict, dict], dict[str, Figure]]
    extra_mutants: tuple[str, ...] = ()  # bugs that must fail besides those listing the check
    config: wcv.Convergence | None = None  # convergence: runs are re-judged against its current bars
    mutant_seconds: float | None = MUTANT_SECONDS  # None: the check's own limit


BROKEN_TRAINERS = ("wrong generator loss sign", "wrong critic loss sign", "penalty subtracted")
W, S = "wgan_anomalies", "score_matching"
SPECS = [
    Spec(mw.SPHERE, W, (mw.SAMP,), fig_sphere),
    Spec(mw.BALL, W, (mw.SAMP,), fig_ball),
    Spec(mw.INOUT, W, (mw.SAMP,), fig_inner_outer),
    Spec(mw.GP, W, (mw.GP_C,), fig_penalty),
    Spec(mw.BAL, W, (mw.TCLF,), fig_balanced),
    Spec(mw.FROZEN, W, (mw.TCLF,), fig_frozen),
    Spec(mw.CPU_CONV, W, (mw.TRAIN,), fig_convergence(wcv.CPU_SCALE),
         extra_mutants=BROKEN_TRAINERS, mutant_seconds=None, config=wcv.CPU_SCALE),
    # "trains at full size" (shapes, finite, a generator that changes, a critic not flat): a
    # broken trainer may pass it, learning is judged at 32 px
    Spec(mw.FULL, W, (mw.TRAIN,), fig_convergence(wcv.FULL_SIZE),
         mutant_seconds=None, config=wcv.FULL_SIZE),
    Spec(msm.FWD, S, (msm.CLASS,), fig_forward),
    Spec(msm.DSM, S, (msm.CLASS,), fig_dsm),
    Spec(msm.LANG, S, (msm.CLASS,), fig_langevin),
    Spec(msm.SAMPLE, S, (msm.CLASS,), fig_sample),
    Spec(msm.LOOP, S, (msm.TRAIN,), fig_training),
    Spec(msm.NEAR, S, (msm.CLASS, msm.TRAIN, msm.HYPER), fig_moons, mutant_seconds=None),
]
CATALOGUE = {W: mw, S: msm}


@dataclass(frozen=True)
class Case:
    name: str
    role: str  # "reference", "valid" (must pass), "mutant" (must fail)
    mutant: object = None


def cases(spec: Spec, include_may_fail: bool = False) -> list[Case]:
    cat = CATALOGUE[spec.assignment]
    out = [Case("reference", "reference")]
    out += [Case(m.name, "valid", m) for m in cat.VALID if m.cell_grade_id in spec.cells]
    for m in cat.MUTANTS:
        if spec.check in m.expected_failing or m.name in spec.extra_mutants:
            out.append(Case(m.name, "mutant", m))
        elif include_may_fail and spec.check in m.may_fail:
            out.append(Case(m.name, "may fail", m))
    return out


# ---- running ----------------------------------------------------------------------------------

def _replacements(spec: Spec, case: Case) -> dict[str, str]:
    cells = solution_cells(spec.assignment)
    reps = {}
    if case.mutant is not None:
        m = case.mutant
        reps[m.cell_grade_id] = apply_mutation(cells[m.cell_grade_id], m.old, m.new)
    return reps


def namespace(spec: Spec, case: Case) -> dict:
    """The case's namespace (score_matching: with the notebook's NUM_STEPS and ETA too)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        ns = build_namespace(spec.assignment, _replacements(spec, case), scoring=spec.check == mw.ANOM)
        if spec.assignment == S:
            exec(solution_cells(spec.assignment)["sampling_parameters"], ns)  # noqa: S102 - NUM_STEPS, ETA
    return ns


def fingerprint(spec: Spec, case: Case) -> str:
    """What the probe's data and the recorded figures depend on. For convergence checks the bars
    are left out (runs are re-judged against the current bars), so moving a bar needs no rerun."""
    check = protocol.registry()[spec.check]
    if spec.config is not None:
        code = [inspect.getsource(f) for f in (wcv.convergence_challenge, wcv.convergence_figures,
                                                wcv.convergence_structure, wcv.evaluate, wcv.descent)]
        code.append(repr(dataclasses.replace(spec.config, bars=())))
    else:
        code = [inspect.getsource(sys.modules[check.verdict.__module__]), inspect.getsource(spec.figures)]
    parts = code + [check.probe_file().read_text(), *(p.read_text() for p in protocol.PROBE_PARTS),
                    (REPO / "reference_solution" / "grading" / "statistics.py").read_text(),
                    json.dumps(solution_cells(spec.assignment), sort_keys=True)]
    if case.mutant is not None:
        parts.append(repr((case.mutant.cell_grade_id, case.mutant.old, case.mutant.new)))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def rejudge(spec: Spec, row: dict) -> dict:
    """A convergence run judged against the current bars: its structure held and every bar holds."""
    if spec.config is None or "raw" not in row:
        return row
    figures = convergence_figures(spec.config, row["raw"])
    bars_hold = all(figures[b.figure].passes() for b in spec.config.bars) and figures["descent"].passes()
    return {**row, "passed": bool(row["structural"] and bars_hold),
            "figures": {k: [f.value, f.op, f.limit, f.kind] for k, f in figures.items()}}


def run_once(spec: Spec, ns: dict, seed: int, seconds: float | None) -> dict:
    """Challenge, probe and verdict of ``spec.check`` on ``ns`` with ``seed``; figures too."""
    check = protocol.registry()[spec.check]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        # the whole check as grading runs it: the grader's challenge, the probe, the verdict
        wall0, cpu0 = time.monotonic(), time.process_time()
        folder = Path(tmp)
        challenge, challenge_path = protocol.prepare(check, folder, seed)
        result_path = folder / "out.json"
        started, cpu_started = time.monotonic(), time.process_time()
        timed_out = False
        threads = torch.get_num_threads()
        try:
            protocol.run_probe(check, ns, challenge_path, result_path, seconds)
        except AssertionError:
            timed_out = True
        finally:
            torch.set_num_threads(threads)
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_started
        if timed_out:
            return {"passed": False, "message": "time limit", "seconds": elapsed, "cpu_seconds": cpu, "figures": {}}
        try:
            protocol.judge(check, challenge, result_path)
            passed, message = True, ""
        except AssertionError as exc:
            passed, message = False, str(exc)[:300]
        extra = {"check_seconds": time.monotonic() - wall0, "check_cpu_seconds": time.process_time() - cpu0}
        figures = {}
        try:
            result = codec.read(str(result_path), protocol.MAX_RESULT_BYTES)
            if "failure" not in result:
                if spec.config is not None:
                    try:
                        extra["raw"] = wcv.convergence_figures_of(spec.config, challenge, result)[1]
                        extra["structural"] = True
                    except AssertionError:
                        extra["structural"] = False
                    extra["probe_seconds_training"] = float(result.get("seconds", math.nan))
                figures = {k: [f.value, f.op, f.limit, f.kind] for k, f in spec.figures(challenge, result).items()}
        except Exception:  # noqa: BLE001 - a bug's data may not even have the figures' form
            pass
    return {"passed": passed, "message": message, "seconds": elapsed, "cpu_seconds": cpu, "figures": figures,
            **extra}


def load_cache(path: Path) -> dict:
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interrupted run
            done[(row["check"], row["case"], row["seed"], row["fingerprint"])] = row
    return done


def append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(row, default=float) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


# ---- summary ----------------------------------------------------------------------------------

def _tail(values: list[float], op: str, limit, kind: str, must_pass: bool) -> float:
    """Estimated probability that one more seed lands on the wrong side of the bar."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    if must_pass and kind == "p-value":
        return P_MIN
    if len(v) < 2:
        return math.nan
    mean, sd = float(v.mean()), float(v.std(ddof=1))
    if sd == 0:  # the same value on every seed: the outcome does not depend on the seed
        p_pass = 1.0 if Figure(mean, op, limit, kind).passes() else 0.0
        return 1 - p_pass if must_pass else p_pass

    def below(x):
        return NORMAL.cdf((x - mean) / sd)

    if op in ("<", "<="):
        p_pass = below(limit)
    elif op in (">", ">="):
        p_pass = 1 - below(limit)
    elif op == "|<|":
        p_pass = below(limit) - below(-limit)
    else:
        low, high = limit
        p_pass = (below(high) if high is not None else 1.0) - (below(low) if low is not None else 0.0)
    p_pass = min(1.0, max(0.0, p_pass))
    return 1 - p_pass if must_pass else p_pass


def _margin(values, op, limit) -> float:
    """(bar - mean) / sd towards the nearer bar, in sd (positive: the mean is on the passing side)."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    if len(v) < 2 or v.std(ddof=1) == 0:
        return math.nan
    mean, sd = float(v.mean()), float(v.std(ddof=1))
    if op in ("<", "<="):
        return (limit - mean) / sd
    if op in (">", ">="):
        return (mean - limit) / sd
    if op == "|<|":
        return (limit - abs(mean)) / sd
    low, high = limit
    gaps = [g for g in ((mean - low) / sd if low is not None else None,
                        (high - mean) / sd if high is not None else None) if g is not None]
    return min(gaps) if gaps else math.nan


def summarize(rows: list[dict], role: str) -> dict:
    must_pass = role != "mutant" and role != "may fail"
    passes = sum(r["passed"] for r in rows)
    figures: dict[str, dict] = {}
    names = []
    for r in rows:
        for k in r["figures"]:
            if k not in names:
                names.append(k)
    for k in names:
        got = [r["figures"][k] for r in rows if k in r["figures"]]
        values = [float(g[0]) for g in got]
        op, limit, kind = got[0][1], got[0][2], got[0][3]
        limit = tuple(limit) if isinstance(limit, list) else limit
        finite = [x for x in values if math.isfinite(x)]
        barless = op == "in" and limit == (None, None)
        figures[k] = {"n": len(values), "op": op, "limit": limit, "kind": kind,
                      "mean": float(np.mean(finite)) if finite else math.nan,
                      "sd": float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan,
                      "min": min(finite) if finite else math.nan, "max": max(finite) if finite else math.nan,
                      "non_finite": len(values) - len(finite),
                      "margin_sd": math.nan if barless else _margin(values, op, limit),
                      "tail": math.nan if barless else _tail(values, op, limit, kind, must_pass)}
    barred = [f for f in figures.values() if not (f["op"] == "in" and f["limit"] == (None, None))]
    tails = [f["tail"] for f in barred if math.isfinite(f["tail"])]
    # failures the bars do not explain (an error, a wrong shape, a structural assertion)
    structural = sum(1 for r in rows if not r["passed"] and all(
        Figure(v, op, tuple(lim) if isinstance(lim, list) else lim, kind).passes()
        for v, op, lim, kind in r["figures"].values() if not (op == "in" and lim in ([None, None], (None, None)))))
    if must_pass:
        case_tail = sum(tails) if tails else math.nan
    elif structural == len(rows):
        case_tail = 0.0  # every run failed whatever its figures: the failure does not depend on the seed
    else:
        case_tail = min(tails) if tails else math.nan
    seconds = [r["seconds"] for r in rows]

    def spread(key):
        values = [r[key] for r in rows if key in r]
        return [float(np.mean(values)), float(max(values)), len(values)] if values else None

    return {"runs": len(rows), "passes": passes, "fail_rate": 1 - passes / len(rows) if rows else math.nan,
            "structural_failures": structural,
            "figures": figures, "tail": case_tail, "seconds_mean": float(np.mean(seconds)) if seconds else math.nan,
            "seconds_max": max(seconds) if seconds else math.nan,
            "check_seconds": spread("check_seconds"), "check_cpu_seconds": spread("check_cpu_seconds"),
            "messages": sorted({r["message"] for r in rows if r["message"]})[:3]}


def _fmt(x, digits=4) -> str:
    if isinstance(x, (tuple, list)):
        return "[" + ", ".join("-" if v is None else _fmt(v, digits) for v in x) + "]"
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and (abs(x) >= 1e4 or (0 < abs(x) < 1e-3)):
        return f"{x:.2e}"
    return f"{x:.{digits}g}"


def report(results: list[dict], out=sys.stdout, all_figures: bool = False) -> None:
    print("| check | case | role | runs | passes | fail rate | failures not from a bar | "
          "est. P(wrong outcome) | probe s (mean/max) | whole check: wall s, CPU s (mean/max) |", file=out)
    print("|---|---|---|---|---|---|---|---|---|---|", file=out)
    for r in results:
        s = r["summary"]
        whole = "-"
        if s.get("check_seconds"):
            (wm, wx, n), (cm, cx, _) = s["check_seconds"], s["check_cpu_seconds"]
            whole = f"{_fmt(wm, 3)}/{_fmt(wx, 3)}, {_fmt(cm, 3)}/{_fmt(cx, 3)} ({n} runs)"
        print(f"| {r['check']} | {r['case']} | {r['role']} | {s['runs']} | {s['passes']} | "
              f"{_fmt(s['fail_rate'], 3)} | {s['structural_failures']} | {_fmt(s['tail'], 2)} | "
              f"{_fmt(s['seconds_mean'], 3)}/{_fmt(s['seconds_max'], 3)} | {whole} |", file=out)
    print(file=out)
    print("| check | case | figure | bar | mean | sd | min | max | margin (sd) | tail (method) |", file=out)
    print("|---|---|---|---|---|---|---|---|---|---|", file=out)
    for r in results:
        for name, f in r["summary"]["figures"].items():
            bar = "-" if f["op"] == "in" and f["limit"] == (None, None) else f"{f['op']} {_fmt(f['limit'])}"
            if bar == "-" and not all_figures:
                continue
            method = "-" if bar == "-" else ("P_MIN bound" if f["kind"] == "p-value" and r["role"] in ("reference", "valid")  # noqa: E501
                                             else "normal")
            nonfinite = f" ({f['non_finite']} non-finite)" if f["non_finite"] else ""
            print(f"| {r['check']} | {r['case']} | {name} | {bar} | {_fmt(f['mean'])} | {_fmt(f['sd'])} | "
                  f"{_fmt(f['min'])} | {_fmt(f['max'])}{nonfinite} | {_fmt(f['margin_sd'], 3)} | "
                  f"{_fmt(f['tail'], 2)} ({method}) |", file=out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=50, help="seeds per case (default 50)")
    ap.add_argument("--first-seed", type=int, default=FIRST_SEED)
    ap.add_argument("--checks", default="", help="comma-separated check names (default: all)")
    ap.add_argument("--cases", default="", help="';'-separated case names (default: all)")
    ap.add_argument("--roles", default="reference,valid,mutant", help="also 'may fail'")
    ap.add_argument("--json", type=Path, help="write the results (summaries and every run) here")
    ap.add_argument("--cache", type=Path, default=CACHE, help=f"resumable results (default {CACHE.relative_to(REPO)})")
    ap.add_argument("--shard", default="0/1", help="i/k: run only work items j with j %% k == i")
    ap.add_argument("--report-only", action="store_true", help="summarize the cache, run nothing")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--all-figures", action="store_true", help="also print the figures no bar reads")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    wanted = {c for c in args.checks.split(",") if c}
    unknown = wanted - {s.check for s in SPECS}
    if unknown:
        ap.error(f"unknown checks {sorted(unknown)}; stochastic checks: {[s.check for s in SPECS]}")
    specs = [s for s in SPECS if not wanted or s.check in wanted]
    roles = {r.strip() for r in args.roles.split(",")}
    case_filter = {c.strip() for c in args.cases.split(";") if c.strip()}
    shard, shards = (int(x) for x in args.shard.split("/"))
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    cache = load_cache(args.cache)
    # every fingerprint and probe source now: edits made while this runs cannot mislabel its results
    work = []
    for spec in specs:
        check = protocol.registry()[spec.check]
        protocol.runner_source(check.probe_file())
        for case in cases(spec, include_may_fail="may fail" in roles):
            if case.role in roles and (not case_filter or case.name in case_filter):
                work.append((spec, case, fingerprint(spec, case)))
    results, item = [], 0
    for spec, case, fp in work:
        rows, ns = [], None
        for seed in seeds:
            key = (spec.check, case.name, seed, fp)
            mine = item % shards == shard
            item += 1
            if key in cache:
                rows.append(rejudge(spec, cache[key]))
                continue
            if args.report_only or not mine:
                continue
            limit = spec.mutant_seconds if case.role in ("mutant", "may fail") else None
            started = time.monotonic()
            try:
                if ns is None:
                    ns = namespace(spec, case)
            except Exception as exc:  # noqa: BLE001 - a bug may break the notebook's own cells
                out = {"passed": False, "message": f"the notebook's cells raised {type(exc).__name__}: {exc}"[:300],
                       "seconds": time.monotonic() - started, "figures": {}}
            else:
                torch.manual_seed(seed)
                np.random.seed(seed % 2**32)
                out = run_once(spec, ns, seed, limit)
            row = {"check": spec.check, "case": case.name, "role": case.role, "seed": seed,
                   "fingerprint": fp, **out}
            append(args.cache, row)
            row = rejudge(spec, row)
            rows.append(row)
            status = "pass" if out["passed"] else "FAIL"
            print(f"{spec.check} | {case.name} | seed {seed}: {status} {out['seconds']:.1f} s "
                  f"{out['message'][:100]}", file=sys.stderr, flush=True)
        if rows:
            results.append({"check": spec.check, "case": case.name, "role": case.role,
                            "seeds": [r["seed"] for r in rows], "summary": summarize(rows, case.role),
                            "runs": rows})
    report(results, all_figures=args.all_figures)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=float))
    bad = [r for r in results if (r["role"] in ("reference", "valid") and r["summary"]["passes"] < r["summary"]["runs"])
           or (r["role"] == "mutant" and r["summary"]["passes"] > 0)]
    for r in bad:
        print(f"SHORT: {r['check']} | {r['case']} ({r['role']}): {r['summary']['passes']}/{r['summary']['runs']} passed",  # noqa: E501
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
