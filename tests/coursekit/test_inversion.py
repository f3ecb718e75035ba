"""Latent inversion against closed forms: a linear generator G(z) = A z + b."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from reference_solution.coursekit.inversion import InversionConfig, invert_dataset, outside_chi_ball


class LinearGenerator(nn.Module):
    """``G(z) = A z + b`` reshaped to ``(N, 2, s, s)``."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, size: int):
        super().__init__()
        self.n_inputs, self.size = a.shape[1], size
        self.a = nn.Parameter(a.clone())
        self.b = nn.Parameter(b.clone())

    def forward(self, z):
        return (z @ self.a.T + self.b).view(len(z), 2, self.size, self.size)


def _linear(n_latent: int, size: int, seed: int = 0) -> LinearGenerator:
    g = torch.Generator().manual_seed(seed)
    d = 2 * size * size
    a = torch.randn(d, n_latent, generator=g) / np.sqrt(d)
    return LinearGenerator(a, 0.1 * torch.randn(d, generator=g), size)


def test_full_rank_linear_generator_is_inverted_exactly():
    gen = _linear(4, 4)
    z_true = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = gen(z_true)
    res = invert_dataset(gen, x, InversionConfig(steps=600, lr=0.05, batch_size=7))
    torch.testing.assert_close(res.z, z_true, atol=2e-3, rtol=0)
    assert res.residual.max() < 1e-7
    np.testing.assert_allclose(res.norm, z_true.norm(dim=1).double().numpy(), atol=5e-3)
    assert res.curve[-1] < 1e-3 * res.curve[0]


def test_gradient_descent_from_zero_finds_the_minimum_norm_preimage():
    # More latents than pixels: many z reproduce x; plain gradient descent from z = 0 stays in
    # the row space of A and converges to A^+ (x - b), the preimage of least norm.
    size, n = 2, 12
    gen = _linear(n, size, seed=3)
    z_any = torch.randn(5, n, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        x = gen(z_any)
    cfg = InversionConfig(steps=800, lr=0.5, optimizer="sgd", momentum=0.9)
    res = invert_dataset(gen, x, cfg)
    a, b = gen.a.detach(), gen.b.detach()
    expected = (torch.linalg.pinv(a) @ (x.reshape(5, -1) - b).T).T
    torch.testing.assert_close(res.z, expected, atol=1e-3, rtol=0)
    assert (res.norm < z_any.norm(dim=1).numpy()).all()  # shorter than the z that made x


def test_residual_of_a_state_off_the_generators_range_is_its_distance_to_the_range():
    size = 4
    gen = _linear(3, size, seed=5)
    a = gen.a.detach()
    q, _ = torch.linalg.qr(a)  # orthonormal basis of the range
    v = torch.randn(2 * size * size, generator=torch.Generator().manual_seed(6))
    v = v - q @ (q.T @ v)  # orthogonal to the range
    z_true = torch.tensor([[0.5, -1.0, 2.0]])
    with torch.no_grad():
        x = gen(z_true) + v.view(1, 2, size, size)
    res = invert_dataset(gen, x, InversionConfig(steps=800, lr=0.05))
    assert res.residual[0] == pytest.approx(float(v.pow(2).mean()), rel=1e-3)
    torch.testing.assert_close(res.z, z_true, atol=2e-3, rtol=0)


def test_pixels_outside_the_mask_do_not_matter():
    size = 4
    gen = _linear(3, size, seed=7)
    mask = torch.zeros(size, size)
    mask[1:3, :] = 1
    z_true = torch.randn(4, 3, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        x = gen(z_true)
    noisy = x.clone()
    noisy[:, :, 0, :] += 5.0  # outside the mask
    cfg = InversionConfig(steps=600, lr=0.05)
    clean = invert_dataset(gen, x * mask, cfg, mask=mask)
    dirty = invert_dataset(gen, noisy, cfg, mask=mask)
    torch.testing.assert_close(clean.z, dirty.z)
    torch.testing.assert_close(clean.z, z_true, atol=5e-3, rtol=0)


def test_feature_residual_and_objective_with_identity_features():
    gen = _linear(3, 2, seed=9)
    x = torch.rand(6, 2, 2, 2, generator=torch.Generator().manual_seed(10))
    identity = lambda t: t.flatten(1)  # noqa: E731 - f(x) = x: F equals R without a mask
    res = invert_dataset(gen, x, InversionConfig(steps=50, lr=0.05, lambda_feature=0.1),
                         features=identity)
    np.testing.assert_allclose(res.feature_residual, res.residual, rtol=1e-6)
    np.testing.assert_allclose(res.objective(0.1), res.residual, rtol=1e-6)


def test_the_generator_is_left_unchanged_and_in_its_mode():
    gen = _linear(3, 2, seed=11).train()
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    invert_dataset(gen, torch.rand(3, 2, 2, 2), InversionConfig(steps=5, init="normal"))
    assert gen.training and all(p.requires_grad for p in gen.parameters())
    for k, v in gen.state_dict().items():
        assert torch.equal(v, before[k])


def test_normal_start_is_seeded_and_the_chi_ball_rule():
    gen = _linear(3, 2, seed=12)
    x = torch.rand(3, 2, 2, 2)
    cfg = InversionConfig(steps=0, init="normal", seed=5)
    torch.testing.assert_close(invert_dataset(gen, x, cfg).z, invert_dataset(gen, x, cfg).z)
    assert outside_chi_ball(np.array([12.70, 12.80]), 128).tolist() == [False, True]
    with pytest.raises(ValueError, match="optimizer"):
        InversionConfig(optimizer="lbfgs")
