"""What a submitted cell assigns, read from its source in the grader (no kernel involved).

A setting such as ``EPOCHS = 100`` is its own answer: what the kernel reports about it could be
anything. Its source is in the submitted notebook, which nbgrader's process reads, so the grader
evaluates the cell's top-level assignments there, allowing only numbers, arithmetic on them and
names the cell assigned before (``LR = 5e-3``, ``BATCH_SIZE = 2 ** 8``, ``ETA = LR * 2``).
"""

from __future__ import annotations

import ast
import math
import operator

__all__ = ["NotLiteral", "assigned_numbers", "call_argument_names"]

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow, ast.Mod: operator.mod}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


class NotLiteral(ValueError):
    """A setting the grader cannot read as a number from the cell's source."""


def _parsed(source: str | None) -> ast.Module:
    """The cell as Python, magics and shell lines (``%``, ``!``) skipped."""
    lines = [line for line in (source or "").splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError as exc:
        raise NotLiteral(f"the cell does not parse: {exc.msg}") from None


def _number(node: ast.AST, known: dict[str, int | float]) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_number(node.operand, known))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _number(node.left, known), _number(node.right, known)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise NotLiteral("an exponent above 64")
        try:
            value = _BINARY[type(node.op)](left, right)
        except (ArithmeticError, ValueError) as exc:
            raise NotLiteral(str(exc)) from None
        if isinstance(value, complex) or (isinstance(value, float) and not math.isfinite(value)):
            raise NotLiteral("not a finite real number")
        return value
    raise NotLiteral(ast.unparse(node)[:60])


def assigned_numbers(source: str | None, names: list[str]) -> dict[str, int | float]:
    """The values the cell's top-level assignments give ``names`` (the last assignment wins).

    Raises ``NotLiteral`` naming the first setting that is missing or is not plain arithmetic on
    numbers. Magics and shell lines (``%``, ``!``) are skipped.
    """
    tree = _parsed(source)
    known: dict[str, int | float] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            targets, values = stmt.targets[0], stmt.value
            pairs = list(zip(targets.elts, values.elts)) if isinstance(targets, ast.Tuple) and \
                isinstance(values, ast.Tuple) and len(targets.elts) == len(values.elts) else [(targets, values)]
            for target, value in pairs:
                if isinstance(target, ast.Name):
                    try:
                        known[target.id] = _number(value, known)
                    except NotLiteral:
                        known.pop(target.id, None)
                        if target.id in names:
                            raise NotLiteral(f"{target.id} = {ast.unparse(value)[:60]}") from None
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            known[stmt.target.id] = _number(stmt.value, known)
    missing = [name for name in names if name not in known]
    if missing:
        raise NotLiteral(f"{', '.join(missing)} not assigned")
    return {name: known[name] for name in names}


def call_argument_names(source: str | None, name: str) -> set[str]:
    """The variable names in the first argument (or ``params=``) of the call whose result the cell
    assigns to ``name`` last, e.g. ``{"gen"}`` for ``opt_gen = torch.optim.Adam(gen.parameters(), ...)``.

    Raises ``NotLiteral`` if the cell does not assign ``name`` from a call with such an argument.
    """
    tree = _parsed(source)
    found = None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and stmt.targets[0].id == name and isinstance(stmt.value, ast.Call):
            call = stmt.value
            arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "params"), None)
            found = None if arg is None else {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
    if not found:
        raise NotLiteral(f"{name} = <an optimizer>(<the parameters>, ...) not found")
    return found
