"""The WGAN-GP training loop (Algorithm 1 of Gulrajani et al. 2017) with checkpoints and resume.

``n_critic`` critic steps per generator step, counted globally over the run (so the ratio is
exact even when an epoch's batch count is not a multiple of ``n_critic``); Adam for both nets
with ``betas = (0.5, 0.9)`` as in the notebook; an ``ExponentialLR`` schedule per epoch; the mask
applied to real and generated samples; a validation Wasserstein estimate
``mean D(real) - mean D(fake)`` (no penalty) after every epoch. After every epoch, as in the
notebook's ``train_model``, ``last.pt`` holds the run and ``best.pt`` the epoch of lowest validation
estimate, both written atomically; ``resume=True`` continues from ``last.pt`` exactly (same weights
as an uninterrupted run on CPU, since every random draw comes from a saved, seeded generator).
The nets and the gradient penalty are the notebook's (``wgan.py``); this loop adds the resume,
the seeded randomness and, on CUDA, mixed precision.

On CUDA the forward passes run under bf16 autocast (``config.amp``; bf16 needs no loss
scaling) with ``channels_last`` tensors; the gradient penalty's norm is taken in float32.

Known trap, why there is no ``compile`` option: ``torch.compile`` on the critic breaks the
penalty's double backward ("aot_autograd does not currently support double backward"). Compiling
only the generator would be safe, but we had no GPU to measure whether it pays, so it is left out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, random_split
from tqdm.auto import tqdm

from .wgan import Generator, apply_mask, critic_loss, generator_loss

__all__ = ["WGANConfig", "TrainingHistory", "train_wgan", "save_checkpoint", "load_checkpoint",
           "latest_checkpoint", "load_generator"]

LAST, BEST = "last.pt", "best.pt"  # the notebook's checkpoint names


@dataclass(frozen=True)
class WGANConfig:
    """Hyperparameters of one WGAN-GP run (defaults from the paper unless noted)."""

    n_critic: int = 5  # critic steps per generator step (the seed notebook uses 4)
    lambda_gp: float = 10.0  # weight of the gradient penalty
    lr_generator: float = 1e-4  # Adam learning rate of the generator
    lr_critic: float = 1e-4  # Adam learning rate of the critic
    betas: tuple[float, float] = (0.5, 0.9)  # Adam (beta1, beta2), the notebook's (the paper's Algorithm 1: beta1 0)
    batch_size: int = 32  # samples per critic step (real and fake alike)
    epochs: int = 10  # total epochs; a resumed run continues up to this number
    lr_decay: float = 1.0  # ExponentialLR gamma, stepped once per epoch (1.0 = constant LR)
    latent_dim: int = 128  # size of z ~ N(0, I); must match the generator's n_inputs
    seed: int = 0  # seeds the data split, shuffling, latent draws and penalty alphas
    val_fraction: float = 0.1  # share of train_dataset held out when no val_dataset is given
    max_steps_per_epoch: int | None = None  # cap on critic steps (batches) per epoch; None = all
    amp: bool = True  # bf16 autocast of the forward passes; CUDA only, ignored on CPU
    channels_last: bool = True  # channels_last memory format; CUDA only, ignored on CPU
    log_dir: str | None = None  # TensorBoard folder; skipped silently if tensorboard is absent

    def __post_init__(self):
        for name in ("n_critic", "batch_size", "latent_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"WGANConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"WGANConfig.val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"WGANConfig.max_steps_per_epoch must be None or >= 1, "
                             f"got {self.max_steps_per_epoch}")


@dataclass
class TrainingHistory:
    """Loss curves of a run. Per-step lists have one entry per critic (or generator) step."""

    critic_loss: list[float] = field(default_factory=list)  # per critic step, with the penalty
    wasserstein: list[float] = field(default_factory=list)  # per critic step, batch D(real)-D(fake)
    gradient_penalty: list[float] = field(default_factory=list)  # per critic step, GP
    generator_loss: list[float] = field(default_factory=list)  # per generator step, -D(fake)
    val_wasserstein: list[float] = field(default_factory=list)  # per epoch, on the validation set
    epochs_done: int = 0  # completed epochs
    critic_steps: int = 0  # critic optimiser steps so far
    generator_steps: int = 0  # generator optimiser steps so far (= critic_steps // n_critic)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainingHistory:
        return cls(**{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in data.items()})


def _rng_state(latent_rng: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "latent": latent_rng.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def save_checkpoint(path: str | os.PathLike, **state) -> Path:
    """``torch.save(state, path)`` atomically: a temporary file in the same folder, then
    ``os.replace``, so an interruption never leaves a half-written checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors, numbers, lists only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location=map_location, weights_only=True)


def latest_checkpoint(checkpoint_dir: str | os.PathLike) -> Path | None:
    """``checkpoint_dir/last.pt``, the checkpoint of the latest epoch, or None if there is none."""
    path = Path(checkpoint_dir) / LAST
    return path if path.is_file() else None


def load_generator(path: str | os.PathLike, generator: nn.Module | None = None,
                   map_location: str | torch.device = "cpu") -> nn.Module:
    """The generator of a training checkpoint, in eval mode. Built from the saved constructor
    arguments when ``generator`` is None; otherwise its weights are loaded into ``generator``."""
    ckpt = load_checkpoint(path, map_location)
    if generator is None:
        kwargs = ckpt.get("generator_kwargs")
        if not kwargs:
            raise ValueError(f"checkpoint {path} has no generator_kwargs; pass generator=")
        generator = Generator(**kwargs)
    generator.load_state_dict(ckpt["generator"])
    return generator.to(map_location).eval()


def _summary_writer(log_dir: str | None):
    if log_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is an optional extra
        return None
    return SummaryWriter(log_dir)


class _Run:
    """What a run holds from its first epoch to its last: the nets on their device and memory
    format, the mask, optimisers, schedules, and ``rng``, the source of every z and penalty alpha."""

    def __init__(self, generator: nn.Module, critic: nn.Module, config: WGANConfig,
                 mask: torch.Tensor | None, device: str | torch.device | None):
        self.config = config
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        on_cuda = self.device.type == "cuda"
        self.autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if (on_cuda and config.amp) \
            else contextlib.nullcontext
        self.fmt = torch.channels_last if (on_cuda and config.channels_last) else torch.contiguous_format
        generator.to(self.device, memory_format=self.fmt)
        critic.to(self.device, memory_format=self.fmt)
        self.generator, self.critic = generator, critic
        self.mask = None if mask is None else torch.as_tensor(mask, dtype=torch.float32).to(self.device)  # (S, S)
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_generator, betas=config.betas)
        self.opt_c = torch.optim.Adam(critic.parameters(), lr=config.lr_critic, betas=config.betas)
        self.sched_g = torch.optim.lr_scheduler.ExponentialLR(self.opt_g, gamma=config.lr_decay)
        self.sched_c = torch.optim.lr_scheduler.ExponentialLR(self.opt_c, gamma=config.lr_decay)
        self.rng = torch.Generator(device=self.device).manual_seed(config.seed)

    def real(self, batch) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch  # (B, 2, S, S); items may be tuples
        x = x.to(self.device, torch.float32, non_blocking=True).contiguous(memory_format=self.fmt)
        return x if self.mask is None else apply_mask(x, self.mask)  # idempotent if already masked

    def fake(self, n: int, rng: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.config.latent_dim, generator=rng, device=self.device)  # (n, latent_dim)
        x = self.generator(z)  # (n, 2, S, S)
        return x if self.mask is None else apply_mask(x, self.mask)

    def critic_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """Minimise ``mean D(fake) - mean D(real) + lambda_gp * GP``; its terms, by their history names."""
        with torch.no_grad(), self.autocast():
            fake = self.fake(real.shape[0], self.rng)  # (B, 2, S, S), no graph: trains the critic only
        with self.autocast():
            loss, w_est, gp = critic_loss(self.critic, real, fake.float(), self.config.lambda_gp, self.rng)
        self.opt_c.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_c.step()
        return {"critic_loss": loss.detach(), "wasserstein": w_est, "gradient_penalty": gp}

    def generator_step(self, n: int) -> torch.Tensor:
        """Minimise ``-mean D(G(z))`` on ``n`` fresh latents; return that loss, detached."""
        self.critic.requires_grad_(False)  # gradients flow through the critic, not into it
        with self.autocast():
            loss = generator_loss(self.critic, self.fake(n, self.rng))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.critic.requires_grad_(True)
        return loss.detach()

    def parts(self) -> dict:  # what a checkpoint holds a state_dict of, under its key there
        return dict(generator=self.generator, critic=self.critic, opt_generator=self.opt_g,
                    opt_critic=self.opt_c, sched_generator=self.sched_g, sched_critic=self.sched_c)

    def save(self, checkpoint_dir: str | os.PathLike, history: TrainingHistory) -> None:
        """``last.pt``: what :meth:`resume` needs, plus what :func:`load_generator` rebuilds the net
        from; the same as ``best.pt`` too when this epoch's validation estimate is the lowest yet."""
        path = save_checkpoint(Path(checkpoint_dir) / LAST,
                               **{key: part.state_dict() for key, part in self.parts().items()},
                               history=history.to_dict(), rng=_rng_state(self.rng), epoch=history.epochs_done,
                               config=asdict(self.config),
                               generator_kwargs=getattr(self.generator, "init_kwargs", None))
        val = [v for v in history.val_wasserstein if v == v]  # without nan (no validation set)
        if val and history.val_wasserstein[-1] <= min(val):  # the lowest Wasserstein estimate so far
            shutil.copyfile(path, path.with_name(BEST + ".tmp"))
            os.replace(path.with_name(BEST + ".tmp"), path.with_name(BEST))

    def resume(self, checkpoint_dir: str | os.PathLike) -> TrainingHistory:
        """Load the latest checkpoint, RNGs included; return its history (a fresh one without any)."""
        ckpt_path = latest_checkpoint(checkpoint_dir)
        if ckpt_path is None:
            return TrainingHistory()
        ckpt = load_checkpoint(ckpt_path, map_location=self.device)
        for key, part in self.parts().items():
            part.load_state_dict(ckpt[key])
        torch.set_rng_state(ckpt["rng"]["torch"].cpu())
        self.rng.set_state(ckpt["rng"]["latent"].cpu())
        if self.device.type == "cuda" and "cuda" in ckpt["rng"]:
            torch.cuda.set_rng_state_all([s.cpu() for s in ckpt["rng"]["cuda"]])
        return TrainingHistory.from_dict(ckpt["history"])


def train_wgan(generator: nn.Module, critic: nn.Module, train_dataset: Dataset, config: WGANConfig = WGANConfig(),
               mask: torch.Tensor | None = None, val_dataset: Dataset | None = None,
               checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
               device: str | torch.device | None = None, progress: bool = True,
               callback: Callable[[int, TrainingHistory], None] | None = None) -> TrainingHistory:
    """Train ``generator`` (z (N, latent_dim) -> (N, 2, S, S)) against ``critic`` ((N, 2, S, S)
    -> (N, 1)) on ``train_dataset`` (items (2, S, S)) with WGAN-GP; return the history.

    ``mask`` (S, S) is applied to real and generated samples. Without ``val_dataset`` a seeded
    ``config.val_fraction`` of ``train_dataset`` is held out. With ``checkpoint_dir``, ``last.pt``
    and ``best.pt`` are written after every epoch; ``resume=True`` continues from ``last.pt``.
    Without a checkpoint there (or with ``resume=False``) training starts from scratch.
    ``callback(epoch, history)`` runs after each epoch's checkpoint (e.g. for plots or to stop).
    Nothing is written to stdout or stderr when ``progress=False``.
    """
    if resume and checkpoint_dir is None:
        raise ValueError("train_wgan: resume=True needs the checkpoint_dir to resume from")
    run = _Run(generator, critic, config, mask, device)
    train_dataset, val_dataset = _split(train_dataset, val_dataset, config)
    # Only once the nets, optimisers and RNG exist: resuming overwrites each of them in place.
    history = run.resume(checkpoint_dir) if (resume and checkpoint_dir) else TrainingHistory()
    writer = _summary_writer(config.log_dir)
    epochs = tqdm(range(history.epochs_done, config.epochs), desc="epochs", disable=not progress,
                  initial=history.epochs_done, total=config.epochs)
    for epoch in epochs:
        n_steps = _train_epoch(run, history, train_dataset, epoch, progress)
        # Held-out data: the critic's own batches overstate W as soon as it starts to fit them.
        val_w = _validate(run, val_dataset)
        history.val_wasserstein.append(val_w)
        # Before the checkpoint, so that a resumed run starts the next epoch at the decayed LR.
        run.sched_g.step()
        run.sched_c.step()
        history.epochs_done = epoch + 1
        if writer is not None:
            writer.add_scalar("val_wasserstein", val_w, epoch + 1)
            if n_steps:
                writer.add_scalar("train_wasserstein", history.wasserstein[-1], epoch + 1)
        if checkpoint_dir is not None:
            run.save(checkpoint_dir, history)
        if progress:
            epochs.set_postfix(val_W=f"{val_w:.3f}")
        if callback is not None:  # last: a callback that raises to stop leaves this epoch's checkpoint
            callback(epoch + 1, history)
    epochs.close()
    if writer is not None:
        writer.close()
    return history


def _split(train_dataset: Dataset, val_dataset: Dataset | None, config: WGANConfig) -> tuple[Dataset, Dataset | None]:
    """Without a validation set, hold out ``val_fraction``: seeded, so a resume holds out the same."""
    if val_dataset is None and config.val_fraction > 0:
        n_val = max(1, round(config.val_fraction * len(train_dataset)))
        train_dataset, val_dataset = random_split(train_dataset, [len(train_dataset) - n_val, n_val],
                                                  generator=torch.Generator().manual_seed(config.seed))
    return train_dataset, val_dataset


def _train_epoch(run: _Run, history: TrainingHistory, dataset: Dataset, epoch: int, progress: bool) -> int:
    """A critic step per batch, a generator step per ``n_critic`` of them; the count of critic steps."""
    config = run.config
    # A per-epoch shuffling seed, so a resumed run sees the same batches as an unbroken one.
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=True,
                        drop_last=len(dataset) >= config.batch_size, pin_memory=run.device.type == "cuda",
                        generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch))
    n_batches = len(loader) if config.max_steps_per_epoch is None else min(len(loader), config.max_steps_per_epoch)
    run.generator.train()
    run.critic.train()
    bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}", leave=False, disable=not progress)
    # On the device until the epoch ends: float() per step would synchronise CUDA three times a step.
    curves = {"critic_loss": [], "wasserstein": [], "gradient_penalty": [], "generator_loss": []}
    for idx, batch in enumerate(loader):
        if idx >= n_batches:
            break
        real = run.real(batch)  # (B, 2, S, S)
        step = run.critic_step(real)
        history.critic_steps += 1
        for name, value in step.items():
            curves[name].append(value)
        # Counted over the whole run, not the epoch: the ratio stays exactly 1 : n_critic.
        if history.critic_steps % config.n_critic == 0:
            curves["generator_loss"].append(run.generator_step(real.shape[0]))
            history.generator_steps += 1
        if progress and (idx % 10 == 0 or idx == n_batches - 1):
            bar.set_postfix(W=f"{float(step['wasserstein']):.3f}", gp=f"{float(step['gradient_penalty']):.3f}")
        bar.update(1)
    bar.close()
    for name, values in curves.items():
        getattr(history, name).extend(torch.stack(values).float().tolist() if values else [])
    return len(curves["wasserstein"])


@torch.no_grad()
def _validate(run: _Run, val_dataset: Dataset | None) -> float:
    """Mean D(real) - mean D(fake) over the validation set, no penalty (nan without one). Its own
    seeded RNG: validation never moves the training RNG, and every epoch is scored on the same z."""
    if val_dataset is None or len(val_dataset) == 0:
        return float("nan")
    run.generator.eval()
    run.critic.eval()
    rng = torch.Generator(device=run.device).manual_seed(run.config.seed + 1)
    total, count = 0.0, 0
    for batch in DataLoader(val_dataset, batch_size=run.config.batch_size, shuffle=False):
        real = run.real(batch)  # (B, 2, S, S), masked
        with run.autocast():
            fake = run.fake(real.shape[0], rng)  # (B, 2, S, S)
            d_real, d_fake = run.critic(real).float(), run.critic(fake).float()  # (B, 1) each
        total += float(d_real.sum() - d_fake.sum())
        count += real.shape[0]
    return total / count
