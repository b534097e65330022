"""``diffbench study NAME``: a whole study (models x tasks x seeds) with its table and plots.

A study is a YAML in ``diffbench/studies/`` (or a path)::

    name: data-scaling
    description: ...
    models: [cnn-small, unet-small]
    tasks: [standard-64]
    seeds: [0, 1]
    train_fractions: [0.0125, 0.025, 0.05, 0.125, 0.25, 0.5, 1.0]   # optional (default [1.0])
    steps: 800                # optional: the same optimisation-step budget for every run
    evaluate_on: {standard-64: [transfer-128, shapes-64]}   # optional transfer evaluations
    analysis: [scaling-law]   # optional: fit error = a + b log10(n_train) with a 95 % band

Every run goes through ``diffbench run`` (same protocol, same result.json) into
``<out>/<name>/runs/``; the study resumes after an interruption (finished runs are kept,
unfinished ones continue from their last checkpoint). Several ``diffbench study`` processes may
share one study (one per core, GPU or machine on a shared filesystem): each run is claimed with
a ``filelock`` lock on a file in ``<out>/<name>/locks/`` (an OS lock: the run of a process that
died is free again and is taken over), a process skips runs another one holds and comes back to
them when it has nothing else to do (single-device studies; under ``--devices N`` the ranks replay one order, unlocked). It writes ``table.csv``, ``table.md``,
``summary.json`` and plots into ``<out>/<name>/`` and groups its W&B runs as ``study/<name>``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from ..data import load_task
from ..errors import DiffbenchError
from ..pipeline.config import RunConfig, apply_tuned, coerce
from ..pipeline.evaluate import evaluate_checkpoint
from ..pipeline.options import file_safe
from ..pipeline.run import run
from ..results.per_sample import error_matrices
from ..stats import ratio_interval
from ..training.environment import is_ddp_child
from .analysis import HEADLINE, fit_log_law, write_outputs
from .spec import StudySpec, load_study

__all__ = [
    "LOCK_POLL_S",
    "claim",
    "finish_study",
    "lock_path",
    "release",
    "run_config",
    "run_one",
    "run_study",
    "study_plan",
]


def study_plan(spec: StudySpec) -> list[tuple[str, str, float]]:
    """The study's runs in its order: ``(task, model, train fraction)`` for every combination."""
    return [
        (task_name, model, fraction)
        for task_name in spec.tasks
        for model in spec.models
        for fraction in spec.train_fractions
    ]


def lock_path(root: Path, task_name: str, model: str, fraction: float) -> Path:
    """The lock file that claims one run of a study."""
    return root / "locks" / f"{file_safe(task_name, 60)}--{file_safe(model, 60)}--{fraction:g}.lock"


def run_config(
    spec: StudySpec,
    index: int,
    root: Path,
    *,
    data_dir: str | None = None,
    devices: int = 1,
    accelerator: str = "auto",
    wandb_mode: str | None = None,
    progress: bool = True,
) -> RunConfig:
    """The ``diffbench run`` options of the study's run number ``index`` (in :func:`study_plan`'s order)."""
    task_name, model, fraction = study_plan(spec)[index]
    values: dict[str, Any] = {
        "model": model,
        "task": task_name,
        "seeds": list(spec.seeds),
        "devices": devices,
        "accelerator": accelerator,
        "train_fraction": fraction,
        "max_epochs": spec.max_epochs,
        "out": str(root / "runs"),
        "data_dir": data_dir,
        "wandb_mode": wandb_mode,
        "progress": progress,
        "resume": True,
        "wandb_group": f"study/{spec.name}",
        "early_stopping": spec.early_stopping,
    }
    if spec.recipe_from is not None:
        values["task"] = load_task(task_name).name
        apply_tuned(values, spec.recipe_from)  # the shipped search of this model on this task: lr and model args
    cfg = RunConfig(**{k: coerce(k, v) for k, v in values.items() if v is not None})
    if spec.steps is not None:
        task = load_task(task_name)
        cfg.max_steps = int(spec.steps)
        n_train = len(task.splits["train"].indices(None, fraction))
        batch = int(task.training.get("batch_size", 25))
        steps_per_epoch = max(1, math.ceil(n_train / batch))
        cfg.check_val_every_n_epoch = max(1, round(cfg.max_steps / steps_per_epoch / 10))
    return cfg


def run_one(
    spec: StudySpec,
    index: int,
    root: Path,
    *,
    data_dir: str | None = None,
    devices: int = 1,
    accelerator: str = "auto",
    wandb_mode: str | None = None,
    progress: bool = True,
    log: Any = print,
) -> dict[str, Any] | None:
    """Run (or resume) the study's run number ``index`` and its transfer evaluations; its table
    row, or None on a DDP worker rank."""
    task_name, model, fraction = study_plan(spec)[index]
    cfg = run_config(
        spec,
        index,
        root,
        data_dir=data_dir,
        devices=devices,
        accelerator=accelerator,
        wandb_mode=wandb_mode,
        progress=progress,
    )
    log(
        f"[{index + 1}/{len(study_plan(spec))}] {model} on {task_name}, train fraction {fraction:g}, seeds {spec.seeds}"
    )
    result = run(cfg, argv=None)
    if result is None:  # a DDP worker rank
        return None
    run_dir = root / "runs" / result["run_id"]
    row = study_row(spec, result, fraction)
    for target in spec.evaluate_on.get(task_name, []):
        row["transfer"][load_task(target).name] = transfer(
            result, run_dir, target, data_dir, progress, evaluate_checkpoint
        )
    return row


def run_study(
    name: str,
    *,
    out: str = "studies",
    data_dir: str | None = None,
    devices: int = 1,
    accelerator: str = "auto",
    wandb_mode: str | None = None,
    progress: bool = True,
    log: Any = print,
) -> dict[str, Any]:
    """Run (or resume) every run of a study, then its evaluations, table, plots and fits."""
    spec = load_study(name)
    # Under DDP (--devices > 1) every rank replays the study in the same order: no locks there.
    locking = devices == 1 and not is_ddp_child()
    root = Path(out) / spec.name
    plan = study_plan(spec)
    total = len(plan)
    rows: dict[int, dict[str, Any]] = {}
    pending = list(range(total))
    waiting_said: set[int] = set()
    while pending:
        progressed = False
        for i in list(pending):
            task_name, model, fraction = plan[i]
            lock = lock_path(root, task_name, model, fraction)
            if locking and not claim(lock):
                if i not in waiting_said:
                    log(
                        f"[{i + 1}/{total}] {model} on {task_name}, train fraction {fraction:g}: another process holds it ({lock}); later"
                    )
                    waiting_said.add(i)
                continue
            try:
                row = run_one(
                    spec,
                    i,
                    root,
                    data_dir=data_dir,
                    devices=devices,
                    accelerator=accelerator,
                    wandb_mode=wandb_mode,
                    progress=progress,
                    log=log,
                )
                if row is not None:
                    rows[i] = row
            finally:
                if locking:
                    release(lock)
            pending.remove(i)
            progressed = True
        if pending and not progressed:
            time.sleep(LOCK_POLL_S)
    return finish_study(spec, root, [rows[i] for i in sorted(rows)])


def finish_study(spec: StudySpec, root: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The study's summary (with the scaling-law fits it asks for), table and plots from its rows."""
    summary = {"study": spec.__dict__, "rows": rows}
    if "scaling-law" in spec.analysis:
        summary["scaling_law"] = {m: fit_log_law([r for r in rows if r["model"] == m]) for m in spec.models}
    write_outputs(root, spec, summary)
    return summary


#: Seconds between looks at runs another process holds.
LOCK_POLL_S = 10.0
#: The locks this process holds, by path (a ``filelock.FileLock`` each).
_HELD: dict[str, Any] = {}


def claim(lock: Path) -> bool:
    """Take the run's lock (``filelock``: an OS lock on the file, non-blocking); False while
    another process holds it. The OS drops the lock of a process that dies, so its run is
    taken over (it resumes from its checkpoint); on a shared filesystem the lock is the
    filesystem's (NFS: lockd). Claiming a lock this process holds again is a no-op."""
    from filelock import FileLock, Timeout

    key = str(lock.absolute())
    if key in _HELD:
        return True
    lock.parent.mkdir(parents=True, exist_ok=True)
    held = FileLock(key, timeout=0)
    try:
        held.acquire()
    except Timeout:
        return False
    _HELD[key] = held
    return True


def release(lock: Path) -> None:
    """Drop the lock if this process holds it (the file stays: it is not the lock, the OS lock on it is)."""
    held = _HELD.pop(str(lock.absolute()), None)
    if held is not None:
        held.release()


def study_row(spec: StudySpec, result: dict[str, Any], fraction: float) -> dict[str, Any]:
    agg = result["aggregate"]["test"]
    return {
        "model": result["model"]["name"],
        "task": result["task"]["name"],
        "train_fraction": fraction,
        "n_train": result["data"]["n_train"],
        "run_id": result["run_id"],
        "parameters": result["model"]["parameters"],
        "test": {k: agg[k] for k in HEADLINE if k in agg},
        "per_seed_nmae": [s["test"]["nmae"] for s in result["per_seed"]],
        "per_count_nmae": {c: v["nmae"]["mean"] for c, v in agg.get("per_count", {}).items()},
        "intervals": result["aggregate"].get("intervals"),
        "stops": [{k: (s.get("stop") or {}).get(k) for k in ("reason", "step", "epoch")} for s in result["per_seed"]],
        "lr": result["training"]["recipe"]["lr"],
        "tuning": (result["training"].get("tuning") or {}).get("label"),
        "command": result["command"],
        "transfer": {},
    }


def transfer(
    result: dict[str, Any], run_dir: Path, target: str, data_dir: str | None, progress: bool, evaluate: Any
) -> dict[str, Any]:
    """Evaluate every seed's best checkpoint on another task; a model that cannot run there is reported.
    With every seed's per-sample errors, the test nMAE carries the same two-level interval as a
    run's (``interval``); else only the seeds' mean and standard deviation."""
    values, errors, blocks = [], [], []
    for seed in result["per_seed"]:
        ckpt = run_dir / seed["best_checkpoint"]
        out_dir = ckpt.parent
        cached = out_dir / f"metrics-{load_task(target).name}-test.json"
        try:
            doc = (
                json.loads(cached.read_text())
                if cached.exists()
                else evaluate(str(ckpt), task=target, data_dir=data_dir, out=str(out_dir), progress=progress)
            )
            values.append(doc["metrics"]["nmae"])
            blocks.append(doc.get("per_sample"))
        except DiffbenchError as exc:
            errors.append(str(exc))
        except RuntimeError as exc:  # the network itself cannot process this input size
            errors.append(f"cannot run on {target}: {str(exc).splitlines()[0][:200]}")
    if errors:
        return {"status": "cannot run", "reason": errors[0]}
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    out: dict[str, Any] = {"status": "ok", "nmae": {"mean": mean, "std": std, "n": len(values)}}
    if blocks and all(isinstance(b, dict) for b in blocks):  # the interval over the target's test samples and the seeds
        m = error_matrices(blocks, f"transfer to {target}")
        iv = ratio_interval(m["abs_sum"], m["tgt_sum"], m["count"])
        out["interval"] = {
            "estimate": iv.estimate,
            "low": iv.low,
            "high": iv.high,
            "method": iv.method,
            "n_seeds": iv.n_seeds,
            "n_samples": iv.n_samples,
        }
    return out
