"""A student's network re-run by the grader from plain data (a ``torch.export`` graph).

The kernel sends its network as data (``probes/graph_export.py``): the ATen graph that
``torch.export.export(module, inputs, strict=False)`` traces and its parameters, buffers and
constants as arrays. A forged output is then worthless: the verdict runs the graph itself, here,
on inputs the kernel never saw. The data is hostile: nothing is unpickled, no name it chooses is
looked up but in ``WHITELIST``, its structure is checked before anything runs, and every run is
first made on PyTorch's ``meta`` device (shapes without memory), so that a graph beyond the
budgets below is refused before anything is allocated. The ATen kernels check their own
arguments (bounds of ``index``, sizes of ``view``): that, and a whitelist of common ops, is trusted.

Random ops (dropout in training mode, ``rand``, ``bernoulli``) draw from the global torch RNG as
the module's eager calls do: after the same ``torch.manual_seed`` they draw the same values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from . import codec

__all__ = ["FORMAT", "Graph", "GraphError", "WHITELIST"]

FORMAT = "torch.export ATen graph, version 1"  # the same string as probes/graph_export.py
MAX_NODES = 10_000
MAX_ELEMENTS = 2**26  # per tensor of a run
MAX_TOTAL_ELEMENTS = 2**29  # all tensors of a run together, convolution workspaces included
MAX_MACS = 2**36  # multiply-adds of convolutions, matrix products and pooling windows in a run
MAX_TENSOR_BYTES = 2**28  # parameters, buffers and constants of a graph
TENSOR_COST = 2**12  # the least a tensor counts for in MAX_TOTAL_ELEMENTS
MAX_LIST, MAX_DEPTH, MAX_STRING, MAX_INT = 1024, 3, 64, 2**62

DTYPES = {n: getattr(torch, n) for n in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16",
                                          "bfloat16", "float32", "float64")}
TAGS = {"dtype": DTYPES, "layout": {"strided": torch.strided},  # sparse kernels trust their index data
        "device": {"cpu": torch.device("cpu")},  # bound to the run's own device (meta for the dry run)
        "memory_format": {n: getattr(torch, n) for n in ("contiguous_format", "channels_last",
                                                         "channels_last_3d", "preserve_format")}}

# What export emits on the zoo of tests/grading/test_graph.py (train and eval mode) and the pure
# neighbours of those ops. A name without an overload is its ".default". Not here, ever: raw
# strides or storage (as_strided, set_, resize_, _unsafe_*), sparse tensors, files, devices,
# scalars read from data (item, nonzero: their shapes depend on values the dry run cannot see).
_ATEN = """
# pointwise
abs neg exp expm1 log log1p log2 log10 sqrt rsqrt reciprocal sin cos tan tanh atan sigmoid erf sign floor ceil round
trunc relu relu6 gelu leaky_relu elu celu selu silu mish softplus hardtanh hardsigmoid hardswish log_sigmoid prelu
threshold logical_not logical_and logical_or logical_xor isnan maximum minimum clamp_min clamp_max add.Tensor
add.Scalar sub.Tensor sub.Scalar rsub.Scalar rsub.Tensor mul.Tensor mul.Scalar div.Tensor div.Scalar div.Tensor_mode
pow.Tensor_Scalar pow.Tensor_Tensor pow.Scalar fmod.Scalar remainder.Scalar clamp.default clamp.Tensor where.self
where.ScalarOther where.ScalarSelf where.Scalar masked_fill.Scalar masked_fill.Tensor eq.Scalar eq.Tensor ne.Scalar
ne.Tensor lt.Scalar lt.Tensor le.Scalar le.Tensor gt.Scalar gt.Tensor ge.Scalar ge.Tensor softmax.int log_softmax.int
# in place or out=: only ever on this run's own copies of the tensors
relu_ leaky_relu_ elu_ celu_ selu_ silu_ mish_ hardtanh_ hardsigmoid_ hardswish_ sigmoid_ tanh_ threshold_ zero_
detach_ clamp_ clamp_min_ clamp_max_ copy_ add_.Tensor add_.Scalar sub_.Tensor mul_.Tensor mul_.Scalar div_.Tensor
div_.Scalar fill_.Scalar masked_fill_.Scalar div.out
# reductions
sum sum.dim_IntList mean mean.dim amax amin max max.dim min min.dim argmax argmin prod prod.dim_int cumsum logsumexp
linalg_vector_norm var.correction var.dim std.correction std.dim
# shapes and copies
view view_as reshape reshape_as flatten.using_ints unflatten.int permute t numpy_T matrix_H transpose.int movedim.int
expand expand_as contiguous clone alias detach unsqueeze squeeze squeeze.dim squeeze.dims select.int slice.Tensor
narrow cat stack split.Tensor split_with_sizes chunk unbind.int repeat flip roll diagonal tril triu index.Tensor
index_select pad constant_pad_nd _to_copy to.dtype to.device to.dtype_layout type_as lift_fresh_copy
# creation
zeros ones full zeros_like ones_like full_like new_zeros new_ones new_full scalar_tensor arange arange.start
arange.start_step linspace eye
# layers
linear conv1d conv2d conv2d.padding conv_transpose1d conv_transpose2d.input convolution addmm mm bmm matmul mv vdot
dot outer batch_norm instance_norm layer_norm group_norm rms_norm max_pool1d max_pool2d max_pool2d_with_indices
avg_pool1d avg_pool2d adaptive_avg_pool1d adaptive_avg_pool2d adaptive_max_pool2d upsample_nearest1d.vec
upsample_nearest2d.vec _upsample_nearest_exact2d.vec upsample_linear1d.vec upsample_bilinear2d.vec
upsample_bicubic2d.vec pixel_shuffle pixel_unshuffle
# random, from the global RNG
dropout dropout_ feature_dropout alpha_dropout rand randn rand_like randn_like bernoulli bernoulli.p normal_ uniform_
"""


class GraphError(ValueError):
    """The data is not a graph the grader accepts, or the graph cannot run on these inputs."""


@dataclass(frozen=True)
class _Ref:
    index: int  # an earlier node, whose value replaces this argument


@dataclass
class _Run:
    device: str  # "meta" for the dry run, "cpu" for the real one
    grad: bool  # whether gradients are wanted at all (a no-grad block never turns them on)
    modes: list  # grad modes saved by grad_mode.enter
    budget: dict | None = None  # the dry run's counts: elements made and multiply-adds


def _getitem(run: _Run, value, i):  # one output of a multi-output op
    return value[i] if isinstance(value, (tuple, list)) and type(i) is int else _fail("getitem", "expects (tuple, int)")


def _grad_enter(run: _Run, enabled: bool):  # a torch.no_grad() block of the module
    run.modes.append(torch.is_grad_enabled())
    torch.set_grad_enabled(bool(enabled) and run.grad)


def _resolve() -> dict:
    table = {}
    for name in " ".join(line for line in _ATEN.splitlines() if not line.startswith("#")).split():
        packet, overload = name.split(".") if "." in name else (name, "default")
        op = getattr(getattr(torch.ops.aten, packet, None), overload, None)
        if op is not None:  # an older torch may lack a neighbour: it is then refused
            table[f"aten.{packet}.{overload}"] = op
    return table


#: {target: implementation}: ATen ops (torch ``OpOverload``) and ours (which take the run first)
WHITELIST: dict = {**_resolve(), "operator.getitem": _getitem,
                   # empty* as zeros: uninitialised memory of the grader must never reach a verdict
                   "aten.empty.memory_format": torch.ops.aten.zeros.default,
                   "aten.empty_like.default": torch.ops.aten.zeros_like.default,
                   "aten.new_empty.default": torch.ops.aten.new_zeros.default,
                   "aten._assert_tensor_metadata.default": lambda run, *a, **k: None,  # a trace-time check
                   "grad_mode.enter": _grad_enter,
                   "grad_mode.exit": lambda run: torch.set_grad_enabled(run.modes.pop())}
# ops that return as many tensors as the data asks for: bounded before they run
_PIECES = {"aten.unbind.int": lambda self, dim=0: self.shape[dim],
           "aten.split.Tensor": lambda self, split_size, dim=0: -(-self.shape[dim] // max(1, split_size)),
           "aten.chunk.default": lambda self, chunks, dim=0: min(chunks, self.shape[dim])}
_NODE_KEYS = {"placeholder": {"op", "name"}, "output": {"op", "name", "args"},
              "call_function": {"op", "name", "target", "args", "kwargs"}}


def _fail(where: str, what: str):
    raise GraphError(f"{where}: {what}")


def _keys(value, keys: set, where: str) -> dict:
    if not isinstance(value, dict) or set(value) != keys:
        found = sorted(value) if isinstance(value, dict) else type(value).__name__
        _fail(where, f"expected the keys {sorted(keys)}, found {str(found)[:200]}")
    return value


def _literal(value, limit: int, where: str, depth: int = 0):
    """``value`` checked and ready to run (references to nodes below ``limit``: ``_Ref``; tags: torch objects)."""
    kind = type(value)
    if value is None or kind in (bool, float) or (kind is int and abs(value) <= MAX_INT) \
            or (kind is str and len(value) <= MAX_STRING):
        return value
    if kind is list and depth < MAX_DEPTH and len(value) <= MAX_LIST:  # depth -1: a node's list of args
        return [_literal(v, limit, where, depth + 1) for v in value]
    if kind is dict and len(value) == 1:
        [(tag, v)] = value.items()
        if tag == "node" and type(v) is int and 0 <= v < limit:
            return _Ref(v)
        if tag in TAGS and isinstance(v, str) and v in TAGS[tag]:
            return TAGS[tag][v]
    _fail(where, f"argument {str(value)[:80]!r} is not allowed (references to earlier nodes, numbers, short "
                 "strings, lists and known dtype/device/layout/memory_format tags only)")


@dataclass(frozen=True)
class _Node:
    kind: str  # placeholder, call_function or output
    name: str
    target: str = ""
    fn: object = None  # from WHITELIST
    args: list = ()
    kwargs: dict | None = None
    forced: tuple = ()  # keyword arguments the run sets: device (its own) and pin_memory (False)


def _node(i: int, raw) -> _Node:
    where, kind = f"node {i}", raw.get("op") if isinstance(raw, dict) else None
    if not isinstance(kind, str) or kind not in _NODE_KEYS:
        _fail(where, f"op {str(kind)[:40]!r} is not allowed (placeholder, call_function and output only)")
    raw = _keys(raw, _NODE_KEYS[kind], where)
    if not isinstance(raw["name"], str) or len(raw["name"]) > 200:
        _fail(where, "its name should be a short string")
    if kind == "placeholder":
        return _Node(kind, raw["name"])
    if type(raw["args"]) is not list:
        _fail(where, "its args should be a list")
    args = _literal(raw["args"], i, where, -1)
    if kind == "output":
        return _Node(kind, raw["name"], args=args)
    target, kwargs = raw["target"], raw["kwargs"]
    if not isinstance(target, str) or target not in WHITELIST:
        _fail(where, f"your network uses {str(target)[:80]}, which the grader does not run "
                     "(standard layers, activations and tensor functions only)")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) and k.isidentifier() and len(k) <= MAX_STRING
                                               for k in kwargs):
        _fail(where, "its kwargs should map argument names to values")
    fn = WHITELIST[target]
    forced = tuple(a.name for a in fn._schema.arguments if a.kwarg_only and a.name in ("device", "pin_memory")) \
        if isinstance(fn, torch._ops.OpOverload) else ()
    return _Node(kind, raw["name"], target, fn, args, {k: _literal(v, i, where) for k, v in kwargs.items()}, forced)


def _input_spec(i: int, spec, seen: set) -> dict:
    where, kind = f"input {i}", spec.get("kind") if isinstance(spec, dict) else None
    if kind == "user_input":
        _keys(spec, {"kind", "shape", "dtype"}, where)
        shape, dtype = spec["shape"], _literal(spec["dtype"], 0, where)
        if not isinstance(shape, list) or len(shape) > 16 or not all(type(s) is int and s >= 0 for s in shape) \
                or math.prod(shape) > MAX_ELEMENTS or not isinstance(dtype, torch.dtype):
            _fail(where, "expected a shape (a short list of sizes) and a dtype tag")
        return {"kind": kind, "shape": tuple(shape), "dtype": dtype}
    if kind not in ("parameter", "buffer", "constant"):
        _fail(where, "expected kind parameter, buffer, constant or user_input")
    _keys(spec, {"kind", "target", "value"}, where)
    target, value = spec["target"], spec["value"]
    if not isinstance(target, str) or len(target) > 1000 or (kind, target) in seen:
        _fail(where, "expected a state-dict name, each named once")
    if not isinstance(value, np.ndarray) or value.dtype.name not in codec.DTYPES:
        _fail(where, f"{target[:80]}: expected an array of one of {codec.DTYPES}")
    seen.add((kind, target))
    value = torch.from_numpy(np.array(value, dtype=value.dtype.newbyteorder("=")))
    return {"kind": kind, "target": target, "shape": tuple(value.shape), "dtype": value.dtype, "value": value}


def _cost(node: _Node, args: list, kwargs: dict, out) -> tuple[int, int]:
    """(multiply-adds, workspace elements) of the ops whose work is not linear in their tensors."""
    if not isinstance(node.fn, torch._ops.OpOverload):
        return 0, 0
    a = {**dict(zip([x.name for x in node.fn._schema.arguments], args)), **kwargs}
    first, name = out[0] if isinstance(out, (tuple, list)) else out, node.target.split(".")[1]
    if name in ("mm", "bmm", "addmm", "matmul", "mv", "vdot", "dot", "linear"):
        left = a.get("mat1", a.get("weight", a.get("self")))
        return first.numel() * (left.shape[-1] if left.dim() else 1), 0
    if name.startswith("conv"):  # per weight entry: once per output (or, transposed, input) position
        macs = max(a["input"].numel(), first.numel()) * math.prod(a["weight"].shape[1:])
        return macs, macs // max(1, a["weight"].shape[0])  # the im2col columns of the CPU kernels
    if "pool" in name and "adaptive" not in name:
        window = a["kernel_size"]
        return first.numel() * math.prod(window if isinstance(window, (list, tuple)) else [window]), 0
    return 0, 0


class Graph:
    """A validated graph; :meth:`run` computes its user outputs on the grader's inputs."""

    def __init__(self, nodes: list[_Node], inputs: list[dict], outputs: list[dict], training: bool):
        self._nodes, self._inputs, self._outputs, self.training = nodes, inputs, outputs, training
        self._free: dict[int, list[int]] = {}  # values no later node needs, dropped to bound memory
        for ref, i in {r: i for i, node in enumerate(nodes) for r in _refs([node.args, node.kwargs])}.items():
            self._free.setdefault(i, []).append(ref)
        self._dry_run([torch.empty(s["shape"], dtype=s["dtype"], device="meta") for s in inputs])  # refused now

    @classmethod
    def from_data(cls, data) -> Graph:
        """The graph of ``export_graph``'s data (as ``codec`` reads it); ``GraphError`` if anything is off."""
        data = _keys(data, {"format", "training", "nodes", "inputs", "outputs"}, "the graph")
        if data["format"] != FORMAT or type(data["training"]) is not bool:
            _fail("the graph", f"format {str(data['format'])[:80]!r}, expected {FORMAT!r} and a bool training")
        raw, specs, outs = data["nodes"], data["inputs"], data["outputs"]
        if not all(isinstance(x, list) for x in (raw, specs, outs)) or len(raw) > MAX_NODES:
            _fail("the graph", f"nodes, inputs and outputs should be lists, with at most {MAX_NODES} nodes")
        nodes = [_node(i, n) for i, n in enumerate(raw)]
        kinds, n_in = [n.kind for n in nodes], len(specs)
        if kinds != ["placeholder"] * n_in + ["call_function"] * (len(kinds) - n_in - 1) + ["output"]:
            _fail("the graph", "expected one placeholder per input description, then calls, then one output node")
        seen: set = set()
        inputs = [_input_spec(i, s, seen) for i, s in enumerate(specs)]
        for k, spec in enumerate(s for s in inputs if s["kind"] == "user_input"):
            spec["target"] = f"input {k}"  # how messages name it
        if sum(s["value"].nbytes for s in inputs if "value" in s) > MAX_TENSOR_BYTES:
            _fail("the graph", f"its tensors exceed {MAX_TENSOR_BYTES} bytes")
        result = nodes[-1].args
        if len(result) != 1 or not isinstance(result[0], list) or len(result[0]) != len(outs) \
                or not all(isinstance(r, _Ref) for r in result[0]):
            _fail("the output node", "expected one list of node references, one per output description")
        for i, spec in enumerate(outs):  # buffer updates and input changes: computed, then dropped
            kind = spec.get("kind") if isinstance(spec, dict) else None
            _keys(spec, {"kind"} if kind == "user_output" else {"kind", "target"}, f"output {i}")
            if kind not in ("user_output", "buffer_mutation", "user_input_mutation") \
                    or not isinstance(spec.get("target", ""), str):
                _fail(f"output {i}", "expected a user_output, buffer_mutation or user_input_mutation")
        if not any(s["kind"] == "user_output" for s in outs):
            _fail("the graph", "it has no output")
        return cls(nodes, inputs, [dict(s) for s in outs], data["training"])

    @property
    def op_names(self) -> set[str]:
        """The targets the graph calls, e.g. ``{"aten.conv2d.default", ...}``."""
        return {n.target for n in self._nodes if n.kind == "call_function"}

    @property
    def parameters(self) -> dict[str, torch.Tensor]:
        """``{state-dict name: tensor}`` (copies: changing them changes nothing here)."""
        return {s["target"]: s["value"].clone() for s in self._inputs if s["kind"] == "parameter"}

    @property
    def buffers(self) -> dict[str, torch.Tensor]:
        """``{state-dict name: tensor}`` (copies), as the module had them when it was exported."""
        return {s["target"]: s["value"].clone() for s in self._inputs if s["kind"] == "buffer"}

    @property
    def user_inputs(self) -> list[tuple[tuple[int, ...], torch.dtype]]:
        """Shape and dtype of each input the graph was traced for: runs take exactly these."""
        return [(s["shape"], s["dtype"]) for s in self._inputs if s["kind"] == "user_input"]

    @property
    def n_user_inputs(self) -> int:
        return len(self.user_inputs)

    def run(self, *inputs, parameters: Mapping | None = None, buffers: Mapping | None = None,
            grad: bool = False) -> list[torch.Tensor]:
        """The user outputs on ``inputs`` (tensors or arrays of the traced shapes and dtypes).

        ``parameters`` / ``buffers`` replace some of the graph's own by state-dict name (same shapes and
        dtypes). With ``grad`` the outputs are differentiable w.r.t. the inputs and the given parameters
        (the graph's own are constants). In-place ops (ReLU(inplace=True), batch-norm statistics) act
        on this run's copies: nothing given is modified."""
        if len(inputs) != self.n_user_inputs:
            raise GraphError(f"the graph takes {self.n_user_inputs} inputs, got {len(inputs)}")
        given = {"user_input": {f"input {k}": x for k, x in enumerate(inputs)}, "parameter": dict(parameters or {}),
                 "buffer": dict(buffers or {}), "constant": {}}
        for kind in ("parameter", "buffer"):
            for name in set(given[kind]) - {s["target"] for s in self._inputs if s["kind"] == kind}:
                raise GraphError(f"the graph has no {kind} named {name!r}")
        values = []
        for spec in self._inputs:
            value = torch.as_tensor(given[spec["kind"]].get(spec["target"], spec.get("value"))).to("cpu")
            if tuple(value.shape) != spec["shape"] or value.dtype != spec["dtype"]:
                raise GraphError(f"{spec['target']} should be of shape {spec['shape']} and {spec['dtype']}, "
                                 f"got {tuple(value.shape)} and {value.dtype}")
            values.append(value)
        self._dry_run([v.to("meta") for v in values])
        with torch.enable_grad() if grad else torch.no_grad():
            outputs = self._execute([v.clone() for v in values], _Run("cpu", grad, []))
        return [o for o, spec in zip(outputs, self._outputs) if spec["kind"] == "user_output"]

    def _dry_run(self, values: list) -> None:
        """The run on meta tensors: every tensor and every op's work within budget, or ``GraphError``."""
        with torch.no_grad():
            self._execute(values, _Run("meta", False, [], {"total": sum(v.numel() for v in values), "macs": 0}))

    def _execute(self, values: list, run: _Run) -> list:
        env: list = list(values) + [None] * (len(self._nodes) - len(values))
        for i in range(len(values), len(self._nodes) - 1):
            node, budget = self._nodes[i], run.budget
            args, kwargs = _bind(node.args, env, run), _bind(node.kwargs, env, run)
            for name in node.forced:  # nothing is ever made anywhere but on the run's device
                kwargs[name] = torch.device(run.device) if name == "device" else False
            try:
                if budget is not None and node.target in _PIECES and _PIECES[node.target](*args, **kwargs) > MAX_LIST:
                    raise ValueError(f"it would make more than {MAX_LIST} tensors")
                out = node.fn(*args, **kwargs) if isinstance(node.fn, torch._ops.OpOverload) \
                    else node.fn(run, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - whatever an op refuses, the graph is refused
                first = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
                raise GraphError(f"node {i} {node.name} ({node.target}) failed: {first}") from None
            if budget is not None:  # the dry run: what the op made and its work, within budget
                macs, workspace = _cost(node, args, kwargs, out)
                sizes = [t.numel() for t in (out if isinstance(out, (tuple, list)) else [out])
                         if isinstance(t, torch.Tensor)] or [0]
                # a tensor costs at least TENSOR_COST elements: its bookkeeping bounds the number of tensors too
                budget["total"] += sum(max(n, TENSOR_COST) for n in sizes) + workspace
                budget["macs"] += macs
                where = f"node {i} ({node.target})"
                if max(sizes) > MAX_ELEMENTS:
                    _fail(where, f"a tensor of {max(sizes)} elements, more than the {MAX_ELEMENTS} allowed")
                if budget["total"] > MAX_TOTAL_ELEMENTS:
                    _fail(where, f"the graph's tensors exceed {MAX_TOTAL_ELEMENTS} elements in total")
                if budget["macs"] > MAX_MACS:
                    _fail(where, f"the graph needs more than {MAX_MACS} multiply-adds")
            env[i] = out
            for ref in self._free.get(i, ()):
                env[ref] = None
        outputs = [env[r.index] for r in self._nodes[-1].args[0]]
        if not all(isinstance(o, torch.Tensor) for o in outputs):
            raise GraphError("the graph's outputs should be tensors")
        return outputs


def _refs(value):
    if isinstance(value, _Ref):
        yield value.index
    for v in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
        yield from _refs(v)


def _bind(value, env: list, run: _Run):
    """``value`` with its node references replaced by their values and device tags by the run's."""
    if isinstance(value, (list, dict)):
        return {k: _bind(v, env, run) for k, v in value.items()} if isinstance(value, dict) \
            else [_bind(v, env, run) for v in value]
    return env[value.index] if isinstance(value, _Ref) else torch.device(run.device) \
        if isinstance(value, torch.device) else value
