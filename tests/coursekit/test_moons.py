"""The two-moons data every part of the score-matching assignment takes (coursekit.moons)."""

from __future__ import annotations

import numpy as np

from reference_solution.coursekit.moons import generate_moons_data, make_moons_data, moons_points
from reference_solution.score_matching import generate_moons_data as reexported


def test_moons_data_split_and_seed():
    tr, trl, te, tel = make_moons_data(1000, seed=3)
    assert tr.shape == (800, 2) and te.shape == (200, 2) and tr.dtype.name == "float32"
    assert trl.shape == (800,) and tel.shape == (200,)
    assert (generate_moons_data(1000, seed=3)[0] == tr).all()
    assert not np.array_equal(make_moons_data(1000, seed=4)[0], tr)


def test_split_is_the_first_points_in_order():
    points, labels = moons_points(1000, seed=3)
    tr, trl, te, tel = make_moons_data(1000, seed=3)
    np.testing.assert_array_equal(tr, points[:800].astype("float32"))
    np.testing.assert_array_equal(tel, labels[800:])


def test_solutions_use_the_same_function():
    assert reexported is generate_moons_data
