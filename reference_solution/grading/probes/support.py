"""Helpers every probe may use (kernel side; executed as source next to student code)."""

import contextlib
import io
import math
import warnings

import numpy as np
import torch
from torch.utils.data import Dataset


class Images(Dataset):
    """A tensor of states as a dataset (what the student's ``train_model`` takes)."""

    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


class ProbeFailure(Exception):
    """A step of the probe failed; the message is shown to the student."""


def need(ns: dict, name: str):
    """The student's object ``name``, or a failure that says which cell to run."""
    if name not in ns:
        raise ProbeFailure(f"`{name}` is not defined: run the cell that defines it first")
    return ns[name]


def call(what: str, fn, *args, **kwargs):
    """Run student code; an exception becomes a failure naming the call."""
    try:
        return fn(*args, **kwargs)
    except ProbeFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - any crash of student code fails the check
        raise ProbeFailure(f"{what} raised {type(exc).__name__}: {exc}") from None


def attempt(fn, *args, **kwargs) -> dict:
    """``{"value": fn(...)}`` or ``{"error": "<type>: <message>"}``: an outcome as data."""
    try:
        return {"value": fn(*args, **kwargs)}
    except Exception as exc:  # noqa: BLE001
        return {"error": f"{type(exc).__name__}: {exc}"[:400]}


def seed_all(seed: int) -> None:
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def kind(value) -> str:
    """A short type name: ``tensor``, ``ndarray`` or the class name."""
    if type(value) is torch.Tensor:
        return "tensor"
    if type(value) is np.ndarray:
        return "ndarray"
    return type(value).__name__


def array(value, what: str):
    """A tensor or numpy array of plain numbers, detached; anything else is a failure."""
    if type(value) is torch.Tensor:
        t = value.detach()
        if t.is_complex() or t.dtype == torch.bfloat16:
            t = t.float()
        return t.cpu()
    if type(value) is np.ndarray and value.dtype.kind in "biuf":
        return value
    raise ProbeFailure(f"{what} should be a torch.Tensor or a numpy array, got {type(value).__name__}")


def number(value, what: str):
    """A Python number from a number, a 0-d/1-element tensor or array; anything else fails."""
    if type(value) is torch.Tensor and value.numel() == 1:
        value = value.item()
    elif type(value) is np.ndarray and value.size == 1:
        value = value.item()
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if type(value) not in (int, float):
        raise ProbeFailure(f"{what} should be a number, got {type(value).__name__}")
    return value


def tensor_in(value) -> torch.Tensor:
    """A challenge array as a (writable) float32/int64 tensor."""
    return torch.from_numpy(np.array(value))


@contextlib.contextmanager
def quiet():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def cell_defining(ns: dict, name: str) -> str:
    """The latest input cell of this kernel that assigns ``name`` (a plain kernel: IPython's ``In``;
    under grading the executor sends the submitted cell instead)."""
    import re

    pattern = re.compile(rf"^\s*{re.escape(name)}\s*(:[^=]*)?=", re.M)
    for source in reversed(list(ns.get("In") or [])):
        if isinstance(source, str) and pattern.search(source):
            return source
    raise ProbeFailure(f"no cell of this notebook assigns `{name}`: run the cell that defines it")


class _Pinned(dict):
    """A cell's top-level names, where the grader's values of ``pinned`` cannot be reassigned."""

    def __init__(self, pinned: dict):
        super().__init__(pinned)
        self.pinned = dict(pinned)

    def __setitem__(self, key, value):
        if key not in self.pinned:
            super().__setitem__(key, value)


def rerun_cell(ns: dict, source: str, overrides: dict) -> dict:
    """Run a notebook cell again on a copy of the student's namespace with ``overrides`` (which the
    cell cannot reassign); return the names it leaves. Magics are turned into Python first."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except ImportError:
        pass
    scope = dict(ns)
    scope.update(overrides)
    local = _Pinned(overrides)
    try:
        exec(compile(source, "<the student's cell, run again>", "exec"), scope, local)  # noqa: S102
    except Exception as exc:  # noqa: BLE001
        raise ProbeFailure(f"your cell raised {type(exc).__name__} when run again with "
                           f"{', '.join(f'{k} = {v!r}' for k, v in overrides.items())}: {exc}") from None
    scope.update(local)
    return scope


@contextlib.contextmanager
def pinned(ns: dict, names: dict):
    """The student's ``names`` replaced by the grader's while a call runs (so that a bug elsewhere
    in the notebook costs only its own check's points), then put back."""
    missing = object()
    saved = {k: ns.get(k, missing) for k in names}
    ns.update(names)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                ns.pop(k, None)
            else:
                ns[k] = v
