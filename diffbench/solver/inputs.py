"""The checks and conversions of ``solve``'s inputs: the source (:func:`check_source`), the
coefficients as float64 arrays of the source's shape or one value per sample
(:func:`as_float_array`, :func:`expand_per_sample`), each refusal one line."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DiffbenchError
from .backend import array_module


def as_float_array(name: str, value: Any, shape: tuple[int, ...], xp: Any, per_sample: bool = False) -> Any:
    """``value`` as float64 of ``shape``; with ``per_sample``, a value constant over each
    sample's lattice (a scalar, (B, 1, 1), ...) stays (B, 1, 1) instead of being expanded."""
    arr = xp.asarray(value, dtype=xp.float64)
    if per_sample and arr.ndim <= 3 and all(s == 1 for s in arr.shape[-2:]):
        try:
            return xp.ascontiguousarray(xp.broadcast_to(arr, shape[:1] + (1, 1)))
        except ValueError:
            pass  # e.g. (2, 1, 1) against a batch of 3: refused below with the full shape
    try:
        arr = xp.broadcast_to(arr, shape)
    except ValueError:
        raise DiffbenchError(
            f"{name} must be a scalar or an array of the source's shape {shape}, got shape {tuple(arr.shape)}"
        ) from None
    return xp.ascontiguousarray(arr)


def full_lattice(a: Any, shape: tuple[int, ...], xp: Any) -> Any:
    """A (B, 1, 1) coefficient as a (B, N, N) array (a read-only broadcast view: no copy)."""
    return a if tuple(a.shape) == shape else xp.broadcast_to(a, shape)


def check_source(source: Any) -> tuple[Any, Any, bool]:
    """``(s, xp, single)``: the source as float64 (B, N, N) of its own library, and whether it was one (N, N) sample."""
    if isinstance(source, (list, tuple)):
        source = np.asarray(source)
    try:
        xp = array_module(source)
    except DiffbenchError:
        raise DiffbenchError(
            f"source must be a NumPy or CuPy array of shape (N, N) or (B, N, N), got {type(source).__name__}"
        ) from None
    if xp is np:
        source = np.asarray(source)  # a Python scalar or a string passes array_module as "NumPy"
    if source.ndim not in (2, 3):
        raise DiffbenchError(
            f"source must have shape (N, N) or (B, N, N), got {source.ndim} dimensions {tuple(source.shape)}"
        )
    if source.shape[-1] != source.shape[-2]:
        raise DiffbenchError(f"source must be square (N, N), got {tuple(source.shape[-2:])}")
    if source.shape[-1] < 8:
        raise DiffbenchError(f"lattice size N must be at least 8, got {source.shape[-1]}")
    if source.dtype.kind not in "fiu" or source.dtype.kind == "b":
        raise DiffbenchError(f"source must hold real numbers (float or int), got dtype {source.dtype}")
    single = source.ndim == 2
    s = xp.asarray(source, dtype=xp.float64)
    if single:
        s = s[None]
    if not bool(xp.isfinite(s).all()):
        raise DiffbenchError("source contains NaN or infinite values; it must be finite")
    return s, xp, single


def expand_per_sample(name: str, value: Any, shape: tuple[int, ...]) -> Any:
    """A (B,) array means one value per sample (shaped (B, 1, 1)); any other 1-D array is an error.

    A 1-D array is never broadcast along the column axis: with B == N that would silently turn
    per-sample values into a profile across x.
    """
    if getattr(value, "ndim", 0) != 1:
        return value
    if value.shape[0] == shape[0]:
        return value[:, None, None]
    raise DiffbenchError(
        f"{name} must be a scalar, one value per sample (shape ({shape[0]},)) or an array of the source's "
        f"shape {tuple(shape[-2:])} or {tuple(shape)}, got shape {tuple(value.shape)}"
    )
