"""Forged results judged in process: every check refuses data a correct implementation did not
compute from its secret inputs (no kernel, no nbgrader: ``protocol.prepare`` -> a forged result
file with the challenge's nonce -> ``protocol.judge``).

For every check of ``protocol.registry()`` except the network checks (being rewritten) and the
one declared unverifiable (``NOT_JUDGED``):

- a positive control: the reference's own result (its probe run on the reference namespace)
  passes, so that the refusals below mean something;
- generic forgeries of that honest result: empty, the nonce alone, the wrong nonce, every list
  emptied, every array NaN / inf / zeros / random / flattened / truncated, the last case dropped,
  a bool wherever a number goes; each must raise ``AssertionError`` (a verdict crashing with
  another exception fails the test: under nbgrader it would escape the executor);
- the forgers of ``tests/course/forger_catalogue.py``: the data each one's cell would send (its
  ``forge`` on the challenge, or the real probe on its fakes of the notebook's names), for every
  grade id of its family; a forger known to earn a grade id (a hole, ``Forger.earns``) is
  ``xfail(strict=True)``;
- a few forgeries of our own per check (memorised tables, honest data made subtly wrong).

The convergence and sampling checks train and sample networks in their verdicts (seconds to
minutes each): their cases are ``slow``.
"""

from __future__ import annotations

import copy
import functools
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from reference_solution.grading import codec, protocol

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "course"))
from forger_catalogue import _CHI_TABLE, FAMILIES, FORGERS, NOT_JUDGED, scope_of  # noqa: E402

SEED = 20261203
EXCLUDED = {g for ids in NOT_JUDGED.values() for g in ids}
SLOW = {"training_converges_at_cpu_scale", "training_works_at_full_size", "samples_land_near_the_moons"}
ASSIGNMENT = {g: a for a, families in FAMILIES.items() for ids in families.values() for g in ids}
CHECKS = [name for name in protocol.registry() if name not in EXCLUDED]
# the slow checks' generic forgeries start from a well-formed result that fails anyway (the
# secret start sent back), not from an honest run of minutes
CHEAP_BASE = {"training_converges_at_cpu_scale": "convergence_initial_weights_returned",
              "training_works_at_full_size": "convergence_initial_weights_returned",
              "samples_land_near_the_moons": "sampling_initial_network_after_the_probe"}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _marks(name: str) -> list:
    return [pytest.mark.slow] if name in SLOW else []


def test_every_judged_check_is_covered_by_a_family():
    assert set(CHECKS) == set(ASSIGNMENT), (set(CHECKS) ^ set(ASSIGNMENT))


# -- challenges, honest results --------------------------------------------------------------------

_TMP = tempfile.mkdtemp(prefix="forged-")


def teardown_module(module):
    shutil.rmtree(_TMP, ignore_errors=True)


@functools.cache
def namespace(assignment: str) -> dict:
    from reference_solution.course.notebook_namespace import build_namespace

    ns = build_namespace(assignment)
    if assignment == "score_matching":
        ns.update(NUM_STEPS=1000, ETA=0.01)  # the sampling_parameters cell (not in the reference namespace)
    return ns


@functools.cache
def _notebook(kind: str, assignment: str):
    import nbformat

    return nbformat.read(str(REPO / kind / assignment / f"{assignment}.ipynb"), as_version=4)


def forger_submission(forger, name: str) -> tuple:
    """The forger's notebook as nbgrader's process sees it: the blank release's solution cells,
    those the forger fills (settings) filled."""
    cells = dict(protocol.Context.of_submission(_notebook("release", ASSIGNMENT[name])).cells)
    cells.update(forger.fills)
    return tuple(sorted(cells.items()))


def context(name: str, who) -> protocol.Context:
    """What nbgrader's process knows of the submission: the reference's cells (the source
    notebook), the blank release's (a forger's notebook) or ``who``'s own (grade id, source) pairs."""
    if isinstance(who, tuple):
        return protocol.Context(cells=dict(who), submitted=True)
    nb = _notebook("source" if who == "reference" else "release", ASSIGNMENT[name])
    return protocol.Context.of_submission(nb)


@functools.cache
def drawn(name: str, who="reference") -> tuple[dict, Path, dict]:
    """(the trusted challenge, its file, what the kernel reads) of ``name`` at SEED for the
    submission ``who`` (see ``context``), drawn once."""
    folder = Path(tempfile.mkdtemp(prefix=f"{name[:20]}-", dir=_TMP))
    challenge, path = protocol.prepare(protocol.registry()[name], folder, SEED, context(name, who))
    return challenge, path, codec.read(str(path), 1 << 31)


def _result_path(name: str) -> Path:
    return Path(tempfile.mkstemp(prefix="result-", suffix=".json", dir=Path(drawn(name)[1]).parent)[1])


@functools.cache
def honest(name: str) -> dict:
    """The reference's result for the drawn challenge, its nonce removed."""
    challenge, path, _ = drawn(name)
    out = _result_path(name)
    out.unlink()
    check = protocol.registry()[name]
    protocol.run_probe(check, namespace(ASSIGNMENT[name]), path, out)
    result = codec.read(str(out), protocol.MAX_RESULT_BYTES)
    result.pop("nonce", None)
    return result


def verdict(name: str, data, nonce: str | None = "right", who="reference") -> None:
    """Write ``data`` (with the challenge's nonce unless told otherwise) and judge it."""
    challenge, _, _ = drawn(name, who)
    if isinstance(data, dict) and nonce is not None:
        data = {**data, "nonce": challenge["nonce"] if nonce == "right" else nonce}
    out = _result_path(name)
    out.unlink()
    codec.write(str(out), data)
    protocol.judge(protocol.registry()[name], challenge, out)


def refused(name: str, data, nonce: str | None = "right") -> None:
    with pytest.raises(AssertionError):
        verdict(name, data, nonce)


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in CHECKS])
def test_reference_result_passes(name):
    verdict(name, honest(name))


# -- generic forgeries -------------------------------------------------------------------------------

def _map(tree, leaf):
    """``tree`` with every leaf ``x`` replaced by ``leaf(x)`` (dicts and lists rebuilt)."""
    if isinstance(tree, dict):
        return {k: _map(v, leaf) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_map(v, leaf) for v in tree]
    return leaf(tree)


def _arrays(fn):
    return lambda tree: _map(tree, lambda x: fn(x) if isinstance(x, np.ndarray) else x)


def _float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) if x.dtype.kind != "f" else x.copy()


def _lists_emptied(tree):
    if isinstance(tree, dict):
        return {k: _lists_emptied(v) for k, v in tree.items()}
    return [] if isinstance(tree, list) else tree


def _case_dropped(tree):
    for key, value in tree.items():
        if isinstance(value, list) and value:
            return {**tree, key: value[:-1]}
    return tree


def _numbers_as_bools(tree):
    return _map(tree, lambda x: True if isinstance(x, (int, float)) and not isinstance(x, bool) else x)


_RNG = np.random.default_rng(0)
GENERIC = {
    "empty dict": lambda r: {},
    "lists emptied": _lists_emptied,
    "arrays NaN": _arrays(lambda x: np.full(x.shape, np.nan, _float(x).dtype)),
    "arrays inf": _arrays(lambda x: np.full(x.shape, np.inf, _float(x).dtype)),
    "arrays zeros": _arrays(np.zeros_like),
    "arrays random": _arrays(lambda x: _RNG.random(x.shape).astype(_float(x).dtype)),
    "arrays flattened": _arrays(lambda x: x.reshape(-1).copy() if x.ndim > 1 else x.reshape(1, -1).copy()),
    "arrays truncated": _arrays(lambda x: x[: len(x) // 2].copy() if x.ndim else x.reshape(1).copy()),
    "last case dropped": _case_dropped,
    "numbers as bools": _numbers_as_bools,
}


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
            and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def base_result(name: str) -> dict:
    if name in CHEAP_BASE:
        forger = next(f for f in FORGERS if f.name == CHEAP_BASE[name])
        return forged_data(forger, name)
    return honest(name)


# transformations that keep all a check verifies (its docstring leaves shapes to another check, or
# the arrays hold one number): the data are still what only a correct implementation computes
LOSSLESS = {("ds_reads_files_memory_mapped", "arrays flattened"),
            ("ds_rejects_missing_and_mismatched_files", "arrays flattened"),
            # an elementwise optimizer steps flattened parameters alike (which parameters exist is trusted)
            ("optimizers_cover_each_network", "arrays flattened"),
            # the classifier's graph with other weights is still a classifier (its weights are free here)
            ("classifier_outputs_one_logit_per_sample", "arrays random")}


# verdicts that read nothing but the nonce from the kernel (under nbgrader the values come from the
# submitted cell's source: test_settings_are_read_from_the_submitted_cell)
KERNEL_FREE = {"hyperparameters_within_the_seed_bounds"}


@pytest.mark.parametrize("forgery", list(GENERIC))
@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in CHECKS])
def test_generic_forgery_is_refused(name, forgery):
    base = base_result(name)
    forged = GENERIC[forgery](copy.deepcopy(base))
    if _same(forged, base):
        pytest.skip(f"the result of {name} holds nothing this forgery changes")
    if name in KERNEL_FREE:
        verdict(name, forged)  # the submitted cell decides, not what the kernel wrote
        return
    if (name, forgery) in LOSSLESS:
        verdict(name, forged)  # passes: still what only a correct implementation computes
        return
    refused(name, forged)


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in CHECKS])
def test_nonce_alone_wrong_nonce_and_no_nonce_are_refused(name):
    if name not in KERNEL_FREE:
        refused(name, {})
    refused(name, honest(name) if name not in CHEAP_BASE else base_result(name), nonce="0" * 32)
    refused(name, honest(name) if name not in CHEAP_BASE else base_result(name), nonce=None)
    refused(name, [base_result(name)])


# -- the catalogue's forgers ---------------------------------------------------------------------------

def forged_data(forger, name: str) -> dict:
    """What ``forger``'s cell sends for check ``name``: its ``forge`` on the challenge, or the
    real probe run on its fakes of the notebook's names. A forger that does not claim the probe
    leaves the blank's failure."""
    check = protocol.registry()[name]
    challenge, path, sent = drawn(name, forger_submission(forger, name))
    scope = scope_of(forger)
    if scope["forge"] is not None:
        names = scope.get(f"_NAMES_{forger.suffix}", ())
        if check.function not in names or not scope["claims"](check.function, sent):
            return {"failure": "not claimed"}
        out = _result_path(name)
        scope["state"]["code"] = protocol.kernel_code(check, str(path), str(out))
        return scope["forge"](check.function, copy.deepcopy(sent))
    out = _result_path(name)
    out.unlink()
    ns = {k: v for k, v in scope.items() if not k.startswith("__")}
    protocol.run_probe(check, ns, path, out)
    result = codec.read(str(out), protocol.MAX_RESULT_BYTES)
    result.pop("nonce", None)
    return result


def _forger_cases():
    for forger in FORGERS:
        if forger.patches_process:
            continue
        for name in FAMILIES[forger.assignment][forger.family]:
            marks = _marks(name)
            if forger.family in ("convergence", "sampling"):
                marks = [pytest.mark.slow]
            if name in forger.earns:
                marks = [*marks, pytest.mark.xfail(strict=True, raises=AssertionError,
                                                   reason=f"HOLE: {forger.earns[name]}")]
            yield pytest.param(forger, name, marks=marks, id=f"{forger.name}-{name}")


@pytest.mark.parametrize(("forger", "name"), list(_forger_cases()))
def test_forger_data_is_refused(forger, name):
    """Reaching the end of the test means the verdict refused the forged data; a forger listed
    as earning the grade id fails here (xfail) while the hole is open."""
    data = forged_data(forger, name)
    try:
        verdict(name, data, who=forger_submission(forger, name))
    except AssertionError:
        return
    raise AssertionError(f"{forger.name} earned {name}")


# -- forgeries of our own ---------------------------------------------------------------------------------

def _chi_table(sent):
    n = sent["overrides"]["latent_dim"]
    q = _CHI_TABLE[n]
    return {"original": {"latent_dim": {"value": 128}, "chi_p98": {"value": _CHI_TABLE[128]},
                         "R_INNER": {"value": _CHI_TABLE[128]}, "R_OUTER": {"value": _CHI_TABLE[128] * 2 ** (1 / 128)}},
            "rerun": {"chi_p98": {"value": q}, "R_INNER": {"value": q}, "R_OUTER": {"value": q * 2 ** (1 / n)}}}


def _honest_edit(name: str, edit):
    def forge(sent):
        result = copy.deepcopy(honest(name))
        edit(result, sent)
        return result
    return forge


def _set(path, value):
    def edit(result, sent):
        tree = result
        for key in path[:-1]:
            tree = tree[key]
        tree[path[-1]] = value(tree[path[-1]]) if callable(value) else value
    return edit


def _toy_replay(gen_sign):
    forger = next(f for f in FORGERS if f.name == "training_probe_answered_with_the_toy_recurrence")
    replay = scope_of(forger)[f"_replay_{forger.suffix}"]
    return lambda sent: {"runs": [replay(run, gen_sign) for run in sent["runs"]]}


def _shuffled(x):
    return x[np.random.default_rng(1).permutation(len(x))].copy()


OWN = {
    "chi_quantile_is_right": [
        ("memorised table of chi.ppf(0.98, n) for n = 16..512", _chi_table, None),
        ("the value for 128 reported for the secret re-run too",
         _honest_edit("chi_quantile_is_right",
                      _set(("rerun",), lambda r: copy.deepcopy(honest("chi_quantile_is_right")["original"]))), None),
    ],
    "rejection_probability_balances_the_gaussian_scheme": [
        ("first-order formula 2 QUANTILE - 1", _honest_edit(
            "rejection_probability_balances_the_gaussian_scheme",
            lambda r, s: r["rerun"]["P_REJECT_INNER"].update(value=2 * s["overrides"]["QUANTILE"] - 1)), None),
    ],
    "critic_and_generator_losses_have_the_right_signs": [
        ("toy recurrence replayed with the generator's sign flipped", _toy_replay(-1.0), None),
    ],
    "training_masks_real_and_generated_samples": [
        ("honest toy runs, the general networks sent back untrained", _honest_edit(
            "training_masks_real_and_generated_samples",
            lambda r, s: r["general"].update(generator=copy.deepcopy(s["general"]["generator"]),
                                             critic=copy.deepcopy(s["general"]["critic"]))), None),
        ("honest, the general run's log without its penalty calls", _honest_edit(
            "training_masks_real_and_generated_samples",
            lambda r, s: r["general"].update(events=[e for e in r["general"]["events"] if e[0] != "P"])), None),
    ],
    "training_runs_n_critic_critic_steps_per_generator_step": [
        ("honest parameters, one generator step dropped from the log", _honest_edit(
            "training_runs_n_critic_critic_steps_per_generator_step",
            lambda r, s: r["runs"][0]["steps"].remove(next(st for st in r["runs"][0]["steps"] if st[0] == "g"))), None),
    ],
    "ds_items_are_masked_two_channel_tensors": [
        ("honest items with the channels swapped", _honest_edit(
            "ds_items_are_masked_two_channel_tensors",
            lambda r, s: r["cases"][0].update(items=[x[::-1].copy() for x in r["cases"][0]["items"]])), None),
        ("honest items as float64", _honest_edit(
            "ds_items_are_masked_two_channel_tensors",
            lambda r, s: r["cases"][0].update(items=[x.astype(np.float64) for x in r["cases"][0]["items"]])), None),
    ],
    "ds_rejects_missing_and_mismatched_files": [
        ("every case answered like a valid one", _honest_edit(
            "ds_rejects_missing_and_mismatched_files",
            lambda r, s: r.update(outcomes=[next(o for o in r["outcomes"] if "item" in o)] * len(r["outcomes"]))),
         None),
    ],
    "gradient_penalty_matches_a_known_critic": [
        ("honest values, interpolates moved off the segment", _honest_edit(
            "gradient_penalty_matches_a_known_critic",
            lambda r, s: [c.update(seen=[x + 1e-3 for x in c["seen"]]) for c in r["cases"]]), None),
        ("honest values, gradients w.r.t. the critic zero", _honest_edit(
            "gradient_penalty_matches_a_known_critic",
            lambda r, s: [c.update(grad=[np.zeros_like(g) for g in c["grad"]]) for c in r["cases"] if "grad" in c]),
         None),
    ],
    "classifier_training_keeps_the_generator_frozen": [
        ("honest, but the generator ran in train mode once", _honest_edit(
            "classifier_training_keeps_the_generator_frozen",
            lambda r, s: r["calls_training"].__setitem__(0, True)), None),
    ],
    "classifier_trains_on_balanced_masked_batches": [
        ("honest final weights, the trail flat at the secret start (one jump)", _honest_edit(
            "classifier_trains_on_balanced_masked_batches",
            lambda r, s: r.update(weights_seen=[r["weights_seen"][0]] * len(r["weights_seen"]))), None),
        ("honest trail run backwards", _honest_edit(
            "classifier_trains_on_balanced_masked_batches",
            lambda r, s: r.update(weights_seen=r["weights_seen"][::-1])), None),
        ("honest, a weight outside the mask moved", _honest_edit(
            "classifier_trains_on_balanced_masked_batches",
            _set(("classifier", "1.weight"), lambda w: np.where(np.tile(s_outside(), 2)[None], w + 1e-3, w)
                 .astype(w.dtype))), None),
    ],
    "anomalies_are_indices_above_the_threshold": [
        ("honest probabilities shuffled", _honest_edit(
            "anomalies_are_indices_above_the_threshold", _set(("probs",), _shuffled)), None),
        ("honest, one anomaly missing", _honest_edit(
            "anomalies_are_indices_above_the_threshold", _set(("idx",), lambda i: i[1:].copy())), None),
    ],
    "forward_returns_per_element_dsm_error": [
        ("honest, the second call's noise replayed from the first", _honest_edit(
            "forward_returns_per_element_dsm_error",
            lambda r, s: r["cases"][4].update(seen_again=copy.deepcopy(r["cases"][4]["seen"]))), None),
    ],
    "langevin_step_matches_the_update_rule": [
        ("honest chains, the start replaced", _honest_edit(
            "langevin_step_matches_the_update_rule",
            lambda r, s: r["cases"][0]["seen"].__setitem__(0, r["cases"][0]["seen"][0] + 0.1)), None),
    ],
    "sample_returns_detached_samples": [
        ("honest, but the samples keep their graph", _honest_edit(
            "sample_returns_detached_samples", lambda r, s: r["runs"][0].update(requires_grad=True, graph=True)), None),
        ("honest, in float64", _honest_edit(
            "sample_returns_detached_samples", lambda r, s: r["runs"][0].update(dtype="torch.float64")), None),
    ],
    "training_loop_updates_the_model": [
        ("honest network, the scheduler stepped per batch", _honest_edit(
            "training_loop_updates_the_model", _set(("scheduler_steps",), lambda n: n * 5)), None),
        ("the secret start sent back", _honest_edit(
            "training_loop_updates_the_model", lambda r, s: r.update(network=s["network"])), None),
    ],
}


def s_outside() -> np.ndarray:
    challenge = drawn("classifier_trains_on_balanced_masked_batches")[0]
    return challenge["mask"].reshape(-1) == 0


def _own_cases():
    for name, cases in OWN.items():
        for label, forge, hole in cases:
            marks = _marks(name)
            if hole:
                marks = [*marks, pytest.mark.xfail(strict=True, raises=AssertionError, reason=hole)]
            yield pytest.param(name, forge, marks=marks, id=f"{name}-{label.replace(' ', '_')}")


@pytest.mark.parametrize(("name", "forge"), list(_own_cases()))
def test_own_forgery_is_refused(name, forge):
    data = forge(drawn(name)[2])
    try:
        verdict(name, data)
    except AssertionError:
        return
    raise AssertionError(f"the forgery earned {name}")


SETTINGS = ("BATCH_SIZE = 256\nEPOCHS = 100\nLR = 5e-3\nHIDDEN_SIZE = 128\nSIGMA = 0.2\n")


@pytest.mark.parametrize(("cell", "passes"), [
    (SETTINGS, True),
    ("BATCH_SIZE, EPOCHS = 2 ** 8, 120\nLR = 1e-3 * 5  # > 1e-3\nHIDDEN_SIZE: int = 64\nSIGMA = LR * 40\n", True),
    (SETTINGS.replace("EPOCHS = 100", "EPOCHS = 50"), False),
    (SETTINGS.replace("SIGMA = 0.2", "SIGMA = 1.0"), False),
    (SETTINGS.replace("BATCH_SIZE = 256", "BATCH_SIZE = 256.0"), False),
    (SETTINGS.replace("EPOCHS = 100", "EPOCHS = int('100')"), False),
    (SETTINGS.replace("LR = 5e-3\n", ""), False),
    ("# YOUR CODE HERE\nraise NotImplementedError()", False),
])
def test_settings_are_read_from_the_submitted_cell(cell, passes):
    """Under nbgrader the settings come from the submitted cell's source, whatever the kernel says."""
    name = "hyperparameters_within_the_seed_bounds"
    who = (("hyperparameters", cell),)
    claimed = {k: {"kind": type(v).__name__, "value": v}
               for k, v in {"BATCH_SIZE": 256, "EPOCHS": 100, "LR": 5e-3, "HIDDEN_SIZE": 128, "SIGMA": 0.2}.items()}
    if passes:
        verdict(name, claimed, who=who)
    else:
        with pytest.raises(AssertionError):
            verdict(name, claimed, who=who)


def test_own_forgeries_cover_most_checks():
    assert len(set(OWN) & set(CHECKS)) >= 14
    assert all(math.isfinite(v) for v in _CHI_TABLE.values())
