"""The options of ``diffbench run``: :class:`RunConfig`.

The run id hashes every option except the bookkeeping ones, so rerunning the same command
with ``--resume`` finds the same folder; :meth:`RunConfig.command` is the canonical command
that reproduces the run.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import DiffbenchError


@dataclass
class RunConfig:
    """Everything that defines a run (the run id hashes all but bookkeeping fields)."""

    model: Any = "unet-small"
    task: str = "standard-64"
    seeds: list[int] = field(default_factory=lambda: [0])
    devices: int = 1
    accelerator: str = "auto"
    num_nodes: int = 1
    max_epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    loss: str = "mae"
    recipe: str | None = None
    precision: str = "32-true"
    train_counts: list[int] | None = None
    test_counts: list[int] | None = None
    train_fraction: float = 1.0
    model_args: dict[str, Any] = field(default_factory=dict)
    max_steps: int | None = None
    check_val_every_n_epoch: int = 1
    uq: list[str] = field(default_factory=list)  # error indicators (diffbench.trust.indicators)
    channels_last: bool = False  # memory format of the network and its inputs
    # bookkeeping (not hashed)
    out: str = "runs"
    data_dir: str | None = None
    wandb_mode: str | None = None
    wandb_project: str = "diffbench"
    num_workers: int = 0
    resume: bool = False
    progress: bool = True
    images: int = 3
    wandb_group: str | None = None

    BOOKKEEPING = ("out", "data_dir", "wandb_mode", "wandb_project", "num_workers", "resume", "progress", "images", "wandb_group")
    #: Fields left out of the run id while they hold their default, so older run ids stay valid.
    OPTIONAL = {"max_steps": None, "check_val_every_n_epoch": 1, "uq": [], "channels_last": False}

    def identity(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items()
                if k not in self.BOOKKEEPING and not (k in self.OPTIONAL and v == self.OPTIONAL[k])}

    def run_id(self, model_name: str, task_name: str) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()[:10]
        safe = file_safe(model_name, 40)
        return f"{task_name}--{safe}--{digest}"

    def validate(self) -> None:
        """The checks on the options that need no task, model or hardware."""
        if not self.seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise DiffbenchError(f"--seeds must be non-negative integers, e.g. 0,1,2; got {self.seeds!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise DiffbenchError(f"--seeds must not repeat a seed, got {self.seeds!r}")
        if self.max_steps is not None and (isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise DiffbenchError(f"--max-steps must be a positive integer, got {self.max_steps!r}")
        v = self.check_val_every_n_epoch
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise DiffbenchError(f"--val-every must be a positive integer, got {v!r}")

    def command(self) -> str:
        """The canonical command that reproduces this run, every data-defining option explicit."""
        parts = ["diffbench", "run", "--model", self.model if isinstance(self.model, str) else json.dumps(self.model),
                 "--task", self.task, "--seeds", ",".join(map(str, self.seeds)), "--devices", str(self.devices),
                 "--accelerator", self.accelerator, "--precision", self.precision, "--loss", self.loss]
        for flag, value in (("--max-epochs", self.max_epochs), ("--batch-size", self.batch_size), ("--lr", self.lr),
                            ("--recipe", self.recipe), ("--num-nodes", self.num_nodes if self.num_nodes != 1 else None)):
            if value is not None:
                parts += [flag, str(value)]
        if self.train_counts:
            parts += ["--train-counts", _counts_text(self.train_counts)]
        if self.test_counts:
            parts += ["--test-counts", _counts_text(self.test_counts)]
        if self.train_fraction != 1.0:
            parts += ["--train-fraction", repr(self.train_fraction)]
        if self.model_args:
            parts += ["--model-args", json.dumps(self.model_args, sort_keys=True)]
        if self.max_steps is not None:
            parts += ["--max-steps", str(self.max_steps)]
        if self.check_val_every_n_epoch != 1:
            parts += ["--val-every", str(self.check_val_every_n_epoch)]
        if self.uq:
            parts += ["--uq", ",".join(self.uq)]
        if self.channels_last:
            parts.append("--channels-last")
        return " ".join(shlex.quote(p) for p in parts)


def file_safe(text: Any, limit: int) -> str:
    """``text`` fit for a file name: every character but letters, digits, ``-``, ``_`` and ``.``
    becomes ``-``; at most ``limit`` characters.

    >>> file_safe("pkg.mod:Net v2", 12)
    'pkg.mod-Net-'
    """
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text))[:limit]


def _counts_text(counts: list[int]) -> str:
    c = sorted(counts)
    return f"{c[0]}-{c[-1]}" if c == list(range(c[0], c[-1] + 1)) else ",".join(map(str, c))
