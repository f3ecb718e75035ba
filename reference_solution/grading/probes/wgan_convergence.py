"""Probe of the convergence checks of ``wgan_anomalies``: train the student's own networks with
their ``train_model`` on grader-made data; return samples before and after, and the trained
critic's gradient norms and scores at grader-chosen real/fake interpolates (kernel side)."""

import time


def _critic_at(critic, real, fake, before, challenge, device):
    """Gradient norms of the critic at alpha * real + (1 - alpha) * fake; its scores of the
    real, generated and untrained-generated states."""
    if not len(challenge["alpha"]):
        return None
    which = torch.as_tensor(np.asarray(challenge["pair_fake"]))
    r = real[torch.as_tensor(np.asarray(challenge["pair_real"]))].to(device)
    f, b = fake[which].to(device), before[which].to(device)
    alpha = tensor_in(challenge["alpha"]).to(device).view(-1, 1, 1, 1)
    critic.eval()
    x = (alpha * r + (1 - alpha) * f).requires_grad_(True)
    out = call("critic(x)", critic, x)
    if type(out) is not torch.Tensor or not out.requires_grad:
        raise ProbeFailure("the critic's score should be a tensor that depends on its input")
    grad = call("the critic's gradient", torch.autograd.grad, out.sum(), x)[0]
    with torch.no_grad():
        d_real, d_fake = call("critic(real)", critic, r), call("critic(fake)", critic, f)
        d_before = call("critic(before)", critic, b)
    return {"norms": array(grad.reshape(len(x), -1).norm(dim=1), "gradient norms"),
            "real": array(d_real, "critic(real)").reshape(-1), "fake": array(d_fake, "critic(fake)").reshape(-1),
            "before": array(d_before, "critic(before)").reshape(-1)}


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
            gen.train(challenge["sample_mode"] == "train")
            with torch.no_grad():
                out = call("generator(z)", gen, z)
            return array(out, "generator(z)").float() * mask.cpu()

        before = samples()
        opt_g = torch.optim.Adam(gen.parameters(), lr=challenge["lr"], betas=(0.5, 0.9))
        opt_c = torch.optim.Adam(critic.parameters(), lr=challenge["lr_critic"], betas=(0.5, 0.9))
        seed_all(challenge["seed"] + 1)
        started = time.monotonic()
        # one call per epoch when the verdict looks at every epoch's samples (snapshots)
        calls = challenge["epochs"] if challenge["snapshots"] else 1
        outs, snapshots = [], []
        for k in range(calls):
            outs.append(call("train_model", train_model, gen, critic, Images(real), opt_g, opt_c,
                             batch_size=challenge["batch_size"], max_epochs=challenge["epochs"] // calls,
                             n_critic=challenge["n_critic"], lambda_gp=10.0, mask=mask, latent_dim=latent,
                             val_dataset=Images(real[-challenge["val"]:]), lr_gamma=challenge["lr_gamma"],
                             checkpoint_dir=None, progress=False))
            if k < calls - 1:
                snapshots.append(samples())
        seconds = time.monotonic() - started
        after = samples()
        judged = _critic_at(critic, real, after, before, challenge, device) if after.shape == before.shape else None
    finally:
        torch.set_num_threads(threads)
    histories = []
    for out in outs:
        if not isinstance(out, (tuple, list)):
            continue
        for i, h in enumerate(out):
            values = [number(v, "a history value") for v in list(h)]
            if i < len(histories):
                histories[i] += values
            else:
                histories.append(values)
    return {"before": before, "after": after, "snapshots": snapshots, "histories": histories,
            "device": device.type, "seconds": seconds, "critic": judged}
