"""Probes of Part 2 of ``wgan_anomalies``: generator, critic, optimizers, penalty (kernel side)."""

import copy

import torch.nn as nn


def _scaled(module, factor):
    big = copy.deepcopy(module)
    with torch.no_grad():
        for p in big.parameters():
            p.mul_(factor)
    return big


def generator(ns, challenge):
    Generator = need(ns, "Generator")
    seed_all(challenge["seed"])
    runs = []
    for case in challenge["cases"]:
        n_inputs, size = case["n_inputs"], case["size"]
        g = call(f"Generator(n_inputs={n_inputs}, size={size})", Generator, n_inputs=n_inputs, size=size)
        run = {"outputs": [], "kinds": []}
        for z in case["z"]:
            with torch.no_grad():
                out = call("generator(z)", g, tensor_in(z))
            run["kinds"].append(kind(out))
            run["outputs"].append(array(out, "generator(z)"))
        if case["extremes"]:
            g.eval()
            with torch.no_grad():
                one = call("generator(z) for one latent in eval mode", g, tensor_in(case["one"]))
                big = call("generator with weights x10", _scaled(g, 10.0).train(), tensor_in(case["big"]))
            run["one"], run["big"] = array(one, "generator(z)"), array(big, "generator(z)")
        runs.append(run)
    return {"runs": runs}


def _is_batch_norm(m):
    return isinstance(m, nn.modules.batchnorm._BatchNorm)


def _scores(ns, challenge, name):
    Model = need(ns, name)
    seed_all(challenge["seed"])
    runs = []
    for case in challenge["cases"]:
        size = case["size"]
        model = call(f"{name}(size={size})", Model, size=size)
        x = tensor_in(case["x"])
        run = {"batch_norm": [type(m).__name__ for m in model.modules() if _is_batch_norm(m)],
               "batches": []}
        for mode in case["modes"]:
            getattr(model, mode)()
            for b in case["batches"]:
                out = call(f"{name.lower()}(x)", model, x[:b])
                run["batches"].append({"mode": mode, "kind": kind(out), "out": array(out, "output"),
                                       "graph": bool(getattr(out, "grad_fn", None) is not None)})
        model.eval() if "eval" in case["modes"] else model.train()
        with torch.no_grad():
            run["whole"] = array(call("model(x)", model, x), "output")
            run["single"] = [array(call("model(x[i:i+1])", model, x[i:i + 1]), "output") for i in range(len(x))]
            run["big"] = array(call("model with weights x10", _scaled(model, 10.0), x * 4 - 2), "output")
        runs.append(run)
    return {"runs": runs}


def critic(ns, challenge):
    return _scores(ns, challenge, "Discriminator")


def classifier(ns, challenge):
    return _scores(ns, challenge, "Classifier")


def optimizers(ns, challenge):
    """Give every parameter of both networks a gradient, step one optimizer, see which moved;
    then put parameters, gradients and optimizer states back as they were."""
    nets = {"gen": need(ns, "gen"), "dsc": need(ns, "dsc")}
    out = {"kinds": {}}
    for opt_name in ("opt_gen", "opt_dsc"):
        opt = need(ns, opt_name)
        out["kinds"][opt_name] = "optimizer" if isinstance(opt, torch.optim.Optimizer) else type(opt).__name__
        if out["kinds"][opt_name] != "optimizer":
            continue
        saved = {k: [p.detach().clone() for p in net.parameters()] for k, net in nets.items()}
        grads = {k: [None if p.grad is None else p.grad.clone() for p in net.parameters()] for k, net in nets.items()}
        state = copy.deepcopy(opt.state_dict())
        g = torch.Generator().manual_seed(challenge["seed"])
        for net in nets.values():
            for p in net.parameters():
                p.grad = torch.randn(p.shape, generator=g).to(p.device, p.dtype)
        call(f"{opt_name}.step()", opt.step)
        out[opt_name] = {k: [bool((p.detach() != s).any()) for p, s in zip(net.parameters(), saved[k])]
                         for k, net in nets.items()}
        out[opt_name + "_trainable"] = {k: [bool(p.requires_grad) for p in net.parameters()]
                                        for k, net in nets.items()}
        with torch.no_grad():
            for k, net in nets.items():
                for p, s, gr in zip(net.parameters(), saved[k], grads[k]):
                    p.copy_(s)
                    p.grad = gr
        opt.load_state_dict(state)
    return out


class _MLPCritic(nn.Module):
    """D(x) = v . tanh(W flat(x) + c) + d with the grader's secret weights; records its inputs."""

    def __init__(self, weights):
        super().__init__()
        self.W, self.c, self.v, self.d = (nn.Parameter(tensor_in(weights[k])) for k in ("W", "c", "v", "d"))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return torch.tanh(x.flatten(1) @ self.W.T + self.c) @ self.v.unsqueeze(1) + self.d  # (N, 1)


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
                    params = [critic.W, critic.c, critic.v, critic.d]
                    grads = torch.autograd.grad(gp.reshape(()), params, allow_unused=True)
                    got["grad"] = [torch.zeros_like(w) if g is None else g for w, g in zip(params, grads)]
                except RuntimeError as exc:
                    got["grad_error"] = str(exc)[:300]
        cases.append(got)
    return {"cases": cases}
