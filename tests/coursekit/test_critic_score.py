"""The critic's score and features against a linear critic with a known answer."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from reference_solution.coursekit.critic_score import batched_states, critic_features, critic_scores
from reference_solution.wgan_anomalies.wgan import Discriminator


def _linear_critic(size: int, seed: int = 0):
    lin = nn.Linear(2 * size * size, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(1, 2 * size * size, generator=torch.Generator().manual_seed(seed)))
        lin.bias.fill_(0.25)
    return nn.Sequential(nn.Flatten(), lin), lin


class Days:
    """A DS-like dataset: ``len`` and ``ds[i]`` a ``(2, S, S)`` tensor."""

    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def test_linear_critic_score_is_the_exact_inner_product_in_dataset_order():
    critic, lin = _linear_critic(4)
    x = torch.rand(37, 2, 4, 4, generator=torch.Generator().manual_seed(1))
    expected = (x.flatten(1) @ lin.weight.T + lin.bias).squeeze(1).detach().double().numpy()
    np.testing.assert_allclose(critic_scores(critic, Days(x), batch_size=5), expected, rtol=1e-5)
    np.testing.assert_allclose(critic_scores(critic, x, batch_size=64), expected, rtol=1e-5)


def test_score_is_monotone_along_the_critics_gradient():
    critic, lin = _linear_critic(4, seed=2)
    w = lin.weight.detach().view(2, 4, 4)
    x = torch.stack([t * w for t in torch.linspace(-1, 1, 11)])
    assert np.all(np.diff(critic_scores(critic, x)) > 0)


def test_the_mask_is_applied_before_scoring():
    critic, lin = _linear_critic(4, seed=3)
    mask = torch.zeros(4, 4)
    mask[1:3, 1:3] = 1
    x = torch.rand(5, 2, 4, 4)
    np.testing.assert_allclose(critic_scores(critic, x, mask=mask), critic_scores(critic, x * mask),
                               rtol=1e-6)


def test_features_feed_the_scoring_head_of_the_course_critic():
    critic = Discriminator(size=16).eval()
    f = critic_features(critic)
    x = torch.rand(3, 2, 16, 16)
    with torch.no_grad():
        feats = f(x)
        torch.testing.assert_close(critic.head(feats), critic(x))
    assert feats.shape == (3, 32 * 4 * 4)  # the notebook's critic: 8 * 16 / 4 channels on the 4 x 4 map
    seq, lin = _linear_critic(2)
    torch.testing.assert_close(critic_features(seq)(x[:, :, :2, :2]), x[:, :, :2, :2].flatten(1))
    with pytest.raises(TypeError, match="features"):
        critic_features(nn.Conv2d(2, 1, 3))


def test_features_of_a_critic_without_a_features_module_come_from_its_last_linear_layer():
    class Critic(nn.Module):  # a student's layout: other names, the head inside forward
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 4, stride=2, padding=1)
            self.out = nn.Linear(3 * 4 * 4, 1)

        def forward(self, x):
            return self.out(torch.relu(self.conv(x)).reshape(len(x), -1))

    critic = Critic()
    x = torch.rand(5, 2, 8, 8)
    with torch.no_grad():
        feats = critic_features(critic)(x)
        torch.testing.assert_close(feats, torch.relu(critic.conv(x)).reshape(5, -1))
    assert not critic.out._forward_pre_hooks  # the hook is removed again


def test_batched_states_keeps_order_and_accepts_tensor_datasets():
    x = torch.arange(10.0).view(10, 1, 1, 1).expand(10, 2, 2, 2)
    starts = [(s, b[:, 0, 0, 0].tolist()) for s, b in batched_states(Days(x), 4)]
    assert starts == [(0, [0, 1, 2, 3]), (4, [4, 5, 6, 7]), (8, [8, 9])]
    assert len(TensorDataset(x)) == 10
