"""Probes of Part 2 of ``wgan_anomalies``: generator, critic, optimizers, penalty (kernel side)."""

import copy

import torch.nn as nn


def _graphs(model, shapes, what):
    """The model exported once per input shape (the verdict re-runs each graph itself)."""
    return [export_graph(model, (torch.rand(*shape),), what) for shape in shapes]


def generator(ns, challenge):
    Generator = need(ns, "Generator")
    seed_all(challenge["seed"])
    runs = []
    for case in challenge["cases"]:
        n_inputs, size = case["n_inputs"], case["size"]
        g = call(f"Generator(n_inputs={n_inputs}, size={size})", Generator, n_inputs=n_inputs, size=size)
        if not isinstance(g, nn.Module):
            raise ProbeFailure(f"Generator(...) should be a torch.nn.Module, got {type(g).__name__}")
        g.eval()
        runs.append({"eval": _graphs(g, [(b, n_inputs) for b in case["batches"]], "your Generator")})
        if case["train_batch"]:
            g.train()
            runs[-1]["train"] = _graphs(g, [(case["train_batch"], n_inputs)], "your Generator")
    return {"runs": runs}


def _scores(ns, challenge, name):
    Model = need(ns, name)
    seed_all(challenge["seed"])
    runs = []
    for case in challenge["cases"]:
        size = case["size"]
        model = call(f"{name}(size={size})", Model, size=size)
        if not isinstance(model, nn.Module):
            raise ProbeFailure(f"{name}(...) should be a torch.nn.Module, got {type(model).__name__}")
        run = {}
        for mode in case["modes"]:
            model.train(mode == "train")
            run[mode] = _graphs(model, [(b, 2, size, size) for b in case["batches"]], f"your {name}")
        runs.append(run)
    return {"runs": runs}


def critic(ns, challenge):
    return _scores(ns, challenge, "Discriminator")


def classifier(ns, challenge):
    return _scores(ns, challenge, "Classifier")


def _plain(value):
    """A hyperparameter as plain data (numbers, bools, None, tuples of numbers), else None."""
    if type(value) is torch.Tensor and value.numel() == 1:
        value = value.item()
    if value is None or type(value) in (bool, int, float):
        return value
    if isinstance(value, (tuple, list)) and all(type(v) in (int, float) for v in value):
        return [float(v) for v in value]
    return None


def optimizers(ns, challenge):
    """Give every parameter of both networks a secret gradient, step one optimizer, report how
    every parameter moved; then put parameters, gradients and optimizer states back as they were."""
    nets = {"gen": need(ns, "gen"), "dsc": need(ns, "dsc")}
    params = {k: list(net.parameters()) for k, net in nets.items()}
    where = {id(p): [k, i] for k, ps in params.items() for i, p in enumerate(ps)}
    out = {"params": {k: [p.detach().float().cpu() for p in ps] for k, ps in params.items()},
           "trainable": {k: [bool(p.requires_grad) for p in ps] for k, ps in params.items()}}
    g = torch.Generator().manual_seed(challenge["seed"])
    secret = {k: [torch.randn(tuple(p.shape), generator=g) for p in ps] for k, ps in params.items()}
    for opt_name in ("opt_gen", "opt_dsc"):
        opt = need(ns, opt_name)
        if not isinstance(opt, torch.optim.Optimizer):
            out[opt_name] = {"kind": type(opt).__name__}
            continue
        got = {"kind": type(opt).__name__, "state": len(opt.state),
               "groups": [{"hyper": {k: _plain(v) for k, v in group.items() if k != "params"},
                           "members": [where.get(id(p), ["other", -1]) for p in group["params"]]}
                          for group in opt.param_groups]}
        saved = {k: [p.detach().clone() for p in ps] for k, ps in params.items()}
        grads = {k: [None if p.grad is None else p.grad.clone() for p in ps] for k, ps in params.items()}
        state = copy.deepcopy(opt.state_dict())
        for k, ps in params.items():
            for p, gr in zip(ps, secret[k]):
                p.grad = gr.to(p.device, p.dtype)
        call(f"{opt_name}.step()", opt.step)
        got["moved"] = {k: [(p.detach() - s).float().cpu() for p, s in zip(ps, saved[k])] for k, ps in params.items()}
        with torch.no_grad():
            for k, ps in params.items():
                for p, s, gr in zip(ps, saved[k], grads[k]):
                    p.copy_(s)
                    p.grad = gr
        opt.load_state_dict(state)
        out[opt_name] = got
    return out


_ACTIVATIONS = {"tanh": torch.tanh, "softplus": nn.functional.softplus, "sigmoid": torch.sigmoid, "sin": torch.sin}


class _MLPCritic(nn.Module):
    """D(x) = v . act_L(W_L ... act_1(W_1 flat(x) + c_1) ... + c_L) + d: the grader's secret depth,
    activations and weights; records its inputs."""

    def __init__(self, weights):
        super().__init__()
        self.acts = [_ACTIVATIONS[a] for a in weights["acts"]]
        layers = [tensor_in(t) for layer in weights["layers"] for t in layer]
        self.weights = nn.ParameterList([nn.Parameter(t) for t in [*layers, tensor_in(weights["v"]),
                                                                    tensor_in(weights["d"])]])
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        h = x.flatten(1)
        for k, act in enumerate(self.acts):
            h = act(h @ self.weights[2 * k].T + self.weights[2 * k + 1])
        return h @ self.weights[-2].unsqueeze(1) + self.weights[-1]  # (N, 1)


def penalty(ns, challenge):
    """The student's penalty for secret critics and samples: its value, the interpolates the critic
    saw, and the gradient of the value w.r.t. the critic's weights."""
    gp_fn = need(ns, "compute_gradient_penalty")
    seed_all(challenge["seed"])
    cases = []
    for case in challenge["cases"]:
        critic = _MLPCritic(case["critic"])
        gp = call("compute_gradient_penalty", gp_fn, critic, tensor_in(case["real"]), tensor_in(case["fake"]))
        got = {"kind": kind(gp), "seen": [x for x in critic.seen if tuple(x.shape) == tuple(case["real"].shape)][-4:]}
        if got["kind"] == "tensor":
            got["value"] = array(gp, "the penalty")
            if gp.requires_grad and gp.numel() == 1:
                try:
                    params = list(critic.weights)
                    grads = torch.autograd.grad(gp.reshape(()), params, allow_unused=True)
                    got["grad"] = [torch.zeros_like(w) if g is None else g for w, g in zip(params, grads)]
                except RuntimeError as exc:
                    got["grad_error"] = str(exc)[:300]
        cases.append(got)
    return {"cases": cases}
