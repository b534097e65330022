"""Lightning callbacks of a training run, each a top-level class.

:class:`TrainTimer` keeps the training time in its ``state_dict`` (as Lightning's own
``Timer`` does), so a seed resumed from its last checkpoint reports the time before the
interruption too. :class:`ChannelsLastInputs` hands every batch's input to the network in the
channels-last memory format (``--channels-last``).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback


class TrainTimer(Callback):
    """Training time that survives checkpoints: ``elapsed()`` includes the time before a resume.

    >>> timer = TrainTimer()
    >>> timer.load_state_dict({"elapsed": 2.5})
    >>> timer.elapsed()
    2.5
    """

    def __init__(self) -> None:
        self.before = 0.0
        self.start: float | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return self.before + (time.perf_counter() - self.start if self.start is not None else 0.0)

    def state_dict(self) -> dict[str, float]:
        return {"elapsed": self.elapsed()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.before = float(state.get("elapsed", 0.0))


def channels_last_input(batch: Any) -> None:
    """Convert ``batch["input"]`` (a 4-d tensor) to the channels-last memory format, in place.

    >>> batch = {"input": torch.zeros(2, 3, 4, 4)}
    >>> channels_last_input(batch)
    >>> batch["input"].is_contiguous(memory_format=torch.channels_last)
    True
    """
    if isinstance(batch, dict) and torch.is_tensor(batch.get("input")) and batch["input"].ndim == 4:
        batch["input"] = batch["input"].contiguous(memory_format=torch.channels_last)


class ChannelsLastInputs(Callback):
    """Every training, validation and test batch's input in the channels-last memory format
    (``--channels-last``; the network's weights are converted too)."""

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        channels_last_input(batch)

    def on_validation_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        channels_last_input(batch)

    def on_test_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        channels_last_input(batch)
