"""Networks sent as data (``probes/graph_export.py``) and re-run by the grader (``grading.graph``).

The zoo: the reference networks, the notebooks' solution cells and plausible student variants.
Each is exported by the kernel-side function, sent through the codec's file path exactly as a
probe's result is, rebuilt and run on fresh inputs: outputs, outputs with the parameters scaled,
and input gradients must be the module's own (dropout too, after the same seed). Then the
security cases: hand-written data that must raise ``GraphError`` quickly and allocate nothing.
"""

from __future__ import annotations

import ast
import copy
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from reference_solution.course.notebook_namespace import solution_cells
from reference_solution.grading import codec, graph
from reference_solution.grading.graph import FORMAT, WHITELIST, Graph, GraphError
from reference_solution.grading.protocol import MAX_RESULT_BYTES, PROBES_DIR
from reference_solution.wgan_anomalies.classifier import Classifier
from reference_solution.wgan_anomalies.wgan import Discriminator, Generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def kernel() -> dict:
    """The kernel-side namespace, built as ``protocol.runner_source`` builds it."""
    parts = [Path(codec.__file__), PROBES_DIR / "support.py", PROBES_DIR / "graph_export.py"]
    source = "\n\n".join(p.read_text().replace("from __future__ import annotations\n", "") for p in parts)
    ns: dict = {"__name__": "grading_kernel"}
    exec(source, ns)  # noqa: S102 - our own probe source
    return ns


def sent(data, tmp_path: Path):
    """``data`` written and read back as a probe's result is (``codec.write`` / ``codec.read``)."""
    path = tmp_path / f"graph-{time.monotonic_ns()}.json"
    codec.write(str(path), data)
    return codec.read(str(path), MAX_RESULT_BYTES)


def notebook_networks() -> dict:
    """The solution cells' classes, executed with the setup cell's imports."""
    ns = {"np": np, "torch": torch, "nn": nn, "F": F, "HIDDEN_SIZE": 128}
    wgan, score = solution_cells("wgan_anomalies"), solution_cells("score_matching")
    for source in (wgan["networks_code"], wgan["classifier_code"], score["score_network"]):
        exec(source, ns)  # noqa: S102 - the course's own cells
    return ns


NOTEBOOK = notebook_networks()


# ---- plausible student variants ---------------------------------------------------------------

class ConvTransposeTanh(nn.Module):
    """ConvTranspose2d upsampling, x.view(len(x), ...), tanh rescaled to [0, 1]."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 16 * 4 * 4)
        self.up = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                                nn.ConvTranspose2d(8, 2, 4, 2, 1))

    def forward(self, z):
        return (torch.tanh(self.up(self.fc(z).view(len(z), 16, 4, 4))) + 1) / 2  # (N, 2, 16, 16)


class Bilinear(nn.Module):
    """nn.Upsample(bilinear), F.interpolate(align_corners=True), GELU, x.view(x.size(0), ...)."""

    def __init__(self):
        super().__init__()
        self.fc, self.up = nn.Linear(8, 8 * 16), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.c1, self.c2 = nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 2, 3, padding=1)

    def forward(self, z):
        h = F.gelu(self.c1(self.up(self.fc(z).view(z.size(0), 8, 4, 4))))
        return torch.sigmoid(self.c2(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=True)))


def pixel_shuffle_generator():
    return nn.Sequential(nn.Linear(8, 16 * 16), nn.Unflatten(1, (16, 4, 4)), nn.Conv2d(16, 32, 3, padding=1),
                         nn.PixelShuffle(2), nn.SiLU(), nn.Conv2d(8, 2, 1), nn.Hardtanh(0, 1))


class ClampGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2 * 8 * 8)

    def forward(self, z):
        return self.fc(z).view(-1, 2, 8, 8).clamp(0, 1)


def critic(norm):
    return nn.Sequential(nn.Conv2d(2, 8, 4, 2, 1), norm(8), nn.LeakyReLU(0.2, inplace=True),
                         nn.Conv2d(8, 16, 4, 2, 1), nn.ELU(), nn.Flatten(), nn.Linear(16 * 2 * 2, 1))


class LayerNormCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.norm, self.head = nn.Conv2d(2, 8, 4, 2, 1), nn.LayerNorm([8, 4, 4]), nn.Linear(128, 1)

    def forward(self, x):
        return self.head(torch.flatten(F.selu(self.norm(self.conv(x))), 1))


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a, self.b, self.norm = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1), nn.InstanceNorm2d(c)

    def forward(self, x):
        y = x + self.b(F.mish(self.norm(self.a(x))))
        y += x  # in place on an activation
        return y


class ResidualClassifier(nn.Module):
    """Residual block, Softplus, MaxPool2d, AdaptiveAvgPool2d, Dropout, x.view(x.size(0), -1)."""

    def __init__(self):
        super().__init__()
        self.stem, self.block = nn.Conv2d(2, 8, 3, padding=1), Residual(8)
        self.pool, self.avg, self.drop, self.head = nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Dropout(0.3), \
            nn.Linear(8, 1)

    def forward(self, x):
        h = self.avg(self.pool(self.block(F.softplus(self.stem(x)))))
        return self.head(self.drop(h.view(x.size(0), -1)))


def spectral_critic():
    return nn.Sequential(spectral_norm(nn.Conv2d(2, 8, 4, 2, 1)), nn.LeakyReLU(0.2), nn.Flatten(),
                         spectral_norm(nn.Linear(8 * 16, 1)))


def activations_mlp():
    return nn.Sequential(nn.Linear(2, 16), nn.ELU(), nn.Linear(16, 16), nn.SELU(), nn.Linear(16, 16), nn.GELU(),
                         nn.Linear(16, 16), nn.SiLU(), nn.Linear(16, 16), nn.Softplus(), nn.Linear(16, 16),
                         nn.Mish(), nn.Linear(16, 16), nn.LeakyReLU(0.1), nn.Linear(16, 16), nn.Hardtanh(),
                         nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 2))


class DetachingCritic(nn.Module):
    """A bug the grader must see as the kernel does: no gradient through the detached branch."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(2 * 8 * 8, 4), nn.Linear(2 * 8 * 8, 4)

    def forward(self, x):
        x = x.flatten(1)
        with torch.no_grad():
            frozen = self.b(x)
        return (self.a(x.detach()) + frozen + x[:, :4]).sum(1, keepdim=True)


class Neighbours2d(nn.Module):
    """Whitelisted neighbours of the zoo's ops, in one network."""

    def __init__(self):
        super().__init__()
        self.same = nn.Conv2d(2, 4, 3, padding="same", dilation=2, groups=2)
        self.norm = nn.GroupNorm(2, 4)

    def forward(self, x):
        h = torch.cat([F.pad(x, (1, 1, 1, 1), mode=m) for m in ("reflect", "replicate", "circular")], 1)
        h = F.avg_pool2d(h, 3, 1) + F.adaptive_max_pool2d(h, 8)  # (N, 6, 8, 8)
        h = torch.stack(h.chunk(3, 1)).sum(0).flip(2).roll(1, 3)  # (N, 2, 8, 8)
        h = self.norm(self.same(h)) + F.interpolate(F.pixel_unshuffle(h, 2)[:, :4], scale_factor=2,
                                                              mode="nearest-exact")
        h = torch.where(h > 0, h, 0.1 * h).masked_fill(h < -3, 0.0).softmax(1)
        s = F.normalize(h.double(), dim=1).float().amax((2, 3)) + h.var((2, 3)) + h.std((2, 3))
        return s.unsqueeze(-1).transpose(1, 2).squeeze(1) + F.interpolate(x, scale_factor=0.5, mode="bicubic").mean()


class Neighbours1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.up = nn.Conv1d(2, 4, 3, padding=1), nn.ConvTranspose1d(4, 2, 4, 2, 1)

    def forward(self, x):  # (N, 2, 64)
        h = F.max_pool1d(self.conv(x), 2) + F.avg_pool1d(self.conv(x), 2)  # (N, 4, 32)
        h = self.up(F.log_softmax(h, 1)) + F.interpolate(x, scale_factor=1.0, mode="linear")
        h = F.adaptive_avg_pool1d(h, 8).cumsum(-1) + torch.logsumexp(h, -1, keepdim=True)
        return torch.matmul(h, h.transpose(1, 2)).flatten(1) @ torch.ones(4, 3) / 64


def z8():
    return torch.randn(2, 8)


def images(size):
    return lambda: torch.rand(2, 2, size, size)


# name: (module factory, input factory); every module is checked in train and eval mode
ZOO = {
    "reference generator 8": (lambda: Generator(n_inputs=8, size=8), z8),
    "reference generator 32": (lambda: Generator(n_inputs=8, size=32), z8),
    "reference critic 8": (lambda: Discriminator(size=8), images(8)),
    "reference critic 32": (lambda: Discriminator(size=32), images(32)),
    "reference classifier 8": (lambda: Classifier(size=8), images(8)),
    "reference classifier 32": (lambda: Classifier(size=32), images(32)),
    "notebook generator 8": (lambda: NOTEBOOK["Generator"](n_inputs=8, size=8), z8),
    "notebook generator 32": (lambda: NOTEBOOK["Generator"](n_inputs=8, size=32), z8),
    "notebook critic 8": (lambda: NOTEBOOK["Discriminator"](size=8), images(8)),
    "notebook critic 32": (lambda: NOTEBOOK["Discriminator"](size=32), images(32)),
    "notebook classifier 32": (lambda: NOTEBOOK["Classifier"](size=32), images(32)),
    "notebook score_model": (lambda: copy.deepcopy(NOTEBOOK["score_model"]), lambda: torch.randn(16, 2)),
    "conv-transpose tanh generator": (ConvTransposeTanh, z8),
    "bilinear generator": (Bilinear, z8),
    "pixel-shuffle generator": (pixel_shuffle_generator, z8),
    "clamp generator": (ClampGenerator, z8),
    "group-norm critic": (lambda: critic(lambda c: nn.GroupNorm(4, c)), images(8)),
    "batch-norm critic": (lambda: critic(nn.BatchNorm2d), images(8)),
    "instance-norm critic": (lambda: critic(lambda c: nn.InstanceNorm2d(c, affine=True)), images(8)),
    "layer-norm critic": (LayerNormCritic, images(8)),
    "residual classifier": (ResidualClassifier, images(8)),
    "spectral-norm critic": (spectral_critic, images(8)),
    "detaching critic": (DetachingCritic, images(8)),
    "sequential mlp": (lambda: nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2)), lambda: torch.randn(8, 2)),
    "activations mlp": (activations_mlp, lambda: torch.randn(8, 2)),
    "neighbours 2d": (Neighbours2d, images(8)),
    "neighbours 1d": (Neighbours1d, lambda: torch.randn(2, 2, 64)),
}


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    got, want = got.detach(), want.detach()
    return float((got - want).abs().max() / want.abs().max().clamp_min(1e-12))


def scaled(module: nn.Module, factor: float) -> nn.Module:
    big = copy.deepcopy(module)
    with torch.no_grad():
        for p in big.parameters():
            p.mul_(factor)
    return big


def check_like_module(module: nn.Module, g: Graph, make_input) -> None:
    """Outputs, outputs with parameters x10 and input gradients of ``g`` are ``module``'s."""
    x = make_input()
    torch.manual_seed(1)
    want = copy.deepcopy(module)(x)
    torch.manual_seed(1)
    (got,) = g.run(x)
    assert got.shape == want.shape and relative_error(got, want) <= 1e-5

    torch.manual_seed(2)
    want = scaled(module, 10.0)(x)
    torch.manual_seed(2)
    (got,) = g.run(x, parameters={k: 10 * v for k, v in g.parameters.items()})
    assert relative_error(got, want) <= 1e-5

    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(3)
    (want,) = torch.autograd.grad(copy.deepcopy(module)(xa).square().sum(), xa)
    torch.manual_seed(3)
    (got,) = torch.autograd.grad(g.run(xb, grad=True)[0].square().sum(), xb)
    assert relative_error(got, want) <= 1e-5


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_reruns_like_the_module(kernel, tmp_path, name, mode):
    make_module, make_input = ZOO[name]
    torch.manual_seed(0)
    module = make_module().train(mode == "train")
    g = Graph.from_data(sent(kernel["export_graph"](module, (make_input(),), name), tmp_path))
    assert g.training == (mode == "train") and g.op_names <= set(WHITELIST)
    assert set(g.parameters) == {k for k, _ in module.named_parameters()}
    check_like_module(module, g, make_input)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_full_size_generator_reruns_like_the_module(kernel, tmp_path, mode):
    module = Generator(n_inputs=128, size=256).train(mode == "train")
    g = Graph.from_data(sent(kernel["export_graph"](module, (torch.randn(2, 128),)), tmp_path))
    check_like_module(module, g, lambda: torch.randn(2, 128))


def test_parameter_gradients_are_the_modules(kernel, tmp_path):
    module = critic(lambda c: nn.GroupNorm(4, c))
    g = Graph.from_data(sent(kernel["export_graph"](module, (torch.rand(3, 2, 8, 8),)), tmp_path))
    x = torch.rand(3, 2, 8, 8)
    params = {k: v.requires_grad_() for k, v in g.parameters.items()}
    got = torch.autograd.grad(g.run(x, parameters=params, grad=True)[0].sum(), list(params.values()))
    want = torch.autograd.grad(module(x).sum(), [dict(module.named_parameters())[k] for k in params])
    for a, b in zip(got, want):
        assert relative_error(a, b) <= 1e-5


def test_export_leaves_the_students_module_as_it_was(kernel):
    module = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten(), nn.Linear(144, 1))
    module.train()
    module[1].eval()  # mixed modes are kept as they are
    module(torch.rand(4, 2, 8, 8)).sum().backward()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    grads = [p.grad.clone() for p in module.parameters()]
    params = list(module.parameters())
    data = kernel["export_graph"](module, (torch.rand(4, 2, 8, 8),))
    assert [m.training for m in module.modules()] == [True, True, False, True, True, True]
    assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items())
    assert all(torch.equal(p.grad, g) for p, g in zip(module.parameters(), grads))
    assert all(a is b for a, b in zip(params, module.parameters()))
    assert data["training"] is True
    x = torch.rand(4, 2, 8, 8)
    torch.manual_seed(4)
    want = module(x)  # dropout drawing, batch norm on its running statistics
    torch.manual_seed(4)
    assert relative_error(Graph.from_data(data).run(x)[0], want) <= 1e-5


def test_data_format(kernel, tmp_path):
    assert kernel["GRAPH_FORMAT"] == FORMAT  # the kernel-side copy of the format name
    module = Generator(n_inputs=8, size=8).eval()
    data = kernel["export_graph"](module, (torch.randn(2, 8),))
    assert set(data) == {"format", "training", "nodes", "inputs", "outputs"}
    kinds = [s["kind"] for s in data["inputs"]]
    assert kinds == ["parameter"] * 10 + ["buffer"] * 6 + ["user_input"]  # 5 layers with bias, 2 batch norms
    assert {s["target"] for s in data["inputs"] if "target" in s} == set(module.state_dict())
    assert all(isinstance(s["value"], np.ndarray) for s in data["inputs"] if "value" in s)
    assert data["inputs"][-1] == {"kind": "user_input", "shape": [2, 8], "dtype": {"dtype": "float32"}}
    assert data["outputs"] == [{"kind": "user_output"}] and data["nodes"][-1]["op"] == "output"
    g = Graph.from_data(sent(data, tmp_path))
    assert g.n_user_inputs == 1 and g.user_inputs == [((2, 8), torch.float32)]
    assert {"aten.linear.default", "aten.conv2d.default", "aten.batch_norm.default"} <= g.op_names
    assert set(g.buffers) == {k for k, _ in module.named_buffers()}


def test_export_is_silent_and_its_failures_speak_to_the_student(kernel, capfd):
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4)

        def forward(self, x):
            print("tracing")
            return self.fc(x) + torch.ones(5)

    fail = kernel["ProbeFailure"]
    with pytest.raises(fail, match="could not trace your Critic: .*avoid Python if-statements"):
        kernel["export_graph"](Branchy(), (torch.randn(2, 3),), "Critic")
    with pytest.raises(fail, match="could not trace your Generator"):
        kernel["export_graph"](Broken(), (torch.randn(2, 3),), "Generator")
    with pytest.raises(fail, match="should be a torch.nn.Module"):
        kernel["export_graph"](lambda x: x, (torch.randn(2, 3),), "Generator")
    kernel["export_graph"](spectral_critic(), (torch.rand(2, 2, 8, 8),))
    assert capfd.readouterr() == ("", "")


def test_no_other_probe_part_redefines_the_exporters_names():
    """The probe parts share one namespace (``protocol.runner_source``): a later part defining one
    of the exporter's names would replace it."""
    def names(path: Path) -> set[str]:
        tree = ast.parse(path.read_text())
        return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))} | \
            {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}

    exporter = names(PROBES_DIR / "graph_export.py")
    for path in [Path(codec.__file__), *PROBES_DIR.glob("*.py")]:
        if path.name != "graph_export.py":
            assert not exporter & names(path), path.name


def test_item_in_forward_is_refused_by_name(kernel, tmp_path):
    class Item(nn.Module):
        def forward(self, x):
            return x * x.max().item()

    data = sent(kernel["export_graph"](Item(), (torch.randn(2, 3),)), tmp_path)
    with pytest.raises(GraphError, match="aten.item"):
        Graph.from_data(data)


# ---- the whitelist ----------------------------------------------------------------------------

def test_whitelist_writes_only_into_the_runs_own_tensors():
    aten = {k: v for k, v in WHITELIST.items() if isinstance(v, torch._ops.OpOverload)}
    assert len(aten) > 200  # every name resolved on this torch
    for name, op in aten.items():
        written = [a.name for a in op._schema.arguments if a.alias_info is not None and a.alias_info.is_write]
        assert set(written) <= {"self", "out"}, name
        assert not any(str(a.type) in ("Storage", "Generator") for a in op._schema.arguments), name
    forbidden = ("as_strided", "set_", "resize", "unsafe", "storage", "sparse", "from_file", "_local_scalar",
                 "aten.item", "save", "load", "nonzero", "einsum", "eval", "exec", "system")
    assert not [n for n in WHITELIST if any(word in n for word in forbidden)]


# ---- hand-written hostile data ----------------------------------------------------------------

def placeholder(name="x"):
    return {"op": "placeholder", "name": name}


def call(target, *args, **kwargs):
    return {"op": "call_function", "name": "n", "target": target, "args": list(args), "kwargs": kwargs}


def ref(i):
    return {"node": i}


def user_input(shape=(2, 3)):
    return {"kind": "user_input", "shape": list(shape), "dtype": {"dtype": "float32"}}


def data_of(calls, inputs=None, output=None):
    """A graph of one input ``x`` (node 0) then ``calls``; the output is the last call."""
    inputs = inputs or [user_input()]
    nodes = [placeholder(f"i{k}") for k in range(len(inputs))] + list(calls)
    nodes.append({"op": "output", "name": "output", "args": [[ref(len(nodes) - 1 if output is None else output)]]})
    return {"format": FORMAT, "training": False, "nodes": nodes, "inputs": inputs, "outputs": [{"kind": "user_output"}]}


def refused(data, match: str | None = None, seconds: float = 2.0) -> None:
    start = time.perf_counter()
    with pytest.raises(GraphError, match=match):
        Graph.from_data(data)
    assert time.perf_counter() - start < seconds


def test_a_hand_written_graph_runs(tmp_path):
    g = Graph.from_data(sent(data_of([call("aten.relu.default", ref(0))]), tmp_path))
    x = torch.randn(2, 3)
    assert torch.equal(g.run(x)[0], x.relu())


@pytest.mark.parametrize("target, args", [
    ("aten.as_strided.default", [ref(0), [2, 3], [10**6, 10**6], 10**9]),
    ("aten.set_.source_Tensor", [ref(0), ref(0)]),
    ("aten.resize_.default", [ref(0), [10**6, 10**6]]),
    ("aten._unsafe_index.Tensor", [ref(0), [ref(0)]]),
    ("builtins.eval", ["__import__('os').system('touch /tmp/pwned')"]),
    ("os.system", ["touch /tmp/pwned"]),
    ("torch.load", ["/etc/passwd"]),
    ("higher_order.cond", [True, ref(0)]),
    ("aten._local_scalar_dense.default", [ref(0)]),
])
def test_ops_outside_the_whitelist_are_refused_by_name(target, args):
    refused(data_of([call(target, *args)]), match=target.replace(".", r"\."))


@pytest.mark.parametrize("target", [5, None, ["aten.relu.default"], {"node": 0}])
def test_non_string_targets_are_refused(target):
    refused(data_of([call(target, ref(0))]), match="does not run")


@pytest.mark.parametrize("op", ["call_module", "get_attr", "call_method", None])
def test_other_node_kinds_are_refused(op):
    refused(data_of([{"op": op, "name": "m", "target": "os", "args": [], "kwargs": {}}]), match="not allowed")


@pytest.mark.parametrize("calls", [
    [call("aten.relu.default", ref(2)), call("aten.relu.default", ref(0))],  # forward reference
    [call("aten.relu.default", ref(2)), call("aten.relu.default", ref(1))],  # a cycle
    [call("aten.relu.default", ref(1))],  # itself
    [call("aten.relu.default", ref(-1))],
    [call("aten.relu.default", {"node": True})],
    [call("aten.relu.default", {"node": 0.0})],
    [call("aten.relu.default", ref(0)), call("aten.add.Tensor", ref(3), ref(1))],  # the output node
])
def test_references_must_point_to_earlier_nodes(calls):
    refused(data_of(calls, output=1), match="not allowed")


@pytest.mark.parametrize("bad", [
    {"dtype": "complex64"}, {"dtype": "object"}, {"dtype": ["float32"]}, {"device": "cuda"}, {"device": "meta"},
    {"layout": "sparse_coo"}, {"memory_format": "torch.channels_last"}, {"code": "print(1)"},
    {"dtype": "float32", "node": 0}, "x" * 100, 2**70, [[[[1]]]], b"bytes", (1, 2), np.float32(1.0),
])
def test_literals_of_other_kinds_or_tags_are_refused(bad):
    refused(data_of([call("aten.full.default", [2, 3], 1.0, dtype=bad)]), match="not allowed")


def test_extra_or_missing_keys_are_refused():
    base = data_of([call("aten.relu.default", ref(0))])
    variants = [{**base, "code": "x"}, {k: v for k, v in base.items() if k != "outputs"},
                {**base, "format": "pickle"}, {**base, "training": "yes"}]
    for where in (0, 1, 2):
        nodes = copy.deepcopy(base["nodes"])
        nodes[where]["meta"] = {}
        variants.append({**base, "nodes": nodes})
    variants += [{**base, "inputs": [{**user_input(), "value": np.zeros(3)}]},
                 {**base, "outputs": [{"kind": "user_output", "target": "x"}]},
                 {**base, "outputs": [{"kind": "loss_output"}]}]
    for data in variants:
        refused(data)


def test_structure_is_checked():
    relu = call("aten.relu.default", ref(0))
    out = {"op": "output", "name": "output", "args": [[ref(1)]]}
    for nodes in ([placeholder(), relu], [placeholder(), relu, out, out], [relu, placeholder(), out],
                  [placeholder(), out, relu], [placeholder(), relu, {**out, "args": [ref(1)]}]):
        refused({**data_of([]), "nodes": nodes})
    refused({**data_of([relu]), "inputs": [user_input(), user_input()]})  # one placeholder too few
    refused(data_of([relu], inputs=[user_input((10**6, 10**6))]))


def test_100_000_nodes_are_refused_at_once():
    refused(data_of([call("aten.relu.default", ref(0))] * 100_000), match="at most 10000 nodes", seconds=0.5)


BIG = (1, 1, 2, 3)  # the input of the cases below, unless they say otherwise


@pytest.mark.parametrize("calls, shape", [
    ([call("aten.zeros.default", [10**6, 10**6])], BIG),
    ([call("aten.full.default", [10**6, 10**6], 1.0)], BIG),
    ([call("aten.empty.memory_format", [10**6, 10**6])], BIG),
    ([call("aten.arange.start_step", 0, 10**12, 1)], BIG),
    ([call("aten.expand.default", ref(0), [10**6, 10**6, 2, 3])], BIG),
    ([call("aten.repeat.default", ref(0), [10**6, 10**6, 1, 1])], BIG),
    ([call("aten.eye.default", 10**6)], BIG),
    ([call("aten.upsample_nearest2d.vec", ref(0), None, [10.0**6, 10.0**6])], BIG),
    ([call("aten.ones.default", [8192, 8192]), call("aten.mm.default", ref(1), ref(1))], BIG),  # 2**39 multiply-adds
    ([call("aten.ones.default", [1, 1, 2049, 2049]),
      call("aten.conv2d.default", ref(0), ref(1), None, [1, 1], [1024, 1024])], (1, 1, 4096, 4096)),
    ([call("aten.full.default", [2**25], 1.0) for _ in range(20)], BIG),  # 2**29 elements in total
    ([call("aten.split_with_sizes.default", ref(0), [0] * 1024, 1) for _ in range(200)], (1, 0)),  # 204800 tensors
    ([call("aten.unbind.int", ref(0), 1)], (1, 2**20)),  # a million tensors from one op
    ([call("aten.chunk.default", ref(0), 10**9, 1)], (1, 2**20)),
    ([call("aten.split.Tensor", ref(0), 1, 1)], (1, 2**20)),
])
def test_huge_shapes_are_refused_by_the_dry_run_before_any_allocation(calls, shape):
    refused(data_of(calls, inputs=[user_input(shape)]), match="elements, more than|in total|multiply-adds|tensors")


def test_kernels_check_their_own_bounds():
    for calls in ([call("aten.select.int", ref(0), 0, 100)],
                  [call("aten.view.default", ref(0), [7])],
                  [call("aten.narrow.default", ref(0), 1, 2, 5)],
                  [call("grad_mode.exit")],
                  [call("operator.getitem", ref(0), 0)]):
        refused(data_of(calls), match="failed")
    index = {"kind": "constant", "target": "i", "value": np.array([10**6])}
    g = data_of([call("aten.index.Tensor", ref(0), [ref(1)])], inputs=[user_input(), index])
    with pytest.raises(GraphError, match="out of bounds|IndexError"):  # the dry run cannot see values
        Graph.from_data(g).run(torch.zeros(2, 3))


def test_arrays_are_checked():
    for value in ([1.0, 2.0], np.array(["a"]), np.array([1 + 2j]), np.zeros(3, dtype=object)):
        refused(data_of([call("aten.relu.default", ref(1))],
                        inputs=[user_input(), {"kind": "parameter", "target": "w", "value": value}]))
    twice = {"kind": "parameter", "target": "w", "value": np.zeros(3, dtype=np.float32)}
    refused(data_of([call("aten.relu.default", ref(0))], inputs=[user_input(), twice, twice]))


def test_tensor_budget(monkeypatch):
    monkeypatch.setattr(graph, "MAX_TENSOR_BYTES", 100)
    w = {"kind": "parameter", "target": "w", "value": np.zeros(100, dtype=np.float32)}
    refused(data_of([call("aten.relu.default", ref(1))], inputs=[user_input(), w]), match="bytes")


def test_in_place_ops_never_touch_the_graphs_or_the_callers_tensors():
    w = {"kind": "parameter", "target": "w", "value": np.ones(3, dtype=np.float32)}
    data = data_of([call("aten.add_.Tensor", ref(1), ref(0)), call("aten.mul_.Scalar", ref(0), 3.0),
                    call("aten.add.Tensor", ref(2), ref(3))], inputs=[w, user_input((2, 3))])
    g = Graph.from_data(data)
    x = torch.ones(2, 3)
    first, second = g.run(x)[0], g.run(x)[0]  # (x + w) + 3 w, from fresh copies each time
    assert torch.equal(first, second) and torch.equal(first, torch.full((2, 3), 5.0))
    assert torch.equal(x, torch.ones(2, 3)) and torch.equal(g.parameters["w"], torch.ones(3))


def test_run_checks_what_it_is_given():
    w = {"kind": "parameter", "target": "w", "value": np.ones(3, dtype=np.float32)}
    g = Graph.from_data(data_of([call("aten.add.Tensor", ref(1), ref(0))], inputs=[w, user_input()]))
    for args, kwargs in [((torch.ones(3, 3),), {}), ((torch.ones(2, 3, dtype=torch.float64),), {}), ((), {}),
                         ((torch.ones(2, 3),), {"parameters": {"v": torch.ones(3)}}),
                         ((torch.ones(2, 3),), {"parameters": {"w": torch.ones(4)}})]:
        with pytest.raises(GraphError):
            g.run(*args, **kwargs)
    assert torch.equal(g.run(np.ones((2, 3), dtype=np.float32), parameters={"w": torch.zeros(3)})[0],
                       torch.ones(2, 3))


@pytest.mark.gpu
def test_a_module_on_cuda_is_exported_from_a_cpu_copy(kernel, tmp_path):
    module = Discriminator(size=8).cuda()
    x = torch.rand(2, 2, 8, 8, device="cuda")
    g = Graph.from_data(sent(kernel["export_graph"](module, (x,)), tmp_path))
    assert next(module.parameters()).is_cuda
    assert relative_error(g.run(x.cpu())[0], module(x).cpu()) <= 1e-4  # cuDNN and the CPU round differently
