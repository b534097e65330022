"""Lazy package exports: a stage's names are imported on first use, so the command line and
generation processes do not pay for torch or Lightning they never touch."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` resolving ``name`` from ``exports[name]`` (a module relative to
    ``package``, or an absolute one for a name another package defines)."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
