"""Hidden checks of the ``wgan_anomalies`` training loops: ``train_model`` and ``train_classifier``.

The loops are run on instrumented toy models whose behaviour is known: a generator whose output
is one learnable number ``p`` everywhere, a linear critic ``D(x) = a * mean(x) + b``, optimizers
that count their steps. Convergence is checked by training the student's own networks on the
synthetic stratosphere at 32 px (CPU, within the grading budget) and, with CUDA, at 256 px.
"""

from __future__ import annotations

import importlib.util
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset

_checks_path = Path(__file__).resolve().parent / "wgan_checks.py"
_spec = importlib.util.spec_from_file_location("_wgan_checks_for_training", _checks_path)
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)
call, tensor, seed_all, quiet = base.call, base.tensor, base.seed_all, base.quiet

SIZE = 8
CLASSIFIER_SECONDS = 60.0  # wall-clock limit of the toy train_classifier run (a right one: seconds)


class Images(Dataset):
    def __init__(self, x: torch.Tensor):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


class ConstGenerator(nn.Module):
    """Output p everywhere, whatever z; records the training flag and z of every call."""

    def __init__(self, latent: int, p: float = 0.1, size: int = SIZE):
        super().__init__()
        self.n_inputs, self.size = latent, size
        self.p = nn.Parameter(torch.tensor(p))
        self.calls = []

    def forward(self, z):
        self.calls.append((self.training, z.detach().clone()))
        return self.p + 0 * z.sum(1).view(-1, 1, 1, 1) + torch.zeros(z.shape[0], 2, self.size, self.size)


class LinearCritic(nn.Module):
    def __init__(self, a: float = 1.0):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))
        self.b = nn.Parameter(torch.tensor(0.0))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.a * x.mean(dim=(1, 2, 3)).unsqueeze(1) + self.b  # (N, 1)


class CountingSGD(torch.optim.SGD):
    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


def disk(size: int) -> torch.Tensor:
    return torch.from_numpy(base._disk(size))


def _run(train_model, gen, critic, data, *, lr=1e-2, **kwargs):
    opt_g, opt_c = CountingSGD(gen.parameters(), lr), CountingSGD(critic.parameters(), lr)
    args = dict(batch_size=4, max_epochs=1, n_critic=4, lambda_gp=0.0, mask=None, latent_dim=8,
                progress=False)
    args.update(kwargs)
    out = call("train_model", train_model, gen, critic, Images(data), opt_g, opt_c, **args)
    return out, opt_g, opt_c


def critic_and_generator_losses_have_the_right_signs(train_model) -> None:
    """Real data 0.9, fakes p = 0.1, critic a * mean(x): a critic step raises a (D(real) - D(fake)
    grows), a generator step raises p (D(fake) grows); with real = fake the penalty alone pulls
    |grad D| = |a| / sqrt(d) towards 1."""
    seed_all(0)
    gen, critic = ConstGenerator(8, 0.1), LinearCritic(1.0)
    _run(train_model, gen, critic, torch.full((12, 2, SIZE, SIZE), 0.9), n_critic=1, lr=1e-2)
    a, p = float(critic.a.detach()), float(gen.p.detach())
    assert a > 1.0, "a critic step should increase D(real) - D(fake): check the sign of the critic loss"
    assert p > 0.1, "a generator step should increase the critic's score of the fakes: check the sign of the generator loss"
    d = 2 * SIZE * SIZE
    gen, critic = ConstGenerator(8, 0.5), LinearCritic(3.0 * math.sqrt(d))
    _run(train_model, gen, critic, torch.full((12, 2, SIZE, SIZE), 0.5), n_critic=100, lambda_gp=10.0, lr=1e-3)
    a = float(critic.a.detach())
    assert a < 3.0 * math.sqrt(d), ("with real = fake only the gradient penalty moves the critic and it "
                                    "should pull |grad D| towards 1: is lambda_gp * penalty added to the critic loss?")


def training_runs_n_critic_critic_steps_per_generator_step(train_model) -> None:
    """12 batches of 4: n_critic = 4 gives 12 critic and 3 generator optimizer steps, 3 gives 12
    and 4, 1 gives 12 and 12."""
    for n_critic, expected in ((4, 3), (3, 4), (1, 12)):
        seed_all(1)
        gen, critic = ConstGenerator(8), LinearCritic()
        _, opt_g, opt_c = _run(train_model, gen, critic, torch.rand(48, 2, SIZE, SIZE),
                               n_critic=n_critic, lambda_gp=10.0, lr=1e-4)
        assert opt_c.steps == 12, f"one epoch of 12 batches should make 12 critic steps, made {opt_c.steps}"
        assert opt_g.steps == expected, (
            f"with n_critic = {n_critic}, 12 critic steps should come with {expected} generator "
            f"steps, got {opt_g.steps}")


def training_masks_real_and_generated_samples(train_model) -> None:
    """Real data that ignore the mask and a generator that ignores it: every batch the critic
    sees (real, generated, interpolated, validation) is zero outside the mask."""
    seed_all(2)
    mask = disk(SIZE)
    gen, critic = ConstGenerator(8, 0.7), LinearCritic()
    data = torch.rand(16, 2, SIZE, SIZE) * mask + (1 - mask)
    _run(train_model, gen, critic, data, n_critic=2, lambda_gp=10.0, mask=mask, lr=1e-4,
         val_dataset=Images(data[:8]))
    assert critic.seen, "the critic was never called"
    outside = max(float(x[:, :, mask == 0].abs().max()) for x in critic.seen)
    assert outside == 0.0, ("the critic saw non-zero values outside the mask: multiply both the "
                            "real and the generated samples by the mask")


def training_schedules_validates_and_checkpoints(train_model) -> None:
    """Two epochs with lr_gamma = 0.5: both learning rates end at lr / 4, one finite validation
    value per epoch, finite loss histories, and checkpoint files in checkpoint_dir."""
    seed_all(3)
    gen, critic = ConstGenerator(8), LinearCritic()
    with tempfile.TemporaryDirectory() as folder:
        ckpt = os.path.join(folder, "ckpt")
        out, opt_g, opt_c = _run(train_model, gen, critic, torch.rand(16, 2, SIZE, SIZE), max_epochs=2,
                                 n_critic=2, lambda_gp=10.0, lr=1e-3, lr_gamma=0.5,
                                 val_dataset=Images(torch.rand(8, 2, SIZE, SIZE)), checkpoint_dir=ckpt)
        files = [f for f in os.listdir(ckpt)] if os.path.isdir(ckpt) else []
        assert files, "train_model should save a checkpoint into checkpoint_dir every epoch"
    for opt, name in ((opt_g, "generator"), (opt_c, "critic")):
        lr = float(opt.param_groups[0]["lr"])
        assert abs(lr - 1e-3 / 4) < 1e-9, (
            f"after 2 epochs with lr_gamma = 0.5 the {name}'s learning rate should be lr / 4; found "
            f"{lr:.3g} (one ExponentialLR step per epoch)")
    assert isinstance(out, tuple) and len(out) == 3, "return (val_loss_history, dsc_loss_history, gen_loss_history)"
    val, dsc, gen_h = (list(h) for h in out)
    assert len(val) == 2, f"val_loss_history should hold one value per epoch (2), got {len(val)}"
    assert len(dsc) >= 1 and len(gen_h) >= 1, "loss histories should record the critic and generator losses"
    for v in val + dsc + gen_h:
        v = v.item() if type(v) is torch.Tensor else v
        assert isinstance(v, (int, float, np.floating)) and math.isfinite(float(v)), "histories should hold finite numbers"


# ---- convergence -------------------------------------------------------------------------------

def _stratosphere(size: int, winters: int) -> tuple[torch.Tensor, torch.Tensor]:
    from reference_solution.stratosphere import generate

    states = generate(winters=winters, size=size, seed=0)
    mask = torch.from_numpy(states.mask).float()
    images = torch.from_numpy(np.stack([states.pv, states.gh], axis=1)) * mask
    return images.float(), mask


def _sliced_w(x: torch.Tensor, y: torch.Tensor, n_projections: int = 256) -> float:
    x, y = x.reshape(len(x), -1).double().cpu(), y.reshape(len(y), -1).double().cpu()
    theta = torch.randn(x.shape[1], n_projections, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    theta = theta / theta.norm(dim=0, keepdim=True)
    px, py = torch.sort(x @ theta, dim=0).values, torch.sort(y @ theta, dim=0).values
    return float((px - py).abs().mean())


def _pairwise(x: torch.Tensor) -> float:
    x = x.reshape(len(x), -1).double().cpu()
    return float(torch.cdist(x, x).sum() / (len(x) * (len(x) - 1)))


def _channel_stats(x: torch.Tensor, mask: torch.Tensor):
    v = x[:, :, mask.bool()].transpose(0, 1).reshape(x.shape[1], -1).double()
    return v.mean(1), v.std(1)


def _train_and_score(Generator, Discriminator, train_model, size, winters, epochs, device, n_eval):
    images, mask = _stratosphere(size, winters)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    real, held_out = images[order[:-n_eval]], images[order[-n_eval:]]
    latent = 32
    seed_all(0)
    gen = call("Generator", Generator, n_inputs=latent, size=size).to(device)
    critic = call("Discriminator", Discriminator, size=size).to(device)
    z = torch.randn(n_eval, latent, generator=torch.Generator().manual_seed(5)).to(device)

    def samples():
        gen.eval()
        with torch.no_grad():
            return tensor(call("generator(z)", gen, z), "generator(z)").float().cpu() * mask

    sw_start = _sliced_w(samples(), held_out)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    seed_all(0)
    out = call("train_model", train_model, gen, critic, Images(real), opt_g, opt_c, batch_size=32,
               max_epochs=epochs, n_critic=3, lambda_gp=10.0, mask=mask, latent_dim=latent,
               val_dataset=Images(held_out[:64]), lr_gamma=0.85, checkpoint_dir=None, progress=False)
    fake = samples()
    return out, fake, held_out, mask, sw_start, _sliced_w(fake, held_out)


def training_converges_at_cpu_scale(Generator, Discriminator, train_model) -> None:
    """Your Generator(32, size=32) and Discriminator(size=32) trained by train_model for 6 epochs
    (n_critic 3, Adam 1e-3) on 650 days of the synthetic stratosphere: sliced Wasserstein distance
    to 256 held-out days at most half its start, channel means within 0.05 and stds within 30% of
    the data's inside the mask, mean pairwise distance above half the data's (no mode collapse)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _, fake, held_out, mask, sw_start, sw_end = _train_and_score(
            Generator, Discriminator, train_model, 32, 6, 6, torch.device("cpu"), 256)
    finally:
        torch.set_num_threads(threads)
    assert math.isfinite(sw_end) and sw_end <= 0.5 * sw_start, (
        f"the generated states did not approach the data: sliced Wasserstein distance {sw_end:.3f}, "
        f"needed at most half of the untrained {sw_start:.3f}")
    mean_f, std_f = _channel_stats(fake, mask)
    mean_r, std_r = _channel_stats(held_out, mask)
    assert float((mean_f - mean_r).abs().max()) < 0.05, "channel means of generated states are off"
    assert float((std_f / std_r - 1).abs().max()) < 0.3, "channel spreads of generated states are off"
    ratio = _pairwise(fake) / _pairwise(held_out)
    assert ratio > 0.5, f"generated states are too alike (diversity ratio {ratio:.2f}): mode collapse?"


def training_converges_at_full_size_on_gpu(Generator, Discriminator, train_model) -> None:
    """With CUDA: 256 px, 2 winters, 3 epochs; finite histories and the generator moves towards the
    data (sliced Wasserstein distance below 0.8 of its start). Without CUDA: one epoch at 16 px on
    the CPU with finite histories (a blank or crashing loop fails on every machine)."""
    if not torch.cuda.is_available():  # a smoke run at 16 px instead, so a blank loop earns nothing
        print("No CUDA device: the full-size (256 px) check is replaced by one epoch at 16 px on the CPU.")
        out, *_ = _train_and_score(Generator, Discriminator, train_model, 16, 1, 1, torch.device("cpu"), 16)
        for history in out:
            for v in history:
                v = v.item() if type(v) is torch.Tensor else v
                assert math.isfinite(float(v)), "the training histories should stay finite at 16 px"
        return
    out, fake, held_out, mask, sw_start, sw_end = _train_and_score(
        Generator, Discriminator, train_model, 256, 2, 3, torch.device("cuda"), 64)
    for history in out:
        for v in history:
            v = v.item() if type(v) is torch.Tensor else v
            assert math.isfinite(float(v)), "the training histories should stay finite at 256 px"
    assert sw_end < 0.8 * sw_start, (
        f"at 256 px the generated states did not approach the data: sliced Wasserstein "
        f"{sw_end:.3f} vs {sw_start:.3f} untrained")


# ---- the classifier's training -----------------------------------------------------------------

class BNGenerator(nn.Module):
    """z (N, n) -> (N, 2, 8, 8) through batch norm (eval mode matters), records calls."""

    def __init__(self, latent: int):
        super().__init__()
        self.n_inputs, self.size = latent, SIZE
        self.lin = nn.Linear(latent, 2 * SIZE * SIZE)
        self.bn = nn.BatchNorm1d(2 * SIZE * SIZE)
        self.calls = []

    def forward(self, z):
        self.calls.append((self.training, z.detach().clone()))
        return torch.sigmoid(self.bn(self.lin(z))).view(-1, 2, SIZE, SIZE) + 0.5


class RecordingClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(2 * SIZE * SIZE, 1))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.net(x)


def _classifier_run(train_classifier, latent=128):
    seed_all(4)
    gen, clf = BNGenerator(latent), RecordingClassifier()
    gen.train()
    with torch.no_grad():  # non-trivial running statistics, so an update would show
        gen(torch.randn(64, latent))
    gen.calls.clear()
    state = {k: v.clone() for k, v in gen.state_dict().items()}
    clf_before = [p.detach().clone() for p in clf.parameters()]
    mask = disk(SIZE)
    with base.time_limit(CLASSIFIER_SECONDS, "train_classifier (2 epochs of 3 batches of 32)"):
        out = call("train_classifier", train_classifier, gen, clf, batch_size=32, batches_per_epoch=3,
                   max_epochs=2, latent_dim=latent, mask=mask, progress=False)
    return gen, clf, state, clf_before, mask, out


def classifier_training_keeps_the_generator_frozen(train_classifier) -> None:
    """The generator's weights and batch-norm statistics are unchanged, it runs in eval mode, the
    classifier's weights change, and one validation loss per epoch is returned."""
    gen, clf, state, clf_before, _, out = _classifier_run(train_classifier)
    assert gen.calls, "train_classifier should make its training data with the generator"
    assert all(not training for training, _ in gen.calls), "the generator should run in eval mode"
    for k, v in gen.state_dict().items():
        assert torch.equal(v, state[k]), f"the generator changed during classifier training ({k})"
    assert any(not torch.equal(a, b) for a, b in zip(clf_before, clf.parameters())), (
        "train_classifier should update the classifier")
    values = list(out) if isinstance(out, (list, tuple)) else []
    assert len(values) == 2, "return the validation loss history, one value per epoch"
    for v in values:
        v = v.item() if type(v) is torch.Tensor else v
        assert isinstance(v, (int, float, np.floating)) and math.isfinite(float(v)), "losses should be finite numbers"


def classifier_trains_on_balanced_masked_batches(train_classifier) -> None:
    """About half of the latents fed to the generator lie outside q_0.98 (5 sd), and the
    classifier sees masked states (zero outside the mask)."""
    gen, clf, _, _, mask, _ = _classifier_run(train_classifier)
    z = torch.cat([c[1] for c in gen.calls]).double()
    assert z.shape[1] == 128, "latents should have latent_dim components"
    share = float((z.norm(dim=1) > base.CHI_P98[128]).double().mean())
    sd = math.sqrt(0.25 / len(z))
    assert abs(share - 0.5) < max(5 * sd, 0.05), (
        f"{share:.0%} of the latents are anomalous (norm above the 98% chi quantile); balanced "
        "batches should hold about 50%")
    assert clf.seen, "the classifier was never called"
    outside = max(float(x[:, :, mask == 0].abs().max()) for x in clf.seen)
    assert outside == 0.0, "the classifier should see generated states multiplied by the mask"
