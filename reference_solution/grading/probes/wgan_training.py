"""Probes of the training loops of ``wgan_anomalies`` (kernel side).

The loops run on toy models whose behaviour is known: a generator whose output is one learnable
number ``p`` everywhere, a linear critic ``D(x) = a * mean(x) + b`` that records what it sees.
What comes back is data the verdict can recompute: parameters, optimizer step counts (Adam's
own state), every batch the critic saw.
"""

import os
import tempfile

import torch.nn as nn


class ConstGenerator(nn.Module):
    """Output p everywhere, whatever z; records the training flag and z of every call."""

    def __init__(self, latent, p, size):
        super().__init__()
        self.n_inputs, self.size = latent, size
        self.p = nn.Parameter(torch.tensor(float(p)))
        self.calls = []

    def forward(self, z):
        self.calls.append((self.training, z.detach().clone()))
        return self.p + 0 * z.sum(1).view(-1, 1, 1, 1) + torch.zeros(z.shape[0], 2, self.size, self.size)


class LinearCritic(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(float(a)))
        self.b = nn.Parameter(torch.tensor(0.0))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.a * x.mean(dim=(1, 2, 3)).unsqueeze(1) + self.b  # (N, 1)


def _run(train_model, run):
    gen = ConstGenerator(8, run["p"], run["size"])
    critic = LinearCritic(run["a"])
    make = torch.optim.Adam if run["optimizer"] == "adam" else torch.optim.SGD
    opt_g, opt_c = make(gen.parameters(), lr=run["lr"]), make(critic.parameters(), lr=run["lr"])
    data = Images(tensor_in(run["data"]))
    val = Images(tensor_in(run["val"])) if "val" in run else None
    mask = tensor_in(run["mask"]) if "mask" in run else None
    folder = tempfile.mkdtemp(prefix="ckpt-")
    seed_all(run["seed"])
    out = call("train_model", train_model, gen, critic, data, opt_g, opt_c, batch_size=run["batch_size"],
               max_epochs=run["epochs"], n_critic=run["n_critic"], lambda_gp=run["lambda_gp"], mask=mask,
               latent_dim=8, val_dataset=val, lr_gamma=run["lr_gamma"],
               checkpoint_dir=os.path.join(folder, "ckpt") if run["checkpoints"] else None, progress=False)
    got = {"a": float(critic.a.detach()), "p": float(gen.p.detach()),
           "lr_gen": float(opt_g.param_groups[0]["lr"]), "lr_critic": float(opt_c.param_groups[0]["lr"])}
    if run["optimizer"] == "adam":
        got["steps_gen"] = int(opt_g.state[gen.p]["step"]) if gen.p in opt_g.state else 0
        got["steps_critic"] = int(opt_c.state[critic.a]["step"]) if critic.a in opt_c.state else 0
    if run.get("record"):
        got["seen"] = [x for x in critic.seen]
    if run["checkpoints"]:
        ckpt = os.path.join(folder, "ckpt")
        got["checkpoints"] = sorted(os.listdir(ckpt)) if os.path.isdir(ckpt) else []
        got["returned_kind"] = kind(out)
        if isinstance(out, (tuple, list)):
            got["returned_len"] = len(out)
            got["histories"] = [[number(v, "a history value") for v in list(h)] for h in out]
    return got


def training(ns, challenge):
    train_model = need(ns, "train_model")
    return {"runs": [_run(train_model, run) for run in challenge["runs"]]}
