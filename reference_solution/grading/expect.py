"""Strict readers of a probe's data: what a verdict may take out of a result, and nothing else.

A result is whatever the student's kernel chose to write, so a verdict never pairs the
challenge's cases with "however many came back" and never lets NaN or inf through: every value is
read through these functions, which raise ``AssertionError`` (a failed check, with a message for
the student) when a key is missing, a list has the wrong length, an array has the wrong shape or
dtype, or a number is not finite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["entry", "cases", "array", "number", "integer", "flag", "text", "rows"]

FLOAT_KINDS = "f"
NUMBER_KINDS = "biuf"


def entry(tree, key: str, what: str | None = None):
    """``tree[key]`` of a result dict; a missing key or a non-dict fails the check."""
    if not isinstance(tree, dict) or key not in tree:
        raise AssertionError(f"the data your code returned has no {what or repr(key)}")
    return tree[key]


def cases(tree, key: str, n: int, what: str = "cases") -> list:
    """Exactly ``n`` entries under ``key``: one per case the challenge asked for."""
    values = entry(tree, key, what)
    if not isinstance(values, list) or len(values) != n:
        found = len(values) if isinstance(values, list) else type(values).__name__
        raise AssertionError(f"expected {n} {what}, got {found}")
    return values


def array(value, what: str, shape: Sequence[int | None] | None = None, kinds: str = NUMBER_KINDS,
          dtype: str | None = None, finite: bool = True) -> np.ndarray:
    """A numeric array of the given ``shape`` (``None`` entries match any length), dtype kind and,
    by default, finite values only."""
    if not isinstance(value, np.ndarray):
        raise AssertionError(f"{what} should be an array, got {type(value).__name__}")
    if value.dtype.kind not in kinds:
        raise AssertionError(f"{what} should hold numbers of kind {kinds!r}, got {value.dtype}")
    if dtype is not None and value.dtype != np.dtype(dtype):
        raise AssertionError(f"{what} should be {dtype}, got {value.dtype}")
    if shape is not None:
        ok = value.ndim == len(shape) and all(s is None or s == d for s, d in zip(shape, value.shape))
        if not ok:
            want = tuple("*" if s is None else s for s in shape)
            raise AssertionError(f"{what} should have shape {want}, got {tuple(value.shape)}")
    if finite and value.dtype.kind == "f" and value.size and not np.isfinite(value).all():
        raise AssertionError(f"{what} holds NaN or inf")
    return value


def rows(value, what: str, n: int | None, width: int) -> np.ndarray:
    """An ``(n, width)`` array of finite numbers as float64."""
    return array(value, what, shape=(n, width)).astype(np.float64)


def number(value, what: str, finite: bool = True) -> float:
    """A plain number (not a bool); NaN and inf fail unless ``finite=False``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AssertionError(f"{what} should be a number, got {type(value).__name__}")
    if finite and not math.isfinite(value):
        raise AssertionError(f"{what} should be a finite number, got {value}")
    return float(value)


def integer(value, what: str) -> int:
    """A plain int (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AssertionError(f"{what} should be an integer, got {type(value).__name__}")
    return value


def flag(value, what: str) -> bool:
    """A plain bool."""
    if not isinstance(value, bool):
        raise AssertionError(f"{what} should be true or false, got {type(value).__name__}")
    return value


def text(value, what: str, choices: Sequence[str] | None = None) -> str:
    """A string, one of ``choices`` when given."""
    if not isinstance(value, str) or (choices is not None and value not in choices):
        raise AssertionError(f"{what} should be one of {list(choices) if choices else 'str'}, got {value!r}")
    return value
