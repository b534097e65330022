"""Stage 3 — the data: tasks, seeded samples, the disk cache and the DataModule.

Imports are lazy so that generation processes do not pay for torch and Lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Cache": ".cache",
    "ensure_cache": ".cache",
    "DiffusionDataModule": ".datamodule",
    "generate_raw": ".sampling",
    "to_batch": ".batch",
    "SPLITS": ".tasks",
    "SplitSpec": ".tasks",
    "TaskSpec": ".tasks",
    "all_tasks": ".tasks",
    "load_task": ".tasks",
    "task_names": ".tasks",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
