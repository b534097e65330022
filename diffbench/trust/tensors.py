"""Small tensor helpers the trust stage shares: the dtype a model computes in, a split in
order and in batches, a batch on a device, seeded randomness, the per-sample error."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch


def param_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating dtype of the model's parameters (float32 for a parameter-free model), so
    inputs match a model trained under a ``64-true`` or ``bf16-true`` precision."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def per_sample_mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean |pred - target|`` over each sample's lattice, float64 (B,)."""
    return (pred.double() - target.double()).abs().flatten(1).mean(dim=1)


def inverse_input(field: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The inverse network's input: ``x`` with channel 0 replaced by ``field`` (B, 1, N, N)."""
    return torch.cat([field.to(x.dtype), x[:, 1:]], dim=1)


def iterate_split(dataset: Any, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
    """Every sample of a :class:`SplitDataset` in order, in batches, on this process alone
    (no distributed sampler: the indicators are computed on rank 0 only)."""
    n = len(dataset)
    for start in range(0, n, batch_size):
        yield dataset.__getitems__(list(range(start, min(n, start + batch_size))))


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """A context with torch's RNG (CPU and ``device``) seeded, restored on exit: the indicators'
    randomness (dropout masks, the inverse network's initialisation) is reproducible, whether
    the run was resumed or not, and leaves the training RNG alone."""
    devices = (
        [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    )
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def to_device(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
