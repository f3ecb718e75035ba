"""Probes of Parts 4 and 5 of ``wgan_anomalies``: the classifier's training and the scoring
(kernel side)."""

import torch.nn as nn

SIZE = 8


class BNGenerator(nn.Module):
    """z (N, n) -> (N, 2, 8, 8) through batch norm (so eval mode matters); records its calls."""

    def __init__(self, latent):
        super().__init__()
        self.n_inputs, self.size = latent, SIZE
        self.lin = nn.Linear(latent, 2 * SIZE * SIZE)
        self.bn = nn.BatchNorm1d(2 * SIZE * SIZE)
        self.calls = []

    def forward(self, z):
        self.calls.append((self.training, z.detach().clone()))
        return torch.sigmoid(self.bn(self.lin(z))).view(-1, 2, SIZE, SIZE) + 0.5


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


class RecordingClassifier(nn.Module):
    def __init__(self, zero):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(2 * SIZE * SIZE, 1))
        if zero:
            nn.init.zeros_(self.net[1].weight)
            nn.init.zeros_(self.net[1].bias)
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.net(x)


def classifier_training(ns, challenge):
    train_classifier = need(ns, "train_classifier")
    latent = challenge["latent"]
    seed_all(challenge["seed"])
    if challenge["generator"] == "bn":
        gen = BNGenerator(latent)
        gen.load_state_dict({k: tensor_in(v) for k, v in challenge["state"].items()})
    else:
        gen = NormGenerator(latent, challenge["q"])
    gen.train()
    clf = RecordingClassifier(zero=challenge["generator"] == "norm")
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    mask = tensor_in(challenge["mask"])
    out = call("train_classifier", train_classifier, gen, clf, batch_size=challenge["batch_size"],
               batches_per_epoch=challenge["batches"], max_epochs=challenge["epochs"], latent_dim=latent,
               mask=mask, progress=False)
    calls = gen.calls[: challenge["max_calls"]]
    return {"generator_state": {k: v for k, v in gen.state_dict().items()},
            "calls_training": [t for t, _ in calls], "calls_z": [z for _, z in calls],
            "n_calls": len(gen.calls), "seen": clf.seen[: challenge["max_calls"]],
            "classifier_before": before, "classifier_after": {k: v for k, v in clf.state_dict().items()},
            "returned_kind": kind(out),
            "returned": [number(v, "a validation loss") for v in out] if isinstance(out, (list, tuple)) else []}


def scoring(ns, challenge):
    probs, threshold = need(ns, "probs"), need(ns, "threshold")
    idx, clf, ds_test = need(ns, "idx_anomalies"), need(ns, "clf"), need(ns, "ds_test")
    n = number(call("len(ds_test)", len, ds_test), "len(ds_test)")
    days = [d for d in challenge["days"] if d < n] + [n - 1]
    items = [array(call(f"ds_test[{d}]", ds_test.__getitem__, d), "an item") for d in days]
    clf.eval()
    device = next(clf.parameters()).device
    with torch.no_grad():
        x = torch.stack([torch.as_tensor(np.asarray(i)) for i in items]).to(device)
        mine = torch.sigmoid(call("clf(x)", clf, x).double()).reshape(-1).cpu()
    return {"n": n, "days": days, "items": items, "clf_probs": mine,
            "probs_kind": kind(probs), "probs": array(probs, "probs") if kind(probs) in ("tensor", "ndarray") else [],
            "threshold": number(threshold, "threshold"),
            "idx_kind": kind(idx), "idx": array(idx, "idx_anomalies") if kind(idx) in ("tensor", "ndarray")
            else [int(i) for i in idx] if isinstance(idx, (list, tuple)) else []}
