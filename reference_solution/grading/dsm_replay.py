"""Denoising score-matching training, replayed exactly from the kernel's training log.

The training and sampling checks of ``score_matching`` let the student's ``train_model`` train
the grader's score network (``probes/grader_models.py``) with the grader's Adam. Judging only the
weights that come back leaves a way round the exercise: any other regression onto a good score
(a kernel density estimate's, say) gives weights that sample the moons just as well. So the
kernel logs, in order, every backward pass that reaches the network (with the input of its forward
pass, and where the loaders' stream of fetched rows stood then) and every optimizer step (its
learning rate, and whether the gradients were none, zero or some), and keeps the weights after
every few steps. This module replays the steps in float64: each backward pass is the gradient of
the denoising loss ``mean_B sum_d (s(x~) + (x~ - x) / sigma^2)^2`` of that input ``x~`` against the
rows ``x`` just fetched, accumulated as PyTorch accumulates ``.grad``; each step is Adam's. The
kept weights and the returned ones must be the replay's. A loop that trains by any other loss, an
optimizer of its own or weights made elsewhere matches no replay; a loop's own bugs (no
``zero_grad``, a scheduler stepped per batch, training on the test loader) are replayed as they are
and left to the check's other measurements.

Where the log snapshots the weights, the replay continues from the snapshot (after checking it),
so that rounding differences, which Adam's chaotic phase at high rates amplifies with every step,
are compared over a few dozen steps only. The kernel trains in float64 (measured at the notebook's
settings: at most 1e-11 of the tolerance; see docs/SECURITY.md for the replayable range).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import expect
from .protocol import PROBES_DIR, probe_scope

BETAS, EPS = (0.9, 0.999), 1e-8  # the grader's Adam (PyTorch's defaults)
RTOL = 0.05  # of a segment's largest move: the kernel's run against its replay here
ATOL = 1e-5  # of the largest weight: a run whose weights barely move (or were rounded to float32)
LR_RTOL = 1e-9  # a logged learning rate against the grader's schedule
WHY = ("the network's weights are not what the logged training steps give (replayed here: Adam on the "
       "denoising loss of each batch the loaders gave and the noisy inputs the network saw). Does "
       "train_model step the given optimizer on matcher.loss(x)['total_loss'] of each training batch?")


def _probe(name: str):
    """A constant of the probe that writes the log (one definition; the probe runs torch, so it is
    executed on first use, not at import)."""
    return probe_scope(PROBES_DIR / "score_matching.py")[name]


def _log(result: dict, n_points: int, names: list[str], shapes: dict) -> dict:
    """The training log, read strictly."""
    BACKWARD, STEP, MAX_SNAPSHOTS = _probe("BACKWARD"), _probe("STEP"), _probe("MAX_SNAPSHOTS")  # noqa: N806
    log = expect.entry(result, "log", "the training log")
    events = expect.array(expect.entry(log, "events", "the log's events"), "the log's events", shape=(None, 3),
                          kinds="i")
    lrs = expect.array(expect.entry(log, "lrs"), "the logged learning rates", shape=(None,), kinds="f")
    fetched = expect.array(expect.entry(log, "fetched"), "the fetched rows", shape=(None,), kinds="i")
    sizes = expect.array(expect.entry(log, "sizes"), "the input sizes", shape=(None,), kinds="i")
    positions = expect.array(expect.entry(log, "positions"), "the input positions", shape=(len(sizes),), kinds="i")
    inputs = expect.array(expect.entry(log, "inputs"), "the network's inputs", shape=(int(sizes.sum()), 2),
                          dtype="float64")
    assert len(events), "the training log holds no event"
    assert ((fetched >= 0) & (fetched < n_points)).all(), "the log names rows that are not the grader's points"
    assert (sizes >= 1).all() and (positions >= sizes).all() and (positions <= len(fetched)).all(), (
        "the log's inputs do not follow rows the loaders fetched")
    kinds, a, b = events[:, 0], events[:, 1], events[:, 2]
    assert np.isin(kinds, (BACKWARD, STEP)).all(), "the training log is malformed"
    backward, step = kinds == BACKWARD, kinds == STEP
    assert ((a[backward] >= 0) & (a[backward] < len(sizes))).all() and np.isin(b[backward], (0, 1)).all(), (
        "the training log is malformed")
    assert (a[step] == np.arange(step.sum())).all() and len(lrs) == step.sum() and np.isin(b[step], (0, 1, 2)).all(), (
        "the training log is malformed")
    at = expect.array(expect.entry(log, "snapshot_steps"), "the snapshots' steps", shape=(None,), kinds="i")
    assert len(at) <= MAX_SNAPSHOTS and (np.diff(at) > 0).all() and ((at >= 1) & (at <= step.sum())).all(), (
        "the log's weight snapshots are not at steps of the run")
    snapshots = expect.cases(log, "snapshots", len(at), "weight snapshots")
    for s in snapshots:
        assert isinstance(s, dict) and set(s) == set(names), "a weight snapshot is not the grader's network's"
        for k in names:
            expect.array(s[k], f"a snapshot's {k}", shape=shapes[k], dtype="float64")
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    return {"events": events, "lrs": lrs.astype(np.float64), "fetched": fetched.astype(np.int64),
            "inputs": [inputs[offsets[i]:offsets[i + 1]] for i in range(len(sizes))],
            "positions": positions, "snapshots": dict(zip(at.tolist(), snapshots))}


def _scheduled(lrs: np.ndarray, lr: float, gamma: float) -> None:
    k = np.round(np.log(lrs / lr) / math.log(gamma)) if (lrs > 0).all() else None
    assert k is not None and (k >= 0).all() and np.allclose(lrs, lr * gamma ** k, rtol=LR_RTOL, atol=0), (
        f"the optimizer's learning rates are not the grader's schedule (lr {lr:g}, times {gamma} per scheduler step)")


def segment_error(got: dict, want: dict, start: dict) -> float:
    """The largest deviation of ``got`` from the replay's ``want``, over the tolerance (<= 1 passes):
    RTOL of the segment's largest move from ``start`` plus ATOL of the largest weight, per tensor."""
    worst = 0.0
    for k in want:
        move = float(np.abs(want[k] - start[k]).max(initial=0.0))
        scale = float(np.abs(start[k]).max(initial=0.0))
        error = float(np.abs(np.asarray(got[k], np.float64) - want[k]).max(initial=0.0))
        worst = max(worst, error / (RTOL * move + ATOL * max(scale, 1e-3)))
    return worst


class Replayed(NamedTuple):
    steps: int  # optimizer steps replayed
    error: float  # the largest segment_error met (at most 1)


def replay_reproduced(run: dict, result: dict, returned: dict[str, np.ndarray]) -> Replayed:
    """The training log of ``result`` replayed from ``run``'s secret start; the snapshots and the
    ``returned`` weights must be the replay's. ``run``: ``network`` (the secret start), ``points``,
    ``sigma``, ``lr``, ``gamma`` (the run's StepLR factor)."""
    import torch

    BACKWARD = _probe("BACKWARD")  # noqa: N806
    names = list(run["network"])
    shapes = {k: np.shape(v) for k, v in run["network"].items()}
    log = _log(result, len(run["points"]), names, shapes)
    _scheduled(log["lrs"], run["lr"], run["gamma"])
    net = probe_scope()["GraderScoreNet"](int(np.shape(run["network"]["net.0.weight"])[0])).double()
    params = dict(net.named_parameters())
    assert list(params) == names, "the grader's network changed shape"

    def load(weights):
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(torch.from_numpy(np.array(weights[k], np.float64)))

    def weights():
        return {k: p.detach().numpy().copy() for k, p in params.items()}

    load(run["network"])
    start = weights()
    points = torch.from_numpy(np.asarray(run["points"], np.float64))
    inv_var = 1.0 / run["sigma"] ** 2
    m = {k: torch.zeros_like(p) for k, p in params.items()}
    v = {k: torch.zeros_like(p) for k, p in params.items()}
    acc, steps, worst = None, 0, 0.0
    for kind, a, b in log["events"].tolist():
        if kind == BACKWARD:
            noisy = torch.from_numpy(log["inputs"][a].astype(np.float64))
            pos = int(log["positions"][a])
            clean = points[torch.from_numpy(log["fetched"][pos - len(noisy):pos])]
            loss = ((net(noisy) + (noisy - clean) * inv_var) ** 2).mean(dim=0).sum()
            grads = dict(zip(params, torch.autograd.grad(loss, list(params.values()))))
            acc = grads if b == 1 or acc is None else {k: acc[k] + grads[k] for k in params}
            continue
        if b == 0:  # every .grad None: Adam skips the step
            acc = None
            continue
        assert b == 1 or acc is not None, "the log holds a step with gradients but no backward pass before it"
        g = {k: torch.zeros_like(p) for k, p in params.items()} if b == 1 else acc
        steps += 1
        lr, (b1, b2) = float(log["lrs"][a]), BETAS
        with torch.no_grad():
            for k, p in params.items():
                m[k].lerp_(g[k], 1 - b1)
                v[k].mul_(b2).addcmul_(g[k], g[k], value=1 - b2)
                denom = (v[k].sqrt() / math.sqrt(1 - b2 ** steps)).add_(EPS)
                p.addcdiv_(m[k], denom, value=-lr / (1 - b1 ** steps))
        if steps in log["snapshots"]:
            snapshot = log["snapshots"][steps]
            worst = max(worst, segment_error(snapshot, weights(), start))
            assert worst <= 1, WHY
            load(snapshot)
            start = weights()
    assert steps >= 1, "train_model made no optimizer step that changed the network"
    worst = max(worst, segment_error(returned, weights(), start))
    assert worst <= 1, WHY
    return Replayed(steps, worst)
