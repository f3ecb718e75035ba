"""Probes of Parts 4 and 5 of ``wgan_anomalies``: the classifier's training and the scoring
(kernel side)."""

import types

import torch.nn as nn
from torch.utils.data import Dataset

SIZE = 8


class BNGenerator(nn.Module):
    """z (N, n) -> (N, 2, 8, 8) through batch norm (so eval mode matters); the first block of
    pixels tells the latent's norm, tanh(20 (|z| - q)). Records its calls."""

    def __init__(self, latent, q):
        super().__init__()
        self.n_inputs, self.size, self.q = latent, SIZE, q
        self.lin = nn.Linear(latent, 2 * SIZE * SIZE)
        self.bn = nn.BatchNorm1d(2 * SIZE * SIZE)
        self.calls = []

    def forward(self, z):
        self.calls.append((self.training, z.detach().clone()))
        h = self.lin(z)
        norm = torch.tanh(20 * (z.norm(dim=1, keepdim=True) - self.q))  # (N, 1)
        h = torch.cat([norm.expand(-1, SIZE * SIZE) * 3.0, h[:, SIZE * SIZE:]], dim=1)
        return self.bn(h).view(-1, 2, SIZE, SIZE)


class NormGenerator(nn.Module):
    """Every pixel tells the latent's norm: tanh(20 (|z| - q)). Records its calls."""

    def __init__(self, latent, q):
        super().__init__()
        self.n_inputs, self.size, self.q = latent, SIZE, q
        self.anchor = nn.Parameter(torch.zeros(()))  # so that parameters() is not empty
        self.calls = []

    def forward(self, z):
        self.calls.append((self.training, z.detach().clone()))
        value = torch.tanh(20 * (z.norm(dim=1) - self.q)) + 0 * self.anchor  # (N,)
        return value.view(-1, 1, 1, 1).expand(-1, 2, SIZE, SIZE).contiguous()


class LinearClassifier(nn.Module):
    """logit = w . flat(x) + b, from the grader's weights; records what it sees."""

    def __init__(self, weights, record=True):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(weights["w"].size, 1))
        self.net[1].weight.data = tensor_in(weights["w"]).float().reshape(1, -1)
        self.net[1].bias.data = tensor_in(weights["b"]).float().reshape(1)
        self.record, self.seen, self.weights_seen = record, [], []

    def forward(self, x):
        if self.record:  # the input and the weights it met (the verdict follows the training steps)
            self.seen.append(x.detach().clone())
            self.weights_seen.append(torch.cat([self.net[1].weight.detach().reshape(-1),
                                                self.net[1].bias.detach().reshape(-1)]).clone())
        return self.net(x)


def _sphere(ndim=2, nsamples=100):
    d = np.random.standard_normal((nsamples, ndim))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _ball(ndim=2, radius=1, nsamples=100):
    return _sphere(ndim, nsamples) * np.random.uniform(0.0, 1.0, (nsamples, 1)) ** (1.0 / ndim) * radius


def _inner_outer(ndim=2, radius_inner=1, radius_outer=2, nsamples=100):
    b = _ball(ndim, radius_outer, nsamples)
    inner = np.linalg.norm(b, axis=1) <= radius_inner
    return b[inner], b[~inner]


# the grader's samplers while train_classifier runs: a sampler's bug costs only the samplers' checks
SAMPLERS = {"SamplingUnitSphereUniform": _sphere, "SamplingBallUniform": _ball,
            "SampleInnerAndOuterExamples": _inner_outer}


def classifier_training(ns, challenge):
    train_classifier = need(ns, "train_classifier")
    latent = challenge["latent"]
    seed_all(challenge["seed"])
    make = BNGenerator if challenge["generator"] == "bn" else NormGenerator
    gen = make(latent, challenge["q"])
    if "state" in challenge:
        gen.load_state_dict({k: tensor_in(v) for k, v in challenge["state"].items()})
    gen.train()
    clf = LinearClassifier(challenge["classifier"])
    mask = tensor_in(challenge["mask"])
    with pinned(ns, SAMPLERS):
        out = call("train_classifier", train_classifier, gen, clf, batch_size=challenge["batch_size"],
                   batches_per_epoch=challenge["batches"], max_epochs=challenge["epochs"], latent_dim=latent,
                   mask=mask, progress=False)
    calls = gen.calls[: challenge["max_calls"]]
    return {"generator_state": state_of(gen), "calls_training": [t for t, _ in calls],
            "calls_z": [z for _, z in calls], "n_calls": len(gen.calls), "seen": clf.seen[: challenge["max_calls"]],
            "weights_seen": clf.weights_seen[: challenge["max_calls"]],
            "classifier": state_of(clf.net), "returned_kind": kind(out),
            "returned": [number(v, "a validation loss") for v in out] if isinstance(out, (list, tuple)) else []}


class GraderDS(Dataset):
    """The course files as (2, H, W) masked float32 items (the grader's own DS)."""

    def __init__(self, pv_fname, gh_fname, mask_fname, transform=None):
        self.pv, self.gh = np.load(pv_fname, mmap_mode="r"), np.load(gh_fname, mmap_mode="r")
        self.mask, self.transform = np.load(mask_fname).astype(np.float32), transform

    def __len__(self):
        return len(self.pv)

    def __getitem__(self, i):
        x = torch.from_numpy(np.stack([self.pv[i], self.gh[i]]).astype(np.float32) * self.mask)
        return x if self.transform is None else self.transform(x)


def scoring(ns, challenge):
    """The student's scoring cell run again on the grader's secret days and classifier."""
    files = types.SimpleNamespace(pv=challenge["pv"], gh=challenge["gh"], mask=challenge["mask"], events=None)
    clf = LinearClassifier(challenge["classifier"], record=False)
    source = challenge["cell"] or cell_defining(ns, "idx_anomalies")
    scope = rerun_cell(ns, source, {"files": files, "clf": clf, "DS": GraderDS})
    got = {}
    for name in ("probs", "threshold", "idx_anomalies"):
        if name not in scope:
            raise ProbeFailure(f"your scoring cell should define `{name}`")
    probs, idx = scope["probs"], scope["idx_anomalies"]
    got["probs_kind"] = kind(probs)
    got["probs"] = array(probs, "probs") if kind(probs) in ("tensor", "ndarray") else np.zeros(0)
    got["threshold"] = number(scope["threshold"], "threshold")
    got["idx"] = array(idx, "idx_anomalies") if kind(idx) in ("tensor", "ndarray") else \
        np.asarray([int(i) for i in idx], dtype=np.int64) if isinstance(idx, (list, tuple)) else np.zeros(0)
    return got
