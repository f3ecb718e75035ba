"""Probes of ``score_matching`` (kernel side): the matcher on fixed score models, the student's
training loop, hyperparameters, the score network and the trained sampler."""

import contextlib

import torch.nn as nn


class _Score(nn.Module):
    """A fixed score s(x) with one unused parameter, so that ``matcher.device`` works."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, x):
        return self.fn(x)


class _Constant(nn.Module):
    """s(x) = b (a learnable vector): the gradient of the mean error w.r.t. b is 2 (b + E[eps]/sigma)."""

    def __init__(self, b):
        super().__init__()
        self.b = nn.Parameter(b.clone())

    def forward(self, x):
        return self.b + 0 * x


SCORES = {"zero": torch.zeros_like, "one": torch.ones_like, "neg": torch.neg}


def _matcher(Matcher, score_model, sigma, input_shape=(2,)):
    return call("DenoisingScoreMatcher(score_model, input_shape, sigma)", Matcher,
                score_model=score_model, input_shape=tuple(input_shape), sigma=sigma)


def _tensor_out(value, what):
    if type(value) is not torch.Tensor:
        raise ProbeFailure(f"{what} should be a torch.Tensor, got {type(value).__name__}")
    return value.detach()


def matcher(ns, challenge):
    """Run the matcher's methods on the cases of the challenge; return what came out."""
    Matcher = need(ns, "DenoisingScoreMatcher")
    seed_all(challenge["seed"])
    out = []
    for case in challenge["cases"]:
        what = case["what"]
        if case.get("exact") is not None:
            s2 = case["exact"] ** 2
            score = _Score(lambda x, s2=s2: -x / (1 + s2))
        elif case.get("constant") is not None:
            score = _Constant(tensor_in(case["constant"]))
        else:
            score = _Score(SCORES[case["score"]])
        m = _matcher(Matcher, score, case["sigma"], case.get("input_shape", [2]))
        x = tensor_in(case["x"]) if "x" in case else torch.zeros(tuple(case["shape"]))
        got = {}
        if what == "forward":
            with torch.no_grad() if case.get("no_grad", True) else contextlib.nullcontext():
                y = _tensor_out(call("forward(x)", m, x), "forward(x)")
                got["out"] = y
                if case.get("twice"):
                    got["again"] = _tensor_out(call("forward(x)", m, x), "forward(x)")
        elif what == "gradient":
            y = call("forward(x)", m, x)
            if type(y) is not torch.Tensor or not y.requires_grad:
                got["no_graph"] = True
            else:
                call("backward of forward(x).mean()", lambda: y.mean().backward())  # noqa: B023
                got["grad"] = score.b.grad if score.b.grad is not None else torch.zeros(0)
        elif what == "langevin":
            with torch.no_grad():
                y = call("langevin_dynamics", m.langevin_dynamics, x.clone(), num_steps=case["steps"],
                         eta=case["eta"])
            got["out"] = _tensor_out(y, "langevin_dynamics(x, ...)")
        out.append(got)
    return {"cases": out}


def sample(ns, challenge):
    Matcher = need(ns, "DenoisingScoreMatcher")
    seed_all(challenge["seed"])
    runs = []
    for shape in challenge["shapes"]:
        m = _matcher(Matcher, nn.Linear(shape[-1], shape[-1]), 0.1, shape)
        y = call("sample(7, num_steps=3, eta=0.01)", m.sample, 7, num_steps=3, eta=0.01)
        runs.append({"kind": kind(y), "shape": list(getattr(y, "shape", [])),
                     "dtype": str(getattr(y, "dtype", "")), "requires_grad": bool(getattr(y, "requires_grad", True)),
                     "graph": getattr(y, "grad_fn", None) is not None,
                     "same_device": bool(getattr(y, "device", None) == m.device),
                     "grad_enabled_after": torch.is_grad_enabled()})
    default = call("sample(5)", m.sample, 5)
    m = _matcher(Matcher, _Score(torch.zeros_like), 0.5)
    with torch.no_grad():
        walk = _tensor_out(call("sample(50000, num_steps=40, eta=0.5)", m.sample, 50_000, num_steps=40,
                                eta=0.5), "sample(...)")
    return {"runs": runs, "default_shape": list(getattr(default, "shape", [])), "walk": walk}


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
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ProbeFailure("score_model should have trainable parameters")
    runs = []
    for x in challenge["xs"]:
        y = call("score_model(x)", model, tensor_in(x).to(params[0].device))
        runs.append({"kind": kind(y), "out": array(y, "score_model(x)") if kind(y) == "tensor" else [],
                     "graph": getattr(y, "grad_fn", None) is not None})
    return {"runs": runs}


def training(ns, challenge):
    from torch.utils.data import DataLoader

    train_model, Matcher = need(ns, "train_model"), need(ns, "DenoisingScoreMatcher")
    seed_all(challenge["seed"])
    points = tensor_in(challenge["points"])
    train_loader = DataLoader(points[:512], batch_size=128, shuffle=True)
    test_loader = DataLoader(points[512:], batch_size=128)
    net = nn.Sequential(nn.Linear(2, 32), nn.SiLU(), nn.Linear(32, 2))
    m = _matcher(Matcher, net, 0.3)
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.Adam(m.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = call("train_model", train_model, m, train_loader, test_loader, epochs=challenge["epochs"],
                   optimizer=optimizer, scheduler=scheduler, device=torch.device("cpu"), progress=False)
    got = {"changed": any(not torch.equal(a, b.detach()) for a, b in zip(before, net.parameters())),
           "scheduler_steps": int(scheduler.last_epoch), "kind": kind(history)}
    if isinstance(history, dict):
        for key in ("train_losses", "test_losses"):
            if key in history:
                got[key] = [number(v, key) for v in list(history[key])]
    return got


def sampling(ns, challenge):
    m = need(ns, "matcher")
    steps, eta = need(ns, "NUM_STEPS"), need(ns, "ETA")
    steps, eta = number(steps, "NUM_STEPS"), number(eta, "ETA")
    if not 1 <= steps <= challenge["max_steps"]:
        raise ProbeFailure(f"NUM_STEPS should be between 1 and {challenge['max_steps']} (grading budget)")
    seed_all(challenge["seed"])
    y = call("matcher.sample(2000, NUM_STEPS, ETA)", m.sample, 2000, num_steps=int(steps), eta=float(eta))
    return {"kind": kind(y), "samples": array(y, "matcher.sample(...)") if kind(y) == "tensor" else []}
