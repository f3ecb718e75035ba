"""WGAN-GP steps on general networks, replayed exactly from the kernel's event log.

The toy models of ``wgan_training`` make a training loop's bugs legible, but their training is a
closed-form recurrence: a result computed from it proves nothing about a loop. So every
training-loop challenge also runs ``train_model`` for one short epoch on networks without a
closed form, ``G(z) = sigmoid(z U + c)`` and ``D(x) = tanh(W x + b) . v + d`` with secret
weights (``probes/wgan_training.py``), and the kernel logs, in order, every latent the generator
saw, every input of the critic, every call of the (grader's) penalty and every optimizer step.
This module replays those steps in float64 with autograd, for each choice of loss signs, and the
weights that came back must be one replay's: made-up weights, or weights a forger computes
without the losses, the penalty's double back-propagation and the generator's path through the
critic, match none.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from . import expect

SIZE, LATENT, HIDDEN, DAYS, BATCH = 4, 3, 6, 8, 4  # a 2 x 4 x 4 image, 2 batches of 4
SIGNS = tuple(itertools.product((1, -1), (1, 0, -1), (1, -1)))  # (critic, penalty, generator); WGAN-GP: +1 each
RTOL, ATOL = 1e-4, 1e-6  # float32 steps against their float64 replay (measured: 1e-6 and below)
GENERAL = ("train_model's steps on a small general WGAN (a one-layer generator, a tanh critic) reproduce no "
           "WGAN-GP update: does every critic step zero the critic's gradients and step once on "
           "D(fake) - D(real) + lambda_gp GP of one real and one generated batch, and every generator step on "
           "-D(G(z)) with its own zeroed gradients?")


def general_run(rng) -> dict:
    """The secret networks, data and learning rates of the general run (float32, as sent)."""
    d = 2 * SIZE * SIZE

    def normal(scale, shape):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    # scales and rates at which a few steps move every weight well beyond float32 rounding but the
    # penalty's steps stay small (|grad D| near 1): larger ones blow the critic up, and a float32
    # run then no longer matches its float64 replay
    return {"size": SIZE, "batch_size": BATCH, "lambda_gp": 10.0, "seed": int(rng.integers(1 << 62)),
            "lr_g": float(rng.uniform(0.01, 0.03)), "lr_c": float(rng.uniform(0.005, 0.015)),
            "data": rng.random((DAYS, 2, SIZE, SIZE), dtype=np.float32),
            "generator": {"U": normal(1.5 / math.sqrt(LATENT), (LATENT, d)), "c": normal(0.5, (d,))},
            "critic": {"W": normal(1 / math.sqrt(d), (HIDDEN, d)), "b": normal(0.5, (HIDDEN,)),
                       "v": normal(1 / math.sqrt(HIDDEN), (HIDDEN,)), "d": normal(1.0, ())}}


def _critic(p: dict, x):
    import torch

    return torch.tanh(x.flatten(1) @ p["W"].T + p["b"]) @ p["v"].unsqueeze(1) + p["d"]  # (N, 1)


def _generator(p: dict, z):
    import torch

    return torch.sigmoid(z @ p["U"] + p["c"]).view(len(z), 2, SIZE, SIZE)


def _events(got) -> list:
    events = expect.entry(got, "events", "the event log of the general run")
    assert isinstance(events, list) and 0 < len(events) <= 256, "train_model made no step on the general networks"
    out = []
    for ev in events:
        assert isinstance(ev, list) and ev and ev[0] in ("G", "D", "P", "step"), "the event log is malformed"
        if ev[0] == "G":
            out.append(("G", expect.array(ev[1], "a latent batch", shape=(None, LATENT), kinds="f")))
        elif ev[0] == "D":
            out.append(("D", expect.array(ev[1], "a critic input", shape=(None, 2, SIZE, SIZE), kinds="f")))
        elif ev[0] == "P":
            alpha = expect.array(ev[1], "the penalty's alpha", shape=(None,), kinds="f")
            n = len(alpha)
            out.append(("P", alpha, *(expect.array(v, "a penalty input", shape=(n, 2, SIZE, SIZE), kinds="f")
                                      for v in ev[2:4])))
        else:
            assert len(ev) == 3 and ev[1] in ("c", "g"), "the event log is malformed"
            out.append(("step", ev[1], expect.number(ev[2], "a learning rate")))
    return out


def _is_real(rows, data) -> np.ndarray:
    """Which rows of a critic input are days of the data (the rest were generated)."""
    import torch

    return (torch.cdist(rows.flatten(1), data.flatten(1)).min(dim=1).values < 1e-5).numpy()


def _critic_loss(window: list, crit: dict, data, lam: float, s_c: int, s_gp: int):
    import torch

    inputs = [torch.from_numpy(ev[1].astype(np.float64)) for ev in window if ev[0] == "D"]
    rows = torch.cat(inputs) if inputs else torch.zeros(0, 2, SIZE, SIZE, dtype=torch.float64)
    real = torch.from_numpy(_is_real(rows, data)) if len(rows) else torch.zeros(0, dtype=torch.bool)
    penalties = [ev for ev in window if ev[0] == "P"]
    if not real.any() or real.all() or len(penalties) > 1 or (s_gp != 0) != bool(penalties):
        return None
    loss = s_c * (_critic(crit, rows[~real]).mean() - _critic(crit, rows[real]).mean())
    for _, alpha, r, f in penalties:
        a = torch.from_numpy(alpha.astype(np.float64)).view(-1, 1, 1, 1)
        x = (a * torch.from_numpy(r.astype(np.float64)) + (1 - a) * torch.from_numpy(f.astype(np.float64)))
        x = x.requires_grad_(True)
        (g,) = torch.autograd.grad(_critic(crit, x).sum(), x, create_graph=True)
        loss = loss + s_gp * lam * ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    return loss


def _generator_loss(window: list, gen: dict, crit: dict, data, latents: list, s_g: int):
    """-s_g mean D(G(z)) over the critic's inputs in this window that are G(z) of a recorded z."""
    import torch

    if not latents:
        return None
    z = torch.from_numpy(np.concatenate(latents).astype(np.float64))
    fakes = _generator(gen, z)
    matched = []
    for kind, *rest in window:
        if kind != "D":
            continue
        x = torch.from_numpy(rest[0].astype(np.float64))
        x = x[~torch.from_numpy(_is_real(x, data))].flatten(1)  # a real batch seen here moves no generator
        if not len(x):
            continue
        dist, which = torch.cdist(x, fakes.detach().flatten(1)).min(dim=1)
        if not (dist < 1e-4).all():
            return None
        matched.append(fakes[which])
    if not matched:
        return None
    return -s_g * _critic(crit, torch.cat(matched)).mean()


def replay(run: dict, events: list, signs: tuple[int, int, int]) -> tuple[dict, dict] | None:
    """(generator, critic) weights after the logged steps for these loss signs; None if the log
    holds a step this choice cannot reproduce."""
    import torch

    s_c, s_gp, s_g = signs
    gen = {k: torch.tensor(np.asarray(v, np.float64), requires_grad=True) for k, v in run["generator"].items()}
    crit = {k: torch.tensor(np.asarray(v, np.float64), requires_grad=True) for k, v in run["critic"].items()}
    data = torch.from_numpy(np.asarray(run["data"], np.float64))
    window, latents = [], []
    for ev in events:
        if ev[0] != "step":
            window.append(ev)
            if ev[0] == "G":
                latents.append(ev[1])
            continue
        params = crit if ev[1] == "c" else gen
        loss = _critic_loss(window, crit, data, run["lambda_gp"], s_c, s_gp) if ev[1] == "c" \
            else _generator_loss(window, gen, crit, data, latents, s_g)
        if loss is None:
            return None
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        with torch.no_grad():
            for p, g in zip(params.values(), grads):
                if g is not None:
                    p -= ev[2] * g
        window = []
        if ev[1] == "g":
            latents = []
    return ({k: v.detach().numpy() for k, v in gen.items()}, {k: v.detach().numpy() for k, v in crit.items()})


def _close(got: dict, want: dict) -> bool:
    return all(np.allclose(got[k], want[k], rtol=RTOL, atol=ATOL) for k in want)


def general_run_reproduced(run: dict, got) -> None:
    """The general run's returned weights are one replay's, after a step of each network."""
    events = _events(got)
    steps = {ev[1] for ev in events if ev[0] == "step"}
    assert steps == {"c", "g"}, "train_model made no critic step or no generator step on the general networks"
    returned = {}
    for net in ("generator", "critic"):
        weights = expect.entry(got, net, f"the {net}'s weights")
        assert isinstance(weights, dict) and set(weights) == set(run[net]), f"the {net}'s weights are not its own"
        returned[net] = {k: expect.array(weights[k], f"the {net}'s {k}", shape=np.shape(run[net][k]), kinds="f")
                         for k in run[net]}
    for signs in SIGNS:
        found = replay(run, events, signs)
        if found is not None and _close(returned["generator"], found[0]) and _close(returned["critic"], found[1]):
            return
    raise AssertionError(GENERAL)
