"""Probe of the convergence checks of ``wgan_anomalies``: train the student's own networks with
their ``train_model`` on grader-made data and return samples before and after (kernel side)."""

import time

from torch.utils.data import Dataset


class _Images(Dataset):
    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def converge(ns, challenge):
    Generator, Discriminator = need(ns, "Generator"), need(ns, "Discriminator")
    train_model = need(ns, "train_model")
    wanted = challenge["device"]
    device = torch.device("cuda" if wanted == "auto" and torch.cuda.is_available() else "cpu")
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(challenge["threads"])
    try:
        real = torch.from_numpy(np.load(challenge["train"]))
        mask = torch.from_numpy(np.load(challenge["mask"])).to(device)
        z = tensor_in(challenge["z"]).to(device)
        size, latent = challenge["size"], challenge["latent"]
        seed_all(challenge["seed"])
        gen = call("Generator", Generator, n_inputs=latent, size=size).to(device)
        critic = call("Discriminator", Discriminator, size=size).to(device)

        def samples():
            gen.eval()
            with torch.no_grad():
                out = call("generator(z)", gen, z)
            return array(out, "generator(z)").float() * mask.cpu()

        before = samples()
        opt_g = torch.optim.Adam(gen.parameters(), lr=challenge["lr"], betas=(0.5, 0.9))
        opt_c = torch.optim.Adam(critic.parameters(), lr=challenge["lr"], betas=(0.5, 0.9))
        seed_all(challenge["seed"] + 1)
        started = time.monotonic()
        out = call("train_model", train_model, gen, critic, _Images(real), opt_g, opt_c,
                   batch_size=challenge["batch_size"], max_epochs=challenge["epochs"],
                   n_critic=challenge["n_critic"], lambda_gp=10.0, mask=mask, latent_dim=latent,
                   val_dataset=_Images(real[-challenge["val"]:]), lr_gamma=challenge["lr_gamma"],
                   checkpoint_dir=None, progress=False)
        seconds = time.monotonic() - started
        after = samples()
    finally:
        torch.set_num_threads(threads)
    histories = [[number(v, "a history value") for v in list(h)] for h in out] \
        if isinstance(out, (tuple, list)) else []
    return {"before": before, "after": after, "histories": histories, "device": device.type,
            "seconds": seconds}
