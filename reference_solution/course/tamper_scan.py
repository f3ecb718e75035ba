"""A static scan of student code for tampering with the grading machinery: a report, not a defence.

Grading does not depend on this scan: verdicts are computed outside the student's kernel, which
runs jailed (``reference_solution.course.sandbox``). The scan only tells the instructor which notebooks
tried something (names built from strings, ``vars(...)`` and ``exec`` escape it by design).
"""

from __future__ import annotations

import ast
import re

__all__ = ["scan_code", "imported_names", "SUSPICIOUS"]


# --- static tamper scan --------------------------------------------------------------------------

#: (pattern, why it is suspicious) — matched against student code cells, comments removed.
SUSPICIOUS = (
    (r"\breference_solution\b", "uses the instructor package (solutions, grading checks)"),
    (r"\bgrading\b", "names the grading checks"),
    (r"\bsys\.modules\b", "edits the module table (could swap checks or helpers)"),
    (r"\b__builtins__\b|\bimport\s+builtins\b|\bfrom\s+builtins\b", "touches builtins"),
    (r"\bos\._exit\b|\bos\.kill\b|\bsys\.exit\b", "can stop the kernel"),
    (r"\bctypes\b", "native memory access (can crash the kernel)"),
    (r"\bimport\s+signal\b|\bfrom\s+signal\b|\bsignal\.(signal|SIG\w*|alarm|setitimer|pthread_\w+)\b",
     "changes signal handling (can ignore the timeout's interrupt)"),
    (r"\bresource\b\s*\.\s*setrlimit", "changes resource limits"),
    (r"\bget_ipython\b|\bInteractiveShell\b", "drives IPython itself (can rewrite later cells)"),
    (r"\b__import__\b|\bimportlib\b", "dynamic import (hides what is imported)"),
    (r"\bsys\.(settrace|setprofile|excepthook)\b", "hooks the interpreter"),
    (r"\bgc\.get_(objects|referrers)\b", "reaches objects of other modules"),
)
#: attribute assignments that are ordinary configuration, not monkeypatching
ALLOWED_ATTRIBUTE_PREFIXES = ("torch.backends.", "plt.rcParams", "matplotlib.rcParams",
                              "mpl.rcParams", "np.set_printoptions", "pd.options.")


def _strip_comments(code: str) -> str:
    return "\n".join(re.sub(r"#.*$", "", line) for line in code.splitlines())


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def scan_code(code: str, imported: set[str] | None = None) -> list[str]:
    """Reasons why ``code`` (a student's code cell) looks like tampering; [] when it does not.

    ``imported``: names bound by ``import`` anywhere in the notebook; an assignment to an
    attribute of one of them (``warnings.warn = ...``, ``helpers.check = ...``) is a monkeypatch.
    """
    reasons = []
    text = _strip_comments(code)
    for pattern, why in SUSPICIOUS:
        match = re.search(pattern, text)
        if match:
            reasons.append(f"`{match.group(0).strip()}`: {why}")
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return reasons  # cell magics, shell escapes, or broken code: regexes only
    imported = imported if imported is not None else imported_names(code)
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("setattr", "delattr") and node.args:
            name = _dotted(node.args[0])
            if name and name.split(".")[0] in imported:
                reasons.append(f"`{node.func.id}({name}, ...)`: monkeypatches a module")
        for target in targets:
            name = _dotted(target) if isinstance(target, ast.Attribute) else None
            if name and name.split(".")[0] in imported \
                    and not name.startswith(ALLOWED_ATTRIBUTE_PREFIXES):
                reasons.append(f"`{name} = ...`: monkeypatches a module")
    return list(dict.fromkeys(reasons))


def imported_names(code: str) -> set[str]:
    """Names bound by import statements in ``code`` (unparseable code: none)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return names
