"""Stage 3 — the data: tasks, seeded samples, the disk cache and the DataModule.

Imports are lazy so that generation processes do not pay for torch and Lightning.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "Cache": ".cache",
    "ensure_cache": ".generation",
    "DiffusionDataModule": ".datamodule",
    "generate_raw": ".sampling",
    "to_batch": ".batch",
    "SPLITS": ".spec",
    "SplitSpec": ".spec",
    "TaskSpec": ".spec",
    "all_tasks": ".tasks",
    "load_task": ".tasks",
    "task_names": ".tasks",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
