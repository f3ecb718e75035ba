"""Hidden checks of the training side of ``score_matching``: hyperparameters, the score network,
the training loop and the trained sampler.

The training checks train the grader's own score network (``probes/grader_models.py``), started
from secret weights, on two moons moved by a secret rotation, shift and bend, with the grader's
Adam; the weights come back with a log of every backward pass and step, which ``dsm_replay``
replays here: the weights must be those of Adam on the denoising loss, nothing else. The grader
then measures them itself: the denoising loss on points the kernel never saw, and samples it draws
with its own Langevin sampler (the notebook's ``NUM_STEPS`` and ``ETA``), which are bent back and
compared with the moons. No stored set of samples, no network trained beforehand on the usual
moons, and no other regression onto a good score passes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..coursekit.moons_quality import (
    LOST_DISTANCE,
    MAX_LOST_SHARE,
    MIN_MOON_SHARE,
    MOONS_DISTANCE_THRESHOLD,
    sample_quality,
)
from ..score_matching.denoising import make_moons_data
from . import expect
from .dsm_replay import WHY as REPLAY_MISMATCH
from .dsm_replay import Replayed, replay_reproduced
from .literals import NotLiteral, assigned_numbers
from .protocol import Check, Context, probe_scope
from .weights import MIN_MOVE, descent, stillness

MAX_STEPS = 10_000  # Langevin steps of the sampling check (grading budget)
MAX_EPOCHS = 300  # of the sampling check's training (grading budget; its log stays under 45 MB)
MAX_LR, MIN_BATCH = 0.01, 32  # where its training replays (dsm_replay): measured within 1e-8 of the tolerance
REPLAYABLE = (f"the grader replays your training step by step, which needs LR <= {MAX_LR} and BATCH_SIZE >= "
              f"{MIN_BATCH}: with larger steps or smaller batches Adam's training is chaotic (float rounding alone "
              "changes the weights)")
HIDDEN = 128  # the grader's score network
CENTRE = np.array([0.5, 0.25])  # of the two moons


def _seed(rng) -> int:
    return int(rng.integers(1 << 62))


HYPERPARAMETERS_CELL, SAMPLING_CELL = "hyperparameters", "sampling_parameters"  # their solution cells' grade ids


def submitted_values(context: Context, grade_id: str, names: list[str]) -> dict:
    """``{"_values": {name: number}}`` read from the submitted cell in the grader (the kernel's
    report is not used), ``{"_values_error": why}`` if it cannot be read; ``{}`` outside nbgrader
    (a plain kernel's values are the instructor's own)."""
    if not context.submitted:
        return {}
    try:
        return {"_values": assigned_numbers(context.cells.get(grade_id), names)}
    except NotLiteral as exc:
        return {"_values_error": f"{exc} (in the cell {grade_id!r})"}


def _reported_or_submitted(challenge: dict, reported: dict) -> dict:
    """The values read from the submitted cell where the grader has them, else the kernel's report."""
    assert "_values_error" not in challenge, (
        "the grader reads the settings from your cell's source and could not: "
        f"{challenge.get('_values_error')}; write each one as a plain number, e.g. EPOCHS = 100")
    if "_values" in challenge:
        return {k: {"kind": type(v).__name__, "value": v} for k, v in challenge["_values"].items()}
    return reported


def hyperparameters_challenge(rng, folder: Path, context: Context) -> dict:
    names = ["BATCH_SIZE", "EPOCHS", "LR", "HIDDEN_SIZE", "SIGMA"]
    return {"names": names, **submitted_values(context, HYPERPARAMETERS_CELL, names)}


def hyperparameters_within_the_seed_bounds(challenge: dict, result: dict) -> None:
    """The hyperparameters lie within the bounds: EPOCHS > 50, LR > 1e-3, HIDDEN_SIZE > 32, 0.01 < SIGMA < 1."""
    value = {}
    submitted = "_values" in challenge or "_values_error" in challenge
    reported = _reported_or_submitted(challenge, {} if submitted else result)
    for name in challenge["names"]:
        got = expect.entry(reported, name)
        kind = expect.entry(got, "kind", f"the type of {name}")
        if name in ("BATCH_SIZE", "EPOCHS", "HIDDEN_SIZE"):
            assert kind == "int", f"{name} should be an int, got {kind}"
        else:
            assert kind in ("int", "float"), f"{name} should be a number, got {kind}"
        value[name] = expect.number(expect.entry(got, "value", name), name)
    assert value["BATCH_SIZE"] >= 1, "BATCH_SIZE should be positive"
    assert value["EPOCHS"] > 50, "EPOCHS should be greater than 50"
    assert value["LR"] > 1e-3, "LR should be greater than 1e-3"
    assert value["HIDDEN_SIZE"] > 32, "HIDDEN_SIZE should be greater than 32"
    assert 0.01 < value["SIGMA"] < 1.0, "SIGMA should lie strictly between 0.01 and 1"


# ---- the grader's moons and network ----------------------------------------------------------

def bend(rng) -> dict:
    """A secret rotation (up to 25 degrees), shift and quadratic bend of the moons."""
    return {"angle": float(rng.uniform(-0.44, 0.44)), "shift": rng.uniform(-0.15, 0.15, 2),
            "kappa": float(rng.uniform(0.1, 0.25)) * float(rng.choice([-1, 1]))}


def _rotation(angle: float) -> np.ndarray:
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def bent(points: np.ndarray, t: dict) -> np.ndarray:
    u = (np.asarray(points, dtype=np.float64) - CENTRE) @ _rotation(t["angle"]).T
    u[:, 1] += t["kappa"] * u[:, 0] ** 2
    return u + CENTRE + t["shift"]


def unbent(points: np.ndarray, t: dict) -> np.ndarray:
    u = np.asarray(points, dtype=np.float64) - CENTRE - t["shift"]
    u[:, 1] -= t["kappa"] * u[:, 0] ** 2
    return u @ _rotation(t["angle"]) + CENTRE


def _network_challenge(rng, count: int, test: int) -> dict:
    import torch

    t = bend(rng)
    train, _, held, _ = make_moons_data(count + test * 5 // 4, seed=int(rng.integers(1 << 31)))
    points = bent(np.concatenate([train, held])[: count + test], t).astype(np.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_seed(rng))
        net = probe_scope()["GraderScoreNet"](HIDDEN)
    return {"seed": _seed(rng), "points": points[:count], "test": test, "hidden": HIDDEN,
            "network": {k: v.numpy().copy() for k, v in net.state_dict().items()},
            "_bend": t, "_held_out": points[count:]}


def _weights(challenge: dict, result: dict) -> dict[str, np.ndarray]:
    """The weights that came back (float64: the kernel trains the grader's network in float64)."""
    got = expect.entry(result, "network", "the score network's weights")
    own = challenge["network"]
    assert isinstance(got, dict) and set(got) == set(own), "the weights that came back are not the grader's network's"
    return {k: expect.array(got[k], k, shape=own[k].shape, kinds="f").astype(np.float64) for k in own}


def _network(weights: dict[str, np.ndarray]):
    """The grader's score network (float32) with these weights."""
    import torch

    net = probe_scope()["GraderScoreNet"](HIDDEN)
    net.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in weights.items()})
    return net


def dsm_loss(net, points: np.ndarray, sigma: float, draws: int = 20, seed: int = 0) -> float:
    """The denoising score-matching loss of ``net`` on ``points``, averaged over ``draws`` noises."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(np.asarray(points, dtype=np.float32)).repeat(draws, 1)
    eps = torch.randn(x.shape, generator=g)
    with torch.no_grad():
        return float(((net(x + sigma * eps) + eps / sigma) ** 2).mean(dim=0).sum())


TRAINING_LR, TRAINING_GAMMA = 1e-2, 0.5  # the training check's Adam and StepLR (sent to the probe)
SAMPLING_GAMMA = 0.97  # the sampling check's StepLR


def training_challenge(rng, folder: Path, context: Context) -> dict:
    return {**_network_challenge(rng, 640, 128), "epochs": 3, "sigma": 0.3, "lr": TRAINING_LR,
            "gamma": TRAINING_GAMMA, "batch_size": 128}


MIN_LOSS_DROP = 0.05  # relative drop of the held-out DSM loss after 3 short epochs
MIN_DESCENT = 0.3  # smallest cosine of a trained weight matrix with its secret start (the reference: 0.87)


def training_loop_updates_the_model(challenge: dict, result: dict) -> None:
    """train_model trains the model (the grader measures its loss on points it kept), steps the scheduler once per epoch and returns per-epoch losses."""  # noqa: E501
    epochs = challenge["epochs"]
    trained = _weights(challenge, result)
    replay_reproduced(challenge, result, trained)
    net = _network(trained)
    cosine, moved = descent(challenge["network"], trained), stillness(challenge["network"], trained)
    assert cosine >= MIN_DESCENT, (
        f"the weights that came back are not the grader's network trained from the weights it sent (cosine "
        f"similarity {cosine:.2f} of some layer with its start; training keeps it above {MIN_DESCENT})")
    assert moved >= MIN_MOVE, (
        f"some weight matrix of the network did not change in training (relative change {moved:.2g}): does "
        "every batch step the optimizer on all the model's parameters?")
    start = probe_scope()["GraderScoreNet"](HIDDEN)
    import torch

    start.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in challenge["network"].items()})
    before = dsm_loss(start, challenge["_held_out"], challenge["sigma"])
    after = dsm_loss(net, challenge["_held_out"], challenge["sigma"])
    assert after < before * (1 - MIN_LOSS_DROP), (
        f"train_model did not train the model: its denoising loss on held-out points went from {before:.3f} "
        f"to {after:.3f} (should fall by at least {MIN_LOSS_DROP:.0%}); does every batch step the optimizer?")
    steps = expect.integer(expect.entry(result, "scheduler_steps"), "the scheduler's steps")
    assert steps == epochs, f"the scheduler should step once per epoch ({epochs} epochs), it stepped {steps} times"
    assert expect.entry(result, "kind") == "dict", "train_model should return a dict of loss histories"
    for key in ("train_losses", "test_losses"):
        values = expect.entry(result, key, f"a {key!r} entry in the returned dict")
        assert isinstance(values, list) and len(values) == epochs, f"{key} should hold one value per epoch"
        for v in values:
            expect.number(v, f"a value of {key}")


def sampling_challenge(rng, folder: Path, context: Context) -> dict:
    return {**_network_challenge(rng, 4000, 1000), "max_steps": MAX_STEPS, "max_epochs": MAX_EPOCHS,
            "max_lr": MAX_LR, "min_batch": MIN_BATCH, "replayable": REPLAYABLE, "gamma": SAMPLING_GAMMA,
            "_start_seed": _seed(rng),
            **_merged(submitted_values(context, HYPERPARAMETERS_CELL, ["LR", "SIGMA", "BATCH_SIZE"]),
                      submitted_values(context, SAMPLING_CELL, ["NUM_STEPS", "ETA"]))}


def _merged(*read: dict) -> dict:
    """The values of several cells read in the grader; the first error if one could not be read."""
    for r in read:
        if "_values_error" in r:
            return r
    values = [r["_values"] for r in read if "_values" in r]
    return {"_values": {k: v for vs in values for k, v in vs.items()}} if values else {}


def langevin(net, count: int, steps: int, eta: float, seed: int):
    """The grader's own sampler: ``steps`` Langevin steps from U[-1, 1]^2."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(count, 2, generator=g) - 1
    with torch.no_grad():
        for _ in range(steps):
            x = x + eta / 2 * net(x) + math.sqrt(eta) * torch.randn(x.shape, generator=g)
    return x.numpy()


def _sampling_values(challenge: dict, result: dict) -> dict:
    if "_values" in challenge or "_values_error" in challenge:  # read from the submitted cell, not the kernel
        return {k: v["value"] for k, v in _reported_or_submitted(challenge, {}).items()}
    return expect.entry(result, "values", "the sampling settings")


def sampling_replayed(challenge: dict, result: dict) -> tuple[Replayed, dict[str, np.ndarray]]:
    """The sampling check's training replayed (``dsm_replay``), and the weights that came back."""
    values = _sampling_values(challenge, result)
    lr, sigma = (expect.number(expect.entry(values, k), k) for k in ("LR", "SIGMA"))
    assert lr <= MAX_LR and expect.number(expect.entry(values, "BATCH_SIZE"), "BATCH_SIZE") >= MIN_BATCH, REPLAYABLE
    trained = _weights(challenge, result)
    try:
        return replay_reproduced({**challenge, "lr": lr, "sigma": sigma}, result, trained), trained
    except AssertionError as exc:  # this training ran the student's matcher too: say which result it rests on
        hint = (" This check trains with your DenoisingScoreMatcher as well as your train_model: if "
                "training_loop_updates_the_model (your loop, the grader's matcher) passes, matcher.loss is not "
                "the denoising loss; see forward's tests, forward_returns_per_element_dsm_error and "
                "dsm_error_matches_the_closed_form (the noise x + sigma eps, the target -eps/sigma)."
                if str(exc) == REPLAY_MISMATCH else
                " (This check trains the grader's network with your train_model and DenoisingScoreMatcher: "
                "their own tests above say which one is wrong.)")
        raise AssertionError(f"{exc}{hint}") from None


def sampled(challenge: dict, result: dict) -> np.ndarray:
    """The samples the grader draws from the returned network (after its training is replayed),
    bent back onto the usual moons."""
    return sampled_and_replayed(challenge, result)[0]


def sampled_and_replayed(challenge: dict, result: dict) -> tuple[np.ndarray, Replayed]:
    """:func:`sampled`, and the replay of the training it rests on (``dsm_replay``)."""
    values = _sampling_values(challenge, result)
    steps = expect.number(expect.entry(values, "NUM_STEPS"), "NUM_STEPS")
    eta = expect.number(expect.entry(values, "ETA"), "ETA")
    assert steps == int(steps) and 1 <= steps <= challenge["max_steps"], (
        f"NUM_STEPS should be an integer between 1 and {challenge['max_steps']} (grading budget)")
    assert 0 < eta <= 1, "ETA should be a positive step size of at most 1"
    replayed, trained = sampling_replayed(challenge, result)
    samples = langevin(_network(trained), 2000, int(steps), eta, challenge["_start_seed"])
    return unbent(samples, challenge["_bend"]), replayed


SAMPLES_REST_ON = ("The grader draws these samples with its own Langevin sampler (your langevin_dynamics and "
                   "sample play no part here) from its network trained by your train_model with your "
                   "DenoisingScoreMatcher's loss: check forward's and train_model's tests above, SIGMA, and the "
                   "Langevin settings NUM_STEPS and ETA")


def samples_land_near_the_moons(challenge: dict, result: dict) -> None:
    """Trained by your train_model and DenoisingScoreMatcher with your settings (every step replayed), the grader's network samples (with your NUM_STEPS and ETA) land on secretly bent moons and reach both (at least 20% on each)."""  # noqa: E501
    q = sample_quality(sampled(challenge, result))
    assert q.lost_share <= MAX_LOST_SHARE, (
        f"{q.lost_share:.1%} of the samples ended farther than {LOST_DISTANCE} from the moons (or not "
        f"finite); at most {MAX_LOST_SHARE:.0%} may. {SAMPLES_REST_ON}")
    assert q.distance < MOONS_DISTANCE_THRESHOLD, (
        f"samples are too far from the moons' shape: sliced-Wasserstein distance {q.distance:.3f} "
        f"(each sample against the moon it lies nearest to), needed below {MOONS_DISTANCE_THRESHOLD}. "
        f"{SAMPLES_REST_ON} (enough steps for the chain to reach the moons, a small enough ETA and SIGMA)")
    assert q.smaller_share >= MIN_MOON_SHARE, (
        f"the samples do not reach both moons: only {q.smaller_share:.0%} lie nearest one of them; "
        f"each should hold at least {MIN_MOON_SHARE:.0%} (the data: 50%). {SAMPLES_REST_ON}")


def network_challenge(rng, folder: Path, context: Context) -> dict:
    return {"xs": [np.zeros((b, 2), np.float32) for b in (1, 64)],
            "_xs": [rng.standard_normal((b, 2)).astype(np.float32) for b in (1, 64)]}


def score_network_maps_points_to_scores(challenge: dict, result: dict) -> None:
    """score_model maps a batch of 2-D points (B, 2) to 2-D score vectors (B, 2) (its graph re-run by the grader on secret points)."""  # noqa: E501
    from .wgan_networks import _graph, _run, _scaled

    xs = challenge["_xs"]
    for x, data in zip(xs, expect.cases(result, "graphs", len(xs), "graphs of score_model")):
        graph = _graph(data, "score_model")
        out = _run(graph, x, "score_model")
        assert out.shape == (len(x), 2), f"score_model on ({len(x)}, 2) returned {tuple(out.shape)}"
        assert out.dtype == np.float32, f"score_model returned {out.dtype}"
        assert np.isfinite(out).all(), "score_model returned non-finite values"
        assert graph.parameters and not np.array_equal(out, _run(graph, x, "score_model", _scaled(graph, 1.1))), (
            "the output should depend on the trainable parameters")


CHECKS = [
    Check("hyperparameters_within_the_seed_bounds", "score_matching.hyperparameters",
          hyperparameters_challenge, hyperparameters_within_the_seed_bounds, seconds=20,
          verifies="the bounds on the values the submitted cell assigns, read from its source in the grader"),
    Check("score_network_maps_points_to_scores", "score_matching.score_network", network_challenge,
          score_network_maps_points_to_scores, seconds=30,
          verifies="the score network's graph re-run here on secret points"),
    Check("training_loop_updates_the_model", "score_matching.training", training_challenge,
          training_loop_updates_the_model, seconds=120,
          trusts="the scheduler's step count and the returned histories (the training itself is replayed here)",
          verifies="the grader's network, from secret weights, trained by the student's loop with the grader's Adam: "
                   "every logged step replayed here (Adam on the denoising loss of the batch and noisy input "
                   "logged), its denoising loss on held-out points measured here, every matrix moved"),
    Check("samples_land_near_the_moons", "score_matching.sampling", sampling_challenge,
          samples_land_near_the_moons, seconds=240,
          trusts="which EPOCHS and BATCH_SIZE the kernel trains with (LR, SIGMA, NUM_STEPS and ETA are read from "
                 "the submitted cells)",
          verifies="the grader's network trained by the student's loop and matcher on secretly bent moons, every "
                   "step replayed here as Adam on the denoising loss (LR <= 0.01, BATCH_SIZE >= 32); samples drawn "
                   "here, bent back, compared with the moons"),
]
