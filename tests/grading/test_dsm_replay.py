"""The replay of denoising score-matching training (``grading/dsm_replay.py``).

The student's ``train_model`` trains the grader's network in the training check's probe; the
replay must reproduce the reference's run and a loop's own bugs as they are (they are the other
measurements' business), and refuse training by anything but the given Adam on the denoising loss,
and a log edited after the run.
"""

from __future__ import annotations

import copy
import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest

from reference_solution.grading import codec, dsm_replay, protocol
from reference_solution.grading import score_matching_training as smt

NAME, SEED = "training_loop_updates_the_model", 20261203

pytestmark = pytest.mark.usefixtures("one_torch_thread")

_HEAD = '''
def train_model(matcher, train_loader, test_loader, epochs=1, optimizer=None, scheduler=None, device=None,
                progress=True):
'''
LOOPS = {
    "reference": '''
    for _ in range(epochs):
        for x in train_loader:
            loss = matcher.loss(x)["total_loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
''',
    # the bugs below are replayed as they are: the loss drop and the step count judge them
    "no zero_grad": '''
    for _ in range(epochs):
        for x in train_loader:
            matcher.loss(x)["total_loss"].backward()
            optimizer.step()
        scheduler.step()
''',
    "step before backward, zeroed to zeros, scheduler per batch": '''
    for _ in range(epochs):
        for x in train_loader:
            optimizer.zero_grad(set_to_none=False)
            optimizer.step()
            matcher.loss(x)["total_loss"].backward()
            scheduler.step()
''',
    "a test-loss forward with gradients, and training on the test loader too": '''
    for _ in range(epochs):
        for loader in (train_loader, test_loader):
            for x in loader:
                matcher.loss(x)["total_loss"]
                optimizer.zero_grad()
                matcher.loss(x)["total_loss"].backward()
                optimizer.step()
        scheduler.step()
''',
}
FORGED = {
    "an Adam of its own": '''
    own = torch.optim.Adam(matcher.parameters(), lr=1e-2)
    for _ in range(epochs):
        for x in train_loader:
            own.zero_grad()
            matcher.loss(x)["total_loss"].backward()
            own.step()
        scheduler.step()
''',
    "the given Adam on a loss without noise (regression onto a Gaussian's score)": '''
    for _ in range(epochs):
        for x in train_loader:
            target = -(x - x.mean(0)) / x.var(0)
            optimizer.zero_grad()
            ((matcher.score_model(x) - target) ** 2).mean(0).sum().backward()
            optimizer.step()
        scheduler.step()
''',
    "the given Adam on the exact score of a kernel density estimate, at the noisy batches": '''
    pts = torch.cat(list(train_loader)).double()
    for _ in range(epochs):
        for x in train_loader:
            q = (x + matcher.sigma * torch.randn_like(x)).double()
            w = torch.softmax(-((q[:, None, :] - pts[None]) ** 2).sum(-1) / (2 * matcher.sigma ** 2), dim=1)
            target = ((w @ pts - q) / matcher.sigma ** 2).float()
            optimizer.zero_grad()
            ((matcher.score_model(q.float()) - target) ** 2).mean(0).sum().backward()
            optimizer.step()
        scheduler.step()
''',
    "the given Adam on twice the loss at every other batch": '''
    for _ in range(epochs):
        for i, x in enumerate(train_loader):
            optimizer.zero_grad()
            ((1 + i % 2) * matcher.loss(x)["total_loss"]).backward()
            optimizer.step()
        scheduler.step()
''',
    "plain gradient steps by hand": '''
    for _ in range(epochs):
        for x in train_loader:
            optimizer.zero_grad()
            matcher.loss(x)["total_loss"].backward()
            with torch.no_grad():
                for p in matcher.parameters():
                    p -= 1e-2 * p.grad
        scheduler.step()
''',
}


@functools.cache
def _namespace() -> dict:
    from reference_solution.course.notebook_namespace import build_namespace

    return build_namespace("score_matching")


@functools.cache
def drawn() -> tuple[dict, Path]:
    folder = Path(tempfile.mkdtemp(prefix="dsm-replay-"))
    return protocol.prepare(protocol.registry()[NAME], folder, SEED, protocol.Context())


def result_of(loop: str) -> dict:
    ns = dict(_namespace())
    exec(_HEAD + loop, ns)  # noqa: S102 - a test's own loop
    _, path = drawn()
    out = Path(tempfile.mkdtemp(prefix="dsm-result-")) / "result.json"
    protocol.run_probe(protocol.registry()[NAME], ns, path, out)
    result = codec.read(str(out), protocol.MAX_RESULT_BYTES)
    assert "network" in result, result
    return result


def replay(result: dict) -> dsm_replay.Replayed:
    challenge, _ = drawn()
    return dsm_replay.replay_reproduced(challenge, result, result["network"])


@pytest.mark.parametrize("loop", list(LOOPS), ids=lambda s: s.replace(" ", "_"))
def test_loops_are_replayed_as_they_are(loop):
    assert replay(result_of(LOOPS[loop])).steps >= 1


@pytest.mark.parametrize("loop", list(FORGED), ids=lambda s: s.replace(" ", "_"))
def test_other_training_is_refused(loop):
    with pytest.raises(AssertionError):
        replay(result_of(FORGED[loop]))


def _edited(edit) -> dict:
    result = copy.deepcopy(result_of(LOOPS["reference"]))
    edit(result["log"])
    return result


EDITS = {
    "inputs moved by 1e-3": lambda log: log.__setitem__("inputs", log["inputs"] + np.float32(1e-3)),
    "fetched rows shifted by one": lambda log: log.__setitem__("fetched", np.roll(log["fetched"], 1)),
    "a backward pass dropped": lambda log: log.__setitem__("events", np.delete(log["events"], 0, axis=0)),
    "a learning rate off the schedule": lambda log: log["lrs"].__setitem__(0, log["lrs"][0] * 1.5),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=lambda s: s.replace(" ", "_"))
def test_an_edited_log_is_refused(edit):
    with pytest.raises(AssertionError):
        replay(_edited(EDITS[edit]))


@functools.cache
def sampling_run() -> tuple[dict, dict]:
    """(challenge, result) of the sampling check's probe on the reference: a run long enough to
    hold weight snapshots."""
    ns = {**_namespace(), "NUM_STEPS": 1000, "ETA": 0.01}
    folder = Path(tempfile.mkdtemp(prefix="dsm-sampling-"))
    challenge, path = protocol.prepare(protocol.registry()["samples_land_near_the_moons"], folder, SEED,
                                       protocol.Context())
    protocol.run_probe(protocol.registry()["samples_land_near_the_moons"], ns, path, folder / "result.json")
    return challenge, codec.read(str(folder / "result.json"), protocol.MAX_RESULT_BYTES)


def replay_sampling(result: dict) -> dsm_replay.Replayed:
    challenge, _ = sampling_run()
    ns = _namespace()
    return dsm_replay.replay_reproduced({**challenge, "lr": ns["LR"], "sigma": ns["SIGMA"]}, result,
                                        result["network"])


# (dropping a snapshot with its step leaves a valid log: the replay then runs on to the next one)
SNAPSHOT_EDITS = {
    "a snapshot replaced by the start": lambda log: log["snapshots"].__setitem__(0, sampling_run()[0]["network"]),
    "a snapshot moved by 0.1 % of its largest weight": lambda log: log["snapshots"].__setitem__(
        3, {k: v + np.float32(1e-3) * np.abs(v).max() for k, v in log["snapshots"][3].items()}),
}


def test_the_sampling_run_has_snapshots_and_replays():
    _, result = sampling_run()
    assert len(result["log"]["snapshots"]) >= 4
    assert replay_sampling(result).steps == len(result["log"]["lrs"])


@pytest.mark.parametrize("edit", list(SNAPSHOT_EDITS), ids=lambda s: s.replace(" ", "_"))
def test_an_edited_snapshot_is_refused(edit):
    result = copy.deepcopy(sampling_run()[1])
    SNAPSHOT_EDITS[edit](result["log"])
    with pytest.raises(AssertionError):
        replay_sampling(result)


def test_returned_weights_must_be_the_replays():
    result = result_of(LOOPS["reference"])
    moved = {k: v + np.float32(2e-2) * np.abs(v).max() for k, v in result["network"].items()}
    challenge, _ = drawn()
    with pytest.raises(AssertionError):
        dsm_replay.replay_reproduced(challenge, result, moved)


@pytest.mark.parametrize("settings", [{"LR": 0.02}, {"BATCH_SIZE": 16}], ids=["LR_0.02", "BATCH_SIZE_16"])
def test_settings_beyond_the_replay_fail_with_the_reason(settings):
    """Outside LR <= 0.01, BATCH_SIZE >= 32 the training may be chaotic: the check says so, before training."""
    ns = {**_namespace(), "NUM_STEPS": 1000, "ETA": 0.01, **settings}
    with pytest.raises(AssertionError, match="replays your training step by step"):
        protocol.run_in_process("samples_land_near_the_moons", ns, seed=SEED, seconds=20)
    cells = {"hyperparameters": "BATCH_SIZE = 256\nEPOCHS = 100\nLR = 5e-3\nHIDDEN_SIZE = 128\nSIGMA = 0.2\n",
             "sampling_parameters": "NUM_STEPS = 1000\nETA = 0.01\n"}
    for name, value in settings.items():
        cells["hyperparameters"] = cells["hyperparameters"].replace(
            {"LR": "LR = 5e-3", "BATCH_SIZE": "BATCH_SIZE = 256"}[name], f"{name} = {value}")
    challenge, _ = sampling_run()
    with pytest.raises(AssertionError, match="replays your training step by step"):  # read from the submitted cell
        smt.sampled({**challenge, **smt._merged(
            smt.submitted_values(protocol.Context(cells=cells, submitted=True), "hyperparameters",
                                 ["LR", "SIGMA", "BATCH_SIZE"]),
            smt.submitted_values(protocol.Context(cells=cells, submitted=True), "sampling_parameters",
                                 ["NUM_STEPS", "ETA"]))}, sampling_run()[1])
