"""The trust options of a run, torch-free: the error indicators ``--uq`` accepts."""

from __future__ import annotations

from typing import Any

from ..errors import DiffbenchError

#: The indicators ``--uq`` accepts, in reporting order (see :mod:`diffbench.trust.indicators`).
INDICATORS = ("mc-dropout", "residual", "inverse", "ensemble")


def parse_uq(value: Any) -> list[str]:
    """``"mc-dropout,residual"`` (or a list) into a validated list in :data:`INDICATORS` order.

    Examples
    --------
    >>> parse_uq("residual, mc-dropout")
    ['mc-dropout', 'residual']
    >>> parse_uq("")
    []
    """
    if value is None:
        return []
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(p, str) for p in value):
        parts = [p.strip() for p in value]
    else:
        raise DiffbenchError(f"--uq must be a comma-separated list of {', '.join(INDICATORS)}, got {value!r}")
    unknown = [p for p in parts if p not in INDICATORS]
    if unknown:
        raise DiffbenchError(
            f"unknown --uq indicator(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(INDICATORS)}"
        )
    if len(set(parts)) != len(parts):
        raise DiffbenchError(f"--uq names an indicator twice: {value!r}")
    return [name for name in INDICATORS if name in parts]
