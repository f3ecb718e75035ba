"""Catalogue of realistic student bugs (``MUTANTS``) and correct alternatives (``VALID``) of
``score_matching``: substring edits of the reference's solution cells, each with the grade ids it
must fail (``expected_failing``) and may also fail (``may_fail``: knock-on effects in later cells).

Used in process by ``tests/grading/test_score_matching_checks.py``, through nbgrader by
``tests/course/test_catalogue_autograde.py``, and over many seeds by ``bench/bench_check_pass_rates.py``.
"""

from reference_solution.course.submissions import Mutant

CLASS, HYPER, NET, TRAIN = ("denoising_score_matcher_code", "hyperparameters", "score_network",
                            "train_model_code")




FWD, DSM, LANG, SAMPLE, DEV = ("forward_returns_per_element_dsm_error",
                               "dsm_error_matches_the_closed_form",
                               "langevin_step_matches_the_update_rule",
                               "sample_returns_detached_samples",
                               "matcher_runs_on_the_models_device")
HYP, SCORE, LOOP, NEAR = ("hyperparameters_within_the_seed_bounds",
                          "score_network_maps_points_to_scores",
                          "training_loop_updates_the_model", "samples_land_near_the_moons")

MUTANTS = [
    Mutant("noise not scaled by sigma", CLASS, "noisy_x = x + self.sigma * eps",
           "noisy_x = x + eps", (DSM,), (NEAR,)),
    Mutant("target +eps/sigma sign flipped", CLASS, "(s + eps / self.sigma) ** 2",
           "(s - eps / self.sigma) ** 2", (DSM, NEAR)),
    Mutant("target eps instead of eps/sigma", CLASS, "(s + eps / self.sigma) ** 2",
           "(s + eps) ** 2", (FWD, DSM), (NEAR,)),
    Mutant("loss averaged instead of per element", CLASS, "loss = (s + eps / self.sigma) ** 2",
           "loss = ((s + eps / self.sigma) ** 2).mean()", (FWD, DSM)),
    Mutant("noise shared across the batch", CLASS, "eps = torch.randn_like(x)\n        noisy_x",
           "eps = torch.randn_like(x[0])\n        noisy_x", (FWD,), (DSM, NEAR)),
    # Found by a held-out catalogue: the noise must be independent per element and fresh per
    # call, and the error must stay differentiable w.r.t. the score model.
    Mutant("one noise value per sample, shared by its elements", CLASS,
           "eps = torch.randn_like(x)\n        noisy_x", "eps = torch.randn_like(x[:, :1]).expand_as(x)\n        noisy_x",
           (FWD,), (NEAR,)),
    Mutant("score detached in the error", CLASS, "loss = (s + eps / self.sigma) ** 2",
           "loss = (s.detach() + eps / self.sigma) ** 2", (FWD, NEAR), (LOOP,)),
    Mutant("noise drawn once and reused by every call", CLASS, "eps = torch.randn_like(x)\n        noisy_x",
           "eps = self.__dict__.get('_eps')\n        if eps is None or eps.shape != x.shape:\n"
           "            eps = self.__dict__['_eps'] = torch.randn_like(x)\n        noisy_x", (FWD,), (NEAR,)),
    Mutant("noise scaled by sigma squared", CLASS, "noisy_x = x + self.sigma * eps", "noisy_x = x + self.sigma ** 2 * eps",
           (DSM,), (NEAR,)),
    Mutant("uniform instead of Gaussian noise", CLASS, "eps = torch.randn_like(x)\n        noisy_x",
           "eps = torch.rand_like(x)\n        noisy_x", (FWD, DSM), (NEAR,)),
    Mutant("eta instead of eta/2 in the drift", CLASS, "x = x + eta / 2 * self.score_model(x)",
           "x = x + eta * self.score_model(x)", (LANG,), (NEAR,)),
    Mutant("eta instead of sqrt(eta) for the noise", CLASS, "math.sqrt(eta) * eps", "eta * eps",
           (LANG, SAMPLE), (NEAR,)),
    Mutant("Langevin without noise", CLASS, " + math.sqrt(eta) * eps", "", (LANG, SAMPLE), (NEAR,)),
    Mutant("Langevin noise drawn once", CLASS,
           "for _ in range(num_steps):\n            eps = torch.randn_like(x)\n",
           "eps = torch.randn_like(x)\n        for _ in range(num_steps):\n", (LANG, SAMPLE), (NEAR,)),
    Mutant("noise on the CPU", CLASS, "eps = torch.randn_like(x)\n        noisy_x",
           "eps = torch.randn(x.shape)\n        noisy_x", (DEV,)),
    Mutant("sample keeps gradients", CLASS, "with torch.no_grad():", "if True:", (SAMPLE,)),
    Mutant("sample ignores num_steps and eta", CLASS,
           "self.langevin_dynamics(x0, num_steps=num_steps, eta=eta)",
           "self.langevin_dynamics(x0, num_steps=100, eta=0.01)", (SAMPLE,), (NEAR,)),
    Mutant("forward returns an always-equal object", CLASS, "        return loss\n",
           "        class _Yes:\n            def __eq__(self, other):\n                return True\n"
           "        return _Yes()\n", (FWD, DSM, DEV, NEAR), (LOOP,)),
    Mutant("EPOCHS at the bound", HYPER, "EPOCHS = 100", "EPOCHS = 50", (HYP,)),
    Mutant("SIGMA too large", HYPER, "SIGMA = 0.2", "SIGMA = 1.0", (HYP,), (NEAR,)),
    Mutant("LR at the bound", HYPER, "LR = 5e-3", "LR = 1e-3", (HYP,)),
    Mutant("score network outputs one number", NET, "nn.Linear(HIDDEN_SIZE, 2),",
           "nn.Linear(HIDDEN_SIZE, 1),", (SCORE,), (NEAR,)),
    Mutant("scheduler never stepped", TRAIN, "            scheduler.step()\n", "            pass\n",
           (LOOP,)),
    Mutant("optimizer never stepped", TRAIN, "            optimizer.step()\n", "", (LOOP, NEAR)),
]

VALID = [
    Mutant("noise via torch.randn with device", CLASS, "eps = torch.randn_like(x)\n        noisy_x",
           "eps = torch.randn(x.shape, device=x.device, dtype=x.dtype)\n        noisy_x", ()),
    Mutant("loss via F.mse_loss", CLASS, "loss = (s + eps / self.sigma) ** 2",
           "loss = F.mse_loss(s, -eps / self.sigma, reduction='none')", ()),
    Mutant("noise scaled first, target eps/sigma^2", CLASS,
           "eps = torch.randn_like(x)\n        noisy_x = x + self.sigma * eps\n        s = self.score_model(noisy_x)\n"
           "        # The per-element squared error of the score against the target -eps / sigma.\n"
           "        loss = (s + eps / self.sigma) ** 2",
           "eps = self.sigma * torch.randn_like(x)\n        noisy_x = x + eps\n        s = self.score_model(noisy_x)\n"
           "        loss = (s + eps / self.sigma ** 2) ** 2", ()),
    Mutant("Gaussian start", CLASS, "x0 = 2. * torch.rand(num_samples, *self.input_shape) - 1.",
           "x0 = torch.randn(num_samples, *self.input_shape)", ()),
    Mutant("while loop with eta ** 0.5", CLASS,
           "for _ in range(num_steps):\n            eps = torch.randn_like(x)\n"
           "            x = x + eta / 2 * self.score_model(x) + math.sqrt(eta) * eps\n",
           "step = 0\n        while step < num_steps:\n"
           "            x = x + 0.5 * eta * self.score_model(x) + eta ** 0.5 * torch.randn_like(x)\n"
           "            step += 1\n", ()),
    Mutant("Softplus network, two hidden layers", NET,
           "    nn.Linear(HIDDEN_SIZE, HIDDEN_SIZE), nn.SiLU(),\n    nn.Linear(HIDDEN_SIZE, HIDDEN_SIZE), nn.SiLU(),\n",
           "    nn.Linear(HIDDEN_SIZE, HIDDEN_SIZE), nn.Softplus(),\n", ()),
]
