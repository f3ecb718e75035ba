"""Probe of the WGAN-GP training loop ``train_model`` of ``wgan_anomalies`` (kernel side).

The loop runs on the grader's toy models, whose updates the verdict replays exactly: a generator
whose output is one learnable number ``p`` everywhere, a linear critic ``D(x) = a * mean(x) + b``,
plain SGD optimizers that log every step (which optimizer, at which learning rate). While the
loop runs, ``compute_gradient_penalty`` is the grader's own, so that a bug in the student's
penalty costs only the penalty's points. What comes back: the final ``a``, ``b``, ``p``, the step
log, what ``train_model`` returned and the tensors of its checkpoint files.
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


def grader_penalty(model_dsc, real_samples, fake_samples):
    """The grader's gradient penalty (used while the student's loop runs on the toy models)."""
    alpha = torch.rand(real_samples.shape[0], 1, 1, 1, dtype=real_samples.dtype, device=real_samples.device)
    x = (alpha * real_samples.detach() + (1 - alpha) * fake_samples.detach()).requires_grad_(True)
    (g,) = torch.autograd.grad(model_dsc(x).sum(), x, create_graph=True)
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


def training(ns, challenge):
    train_model = need(ns, "train_model")
    return {"runs": [_run(ns, train_model, run) for run in challenge["runs"]]}
