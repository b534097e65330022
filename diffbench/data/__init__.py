"""Stage 3 — the data: tasks, seeded samples, the disk cache and the DataModule."""

from .cache import Cache, ensure_cache
from .datamodule import DiffusionDataModule
from .sampling import generate_raw, to_batch
from .tasks import SPLITS, SplitSpec, TaskSpec, all_tasks, load_task, task_names

__all__ = [
    "Cache",
    "DiffusionDataModule",
    "SPLITS",
    "SplitSpec",
    "TaskSpec",
    "all_tasks",
    "ensure_cache",
    "generate_raw",
    "load_task",
    "task_names",
    "to_batch",
]
