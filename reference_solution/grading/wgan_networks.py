"""Hidden checks of Part 2 of ``wgan_anomalies``: generator, critic, optimizers, gradient penalty,
and the classifier's logits (Part 4).

The student's networks come back as data (``grading.graph``: the graph ``torch.export`` traced
and the weights) and are re-run here on secret inputs, also with scaled weights: made-up outputs
are worth nothing. The optimizers step once on secret gradients and the step is recomputed with
torch's own optimizer; the penalty is recomputed for secret critics at the interpolates the
student's function made.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from . import expect
from .graph import Graph, GraphError
from .literals import NotLiteral, call_argument_names
from .protocol import PROBES_DIR, Check, Context, probe_scope
from .statistics import P_MIN, ks_uniform_pvalue


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1 << 62))


def _graph(data, what: str) -> Graph:
    """The network the kernel sent as data, rebuilt here (``grading.graph``)."""
    try:
        return Graph.from_data(data)
    except GraphError as exc:
        raise AssertionError(f"{what} could not be rebuilt from what your kernel sent: {exc}") from None


def _run(graph: Graph, x: np.ndarray, what: str, parameters: dict | None = None) -> np.ndarray:
    """One output of ``graph`` on ``x``, run here."""
    import torch

    want = [(tuple(x.shape), torch.float32)]
    assert graph.user_inputs == want, (
        f"{what} should take one float32 input of shape {tuple(x.shape)}, it takes {graph.user_inputs}")
    try:
        outs = graph.run(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), parameters=parameters)
    except GraphError as exc:
        raise AssertionError(f"{what} failed when the grader ran it: {exc}") from None
    except RuntimeError as exc:
        raise AssertionError(f"{what} failed when the grader ran it: {str(exc).splitlines()[0][:200]}") from None
    assert len(outs) == 1 and isinstance(outs[0], torch.Tensor), f"{what} should return one tensor"
    return outs[0].detach().numpy()


def _scaled(graph: Graph, factor: float) -> dict:
    return {k: v * factor if v.is_floating_point() else v for k, v in graph.parameters.items()}


def _graphs(run, key: str, n: int, what: str) -> list[Graph]:
    return [_graph(g, what) for g in expect.cases(run, key, n, f"graphs of {what}")]


def generator_challenge(rng: np.random.Generator, folder: Path, context: Context) -> dict:
    cases = []
    # every export costs the kernel about a second: batches of one and several, each mode, three sizes
    for n_inputs, size, batches, train in ((16, 32, (1, 5), 5), (128, 16, (4,), 3), (128, 256, (2,), 0)):
        cases.append({"n_inputs": n_inputs, "size": size, "batches": list(batches), "train_batch": train})
    return {"seed": _seed(rng), "cases": cases,
            "_z": [[rng.standard_normal((b, c["n_inputs"])).astype(np.float32) for b in c["batches"]] for c in cases],
            "_big": [(3 * rng.standard_normal((max(c["batches"]), c["n_inputs"]))).astype(np.float32) for c in cases]}


def _images(out: np.ndarray, want: tuple, what: str) -> None:
    assert out.shape == want, f"{what} should return {want}, got {tuple(out.shape)}"
    assert out.dtype == np.float32, f"{what} returned {out.dtype}, expected float32"
    lo, hi = float(np.min(out)), float(np.max(out))
    assert math.isfinite(lo) and math.isfinite(hi) and lo >= 0.0 and hi <= 1.0, (
        f"generated values should lie in [0, 1] like the data (found [{lo:.3g}, {hi:.3g}]; "
        "also with large weights): think about the output activation")


def generator_maps_latents_to_unit_interval_images(challenge: dict, result: dict) -> None:
    """The generator maps (N, n_inputs) latents to (N, 2, size, size) float32 images in [0, 1] (re-run by the grader on secret latents, also with large weights)."""  # noqa: E501
    cases = challenge["cases"]
    runs = expect.cases(result, "runs", len(cases), "generators")
    for case, run, zs, big in zip(cases, runs, challenge["_z"], challenge["_big"]):
        n_inputs, size = case["n_inputs"], case["size"]
        what = f"Generator(n_inputs={n_inputs}, size={size})"
        for graph, z in zip(_graphs(run, "eval", len(case["batches"]), what), zs):
            out = _run(graph, z, what)
            _images(out, (len(z), 2, size, size), f"{what} on z of shape {z.shape}")
            assert np.array_equal(out, _run(graph, z, what)), (
                f"{what} in eval mode should be a function of z: the same latents gave other images")
            if len(z) > 1:
                assert float(np.abs(out[0] - out[1]).max()) > 0, "different latents should give different images"
            _images(_run(graph, big[:len(z)], what, _scaled(graph, 10.0)), (len(z), 2, size, size),
                    f"{what} with weights x 10")
        if case["train_batch"]:
            (graph,) = _graphs(run, "train", 1, what)
            z = zs[-1][:case["train_batch"]]
            _images(_run(graph, z, what), (len(z), 2, size, size), f"{what} in train mode")


def _scores_challenge(rng: np.random.Generator, cases: list[dict]) -> dict:
    return {"seed": _seed(rng), "cases": cases,
            "_x": [rng.random((max(c["batches"]), 2, c["size"], c["size"]), dtype=np.float32) for c in cases]}


def critic_challenge(rng: np.random.Generator, folder: Path, context: Context) -> dict:
    return _scores_challenge(rng, [{"size": s, "modes": ["train"], "batches": [6, 1, 3]} for s in (32, 16)])


BATCH_NORM_OPS = ("batch_norm",)  # every ATen batch-norm variant has this in its name


def _check_scores(challenge: dict, result: dict, what: str) -> dict:
    """Scores of shape (b, 1), float32, depending on the parameters and unbounded with large
    weights, for every mode and batch; returns the graphs by mode."""
    cases = challenge["cases"]
    found = []
    for case, run, x in zip(cases, expect.cases(result, "runs", len(cases), what + "s"), challenge["_x"]):
        size, graphs = case["size"], {}
        for mode in case["modes"]:
            graphs[mode] = _graphs(run, mode, len(case["batches"]), what)
            for b, graph in zip(case["batches"], graphs[mode]):
                out = _run(graph, x[:b], what)
                assert out.ndim == 2 and out.shape == (b, 1), (
                    f"the {what} on a batch of shape ({b}, 2, {size}, {size}) should return ({b}, 1), "
                    f"got {tuple(out.shape)}")
                assert out.dtype == np.float32, f"the {what} returned {out.dtype}, expected float32"
                assert b == 1 or float(np.ptp(out)) > 0, f"the {what}'s score should depend on its input"
                moved = _run(graph, x[:b], what, _scaled(graph, 1.1))
                assert not np.array_equal(out, moved), f"the {what}'s output should depend on its parameters"
        graph, b = graphs[case["modes"][-1]][0], case["batches"][0]
        # x 10 first, then x 100 and x 1000: behind a normalisation layer a right network's scores
        # grow with the square of the scale and can start small (1.3 % of seeds stayed below 1 at x 10)
        for scale in (10.0, 100.0, 1000.0):
            big = np.abs(_run(graph, x[:b] * 4 - 2, what, _scaled(graph, scale)).astype(np.float64))
            if not np.isfinite(big).all() or float(big.max()) > 1.0:
                break
        assert np.isfinite(big).all() and float(big.max()) > 1.0, (
            f"the {what}'s output should be unbounded (with large weights it should leave [-1, 1]): "
            "no sigmoid or tanh at the output")
        found.append(graphs)
    return found


def critic_scores_fit_the_wasserstein_loss(challenge: dict, result: dict) -> None:
    """The critic gives every sample a score of its own, (N, 1), any real number as the Wasserstein loss needs (its graph re-run by the grader)."""  # noqa: E501
    found = _check_scores(challenge, result, "critic")
    for case, graphs, x in zip(challenge["cases"], found, challenge["_x"]):
        train = graphs["train"]
        norms = sorted(op for g in train for op in g.op_names if any(b in op for b in BATCH_NORM_OPS))
        assert not norms, f"the critic should not use batch normalisation (found {norms[0]})"
        whole = _run(train[0], x[:case["batches"][0]], "critic").astype(np.float64).reshape(-1)
        single = np.concatenate([_run(train[1], x[i:i + 1], "critic").astype(np.float64).reshape(-1)
                                 for i in range(case["batches"][0])])
        assert float(np.abs(whole - single).max()) <= 1e-4 * (1 + float(np.abs(whole).max())), (
            "each sample's score should not depend on the other samples of the batch (no batch "
            "statistics in the critic: the gradient penalty is per sample)")


OPTIMIZERS_CELL = "optimizers_code"


def optimizers_challenge(rng: np.random.Generator, folder: Path, context: Context) -> dict:
    """The secret gradients' seed; under nbgrader also which variables each optimizer is built on,
    read from the submitted cell (which parameters exist is otherwise the kernel's word)."""
    out = {"seed": _seed(rng)}
    if context.submitted:
        uses = {}
        for opt_name in ("opt_gen", "opt_dsc"):
            try:
                uses[opt_name] = sorted(call_argument_names(context.cells.get(OPTIMIZERS_CELL), opt_name))
            except NotLiteral as exc:
                uses[opt_name] = str(exc)
        out["_uses"] = uses
    return out


OPTIMIZERS = ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam")


def _expected_step(kind: str, groups: list, before: dict, secret: dict) -> dict:
    """How every parameter moves when an optimizer ``kind`` with these groups steps once on the
    secret gradients, computed here with torch's own optimizer."""
    import torch

    tensors = {k: [torch.tensor(np.array(v), dtype=torch.float32, requires_grad=True) for v in vs]
               for k, vs in before.items()}
    for k, ts in tensors.items():
        for t, g in zip(ts, secret[k]):
            t.grad = g.clone()
    cls = getattr(torch.optim, kind)
    defaults = cls([torch.zeros(1, requires_grad=True)]).defaults
    built = []
    for group in groups:
        hyper = {h: v for h, v in group["hyper"].items() if h in defaults and v is not None
                 and h not in ("foreach", "fused", "capturable", "differentiable")}
        if "betas" in hyper:
            hyper["betas"] = tuple(hyper["betas"])
        built.append({"params": [tensors[k][i] for k, i in group["members"]], **hyper})
    opt = cls(built, foreach=False) if "foreach" in defaults else cls(built)
    with torch.no_grad():
        start = {k: [t.detach().clone() for t in ts] for k, ts in tensors.items()}
    opt.step()
    return {k: [(t.detach() - s).numpy() for t, s in zip(ts, start[k])] for k, ts in tensors.items()}


def optimizers_cover_each_network(challenge: dict, result: dict) -> None:
    """opt_gen optimizes exactly the generator's parameters and opt_dsc exactly the critic's (one step on secret gradients, recomputed)."""  # noqa: E501
    import torch

    for opt_name, own, other in (("opt_gen", "gen", "dsc"), ("opt_dsc", "dsc", "gen")):
        uses = challenge.get("_uses", {}).get(opt_name, [own])
        assert isinstance(uses, list), f"the grader reads how {opt_name} is built from your cell, and could not: {uses}"
        assert own in uses and other not in uses, (
            f"{opt_name} should be built on {own}.parameters() only (your cell builds it on {', '.join(uses)})")
    params = expect.entry(result, "params", "the networks' parameters")
    trainable = expect.entry(result, "trainable", "which parameters train")
    before, shapes = {}, {}
    for k in ("gen", "dsc"):
        values = expect.entry(params, k, f"the parameters of {k}")
        assert isinstance(values, list) and values, f"{k} should have parameters"
        before[k] = [expect.array(v, f"a parameter of {k}", kinds="f") for v in values]
        shapes[k] = [v.shape for v in before[k]]
        flags = expect.cases(trainable, k, len(values), f"flags of {k}")
        trainable[k] = [expect.flag(f, "requires_grad") for f in flags]
    g = torch.Generator().manual_seed(challenge["seed"])
    secret = {k: [torch.randn(tuple(s), generator=g) for s in shapes[k]] for k in ("gen", "dsc")}
    for opt_name, own, other in (("opt_gen", "gen", "dsc"), ("opt_dsc", "dsc", "gen")):
        got = expect.entry(result, opt_name)
        kind = expect.entry(got, "kind", f"the type of {opt_name}")
        assert kind in OPTIMIZERS, f"{opt_name} should be a torch.optim optimizer ({', '.join(OPTIMIZERS)}), got {kind}"
        assert expect.integer(expect.entry(got, "state"), "the optimizer's state") == 0, (
            f"{opt_name} has already stepped: create it fresh")
        groups = expect.entry(got, "groups", f"the parameter groups of {opt_name}")
        assert isinstance(groups, list) and groups, f"{opt_name} has no parameter groups"
        members = []
        for group in groups:
            hyper = expect.entry(group, "hyper")
            assert isinstance(hyper, dict), "malformed parameter group"
            for m in expect.entry(group, "members"):
                assert isinstance(m, list) and len(m) == 2 and m[0] in ("gen", "dsc") \
                    and isinstance(m[1], int) and 0 <= m[1] < len(before[m[0]]), (
                    f"{opt_name} holds parameters of neither network")
                members.append((m[0], m[1]))
        wanted = {(own, i) for i, t in enumerate(trainable[own]) if t}
        assert wanted <= set(members), f"{opt_name}.step() should update every trainable parameter of its own network"
        assert not any(k == other for k, _ in members), f"{opt_name}.step() should not touch the other network"
        moved = expect.entry(got, "moved", f"how {opt_name} moved the parameters")
        expected = _expected_step(kind, groups, before, secret)
        for k in ("gen", "dsc"):
            found = expect.cases(moved, k, len(before[k]), f"moves of {k}")
            for i, (f, e) in enumerate(zip(found, expected[k])):
                f = expect.array(f, "a parameter's move", shape=e.shape, kinds="f")
                assert np.allclose(f, e, rtol=1e-4, atol=1e-7), (
                    f"{opt_name}.step() moved parameter {i} of {k} differently from a {kind} step on its gradient")


PENALTY_SHAPE = (2, 4, 4)
PENALTY_HIDDEN = 16
ALPHA_SAMPLES = 2000  # interpolates between 0 and 1 whose values are 1 - alpha: the law of alpha


ACTIVATIONS = ("tanh", "softplus", "sigmoid", "sin")  # the secret critics' (probes/wgan_networks.py)


@functools.cache
def _activations() -> dict:
    """The activations as the kernel's critic applies them (the probe's own table)."""
    return probe_scope(PROBES_DIR / "wgan_networks.py")["_ACTIVATIONS"]


def _mlp(rng) -> dict:
    """A secret critic: 1 to 3 hidden layers, each with a secret activation (no closed form of its
    penalty to derive by hand for one architecture)."""
    d, depth = int(np.prod(PENALTY_SHAPE)), int(rng.integers(1, 4))
    layers, fan_in = [], d
    for _ in range(depth):
        layers.append([rng.standard_normal((PENALTY_HIDDEN, fan_in)) * rng.uniform(0.3, 3.0) / math.sqrt(fan_in),
                       rng.standard_normal(PENALTY_HIDDEN) * 0.5])
        fan_in = PENALTY_HIDDEN
    return {"layers": layers, "acts": [str(a) for a in rng.choice(ACTIVATIONS, size=depth)],
            "v": rng.standard_normal(PENALTY_HIDDEN), "d": np.array(rng.standard_normal())}


def penalty_challenge(rng: np.random.Generator, folder: Path, context: Context) -> dict:
    cases = [{"critic": _mlp(rng), "real": rng.random((b, *PENALTY_SHAPE)), "fake": rng.random((b, *PENALTY_SHAPE))}
             for b in (5, 1, 8)]
    n = ALPHA_SAMPLES
    cases.append({"critic": _mlp(rng), "real": np.zeros((n, *PENALTY_SHAPE)), "fake": np.ones((n, *PENALTY_SHAPE))})
    return {"seed": _seed(rng), "cases": cases}


def _expected_penalty(critic: dict, x: np.ndarray):
    """(GP, dGP/d critic weights) of the MLP critic at interpolates ``x``, by autograd here."""
    import torch

    acts = _activations()
    arrays = [t for layer in critic["layers"] for t in layer] + [critic["v"], critic["d"]]
    w = [torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in arrays]
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    h = xt.flatten(1)
    for k, act in enumerate(critic["acts"]):
        h = acts[act](h @ w[2 * k].T + w[2 * k + 1])
    out = h @ w[-2].unsqueeze(1) + w[-1]
    (g,) = torch.autograd.grad(out.sum(), xt, create_graph=True)
    gp = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    grads = torch.autograd.grad(gp, w, allow_unused=True)
    return float(gp.detach()), [np.zeros(t.shape) if g is None else g.numpy() for t, g in zip(w, grads)]


def _alphas(seen: list, real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The interpolates the critic saw and the alpha of each sample, if one call lies on the
    segments real_i -- fake_i (one alpha per sample in [0, 1])."""
    r, f = real.reshape(len(real), -1), fake.reshape(len(fake), -1)
    span = r - f
    for x in reversed(seen):
        if not isinstance(x, np.ndarray) or x.shape != real.shape or x.dtype.kind != "f" or not np.isfinite(x).all():
            continue
        xf = x.reshape(len(x), -1).astype(np.float64)
        alpha = ((xf - f) * span).sum(1) / np.maximum((span * span).sum(1), 1e-300)
        off = np.abs(xf - (f + alpha[:, None] * span)).max()
        if off <= 1e-5 and alpha.min() >= -1e-6 and alpha.max() <= 1 + 1e-6:
            return x, np.clip(alpha, 0, 1)
    return None


def gradient_penalty_matches_a_known_critic(challenge: dict, result: dict) -> None:
    """The penalty is the mean over samples of (|grad D(x_hat)| - 1)^2 at x_hat = alpha real + (1 - alpha) fake, alpha ~ U(0, 1) per sample, recomputed here for secret critics."""  # noqa: E501
    cases = challenge["cases"]
    for i, (case, got) in enumerate(zip(cases, expect.cases(result, "cases", len(cases), "cases"))):
        batch = len(case["real"])
        assert expect.entry(got, "kind") == "tensor", f"the penalty should be a tensor, got {got['kind']}"
        value = expect.array(expect.entry(got, "value"), "the penalty", kinds="f")
        assert value.ndim == 0, f"the penalty should be a 0-d tensor (a mean over samples), got shape {tuple(value.shape)}"  # noqa: E501
        seen = expect.entry(got, "seen")
        assert isinstance(seen, list), "the critic's inputs are missing"
        found = _alphas(seen, case["real"], case["fake"])
        assert found is not None, (
            "the critic was never called on interpolates alpha * real + (1 - alpha) * fake with one alpha "
            "in [0, 1] per sample")
        x_hat, alpha = found
        expected, grads = _expected_penalty(case["critic"], x_hat)
        assert abs(float(value) - expected) <= 1e-5 * (1 + abs(expected)), (
            f"for a critic D and a batch of {batch} the penalty should be the mean over samples of "
            f"(|grad D(x_hat_i)| - 1)^2 = {expected:.5g} at the interpolates your function made; got "
            f"{float(value):.5g} (one norm per sample, squared, then the mean)")
        if i < len(cases) - 1:
            assert "grad" in got, ("the penalty should be differentiable w.r.t. the critic (create_graph=True); "
                                   f"back-propagating it failed: {got.get('grad_error', 'no graph')}")
            found_grads = expect.cases(got, "grad", len(grads), "gradients")
            for g, want in zip(found_grads, grads):
                g = expect.array(g, "a gradient", shape=want.shape, kinds="f")
                assert np.allclose(g, want, rtol=1e-4, atol=1e-6), (
                    "the penalty's gradient w.r.t. the critic's weights is wrong (keep the graph: create_graph=True)")
        else:
            assert float(alpha.std()) > 0, "alpha should be drawn independently for every sample"
            p = ks_uniform_pvalue(alpha)
            assert p > P_MIN, f"alpha should be drawn from U(0, 1) independently for every sample (p = {p:.2g})"


def classifier_challenge(rng, folder: Path, context: Context) -> dict:
    return _scores_challenge(rng, [{"size": 32, "modes": ["train", "eval"], "batches": [4]},
                                   {"size": 16, "modes": ["eval"], "batches": [1, 3]}])


def classifier_outputs_one_logit_per_sample(challenge: dict, result: dict) -> None:
    """The classifier maps (N, 2, size, size) to (N, 1) unbounded logits (its graph re-run by the grader)."""
    _check_scores(challenge, result, "classifier")


CHECKS = [
    Check("generator_maps_latents_to_unit_interval_images", "wgan_networks.generator",
          generator_challenge, generator_maps_latents_to_unit_interval_images, seconds=120,
          verifies="the generator's torch.export graph and weights re-run here on secret latents, also with weights x"
                   " 10: shapes, dtype, range"),
    Check("critic_scores_fit_the_wasserstein_loss", "wgan_networks.critic", critic_challenge,
          critic_scores_fit_the_wasserstein_loss, seconds=60,
          verifies="the critic's graph re-run here: no batch-norm op, each sample's score independent of the batch, "
                   "unbounded with weights x 10"),
    Check("optimizers_cover_each_network", "wgan_networks.optimizers", optimizers_challenge,
          optimizers_cover_each_network, seconds=30,
          trusts="which parameters gen and dsc have (the step on them is recomputed here)",
          verifies="the network each optimizer is built on, read from the submitted cell; one step on secret "
                   "gradients recomputed here with torch's optimizer of the same kind and settings"),
    Check("gradient_penalty_matches_a_known_critic", "wgan_networks.penalty", penalty_challenge,
          gradient_penalty_matches_a_known_critic, seconds=60,
          verifies="the penalty and its gradient w.r.t. a secret MLP critic (secret depth, activations, weights) "
                   "recomputed here at the interpolates the function made; alpha ~ U(0, 1) per sample"),
    Check("classifier_outputs_one_logit_per_sample", "wgan_networks.classifier", classifier_challenge,
          classifier_outputs_one_logit_per_sample, seconds=60,
          verifies="the classifier's graph re-run here in both modes: (N, 1) float32, depending on its weights, "
                   "unbounded with weights x 10"),
]
