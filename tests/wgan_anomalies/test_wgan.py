"""Tests of reference_solution.wgan_anomalies.wgan: shapes, ranges, the gradient penalty's closed forms, loss signs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reference_solution.wgan_anomalies.wgan import (
    Discriminator,
    Generator,
    apply_mask,
    critic_loss,
    generator_loss,
    gradient_penalty,
)


class LinearCritic(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere, so GP = (||w|| - 1)^2 exactly."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1, keepdim=True)  # (N, 1)


class QuadraticCritic(nn.Module):
    """D(x) = scale/2 ||x||^2: its input gradient at x_hat is scale * x_hat."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))

    def forward(self, x):
        return 0.5 * self.scale * (x ** 2).flatten(1).sum(1, keepdim=True)


class SignCritic(nn.Module):
    """+1 on real samples (all ones), -1 on fake samples (all zeros): D(x) = 2 mean(x) - 1."""

    def forward(self, x):
        return 2 * x.flatten(1).mean(1, keepdim=True) - 1


@pytest.mark.parametrize("size", [8, 32, 64])
@pytest.mark.parametrize("batch", [1, 3, 16])
def test_shapes_dtypes_and_ranges(size, batch):
    gen, critic = Generator(n_inputs=16, size=size), Discriminator(size=size)
    z = torch.randn(batch, 16)
    with torch.no_grad():
        x = gen(z)
    assert x.shape == (batch, 2, size, size) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    with torch.no_grad():
        score = critic(x)
    assert score.shape == (batch, 1) and score.dtype == torch.float32


def test_generator_eval_mode_batch_of_one():
    gen = Generator(n_inputs=8, size=16).eval()
    assert gen(torch.randn(1, 8)).shape == (1, 2, 16, 16)


def test_critic_is_unbounded_and_has_no_batch_norm():
    critic = Discriminator(size=32)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    with torch.no_grad():
        critic.head.bias.fill_(5.0)
        high = critic(torch.rand(4, 2, 32, 32))
        critic.head.bias.fill_(-5.0)
        low = critic(torch.rand(4, 2, 32, 32))
    assert float(high.min()) > 1.0 and float(low.max()) < 0.0


@pytest.mark.parametrize("size", [0, 4, 12, 48, 100, 32.0])
def test_bad_size_is_rejected_clearly(size):
    with pytest.raises(ValueError, match="power of two"):
        Generator(size=size)
    with pytest.raises(ValueError, match="power of two"):
        Discriminator(size=size)


def test_bad_input_shapes_name_expected_and_got():
    critic = Discriminator(size=32)
    with pytest.raises(ValueError, match=r"\(N, 2, 32, 32\).*\(4, 2, 64, 64\)"):
        critic(torch.zeros(4, 2, 64, 64))
    with pytest.raises(ValueError, match=r"\(2, 32, 32\)"):
        critic(torch.zeros(2, 32, 32))
    gen = Generator(n_inputs=16, size=32)
    with pytest.raises(ValueError, match=r"\(N, 16\).*\(4, 8\)"):
        gen(torch.zeros(4, 8))


def penalty_alphas(generator: torch.Generator, n: int) -> torch.Tensor:
    """The alphas gradient_penalty draws: the notebook's torch.rand, on a global RNG seeded from ``generator``."""
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.rand(n, 1, 1, 1, dtype=torch.float64)  # (n, 1, 1, 1)


def test_penalty_leaves_the_global_rng_alone_and_follows_its_generator():
    critic, real, fake = QuadraticCritic(), torch.rand(4, 2, 8, 8).double(), torch.rand(4, 2, 8, 8).double()
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    first = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(9))
    assert torch.equal(torch.rand(2), expected)
    assert torch.equal(first, gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(9)))


def test_the_networks_are_the_notebooks():
    """One implementation: the main job's nets are the notebook's solution classes, same layers."""
    from reference_solution.wgan_anomalies import exercises

    for ours, theirs in ((Generator(n_inputs=8, size=32), exercises.Generator(n_inputs=8, size=32)),
                         (Discriminator(size=32), exercises.Discriminator(size=32))):
        assert isinstance(ours, type(theirs))
        assert ({k: v.shape for k, v in ours.state_dict().items()}
                == {k: v.shape for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize("norm, expected", [(1.0, 0.0), (3.0, 4.0)])
def test_gradient_penalty_of_a_linear_critic(norm, expected):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 8, 8, generator=g, dtype=torch.float64)
    critic = LinearCritic(w / w.norm() * norm)
    real = torch.rand(5, 2, 8, 8, generator=g, dtype=torch.float64)
    fake = torch.rand(5, 2, 8, 8, generator=g, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, generator=g)
    assert gp.shape == ()
    assert float(gp.detach()) == pytest.approx(expected, abs=1e-10)


def test_gradient_penalty_of_a_quadratic_critic_matches_the_alphas():
    g = torch.Generator().manual_seed(1)
    real = torch.rand(6, 2, 8, 8, generator=g, dtype=torch.float64)
    fake = torch.rand(6, 2, 8, 8, generator=g, dtype=torch.float64)
    gp = gradient_penalty(QuadraticCritic(), real, fake, generator=torch.Generator().manual_seed(7))
    alpha = penalty_alphas(torch.Generator().manual_seed(7), 6)
    x_hat = alpha * real + (1 - alpha) * fake
    expected = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert float(gp.detach()) == pytest.approx(float(expected), rel=1e-6)
    # Not the same as the penalty at real or fake alone, so the interpolation matters.
    at_real = ((real.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert abs(float(gp.detach()) - float(at_real)) > 1e-3


def test_gradient_penalty_is_differentiable_in_the_critic_parameters():
    critic = QuadraticCritic()
    real, fake = torch.rand(4, 2, 8, 8).double(), torch.rand(4, 2, 8, 8).double()
    alpha_seed = 3
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(alpha_seed))
    gp.backward()  # double backward through autograd.grad(create_graph=True)
    # GP(s) = mean (s ||x_hat|| - 1)^2 => dGP/ds = mean 2 (s ||x_hat|| - 1) ||x_hat|| at s = 1.
    alpha = penalty_alphas(torch.Generator().manual_seed(alpha_seed), 4)
    r = (alpha * real + (1 - alpha) * fake).flatten(1).norm(dim=1)
    assert float(critic.scale.grad) == pytest.approx(float((2 * (r - 1) * r).mean()), rel=1e-6)
    # And through a real convolutional critic.
    net = Discriminator(size=8)
    gradient_penalty(net, torch.rand(3, 2, 8, 8), torch.rand(3, 2, 8, 8)).backward()
    for name, p in net.named_parameters():
        if name == "head.bias":  # a constant shift leaves the input gradient unchanged
            assert p.grad is None
        else:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_loss_signs():
    critic = SignCritic()
    real, fake = torch.ones(4, 2, 8, 8), torch.zeros(4, 2, 8, 8)
    loss, wasserstein, penalty = critic_loss(critic, real, fake, lambda_gp=0.0)
    assert float(loss.detach()) == pytest.approx(-2.0)  # mean D(fake) - mean D(real) = -1 - 1
    assert float(wasserstein) == pytest.approx(2.0)  # mean D(real) - mean D(fake)
    assert float(penalty) == 0.0
    assert float(generator_loss(critic, fake).detach()) == pytest.approx(1.0)  # -mean D(fake)
    assert float(generator_loss(critic, real).detach()) == pytest.approx(-1.0)


def test_critic_loss_adds_lambda_times_the_penalty():
    w = torch.full((2, 8, 8), 3.0 / np.sqrt(128))  # ||w|| = 3 -> GP = 4
    critic = LinearCritic(w)
    real, fake = torch.rand(4, 2, 8, 8), torch.rand(4, 2, 8, 8)
    loss0, w0, _ = critic_loss(critic, real, fake, lambda_gp=0.0)
    loss10, w10, penalty = critic_loss(critic, real, fake, lambda_gp=10.0)
    assert float(penalty) == pytest.approx(4.0, rel=1e-5)
    assert float((loss10 - loss0).detach()) == pytest.approx(40.0, rel=1e-5)
    assert float(w0) == pytest.approx(float(w10))
    loss10.backward()
    assert critic.w.grad is not None


def test_critic_loss_does_not_train_the_generator():
    gen, critic = Generator(n_inputs=8, size=8), Discriminator(size=8)
    fake = gen(torch.randn(4, 8))
    loss, _, _ = critic_loss(critic, torch.rand(4, 2, 8, 8), fake, lambda_gp=10.0)
    loss.backward()
    assert all(p.grad is None for p in gen.parameters())
    generator_loss(critic, fake).backward()
    assert all(p.grad is not None for p in gen.parameters())


def test_masked_outputs_are_zero_outside_the_mask():
    size = 16
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    r = torch.hypot(yy - (size - 1) / 2, xx - (size - 1) / 2)
    mask = (r <= size / 2).float()  # (S, S) disk
    x = apply_mask(Generator(n_inputs=8, size=size)(torch.randn(3, 8)), mask)
    assert x.shape == (3, 2, size, size)
    assert torch.all(x[:, :, mask == 0] == 0)
    assert torch.all(x[:, :, mask == 1] > 0)  # sigmoid outputs are never exactly 0
    assert torch.equal(apply_mask(x, mask), x)  # idempotent
    with pytest.raises(ValueError, match=r"\(16, 16\).*\(8, 8\)"):
        apply_mask(x, torch.ones(8, 8))
