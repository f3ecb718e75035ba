"""Probes of ``score_matching`` (kernel side): the student's matcher on the grader's secret score
models, which record what they are called on (the noisy inputs, every Langevin state), so that
the verdict recovers the noise and recomputes the outputs; the student's training loop on the
grader's networks and data."""

import torch.nn as nn

ROWS = 4096  # rows of every input a recording score model keeps


class AffineScore(nn.Module):
    """s(x) = -a (x - m) element by element (a, m secret); records its inputs."""

    def __init__(self, a, m, rows=ROWS):
        super().__init__()
        self.a, self.m, self.rows = float(a), float(m), rows
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)  # so that matcher.device works
        self.seen, self.grad_modes = [], []

    def forward(self, x):
        self.seen.append(x[: self.rows].detach().clone())
        self.grad_modes.append(torch.is_grad_enabled())
        return -self.a * (x - self.m) + 0 * self.anchor


class ConstScore(nn.Module):
    """s(x) = b (a learnable vector); records its inputs."""

    def __init__(self, b):
        super().__init__()
        self.b = nn.Parameter(b.clone())
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.b + 0 * x


def _matcher(Matcher, score_model, sigma, input_shape=(2,)):
    return call("DenoisingScoreMatcher(score_model, input_shape, sigma)", Matcher,
                score_model=score_model, input_shape=tuple(input_shape), sigma=sigma)


def _tensor_out(value, what):
    if type(value) is not torch.Tensor:
        raise ProbeFailure(f"{what} should be a torch.Tensor, got {type(value).__name__}")
    return value.detach()


def matcher(ns, challenge):
    """Run the matcher's methods on the cases of the challenge; return what came out and what the
    score models saw."""
    Matcher = need(ns, "DenoisingScoreMatcher")
    seed_all(challenge["seed"])
    out = []
    for case in challenge["cases"]:
        what = case["what"]
        if what == "gradient":
            score = ConstScore(tensor_in(case["constant"]))
        else:
            score = AffineScore(case["a"], case["m"])
        m = _matcher(Matcher, score, case["sigma"], case.get("input_shape", [2]))
        x = tensor_in(case["x"])
        got = {}
        if what == "forward":
            with torch.no_grad():
                got["out"] = _tensor_out(call("forward(x)", m, x), "forward(x)")
                got["seen"] = list(score.seen[:2])
                if case.get("twice"):
                    got["again"] = _tensor_out(call("forward(x)", m, x), "forward(x)")[: ROWS]
                    got["seen_again"] = list(score.seen[1:3])
        elif what == "gradient":
            y = call("forward(x)", m, x)
            got["seen"] = list(score.seen[:1])
            if type(y) is not torch.Tensor or not y.requires_grad:
                got["no_graph"] = True
            else:
                call("backward of forward(x).mean()", lambda: y.mean().backward())  # noqa: B023
                got["grad"] = score.b.grad if score.b.grad is not None else torch.zeros(0)
                got["out"] = y.detach()
        elif what == "langevin":
            with torch.no_grad():
                y = call("langevin_dynamics", m.langevin_dynamics, x.clone(), num_steps=case["steps"],
                         eta=case["eta"])
            got["out"] = _tensor_out(y, "langevin_dynamics(x, ...)")[: ROWS]
            got["seen"] = list(score.seen[:512])
        out.append(got)
    return {"cases": out}


def sample(ns, challenge):
    Matcher = need(ns, "DenoisingScoreMatcher")
    seed_all(challenge["seed"])
    runs = []
    for shape in challenge["shapes"]:
        score = AffineScore(challenge["a"], challenge["m"])
        m = _matcher(Matcher, score, 0.1, shape)
        steps, eta = challenge["steps"], challenge["eta"]
        n = challenge["count"]
        y = call(f"sample({n}, num_steps={steps}, eta={eta})", m.sample, n, num_steps=steps, eta=eta)
        runs.append({"kind": kind(y), "out": array(y, "sample(...)") if kind(y) == "tensor" else np.zeros(0),
                     "dtype": str(getattr(y, "dtype", "")), "requires_grad": bool(getattr(y, "requires_grad", True)),
                     "graph": getattr(y, "grad_fn", None) is not None,
                     "same_device": bool(getattr(y, "device", None) == m.device),
                     "grad_enabled_after": torch.is_grad_enabled(), "grad_during": any(score.grad_modes),
                     "seen": list(score.seen[:512])})
    default = call("sample(5)", m.sample, 5)
    return {"runs": runs, "default_shape": list(getattr(default, "shape", []))}


def device(ns, challenge):
    """CUDA when there is one; otherwise PyTorch's data-free meta device."""
    Matcher = need(ns, "DenoisingScoreMatcher")
    dev = torch.device("cuda" if torch.cuda.is_available() else "meta")
    m = _matcher(Matcher, nn.Linear(2, 2).to(dev), 0.1)
    x = torch.zeros(6, 2, device=dev)
    got = {"device": dev.type}
    for name, fn in (("forward", lambda: m(x)), ("loss", lambda: m.loss(x)["total_loss"]),
                     ("sample", lambda: m.sample(4, num_steps=2, eta=0.01))):
        r = attempt(fn)
        if "error" in r:
            got[name] = {"error": r["error"]}
        else:
            v = r["value"]
            got[name] = {"kind": kind(v), "device": getattr(getattr(v, "device", None), "type", ""),
                         "ndim": int(getattr(v, "ndim", -1))}
    return got


def hyperparameters(ns, challenge):
    out = {}
    for name in challenge["names"]:
        value = need(ns, name)
        out[name] = {"kind": type(value).__name__, "value": value if type(value) in (int, float) else None}
    return out


def score_network(ns, challenge):
    model = need(ns, "score_model")
    if not isinstance(model, nn.Module):
        raise ProbeFailure(f"score_model should be a torch.nn.Module, got {type(model).__name__}")
    return {"graphs": [export_graph(model, (tensor_in(x),), "score_model") for x in challenge["xs"]]}


class GraderMatcher(nn.Module):
    """The grader's own denoising score matcher (the training check's: a bug in the student's
    matcher costs that check nothing)."""

    def __init__(self, score_model, sigma):
        super().__init__()
        self.score_model, self.sigma = score_model, sigma

    def forward(self, x):
        eps = torch.randn_like(x)
        return (self.score_model(x + self.sigma * eps) + eps / self.sigma) ** 2

    def loss(self, x):
        return {"total_loss": self(x).mean(dim=0).sum()}


BACKWARD, STEP = 0, 1  # kinds of the training log's events (grading/dsm_replay.py replays them)
SEGMENT = 40  # steps at the first learning rate between two weight snapshots (where the replay re-synchronises;
#               at BATCH_SIZE >= 32 at most 94 x 33.3 / 40 = 78 of them, whatever EPOCHS)
MAX_SNAPSHOTS = 80  # 22 MB of them at most


class Fetched:
    """The stream of rows the loaders fetched, as indices into the challenge's points."""

    def __init__(self):
        self.chunks, self.count = [], 0

    def add(self, indices):
        self.chunks.append(np.asarray(indices, dtype=np.int16))
        self.count += len(indices)

    def array(self):
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)


class LoggedPoints(Dataset):
    """The grader's points (``offset``: where they start in the challenge's); every row fetched is
    added to the stream."""

    def __init__(self, points, offset, fetched):
        self.points, self.offset, self.fetched = points, offset, fetched

    def __len__(self):
        return len(self.points)

    def __getitem__(self, i):
        self.fetched.add([int(i) + self.offset])
        return self.points[i]

    def __getitems__(self, indices):
        self.fetched.add([int(i) + self.offset for i in indices])
        return list(self.points[list(indices)])


class RecordingScoreNet(GraderScoreNet):
    """The grader's score network, logging the input of every forward pass whose output a backward
    pass reaches (with where the loaders' stream of fetched rows stood, and whether the gradients
    were zero when it arrived)."""

    def __init__(self, hidden, log, fetched):
        super().__init__(hidden)
        self.log, self.fetched, self.inputs = log, fetched, []

    def forward(self, x):
        given = x.dtype
        x = x.to(torch.float64)  # the network runs in float64: see _train
        out = super().forward(x)
        if out.requires_grad:
            k = len(self.inputs)
            self.inputs.append((x.detach().cpu().clone(), self.fetched.count))
            out.register_hook(lambda g, k=k: self._reached(k))
        return out.to(given)

    def _reached(self, k):
        fresh = all(p.grad is None or not p.grad.any() for p in self.parameters())
        self.log.append([BACKWARD, k, int(fresh)])


class EventAdam(torch.optim.Adam):
    """Adam that logs every step (its learning rate; the gradients: none, all zero, or some) and
    keeps the weights after a step whenever the learning rates summed since the last snapshot reach
    ``SEGMENT`` times the first: often while the rate is high, rarely once it has decayed."""

    def __init__(self, net, lr, log):
        super().__init__(net.parameters(), lr=lr)
        self.net, self.log, self.lrs, self.since = net, log, [], 0.0
        self.snapshots, self.snapshot_steps = [], []

    def step(self, closure=None):
        grads = [p.grad for p in self.net.parameters()]
        state = 0 if all(g is None for g in grads) else 1 if not any(g.any() for g in grads if g is not None) else 2
        lr = float(self.param_groups[0]["lr"])
        self.log.append([STEP, len(self.lrs), state])
        self.lrs.append(lr)
        out = super().step(closure)
        self.since += lr
        if self.since >= SEGMENT * self.lrs[0] and len(self.snapshots) < MAX_SNAPSHOTS:
            self.snapshots.append(state_of(self.net))  # float64: float32 rounding here grows like any other
            self.snapshot_steps.append(len(self.lrs))
            self.since = 0.0
        return out


def _training_log(net, optimizer):
    """The log as arrays, with the inputs of the forward passes that a backward pass reached."""
    log = torch.tensor(net.log, dtype=torch.int64).reshape(-1, 3)
    reached = sorted({int(k) for kind, k, _ in net.log if kind == BACKWARD})
    slot = {k: i for i, k in enumerate(reached)}
    for row in log:
        if row[0] == BACKWARD:
            row[1] = slot[int(row[1])]
    inputs = [net.inputs[k] for k in reached]
    return {"events": log, "lrs": torch.tensor(optimizer.lrs, dtype=torch.float64),
            "fetched": net.fetched.array(),
            "inputs": torch.cat([x.reshape(-1, 2) for x, _ in inputs] or [torch.zeros(0, 2, dtype=torch.float64)]),
            "sizes": torch.tensor([len(x) for x, _ in inputs], dtype=torch.int64),
            "positions": torch.tensor([pos for _, pos in inputs], dtype=torch.int64),
            "snapshot_steps": torch.tensor(optimizer.snapshot_steps, dtype=torch.int64),
            "snapshots": optimizer.snapshots}


def _train(ns, challenge, matcher_of, epochs, lr, gamma, batch_size):
    from torch.utils.data import DataLoader

    train_model = need(ns, "train_model")
    seed_all(challenge["seed"])
    log, fetched = [], Fetched()
    # float64 network and data: float32 rounding, amplified by Adam's chaotic phase at high rates and
    # small batches, would move the weights off the verdict's replay within a few dozen steps
    net = load_state(RecordingScoreNet(challenge["hidden"], log, fetched), challenge["network"]).double()
    m = matcher_of(net)
    points = tensor_in(challenge["points"]).double()
    n_test = challenge["test"]
    n_train = len(points) - n_test
    train_loader = DataLoader(LoggedPoints(points[:-n_test], 0, fetched), batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(LoggedPoints(points[-n_test:], n_train, fetched), batch_size=batch_size)
    optimizer = EventAdam(net, lr, log)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=gamma)
    history = call("train_model", train_model, m, train_loader, test_loader, epochs=epochs,
                   optimizer=optimizer, scheduler=scheduler, device=torch.device("cpu"), progress=False)
    got = {"network": state_of(net), "scheduler_steps": int(scheduler.last_epoch), "kind": kind(history),
           "log": _training_log(net, optimizer)}
    if isinstance(history, dict):
        for key in ("train_losses", "test_losses"):
            if key in history:
                got[key] = [number(v, key) for v in list(history[key])[:100000]]
    return got


def training(ns, challenge):
    """The student's train_model trains the grader's network in the grader's matcher."""
    return _train(ns, challenge, lambda net: GraderMatcher(net, challenge["sigma"]), challenge["epochs"],
                  challenge["lr"], challenge["gamma"], challenge["batch_size"])


def sampling(ns, challenge):
    """The student's train_model and DenoisingScoreMatcher, with the notebook's hyperparameters,
    train the grader's network on the grader's moons; the verdict samples it itself."""
    Matcher = need(ns, "DenoisingScoreMatcher")
    values = {name: number(need(ns, name), name) for name in ("EPOCHS", "LR", "SIGMA", "BATCH_SIZE",
                                                              "NUM_STEPS", "ETA")}
    if not 1 <= values["EPOCHS"] <= challenge["max_epochs"]:
        raise ProbeFailure(f"EPOCHS should be between 1 and {challenge['max_epochs']} (grading budget)")
    if values["LR"] > challenge["max_lr"] or values["BATCH_SIZE"] < challenge["min_batch"]:
        raise ProbeFailure(challenge["replayable"])
    got = _train(ns, challenge, lambda net: _matcher(Matcher, net, values["SIGMA"]), int(values["EPOCHS"]),
                 values["LR"], challenge["gamma"], int(values["BATCH_SIZE"]))
    got["values"] = values
    return got
