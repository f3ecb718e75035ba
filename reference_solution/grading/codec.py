"""Plain data between the grading kernel and the trusted grader: one JSON file, no pickle.

A probe running next to student code returns a tree of ``dict`` (string keys), ``list``,
``str``, ``int``, ``float``, ``bool``, ``None`` and numeric arrays (numpy arrays or torch
tensors, stored as base64 of their raw little-endian bytes with dtype and shape). The trusted
grader reads such a file with ``json.loads`` and ``np.frombuffer`` on a fixed set of dtypes:
nothing in it can run code, name a class, or point at another file.

This module is executed in two places: imported by the grader, and sent as source text into the
grading kernel (``protocol.runner_source``). It must therefore import nothing but the standard
library and numpy (torch is optional: tensors are converted when torch is already loaded).
"""

from __future__ import annotations

import base64
import json
import math
import os
import stat
import sys

import numpy as np

#: dtypes that may cross the boundary; anything else is refused when reading
DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64")
MAX_DEPTH = 32
ARRAY_KEY = "__array__"


class CodecError(ValueError):
    """The data cannot be written or read as plain data."""


def _codec_array(value) -> np.ndarray | None:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach()
        if t.device.type != "cpu":
            t = t.to("cpu")
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.contiguous().numpy()
    if isinstance(value, np.ndarray):
        return value
    return None


def encode(value, depth: int = 0):
    """``value`` as a JSON-ready tree; arrays become ``{"__array__": dtype, "shape", "data"}``."""
    if depth > MAX_DEPTH:
        raise CodecError("data nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else {"__float__": repr(v)}
    array = _codec_array(value)
    if array is not None:
        if array.dtype.name not in DTYPES:
            raise CodecError(f"arrays of dtype {array.dtype} cannot be sent")
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        return {ARRAY_KEY: array.dtype.name, "shape": list(array.shape),
                "data": base64.b64encode(data.tobytes()).decode("ascii")}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise CodecError(f"dict keys must be strings, got {type(k).__name__}")
            if k.startswith("__") and k.endswith("__"):
                raise CodecError(f"reserved key {k!r}")
            out[k] = encode(v, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [encode(v, depth + 1) for v in value]
    raise CodecError(f"values of type {type(value).__name__} cannot be sent")


def decode(tree, depth: int = 0):
    """The tree written by :func:`encode`, arrays as read-only numpy arrays."""
    if depth > MAX_DEPTH:
        raise CodecError("data nested too deeply")
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [decode(v, depth + 1) for v in tree]
    if not isinstance(tree, dict):
        raise CodecError(f"unexpected JSON value {type(tree).__name__}")
    if ARRAY_KEY in tree:
        dtype = tree[ARRAY_KEY]
        if dtype not in DTYPES or set(tree) != {ARRAY_KEY, "shape", "data"}:
            raise CodecError(f"malformed array (dtype {dtype!r})")
        shape = tree["shape"]
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise CodecError("malformed array shape")
        raw = base64.b64decode(tree["data"], validate=True)
        expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        if len(raw) != expected:
            raise CodecError(f"array data of {len(raw)} bytes does not fit shape {shape} {dtype}")
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
    if set(tree) == {"__float__"}:
        text = tree["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise CodecError(f"malformed float {text!r}")
        return float(text)
    return {k: decode(v, depth + 1) for k, v in tree.items()}


def write(path: str, value) -> None:
    """Write ``value`` to a new file ``path`` (refuses to follow or replace a link)."""
    text = json.dumps(encode(value), separators=(",", ":"), allow_nan=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def read(path: str, max_bytes: int):
    """Read a file written by :func:`write`: a regular file (not a link) of at most ``max_bytes``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise CodecError("no result was written") from None
    except OSError as exc:
        raise CodecError(f"the result cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise CodecError("the result is not a regular file")
        if info.st_size > max_bytes:
            raise CodecError(f"the result is {info.st_size} bytes, more than the {max_bytes} allowed")
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise CodecError("the result grew while it was read")
    try:
        tree = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise CodecError(f"the result is not valid JSON ({type(exc).__name__})") from None
    return decode(tree)
