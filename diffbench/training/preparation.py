"""A run's setup, resolved once for every seed of it: :func:`prepare` checks the options the
training needs, builds the network once (to learn its name and size), prepares the data module
and makes the run's output folder, and returns a :class:`Setup`; with it the accelerator
(:func:`resolve_accelerator`), the CPU threads per process (:func:`cpu_threads`), the global
batch split over the processes (:func:`split_batch`), the precision check and the output
folder's checks. Training a seed with it is :mod:`diffbench.training.run`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data import DiffusionDataModule, load_task
from ..errors import DiffbenchError
from ..models import check_output, count_parameters, create, model_origin, model_spec
from .console import quiet_foreign_noise
from .environment import is_ddp_child
from .losses import make_loss
from .options import ACCELERATORS, PRECISIONS, check_choice, check_cpu_devices, check_positive_int
from .recipes import resolve_recipe
from .wandb_logging import check_mode


def resolve_accelerator(accelerator: str, devices: int, num_nodes: int) -> str:
    check_choice("--accelerator", accelerator, ACCELERATORS)
    check_positive_int("--devices", devices)
    check_positive_int("--num-nodes", num_nodes)
    chosen = accelerator == "auto"
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    if accelerator == "gpu":
        have = torch.cuda.device_count()
        if have == 0:
            raise DiffbenchError(
                "--accelerator gpu asked for, but no CUDA GPU is visible to torch; use --accelerator cpu"
            )
        if devices > have:
            raise DiffbenchError(f"--devices {devices} asks for more GPUs than exist here ({have})")
    else:
        check_cpu_devices(devices, no_gpu=chosen)
    return accelerator


def cpu_threads(devices: int) -> int:
    """Torch threads per process on the CPU: ``$DIFFBENCH_THREADS``, else the cores per process,
    minus cores other processes keep busy (a 2-thread step ran 5x slower than a 1-thread one
    with the other core taken), never fewer than 1. Recorded in result.json's hardware."""
    env = os.environ.get("DIFFBENCH_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise DiffbenchError(f"DIFFBENCH_THREADS must be a positive integer, got {env!r}") from None
    cores = os.cpu_count() or 1
    per_process = max(1, cores // devices)
    try:
        busy = int(round(os.getloadavg()[0]))
    except OSError:
        busy = 0
    return max(1, min(per_process, cores - busy))


@dataclass
class Setup:
    """What :func:`prepare` resolved once for every seed of a run."""

    cfg: Any
    task: Any
    dm: Any
    spec: dict[str, Any]
    info: dict[str, Any]
    n_params: int
    recipe: dict[str, Any]
    max_epochs: int
    accelerator: str
    wandb_mode: str
    run_id: str
    out_dir: Path
    #: The global training batch (``dm.batch_size`` is one process's share).
    batch_size: int = 0

    @property
    def model_name(self) -> str:
        return self.info["name"]


def prepare(cfg: Any, *, adapt_model: Callable[[Any, Any], Any] | None = None, test: bool = True) -> Setup:
    """Check the training options, probe the network and prepare the data and output folder.

    ``test`` False: the test split is never set up (tuning, :mod:`diffbench.tuning`, scores on
    validation only).

    ``adapt_model(probe, task)`` may return another network to train instead of the probe
    (the pipeline rebuilds it with dropout when MC-dropout indicators are asked for).
    ``cfg.run_id(model_name, task_name)`` names the run's folder under ``cfg.out``.
    """
    quiet_foreign_noise()
    task = load_task(cfg.task)
    accelerator = resolve_accelerator(cfg.accelerator, cfg.devices, cfg.num_nodes)
    max_epochs = cfg.max_epochs if cfg.max_epochs is not None else int(task.training.get("max_epochs", 20))
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or (max_epochs < 1 and cfg.max_steps is None):
        raise DiffbenchError(f"--max-epochs must be a positive integer, got {max_epochs!r}")
    if cfg.max_steps is not None and cfg.max_epochs is None:
        max_epochs = -1  # the step budget decides
    recipe = resolve_recipe(cfg.recipe or task.training.get("recipe", "paper"), lr=cfg.lr)
    batch_size, per_process = split_batch(cfg.batch_size, task, cfg.devices * cfg.num_nodes)
    wandb_mode = check_mode(cfg.wandb_mode)
    make_loss(cfg.loss)  # validate the name early
    check_precision(cfg.precision, accelerator)

    # Build once to validate the model and learn its name and size (cheap).
    probe = create(cfg.model, in_channels=task.in_channels, lattice=task.lattice, **cfg.model_args)
    if adapt_model is not None:
        probe = adapt_model(probe, task)
    check_output(
        probe, task.in_channels, task.lattice
    )  # float64, tuple or non-finite output: one line, before training
    spec = model_spec(probe)
    info = model_origin(spec)  # reads metadata only: a run of a built-in imports no plugin
    n_params = count_parameters(probe)
    del probe

    dm = DiffusionDataModule(
        task,
        data_dir=cfg.data_dir,
        batch_size=per_process,
        num_workers=cfg.num_workers,
        train_counts=cfg.train_counts,
        test_counts=cfg.test_counts,
        val_counts=cfg.test_counts,
        train_fraction=cfg.train_fraction,
        progress=cfg.progress,
    )
    run_id = cfg.run_id(info["name"], task.name)
    out_dir = (Path(cfg.out) / run_id).absolute()
    child = is_ddp_child()
    if not child:
        prepare_out_dir(out_dir, cfg.resume)
        dm.prepare_data()
    dm.setup("fit")
    if test:
        dm.setup("test")
    if accelerator == "cpu":
        torch.set_num_threads(cpu_threads(cfg.devices))
    return Setup(
        cfg, task, dm, spec, info, n_params, recipe, max_epochs, accelerator, wandb_mode, run_id, out_dir, batch_size
    )


def split_batch(batch_size: int | None, task: Any, processes: int) -> tuple[int, int]:
    """``(global, per process)`` batch: ``--batch-size`` (default: the task's) is the global
    batch, each of the ``processes`` DDP processes takes an equal share, so a run takes the
    same optimiser steps on one device as on many.

    >>> from types import SimpleNamespace
    >>> split_batch(16, None, 2), split_batch(None, SimpleNamespace(training={"batch_size": 25}), 1)
    ((16, 8), (25, 25))
    >>> split_batch(25, None, 2)
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: --batch-size 25 is the global batch and must split evenly over the 2 processes (--devices x --num-nodes); use a multiple of 2
    """
    total = batch_size if batch_size is not None else int(task.training.get("batch_size", 25))
    if total % processes:
        raise DiffbenchError(
            f"--batch-size {total} is the global batch and must split evenly over the {processes} processes "
            f"(--devices x --num-nodes); use a multiple of {processes}"
        )
    return total, total // processes


def check_precision(precision: str, accelerator: str) -> None:
    check_choice("--precision", precision, PRECISIONS)
    if precision == "16-mixed" and accelerator == "cpu":
        raise DiffbenchError("precision 16-mixed needs a GPU; on the CPU use 32-true or bf16-mixed")


def prepare_out_dir(out_dir: Path, resume: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()) and not resume:
        done = (out_dir / "result.json").exists()
        state = "a finished run" if done else "an unfinished run"
        raise DiffbenchError(
            f"{out_dir} already holds {state} of this configuration; pass --resume to continue it or --out elsewhere"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise DiffbenchError(
            f"output dir {out_dir} is not writable ({exc.strerror}); choose another with --out"
        ) from None
