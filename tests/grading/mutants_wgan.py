"""Catalogue of realistic student bugs (``MUTANTS``) and correct alternatives (``VALID``) of
``wgan_anomalies``: substring edits of the reference's solution cells, each with the grade ids it
must fail (``expected_failing``) and may also fail (``may_fail``: knock-on effects in later cells).

Used in process by ``tests/grading/test_wgan_checks.py``, through nbgrader by
``tests/course/test_catalogue_autograde.py``, and over many seeds by ``bench/bench_check_pass_rates.py``.
"""

from reference_solution.course.submissions import Mutant

DS_C, NET, OPT_C, GP_C, TRAIN, SAMP, RADII, CLF, TCLF, SCORE = (
    "ds_code", "networks_code", "optimizers_code", "gradient_penalty_code", "train_model_code", "samplers_code",
    "latent_radii_code", "classifier_code", "train_classifier_code", "scoring_code")
OPT = "optimizers_cover_each_network"




ITEMS, MMAP, BAD = ("ds_items_are_masked_two_channel_tensors", "ds_reads_files_memory_mapped",
                    "ds_rejects_missing_and_mismatched_files")
GEN, CRIT, GP = ("generator_maps_latents_to_unit_interval_images",
                 "critic_scores_fit_the_wasserstein_loss", "gradient_penalty_matches_a_known_critic")
SIGNS, NCRIT, MASK, SCHED = ("critic_and_generator_losses_have_the_right_signs",
                             "training_runs_n_critic_critic_steps_per_generator_step",
                             "training_masks_real_and_generated_samples",
                             "training_schedules_validates_and_checkpoints")
SPHERE, BALL, INOUT, CHI, REJ = ("sphere_sampler_is_uniform", "ball_sampler_follows_the_norm_law",
                                 "inner_and_outer_are_balanced", "chi_quantile_is_right",
                                 "rejection_probability_balances_the_gaussian_scheme")
LOGIT, FROZEN, BAL, ANOM = ("classifier_outputs_one_logit_per_sample",
                            "classifier_training_keeps_the_generator_frozen",
                            "classifier_trains_on_balanced_masked_batches",
                            "anomalies_are_indices_above_the_threshold")
CPU_CONV, FULL = "training_converges_at_cpu_scale", "training_works_at_full_size"

MUTANTS = [
    # In the notebook the student's DS also feeds the scoring cell, which then breaks too.
    Mutant("item shape (1, 2, H, W)", DS_C, "x = torch.from_numpy(x)\n", "x = torch.from_numpy(x)[None]\n", (ITEMS,),
           (ANOM, CPU_CONV)),  # CPU_CONV's visible part reads the notebook's own (broken) training run
    Mutant("whole-file np.load without mmap", DS_C, 'self.pv = np.load(pv_fname, mmap_mode="r")',
           "self.pv = np.load(pv_fname)", (MMAP,)),
    Mutant("channels swapped (gh first)", DS_C, "x[0] = self.pv[index]\n        x[1] = self.gh[index]",
           "x[0] = self.gh[index]\n        x[1] = self.pv[index]", (ITEMS,)),
    Mutant("no mask on real items", DS_C, "        x *= self.mask\n", "", (ITEMS,)),
    Mutant("generator without the output sigmoid", NET, "x = torch.sigmoid(self.to_image(x))",
           "x = self.to_image(x)", (GEN,)),
    Mutant("sigmoid on the critic", NET, "x = self.head(self.features(x).flatten(1))  # (N, 1), no activation",
           "x = torch.sigmoid(self.head(self.features(x).flatten(1)))", (CRIT,), (SIGNS, CPU_CONV, FULL)),
    Mutant("BatchNorm in the critic", NET,
           "layers += [nn.Conv2d(c_in, width(res), 4, stride=2, padding=1), nn.LeakyReLU(0.2)]",
           "layers += [nn.Conv2d(c_in, width(res), 4, stride=2, padding=1), nn.BatchNorm2d(width(res)), nn.LeakyReLU(0.2)]",
           (CRIT,)),
    Mutant("generator's optimizer over the critic's parameters", OPT_C, "opt_gen = torch.optim.Adam(gen.parameters()",
           "opt_gen = torch.optim.Adam(dsc.parameters()", (OPT,)),
    Mutant("one optimizer over both networks", OPT_C, "opt_dsc = torch.optim.Adam(dsc.parameters()",
           "opt_dsc = torch.optim.Adam(list(gen.parameters()) + list(dsc.parameters())", (OPT,)),
    Mutant("penalty without the square", GP_C, "((gradients.norm(2, dim=1) - 1) ** 2).mean()",
           "(gradients.norm(2, dim=1) - 1).abs().mean()", (GP,)),
    Mutant("penalty norm over the whole batch", GP_C,
           "gradients = gradients.reshape(gradients.shape[0], -1)  # (N, 2*H*W)",
           "gradients = gradients.reshape(1, -1)", (GP,)),
    Mutant("one alpha for the whole batch", GP_C, "alpha = torch.rand(real_samples.shape[0], ",
           "alpha = torch.rand(1, ", (GP,)),
    Mutant("penalty graph not kept", GP_C, "create_graph=True)[0]", "create_graph=False)[0]", (GP,), (SIGNS,)),
    Mutant("mask forgotten on fakes", TRAIN,
           "fake = masked(model_gen(torch.randn(real.shape[0], latent_dim, device=device)))\n                loss_dsc",
           "fake = model_gen(torch.randn(real.shape[0], latent_dim, device=device))\n                loss_dsc",
           (MASK,)),
    Mutant("wrong critic loss sign", TRAIN, "loss_dsc = (model_dsc(fake).mean() - model_dsc(real).mean()",
           "loss_dsc = (model_dsc(real).mean() - model_dsc(fake).mean()", (SIGNS,), (CPU_CONV, FULL)),
    Mutant("wrong generator loss sign", TRAIN, "loss_gen = -model_dsc(fake).mean()",
           "loss_gen = model_dsc(fake).mean()", (SIGNS,), (CPU_CONV, FULL)),
    Mutant("penalty subtracted", TRAIN, "+ lambda_gp * compute_gradient_penalty",
           "- lambda_gp * compute_gradient_penalty", (SIGNS,), (CPU_CONV, FULL)),
    Mutant("n_critic ignored (generator every step)", TRAIN, "if critic_steps % n_critic == 0:", "if True:",
           (NCRIT,)),
    Mutant("schedulers never stepped", TRAIN, "        lr_scheduler_gen.step()\n        lr_scheduler_dsc.step()\n",
           "", (SCHED,)),
    Mutant("no checkpoint", TRAIN, "            torch.save(", "            (lambda *a, **k: None)(", (SCHED,)),
    Mutant("cube-normalised directions", SAMP, "d = np.random.standard_normal((nsamples, ndim))",
           "d = np.random.uniform(-1, 1, (nsamples, ndim))", (SPHERE, BALL), (INOUT,)),
    # train_classifier's checks run it with the grader's samplers (a sampler's bug costs only its own points)
    Mutant("U instead of U^(1/n)", SAMP, "b = s * c ** (1.0 / ndim) * radius", "b = s * c * radius",
           (BALL, INOUT)),
    Mutant("cube rejection instead of the ball law", SAMP,
           "s = SamplingUnitSphereUniform(ndim, nsamples)\n    c = np.random.uniform(0.0, 1.0, size=(nsamples, 1))\n"
           "    b = s * c ** (1.0 / ndim) * radius\n",
           "b = np.empty((0, ndim))\n    while len(b) < nsamples:\n"
           "        cand = np.random.uniform(-radius, radius, (4096, ndim))\n"
           "        b = np.concatenate([b, cand[np.linalg.norm(cand, axis=1) <= radius]])\n"
           "    b = b[:nsamples]\n", (BALL, INOUT)),  # never ends at n = 128: time limits
    Mutant("inner split with the outer radius", SAMP, "<= radius_inner", "<= radius_outer", (INOUT,)),
    Mutant("chi2 instead of chi", RADII, "chi_p98 = float(stats.chi.ppf(QUANTILE, latent_dim))",
           "chi_p98 = float(stats.chi2.ppf(QUANTILE, latent_dim))", (CHI,)),
    Mutant("R_outer = 2^(1/n) without q", RADII, "R_OUTER = chi_p98 * 2 ** (1 / latent_dim)",
           "R_OUTER = 2 ** (1 / latent_dim)", (CHI,)),
    Mutant("rejection probability 0.98", RADII, "P_REJECT_INNER = 1 - (1 - QUANTILE) / QUANTILE",
           "P_REJECT_INNER = 0.98", (REJ,)),
    # right for the notebook's 0.98 only: the hidden test runs the cell with another QUANTILE
    Mutant("rejection probability hard-coded 48/49", RADII, "P_REJECT_INNER = 1 - (1 - QUANTILE) / QUANTILE",
           "P_REJECT_INNER = 48 / 49", (REJ,)),
    Mutant("chi quantile hard-coded for n = 128", RADII, "chi_p98 = float(stats.chi.ppf(QUANTILE, latent_dim))",
           "chi_p98 = 12.765701", (CHI,)),
    Mutant("sigmoid in the classifier", CLF, "x = self.head(self.features(x).flatten(1))  # (N, 1) logits",
           "x = torch.sigmoid(self.head(self.features(x).flatten(1)))", (LOGIT,)),
    # The notebook's scoring cell then crashes on the (N,) output, and so does its test's visible part.
    Mutant("classifier returns (N,) logits", CLF, "x = self.head(self.features(x).flatten(1))  # (N, 1) logits",
           "x = self.head(self.features(x).flatten(1)).squeeze(1)", (LOGIT,), (ANOM,)),
    Mutant("generator left in train mode", TCLF, "    model_gen.eval()\n", "", (FROZEN,)),
    Mutant("generator updated during classifier training", TCLF,
           "optimizer = torch.optim.Adam(model_clf.parameters(), lr=lr)",
           "model_gen.train()\n    optimizer = torch.optim.Adam(list(model_clf.parameters()) + list(model_gen.parameters()), lr=lr)",
           (FROZEN,)),
    Mutant("unbalanced Gaussian latents (no rejection)", TCLF,
           "keep = ~inner | (np.random.uniform(size=len(z)) < (1 - 0.98) / 0.98)",
           "keep = np.ones(len(z), dtype=bool)", (BAL,)),
    Mutant("no mask on generated classifier batches", TCLF, "        if mask_t is not None:\n            x = x * mask_t\n",
           "", (BAL,)),
    # Found by a held-out catalogue: the labels are not observable in the batches, only in what
    # the classifier learns (its logit must grow with |z| on a norm-encoding generator).
    Mutant("labels swapped (inner latents labelled anomalous)", TCLF,
           "y = torch.cat([torch.zeros(len(inner), 1), torch.ones(len(outer), 1)])",
           "y = torch.cat([torch.ones(len(inner), 1), torch.zeros(len(outer), 1)])", (BAL,)),
    Mutant("quantile of chi2 for the classifier's radii", TCLF, "r_inner = stats.chi.ppf(0.98, latent_dim)",
           "r_inner = stats.chi2.ppf(0.98, latent_dim)", (BAL,)),
    Mutant("gradients cleared after backward (classifier never learns)", TCLF,
           "optimizer.zero_grad()\n            loss.backward()\n            optimizer.step()",
           "loss.backward()\n            optimizer.zero_grad()\n            optimizer.step()", (FROZEN, BAL)),
    Mutant("shuffled scoring loader", SCORE, "DataLoader(ds_test, shuffle=False, batch_size=64)",
           "DataLoader(ds_test, shuffle=True, batch_size=64)", (ANOM,)),
    Mutant("threshold inverted", SCORE, "np.flatnonzero(probs > threshold)", "np.flatnonzero(probs < threshold)",
           (ANOM,)),
    Mutant("scores are logits, not probabilities", SCORE, "torch.sigmoid(clf(x.to(DEVICE)))", "clf(x.to(DEVICE))",
           (ANOM,)),
]

VALID = [
    Mutant("critic optimizer RMSprop", OPT_C, "opt_dsc = torch.optim.Adam(dsc.parameters(), lr=1e-3 if not ON_GPU else 1e-4, betas=(0.5, 0.9))",
           "opt_dsc = torch.optim.RMSprop(dsc.parameters(), lr=1e-4)", ()),
    Mutant("loop-free __getitem__ via np.stack", DS_C,
           "x = np.empty((2,) + self.mask.shape, dtype=np.float32)  # (2, H, W)\n        x[0] = self.pv[index]\n"
           "        x[1] = self.gh[index]\n        x *= self.mask\n",
           "x = (np.stack([self.pv[index], self.gh[index]]) * self.mask).astype(np.float32)\n", ()),
    Mutant("critic with LayerNorm-free ELU and a 1x1 head", NET, "nn.LeakyReLU(0.2)]\n            c_in = width(res)",
           "nn.ELU()]\n            c_in = width(res)", ()),
    Mutant("penalty with grad_outputs=torch.ones_like", GP_C,
           "gradients = torch.autograd.grad(outputs=d_interpolates.sum(), inputs=interpolates,",
           "gradients = torch.autograd.grad(outputs=d_interpolates, inputs=interpolates, "
           "grad_outputs=torch.ones_like(d_interpolates), retain_graph=True,", ()),
    Mutant("torch samplers", SAMP,
           "d = np.random.standard_normal((nsamples, ndim))\n    d = d / np.linalg.norm(d, axis=1, keepdims=True)",
           "d = torch.randn(nsamples, ndim, dtype=torch.float64)\n    d = (d / d.norm(dim=1, keepdim=True)).numpy()", ()),
    Mutant("ball radius via torch.rand", SAMP, "c = np.random.uniform(0.0, 1.0, size=(nsamples, 1))",
           "c = torch.rand(nsamples, 1, dtype=torch.float64).numpy()", ()),
    Mutant("generator step counted per epoch like the seed", TRAIN, "if critic_steps % n_critic == 0:",
           "if idx % n_critic == 0:", ()),
    # A classifier regularised with weight decay: it used to lose the mask check (decay moved the
    # secret weights outside the mask), a right answer marked wrong.
    Mutant("classifier with Adam weight decay", TCLF, "optimizer = torch.optim.Adam(model_clf.parameters(), lr=lr)",
           "optimizer = torch.optim.Adam(model_clf.parameters(), lr=lr, weight_decay=1e-4)", ()),
    Mutant("classifier with AdamW", TCLF, "optimizer = torch.optim.Adam(model_clf.parameters(), lr=lr)",
           "optimizer = torch.optim.AdamW(model_clf.parameters(), lr=lr, weight_decay=1e-2)", ()),
]
