"""A student's network as plain data: its ``torch.export`` graph and its tensors (kernel side).

Executed as source after ``codec.py`` and ``support.py`` (``protocol.runner_source``). The trusted
grader rebuilds the graph with ``grading.graph.Graph.from_data``, checks every op against its
whitelist and runs it itself on inputs the kernel never sees, so what is sent here describes a
computation, never a result. Nothing here is protected: a kernel may send any data it likes, and
the grader assumes it does.

The graph is export's ATen graph as traced (no decomposition): the same ATen calls the module
makes in eager mode, so the grader's outputs, gradients and dropout draws are the module's own;
``detach`` and ``torch.no_grad()`` blocks keep their meaning (a no-grad block is inlined between
``grad_mode.enter`` / ``grad_mode.exit`` nodes). Shapes are those of ``inputs``: the grader runs the
graph on inputs of the same shapes.
"""

import copy
import logging

#: the data format; ``grading.graph.FORMAT`` is the same string (a test checks)
GRAPH_FORMAT = "torch.export ATen graph, version 1"
_GRAPH_INPUT_KINDS = {"PARAMETER": "parameter", "BUFFER": "buffer", "CONSTANT_TENSOR": "constant",
                "USER_INPUT": "user_input"}
_GRAPH_OUTPUT_KINDS = {"USER_OUTPUT": "user_output", "BUFFER_MUTATION": "buffer_mutation",
                 "USER_INPUT_MUTATION": "user_input_mutation"}


class _GraphSilent:
    """Python output, warnings and every logger off: export logs through handlers that hold the
    kernel's own stderr, which ``quiet`` alone does not reach (nbgrader scores stderr 0)."""

    def __enter__(self):
        self._quiet, self._disabled = quiet(), logging.root.manager.disable
        self._quiet.__enter__()
        logging.disable(logging.CRITICAL)

    def __exit__(self, *exc):
        logging.disable(self._disabled)
        return self._quiet.__exit__(*exc)


class _GraphBlock(list):
    """The encoded outputs of an inlined no-grad block (``getitem`` nodes pick from it)."""


def _graph_target(target) -> str:
    """``aten.addmm.default``, ``operator.getitem``: the name the grader's whitelist is keyed by."""
    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    module = getattr(target, "__module__", None) or type(target).__module__
    name = getattr(target, "__qualname__", None) or type(target).__name__
    return f"{'operator' if module == '_operator' else module}.{name}"


def _graph_value(value, refs: dict, what: str):
    """An argument as plain data: node references by position, tagged dtypes and devices."""
    if isinstance(value, torch.fx.Node):
        if value not in refs or isinstance(refs[value], _GraphBlock):
            raise ProbeFailure(f"the graph of your {what} uses {value.op} {value.target}, "
                               "which the grader cannot re-run")
        return refs[value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_graph_value(v, refs, what) for v in value]
    if isinstance(value, torch.device):
        return {"device": "cpu"}  # the grader runs every graph on its own CPU
    for kind in (torch.dtype, torch.layout, torch.memory_format):
        if isinstance(value, kind):
            return {kind.__name__: str(value).replace("torch.", "")}
    raise ProbeFailure(f"the graph of your {what} has an argument of type {type(value).__name__}, "
                       "which the grader cannot re-run")


def _graph_call(name: str, target: str, args: list, kwargs: dict) -> dict:
    return {"op": "call_function", "name": name, "target": target, "args": args, "kwargs": kwargs}


def _graph_encode(module, refs: dict, nodes: list, what: str):
    """Append ``module``'s graph to ``nodes``; return its encoded outputs."""
    for node in module.graph.nodes:
        if node.op == "placeholder":
            if node not in refs:  # a block's placeholders are its caller's arguments
                refs[node] = {"node": len(nodes)}
                nodes.append({"op": "placeholder", "name": node.name})
        elif node.op == "get_attr":
            continue  # the body of a no-grad block, inlined where it is called
        elif node.op == "output":
            return _graph_value(list(node.args[0]), refs, what)
        elif node.target is torch.ops.higher_order.wrap_with_set_grad_enabled:
            enabled, body, *args = node.args
            block = getattr(module, body.target)
            inner = [n for n in block.graph.nodes if n.op == "placeholder"]
            nodes.append(_graph_call("grad_mode", "grad_mode.enter", [bool(enabled)], {}))
            given = dict(zip(inner, [_graph_value(a, refs, what) for a in args]))
            result = _graph_encode(block, {**refs, **given}, nodes, what)
            nodes.append(_graph_call("grad_mode", "grad_mode.exit", [], {}))
            refs[node] = _GraphBlock(result)
        elif isinstance(node.target, torch._ops.HigherOrderOperator):
            raise ProbeFailure(f"your {what} uses {node.target.name()} (control flow, autocast), "
                               "which the grader cannot re-run")
        elif _graph_target(node.target) == "operator.getitem" and isinstance(refs.get(node.args[0]), _GraphBlock):
            refs[node] = refs[node.args[0]][node.args[1]]  # getitem of a block's outputs
        elif node.op == "call_function":
            refs[node] = {"node": len(nodes)}
            args = _graph_value(list(node.args), refs, what)
            kwargs = {k: _graph_value(v, refs, what) for k, v in node.kwargs.items()}
            nodes.append(_graph_call(node.name, _graph_target(node.target), args, kwargs))
        else:
            raise ProbeFailure(f"the graph of your {what} has a {node.op} node, which the grader cannot re-run")
    raise ProbeFailure(f"the graph of your {what} has no output")


def _graph_trace(module, inputs: tuple, what: str):
    try:
        with _GraphSilent():
            return torch.export.export(module, inputs, strict=False)
    except Exception as exc:  # noqa: BLE001 - any failure to trace is the student's to fix
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        hint = "; avoid Python if-statements on tensor values in forward" if "data-dependent" in str(exc) else ""
        raise ProbeFailure(f"torch.export could not trace your {what}: {first}{hint}") from None


def _graph_array(value, what: str):
    if not isinstance(value, torch.Tensor) or value.is_complex():
        raise ProbeFailure(f"your {what} holds a {type(value).__name__} the grader cannot receive")
    value = value.detach().cpu()
    return (value.float() if value.dtype == torch.bfloat16 else value).contiguous().numpy()


def export_graph(module, inputs: tuple, what: str | None = None) -> dict:
    """``module`` traced on ``inputs`` (a tuple of tensors) as plain data for ``grading.graph``.

    A deep copy on the CPU is traced, in the mode the module is in; the student's module (its
    mode, parameters, buffers, gradients, device) is left as it was. Failures to copy or trace
    raise ``ProbeFailure`` with a message for the student; nothing is written to stdout/stderr.
    """
    what = what or type(module).__name__
    if not isinstance(module, torch.nn.Module):
        raise ProbeFailure(f"your {what} should be a torch.nn.Module, got {type(module).__name__}")
    try:
        with _GraphSilent():
            clone = copy.deepcopy(module).to("cpu")
            inputs = tuple(torch.as_tensor(x).detach().cpu() for x in inputs)
    except Exception as exc:  # noqa: BLE001
        raise ProbeFailure(f"your {what} could not be copied to the CPU ({type(exc).__name__}: {exc})") from None
    program = _graph_trace(clone, inputs, what)

    nodes: list = []
    outputs = _graph_encode(program.graph_module, {}, nodes, what)
    nodes.append({"op": "output", "name": "output", "args": [outputs]})
    signature, state, constants = program.graph_signature, program.state_dict, program.constants
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"]
    inputs_spec = []
    for node, spec in zip(placeholders, signature.input_specs):
        kind = _GRAPH_INPUT_KINDS.get(spec.kind.name)
        if kind is None:
            raise ProbeFailure(f"your {what} holds a {spec.kind.name.lower()} (e.g. a torch.Generator), "
                               "which the grader cannot receive")
        if kind == "user_input":
            val = node.meta.get("val")
            if not isinstance(val, torch.Tensor):
                raise ProbeFailure(f"every input of your {what} should be a tensor, got {type(val).__name__}")
            inputs_spec.append({"kind": kind, "shape": [int(s) for s in val.shape],
                                "dtype": _graph_value(val.dtype, {}, what)})
        else:
            value = state[spec.target] if spec.target in state else constants[spec.target]
            inputs_spec.append({"kind": kind, "target": spec.target, "value": _graph_array(value, what)})
    outputs_spec = []
    for spec in signature.output_specs:
        kind = _GRAPH_OUTPUT_KINDS.get(spec.kind.name)
        if kind is None or type(spec.arg).__name__ != "TensorArgument":
            raise ProbeFailure(f"your {what} should return tensors only, not numbers or None")
        outputs_spec.append({"kind": kind} if kind == "user_output" else {"kind": kind, "target": spec.target})
    return {"format": GRAPH_FORMAT, "training": bool(module.training), "nodes": nodes,
            "inputs": inputs_spec, "outputs": outputs_spec}
