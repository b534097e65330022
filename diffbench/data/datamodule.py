"""``DiffusionDataModule``: the benchmark's data, served by number of sources.

Two ways to serve a task:

- ``cache`` (default for small lattices): shards on disk (``diffbench generate``), loaded into
  memory once; generated on first use by ``prepare_data``.
- ``stream``: every batch is generated from its samples' seeds when it is requested, on the
  training device (CuPy on a GPU) — what ``paper-512`` uses, where 400k samples would not fit
  on disk.

Validation and test loaders never pad: under DDP each sample is seen exactly once.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from ..errors import DiffbenchError
from ..solver.backend import get_backend
from .batch import to_batch
from .cache import Cache, default_data_dir
from .generation import ensure_cache
from .sampling import generate_raw
from .spec import SPLITS, TaskSpec
from .tasks import load_task


class SplitDataset(Dataset):
    """Samples ``indices`` of one split, from cached raw arrays or generated on demand.

    ``__getitems__`` builds a whole batch at once (one solve for all of it when streaming).
    """

    def __init__(
        self,
        task: TaskSpec,
        split: str,
        indices: Sequence[int],
        raw: dict[str, Any] | None = None,
        backend: str = "numpy",
    ) -> None:
        self.task, self.split = task, split
        self.indices = np.asarray(indices, dtype=np.int64)
        self.raw = raw
        self.backend = backend

    def __len__(self) -> int:
        return len(self.indices)

    def __getitems__(self, positions: Sequence[int]) -> dict[str, torch.Tensor]:
        idx = self.indices[np.asarray(positions, dtype=np.int64)]
        if self.raw is None:
            raw = generate_raw(self.task, self.split, idx.tolist(), get_backend(self.backend))
        else:
            raw = {k: (v if np.ndim(v) == 0 else v[idx]) for k, v in self.raw.items()}
        return to_batch(raw, self.task)

    def __getitem__(self, position: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([position]).items()}


def collate(batch: Any) -> dict[str, torch.Tensor]:
    """Pass batches built by ``__getitems__`` through; stack lists of single samples."""
    if isinstance(batch, dict):
        return batch
    return {k: torch.stack([b[k] for b in batch]) for k in batch[0]}


class UnpaddedDistributedSampler(DistributedSampler):
    """Rank r takes samples r, r + W, r + 2W, ...: no padding, no duplicates.

    Ranks may get one sample more or less than each other, which evaluation tolerates (no
    gradients are synchronised), and so every sample is scored exactly once.
    """

    def __init__(self, dataset: Dataset, num_replicas: int | None = None, rank: int | None = None) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        self.num_samples = len(range(self.rank, len(dataset), self.num_replicas))
        self.total_size = len(dataset)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.dataset), self.num_replicas))

    def __len__(self) -> int:
        return self.num_samples


def _check_counts(task: TaskSpec, split: str, counts: Sequence[int] | None) -> tuple[int, ...] | None:
    if counts is None:
        return None
    items = tuple(counts) if isinstance(counts, (list, tuple, range, np.ndarray)) else None
    if not items or any(isinstance(c, bool) or not isinstance(c, numbers.Integral) for c in items):
        # int() would have truncated 2.5 to 2 (serving other samples than asked for), and an
        # empty list would have served an empty split.
        raise DiffbenchError(f"{split} counts must be a non-empty list of integer source counts, got {counts!r}")
    counts = tuple(int(c) for c in items)
    available = task.splits[split].counts
    missing = sorted(set(counts) - set(available))
    if missing:
        raise DiffbenchError(
            f"task {task.name!r} has no {split} samples with {missing} sources; its {split} split has counts "
            f"{available[0]}..{available[-1]}"
            if list(available) == list(range(available[0], available[-1] + 1))
            else f"task {task.name!r} has no {split} samples with {missing} sources; available: {list(available)}"
        )
    return counts


class DiffusionDataModule(L.LightningDataModule):
    """A LightningDataModule for one task, with source counts chosen per split.

    Parameters
    ----------
    task : str or TaskSpec
        A task name from ``datamodules/`` (``smoke``, ``standard-64``, ``paper-512``, ...) or a YAML path.
    data_dir : path, optional
        Where the cache lives (default ``$DIFFBENCH_DATA_DIR`` or ``./data``).
    batch_size : int, optional
        Training batch size (default: the task's ``training.batch_size``, else 25).
    train_counts, val_counts, test_counts : sequence of int, optional
        Keep only samples with these numbers of sources (e.g. train on 1-10, test on 11-20).
    train_fraction : float
        Fraction of the training samples of each source count, in (0, 1] (the paper's
        1.25 % ... 100 %); balanced per count and nested.
    serve : "cache" or "stream", optional
        Default: the task's.
    backend : "auto", "numpy" or "cupy"
        Where streamed batches and cache shards are solved.
    pin_memory : bool
        Serve batches from page-locked memory when CUDA is available and the batches are made on
        the CPU (cache, or streaming on NumPy), so their copies to the GPU can overlap compute.
        Off by default; ``benchmarks/test_gpu.py`` measures what it buys.

    Examples
    --------
    >>> dm = DiffusionDataModule("smoke", data_dir="/tmp/diffbench-doc", test_counts=[4, 5])  # doctest: +SKIP
    >>> dm.prepare_data(); dm.setup("test")  # doctest: +SKIP
    >>> batch = next(iter(dm.test_dataloader()))  # doctest: +SKIP
    >>> batch["input"].shape, batch["count"].unique()  # doctest: +SKIP
    (torch.Size([25, 1, 32, 32]), tensor([4, 5]))
    """

    def __init__(
        self,
        task: str | TaskSpec = "standard-64",
        data_dir: str | Path | None = None,
        batch_size: int | None = None,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        train_counts: Sequence[int] | None = None,
        val_counts: Sequence[int] | None = None,
        test_counts: Sequence[int] | None = None,
        train_fraction: float = 1.0,
        serve: str | None = None,
        backend: str = "auto",
        generation_devices: int = 1,
        progress: bool = True,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        self.task = load_task(task)
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        bs = batch_size if batch_size is not None else int(self.task.training.get("batch_size", 25))
        if isinstance(bs, bool) or not isinstance(bs, int) or bs < 1:
            raise DiffbenchError(f"batch size must be a positive integer, got {bs!r}")
        self.batch_size = bs
        ebs = eval_batch_size if eval_batch_size is not None else max(bs, 32)
        if isinstance(ebs, bool) or not isinstance(ebs, int) or ebs < 1:
            raise DiffbenchError(f"eval batch size must be a positive integer, got {ebs!r}")
        self.eval_batch_size = ebs
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise DiffbenchError(f"num_workers must be an integer >= 0, got {num_workers!r}")
        self.num_workers = num_workers
        if not isinstance(pin_memory, bool):
            raise DiffbenchError(f"pin_memory must be true or false, got {pin_memory!r}")
        self.pin_memory = pin_memory
        if isinstance(train_fraction, bool) or not (
            isinstance(train_fraction, (int, float)) and 0 < train_fraction <= 1 and math.isfinite(train_fraction)
        ):
            raise DiffbenchError(f"train fraction must be in (0, 1], got {train_fraction!r}")
        self.train_fraction = float(train_fraction)
        self.counts = {
            "train": _check_counts(self.task, "train", train_counts),
            "test": _check_counts(self.task, "test", test_counts),
            "val": _check_counts(self.task, "val", val_counts),
        }
        self.serve = serve or self.task.serve
        if self.serve not in ("cache", "stream"):
            raise DiffbenchError(f"serve must be 'cache' or 'stream', got {self.serve!r}")
        self.backend = backend
        self.generation_devices = generation_devices
        self.progress = progress
        self.datasets: dict[str, SplitDataset] = {}

    # --------------------------------------------------------------- Lightning hooks
    def prepare_data(self) -> None:
        if self.serve == "cache":
            ensure_cache(
                self.task, self.data_dir, devices=self.generation_devices, backend=self.backend, progress=self.progress
            )

    def split_indices(self, split: str) -> list[int]:
        fraction = self.train_fraction if split == "train" else 1.0
        return self.task.splits[split].indices(self.counts[split], fraction)

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}.get(
            stage or "", SPLITS
        )
        cache = Cache(self.task, self.data_dir / self.task.name) if self.serve == "cache" else None
        for split in wanted:
            if split in self.datasets:
                continue
            raw = None
            if cache is not None:
                manifest = cache.read_manifest()
                todo, problems = cache.status(split, manifest, verify=True)
                if todo:
                    ensure_cache(
                        self.task, self.data_dir, splits=(split,), backend=self.backend, progress=self.progress
                    )
                raw = cache.load_split(split)
            backend = "numpy" if raw is not None else self.backend
            self.datasets[split] = SplitDataset(self.task, split, self.split_indices(split), raw, backend)

    def data_fingerprint(self) -> str | None:
        """Hash of the cache manifest's shard checksums (None when streaming)."""
        if self.serve != "cache":
            return None
        return Cache(self.task, self.data_dir / self.task.name).manifest_hash()

    def _loader(self, split: str, train: bool) -> DataLoader:
        ds = self.datasets.get(split)
        if ds is None:
            self.setup({"train": "fit", "val": "validate", "test": "test"}[split])
            ds = self.datasets[split]
        stream_gpu = ds.raw is None and get_backend(self.backend) is not np
        workers = 0 if stream_gpu else self.num_workers
        pin = self.pin_memory and not stream_gpu and torch.cuda.is_available()
        common = dict(collate_fn=collate, num_workers=workers, persistent_workers=workers > 0, pin_memory=pin)
        if train:
            return DataLoader(ds, batch_size=self.batch_size, shuffle=True, drop_last=False, **common)
        sampler = None
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            sampler = UnpaddedDistributedSampler(ds)
        return DataLoader(ds, batch_size=self.eval_batch_size, shuffle=False, sampler=sampler, **common)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)
