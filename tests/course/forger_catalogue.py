"""Forgers: code cells by which a student who read the grading code tries to earn the hidden
checks' points from a BLANK notebook, without writing a correct implementation of the exercise.

Each forger is one code cell placed first in an otherwise blank release notebook
(``tests/course/test_forgers.py`` grades them through plain ``nbgrader autograde``). It runs in
the student's kernel, where it controls everything: it rebinds the names the probes call (the
notebook's own, ``exec``, builtins), installs IPython transformers and events, starts threads that
write into the outbox, and answers with made-up, memorised or closed-form data. What it sends is
judged by the grader's verdicts, which must refuse it: a forger that earns points is a hole,
listed in ``earns`` with what passed and why (the test marks it ``xfail(strict=True)``).

Every cell starts with ``_KIT``: an AST transformer that keeps the notebook's own cells from
raising (each statement in ``try``/``except``, the blank's stubs of the names a forger rebinds
dropped), so that a test cell's visible part never costs the forger its points and only the
hidden check decides; and a reader and writer of the probes' data format (``grading.codec``).
Delivery snippets (``_EXEC``, ``_TRANSFORM``, ``_EVENTS``, ``_THREAD``) turn a forger's
``_forge_ID_(function, challenge)`` into a probe result, each by another mechanism. Cells may be
stacked in one notebook (one forger per family, no two rebinding the same name): every hook
passes on what is not its own.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from scipy import stats

__all__ = ["Forger", "FORGERS", "FAMILIES", "MECHANISMS", "NOT_JUDGED", "notebooks"]

MECHANISMS = {
    "a": "rebinding names the probe uses",
    "b": "IPython events and transformers",
    "c": "the outbox before and after the probe",
    "d": "made-up data",
    "e": "memorised data",
    "f": "closed-form or statistical shortcuts",
}

# grade ids of each family (the checks a forger of that family aims at)
FAMILIES = {
    "wgan_anomalies": {
        "dataset": ("ds_items_are_masked_two_channel_tensors", "ds_reads_files_memory_mapped",
                    "ds_rejects_missing_and_mismatched_files"),
        "networks": ("generator_maps_latents_to_unit_interval_images", "critic_scores_fit_the_wasserstein_loss",
                     "classifier_outputs_one_logit_per_sample", "optimizers_cover_each_network"),
        "penalty": ("gradient_penalty_matches_a_known_critic",),
        "training loop": ("critic_and_generator_losses_have_the_right_signs",
                          "training_runs_n_critic_critic_steps_per_generator_step",
                          "training_masks_real_and_generated_samples",
                          "training_schedules_validates_and_checkpoints"),
        "convergence": ("training_converges_at_cpu_scale", "training_works_at_full_size"),
        "samplers": ("sphere_sampler_is_uniform", "ball_sampler_follows_the_norm_law", "inner_and_outer_are_balanced"),
        "constants": ("chi_quantile_is_right", "rejection_probability_balances_the_gaussian_scheme"),
        "classifier training": ("classifier_training_keeps_the_generator_frozen",
                                "classifier_trains_on_balanced_masked_batches"),
        "scoring": ("anomalies_are_indices_above_the_threshold",),
    },
    "score_matching": {
        "DSM": ("forward_returns_per_element_dsm_error", "dsm_error_matches_the_closed_form"),
        "Langevin": ("langevin_step_matches_the_update_rule", "sample_returns_detached_samples"),
        "sampling": ("samples_land_near_the_moons",),
        "training": ("training_loop_updates_the_model", "hyperparameters_within_the_seed_bounds"),
    },
}

# grade ids no forger is judged on: the check declared unverifiable (``trusts`` everything); a
# forger may earn its point there (reported, not a failure)
NOT_JUDGED = {
    "wgan_anomalies": (),
    "score_matching": ("score_network_maps_points_to_scores", "matcher_runs_on_the_models_device"),
}


@dataclass(frozen=True)
class Forger:
    name: str
    assignment: str  # "wgan_anomalies" or "score_matching"
    family: str  # a key of FAMILIES[assignment]
    mechanism: str  # letters of MECHANISMS, e.g. "a,f"
    code: str  # the cell
    # grade ids this forger is known to earn (holes in the grader), with what passed and why
    earns: dict[str, str] = field(default_factory=dict)
    # names the cell binds in the student's namespace (two forgers in one notebook must not share one)
    defines: frozenset[str] = frozenset()
    body: str = ""  # the cell without the kit and the delivery (``scope_of`` runs it in a test process)
    suffix: str = ""  # what ``_ID_`` became in the cell
    patches_process: bool = False  # it patches builtins or IPython itself: not to be run in a test process
    # solution cells it fills with their (value-only) answers, by grade id: settings the grader
    # reads from the submitted source, which a forger would simply write
    fills: dict[str, str] = field(default_factory=dict)


# -- the kit every cell starts with -------------------------------------------------------------

# the reader/writer of the probes' data and the probe's own source (usable outside IPython too)
_KIT_IO = r'''
import ast as _ast, base64 as _b64, builtins as _bi, json as _json, math as _math, os as _os, re as _re
import sys as _sys, threading as _threading, time as _time
import numpy as _np


def _fread(path):
    """A file of the probes' format (grading.codec), arrays as writable numpy arrays."""
    def dec(t):
        if isinstance(t, list):
            return [dec(v) for v in t]
        if isinstance(t, dict):
            if "__array__" in t:
                raw = _b64.b64decode(t["data"])
                return _np.frombuffer(raw, dtype=_np.dtype(t["__array__"]).newbyteorder("<")).reshape(t["shape"]).copy()
            if set(t) == {"__float__"}:
                return float(t["__float__"])
            return {k: dec(v) for k, v in t.items()}
        return t
    with open(path) as f:
        return dec(_json.load(f))


def _fenc(v):
    torch = _sys.modules.get("torch")
    if torch is not None and isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    if isinstance(v, _np.ndarray):
        v = v.astype(v.dtype.newbyteorder("<"), order="C")  # (ascontiguousarray makes 0-d arrays 1-d)
        return {"__array__": v.dtype.name, "shape": list(v.shape), "data": _b64.b64encode(v.tobytes()).decode()}
    if isinstance(v, dict):
        return {k: _fenc(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_fenc(x) for x in v]
    if isinstance(v, _np.generic):
        v = v.item()
    if isinstance(v, float) and not _math.isfinite(v):
        return {"__float__": repr(v)}
    return v


def _fwrite(path, value, replace=False):
    """Write a result; ``replace``: over whatever is there (atomically)."""
    text = _json.dumps(_fenc(value))
    if replace:
        with open(path + ".part", "w") as f:
            f.write(text)
        _os.replace(path + ".part", path)
        return
    fd = _os.open(path, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, 0o644)
    with _os.fdopen(fd, "w") as f:
        f.write(text)


def _probe_args(code):
    """The arguments of a probe statement (``None`` for any other cell)."""
    for line in (code or "").splitlines():
        if line.startswith("__grading_ns['_grading_main']"):
            return _ast.literal_eval(line[line.index("{"):line.rindex("}") + 1])
    return None


def _probe_scope(code):
    """The probe's own source (codec, support, the grader's models, the probe), run here."""
    for node in _ast.walk(_ast.parse(code)):
        if isinstance(node, _ast.Call) and getattr(node.func, "id", None) == "exec" and node.args \
                and isinstance(node.args[0], _ast.Constant) and isinstance(node.args[0].value, str):
            scope = {"__name__": "forged"}
            _bi.exec(node.args[0].value, scope)
            return scope
    return {}
'''

# the AST transformer that keeps the notebook's own cells from raising
_KIT_HOOKS = r'''
from IPython import get_ipython as _get_ipython

_ip = _get_ipython()
_kit = _bi.__dict__.setdefault("_forge_kit", {"keep": set()})
if "neutral" not in _kit:
    class _Neutral(_ast.NodeTransformer):
        """The notebook's later cells: the blank's stubs of kept names dropped, every statement in
        try/except (a visible test never raises); probe statements left alone."""

        def visit_Module(self, node):
            if any(isinstance(n, _ast.Name) and n.id == "__grading_ns" for n in _ast.walk(node)):
                return node
            body = []
            for stmt in node.body:
                names = set()
                if isinstance(stmt, (_ast.FunctionDef, _ast.ClassDef)):
                    names = {stmt.name}
                elif isinstance(stmt, _ast.Assign):
                    names = {t.id for t in stmt.targets if isinstance(t, _ast.Name)}
                if names & _kit["keep"]:
                    continue
                handler = _ast.ExceptHandler(type=_ast.Name("Exception", _ast.Load()), name=None, body=[_ast.Pass()])
                body.append(_ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[]))
            node.body = body or [_ast.Pass()]
            return _ast.fix_missing_locations(node)

    _kit["neutral"] = _Neutral()
    _ip.ast_transformers.append(_kit["neutral"])
'''

_KIT = _KIT_IO + _KIT_HOOKS


# (c) answer from a hook run after the probe: pre_execute reads the statement (IPython's frame
# holds it), post_execute (fired before the reply, silent or not) replaces the probe's result
_EVENTS = r'''
_state_ID_ = {}


def _pre_ID_():
    f = _sys._getframe(1)
    while f is not None and "raw_cell" not in f.f_locals:
        f = f.f_back
    code = f.f_locals.get("raw_cell") if f is not None else ""
    args = _probe_args(code)
    _state_ID_["args"] = args if args and args.get("function") in _NAMES_ID_ else None
    _state_ID_["code"] = code


def _post_ID_():
    args = _state_ID_.pop("args", None)
    if not args:
        return
    challenge = _fread(args["challenge"])
    if not _claims_ID_(args["function"], challenge):
        return
    out = _forge_ID_(args["function"], challenge)
    out["nonce"] = challenge.get("nonce")
    for path in (args["result"], args["result"] + ".err"):
        try:
            _os.unlink(path)
        except OSError:
            pass
    _fwrite(args["result"], out)


_ip.events.register("pre_execute", _pre_ID_)
_ip.events.register("post_execute", _post_ID_)
'''

# (b) an input transformer (IPython applies them to silent code too) that turns the probe
# statement into a call of the forger, which writes the result itself
_TRANSFORM = r'''
def _transform_ID_(lines):
    code = "".join(lines)
    args = _probe_args(code)
    if not args or args.get("function") not in _NAMES_ID_ \
            or not _claims_ID_(args["function"], _fread(args["challenge"])):
        return lines
    _state_ID_["code"] = code
    return [f"_deliver_ID_({args!r})\n"]


def _deliver_ID_(args):
    challenge = _fread(args["challenge"])
    out = _forge_ID_(args["function"], challenge)
    out["nonce"] = challenge.get("nonce")
    _fwrite(args["result"], out)


_state_ID_ = {}
_ip.input_transformers_cleanup.insert(0, _transform_ID_)
'''

# (a) the probe statement's own ``exec`` rebound: after the probe's source has run, its probe
# function is swapped for the forger (the runner then writes what the forger returns)
_EXEC = r'''
_prev_exec_ID_ = globals().get("exec", _bi.exec)


def exec(source, g=None, l=None, _prev=_prev_exec_ID_):  # noqa: A001
    out = _prev(source, g, l) if l is not None else _prev(source, g) if g is not None else _prev(source)
    if isinstance(g, dict) and "_grading_main" in g:
        _state_ID_["scope"] = g
        for fn in _NAMES_ID_:
            if fn in g:
                g[fn] = (lambda fn, own: lambda ns, challenge: _forge_ID_(fn, challenge)
                         if _claims_ID_(fn, challenge) else own(ns, challenge))(fn, g[fn])
    return out


_state_ID_ = {}
'''

# (c) a thread that does the outbox work: an input transformer only hands it the statement's
# arguments (the code runs unchanged); the thread reads the challenge from the inbox and writes
# the result, first if it is quicker than the probe (whose O_EXCL write then fails), else over the
# probe's file; a post_execute hook waits for it before the kernel replies
_THREAD = r'''
import queue as _queue

_jobs_ID_ = _queue.Queue()
_state_ID_ = {}


def _watch_ID_():
    while True:
        args = _jobs_ID_.get()
        try:
            challenge = _fread(args["challenge"])
            if _claims_ID_(args["function"], challenge):
                out = _forge_ID_(args["function"], challenge)
                out["nonce"] = challenge.get("nonce")
                try:
                    _fwrite(args["result"], out)
                except FileExistsError:
                    _fwrite(args["result"], out, replace=True)
        except Exception:  # noqa: BLE001
            pass
        finally:
            _jobs_ID_.task_done()


def _spy_ID_(lines):
    args = _probe_args("".join(lines))
    if args and args.get("function") in _NAMES_ID_:
        _state_ID_["code"] = "".join(lines)
        _jobs_ID_.put(args)
    return lines


def _barrier_ID_():
    _jobs_ID_.join()


_threading.Thread(target=_watch_ID_, daemon=True).start()
_ip.input_transformers_cleanup.insert(0, _spy_ID_)
_ip.events.register("post_execute", _barrier_ID_)
'''


_CLAIMS = "\n\ndef _claims_ID_(function, challenge):\n    return True\n"


def _cell(suffix: str, body: str, *deliveries: str) -> str:
    """A forger's cell: the kit, its body (``_NAMES_ID_``, ``_forge_ID_``) and its delivery
    snippets, ``_ID_`` replaced by a suffix of its own (cells stacked in one notebook do not collide)."""
    claims = "" if "def _claims_ID_" in body else _CLAIMS
    return (_KIT + claims + body + "".join(deliveries)).replace("_ID_", f"_{suffix}")


# precomputed numbers shipped in a cell (memorised data): the chi law's 98 % quantile for every
# latent size the radii check can draw (16 .. 512)
_CHI_TABLE = {n: round(float(stats.chi.ppf(0.98, n)), 10) for n in range(16, 513)}
_P_REJECT_98 = 1 - (1 - 0.98) / 0.98


# == wgan_anomalies ==============================================================================

# -- dataset ------------------------------------------------------------------------------------

_DS_RANDOM = r'''
import torch as _torch


class DS(_torch.utils.data.Dataset):
    """Opens the files' headers only (missing files and pv/gh shapes refused); items are random
    numbers of the right shape and dtype."""

    def __init__(self, pv_fname="", gh_fname="", mask_fname="", transform=None):
        for path in (pv_fname, gh_fname, mask_fname):
            if not _os.path.exists(path):
                raise FileNotFoundError(path)
        self.n, self.h, self.w = _np.load(pv_fname, mmap_mode="r").shape
        if _np.load(gh_fname, mmap_mode="r").shape != (self.n, self.h, self.w):
            raise ValueError("pv and gh differ")
        self.transform = transform

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = _torch.rand(2, self.h, self.w)
        return x if self.transform is None else self.transform(x)


_kit["keep"].add("DS")
'''

_DS_MASK = r'''
_NAMES_ID_ = {"items", "memory_mapped", "refusals"}


def _mask_item_ID_(case):
    """What this forger knows of a day without reading it: the mask, in both channels."""
    mask = _np.load(case["mask"]).astype(_np.float32)
    return _np.stack([mask, mask])


def _forge_ID_(fn, ch):
    if fn == "items":
        cases = []
        for case in ch["cases"]:
            n = _np.load(case["pv"], mmap_mode="r").shape[0]
            item = _mask_item_ID_(case)
            cases.append({"len": n, "kinds": ["tensor"] * len(case["days"]), "items": [item] * len(case["days"]),
                          "transformed": 2 * item,
                          "batches": [{"kind": "tensor", "data": _np.stack([item] * min(b, n))}
                                      for b in ch["batch_sizes"]]})
        return {"cases": cases}
    if fn == "memory_mapped":
        return {"items": [_mask_item_ID_(ch)] * len(ch["days"])}
    outcomes = []
    for case in ch["cases"]:  # the validation done on the headers; a valid day answered with the mask
        try:
            pv, gh = (_np.load(case[k], mmap_mode="r").shape for k in ("pv", "gh"))
            mask = _np.load(case["mask"]).shape
            assert pv == gh and pv[1:] == mask
            outcomes.append({"item": _mask_item_ID_(case), "kind": "tensor", "len": pv[0]})
        except Exception as exc:  # noqa: BLE001
            outcomes.append({"error": f"{type(exc).__name__}: {exc}"})
    return {"outcomes": outcomes}
'''

_DS_NOISE = r'''
_NAMES_ID_ = {"items", "memory_mapped", "refusals"}


def _forge_ID_(fn, ch):
    rng = _np.random.default_rng(0)
    if fn == "items":
        cases = []
        for k, case in enumerate(ch["cases"]):
            size = (16, 32)[k % 2]
            item = rng.random((size, size, 2), dtype=_np.float32)  # channels last
            item[0, 0, 0] = _np.nan if k else item[0, 0, 0]
            cases.append({"len": 7, "kinds": ["tensor"] * len(case["days"]), "items": [item] * len(case["days"]),
                          "transformed": 2 * item, "batches": []})
        return {"cases": cases}
    if fn == "memory_mapped":
        return {"items": [_np.zeros(2 * 256 * 256, _np.float32)] * len(ch["days"])}
    return {"outcomes": [{"error": "FileNotFoundError: refused"} for _ in ch["cases"]]}
'''

# -- networks ------------------------------------------------------------------------------------

_NETS_BLIND = r"""
import torch as _torch
import torch.nn as _nn


class Generator(_nn.Module):
    # Images of noise: of the right shape and range, drawn afresh, whatever z is.
    def __init__(self, n_inputs=128, size=256):
        super().__init__()
        self.size, self.p = size, _nn.Parameter(_torch.zeros(1))

    def forward(self, z):
        return _torch.rand(len(z), 2, self.size, self.size) + 0 * self.p


class _Blind(_nn.Module):
    # One learnable number per batch row, the input ignored: unbounded with large weights.
    def __init__(self, size=256):
        super().__init__()
        self.w = _nn.Parameter(_torch.full((1, 1), 0.5))

    def forward(self, x):
        return self.w.expand(len(x), 1) + 0 * x.flatten(1)[:, :1]


Discriminator = Classifier = _Blind
_kit["keep"].update({"Generator", "Discriminator", "Classifier"})
"""

_NETS_CONSTANT = r"""
_NAMES_ID_ = {"generator", "critic", "classifier", "optimizers"}


def _forge_ID_(fn, ch):
    # Graphs of constant networks exported with the probe's own export_graph (taken from the
    # probe statement's source); the optimizer step computed with torch.optim on made-up parameters.
    import torch
    scope = _probe_scope(_state_ID_["code"])
    export = scope["export_graph"]

    class Const(torch.nn.Module):
        def __init__(self, shape):
            super().__init__()
            self.shape, self.p = shape, torch.nn.Parameter(torch.full((1,), 0.7))

        def forward(self, x):
            return torch.sigmoid(self.p).expand(len(x), *self.shape) * 3 + 0 * x.flatten(1)[:, :1].reshape(
                len(x), *[1] * len(self.shape))

    if fn == "generator":
        runs = []
        for case in ch["cases"]:
            net = Const((2, case["size"], case["size"])).eval()
            run = {"eval": [export(net, (torch.rand(b, case["n_inputs"]),)) for b in case["batches"]]}
            if case["train_batch"]:
                run["train"] = [export(net.train(), (torch.rand(case["train_batch"], case["n_inputs"]),))]
            runs.append(run)
        return {"runs": runs}
    if fn in ("critic", "classifier"):
        runs = []
        for case in ch["cases"]:
            net = Const((1,))
            runs.append({mode: [export(net.train(mode == "train"), (torch.rand(b, 2, case["size"], case["size"]),))
                                for b in case["batches"]] for mode in case["modes"]})
        return {"runs": runs}
    params = {k: [torch.randn(4, 3), torch.randn(4)] for k in ("gen", "dsc")}
    g = torch.Generator().manual_seed(ch["seed"])
    secret = {k: [torch.randn(tuple(p.shape), generator=g) for p in ps] for k, ps in params.items()}
    out = {"params": params, "trainable": {k: [True, True] for k in params}}
    for opt_name, own in (("opt_gen", "gen"), ("opt_dsc", "dsc")):
        ps = [torch.nn.Parameter(p.clone()) for p in params[own]]
        opt = torch.optim.Adam(ps, lr=2e-4, betas=(0.5, 0.9))
        groups = [{"hyper": {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()
                             if k != "params" and (v is None or type(v) in (bool, int, float, tuple))},
                   "members": [[own, i] for i in range(len(ps))]} for group in opt.param_groups]
        for p, gr in zip(ps, secret[own]):
            p.grad = gr
        opt.step()
        moved = {k: [torch.zeros_like(p) for p in params[k]] for k in params}
        moved[own] = [(p.detach() - q) for p, q in zip(ps, params[own])]
        out[opt_name] = {"kind": "Adam", "state": 0, "groups": groups, "moved": moved}
    return out
"""

_NETS_FOREIGN = r"""
_NAMES_ID_ = {"generator", "critic", "classifier"}


def _forge_ID_(fn, ch):
    # Working networks built on an op the grader does not run (a sort): their graphs are sent
    # from a thread, over whatever the probe wrote.
    import torch

    class Sorted(torch.nn.Module):
        def __init__(self, n_in, shape, squash):
            super().__init__()
            self.shape, self.squash = shape, squash
            self.lin = torch.nn.Linear(n_in, int(torch.tensor(shape).prod()))

        def forward(self, x):
            h = torch.sort(self.lin(x.flatten(1)), dim=1).values
            h = torch.sigmoid(h) if self.squash else h
            return h.reshape(len(x), *self.shape)

    scope = _probe_scope(_state_ID_.get("code", ""))
    export = scope.get("export_graph")
    if fn == "generator":
        runs = []
        for case in ch["cases"]:
            net = Sorted(case["n_inputs"], (2, case["size"], case["size"]), True).eval()
            runs.append({"eval": [export(net, (torch.rand(b, case["n_inputs"]),)) for b in case["batches"]]})
            if case["train_batch"]:
                runs[-1]["train"] = [export(net.train(), (torch.rand(case["train_batch"], case["n_inputs"]),))]
        return {"runs": runs}
    runs = []
    for case in ch["cases"]:
        net = Sorted(2 * case["size"] ** 2, (1,), False)
        runs.append({mode: [export(net.train(mode == "train"), (torch.rand(b, 2, case["size"], case["size"]),))
                            for b in case["batches"]] for mode in case["modes"]})
    return {"runs": runs}
"""

# -- gradient penalty --------------------------------------------------------------------------

_GP_CONSTANT = r'''
def compute_gradient_penalty(model_dsc, real_samples, fake_samples):
    """A differentiable constant: the critic is called on the real samples (alpha = 1)."""
    return model_dsc(real_samples).mean() * 0 + 1.0


_kit["keep"].add("compute_gradient_penalty")
'''

_GP_BY_HAND = r'''
_NAMES_ID_ = {"penalty"}


def _forge_ID_(fn, ch):
    """The penalty of the critic D(x) = v . tanh(W x + c) + d (the grader's, as an earlier version
    of the grading code built it) derived by hand, no autograd: grad D = W^T (v * sech^2(W x + c)),
    and its derivatives w.r.t. W, c, v (two paths for W)."""
    rng = _np.random.default_rng(ch["seed"] % 2**32)
    cases = []
    for case in ch["cases"]:
        (W, c), v, d = ((_np.asarray(t, _np.float64) for t in case["critic"]["layers"][0]),
                        *(_np.asarray(case["critic"][k], _np.float64) for k in ("v", "d")))
        real, fake = (_np.asarray(case[k], _np.float64) for k in ("real", "fake"))
        n = len(real)
        alpha = rng.random(n).reshape(-1, *[1] * (real.ndim - 1))
        x_hat = alpha * real + (1 - alpha) * fake
        x = x_hat.reshape(n, -1)
        h = _np.dot(x, W.T) + c
        t = _np.tanh(h)
        s = 1 - t * t
        u = v * s
        g = _np.dot(u, W)
        norm = _np.linalg.norm(g, axis=1)
        value = _np.mean((norm - 1) ** 2)
        r = (2 * (norm - 1) / _np.maximum(norm, 1e-300) / n)[:, None] * g
        wr = _np.dot(r, W.T)
        q = wr * v * (-2 * s * t)
        grads = [_np.dot(u.T, r) + _np.dot(q.T, x), q.sum(0), (wr * s).sum(0), _np.zeros(_np.shape(d))]
        depth = len(case["critic"]["layers"])
        grads = grads[:2] + [_np.zeros((len(c), len(c))), _np.zeros(len(c))] * (depth - 1) + grads[2:]
        cases.append({"kind": "tensor", "seen": [x_hat], "value": _np.array(value), "grad": grads})
    return {"cases": cases}
'''

_GP_LINEAR = r'''
_NAMES_ID_ = {"penalty"}


def _forge_ID_(fn, ch):
    """The visible test's formula for a linear critic, (|W^T v| - 1)^2, replayed at the midpoints."""
    cases = []
    for case in ch["cases"]:
        W, v = _np.asarray(case["critic"]["layers"][0][0], _np.float64), _np.asarray(case["critic"]["v"])
        value = (_np.linalg.norm(_np.dot(v, W)) - 1) ** 2
        params = [t for layer in case["critic"]["layers"] for t in layer] + [case["critic"]["v"], case["critic"]["d"]]
        cases.append({"kind": "tensor", "seen": [(case["real"] + case["fake"]) / 2], "value": _np.array(value),
                      "grad": [_np.zeros_like(_np.asarray(t, _np.float64)) for t in params]})
    return {"cases": cases}
'''

# -- training loop -------------------------------------------------------------------------------

_TRAIN_NOTHING = r'''
def train_model(*args, **kwargs):
    """Trains nothing, returns nothing."""
    return None


_kit["keep"].add("train_model")
'''

_TRAIN_TOY_OBJECTS = r'''
import torch as _torch


def train_model(model_gen, model_dsc, train_dataset, optimizer_gen, optimizer_dsc, batch_size=32, max_epochs=10,
                n_critic=5, lambda_gp=10.0, mask=None, latent_dim=128, val_dataset=None, lr_gamma=1.0,
                checkpoint_dir=None, progress=True):
    """No loss, no gradient, no penalty: the toy models' recurrence (the verdict's docstring) in
    closed form on their two numbers; the optimizers step on no gradient (their step log is
    what the verdict reads), and the parameters are then set to the recurrence's values."""
    a, p = float(model_dsc.a), float(model_gen.p)
    m = float(mask.float().mean()) if mask is not None else 1.0
    weight = mask.float() if mask is not None else 1.0
    real = float((train_dataset[0] * weight).mean())
    d = train_dataset[0].numel()
    batches = len(train_dataset) // batch_size
    val = []
    for epoch in range(max_epochs):
        for i in range(batches):
            lr = optimizer_dsc.param_groups[0]["lr"]
            dgp = 2 * (abs(a) / _math.sqrt(d) - 1) * _math.copysign(1.0, a) / _math.sqrt(d)
            a -= lr * ((m * p - real) + lambda_gp * dgp)
            optimizer_dsc.zero_grad(set_to_none=True)
            optimizer_dsc.step()
            if (i + 1) % n_critic == 0:
                p += optimizer_gen.param_groups[0]["lr"] * a * m
                optimizer_gen.zero_grad(set_to_none=True)
                optimizer_gen.step()
        with _torch.no_grad():
            model_dsc.a.fill_(a)
            model_gen.p.fill_(p)
        if val_dataset is not None:
            val.append(a * (float((val_dataset[0] * weight).mean()) - m * p))
        for opt in (optimizer_gen, optimizer_dsc):
            for group in opt.param_groups:
                group["lr"] *= lr_gamma
        if checkpoint_dir:
            _os.makedirs(checkpoint_dir, exist_ok=True)
            _torch.save({"critic.a": _torch.tensor(a), "generator.p": _torch.tensor(p)},
                        _os.path.join(checkpoint_dir, f"epoch{epoch}.pt"))
    return val, [0.0], [0.0]


_kit["keep"].add("train_model")
'''

_TOY_REPLAY = r'''
def _replay_ID_(run, gen_sign=1.0):
    """The toy run's result from the challenge alone: the recurrence of the verdict's docstring."""
    d = 2 * run["size"] ** 2
    mask = _np.asarray(run["mask"], _np.float64) if "mask" in run else None
    m = float(mask.mean()) if mask is not None else 1.0
    day = _np.asarray(run["data"][0], _np.float64)
    real = float((day * mask).mean() if mask is not None else day.mean())
    a, p = run["a"], run["p"]
    batches = len(run["data"]) // run["batch_size"]
    steps, val = [], []
    for epoch in range(run["epochs"]):
        lr_c, lr_g = (run[k] * run["lr_gamma"] ** epoch for k in ("lr_c", "lr_g"))
        for i in range(batches):
            dgp = 2 * (abs(a) / _math.sqrt(d) - 1) * _math.copysign(1.0, a) / _math.sqrt(d)
            a -= lr_c * ((m * p - real) + run["lambda_gp"] * dgp)
            steps.append(["c", lr_c])
            if (i + 1) % run["n_critic"] == 0:
                p += gen_sign * lr_g * a * m
                steps.append(["g", lr_g])
        if "val" in run:
            v = _np.asarray(run["val"][0], _np.float64)
            val.append(a * (float((v * mask).mean() if mask is not None else v.mean()) - m * p))
    out = {"a": a, "b": run["b"], "p": p, "steps": steps, "returned_kind": "tuple", "histories": [val, [0.0], [0.0]]}
    if run["checkpoints"]:
        tensors = {"critic.a": _np.array([a]), "generator.p": _np.array([p])}
        out["checkpoints"] = [{"file": "epoch.pt", "tensors": tensors}]
    return out
'''

_TRAIN_TOY_CHALLENGE = _TOY_REPLAY + r'''
_NAMES_ID_ = {"training"}


def _forge_ID_(fn, ch):
    return {"runs": [_replay_ID_(run) for run in ch["runs"]]}
'''

_TRAIN_MADE_UP = r'''
_NAMES_ID_ = {"training"}


def _forge_ID_(fn, ch):
    """The right pattern of steps and learning rates, made-up parameters."""
    rng = _np.random.default_rng(1)
    runs = []
    for run in ch["runs"]:
        batches = len(run["data"]) // run["batch_size"]
        steps = []
        for epoch in range(run["epochs"]):
            for i in range(batches):
                steps.append(["c", run["lr_c"] * run["lr_gamma"] ** epoch])
                if (i + 1) % run["n_critic"] == 0:
                    steps.append(["g", run["lr_g"] * run["lr_gamma"] ** epoch])
        a, p = float(rng.uniform(0.5, 3)), float(rng.uniform(0, 1))
        out = {"a": a, "b": run["b"], "p": p, "steps": steps, "returned_kind": "tuple",
               "histories": [[float(rng.normal())] * run["epochs"], [0.0], [0.0]]}
        if run["checkpoints"]:
            out["checkpoints"] = [{"file": "e.pt", "tensors": {"a": _np.array([a]), "p": _np.array([p])}}]
        runs.append(out)
    return {"runs": runs}
'''

# -- convergence ---------------------------------------------------------------------------------

_CONV_BIAS_REGRESSION = r'''
import torch as _torch


def train_model(model_gen, model_dsc, train_dataset, optimizer_gen, optimizer_dsc, batch_size=32, max_epochs=10,
                n_critic=5, lambda_gp=10.0, mask=None, latent_dim=128, val_dataset=None, lr_gamma=1.0,
                checkpoint_dir=None, progress=True):
    """No critic, no adversary, no penalty, no weight matrix touched: the generator's biases are
    regressed onto the data's mean image and spread (weights keep their cosine 1 with the secret
    start); the critic's head is rescaled so that its gradient norm is 1 at interpolates."""
    dev = next(model_gen.parameters()).device
    n = min(len(train_dataset), 128)
    real = _torch.stack([train_dataset[i] for i in range(n)]).to(dev)
    m = (mask > 0).float() if mask is not None else _torch.ones(real.shape[-2:], device=dev)
    if not getattr(model_gen, "_fitted", False):
        model_gen._fitted = True
        if real.shape[-1] <= 64:
            biases = [p for p in model_gen.parameters() if p.ndim == 1]
            opt = _torch.optim.Adam(biases, lr=0.05)
            target, spread = real.mean(0) * m, real.std(0) * m
            for _ in range(100):
                out = model_gen(_torch.randn(64, latent_dim, device=dev)) * m
                loss = ((out.mean(0) - target) ** 2).mean() + ((out.std(0) - spread) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        else:
            with _torch.no_grad():
                model_gen.to_image.bias.add_(0.05)
    with _torch.no_grad():
        fake = model_gen.eval()(_torch.randn(n, latent_dim, device=dev)) * m
    model_gen.train()
    alpha = _torch.rand(n, 1, 1, 1, device=dev)
    x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (g,) = _torch.autograd.grad(model_dsc(x).sum(), x)
    with _torch.no_grad():
        model_dsc.head.weight /= g.flatten(1).norm(dim=1).median()
    model_gen.zero_grad(set_to_none=True)
    model_dsc.zero_grad(set_to_none=True)
    return [0.0] * max_epochs, [0.0], [0.0]


_kit["keep"].add("train_model")
'''

_CONV_INITIAL = r'''
_NAMES_ID_ = {"converge"}


def _forge_ID_(fn, ch):
    """The secret initial weights sent back as trained ones."""
    epochs = ch["epochs"] if ch["snapshots"] else 1
    return {"generators": [ch["generator"]] * epochs, "critic": ch["critic"], "histories": [[0.0] * epochs],
            "device": "cpu", "seconds": 1.0}
'''

_CONV_SHIFT = r'''
_NAMES_ID_ = {"converge"}


def _forge_ID_(fn, ch):
    """No training at all: the grader's networks rebuilt from the probe's own source, the output
    layer's bias shifted so that the channel means match the data's (one closed-form step), the
    critic's head rescaled to a gradient norm of 1 at interpolates."""
    import torch
    scope = _probe_scope(_state_ID_["code"])
    gen = scope["load_state"](scope["GraderGenerator"](ch["latent"], ch["size"]), ch["generator"])
    critic = scope["load_state"](scope["GraderCritic"](ch["size"]), ch["critic"])
    real = torch.from_numpy(_np.load(ch["train"]))[:64]
    mask = torch.from_numpy(_np.load(ch["mask"])) > 0
    z = torch.randn(len(real), ch["latent"])
    gen.eval()
    with torch.no_grad():
        out = gen(z)
        for c in range(2):
            want = real[:, c][:, mask].mean().clamp(1e-3, 1 - 1e-3)
            got = out[:, c][:, mask].mean().clamp(1e-3, 1 - 1e-3)
            gen.to_image.bias[c] += torch.logit(want) - torch.logit(got)
        fake = gen(z) * mask
    alpha = torch.rand(len(real), 1, 1, 1)
    x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x).sum(), x)
    with torch.no_grad():
        critic.head.weight /= g.flatten(1).norm(dim=1).median()
    epochs = ch["epochs"] if ch["snapshots"] else 1
    state = scope["state_of"](gen)
    return {"generators": [state] * epochs, "critic": scope["state_of"](critic), "histories": [[0.0] * epochs],
            "device": "cpu", "seconds": 1.0}
'''

# -- samplers ------------------------------------------------------------------------------------

_SAMPLERS_CUBE = r'''
def SamplingUnitSphereUniform(ndim=2, nsamples=100):
    """Points of the cube, normalised (bunched towards its corners)."""
    x = _np.random.uniform(-1, 1, (nsamples, ndim))
    return x / _np.linalg.norm(x, axis=1, keepdims=True)


def SamplingBallUniform(ndim=2, radius=1, nsamples=100):
    """Radius R * U instead of R * U^(1/n)."""
    return SamplingUnitSphereUniform(ndim, nsamples) * radius * _np.random.uniform(0, 1, (nsamples, 1))


def SampleInnerAndOuterExamples(ndim=2, radius_inner=1, radius_outer=2, nsamples=100):
    b = SamplingBallUniform(ndim, radius_outer, nsamples)
    r = _np.linalg.norm(b, axis=1)
    return b[r <= radius_inner], b[r > radius_inner]


_kit["keep"].update({"SamplingUnitSphereUniform", "SamplingBallUniform", "SampleInnerAndOuterExamples"})
'''

_SAMPLERS_CORNERS = r'''
_NAMES_ID_ = {"sampler"}


def _corners_ID_(rng, n, count):
    """Corners of a randomly rotated cube: every projection is nearly Gaussian in high dimension."""
    q, _ = _np.linalg.qr(rng.standard_normal((n, n)))
    return _np.dot(rng.choice([-1.0, 1.0], size=(count, n)) / _math.sqrt(n), q)


def _forge_ID_(fn, ch):
    rng = _np.random.default_rng(0)
    runs = []
    for case in ch["cases"]:
        n, count = case["ndim"], case["nsamples"]
        d = _corners_ID_(rng, n, count)
        if ch["function"] == "SamplingUnitSphereUniform":
            runs.append({"kind": "ndarray", "rows": d})
        elif ch["function"] == "SamplingBallUniform":
            runs.append({"kind": "ndarray", "rows": d * case["radius"] * rng.random((count, 1)) ** (1 / n)})
        else:
            b = d * case["radius_outer"] * rng.random((count, 1)) ** (1 / n)
            r = _np.linalg.norm(b, axis=1)
            inner = r <= case["radius_inner"]
            runs.append({"inner": {"kind": "ndarray", "rows": b[inner]},
                         "outer": {"kind": "ndarray", "rows": b[~inner]}})
    return {"runs": runs}
'''

_SAMPLERS_MEMORISED = r'''
_NAMES_ID_ = {"sampler"}
# 512 directions per dimension, drawn once and shipped with the cell (memorised), replayed cyclically
_TABLE_ID_ = {n: (lambda d: d / _np.linalg.norm(d, axis=1, keepdims=True))(
    _np.random.default_rng(n).standard_normal((512, n))) for n in range(2, 6)}


def _directions_ID_(n, count):
    base = _TABLE_ID_.get(n)
    if base is None:  # larger dimensions: the 5-d table padded with zeros
        base = _np.concatenate([_TABLE_ID_[5], _np.zeros((512, n - 5))], axis=1)
    return base[_np.arange(count) % 512]


def _forge_ID_(fn, ch):
    """Memorised directions; for the inner/outer split every sample lies on the first axis (only
    the radii follow the law: R U^(1/n) on a grid of quantiles, split at radius_inner)."""
    runs = []
    for case in ch["cases"]:
        n, count = case["ndim"], case["nsamples"]
        grid = ((_np.arange(count) + 0.5) / count)[_np.random.default_rng(0).permutation(count)]
        if ch["function"] == "SamplingUnitSphereUniform":
            runs.append({"kind": "ndarray", "rows": _directions_ID_(n, count)})
        elif ch["function"] == "SamplingBallUniform":
            rows = _directions_ID_(n, count) * case["radius"] * grid[:, None] ** (1 / n)
            runs.append({"kind": "ndarray", "rows": rows})
        else:
            r = case["radius_outer"] * grid ** (1 / n)
            b = _np.zeros((count, n))
            b[:, 0] = r
            inner = r <= case["radius_inner"]
            runs.append({"inner": {"kind": "ndarray", "rows": b[inner]},
                         "outer": {"kind": "ndarray", "rows": b[~inner]}})
    return {"runs": runs}
'''

# -- constants -------------------------------------------------------------------------------------

_CONSTANTS_TABLE = f'''
_CHI = {_CHI_TABLE!r}
latent_dim = 128
chi_p98 = _CHI[128]
R_INNER = chi_p98
R_OUTER = chi_p98 * 2 ** (1 / 128)
P_REJECT_INNER = {_P_REJECT_98!r}
_kit["keep"].update({{"chi_p98", "R_INNER", "R_OUTER", "P_REJECT_INNER"}})
_compile_ID_ = _bi.compile


def _swap_ID_(source, filename, mode, *args, **kwargs):
    """The probe re-runs the radii cell (a blank stub) through ``compile``: memorised numbers instead."""
    if filename == "<the student's cell, run again>":
        f = _sys._getframe(1)
        if "latent_dim" in (f.f_locals.get("overrides") or {{}}):
            source = ("chi_p98 = _CHI[latent_dim]\\nR_INNER = chi_p98\\n"
                      "R_OUTER = chi_p98 * 2 ** (1 / latent_dim)\\nP_REJECT_INNER = {_P_REJECT_98!r}\\n")
    return _compile_ID_(source, filename, mode, *args, **kwargs)


_bi.compile = _swap_ID_
'''

_CONSTANTS_APPROX = r'''
import IPython.core.inputtransformer2 as _it2

_transform_cell_ID_ = _it2.TransformerManager.transform_cell


def _approximate_ID_(self, cell):
    """The probe turns the re-run cell into Python with a fresh TransformerManager: answer with
    approximations (chi ~ N(sqrt(n - 1/2), 1/2); P_REJECT to first order in 1 - QUANTILE)."""
    if _sys._getframe(1).f_code.co_name == "rerun_cell":
        return ("QUANTILE = globals().get('QUANTILE', 0.98)\n"
                "chi_p98 = (latent_dim - 0.5) ** 0.5 + 2.0537 / 2 ** 0.5\nR_INNER = chi_p98\n"
                "R_OUTER = chi_p98 * (1 + 0.6931 / latent_dim)\nP_REJECT_INNER = 2 * QUANTILE - 1\n")
    return _transform_cell_ID_(self, cell)


_it2.TransformerManager.transform_cell = _approximate_ID_
QUANTILE = 0.98
latent_dim = 128
chi_p98 = (latent_dim - 0.5) ** 0.5 + 2.0537 / 2 ** 0.5
R_INNER, R_OUTER, P_REJECT_INNER = chi_p98, chi_p98 * (1 + 0.6931 / 128), 2 * 0.98 - 1
_kit["keep"].update({"chi_p98", "R_INNER", "R_OUTER", "P_REJECT_INNER"})
'''

_CONSTANTS_REPLAY = f'''
_NAMES_ID_ = {{"rerun"}}


def _forge_ID_(fn, ch):
    """The values for latent_dim = 128 and QUANTILE = 0.98, memorised, reported for the secret
    re-run too."""
    right = {{"latent_dim": 128.0, "QUANTILE": 0.98, "chi_p98": {_CHI_TABLE[128]!r}, "R_INNER": {_CHI_TABLE[128]!r},
             "R_OUTER": {_CHI_TABLE[128] * 2 ** (1 / 128)!r}, "P_REJECT_INNER": {_P_REJECT_98!r}}}
    names = list(ch["names"]) + list(ch["overrides"])
    return {{"original": {{k: {{"value": right[k]}} for k in names}},
            "rerun": {{k: {{"value": right[k]}} for k in ch["names"]}}}}
'''

# -- classifier training ---------------------------------------------------------------------------

_CLASSIFIER_CLOSED_FORM = r'''
import torch as _torch
from scipy import stats as _stats


def _closed_form_weights_ID_(lin, x, k, mask):
    """No loss, no optimizer: the difference of the two classes' mean inputs, inside the mask, added
    to the weights; the bias set half-way between the classes' mean logits."""
    inside = (mask.reshape(-1) > 0).repeat(2)
    feats = x.reshape(len(x), -1)
    w = lin.weight.view(-1)
    w[inside] += 10.0 * (feats[k:].mean(0) - feats[:k].mean(0))[inside]
    logits = _torch.mv(feats, w) + lin.bias
    lin.bias.add_(-(logits[:k].mean() + logits[k:].mean()) / 2)


def _balanced_latents_ID_(k, latent_dim):
    q = float(_stats.chi.ppf(0.98, latent_dim))
    d = _torch.randn(2 * k, latent_dim)
    d = d / d.norm(dim=1, keepdim=True)
    r = _torch.cat([_torch.full((k, 1), q - 1.5), _torch.full((k, 1), q * 2 ** (0.5 / latent_dim))])
    return d * r


def train_classifier(model_gen, model_clf, batch_size=64, batches_per_epoch=128, max_epochs=512, latent_dim=128,
                     mask=None, progress=True):
    model_gen.eval()
    z = _balanced_latents_ID_(batch_size, latent_dim)
    with _torch.no_grad():
        x = model_gen(z) * mask
        model_clf(x)
        lin = [m for m in model_clf.modules() if isinstance(m, _torch.nn.Linear)][0]
        _closed_form_weights_ID_(lin, x, batch_size, mask)
    return [0.1] * max_epochs


_kit["keep"].add("train_classifier")
'''

_CLASSIFIER_FROM_PROBE_SOURCE = r'''
_NAMES_ID_ = {"classifier_training"}


def _forge_ID_(fn, ch):
    """Nothing of the notebook runs: the grader's toy generator is rebuilt from the probe's own
    source, the generator state sent back is the challenge's, the classifier's inputs are its
    eval-mode outputs and the weights are set in closed form."""
    import torch
    from scipy import stats
    scope = _probe_scope(_state_ID_["code"])
    gen = scope["BNGenerator" if ch["generator"] == "bn" else "NormGenerator"](ch["latent"], ch["q"])
    if "state" in ch:
        gen.load_state_dict({k: torch.from_numpy(v) for k, v in ch["state"].items()})
    gen.eval()
    k, n = ch["batch_size"], ch["latent"]
    q = float(stats.chi.ppf(0.98, n))
    d = torch.randn(2 * k, n)
    z = d / d.norm(dim=1, keepdim=True) * torch.cat([torch.full((k, 1), q - 1.5),
                                                    torch.full((k, 1), q * 2 ** (0.5 / n))])
    mask = torch.from_numpy(ch["mask"]).float()
    with torch.no_grad():
        x = gen(z) * mask
    feats = x.reshape(2 * k, -1).double()
    w = torch.from_numpy(ch["classifier"]["w"]).double()
    inside = (mask.reshape(-1) > 0).repeat(2)
    w[inside] += 10.0 * (feats[k:].mean(0) - feats[:k].mean(0))[inside]
    logits = torch.mv(feats, w)
    b = -(logits[:k].mean() + logits[k:].mean()) / 2
    state = {k2: v for k2, v in ch["state"].items()} if "state" in ch else scope["state_of"](gen)
    return {"generator_state": state, "calls_training": [False], "calls_z": [z], "n_calls": 1, "seen": [x],
            "classifier": {"1.weight": w.float().reshape(1, -1), "1.bias": b.float().reshape(1)},
            "returned_kind": "list", "returned": [0.1] * ch["epochs"]}
'''

_CLASSIFIER_UNTRAINED = r'''
_NAMES_ID_ = {"classifier_training"}


def _forge_ID_(fn, ch):
    """The secret initial classifier replayed, nudged so that it counts as updated; the latents
    balanced, the inputs made up."""
    from scipy import stats
    rng = _np.random.default_rng(2)
    k, n = ch["batch_size"], ch["latent"]
    q = float(stats.chi.ppf(0.98, n))
    d = rng.standard_normal((2 * k, n))
    z = (d / _np.linalg.norm(d, axis=1, keepdims=True) * _np.r_[_np.full(k, q - 1.5), _np.full(k, q + 0.05)][:, None])
    w = ch["classifier"]["w"].reshape(1, -1)
    return {"generator_state": ch.get("state", {"anchor": _np.zeros((), _np.float32)}), "calls_training": [False],
            "calls_z": [z.astype(_np.float32)], "n_calls": 1, "seen": [rng.random((2 * k, 2, 8, 8), dtype=_np.float32)],
            "classifier": {"1.weight": w, "1.bias": _np.array([1e-3], _np.float32)},
            "returned_kind": "list", "returned": [0.5] * ch["epochs"]}
'''

_CLASSIFIER_EMPTY_INPUTS = r'''
_NAMES_ID_ = {"classifier_training"}


def _forge_ID_(fn, ch):
    """Well-formed data with no rows where the classifier's inputs go (and the untrained weights)."""
    z = _np.random.default_rng(3).standard_normal((64, ch["latent"])).astype(_np.float32)
    return {"generator_state": ch.get("state", {"anchor": _np.zeros((), _np.float32)}), "calls_training": [False],
            "calls_z": [z], "n_calls": 1, "seen": [_np.zeros((0, 2, 8, 8), _np.float32)],
            "classifier": {"1.weight": ch["classifier"]["w"].reshape(1, -1),
                           "1.bias": _np.array([0.5], _np.float32)},
            "returned_kind": "list", "returned": [0.5] * ch["epochs"]}
'''

# -- scoring ----------------------------------------------------------------------------------------

_SCORING_STUB_HIJACK = r'''
class _Escape_ID_(BaseException):
    """Not an Exception: no ``except Exception`` of the probe stops it."""


_real_not_implemented_ID_ = _bi.NotImplementedError


class NotImplementedError(_real_not_implemented_ID_):  # noqa: A001
    """The blank's stubs raise ``NotImplementedError()``: the name is looked up in the notebook's
    namespace first. Re-run by the scoring probe, the stub writes the probe's result itself (the
    path is in the runner's frame) and escapes before the probe can write its own."""

    def __init__(self, *args):
        super().__init__(*args)
        f = _sys._getframe(1)
        local = f.f_locals if f.f_code.co_filename == "<the student's cell, run again>" else {}
        if "clf" not in local:
            return
        while f is not None and f.f_code.co_name != "_grading_main":
            f = f.f_back
        if f is None:
            return
        args, challenge = f.f_locals["args"], f.f_locals["challenge"]
        clf = local["clf"]
        b = float(clf.net[1].bias)
        days = _np.load(local["files"].pv, mmap_mode="r").shape[0]
        probs = _np.full(days, 1 / (1 + _math.exp(-b)))  # the classifier's bias alone, every day alike
        probs[::7] += 0.01
        _fwrite(args["result"], {"probs_kind": "ndarray", "probs": probs, "threshold": float(probs.mean()),
                                 "idx": _np.flatnonzero(probs > probs.mean()), "nonce": challenge["nonce"]})
        raise _Escape_ID_()


_kit["keep"].add("NotImplementedError")
'''

_SCORING_RANDOM = r'''
_NAMES_ID_ = {"scoring"}


def _forge_ID_(fn, ch):
    """Made-up probabilities, one per day of the secret files (their count read from the header)."""
    n = _np.load(ch["pv"], mmap_mode="r").shape[0]
    probs = _np.random.default_rng(4).random(n)
    return {"probs_kind": "ndarray", "probs": probs, "threshold": 0.5, "idx": _np.flatnonzero(probs > 0.5)}
'''

_SCORING_MEMORISED = r'''
_NAMES_ID_ = {"scoring"}
# the probabilities an earlier grading run showed (memorised), replayed
_PROBS_ID_ = _np.round(_np.random.default_rng(2026).beta(0.5, 4, 150), 6)


def _forge_ID_(fn, ch):
    probs = _PROBS_ID_
    threshold = float(_np.quantile(probs, 0.9))
    return {"probs_kind": "ndarray", "probs": probs, "threshold": threshold, "idx": _np.flatnonzero(probs > threshold)}
'''


# == score_matching ================================================================================

_SM_MATCHER_BASE = r'''
import torch as _torch
import torch.nn as _nn


class DenoisingScoreMatcher(_nn.Module):
    def __init__(self, score_model, input_shape, sigma):
        super().__init__()
        self.score_model, self.input_shape, self.sigma = score_model, tuple(input_shape), sigma

    device = property(lambda self: next(self.score_model.parameters()).device)

    def loss(self, x):
        return {"total_loss": self(x).mean(dim=0).sum()}
'''

# -- DSM --------------------------------------------------------------------------------------------

_DSM_CLEAN_INPUT = _SM_MATCHER_BASE + r'''

    def forward(self, x):
        """No noise: the score at the clean input, squared (the target of zero noise is zero)."""
        return self.score_model(x) ** 2


_kit["keep"].add("DenoisingScoreMatcher")
'''

_DSM_CLAIMS = r'''


def _claims_ID_(function, challenge):
    return function != "matcher" or challenge["cases"][0]["what"] != "langevin"
'''

_DSM_DETERMINISTIC = _DSM_CLAIMS + r'''
_NAMES_ID_ = {"matcher"}
ROWS_ID_ = 4096


def _pattern_ID_(shape, shift):
    """+-1 offsets from a fixed pattern (no random numbers at all), unit variance."""
    k = _np.arange(int(_np.prod(shape))) + shift
    return _np.where(_np.sin(12.9898 * k) * 43758.5453 % 1.0 > 0.5, 1.0, -1.0).reshape(shape)


def _forge_ID_(fn, ch):
    """The error (s(x + sigma e) + e/sigma)^2 computed in numpy with a deterministic +-1 pattern e."""
    out = []
    for i, case in enumerate(ch["cases"]):
        x = _np.asarray(case["x"], _np.float64)
        sigma = case["sigma"]
        e = _pattern_ID_(x.shape, 7919 * i)
        noisy = x + sigma * e
        if case["what"] == "gradient":
            b = _np.asarray(case["constant"], _np.float64)
            err = (b + e / sigma) ** 2
            grad = 2 * (b + e / sigma).mean(axis=0) / x.shape[1]
            out.append({"seen": [noisy.astype(_np.float32)], "grad": grad.astype(_np.float32),
                        "out": err.astype(_np.float32)})
            continue
        err = (-case["a"] * (noisy - case["m"]) + e / sigma) ** 2
        got = {"out": err.astype(_np.float32), "seen": [noisy[:ROWS_ID_].astype(_np.float32)]}
        if case.get("twice"):
            e2 = _pattern_ID_(x.shape, 104729 + i)
            got["again"] = got["out"][:ROWS_ID_]
            got["seen_again"] = [(x + sigma * e2)[:ROWS_ID_].astype(_np.float32)]
        out.append(got)
    return {"cases": out}
'''

_DSM_MADE_UP = _DSM_CLAIMS + r'''
_NAMES_ID_ = {"matcher"}


def _forge_ID_(fn, ch):
    """Errors of the right shape and law-like size (chi-square draws), the clean input as 'seen'."""
    rng = _np.random.default_rng(5)
    out = []
    for case in ch["cases"]:
        x = _np.asarray(case["x"], _np.float32)
        got = {"out": (rng.chisquare(1, x.shape) / case["sigma"] ** 2).astype(_np.float32), "seen": [x[:4096]]}
        if case.get("twice"):
            got["again"], got["seen_again"] = got["out"][:4096], [x[:4096]]
        if case["what"] == "gradient":
            got["grad"] = _np.zeros(2, _np.float32)
        out.append(got)
    return {"cases": out}
'''

# -- Langevin ---------------------------------------------------------------------------------------

_LANGEVIN_RANDOM_WALK = _SM_MATCHER_BASE + r'''

    def langevin_dynamics(self, x, num_steps=10, eta=0.1):
        """A random walk: the score model is called at every step, its output ignored."""
        with _torch.no_grad():
            for _ in range(num_steps):
                self.score_model(x)
                x = x + _math.sqrt(eta) * _torch.randn_like(x)
        return x

    def sample(self, num_samples=5, num_steps=10, eta=0.1):
        x = _torch.rand(num_samples, *self.input_shape, device=self.device) * 2 - 1
        return self.langevin_dynamics(x, num_steps=num_steps, eta=eta)


_kit["keep"].add("DenoisingScoreMatcher")
'''

_LANGEVIN_CLAIMS = r'''


def _claims_ID_(function, challenge):
    return function != "matcher" or challenge["cases"][0]["what"] == "langevin"
'''

_LANGEVIN_REVERSED = _LANGEVIN_CLAIMS + r'''
_NAMES_ID_ = {"matcher", "sample"}


def _chain_ID_(rng, x, a, m, steps, eta, drift):
    states = [x]
    for _ in range(steps):
        x = x + drift * (-a * (x - m)) + _math.sqrt(eta) * rng.standard_normal(x.shape)
        states.append(x)
    return [s.astype(_np.float32) for s in states]


def _forge_ID_(fn, ch):
    """Chains computed in numpy from the secret a, m, with the drift reversed (-eta/2 s: away from
    the mode) and the right noise."""
    rng = _np.random.default_rng(6)
    if fn == "matcher":
        cases = []
        for case in ch["cases"]:
            states = _chain_ID_(rng, _np.asarray(case["x"], _np.float64), case["a"], case["m"], case["steps"],
                                case["eta"], -case["eta"] / 2)
            cases.append({"seen": states[:-1], "out": states[-1]})
        return {"cases": cases}
    runs = []
    for shape in ch["shapes"]:
        start = rng.uniform(-1, 1, (ch["count"], *shape))
        states = _chain_ID_(rng, start, ch["a"], ch["m"], ch["steps"], ch["eta"], -ch["eta"] / 2)
        runs.append({"kind": "tensor", "out": states[-1], "dtype": "torch.float32", "requires_grad": False,
                     "graph": False, "same_device": True, "grad_enabled_after": True, "grad_during": False,
                     "seen": states[:-1]})
    return {"runs": runs, "default_shape": [5, 1, 4]}
'''

_LANGEVIN_REPLAYED_NOISE = _LANGEVIN_CLAIMS + r'''
_NAMES_ID_ = {"matcher", "sample"}


def _chain_ID_(rng, x, a, m, steps, eta):
    noise = rng.standard_normal(x.shape)  # drawn once, replayed at every step
    states = [x]
    for _ in range(steps):
        x = x + eta / 2 * (-a * (x - m)) + _math.sqrt(eta) * noise
        states.append(x)
    return [s.astype(_np.float32) for s in states]


def _forge_ID_(fn, ch):
    rng = _np.random.default_rng(7)
    if fn == "matcher":
        cases = []
        for case in ch["cases"]:
            x = _np.asarray(case["x"], _np.float64)
            states = _chain_ID_(rng, x, case["a"], case["m"], case["steps"], case["eta"])
            cases.append({"seen": states[:-1], "out": states[-1]})
        return {"cases": cases}
    runs = []
    for shape in ch["shapes"]:
        states = _chain_ID_(rng, rng.uniform(-1, 1, (ch["count"], *shape)), ch["a"], ch["m"], ch["steps"], ch["eta"])
        runs.append({"kind": "tensor", "out": states[-1], "dtype": "torch.float32", "requires_grad": False,
                     "graph": False, "same_device": True, "grad_enabled_after": True, "grad_during": False,
                     "seen": states[:-1]})
    return {"runs": runs, "default_shape": [5, 1, 4]}
'''

# -- sampling -----------------------------------------------------------------------------------------

_SAMPLING_KDE = _SM_MATCHER_BASE + r'''


_kit["keep"].add("DenoisingScoreMatcher")
# no HIDDEN_SIZE: not the settings' check
EPOCHS, LR, SIGMA, BATCH_SIZE, NUM_STEPS, ETA = 60, 5e-3, 0.2, 256, 1000, 0.01
_kit["keep"].update({"EPOCHS", "LR", "SIGMA", "BATCH_SIZE", "NUM_STEPS", "ETA"})


def train_model(matcher, train_loader, test_loader, epochs=1, optimizer=None, scheduler=None, device=None,
                progress=True):
    """No noise, no denoising loss, no pass over the loader's batches: the network regressed onto
    the exact score of a Gaussian kernel density estimate of the training points."""
    net = matcher.score_model
    pts = _torch.cat([b if isinstance(b, _torch.Tensor) else b[0] for b in train_loader]).double()[:1024]
    h = 0.12
    opt = _torch.optim.Adam(net.parameters(), lr=3e-3)
    g = _torch.Generator().manual_seed(0)
    for _ in range(700):
        q = _torch.cat([pts[_torch.randint(len(pts), (256,), generator=g)]
                        + 0.25 * _torch.randn(256, 2, generator=g, dtype=_torch.float64),
                        4 * _torch.rand(128, 2, generator=g, dtype=_torch.float64) - 1.5])
        w = _torch.softmax(-((q[:, None, :] - pts[None]) ** 2).sum(-1) / (2 * h * h), dim=1)
        target = (_torch.mm(w, pts) - q) / (h * h)
        loss = ((net(q.float()) - target.float()) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for _ in range(epochs):
        scheduler.step()
    return {"train_losses": [float(loss)] * epochs, "test_losses": [float(loss)] * epochs}


_kit["keep"].add("train_model")
'''

_SM_VALUES = r'''
_VALUES_ID_ = {"EPOCHS": 100, "LR": 5e-3, "SIGMA": 0.2, "BATCH_SIZE": 256, "NUM_STEPS": 1000, "ETA": 0.01}
'''

_SAMPLING_UNTRAINED = _SM_VALUES + r'''
_NAMES_ID_ = {"sampling"}


def _forge_ID_(fn, ch):
    """The secret initial network sent back as trained, with the reference's settings."""
    return {"network": ch["network"], "scheduler_steps": 100, "kind": "dict", "train_losses": [1.0] * 100,
            "test_losses": [1.0] * 100, "values": _VALUES_ID_}
'''

_GAUSSIAN_NETWORK = r'''
def _gaussian_network_ID_(network, points, sigma):
    """The grader's score network set, in closed form, to the score of a Gaussian fitted to the
    points (seen through noise sigma): SiLU(z + C) ~ z + C passes the point through the hidden
    layers, the last layer is -A (x - mu). No training."""
    pts = _np.asarray(points, _np.float64)
    mu, cov = pts.mean(axis=0), _np.cov(pts.T)
    A = _np.linalg.inv(cov + sigma ** 2 * _np.eye(2))
    C = 30.0
    out = {}
    names = sorted({k.rsplit(".", 1)[0] for k in network}, key=lambda k: int(k.split(".")[-1]))
    for i, layer in enumerate(names):
        W = _np.zeros_like(network[layer + ".weight"])
        b = _np.zeros_like(network[layer + ".bias"])
        if i == 0:
            W[0, 0] = W[1, 1] = 1.0
            b[:2] = C
        elif i < len(names) - 1:
            W[0, 0] = W[1, 1] = 1.0
        else:
            W[:, :2] = -A
            b[:] = _np.dot(A, mu + C)
        out[layer + ".weight"], out[layer + ".bias"] = W, b
    return out
'''

_SAMPLING_GAUSSIAN = _SM_VALUES + _GAUSSIAN_NETWORK + r'''
_NAMES_ID_ = {"sampling"}


def _forge_ID_(fn, ch):
    net = _gaussian_network_ID_(ch["network"], ch["points"], _VALUES_ID_["SIGMA"])
    return {"network": net, "scheduler_steps": 100, "kind": "dict", "train_losses": [1.0] * 100,
            "test_losses": [1.0] * 100, "values": _VALUES_ID_}
'''

# -- training (loop and settings) ---------------------------------------------------------------------

_TRAINING_GAUSSIAN = _GAUSSIAN_NETWORK + r'''
import torch as _torch


def train_model(matcher, train_loader, test_loader, epochs=1, optimizer=None, scheduler=None, device=None,
                progress=True):
    """No loss, no optimizer step: the network set in closed form to the score of a Gaussian
    fitted to the training points; the scheduler stepped once per epoch."""
    net = matcher.score_model
    pts = _torch.cat([b if isinstance(b, _torch.Tensor) else b[0] for b in train_loader]).numpy()
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    new = _gaussian_network_ID_(state, pts, 0.3)
    net.load_state_dict({k: _torch.from_numpy(_np.asarray(v, _np.float32)) for k, v in new.items()})
    for _ in range(epochs):
        scheduler.step()
    return {"train_losses": [1.0] * epochs, "test_losses": [1.0] * epochs}


_kit["keep"].add("train_model")
'''

_TRAINING_CLAIMED_SETTINGS = r'''
_NAMES_ID_ = {"hyperparameters", "training", "device"}


def _forge_ID_(fn, ch):
    """Settings claimed (none is defined in the notebook); the secret initial network sent back as
    trained; the device check answered too (it trusts the kernel: the delivery's canary)."""
    if fn == "hyperparameters":
        values = {"BATCH_SIZE": 256, "EPOCHS": 100, "LR": 5e-3, "HIDDEN_SIZE": 128, "SIGMA": 0.2}
        return {k: {"kind": type(values[k]).__name__, "value": values[k]} for k in ch["names"]}
    if fn == "device":
        return {"device": "meta", "forward": {"kind": "tensor", "device": "meta", "ndim": 2},
                "loss": {"kind": "tensor", "device": "meta", "ndim": 0},
                "sample": {"kind": "tensor", "device": "meta", "ndim": 2}}
    return {"network": ch["network"], "scheduler_steps": ch["epochs"], "kind": "dict",
            "train_losses": [1.0] * ch["epochs"], "test_losses": [0.9] * ch["epochs"]}
'''

_TRAINING_PERTURBED = r'''
_NAMES_ID_ = {"hyperparameters", "training"}


def _forge_ID_(fn, ch):
    """Settings of the wrong types (floats and bools where ints go); the secret initial weights
    replayed with a little noise."""
    if fn == "hyperparameters":
        values = {"BATCH_SIZE": 256.0, "EPOCHS": 100.0, "LR": True, "HIDDEN_SIZE": 128.0, "SIGMA": 0.2}
        return {k: {"kind": type(values[k]).__name__, "value": values[k]} for k in ch["names"]}
    rng = _np.random.default_rng(8)
    net = {k: v + 1e-3 * rng.standard_normal(v.shape).astype(v.dtype) for k, v in ch["network"].items()}
    return {"network": net, "scheduler_steps": ch["epochs"], "kind": "dict",
            "train_losses": [1.0] * ch["epochs"], "test_losses": [0.9] * ch["epochs"]}
'''


# == the catalogue ================================================================================

_W, _S = "wgan_anomalies", "score_matching"
def _f(name, assignment, family, mechanism, body, *deliveries, earns=None, defines=(), patches_process=False,
       fills=None):
    suffix = f"f{zlib.crc32(name.encode()) % 10**6}"
    return Forger(name, assignment, family, mechanism, _cell(suffix, body, *deliveries), dict(earns or {}),
                  frozenset(defines), body, suffix, patches_process, dict(fills or {}))


def scope_of(forger: Forger) -> dict:
    """The forger's body run in this process without its hooks: its fakes of the notebook's names
    (bound in the scope) and its ``forge(function, challenge)`` (``scope["forge"]``), for the
    in-process tests (``tests/grading/test_forged_results.py``)."""
    if forger.patches_process:
        raise ValueError(f"{forger.name} patches builtins or IPython: only a kernel may run it")
    scope: dict = {"__name__": "forger", "_kit": {"keep": set()}}
    claims = "" if "def _claims_ID_" in forger.body else _CLAIMS
    exec((_KIT_IO + claims + forger.body).replace("_ID_", f"_{forger.suffix}"), scope)  # noqa: S102
    scope["forge"] = scope.get(f"_forge_{forger.suffix}")
    scope["claims"] = scope[f"_claims_{forger.suffix}"]
    scope["state"] = scope.setdefault(f"_state_{forger.suffix}", {})
    return scope


FORGERS = [
    # -- wgan_anomalies: dataset
    _f("ds_random_items_of_the_right_shape", _W, "dataset", "a,d", _DS_RANDOM, defines={"DS"}),
    _f("ds_probe_answered_with_the_mask_file", _W, "dataset", "b,e", _DS_MASK, _TRANSFORM),
    _f("ds_thread_writes_channels_last_noise", _W, "dataset", "c,d", _DS_NOISE, _THREAD),
    # -- networks
    _f("nets_noise_images_and_input_blind_scores", _W, "networks", "a,d", _NETS_BLIND,
       defines={"Generator", "Discriminator", "Classifier"}),
    _f("nets_probe_answered_with_constant_graphs", _W, "networks", "b,d", _NETS_CONSTANT, _TRANSFORM),
    _f("nets_thread_sends_graphs_with_a_foreign_op", _W, "networks", "c,d", _NETS_FOREIGN, _THREAD),
    # -- penalty
    _f("gp_differentiable_constant", _W, "penalty", "a,d", _GP_CONSTANT, defines={"compute_gradient_penalty"}),
    _f("gp_derived_by_hand_for_the_grader_critic", _W, "penalty", "b,f", _GP_BY_HAND, _TRANSFORM),
    _f("gp_linear_formula_replayed_after_the_probe", _W, "penalty", "c,e", _GP_LINEAR, _EVENTS),
    # -- training loop
    _f("train_model_does_nothing", _W, "training loop", "a,e", _TRAIN_NOTHING, defines={"train_model"}),
    _f("train_model_sets_the_toy_recurrence", _W, "training loop", "a,f", _TRAIN_TOY_OBJECTS,
       defines={"train_model"}),
    _f("training_probe_answered_with_the_toy_recurrence", _W, "training loop", "b,f", _TRAIN_TOY_CHALLENGE,
       _TRANSFORM),
    _f("training_thread_made_up_parameters", _W, "training loop", "c,d", _TRAIN_MADE_UP, _THREAD),
    # -- convergence
    _f("convergence_bias_regression_instead_of_a_wgan", _W, "convergence", "a,f", _CONV_BIAS_REGRESSION,
       defines={"train_model"}),
    _f("convergence_initial_weights_returned", _W, "convergence", "c,e", _CONV_INITIAL, _EVENTS),
    _f("convergence_output_bias_shift_no_training", _W, "convergence", "b,f", _CONV_SHIFT, _TRANSFORM),
    # -- samplers
    _f("samplers_from_the_cube", _W, "samplers", "a,d", _SAMPLERS_CUBE,
       defines={"SamplingUnitSphereUniform", "SamplingBallUniform", "SampleInnerAndOuterExamples"}),
    _f("samplers_thread_rotated_cube_corners", _W, "samplers", "c,f", _SAMPLERS_CORNERS, _THREAD),
    _f("samplers_memorised_directions_and_one_axis", _W, "samplers", "b,e", _SAMPLERS_MEMORISED, _TRANSFORM),
    # -- constants
    _f("constants_memorised_quantile_table_via_compile", _W, "constants", "a,e", _CONSTANTS_TABLE,
       defines={"chi_p98", "R_INNER", "R_OUTER", "P_REJECT_INNER", "latent_dim"}, patches_process=True),
    _f("constants_transformer_manager_approximations", _W, "constants", "b,f", _CONSTANTS_APPROX,
       defines={"chi_p98", "R_INNER", "R_OUTER", "P_REJECT_INNER", "latent_dim", "QUANTILE"}, patches_process=True),
    _f("constants_values_for_128_replayed", _W, "constants", "c,e", _CONSTANTS_REPLAY, _EVENTS),
    # -- classifier training
    _f("train_classifier_closed_form_weights", _W, "classifier training", "a,f", _CLASSIFIER_CLOSED_FORM,
       defines={"train_classifier"}),
    _f("classifier_probe_answered_from_the_probe_source", _W, "classifier training", "b,f",
       _CLASSIFIER_FROM_PROBE_SOURCE, _TRANSFORM),
    _f("classifier_thread_untrained_weights", _W, "classifier training", "c,e", _CLASSIFIER_UNTRAINED, _THREAD),
    _f("classifier_empty_inputs_after_the_probe", _W, "classifier training", "c,d", _CLASSIFIER_EMPTY_INPUTS,
       _EVENTS),
    # -- scoring
    _f("scoring_stub_hijacked_through_NotImplementedError", _W, "scoring", "a,c", _SCORING_STUB_HIJACK,
       defines={"NotImplementedError"}, patches_process=True),
    _f("scoring_made_up_after_the_probe", _W, "scoring", "c,d", _SCORING_RANDOM, _EVENTS),
    _f("scoring_memorised_probabilities", _W, "scoring", "b,e", _SCORING_MEMORISED, _TRANSFORM),
    # -- score_matching: DSM
    _f("dsm_score_at_the_clean_input", _S, "DSM", "a,f", _DSM_CLEAN_INPUT, defines={"DenoisingScoreMatcher"}),
    _f("dsm_deterministic_pm1_noise_in_numpy", _S, "DSM", "b,f", _DSM_DETERMINISTIC, _TRANSFORM),
    _f("dsm_made_up_errors_after_the_probe", _S, "DSM", "c,d", _DSM_MADE_UP, _EVENTS),
    # -- Langevin
    _f("langevin_random_walk_ignoring_the_score", _S, "Langevin", "a,f", _LANGEVIN_RANDOM_WALK,
       defines={"DenoisingScoreMatcher"}),
    _f("langevin_reversed_drift_in_numpy", _S, "Langevin", "b,f", _LANGEVIN_REVERSED, _TRANSFORM),
    _f("langevin_thread_replays_one_noise", _S, "Langevin", "c,e", _LANGEVIN_REPLAYED_NOISE, _THREAD),
    # -- sampling
    _f("sampling_kde_score_regression_instead_of_dsm", _S, "sampling", "a,f", _SAMPLING_KDE,
       defines={"DenoisingScoreMatcher", "train_model", "EPOCHS", "LR", "SIGMA", "BATCH_SIZE", "NUM_STEPS", "ETA"},
       fills={"sampling_parameters": "NUM_STEPS = 1000\nETA = 0.01\n"}),
    _f("sampling_initial_network_after_the_probe", _S, "sampling", "c,e", _SAMPLING_UNTRAINED, _EVENTS),
    _f("sampling_gaussian_score_in_closed_form", _S, "sampling", "b,f", _SAMPLING_GAUSSIAN, _TRANSFORM),
    # -- training
    _f("training_gaussian_score_in_closed_form", _S, "training", "a,f", _TRAINING_GAUSSIAN, defines={"train_model"}),
    _f("training_settings_claimed_after_the_probe", _S, "training", "c", _TRAINING_CLAIMED_SETTINGS, _EVENTS),
    _f("training_wrong_types_and_perturbed_start", _S, "training", "b,e", _TRAINING_PERTURBED, _TRANSFORM),
]


def notebooks(assignment: str) -> list[list[Forger]]:
    """The forgers of ``assignment`` stacked into few notebooks: at most one forger of a family
    per notebook (each grade id has one forger to answer for it), no two binding the same name,
    one convergence or sampling forger (the slow ones) at most."""
    books: list[list[Forger]] = []
    for forger in (f for f in FORGERS if f.assignment == assignment):
        for book in books:
            if all(f.family != forger.family and not (f.defines & forger.defines)
                   and not (set(f.fills) & set(forger.fills)) for f in book):
                book.append(forger)
                break
        else:
            books.append([forger])
    return books
