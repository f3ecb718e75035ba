"""Probe of the convergence checks of ``wgan_anomalies`` (kernel side): the student's
``train_model`` trains the grader's own generator and critic, started from the weights the
challenge sends, on grader-made data; the weights after every epoch come back. The verdict
samples them itself, on latents the kernel never sees."""

import time


def converge(ns, challenge):
    train_model = need(ns, "train_model")
    wanted = challenge["device"]
    device = torch.device("cuda" if wanted == "auto" and torch.cuda.is_available() else "cpu")
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(challenge["threads"])
    try:
        real = torch.from_numpy(np.load(challenge["train"]))
        mask = torch.from_numpy(np.load(challenge["mask"])).to(device)
        size, latent = challenge["size"], challenge["latent"]
        gen = load_state(GraderGenerator(latent, size), challenge["generator"]).to(device)
        critic = load_state(GraderCritic(size), challenge["critic"]).to(device)
        opt_g = torch.optim.Adam(gen.parameters(), lr=challenge["lr"], betas=(0.5, 0.9))
        opt_c = torch.optim.Adam(critic.parameters(), lr=challenge["lr_critic"], betas=(0.5, 0.9))
        seed_all(challenge["seed"])
        started = time.monotonic()
        # one call per epoch when the verdict looks at every epoch's weights (snapshots)
        calls = challenge["epochs"] if challenge["snapshots"] else 1
        histories, snapshots = [], []
        for _ in range(calls):
            out = call("train_model", train_model, gen, critic, Images(real), opt_g, opt_c,
                       batch_size=challenge["batch_size"], max_epochs=challenge["epochs"] // calls,
                       n_critic=challenge["n_critic"], lambda_gp=10.0, mask=mask, latent_dim=latent,
                       val_dataset=Images(real[-challenge["val"]:]), lr_gamma=challenge["lr_gamma"],
                       checkpoint_dir=None, progress=False)
            snapshots.append(state_of(gen))
            if isinstance(out, (tuple, list)):
                for i, h in enumerate(list(out)[:3]):
                    values = [number(v, "a history value") for v in list(h)]
                    if i < len(histories):
                        histories[i] += values
                    else:
                        histories.append(values)
        seconds = time.monotonic() - started
    finally:
        torch.set_num_threads(threads)
    return {"generators": snapshots, "critic": state_of(critic), "histories": histories,
            "device": device.type, "seconds": seconds}
