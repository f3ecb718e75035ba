# GENERATED from source/wgan_anomalies/wgan_anomalies.ipynb by `python -m reference_solution release`
# from the cells ds_code, networks_code, gradient_penalty_code, train_model_code, samplers_code, classifier_code, train_classifier_code.
# Edit the notebook, never this file: tests/course/test_solution_module.py fails when the two differ.
"""Assignment 1's reference solutions, as the student writes them in the notebook (one implementation:
the notebook's solution cells, markers removed). The main job's engine (``wgan.py``, ``training.py``,
``classifier.py``) builds on these classes and functions and adds input checks, configs,
seeded randomness, resume and AMP around them."""

import os
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import stats
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

# ---- ds_code ---------------------------------------------------------------------------------------

class DS(Dataset):
    def __init__(self, pv_fname: str = "", gh_fname: str = "", mask_fname: str = "",
                 transform: Any = None):
        for name in (pv_fname, gh_fname, mask_fname):
            if not os.path.isfile(name):
                raise FileNotFoundError(f"course file {name} does not exist")
        self.pv = np.load(pv_fname, mmap_mode="r")  # (N, H, W), read lazily
        self.gh = np.load(gh_fname, mmap_mode="r")
        if self.pv.ndim != 3 or self.pv.shape != self.gh.shape:
            raise ValueError(f"pv {pv_fname} has shape {self.pv.shape} but gh {gh_fname} has "
                             f"shape {self.gh.shape}; expected the same N x H x W")
        self.mask = np.load(mask_fname).astype(np.float32)  # (H, W)
        if self.mask.shape != self.pv.shape[1:]:
            raise ValueError(f"mask {mask_fname} has shape {self.mask.shape}, expected "
                             f"{self.pv.shape[1:]}")
        self.transform = transform

    def __getitem__(self, index):
        x = np.empty((2,) + self.mask.shape, dtype=np.float32)  # (2, H, W)
        x[0] = self.pv[index]
        x[1] = self.gh[index]
        x *= self.mask
        x = torch.from_numpy(x)
        if self.transform is not None:
            x = self.transform(x)
        return x

    def __len__(self):
        return self.pv.shape[0]


# ---- networks_code ---------------------------------------------------------------------------------

class Generator(nn.Module):
    def __init__(self, n_inputs: int = 128, size: int = 256):
        super().__init__()
        self.n_inputs, self.size = n_inputs, size
        n_blocks = int(np.log2(size // 4))
        width = lambda res: min(256, 8 * size // res)  # channels at resolution res
        self.project = nn.Linear(n_inputs, width(4) * 16)
        self.start = nn.Sequential(nn.BatchNorm2d(width(4)), nn.ReLU())
        blocks, res = [], 4
        for _ in range(n_blocks):
            blocks += [nn.Upsample(scale_factor=2), nn.Conv2d(width(res), width(2 * res), 3, padding=1),
                       nn.BatchNorm2d(width(2 * res)), nn.ReLU()]
            res *= 2
        self.blocks = nn.Sequential(*blocks)
        self.to_image = nn.Conv2d(width(size), 2, 3, padding=1)

    def forward(self, x_noise):
        x = x_noise
        x = self.project(x).view(x.shape[0], -1, 4, 4)  # (N, C, 4, 4)
        x = self.blocks(self.start(x))  # (N, C', size, size)
        x = torch.sigmoid(self.to_image(x))  # (N, 2, size, size) in [0, 1]
        return x


class Discriminator(nn.Module):
    def __init__(self, size: int = 256):
        super().__init__()
        self.size = size
        n_blocks = int(np.log2(size // 4))
        width = lambda res: min(256, 8 * size // res)
        layers, c_in, res = [], 2, size
        for _ in range(n_blocks):
            res //= 2
            layers += [nn.Conv2d(c_in, width(res), 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = width(res)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * 16, 1)

    def forward(self, x):
        x = self.head(self.features(x).flatten(1))  # (N, 1), no activation
        return x


# ---- gradient_penalty_code -------------------------------------------------------------------------

def compute_gradient_penalty(model_dsc, real_samples, fake_samples):
    """Gradient penalty of WGAN-GP: mean over samples of (||grad D(x_hat)||_2 - 1)^2, a 0-d tensor."""
    alpha = torch.rand(real_samples.shape[0], *([1] * (real_samples.ndim - 1)),
                       device=real_samples.device, dtype=real_samples.dtype)  # (N, 1, 1, 1)
    interpolates = (alpha * real_samples.detach() + (1 - alpha) * fake_samples.detach()).requires_grad_(True)
    d_interpolates = model_dsc(interpolates)  # (N, 1)
    gradients = torch.autograd.grad(outputs=d_interpolates.sum(), inputs=interpolates,
                                    create_graph=True)[0]
    gradients = gradients.reshape(gradients.shape[0], -1)  # (N, 2*H*W)
    gradient_penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
    return gradient_penalty


# ---- train_model_code ------------------------------------------------------------------------------

def train_model(model_gen: nn.Module, model_dsc: nn.Module, train_dataset: Dataset,
                optimizer_gen: torch.optim.Optimizer, optimizer_dsc: torch.optim.Optimizer,
                batch_size=32, max_epochs=10, n_critic=5, lambda_gp=10.0, mask=None,
                latent_dim=128, val_dataset=None, lr_gamma=1.0, checkpoint_dir=None,
                progress=True, average=None, on_epoch_end=None):
    """Train a WGAN-GP; return (val_loss_history, dsc_loss_history, gen_loss_history)."""
    device = next(model_gen.parameters()).device
    train_loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=True,
                              drop_last=len(train_dataset) >= batch_size)
    val_loader = DataLoader(train_dataset if val_dataset is None else val_dataset,
                            batch_size=batch_size, shuffle=False)
    lr_scheduler_gen = torch.optim.lr_scheduler.ExponentialLR(optimizer_gen, gamma=lr_gamma)
    lr_scheduler_dsc = torch.optim.lr_scheduler.ExponentialLR(optimizer_dsc, gamma=lr_gamma)
    mask = None if mask is None else torch.as_tensor(mask, dtype=torch.float32).to(device)

    def masked(x):
        return x if mask is None else x * mask

    val_loss_history, gen_loss_history, dsc_loss_history = [], [], []
    lgen, ldsc, critic_steps = 0.0, 0.0, 0
    for epoch in range(max_epochs):
        model_gen.train()
        model_dsc.train()
        with tqdm(total=len(train_loader), desc=f"epoch {epoch + 1}/{max_epochs}",
                  disable=not progress, leave=False) as pbar:
            for idx, real_batch in enumerate(train_loader):
                if isinstance(real_batch, (list, tuple)):
                    real_batch = real_batch[0]
                real = masked(real_batch.to(device))  # (B, 2, H, W)
                with torch.no_grad():
                    fake = masked(model_gen(torch.randn(real.shape[0], latent_dim, device=device)))
                loss_dsc = (model_dsc(fake).mean() - model_dsc(real).mean()
                            + lambda_gp * compute_gradient_penalty(model_dsc, real, fake))
                optimizer_dsc.zero_grad()
                loss_dsc.backward()
                optimizer_dsc.step()
                ldsc = loss_dsc.item()
                dsc_loss_history.append(ldsc)
                critic_steps += 1

                if critic_steps % n_critic == 0:
                    fake = masked(model_gen(torch.randn(real.shape[0], latent_dim, device=device)))
                    loss_gen = -model_dsc(fake).mean()
                    optimizer_gen.zero_grad()
                    loss_gen.backward()
                    optimizer_gen.step()
                    lgen = loss_gen.item()
                    gen_loss_history.append(lgen)
                if average is not None:  # the running average of the generator's weights (given)
                    average.update(model_gen)
                pbar.update(1)
                pbar.set_postfix({"step": idx + 1, "loss_GEN": lgen, "loss_DSC": ldsc})

        # Validation: D(x_real) - D(x_fake) without the penalty.
        model_gen.eval()
        model_dsc.eval()
        val_loss_epoch = 0.0
        total, count = 0.0, 0
        with torch.no_grad():
            for vidx, real_batch in enumerate(val_loader):
                if val_dataset is None and vidx >= 4:
                    break
                if isinstance(real_batch, (list, tuple)):
                    real_batch = real_batch[0]
                real = masked(real_batch.to(device))
                fake = masked(model_gen(torch.randn(real.shape[0], latent_dim, device=device)))
                total += (model_dsc(real).sum() - model_dsc(fake).sum()).item()
                count += real.shape[0]
        val_loss_epoch = total / max(count, 1)
        val_loss_history.append(val_loss_epoch)
        lr_scheduler_gen.step()
        lr_scheduler_dsc.step()
        if on_epoch_end is not None:  # given: e.g. the sample-quality curve of the training cell
            on_epoch_end(epoch)

        if checkpoint_dir is not None:  # every epoch: the last epoch's and the best epoch's checkpoint
            os.makedirs(checkpoint_dir, exist_ok=True)
            state = {"generator": model_gen.state_dict(), "critic": model_dsc.state_dict(),
                     "epoch": epoch + 1, "val_loss": val_loss_epoch}
            torch.save(state, os.path.join(checkpoint_dir, "last.pt"))
            if val_loss_epoch <= min(val_loss_history):  # the lowest Wasserstein estimate so far
                torch.save(state, os.path.join(checkpoint_dir, "best.pt"))
    return val_loss_history, dsc_loss_history, gen_loss_history


# ---- samplers_code ---------------------------------------------------------------------------------

def SamplingUnitSphereUniform(ndim=2, nsamples=100):
    """(nsamples, ndim) points uniform on the unit sphere (Algorithm 2)."""
    d = np.random.standard_normal((nsamples, ndim))
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    return d


def SamplingBallUniform(ndim=2, radius=1, nsamples=100):
    """(nsamples, ndim) points uniform in the n-ball of the given radius (Algorithm 1)."""
    s = SamplingUnitSphereUniform(ndim, nsamples)
    c = np.random.uniform(0.0, 1.0, size=(nsamples, 1))
    b = s * c ** (1.0 / ndim) * radius
    return b


def SampleInnerAndOuterExamples(ndim=2, radius_inner=1, radius_outer=2, nsamples=100):
    """nsamples points uniform in the ball of radius_outer, split at radius_inner."""
    samples = SamplingBallUniform(ndim, radius_outer, nsamples)
    inner = np.linalg.norm(samples, axis=1) <= radius_inner
    samples_inner, samples_outer = samples[inner], samples[~inner]
    return samples_inner, samples_outer


# ---- classifier_code -------------------------------------------------------------------------------

class Classifier(nn.Module):
    def __init__(self, size: int = 256):
        super().__init__()
        layers, c_in, res = [], 2, size
        while res > 4:
            c_out = min(128, 8 * size // (res // 2))
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.GroupNorm(min(8, c_out), c_out),
                       nn.LeakyReLU(0.2)]
            c_in, res = c_out, res // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(c_in * 16, 1))  # dropout: generated data are cheap but correlated

    def forward(self, x):
        x = self.head(self.features(x).flatten(1))  # (N, 1) logits
        return x


# ---- train_classifier_code -------------------------------------------------------------------------

def train_classifier(model_gen: nn.Module, model_clf: nn.Module, batch_size=64,
                     batches_per_epoch=128, max_epochs=512, latent_dim=128, mask=None,
                     lr=1e-3, lr_gamma=0.9, scheme="gaussian", progress=True):
    """Train model_clf on balanced generated batches; return the validation loss per epoch."""
    device = next(model_clf.parameters()).device
    r_inner = stats.chi.ppf(0.98, latent_dim)
    r_outer = r_inner * 2 ** (1 / latent_dim)
    mask_t = None if mask is None else torch.as_tensor(mask, dtype=torch.float32).to(device)
    model_gen.eval()
    optimizer = torch.optim.Adam(model_clf.parameters(), lr=lr)
    lr_scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=lr_gamma)

    def gaussian_latents():  # N(0, I), inner latents kept with probability (1 - q) / q
        kept = []
        while sum(len(z) for z in kept) < batch_size:
            z = np.random.standard_normal((4 * batch_size, latent_dim))
            inner = np.linalg.norm(z, axis=1) <= r_inner
            keep = ~inner | (np.random.uniform(size=len(z)) < (1 - 0.98) / 0.98)
            kept.append(z[keep])
        z = np.concatenate(kept)[:batch_size]
        inner = np.linalg.norm(z, axis=1) <= r_inner
        return z[inner], z[~inner]

    @torch.no_grad()
    def make_batch():
        if scheme == "gaussian":
            inner, outer = gaussian_latents()
        else:
            inner, outer = SampleInnerAndOuterExamples(latent_dim, r_inner, r_outer, batch_size)
        z = torch.as_tensor(np.concatenate([np.asarray(inner), np.asarray(outer)]), dtype=torch.float32)
        y = torch.cat([torch.zeros(len(inner), 1), torch.ones(len(outer), 1)])
        x = model_gen(z.to(device))
        if mask_t is not None:
            x = x * mask_t
        return x, y.to(device)

    val_loss_history = []
    for epoch in tqdm(range(max_epochs), desc="classifier", disable=not progress, leave=False):
        model_clf.train()
        for _ in range(batches_per_epoch):
            x, y = make_batch()
            loss = F.binary_cross_entropy_with_logits(model_clf(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        model_clf.eval()
        val_loss_epoch = 0.0
        with torch.no_grad():
            for _ in range(4):
                x, y = make_batch()
                val_loss_epoch += F.binary_cross_entropy_with_logits(model_clf(x), y).item() / 4
        val_loss_history.append(val_loss_epoch)
        lr_scheduler.step()
    return val_loss_history
