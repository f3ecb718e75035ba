"""Probe of the WGAN-GP training loop ``train_model`` of ``wgan_anomalies`` (kernel side).

The loop runs on the grader's toy models, whose updates the verdict replays exactly: a generator
whose output is one learnable number ``p`` everywhere, a linear critic ``D(x) = a * mean(x) + b``,
plain SGD optimizers that log every step (which optimizer, at which learning rate). While the
loop runs, ``compute_gradient_penalty`` is the grader's own, so that a bug in the student's
penalty costs only the penalty's points. What comes back: the final ``a``, ``b``, ``p``, the step
log, what ``train_model`` returned and the tensors of its checkpoint files; and, for one short
run on general networks (``RecordingGenerator``, ``RecordingCritic``), the log of every latent,
critic input, penalty call and step, and the weights after it (``grading/wgan_replay.py``).
"""

import os
import tempfile

import torch.nn as nn


class ConstGenerator(nn.Module):
    """Output p everywhere, whatever z."""

    def __init__(self, latent, p, size):
        super().__init__()
        self.n_inputs, self.size = latent, size
        self.p = nn.Parameter(torch.tensor(float(p)))

    def forward(self, z):
        return self.p + 0 * z.sum(1).view(-1, 1, 1, 1) + torch.zeros(z.shape[0], 2, self.size, self.size)


class LinearCritic(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(float(a)))
        self.b = nn.Parameter(torch.tensor(float(b)))

    def forward(self, x):
        return self.a * x.mean(dim=(1, 2, 3)).unsqueeze(1) + self.b  # (N, 1)


class LoggedSGD(torch.optim.SGD):
    """SGD that appends (tag, learning rate) to ``log`` at every step."""

    def __init__(self, params, lr, tag, log):
        super().__init__(params, lr=lr)
        self.tag, self.log = tag, log

    def step(self, closure=None):
        self.log.append([self.tag, float(self.param_groups[0]["lr"])])
        return super().step(closure)


class RecordingGenerator(nn.Module):
    """G(z) = sigmoid(z U + c) as (N, 2, size, size) with the grader's secret U, c; every call's z
    goes into the shared event log."""

    def __init__(self, weights, size, log):
        super().__init__()
        self.U, self.c = nn.Parameter(tensor_in(weights["U"])), nn.Parameter(tensor_in(weights["c"]))
        self.size, self.n_inputs, self.log = size, self.U.shape[0], log

    def forward(self, z):
        self.log.append(["G", z.detach().float().cpu().clone()])
        return torch.sigmoid(z @ self.U + self.c).view(len(z), 2, self.size, self.size)


class RecordingCritic(nn.Module):
    """D(x) = tanh(flat(x) W^T + b) . v + d with the grader's secret weights; every call's input
    goes into the shared event log (marked when the grader's penalty makes it)."""

    def __init__(self, weights, log):
        super().__init__()
        self.W, self.b, self.v, self.d = (nn.Parameter(tensor_in(weights[k])) for k in ("W", "b", "v", "d"))
        self.log, self.in_penalty = log, False

    def forward(self, x):
        if not self.in_penalty:
            self.log.append(["D", x.detach().float().cpu().clone()])
        return torch.tanh(x.flatten(1) @ self.W.T + self.b) @ self.v.unsqueeze(1) + self.d  # (N, 1)


def grader_penalty(model_dsc, real_samples, fake_samples):
    """The grader's gradient penalty (used while the student's loop runs on the toy models)."""
    alpha = torch.rand(real_samples.shape[0], 1, 1, 1, dtype=real_samples.dtype, device=real_samples.device)
    x = (alpha * real_samples.detach() + (1 - alpha) * fake_samples.detach()).requires_grad_(True)
    if isinstance(model_dsc, RecordingCritic):  # the penalty's inputs, for the verdict's replay
        model_dsc.log.append(["P", alpha.reshape(-1).detach().float().cpu().clone(),
                              real_samples.detach().float().cpu().clone(), fake_samples.detach().float().cpu().clone()])
        model_dsc.in_penalty = True
    try:
        (g,) = torch.autograd.grad(model_dsc(x).sum(), x, create_graph=True)
    finally:
        if isinstance(model_dsc, RecordingCritic):
            model_dsc.in_penalty = False
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _tensors(tree, prefix=""):
    """Every tensor in a loaded checkpoint, by its key path."""
    found = {}
    if isinstance(tree, torch.Tensor):
        found[prefix or "tensor"] = tree.detach().double().reshape(-1)[:8]
    elif isinstance(tree, dict):
        for k, v in list(tree.items())[:64]:
            found.update(_tensors(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(list(tree)[:64]):
            found.update(_tensors(v, f"{prefix}.{i}" if prefix else str(i)))
    return found


def _checkpoints(folder):
    files = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    out = []
    for name in files[:16]:
        try:
            tree = torch.load(os.path.join(folder, name), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a file the loader cannot read is reported as such
            out.append({"file": name[:80], "error": f"{type(exc).__name__}: {exc}"[:200], "tensors": {}})
            continue
        out.append({"file": name[:80], "tensors": dict(list(_tensors(tree).items())[:32])})
    return out


def _run(ns, train_model, run):
    gen, critic = ConstGenerator(8, run["p"], run["size"]), LinearCritic(run["a"], run["b"])
    log = []
    opt_g = LoggedSGD(gen.parameters(), run["lr_g"], "g", log)
    opt_c = LoggedSGD(critic.parameters(), run["lr_c"], "c", log)
    data = Images(tensor_in(run["data"]))
    val = Images(tensor_in(run["val"])) if "val" in run else None
    mask = tensor_in(run["mask"]) if "mask" in run else None
    folder = tempfile.mkdtemp(prefix="ckpt-")
    ckpt = os.path.join(folder, "ckpt") if run["checkpoints"] else None
    seed_all(run["seed"])
    with pinned(ns, {"compute_gradient_penalty": grader_penalty}):
        out = call("train_model", train_model, gen, critic, data, opt_g, opt_c, batch_size=run["batch_size"],
                   max_epochs=run["epochs"], n_critic=run["n_critic"], lambda_gp=run["lambda_gp"], mask=mask,
                   latent_dim=8, val_dataset=val, lr_gamma=run["lr_gamma"], checkpoint_dir=ckpt, progress=False)
    got = {"a": float(critic.a.detach()), "b": float(critic.b.detach()), "p": float(gen.p.detach()),
           "steps": log[:4096], "returned_kind": kind(out), "histories": []}
    if isinstance(out, (tuple, list)):
        got["histories"] = [[number(v, "a history value") for v in list(h)[:4096]] for h in list(out)[:4]]
    if ckpt is not None:
        got["checkpoints"] = _checkpoints(ckpt)
    return got


class EventSGD(torch.optim.SGD):
    """SGD that appends ["step", tag, learning rate] to the shared event log at every step."""

    def __init__(self, params, lr, tag, log):
        super().__init__(params, lr=lr)
        self.tag, self.log = tag, log

    def step(self, closure=None):
        self.log.append(["step", self.tag, float(self.param_groups[0]["lr"])])
        return super().step(closure)


def _general_run(ns, train_model, run):
    """A few steps on networks without a closed-form training: every call and step logged."""
    log = []
    gen, critic = RecordingGenerator(run["generator"], run["size"], log), RecordingCritic(run["critic"], log)
    opt_g = EventSGD(gen.parameters(), run["lr_g"], "g", log)
    opt_c = EventSGD(critic.parameters(), run["lr_c"], "c", log)
    seed_all(run["seed"])
    with pinned(ns, {"compute_gradient_penalty": grader_penalty}):
        call("train_model", train_model, gen, critic, Images(tensor_in(run["data"])), opt_g, opt_c,
             batch_size=run["batch_size"], max_epochs=1, n_critic=1, lambda_gp=run["lambda_gp"], mask=None,
             latent_dim=gen.n_inputs, val_dataset=None, lr_gamma=1.0, checkpoint_dir=None, progress=False)
    return {"events": log[:256], "generator": state_of(gen), "critic": state_of(critic)}


def training(ns, challenge):
    train_model = need(ns, "train_model")
    return {"runs": [_run(ns, train_model, run) for run in challenge["runs"]],
            "general": _general_run(ns, train_model, challenge["general"])}
