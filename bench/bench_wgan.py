"""Training-step throughput of WGAN-GP: our step against the seed notebook's way, same run.

One step = one critic update with the gradient penalty, plus one generator update every
``n_critic`` steps (as in training). Images/s counts the real images the critic sees per second.

(a) ours: ``critic_loss`` / ``generator_loss`` from ``reference_solution.wgan_anomalies.wgan``, alpha drawn by
    torch on the device, one critic forward over real+fake; on CUDA bf16 autocast + channels_last.
(b) seed: float32, ``torch.autograd.Variable``, alpha from ``np.random.random`` wrapped in
    ``Tensor(...)`` (a host-to-device copy per step on CUDA), latent ``z`` from numpy, separate
    critic forwards for real and fake.

    python bench/bench_wgan.py --sizes 64 256 --steps 20 --batch 16 --repeats 3
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import torch
from torch import autograd
from torch.autograd import Variable

from reference_solution.wgan_anomalies.wgan import Discriminator, Generator, critic_loss, generator_loss


def make_ours(gen, dsc, opt_g, opt_c, device, latent, n_critic, lambda_gp):
    on_cuda = device.type == "cuda"
    fmt = torch.channels_last if on_cuda else torch.contiguous_format
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if on_cuda else contextlib.nullcontext
    gen.to(memory_format=fmt)
    dsc.to(memory_format=fmt)
    rng = torch.Generator(device=device).manual_seed(0)

    def step(real, i):
        real = real.contiguous(memory_format=fmt)
        with torch.no_grad(), autocast():
            fake = gen(torch.randn(real.shape[0], latent, generator=rng, device=device))
        with autocast():
            loss, _, _ = critic_loss(dsc, real, fake.float(), lambda_gp, rng)
        opt_c.zero_grad(set_to_none=True)
        loss.backward()
        opt_c.step()
        if (i + 1) % n_critic == 0:
            dsc.requires_grad_(False)
            with autocast():
                loss_g = generator_loss(dsc, gen(torch.randn(real.shape[0], latent, generator=rng,
                                                             device=device)))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            dsc.requires_grad_(True)
    return step


def make_seed(gen, dsc, opt_g, opt_c, device, latent, n_critic, lambda_gp):
    on_cuda = device.type == "cuda"
    Tensor = torch.cuda.FloatTensor if on_cuda else torch.FloatTensor  # noqa: N806 (the seed's name)

    def compute_gradient_penalty(model_dsc, real_samples, fake_samples):  # verbatim from the seed
        alpha = Tensor(np.random.random((real_samples.size(0), 1, 1, 1)))
        interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
        d_interpolates = model_dsc(interpolates)
        fake = Variable(Tensor(d_interpolates.shape[0], 1).fill_(1.0), requires_grad=False)
        gradients = autograd.grad(outputs=d_interpolates, inputs=interpolates, grad_outputs=fake,
                                  create_graph=True, retain_graph=True, only_inputs=True)[0]
        gradients = gradients.view(gradients.size(0), -1)
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean()

    def step(real, i):
        real_imgs = Variable(real.type(Tensor))
        z = Variable(Tensor(np.random.normal(0, 1, (real.shape[0], latent))))
        fake_imgs = gen(z)
        opt_c.zero_grad()
        gp = compute_gradient_penalty(dsc, real_imgs.data, fake_imgs.data)
        d_loss = -torch.mean(dsc(real_imgs)) + torch.mean(dsc(fake_imgs.detach())) + lambda_gp * gp
        d_loss.backward()
        opt_c.step()
        if (i + 1) % n_critic == 0:
            opt_g.zero_grad()
            g_loss = -torch.mean(dsc(gen(z)))
            g_loss.backward()
            opt_g.step()
    return step


def setup(variant, size, batch, device, latent=128, n_critic=5):
    torch.manual_seed(0)
    np.random.seed(0)
    gen, dsc = Generator(n_inputs=latent, size=size).to(device), Discriminator(size=size).to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_c = torch.optim.Adam(dsc.parameters(), lr=1e-4, betas=(0.0, 0.9))
    make = make_ours if variant == "ours" else make_seed
    return make(gen, dsc, opt_g, opt_c, device, latent, n_critic, lambda_gp=10.0)


def time_steps(step, real, steps, device) -> float:
    """Seconds for ``steps`` steps (indices 0..steps-1, so generator steps land alike)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        step(real, i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bench_size(size, steps, batch, device, n_critic, repeats, warmup=2):
    """Median steps/s of both variants, timed in alternating rounds so that a load spike on a
    shared machine hits both alike; peak GPU memory per variant (nan on CPU)."""
    variants = ("seed", "ours")
    steps_fns = {v: setup(v, size, batch, device, n_critic=n_critic) for v in variants}
    real = torch.rand(batch, 2, size, size, device=device)
    peaks, seconds = {}, {v: [] for v in variants}
    for v in variants:
        for i in range(warmup):
            steps_fns[v](real, i)
    for _ in range(repeats):
        for v in variants:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            seconds[v].append(time_steps(steps_fns[v], real, steps, device))
            peaks[v] = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" \
                else float("nan")
    return {v: (steps / float(np.median(seconds[v])), peaks[v]) for v in variants}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per case")
    parser.add_argument("--steps-256", type=int, default=None, help="timed steps at >= 256 px")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="alternating timing rounds (median)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else \
        f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; batch {args.batch}; n_critic {args.n_critic}; "
          f"median of {args.repeats} alternating rounds")
    print(f"{'size':>5} {'variant':>8} {'steps':>6} {'steps/s':>9} {'images/s':>9} {'peak GiB':>9} {'speedup':>8}")
    for size in args.sizes:
        steps = args.steps_256 if (args.steps_256 and size >= 256) else args.steps
        result = bench_size(size, steps, args.batch, device, args.n_critic, args.repeats)
        for variant, (sps, peak) in result.items():
            speedup = f"{sps / result['seed'][0]:.2f}x"
            print(f"{size:>5} {variant:>8} {steps:>6} {sps:>9.3f} {sps * args.batch:>9.1f} "
                  f"{peak:>9.2f} {speedup:>8}", flush=True)

if __name__ == "__main__":
    main()
