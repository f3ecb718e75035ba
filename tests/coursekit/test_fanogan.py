"""f-AnoGAN on a linear generator and an identity-feature critic, where the answer is known."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from reference_solution.coursekit.fanogan import Encoder, FAnoGANConfig, fanogan_scores, izi_f_terms, train_encoder
from reference_solution.wgan_anomalies.wgan import Discriminator, Generator


class LinearGenerator(nn.Module):
    def __init__(self, a, size):
        super().__init__()
        self.n_inputs, self.size = a.shape[1], size
        self.a = nn.Parameter(a.clone())

    def forward(self, z):
        return (z @ self.a.T).view(len(z), 2, self.size, self.size)


def _setup(n=4, size=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    d = 2 * size * size
    a, _ = torch.linalg.qr(torch.randn(d, n, generator=g))  # orthonormal columns: A^+ = A^T
    gen = LinearGenerator(a, size)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(d, 1))  # features f(x) = x
    z = torch.randn(512, n, generator=g)
    with torch.no_grad():
        x = gen(z)
    return gen, critic, a, z, x


def test_encoder_maps_states_to_latents_at_any_power_of_two_size():
    for size in (8, 32):
        assert Encoder(n_latent=16, size=size, width=4)(torch.rand(3, 2, size, size)).shape == (3, 16)
    with pytest.raises(ValueError, match="power of two"):
        Encoder(size=24)
    with pytest.raises(ValueError, match="expected"):
        Encoder(size=8)(torch.rand(2, 2, 16, 16))


def test_izi_f_training_learns_the_inverse_of_a_linear_generator():
    gen, critic, a, z, x = _setup()
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(32, 4, bias=False))
    history = train_encoder(encoder, gen, critic, TensorDataset(x),
                            FAnoGANConfig(epochs=30, batch_size=32, lr=1e-2, lr_decay=0.9))
    assert history.loss[-1] < 1e-3 * history.loss[0]
    scores = fanogan_scores(encoder, gen, critic, x)
    torch.testing.assert_close(scores.z, z, atol=2e-2, rtol=0)  # E = A^+ on the range
    assert scores.residual.max() < 1e-4


def test_states_off_the_range_score_their_distance_and_are_all_ranked_above():
    gen, critic, a, z, x = _setup(seed=1)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(32, 4, bias=False))
    with torch.no_grad():
        encoder[1].weight.copy_(a.T)  # the exact inverse on the range
    v = torch.randn(20, 32, generator=torch.Generator().manual_seed(2))
    v = v - (v @ a) @ a.T  # orthogonal to the range
    anomalies = x[:20] + v.view(20, 2, 4, 4)
    s = fanogan_scores(encoder, gen, critic, torch.cat([x[:100], anomalies]), kappa=0.5)
    # A_R = |v|^2 / 32 and, with f(x) = x, A_D = A_R: A = (1 + kappa) |v|^2 / 32.
    expected = np.concatenate([np.zeros(100), (v.pow(2).sum(1) / 32).double().numpy()])
    np.testing.assert_allclose(s.residual, expected, atol=1e-6)
    np.testing.assert_allclose(s.score, 1.5 * expected, atol=1e-6)
    assert s.score[100:].min() > s.score[:100].max()


def test_mask_excludes_outside_pixels_from_both_residuals():
    gen, critic, a, z, x = _setup(seed=3)
    mask = torch.ones(4, 4)
    mask[0] = 0
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(32, 4, bias=False))
    with torch.no_grad():
        encoder[1].weight.copy_(a.T)
    noisy = x[:5].clone()
    noisy[:, :, 0, :] += 3.0
    feats = lambda t: t.flatten(1)  # noqa: E731
    _, r_clean, _ = izi_f_terms(encoder, gen, feats, x[:5] * mask, mask)
    _, r_noisy, _ = izi_f_terms(encoder, gen, feats, noisy * mask, mask)
    torch.testing.assert_close(r_clean, r_noisy)


def test_generator_and_critic_stay_frozen_and_unchanged():
    torch.manual_seed(0)
    gen, critic = Generator(16, 16).train(), Discriminator(16).train()
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in (gen, critic)]
    encoder = Encoder(16, 16, 4)
    x = torch.rand(40, 2, 16, 16)
    h = train_encoder(encoder, gen, critic, TensorDataset(x), FAnoGANConfig(epochs=2, batch_size=16))
    assert len(h.loss) == 2 and np.isfinite(h.loss).all()
    assert gen.training and critic.training
    assert all(p.requires_grad for p in [*gen.parameters(), *critic.parameters()])
    for m, state in zip((gen, critic), before):
        for k, v in m.state_dict().items():
            assert torch.equal(v, state[k]), k
    s = fanogan_scores(encoder, gen, critic, x)
    assert s.score.shape == (40,) and s.norm.shape == (40,)
