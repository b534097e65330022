"""Training one run, seed by seed: the training stage of ``diffbench run``.

:func:`prepare` (:mod:`diffbench.training.preparation`) checks the options the training needs,
builds the network once (to learn its name and size) and the data module, and makes the run's
output folder. :func:`train_seed` seeds everything, builds the network, fits it with
best-on-validation checkpointing (never on test), re-validates and tests the best checkpoint
through the evaluator, times inference and the solver on the same hardware and saves example
images; it returns what it trained (:class:`TrainedSeed`). :func:`finish_seed` logs the seed to W&B and writes
``seed-<k>/result.json`` with the blocks later stages add. The stage knows nothing of those
stages: :mod:`diffbench.pipeline.run` calls them in order. A seed whose ``result.json`` exists
is not trained again, once its checkpoint is found to back it; an interrupted one continues
exactly from its last checkpoint (:mod:`diffbench.training.resume`). Checkpoints are written
atomically and read without running code from them (:mod:`diffbench.training.checkpoint_io`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from PIL import Image

from .. import PROTOCOL_VERSION
from ..data.cache import atomic_write_json
from ..errors import DiffbenchError
from ..models import build_from_spec, model_spec
from ..results import clean_number
from ..results.paths import checkpoint_ref
from ..results.per_sample import encode as encode_per_sample
from ..results.per_sample import write_npz
from .callbacks import ChannelsLastInputs, TrainTimer
from .checkpoint_io import AtomicCheckpointIO, load_checkpoint, remove_temporaries
from .environment import is_ddp_child
from .module import SurrogateModule
from .preparation import (  # noqa: F401 (importable from here, as before they moved)
    Setup,
    check_precision,
    cpu_threads,
    prepare,
    prepare_out_dir,
    resolve_accelerator,
    split_batch,
)
from .reporting import example_images
from .resume import RandomState, check_finished_seed
from .timing import time_inference, time_matched_solver, time_solver
from .wandb_logging import log_results, make_logger


@dataclass
class TrainedSeed:
    """One seed after training and testing: its record so far, the trained module and the W&B
    run still open (``finished``: the seed's result.json existed and ``record`` is it)."""

    seed: int
    record: dict[str, Any] | None
    finished: bool
    rank0: bool
    module: Any = None
    logger: Any = None
    images: list[tuple[str, np.ndarray]] | None = None
    path: Path | None = None

    @property
    def device(self) -> torch.device:
        return self.module.device


def train_seed(setup: Setup, seed: int, *, callbacks: Sequence[Any] = (), test: bool = True) -> TrainedSeed:
    """Train, validate and test one seed (see the module docstring); rank 0 also times it and
    saves its example images. Nothing is written to ``seed-<k>/result.json`` here.

    ``callbacks``: more Lightning callbacks for the fit (tuning's pruning reports). ``test``
    False: stop after re-validating the best checkpoint; the record then holds the validation
    metrics, the best checkpoint, the epochs and steps run and the training time only, and
    nothing reads the test split (what :mod:`diffbench.tuning` scores a trial with)."""
    cfg, task, out_dir = setup.cfg, setup.task, setup.out_dir
    seed_dir = out_dir / f"seed-{seed}"
    done = seed_dir / "result.json"
    rank0 = not is_ddp_child()
    if done.exists():
        # kept only if its best checkpoint backs it (hash and re-scored metrics): never fold an edit into the run
        record = check_finished_seed(done, out_dir, seed, task.spec_hash, setup.dm) if rank0 else None
        return TrainedSeed(seed, record, finished=True, rank0=rank0)
    seed_dir.mkdir(parents=True, exist_ok=True)
    if rank0:
        remove_temporaries(seed_dir)  # what a writer killed mid-checkpoint left
    L.seed_everything(seed, workers=True, verbose=False)
    net_spec = model_spec(build_from_spec(setup.spec))  # fresh weights under this seed
    module = SurrogateModule(
        net_spec,
        task={
            "name": task.name,
            "spec_hash": task.spec_hash,
            "lattice": task.lattice,
            "input_channels": task.input_channels,
        },
        loss=cfg.loss,
        recipe=setup.recipe,
    )
    ckpt = ModelCheckpoint(
        dirpath=seed_dir,
        filename="best",
        monitor="val/mae",
        mode="min",
        save_last=True,
        save_top_k=1,
        enable_version_counter=False,
    )
    loggers: list[Any] = [CSVLogger(save_dir=str(seed_dir), name="", version="")]
    wb = None
    if not is_ddp_child():
        name = setup.model_name
        wb = make_logger(
            setup.wandb_mode,
            out_dir,
            project=cfg.wandb_project,
            group=cfg.wandb_group or f"{task.name}/{name}",
            name=f"{name}-{task.name}-seed{seed}",
            config={
                **cfg.identity(),
                "seed": seed,
                "task_hash": task.spec_hash,
                "recipe": setup.recipe,
                "protocol_version": PROTOCOL_VERSION,
            },
            tags=[task.name, name],
        )
        if wb is not None:
            loggers.append(wb)
    timer = TrainTimer()
    callbacks = [ckpt, timer, RandomState(), *callbacks]  # RandomState: exact resume
    early = None
    if getattr(cfg, "early_stopping", False):
        # Checked when validation ends (before the checkpoint of that validation is written, so the
        # saved state holds the check), never at the end of a training epoch: a resumed run replays the
        # end of its interrupted epoch, where no validation metric exists yet.
        early = EarlyStopping(
            monitor="val/mae", mode="min", patience=setup.recipe["patience"], check_on_train_epoch_end=False
        )
        callbacks.append(early)
    if cfg.channels_last:
        module.model.to(memory_format=torch.channels_last)
        callbacks.append(ChannelsLastInputs())
    strategy = "ddp" if cfg.devices * cfg.num_nodes > 1 else "auto"
    trainer = L.Trainer(
        accelerator=setup.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=strategy,
        precision=cfg.precision,
        max_epochs=setup.max_epochs,
        max_steps=cfg.max_steps or -1,
        check_val_every_n_epoch=cfg.check_val_every_n_epoch,
        callbacks=callbacks,
        logger=loggers,
        deterministic=False,
        enable_progress_bar=cfg.progress,
        enable_model_summary=False,
        log_every_n_steps=10,
        num_sanity_val_steps=0,
        default_root_dir=str(seed_dir),
        plugins=[AtomicCheckpointIO()],
    )
    last = seed_dir / "last.ckpt"
    resume_from = None
    if last.exists():
        SurrogateModule.load(str(last), expect_task_hash=task.spec_hash)  # refuses a foreign checkpoint
        resume_from = str(last)
    trainer.fit(module, datamodule=setup.dm, ckpt_path=resume_from)
    train_time = timer.elapsed()  # includes the time before an interruption
    stop = stop_record(trainer, early, setup.max_epochs, cfg.max_steps)
    best = ckpt.best_model_path or str(last)
    trainer.validate(module, datamodule=setup.dm, ckpt_path=best, verbose=False)
    val_results = module.val_results
    if not test:
        record = {
            "seed": seed,
            "val": val_results,
            "best_checkpoint": str(Path(best).relative_to(out_dir)) if best else None,
            "epochs_run": trainer.current_epoch,
            "steps_run": trainer.global_step,
            "train_time_s": train_time,
        }
        return TrainedSeed(
            seed,
            record if trainer.is_global_zero else None,
            finished=False,
            rank0=trainer.is_global_zero,
            module=module,
            logger=wb,
        )
    trainer.test(module, datamodule=setup.dm, ckpt_path=best, verbose=False)
    test_results = module.test_results
    per_sample = module.test_per_sample
    if not trainer.is_global_zero:
        return TrainedSeed(seed, None, finished=False, rank0=False)
    batch = spread_batch(setup.dm.datasets["test"], setup.dm.eval_batch_size)
    device = module.device
    inference = time_inference(module.model, batch["input"], device)
    solver = time_solver(task, batch)
    nmae = test_results.get("nmae")
    solver_matched = (
        time_matched_solver(task, batch, float(nmae))
        if isinstance(nmae, (int, float)) and math.isfinite(nmae) and nmae > 0
        else None
    )
    images = example_images(module.model, batch, device, cfg.images)
    image_paths = []
    for name, img in images:
        p = seed_dir / f"{name}.png"
        Image.fromarray(img).save(p)
        image_paths.append(str(p.relative_to(out_dir)))
    write_npz(seed_dir / "per_sample.npz", per_sample)
    record = {
        "seed": seed,
        "test": test_results,
        "per_sample": encode_per_sample(per_sample),
        "val": val_results,
        "best_checkpoint": str(Path(best).relative_to(out_dir)) if best else None,
        "checkpoint": checkpoint_ref(best, out_dir) if best else None,
        "best_epoch": best_epoch(ckpt),
        "epochs_run": trainer.current_epoch,
        "resumed": resume_from is not None,
        "stop": stop,
        "train_time_s": train_time,
        "inference": inference,
        "solver": solver,
        "solver_matched": solver_matched,
        "images": image_paths,
    }
    return TrainedSeed(seed, record, finished=False, rank0=True, module=module, logger=wb, images=images, path=done)


def finish_seed(trained: TrainedSeed, extra: dict[str, Any]) -> dict[str, Any]:
    """Log the seed's test metrics and images to W&B (closing its run) and write
    ``seed-<k>/result.json``: the training record plus ``extra`` (the blocks later stages add)."""
    if trained.finished or trained.record is None or trained.path is None:
        raise DiffbenchError(f"seed {trained.seed} has no new training record to write")
    record = trained.record
    wandb_info = log_results(
        trained.logger, clean_number(record["test"]), trained.images or []
    )  # dir: relative to the run
    seed_result = clean_number({**record, "wandb": wandb_info, **extra})
    atomic_write_json(trained.path, seed_result)
    return seed_result


def stop_record(trainer: Any, early: Any, max_epochs: int, max_steps: int | None) -> dict[str, Any]:
    """Where training stopped (optimiser ``step`` and ``epoch``) and why: ``stopped_early``
    (validation MAE did not improve for ``patience`` evaluations) or ``budget_capped`` (the
    maximum epochs or steps were reached; always so without ``--early-stopping``)."""
    triggered = early is not None and (early.stopped_epoch > 0 or early.wait_count >= early.patience)
    return {
        "reason": "stopped_early" if triggered else "budget_capped",
        "step": int(trainer.global_step),
        "epoch": int(trainer.current_epoch),
        "patience": early.patience if early is not None else None,
        "max_steps": max_steps,
        "max_epochs": max_epochs if max_epochs >= 0 else None,
    }


def spread_batch(dataset: Any, size: int) -> dict[str, Any]:
    """A batch of test samples evenly spread over the split (so over every source count)."""
    n = len(dataset)
    positions = sorted(set(np.linspace(0, n - 1, min(size, n)).round().astype(int).tolist()))
    return dataset.__getitems__(positions)


def best_epoch(ckpt: Any) -> int | None:
    """The epoch stored in the best checkpoint; memory-mapped, so the weights are not read."""
    try:
        if ckpt.best_model_path:
            return int(load_checkpoint(ckpt.best_model_path, mmap=True)["epoch"])
    except (DiffbenchError, KeyError, TypeError, ValueError):
        return None
    return None
