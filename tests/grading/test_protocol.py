"""The check protocol itself: results bound to their challenge, the probe sources, the docs."""

from __future__ import annotations

import ast
import re

import pytest

from reference_solution.grading import codec, protocol
from reference_solution.grading.protocol import PROBE_PARTS, PROBES_DIR, registry, verdict_table

REPO = PROBES_DIR.parents[2]


def test_security_md_holds_the_current_verdict_table():
    text = (REPO / "docs" / "SECURITY.md").read_text()
    found = re.search(r"<!-- verdict-table -->\n(.*?)\n<!-- /verdict-table -->", text, re.S)
    assert found and found.group(1) == verdict_table(registry()), (
        "docs/SECURITY.md's check table is stale: regenerate it with protocol.verdict_table")


def test_every_check_says_what_its_verdict_recomputes():
    for check in registry().values():
        assert check.verifies, f"{check.name} says nothing of what its verdict recomputes"
        assert check.unverifiable == (check.verifies == "nothing"), check.name


def _top_level_names(path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def test_probe_sources_do_not_redefine_each_others_names():
    """The kernel runs the parts and a probe module concatenated in one namespace: a name defined
    twice would silently replace the first definition."""
    parts = [*PROBE_PARTS, PROBES_DIR / "runner.py"]
    seen: dict[str, str] = {}
    for path in parts:
        for name in _top_level_names(path) - {"__all__"}:
            assert name not in seen, f"{name} is defined in {seen[name]} and {path.name}"
            seen[name] = path.name
    for probe in sorted({c.probe_file() for c in registry().values()} - set(parts)):
        clashes = _top_level_names(probe) & set(seen)
        assert not clashes, f"{probe.name} redefines {sorted(clashes)} of the shared parts"


@pytest.mark.parametrize("forged", ["no nonce", "wrong nonce", "not a dict"])
def test_a_result_not_bound_to_the_challenge_is_refused(tmp_path, forged):
    check = registry()["hyperparameters_within_the_seed_bounds"]
    challenge, _ = protocol.prepare(check, tmp_path, seed=1)
    good = {name: {"kind": "int", "value": 64} for name in ("BATCH_SIZE", "EPOCHS", "HIDDEN_SIZE")}
    good.update(LR={"kind": "float", "value": 0.01}, SIGMA={"kind": "float", "value": 0.2})
    result = {"no nonce": good, "wrong nonce": {**good, "nonce": "0" * 32}, "not a dict": [good]}[forged]
    path = tmp_path / "out.json"
    codec.write(str(path), result)
    with pytest.raises(AssertionError):
        protocol.judge(check, challenge, path)
    path.unlink()
    codec.write(str(path), {**good, "nonce": challenge["nonce"]})
    protocol.judge(check, challenge, path)  # the same data, bound to the challenge, passes
