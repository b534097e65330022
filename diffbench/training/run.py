"""``diffbench run``: train a model on a task under the protocol, for each seed, and record it.

One run = one model x one task x a list of seeds. For each seed: seed everything, build the
network, fit with best-on-validation checkpointing (never on test), re-validate and test the
best checkpoint through the evaluator, time inference and the solver on the same hardware,
and write ``seed-<k>/result.json``. Then aggregate (mean ± unbiased std over seeds) into
``<out>/<run-id>/result.json``. The run id is a hash of the configuration, so rerunning the
same command with ``--resume`` finds the same directory and continues: finished seeds are
kept, an interrupted one restarts from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import PROTOCOL_VERSION, __version__
from ..errors import DiffbenchError
from ..protocol.results import RESULT_SCHEMA_VERSION, aggregate_metrics, clean_number, write_result

ACCELERATORS = ("auto", "cpu", "gpu")


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
    becomes ``-``; at most ``limit`` characters."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text))[:limit]


def _counts_text(counts: list[int]) -> str:
    c = sorted(counts)
    return f"{c[0]}-{c[-1]}" if c == list(range(c[0], c[-1] + 1)) else ",".join(map(str, c))


def _is_ddp_child() -> bool:
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


def resolve_accelerator(accelerator: str, devices: int, num_nodes: int) -> str:
    import torch

    if accelerator not in ACCELERATORS:
        raise DiffbenchError(f"unknown accelerator {accelerator!r}; allowed: {', '.join(ACCELERATORS)}")
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise DiffbenchError(f"--devices must be a positive integer, got {devices!r}")
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 1:
        raise DiffbenchError(f"--num-nodes must be a positive integer, got {num_nodes!r}")
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    if accelerator == "gpu":
        have = torch.cuda.device_count()
        if have == 0:
            raise DiffbenchError("--accelerator gpu asked for, but no CUDA GPU is visible to torch; use --accelerator cpu")
        if devices > have:
            raise DiffbenchError(f"--devices {devices} asks for more GPUs than exist here ({have})")
    else:
        have = os.cpu_count() or 1
        if devices > have:
            raise DiffbenchError(f"--devices {devices} asks for more CPU processes than there are cores ({have})")
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


def run(cfg: RunConfig, argv: list[str] | None = None) -> dict[str, Any] | None:
    """Execute a run; returns the aggregated result (on rank 0) or None (other ranks)."""
    import torch

    from ..data import DiffusionDataModule, load_task
    from ..models import count_parameters, create, model_spec
    from .recipes import resolve_recipe
    from .wandb_logging import check_mode

    task = load_task(cfg.task)
    accelerator = resolve_accelerator(cfg.accelerator, cfg.devices, cfg.num_nodes)
    if not cfg.seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in cfg.seeds):
        raise DiffbenchError(f"--seeds must be non-negative integers, e.g. 0,1,2; got {cfg.seeds!r}")
    if len(set(cfg.seeds)) != len(cfg.seeds):
        raise DiffbenchError(f"--seeds must not repeat a seed, got {cfg.seeds!r}")
    max_epochs = cfg.max_epochs if cfg.max_epochs is not None else int(task.training.get("max_epochs", 20))
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or (max_epochs < 1 and cfg.max_steps is None):
        raise DiffbenchError(f"--max-epochs must be a positive integer, got {max_epochs!r}")
    if cfg.max_steps is not None and (isinstance(cfg.max_steps, bool) or not isinstance(cfg.max_steps, int) or cfg.max_steps < 1):
        raise DiffbenchError(f"--max-steps must be a positive integer, got {cfg.max_steps!r}")
    if isinstance(cfg.check_val_every_n_epoch, bool) or not isinstance(cfg.check_val_every_n_epoch, int) or cfg.check_val_every_n_epoch < 1:
        raise DiffbenchError(f"--val-every must be a positive integer, got {cfg.check_val_every_n_epoch!r}")
    if cfg.max_steps is not None and cfg.max_epochs is None:
        max_epochs = -1  # the step budget decides
    recipe = resolve_recipe(cfg.recipe or task.training.get("recipe", "paper"), lr=cfg.lr)
    wandb_mode = check_mode(cfg.wandb_mode)
    from .losses import make_loss
    from ..trust.indicators import parse_uq, run_ensemble, trust_aggregate, with_mc_dropout

    make_loss(cfg.loss)  # validate the name early
    cfg.uq = parse_uq(cfg.uq)
    _check_precision(cfg.precision, accelerator)

    # Build once to validate the model and learn its name and size (cheap).
    probe = create(cfg.model, in_channels=task.in_channels, lattice=task.lattice, **cfg.model_args)
    probe = with_mc_dropout(probe, cfg.model, cfg.model_args, task, cfg.uq)  # dropout 0.1 for --uq mc-dropout
    spec = model_spec(probe)
    info = _model_info(spec)
    model_name = info["name"]
    n_params = count_parameters(probe)
    del probe

    dm = DiffusionDataModule(task, data_dir=cfg.data_dir, batch_size=cfg.batch_size, num_workers=cfg.num_workers,
                             train_counts=cfg.train_counts, test_counts=cfg.test_counts, val_counts=cfg.test_counts,
                             train_fraction=cfg.train_fraction, progress=cfg.progress)

    run_id = cfg.run_id(model_name, task.name)
    out_dir = (Path(cfg.out) / run_id).absolute()
    child = _is_ddp_child()
    if not child:
        _prepare_out_dir(out_dir, cfg.resume)

    if not child:
        dm.prepare_data()
    dm.setup("fit")
    dm.setup("test")

    if accelerator == "cpu":
        torch.set_num_threads(cpu_threads(cfg.devices))

    per_seed: list[dict[str, Any]] = []
    rank0 = True
    for seed in cfg.seeds:
        seed_result, rank0 = _run_seed(cfg, task, dm, spec, recipe, max_epochs, accelerator, wandb_mode, out_dir, seed, model_name)
        if seed_result is not None:
            per_seed.append(seed_result)
    if not rank0:
        return None

    run_ensemble(cfg, task, dm, out_dir, per_seed, accelerator)
    result = _assemble(cfg, task, dm, spec, info, n_params, recipe, max_epochs, accelerator, per_seed, run_id, argv)
    result.update(trust_aggregate(cfg, per_seed))  # consistency (always) and uq (with --uq) blocks
    result = write_result(out_dir / "result.json", result)
    return result


def _model_info(spec: dict[str, Any]) -> dict[str, Any]:
    """Name, kind and providing package of a built model (plugins name their distribution)."""
    from ..models import list_models

    name = spec.get("name") or spec.get("class_path")
    for info in list_models():
        if info.name == name:
            return {"name": name, "kind": info.kind, "package": info.package, "version": info.version}
    return {"name": name, "kind": "class-path", "package": None, "version": None}


def _check_precision(precision: str, accelerator: str) -> None:
    allowed = ("32-true", "32", "16-mixed", "bf16-mixed", "bf16-true", "64-true", "64")
    if precision not in allowed:
        raise DiffbenchError(f"unknown precision {precision!r}; allowed: {', '.join(allowed)}")
    if precision == "16-mixed" and accelerator == "cpu":
        raise DiffbenchError("precision 16-mixed needs a GPU; on the CPU use 32-true or bf16-mixed")


def _prepare_out_dir(out_dir: Path, resume: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()) and not resume:
        done = (out_dir / "result.json").exists()
        state = "a finished run" if done else "an unfinished run"
        raise DiffbenchError(f"{out_dir} already holds {state} of this configuration; pass --resume to continue it or --out elsewhere")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise DiffbenchError(f"output dir {out_dir} is not writable ({exc.strerror}); choose another with --out") from None


def _run_seed(cfg: RunConfig, task: Any, dm: Any, spec: dict[str, Any], recipe: dict[str, Any], max_epochs: int,
              accelerator: str, wandb_mode: str, out_dir: Path, seed: int, model_name: str) -> tuple[dict[str, Any] | None, bool]:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from ..models import build_from_spec, model_spec
    from .module import SurrogateModule
    from .timing import time_inference, time_solver
    from .wandb_logging import log_results, make_logger
    from .reporting import example_images
    from ..trust.indicators import log_to_wandb, seed_trust

    seed_dir = out_dir / f"seed-{seed}"
    done = seed_dir / "result.json"
    if done.exists():
        rank0 = not _is_ddp_child()
        return (json.loads(done.read_text()) if rank0 else None), rank0
    seed_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(seed, workers=True, verbose=False)
    net_spec = model_spec(build_from_spec(spec))  # fresh weights under this seed
    module = SurrogateModule(net_spec, task={"name": task.name, "spec_hash": task.spec_hash, "lattice": task.lattice,
                                             "input_channels": task.input_channels}, loss=cfg.loss, recipe=recipe)
    ckpt = ModelCheckpoint(dirpath=seed_dir, filename="best", monitor="val/mae", mode="min", save_last=True,
                           save_top_k=1, enable_version_counter=False)
    loggers: list[Any] = [CSVLogger(save_dir=str(seed_dir), name="", version="")]
    wb = None
    if not _is_ddp_child():
        wb = make_logger(wandb_mode, out_dir, project=cfg.wandb_project, group=cfg.wandb_group or f"{task.name}/{model_name}",
                         name=f"{model_name}-{task.name}-seed{seed}",
                         config={**cfg.identity(), "seed": seed, "task_hash": task.spec_hash, "recipe": recipe,
                                 "protocol_version": PROTOCOL_VERSION}, tags=[task.name, model_name])
        if wb is not None:
            loggers.append(wb)
    timer = _train_timer()
    callbacks = [ckpt, timer]
    if cfg.channels_last:
        import torch

        module.model.to(memory_format=torch.channels_last)
        callbacks.append(_channels_last_inputs())
    strategy = "ddp" if cfg.devices * cfg.num_nodes > 1 else "auto"
    trainer = L.Trainer(accelerator=accelerator, devices=cfg.devices, num_nodes=cfg.num_nodes, strategy=strategy,
                        precision=cfg.precision, max_epochs=max_epochs, max_steps=cfg.max_steps or -1,
                        check_val_every_n_epoch=cfg.check_val_every_n_epoch, callbacks=callbacks, logger=loggers,
                        deterministic=False, enable_progress_bar=cfg.progress, enable_model_summary=False,
                        log_every_n_steps=10, num_sanity_val_steps=0, default_root_dir=str(seed_dir))
    last = seed_dir / "last.ckpt"
    resume_from = None
    if last.exists():
        SurrogateModule.load(str(last), expect_task_hash=task.spec_hash)  # refuses a foreign checkpoint
        resume_from = str(last)
    trainer.fit(module, datamodule=dm, ckpt_path=resume_from)
    train_time = timer.elapsed()  # includes the time before an interruption
    best = ckpt.best_model_path or str(last)
    trainer.validate(module, datamodule=dm, ckpt_path=best, verbose=False)
    val_results = module.val_results
    trainer.test(module, datamodule=dm, ckpt_path=best, verbose=False)
    test_results = module.test_results
    if not trainer.is_global_zero:
        return None, False
    batch = _spread_batch(dm.datasets["test"], dm.eval_batch_size)
    device = module.device
    inference = time_inference(module.model, batch["input"], device)
    solver = time_solver(task, batch)
    images = example_images(module.model, batch, device, cfg.images)
    image_paths = []
    for name, img in images:
        from PIL import Image

        p = seed_dir / f"{name}.png"
        Image.fromarray(img).save(p)
        image_paths.append(str(p.relative_to(out_dir)))
    trust = seed_trust(cfg, task, dm, module.model, device, out_dir, max_epochs, seed)  # consistency + uq blocks
    log_to_wandb(wb, clean_number(trust))
    wandb_info = log_results(wb, clean_number(test_results), images)
    seed_result = clean_number({
        "seed": seed,
        "test": test_results,
        "val": val_results,
        "best_checkpoint": str(Path(best).relative_to(out_dir)) if best else None,
        "best_epoch": _best_epoch(ckpt),
        "epochs_run": trainer.current_epoch,
        "train_time_s": train_time,
        "inference": inference,
        "solver": solver,
        "images": image_paths,
        "wandb": wandb_info,
        **trust,
    })
    from ..data.cache import atomic_write_json

    atomic_write_json(done, seed_result)
    return seed_result, True


def _spread_batch(dataset: Any, size: int) -> dict[str, Any]:
    """A batch of test samples evenly spread over the split (so over every source count)."""
    import numpy as np

    n = len(dataset)
    positions = sorted(set(np.linspace(0, n - 1, min(size, n)).round().astype(int).tolist()))
    return dataset.__getitems__(positions)


def _train_timer() -> Any:
    """A callback whose training time survives checkpoints, so a resumed seed reports it all."""
    from lightning.pytorch.callbacks import Callback

    class TrainTimer(Callback):
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

    return TrainTimer()


def _channels_last_inputs() -> Any:
    """A callback that hands every training, validation and test batch's input to the network in
    the channels-last memory format (``--channels-last``; the network's weights are converted too)."""
    import torch
    from lightning.pytorch.callbacks import Callback

    def convert(batch: Any) -> None:
        if isinstance(batch, dict) and torch.is_tensor(batch.get("input")) and batch["input"].ndim == 4:
            batch["input"] = batch["input"].contiguous(memory_format=torch.channels_last)

    class ChannelsLastInputs(Callback):
        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
            convert(batch)

        def on_validation_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
            convert(batch)

        def on_test_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
            convert(batch)

    return ChannelsLastInputs()


def _best_epoch(ckpt: Any) -> int | None:
    """The epoch stored in the best checkpoint; memory-mapped, so the weights are not read."""
    try:
        import torch

        if ckpt.best_model_path:
            return int(torch.load(ckpt.best_model_path, map_location="cpu", weights_only=False, mmap=True)["epoch"])
    except Exception:  # noqa: BLE001
        return None
    return None


def _assemble(cfg: RunConfig, task: Any, dm: Any, spec: dict[str, Any], info: dict[str, Any], n_params: int,
              recipe: dict[str, Any], max_epochs: int, accelerator: str, per_seed: list[dict[str, Any]], run_id: str,
              argv: list[str] | None) -> dict[str, Any]:
    from .environment import git_commit, hardware, package_versions

    inf = [s["inference"]["s_per_sample"] for s in per_seed]
    sol = [s["solver"]["s_per_sample"] for s in per_seed]
    inf_mean = sum(inf) / len(inf)
    sol_mean = sum(sol) / len(sol)
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "diffbench_version": __version__,
        "run_id": run_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {"name": info["name"], "kind": info.get("kind"), "package": info.get("package"), "package_version": info.get("version"),
                  "spec": spec, "parameters": n_params},
        "task": {"name": task.name, "spec_hash": task.spec_hash, "lattice": task.lattice, "input_channels": task.input_channels,
                 "spec": task.to_dict()},
        "data": {"manifest_hash": dm.data_fingerprint(), "serve": dm.serve, "train_counts": cfg.train_counts,
                 "test_counts": cfg.test_counts, "train_fraction": cfg.train_fraction,
                 "n_train": len(dm.datasets["train"]), "n_val": len(dm.datasets["val"]), "n_test": len(dm.datasets["test"])},
        "training": {"recipe": recipe, "loss": cfg.loss, "batch_size": dm.batch_size, "max_epochs": max_epochs, "max_steps": cfg.max_steps,
                     "precision": cfg.precision, "accelerator": accelerator, "devices": cfg.devices, "num_nodes": cfg.num_nodes,
                     "selection": "best val/mae checkpoint"},
        "seeds": [s["seed"] for s in per_seed],
        "per_seed": per_seed,
        "aggregate": {"test": aggregate_metrics([s["test"] for s in per_seed]),
                      "val": aggregate_metrics([s["val"] for s in per_seed])},
        "cost": {"train_time_s": sum(s["train_time_s"] for s in per_seed) / len(per_seed),
                 "inference_s_per_sample": inf_mean, "solver_s_per_sample": sol_mean,
                 "speedup_vs_solver": sol_mean / inf_mean if inf_mean > 0 else None,
                 "solver_method": per_seed[0]["solver"].get("method"), "batch_size": per_seed[0]["inference"].get("batch_size")},
        "hardware": hardware(accelerator, cfg.devices, cfg.num_nodes),
        "packages": package_versions(),
        "git": git_commit(),
        "command": cfg.command(),
        "argv": " ".join(shlex.quote(a) for a in (["diffbench"] + list(argv))) if argv is not None else None,
    }
