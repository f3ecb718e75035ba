"""The classifier: the notebook's network with input checks, a toy generator whose inner/outer
latents it must separate, the frozen generator and the caller's RNGs during its training, and the
schemes' latents as train_classifier draws them."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from reference_solution.wgan_anomalies import exercises
from reference_solution.wgan_anomalies.classifier import Classifier, ClassifierConfig, scheme_latents, train_classifier
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
    out = Classifier(size=size)(torch.rand(batch, 2, size, size))
    assert out.shape == (batch, 1) and out.dtype == torch.float32


def test_classifier_rejects_wrong_shapes_and_sizes():
    with pytest.raises(ValueError, match="power of two"):
        Classifier(size=48)
    with pytest.raises(ValueError, match=r"\(N, 2, 16, 16\)"):
        Classifier(size=16)(torch.rand(2, 1, 2, 16, 16))


def test_the_network_is_the_notebooks():
    """One implementation: the main job's classifier has the notebook's layers and weights' shapes."""
    ours, notebook = Classifier(size=32), exercises.Classifier(size=32)
    assert isinstance(ours, exercises.Classifier)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in notebook.state_dict().items()}


def test_config_rejects_unknown_scheme_and_empty_runs():
    with pytest.raises(ValueError, match="scheme"):
        ClassifierConfig(scheme="cube")
    with pytest.raises(ValueError, match="epochs"):
        ClassifierConfig(epochs=0)


@pytest.mark.parametrize("scheme", ["ball", "gaussian"])
def test_classifier_separates_a_toy_generators_inner_and_outer_samples(scheme):
    torch.manual_seed(0)
    gen = ToyGenerator()
    clf = Classifier(size=16)
    cfg = ClassifierConfig(epochs=6, batches_per_epoch=25, batch_size=64, lr=3e-3, scheme=scheme)
    history = train_classifier(gen, clf, cfg, progress=False)
    assert len(history.val_loss) == 6
    assert history.val_loss[-1] < 0.3  # far below ln 2, a coin flip
    # The classifier ranks fresh inner and outer states of the toy generator apart.
    clf.eval()
    with torch.no_grad():
        z = torch.randn(4000, 16, generator=torch.Generator().manual_seed(5)) * 1.2
        p = torch.sigmoid(clf(gen(z))).squeeze(1)
    outer = z.norm(dim=1) > gen.q
    assert p[outer].mean() > p[~outer].mean() + 0.5


def test_generator_stays_frozen_and_in_eval_mode_and_is_restored():
    gen = ToyGenerator()
    gen.train()
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    clf = Classifier(size=16)
    train_classifier(gen, clf, ClassifierConfig(epochs=1, batches_per_epoch=3),
                     progress=False)
    assert all(torch.equal(before[k], v) for k, v in gen.state_dict().items())
    assert gen.modes and not any(gen.modes)  # every forward ran in eval mode
    assert gen.training and all(p.requires_grad for p in gen.parameters())  # caller's state back


def test_the_callers_random_state_is_left_alone():
    gen, clf = ToyGenerator(), Classifier(size=16)
    torch.manual_seed(123)
    np.random.seed(123)
    expected_torch, expected_np = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(123)
    train_classifier(gen, clf, ClassifierConfig(epochs=1, batches_per_epoch=2), progress=False)
    assert torch.equal(torch.rand(3), expected_torch) and np.array_equal(np.random.rand(3), expected_np)


def test_a_seed_fixes_the_run():
    runs = []
    for _ in range(2):
        clf = Classifier(size=16)
        torch.manual_seed(0)  # the same initial weights; the run's own draws come from config.seed
        clf.load_state_dict(Classifier(size=16).state_dict())
        runs.append(train_classifier(ToyGenerator(), clf, ClassifierConfig(epochs=2, batches_per_epoch=2, seed=4),
                                     progress=False).val_loss)
    assert runs[0] == runs[1]


@pytest.mark.parametrize("scheme", ["ball", "gaussian"])
def test_scheme_latents_are_what_train_classifier_balances(scheme):
    from reference_solution.wgan_anomalies.latent import direction_uniformity_pvalue, norm_law_pvalue, outer_radius

    n, count = 8, 20_000
    z = scheme_latents(n, count, scheme, seed=1)
    assert z.shape == (count, n)
    q = chi_quantile(0.98, n)
    norms = np.linalg.norm(z, axis=1)
    assert abs(float(np.mean(norms > q)) - 0.5) < 5 * (0.25 / count) ** 0.5  # balanced
    assert direction_uniformity_pvalue(z) > 1e-3
    if scheme == "ball":  # uniform in the ball of radius q 2^(1/n)
        assert norm_law_pvalue(z, outer_radius(q, n)) > 1e-3
    else:  # the inner half is N(0, I)'s bulk, far below the ball scheme's shell
        assert np.median(norms[norms <= q]) < 0.8 * q
