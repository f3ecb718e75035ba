"""Hidden checks of the WGAN-GP training loop ``train_model`` of ``wgan_anomalies``.

Behaviour checks run the loop on toy models (``probes/wgan_training.py``) and judge what comes
back: final parameters, Adam's own step counters, every batch the critic saw. Convergence checks
train the student's own networks on synthetic winters drawn from a secret seed, and compare the
samples with held-out days the kernel never sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..metrics import diversity_ratio, masked_channel_stats, sliced_wasserstein
from ..stratosphere import disk_mask, generate
from .protocol import Check

SIZE = 8  # toy image size of the behaviour checks


def _seed(rng) -> int:
    return int(rng.integers(1 << 62))


def _run(rng, **kw) -> dict:
    run = {"p": 0.1, "a": 1.0, "size": SIZE, "optimizer": "sgd", "lr": 1e-2, "batch_size": 4,
           "epochs": 1, "n_critic": 4, "lambda_gp": 0.0, "lr_gamma": 1.0, "checkpoints": False,
           "seed": _seed(rng)}
    run.update(kw)
    return run


def signs_challenge(rng, folder: Path) -> dict:
    d = 2 * SIZE * SIZE
    return {"runs": [
        _run(rng, data=np.full((12, 2, SIZE, SIZE), 0.9, np.float32), n_critic=1),
        _run(rng, data=np.full((12, 2, SIZE, SIZE), 0.5, np.float32), p=0.5, a=3.0 * math.sqrt(d),
             n_critic=100, lambda_gp=10.0, lr=1e-3)]}


def critic_and_generator_losses_have_the_right_signs(challenge: dict, result: dict) -> None:
    """A critic step raises D(real) - D(fake) and a generator step raises D(fake) (checked with a linear critic)."""
    first, second = result["runs"]
    assert first["a"] > 1.0, "a critic step should increase D(real) - D(fake): check the sign of the critic loss"
    assert first["p"] > 0.1, ("a generator step should increase the critic's score of the fakes: "
                              "check the sign of the generator loss")
    assert second["a"] < challenge["runs"][1]["a"], (
        "with real = fake only the gradient penalty moves the critic and it should pull |grad D| "
        "towards 1: is lambda_gp * penalty added to the critic loss?")


def n_critic_challenge(rng, folder: Path) -> dict:
    return {"runs": [_run(rng, data=rng.random((48, 2, SIZE, SIZE), dtype=np.float32), n_critic=n,
                          lambda_gp=10.0, optimizer="adam", lr=1e-4) for n in (4, 3, 1)]}


def training_runs_n_critic_critic_steps_per_generator_step(challenge: dict, result: dict) -> None:
    """train_model makes n_critic critic steps per generator step (Adam's step counters on 12 batches)."""
    for run, got in zip(challenge["runs"], result["runs"]):
        n = run["n_critic"]
        assert got["steps_critic"] == 12, f"one epoch of 12 batches should make 12 critic steps, made {got['steps_critic']}"
        assert got["steps_gen"] == 12 // n, (f"with n_critic = {n}, 12 critic steps should come with "
                                             f"{12 // n} generator steps, got {got['steps_gen']}")


def mask_challenge(rng, folder: Path) -> dict:
    mask = disk_mask(SIZE)
    data = (rng.random((16, 2, SIZE, SIZE), dtype=np.float32) * mask + (1 - mask)).astype(np.float32)
    return {"runs": [_run(rng, data=data, val=data[:8], mask=mask, p=0.7, n_critic=2, lambda_gp=10.0,
                          lr=1e-4, record=True)], "_mask": mask}


def training_masks_real_and_generated_samples(challenge: dict, result: dict) -> None:
    """Every batch the critic sees (real, generated, interpolated, validation) is zero outside the mask."""
    seen = result["runs"][0]["seen"]
    assert seen, "the critic was never called"
    outside = challenge["_mask"] == 0
    worst = max(float(np.abs(np.asarray(x)[:, :, outside]).max()) for x in seen)
    assert worst == 0.0, ("the critic saw non-zero values outside the mask: multiply both the real "
                          "and the generated samples by the mask")


def schedule_challenge(rng, folder: Path) -> dict:
    return {"runs": [_run(rng, data=rng.random((16, 2, SIZE, SIZE), dtype=np.float32), epochs=2,
                          n_critic=2, lambda_gp=10.0, lr=1e-3, lr_gamma=0.5, checkpoints=True,
                          val=rng.random((8, 2, SIZE, SIZE), dtype=np.float32))]}


def training_schedules_validates_and_checkpoints(challenge: dict, result: dict) -> None:
    """LR schedulers step once per epoch, one validation value per epoch, a checkpoint file is written."""
    got = result["runs"][0]
    assert got["checkpoints"], "train_model should save a checkpoint into checkpoint_dir every epoch"
    for key, name in (("lr_gen", "generator"), ("lr_critic", "critic")):
        assert abs(got[key] - 1e-3 / 4) < 1e-9, (
            f"after 2 epochs with lr_gamma = 0.5 the {name}'s learning rate should be lr / 4; found "
            f"{got[key]:.3g} (one ExponentialLR step per epoch)")
    assert got.get("returned_len") == 3, "return (val_loss_history, dsc_loss_history, gen_loss_history)"
    val, dsc, gen = got["histories"]
    assert len(val) == 2, f"val_loss_history should hold one value per epoch (2), got {len(val)}"
    assert dsc and gen, "loss histories should record the critic and generator losses"
    assert all(math.isfinite(v) for v in val + dsc + gen), "histories should hold finite numbers"


# ---- convergence ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Convergence:
    """One convergence experiment and the bar it must clear (see bench/bench_check_pass_rates.py)."""

    size: int  # pixels per side
    winters: int  # synthetic winters drawn from the secret seed (151 days each)
    held_out: int  # days kept by the grader to compare samples with
    epochs: int  # of train_model
    batch_size: int
    n_critic: int
    lr: float  # Adam, betas (0.5, 0.9)
    lr_gamma: float
    latent: int  # latent size of the student's Generator here
    threads: int  # torch threads on a CPU
    device: str  # "cpu" or "auto" (CUDA when present)
    sw_ratio: float  # sliced W after / before must be at most this
    mean_tol: float | None  # channel means within this of the held-out days' (None: not checked)
    std_tol: float | None  # channel stds within this relative error (None: not checked)
    diversity: float | None  # mean pairwise distance at least this share of the data's
    seconds: float  # the probe's time budget


CPU_SCALE = Convergence(size=32, winters=6, held_out=256, epochs=6, batch_size=32, n_critic=3,
                        lr=1e-3, lr_gamma=0.85, latent=32, threads=1, device="cpu", sw_ratio=0.5,
                        mean_tol=0.05, std_tol=0.3, diversity=0.5, seconds=240)
FULL_SIZE = Convergence(size=256, winters=1, held_out=32, epochs=1, batch_size=8, n_critic=3,
                        lr=1e-3, lr_gamma=1.0, latent=32, threads=2, device="auto", sw_ratio=0.95,
                        mean_tol=None, std_tol=None, diversity=None, seconds=280)


def _convergence_challenge(cfg: Convergence):
    def challenge(rng, folder: Path) -> dict:
        states = generate(winters=cfg.winters, size=cfg.size, seed=int(rng.integers(1 << 31)))
        mask = states.mask.astype(np.float32)
        images = (np.stack([states.pv, states.gh], axis=1) * mask).astype(np.float32)
        order = rng.permutation(len(images))
        train, held = images[order[:-cfg.held_out]], images[order[-cfg.held_out:]]
        tag = rng.integers(1 << 40)
        paths = {"train": folder / f"train_{tag:x}.npy", "mask": folder / f"mask_{tag:x}.npy"}
        np.save(paths["train"], train)
        np.save(paths["mask"], mask)
        z = rng.standard_normal((cfg.held_out, cfg.latent)).astype(np.float32)
        return {"train": str(paths["train"]), "mask": str(paths["mask"]), "z": z, "size": cfg.size,
                "latent": cfg.latent, "seed": _seed(rng), "device": cfg.device, "threads": cfg.threads,
                "lr": cfg.lr, "batch_size": cfg.batch_size, "epochs": cfg.epochs,
                "n_critic": cfg.n_critic, "lr_gamma": cfg.lr_gamma, "val": min(64, len(train)),
                "_held_out": held, "_mask": mask}
    return challenge


def convergence_figures(challenge: dict, result: dict) -> dict[str, float]:
    """The numbers a convergence verdict compares (also printed by the pass-rate bench)."""
    import torch

    held = torch.from_numpy(np.array(challenge["_held_out"]))
    mask = torch.from_numpy(np.array(challenge["_mask"]))
    before = torch.from_numpy(np.array(result["before"], dtype=np.float32))
    after = torch.from_numpy(np.array(result["after"], dtype=np.float32))
    mean_f, std_f = masked_channel_stats(after, mask)
    mean_r, std_r = masked_channel_stats(held, mask)
    return {"sw_before": sliced_wasserstein(before, held), "sw_after": sliced_wasserstein(after, held),
            "mean_error": float((mean_f - mean_r).abs().max()),
            "std_error": float((std_f / std_r - 1).abs().max()),
            "diversity": diversity_ratio(after, held)}


def _convergence_verdict(cfg: Convergence, challenge: dict, result: dict) -> None:
    want = (len(challenge["_held_out"]), 2, cfg.size, cfg.size)
    for key in ("before", "after"):
        assert tuple(np.shape(result[key])) == want, (
            f"the generator should return {want} for {want[0]} latents, got {tuple(np.shape(result[key]))}")
    assert np.isfinite(np.asarray(result["after"])).all(), "generated states should be finite after training"
    for history in result["histories"]:
        assert all(math.isfinite(v) for v in history), "the training histories should stay finite"
    f = convergence_figures(challenge, result)
    assert math.isfinite(f["sw_after"]) and f["sw_after"] <= cfg.sw_ratio * f["sw_before"], (
        f"the generated states did not approach the data: sliced Wasserstein distance "
        f"{f['sw_after']:.3f}, needed at most {cfg.sw_ratio:g} x the untrained {f['sw_before']:.3f}")
    if cfg.mean_tol is not None:
        assert f["mean_error"] < cfg.mean_tol, "channel means of generated states are off"
    if cfg.std_tol is not None:
        assert f["std_error"] < cfg.std_tol, "channel spreads of generated states are off"
    if cfg.diversity is not None:
        assert f["diversity"] > cfg.diversity, (
            f"generated states are too alike (diversity ratio {f['diversity']:.2f}): mode collapse?")


def training_converges_at_cpu_scale(challenge: dict, result: dict) -> None:
    """Your Generator and Discriminator trained by train_model at 32 px on a CPU approach held-out winters."""
    _convergence_verdict(CPU_SCALE, challenge, result)


def training_works_at_full_size(challenge: dict, result: dict) -> None:
    """At 256 px on the grader's device your networks and train_model train: samples move towards the data."""
    _convergence_verdict(FULL_SIZE, challenge, result)


CHECKS = [
    Check("critic_and_generator_losses_have_the_right_signs", "wgan_training.training",
          signs_challenge, critic_and_generator_losses_have_the_right_signs, seconds=60),
    Check("training_runs_n_critic_critic_steps_per_generator_step", "wgan_training.training",
          n_critic_challenge, training_runs_n_critic_critic_steps_per_generator_step, seconds=60),
    Check("training_masks_real_and_generated_samples", "wgan_training.training", mask_challenge,
          training_masks_real_and_generated_samples, seconds=60),
    Check("training_schedules_validates_and_checkpoints", "wgan_training.training",
          schedule_challenge, training_schedules_validates_and_checkpoints, seconds=60),
    Check("training_converges_at_cpu_scale", "wgan_convergence.converge",
          _convergence_challenge(CPU_SCALE), training_converges_at_cpu_scale, seconds=CPU_SCALE.seconds),
    Check("training_works_at_full_size", "wgan_convergence.converge",
          _convergence_challenge(FULL_SIZE), training_works_at_full_size, seconds=FULL_SIZE.seconds),
]
