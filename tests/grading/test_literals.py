"""grading.literals: settings read from a cell's source, in the grader."""

from __future__ import annotations

import pytest

from reference_solution.grading.literals import NotLiteral, assigned_numbers

NAMES = ["EPOCHS", "LR"]


@pytest.mark.parametrize(("source", "want"), [
    ("EPOCHS = 100\nLR = 5e-3", {"EPOCHS": 100, "LR": 5e-3}),
    ("### BEGIN SOLUTION\nEPOCHS = 100  # > 50\nLR = 5e-3\n### END SOLUTION", {"EPOCHS": 100, "LR": 5e-3}),
    ("EPOCHS, LR = 2 ** 7, 1e-3 * 5", {"EPOCHS": 128, "LR": 5e-3}),
    ("BASE = 1e-3\nLR = BASE * 5\nEPOCHS: int = 60 + 40", {"EPOCHS": 100, "LR": 5e-3}),
    ("%matplotlib inline\nEPOCHS = 10\nEPOCHS = 100\nLR = -(-5e-3)", {"EPOCHS": 100, "LR": 5e-3}),
    ("import torch\nx = torch.zeros(3)\nEPOCHS = 100\nLR = 5e-3", {"EPOCHS": 100, "LR": 5e-3}),
])
def test_plain_numbers_and_arithmetic_are_read(source, want):
    got = assigned_numbers(source, NAMES)
    assert got == want and all(type(got[k]) is type(want[k]) for k in want)


@pytest.mark.parametrize("source", [
    None, "", "# YOUR CODE HERE\nraise NotImplementedError()", "EPOCHS = 100",
    "EPOCHS = int('100')\nLR = 5e-3", "EPOCHS = 100\nLR = float(5e-3)", "EPOCHS = 100\nLR = 10 ** 400 * 1.0",
    "EPOCHS = 100\nLR = 1 / 0", "EPOCHS = 100\nLR = (-1) ** 0.5", "EPOCHS = 100\nLR = 2 ** 10 ** 10",
    "EPOCHS = True\nLR = 5e-3", "EPOCHS = 100\nLR = '5e-3'", "EPOCHS = (\n", "EPOCHS = 100\nLR = __import__('os')",
])
def test_anything_else_is_refused_with_the_setting_named(source):
    with pytest.raises(NotLiteral):
        assigned_numbers(source, NAMES)


def test_a_value_not_read_is_never_a_stale_one():
    with pytest.raises(NotLiteral, match="LR"):
        assigned_numbers("LR = 5e-3\nLR = compute()\nEPOCHS = 100", NAMES)


@pytest.mark.parametrize(("source", "want"), [
    ("opt_gen = torch.optim.Adam(gen.parameters(), lr=1e-3 if not ON_GPU else 1e-4, betas=(0.5, 0.9))", {"gen"}),
    ("opt_gen = torch.optim.SGD(params=list(gen.parameters()), lr=0.1)", {"list", "gen"}),
    ("opt_gen = torch.optim.Adam(dsc.parameters())\nopt_gen = torch.optim.Adam(gen.parameters())", {"gen"}),
    ("opt_gen = make([{'params': gen.parameters()}, {'params': dsc.parameters()}])", {"gen", "dsc"}),
])
def test_the_variables_an_optimizer_is_built_on_are_read(source, want):
    from reference_solution.grading.literals import call_argument_names

    assert call_argument_names(source, "opt_gen") == want


@pytest.mark.parametrize("source", [None, "# YOUR CODE HERE\nraise NotImplementedError()", "opt_gen = None",
                                    "opt_gen = torch.optim.Adam()", "opt_dsc = torch.optim.Adam(gen.parameters())"])
def test_an_optimizer_not_built_in_the_cell_is_refused(source):
    from reference_solution.grading.literals import call_argument_names

    with pytest.raises(NotLiteral):
        call_argument_names(source, "opt_gen")
