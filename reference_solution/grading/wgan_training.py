"""Hidden checks of the WGAN-GP training loop ``train_model`` of ``wgan_anomalies``.

The loop trains the grader's toy models (``probes/wgan_training.py``): a constant generator
``G(z) = p`` and a linear critic ``D(x) = a * mean(x) + b`` under plain SGD. For these the whole
training is a short recurrence the verdict replays here, from the secret starting values, data
and learning rates, and the step log the kernel reports (which optimizer stepped, at which
learning rate):

    critic step:     a <- a - lr * (s_c (m_f p - r) + s_gp lambda_gp dGP/da)
                     with dGP/da = 2 (|a|/sqrt(d) - 1) sign(a)/sqrt(d)
    generator step:  p <- p + s_g lr a m_f

where ``r`` is the mean of a real batch, ``m_f`` the mean of the mask (1 without masking), and
the signs ``s_c, s_g, s_gp`` are +1 for WGAN-GP. The returned ``a, b, p`` must match one replay.
A recurrence this simple can be solved without any training loop, so every challenge also has
the loop train small general networks for one epoch, replayed exactly with autograd
(``wgan_replay``): for any choice of loss signs, so that the toy checks below still say which
part is wrong. Each check then asks about its own part of the replay that matched (loss signs,
steps per generator step, masking, the schedule), so that a bug in one part costs only that
part's points.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..coursekit.stratosphere import disk_mask
from . import expect
from .protocol import Check, Context
from .wgan_replay import general_run, general_run_reproduced

SIZE = 8  # toy image size
D_PIXELS = 2 * SIZE * SIZE


def _seed(rng) -> int:
    return int(rng.integers(1 << 62))


def _run(rng, *, masked: bool = False, n_days: int = 48, batch_size: int = 4, **kw) -> dict:
    """A toy training run with secret starting values; data: every day the same (c inside the mask,
    ``c_out`` outside), so that a batch's mean does not depend on how the loader shuffles."""
    c, c_out = float(rng.uniform(0.5, 0.9)), (1.0 if masked else None)
    run = {"p": float(rng.uniform(0.1, 0.4)), "a": float(rng.uniform(1.0, 3.0)), "b": float(rng.normal()),
           "size": SIZE, "lr_g": float(rng.uniform(0.02, 0.08)), "lr_c": float(rng.uniform(0.02, 0.08)),
           "batch_size": batch_size, "epochs": 1, "n_critic": 2, "lambda_gp": 10.0, "lr_gamma": 1.0,
           "checkpoints": False, "seed": _seed(rng), "c": c, "c_out": c_out}
    run.update(kw)
    mask = disk_mask(SIZE) if masked else np.ones((SIZE, SIZE), np.float32)
    outside = 0.0 if c_out is None else c_out
    run["data"] = np.broadcast_to(c * mask + outside * (1 - mask), (n_days, 2, SIZE, SIZE)).astype(np.float32)
    if masked:
        run["mask"] = mask
    return run


def _with_val(rng, run: dict, n: int) -> dict:
    """``run`` with ``n`` validation days, all the same: ``c_val`` inside the mask, ``c_out`` outside."""
    c_val = float(rng.uniform(0.3, 0.9))
    mask = run.get("mask", np.ones((SIZE, SIZE), np.float32))
    outside = c_val if run["c_out"] is None else run["c_out"]
    val = c_val * mask + outside * (1 - mask)
    return {**run, "c_val": c_val, "val": np.broadcast_to(val, (n, 2, SIZE, SIZE)).astype(np.float32)}


@dataclass(frozen=True)
class Variant:
    """One way a training loop can update the toy models (WGAN-GP: all +1, everything masked)."""

    critic_sign: int  # +1: critic loss D(fake) - D(real)
    gen_sign: int  # +1: generator loss -D(G(z))
    penalty_sign: int  # +1: + lambda_gp * GP; 0: no penalty; -1: subtracted
    real_masked: bool
    fake_masked: bool

    @property
    def right(self) -> bool:
        return (self.critic_sign, self.gen_sign, self.penalty_sign) == (1, 1, 1)


VARIANTS = tuple(Variant(*v) for v in itertools.product((1, -1), (1, -1), (1, 0, -1), (True, False), (True, False)))


@dataclass(frozen=True)
class Replay:
    a: float
    p: float
    epochs: tuple[tuple[float, float], ...]  # (a, p) at the end of every epoch


def _mean_real(run: dict, masked: bool, value: float) -> float:
    """Mean over the pixels of one (real) day: ``value`` inside the mask, ``c_out`` outside."""
    if "mask" not in run:
        return value
    m = float(np.mean(run["mask"]))
    return value * m + (0.0 if masked else run["c_out"] * (1 - m))


def replay(run: dict, steps: list, v: Variant) -> Replay:
    """The toy models' parameters after the logged steps, for variant ``v`` (float64)."""
    m = float(np.mean(run["mask"])) if "mask" in run else 1.0
    m_f = m if v.fake_masked else 1.0
    r = _mean_real(run, v.real_masked, run["c"])
    a, p, lam, sq = run["a"], run["p"], run["lambda_gp"], math.sqrt(D_PIXELS)
    per_epoch = len(run["data"]) // run["batch_size"]
    critic_steps, epochs = 0, []
    for i, (tag, lr) in enumerate(steps):
        if tag == "c":
            dgp = 2 * (abs(a) / sq - 1) * math.copysign(1.0, a) / sq
            a -= lr * (v.critic_sign * (m_f * p - r) + v.penalty_sign * lam * dgp)
            critic_steps += 1
        else:
            p += v.gen_sign * lr * a * m_f
        next_is_critic = i + 1 == len(steps) or steps[i + 1][0] == "c"
        epoch_ends = critic_steps and critic_steps % per_epoch == 0 and next_is_critic
        if epoch_ends and len(epochs) < critic_steps // per_epoch:
            epochs.append((a, p))
    return Replay(a, p, tuple(epochs))


def _close(x: float, y: float) -> bool:
    return abs(x - y) <= 1e-4 * (1 + abs(y))


def _steps(got) -> list:
    steps = expect.entry(got, "steps", "step log")
    assert isinstance(steps, list) and len(steps) <= 4096, "the step log is missing"
    out = []
    for step in steps:
        assert isinstance(step, list) and len(step) == 2 and step[0] in ("c", "g"), "the step log is malformed"
        out.append((step[0], expect.number(step[1], "a learning rate")))
    return out


def matches(run: dict, got) -> list[tuple[Variant, Replay]]:
    """The variants whose replay gives the returned parameters (a critic step never moves b)."""
    steps = _steps(got)
    a, b, p = (expect.number(expect.entry(got, k), k) for k in ("a", "b", "p"))
    if not _close(b, run["b"]):
        return []
    found = []
    for v in VARIANTS:
        if "mask" not in run and (v.real_masked or v.fake_masked):
            continue
        rep = replay(run, steps, v)
        if _close(rep.a, a) and _close(rep.p, p):
            found.append((v, rep))
    return found


UNREPRODUCIBLE = ("train_model's updates of the toy models (a linear critic D(x) = a mean(x) + b, a constant "
                  "generator, SGD) match no WGAN-GP loop: does every critic step zero the critic's gradients, "
                  "step once on the mean over the batch, and every generator step its own?")


def _matched(challenge: dict, result: dict, i: int) -> tuple[dict, dict, list[tuple[Variant, Replay]]]:
    if i == 0:  # the loop really ran: its steps on general networks replay exactly (wgan_replay)
        general_run_reproduced(challenge["general"], expect.entry(result, "general", "the general run"))
    runs = challenge["runs"]
    got = expect.cases(result, "runs", len(runs), "training runs")[i]
    tags = {t for t, _ in _steps(got)}
    # without a step of each network every variant replays to the start: the result would prove nothing
    assert tags == {"c", "g"}, "train_model made no critic step or no generator step on the toy models"
    found = matches(runs[i], got)
    assert found, UNREPRODUCIBLE
    return runs[i], got, found


def signs_challenge(rng, folder: Path, context: Context) -> dict:
    return {"runs": [_run(rng, n_days=32, n_critic=2)], "general": general_run(rng)}


def critic_and_generator_losses_have_the_right_signs(challenge: dict, result: dict) -> None:
    """A critic step lowers D(fake) - D(real) + lambda_gp GP and a generator step raises D(G(z)) (replayed on a linear critic)."""  # noqa: E501
    _, _, found = _matched(challenge, result, 0)
    if any(v.right for v, _ in found):
        return
    v = found[0][0]
    if v.critic_sign < 0:
        raise AssertionError("a critic step should increase D(real) - D(fake): check the sign of the critic loss")
    if v.gen_sign < 0:
        raise AssertionError("a generator step should increase the critic's score of the fakes: "
                             "check the sign of the generator loss")
    raise AssertionError("the gradient penalty should pull |grad D| towards 1: is lambda_gp * penalty "
                         "added to the critic loss?")


def n_critic_challenge(rng, folder: Path, context: Context) -> dict:
    return {"runs": [_run(rng, n_days=48, n_critic=n) for n in (4, 3, 1)], "general": general_run(rng)}


def _one_every(tags: list[str], n: int) -> bool:
    """Generator steps come after every n-th critic step (counted in the epoch or overall)."""
    critic = [i for i, t in enumerate(tags) if t == "c"]
    gens = [i for i, t in enumerate(tags) if t == "g"]
    for phase in range(n):  # which critic step of a group of n is followed by the generator step
        want = [critic[k] + 1 for k in range(phase, len(critic), n)]
        if gens == want:
            return True
    return False


def training_runs_n_critic_critic_steps_per_generator_step(challenge: dict, result: dict) -> None:
    """train_model makes n_critic critic steps per generator step (the logged steps replayed on toy models)."""
    for i, run in enumerate(challenge["runs"]):
        _, got, _ = _matched(challenge, result, i)
        tags = [t for t, _ in _steps(got)]
        n, batches = run["n_critic"], len(run["data"]) // run["batch_size"]
        assert tags.count("c") == batches, (
            f"one epoch of {batches} batches should make {batches} critic steps, made {tags.count('c')}")
        assert tags.count("g") == batches // n and _one_every(tags, n), (
            f"with n_critic = {n}, {batches} critic steps should come with {batches // n} generator steps, "
            f"one after every {n}th critic step; got {tags.count('g')}")


def mask_challenge(rng, folder: Path, context: Context) -> dict:
    run = _run(rng, masked=True, n_days=16, n_critic=2)
    return {"runs": [_with_val(rng, run, 8)], "general": general_run(rng)}


def _val_matches(run: dict, history: list[float], rep: Replay, m_f: float, masked: bool) -> bool:
    """The validation history is D(real) - D(fake) of every epoch's end (either sign)."""
    want = [a * (_mean_real(run, masked, run["c_val"]) - m_f * p) for a, p in rep.epochs]
    return len(history) == len(want) and (all(_close(h, w) for h, w in zip(history, want))
                                          or all(_close(-h, w) for h, w in zip(history, want)))


def training_masks_real_and_generated_samples(challenge: dict, result: dict) -> None:
    """The mask multiplies the real, generated and validation batches the critic sees (replayed on toy models)."""
    run, got, found = _matched(challenge, result, 0)
    if not any(v.real_masked and v.fake_masked for v, _ in found):
        v = found[0][0]
        which = "the real and the generated" if not (v.real_masked or v.fake_masked) else \
            "the real" if not v.real_masked else "the generated"
        raise AssertionError(f"the critic saw {which} samples unmasked: multiply both the real and the "
                             "generated samples by the mask")
    histories = _histories(got)
    if histories:
        m_f = float(np.mean(run["mask"]))
        reps = [rep for v, rep in found if v.real_masked and v.fake_masked]
        assert any(_val_matches(run, histories[0], rep, m_f, True) for rep in reps) or not any(
            _val_matches(run, histories[0], rep, m_f, False) for rep in reps), (
            "the validation batches should be masked too")


def schedule_challenge(rng, folder: Path, context: Context) -> dict:
    run = _run(rng, n_days=16, n_critic=2, epochs=2, lr_gamma=0.5, checkpoints=True)
    return {"runs": [_with_val(rng, run, 8)], "general": general_run(rng)}


def _histories(got) -> list[list[float]]:
    histories = expect.entry(got, "histories", "returned histories")
    assert isinstance(histories, list), "train_model's return value is missing"
    return [[expect.number(v, "a history value") for v in h] for h in histories if isinstance(h, list)]


def training_schedules_validates_and_checkpoints(challenge: dict, result: dict) -> None:
    """LR schedulers step once per epoch, one validation value D(real) - D(fake) per epoch, a checkpoint holds the trained weights."""  # noqa: E501
    run, got, found = _matched(challenge, result, 0)
    steps = _steps(got)
    per_epoch = len(run["data"]) // run["batch_size"]
    critic_seen, lrs_ok = 0, True
    for tag, lr in steps:
        epoch = critic_seen // per_epoch if tag == "c" else max(critic_seen - 1, 0) // per_epoch
        want = {"c": run["lr_c"], "g": run["lr_g"]}[tag] * run["lr_gamma"] ** epoch
        lrs_ok &= _close(lr, want)
        critic_seen += tag == "c"
    assert lrs_ok, ("the learning rates should fall by lr_gamma once per epoch (one ExponentialLR step per "
                    "epoch for each optimizer, after the epoch)")
    assert expect.entry(got, "returned_kind") in ("tuple", "list") and len(_histories(got)) == 3, (
        "return (val_loss_history, dsc_loss_history, gen_loss_history)")
    val, dsc, gen = _histories(got)
    assert len(val) == run["epochs"], f"val_loss_history should hold one value per epoch ({run['epochs']}), got {len(val)}"  # noqa: E501
    assert dsc and gen, "loss histories should record the critic and generator losses"
    m_f = 1.0
    assert any(_val_matches(run, val, rep, m_f, False) for _, rep in found), (
        "each epoch's validation value should be the mean of D(real) - D(fake) over the validation data "
        "(without the penalty), with the weights at the end of the epoch")
    files = expect.entry(got, "checkpoints", "checkpoint files")
    assert isinstance(files, list) and files, "train_model should save a checkpoint into checkpoint_dir every epoch"
    final = [(rep.a, rep.p) for _, rep in found]
    for f in files:
        tensors = expect.entry(f, "tensors") if isinstance(f, dict) else {}
        tensors = tensors if isinstance(tensors, dict) else {}
        values = [float(t.reshape(-1)[0]) for t in tensors.values()
                  if isinstance(t, np.ndarray) and t.size == 1 and t.dtype.kind == "f" and np.isfinite(t).all()]
        if any(any(_close(x, a) for x in values) and any(_close(x, p) for x in values) for a, p in final):
            return
    raise AssertionError("no checkpoint file holds the trained weights of both networks (save the generator's "
                         "and the critic's state_dict every epoch)")


CHECKS = [
    Check("critic_and_generator_losses_have_the_right_signs", "wgan_training.training",
          signs_challenge, critic_and_generator_losses_have_the_right_signs, seconds=60,
          verifies="a short run on secret general networks replayed exactly here (autograd, from the logged latents,"
                   " critic inputs, penalty calls and steps); the toy models' training replayed from secret starting "
                   "values; the loss signs of the replay that matches"),
    Check("training_runs_n_critic_critic_steps_per_generator_step", "wgan_training.training",
          n_critic_challenge, training_runs_n_critic_critic_steps_per_generator_step, seconds=60,
          verifies="the same replays: the logged step order must reproduce the returned weights and obey n_critic"),
    Check("training_masks_real_and_generated_samples", "wgan_training.training", mask_challenge,
          training_masks_real_and_generated_samples, seconds=60,
          verifies="the same replays, with secret values outside the mask: only the masked variant reproduces the "
                   "weights"),
    Check("training_schedules_validates_and_checkpoints", "wgan_training.training",
          schedule_challenge, training_schedules_validates_and_checkpoints, seconds=60,
          verifies="the same replays: learning rates per epoch, validation values and checkpointed weights "
                   "recomputed"),
]
