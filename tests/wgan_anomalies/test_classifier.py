"""The classifier: shapes, a toy generator whose inner/outer latents it must separate,
and the frozen generator during its training."""

import pytest
import torch
import torch.nn as nn

from reference_solution.wgan_anomalies.classifier import Classifier, ClassifierConfig, generated_batch, train_classifier
from reference_solution.wgan_anomalies.latent import chi_quantile


class ToyGenerator(nn.Module):
    """Maps z to a (2, S, S) state whose brightness grows with |z|: an oracle with a known answer.

    The outer class (|z| > q) is brighter on average, so a classifier that learns anything
    separates it; ``modes`` records whether each forward ran in training mode.
    """

    def __init__(self, n_inputs: int = 16, size: int = 16):
        super().__init__()
        self.n_inputs, self.size = n_inputs, size
        self.q = chi_quantile(0.98, n_inputs)
        self.pattern = nn.Parameter(torch.rand(2, size, size))
        self.scale = nn.Parameter(torch.tensor(20.0))
        self.modes: list[bool] = []

    def forward(self, z):
        self.modes.append(self.training)
        level = torch.sigmoid(self.scale * (z.norm(dim=1) - self.q))  # (B,)
        return level[:, None, None, None] * self.pattern  # (B, 2, S, S)


@pytest.mark.parametrize("size", [8, 32, 64])
@pytest.mark.parametrize("batch", [1, 5])
def test_classifier_returns_one_logit_per_sample(size, batch):
    out = Classifier(size=size, width=8)(torch.rand(batch, 2, size, size))
    assert out.shape == (batch, 1) and out.dtype == torch.float32


def test_classifier_rejects_wrong_shapes_and_sizes():
    with pytest.raises(ValueError, match="power of two"):
        Classifier(size=48)
    with pytest.raises(ValueError, match=r"\(N, 2, 16, 16\)"):
        Classifier(size=16)(torch.rand(2, 1, 2, 16, 16))


def test_generated_batch_is_labelled_by_the_latent_norm_and_masked():
    gen = ToyGenerator()
    mask = torch.zeros(16, 16)
    mask[4:12, 4:12] = 1
    x, y = generated_batch(gen, 16, 400, mask=mask, generator=torch.Generator().manual_seed(0))
    assert x.shape == (400, 2, 16, 16) and y.shape == (400, 1)
    assert torch.all(x[:, :, mask == 0] == 0)
    assert 0.4 < float(y.mean()) < 0.6  # balanced in expectation
    # Brighter states are the outer ones: labels follow |z|, not chance.
    brightness = x.mean(dim=(1, 2, 3))
    assert brightness[y[:, 0] == 1].mean() > brightness[y[:, 0] == 0].mean()


@pytest.mark.parametrize("scheme", ["ball", "gaussian"])
def test_classifier_separates_a_toy_generators_inner_and_outer_samples(scheme):
    torch.manual_seed(0)
    gen = ToyGenerator()
    clf = Classifier(size=16, width=8)
    cfg = ClassifierConfig(epochs=6, batches_per_epoch=25, batch_size=64, lr=3e-3, scheme=scheme)
    history = train_classifier(gen, clf, cfg, progress=False)
    assert len(history.val_loss) == 6
    assert history.val_loss[-1] < history.val_loss[0]
    assert history.val_accuracy[-1] > 0.85


def test_generator_stays_frozen_and_in_eval_mode_and_is_restored():
    gen = ToyGenerator()
    gen.train()
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    clf = Classifier(size=16, width=8)
    train_classifier(gen, clf, ClassifierConfig(epochs=1, batches_per_epoch=3, val_batches=1),
                     progress=False)
    assert all(torch.equal(before[k], v) for k, v in gen.state_dict().items())
    assert gen.modes and not any(gen.modes)  # every forward ran in eval mode
    assert gen.training and all(p.requires_grad for p in gen.parameters())  # caller's state back
