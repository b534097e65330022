"""Helpers for the data tests: small task YAMLs (written into ``tmp_path`` by the tests).

``load_task`` caches parsed files by path, so every variant is written to a new file.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import yaml

#: A small flux task: N = 16, 1-3 disk sources, 4/2/2 samples per count.
BASE_TASK: dict[str, Any] = {
    "name": "tiny",
    "description": "a tiny test task",
    "purpose": "tests",
    "axis": "baseline",
    "lattice": 16,
    "seed": 5,
    "sources": {"shape": "disk", "radius": 2, "strength": [0.0, 1.0], "mode": "flux"},
    "physics": {"diffusivity": 1.0, "decay": 0.0, "boundary": "dirichlet"},
    "splits": {
        "train": {"counts": [1, 3], "per_count": 4},
        "val": {"counts": [1, 3], "per_count": 2},
        "test": {"counts": [1, 3], "per_count": 2},
    },
    "serve": "cache",
    "training": {"max_epochs": 1, "batch_size": 4, "recipe": "fast"},
}

_counter = itertools.count()


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


#: An override value that removes the key.
DELETE = _Delete()


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in recursively; a value of ``DELETE`` removes a key."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is DELETE:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_yaml(directory: Path, raw: Any, stem: str | None = None) -> str:
    """Write ``raw`` to a fresh YAML file under ``directory``; returns its path."""
    stem = stem or new_stem()
    path = directory / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def new_stem() -> str:
    """A file stem never used before in this test session (``load_task`` caches by path)."""
    return f"task{next(_counter)}"


def task_from(directory: Path, overrides: dict[str, Any] | None = None, **kw: Any) -> str:
    """Write BASE_TASK with overrides to a new YAML under ``directory`` (name = file stem)."""
    raw = merge(BASE_TASK, {**(overrides or {}), **kw})
    stem = new_stem()
    if "name" not in (overrides or {}) and "name" not in kw:
        raw["name"] = stem
    directory.mkdir(parents=True, exist_ok=True)
    return write_yaml(directory, raw, stem)
