"""``diffbench tune``: an Optuna search over a model's recipe, scored on validation only.

Every trial is one seed of the normal run (:func:`diffbench.training.preparation.prepare` and
:func:`~diffbench.training.run.train_seed`, so a trial trains under whatever budget rule a run
has: the task's epochs, ``--budget-steps`` / ``--max-epochs``, and any stopping rule the run
applies) with the trial's learning rate and model arguments (:mod:`diffbench.tuning.space`).
``train_seed(..., test=False)`` stops after re-validating the best checkpoint and the data
module never sets up the test split: nothing in a search reads the test split. The score is the
validation nmae of the best-on-validation checkpoint (the leaderboard's headline metric; on
one split it ranks trials as ``val/mae`` does, the metric checkpoints are selected on).

The search: a TPE sampler seeded by ``--seed`` and the trial's number (so one worker's search
replays exactly and parallel workers never propose from the same random state), a median
pruner fed the validation nmae reported at every validation of the run (a pruned trial stops
early and is recorded PRUNED; a step budget shorter than an epoch validates only at its end, so
nothing is pruned then), and an RDB storage (``--storage``; default a SQLite file in the
search's folder). Workers started with the same storage URL and study name share one search:
each claims the next trial until ``--trials`` trials exist in total (on a SQLite storage the
claim is serialised by a file lock beside the database, so exactly K trials are made; on a
database server a worker that loses the race for the last slot records its surplus trial as
FAIL with that reason). A trial that crashes is recorded FAIL with its one-line reason and the
search goes on; every finished trial is committed to the storage as it finishes, so a crash or
Ctrl-C loses none; a worker that dies mid-trial stops sending heartbeats, and its trial is
failed and retried by the next claim (:mod:`diffbench.tuning.storage`). ``tune.json`` (in ``OUT/STUDY-NAME/``, written atomically by every worker
when it stops) holds every trial's parameters, state, validation score and duration, the
chosen trial with the ``diffbench run`` command that reproduces it, and the search's command
(:mod:`diffbench.tuning.record`).
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

from ..data import load_task
from ..data.cache import atomic_write_json
from ..errors import DiffbenchError
from ..names import check_name, safe_name
from ..pipeline.config import RunConfig
from ..training.options import check_positive_int
from ..training.preparation import prepare
from ..training.run import train_seed
from .record import OBJECTIVE, PRUNER_STARTUP_TRIALS, PRUNER_WARMUP_STEPS, TUNE_VERSION, summarise  # noqa: F401 (TUNE_VERSION: as before)
from .space import SearchSpace, search_space
from .storage import claim_lock, experimental_quiet, heartbeat, lost_trials, one_line, open_storage


class ValidationReporter(Callback):
    """Report the validation nmae of every validation during the fit to the Optuna trial, and
    stop the fit when the pruner says so (``pruned``)."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.pruned = False
        self.reports = 0

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return  # the re-validation of the best checkpoint after the fit is not a report
        value = (pl_module.val_results or {}).get("nmae")
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), step=int(trainer.global_step))
        self.reports += 1
        if self.trial.should_prune():
            self.pruned = True
            trainer.should_stop = True


def default_study_name(definition: dict[str, Any]) -> str:
    """``tune--<task>--<model>--<digest of the search's definition>``: workers given the same
    options find the same search."""
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"tune--{definition['task']}--{safe_name(definition['model'], 40)}--{digest}"


def tune_command(
    model: str,
    task: str,
    trials: int,
    budget_steps: int | None,
    max_epochs: int | None,
    seed: int,
    space: str,
    study_name: str,
) -> str:
    """The canonical command of a search (no storage URL or output folder: local details)."""
    parts = ["diffbench", "tune", "--model", str(model), "--task", task, "--trials", str(trials)]
    if budget_steps is not None:
        parts += ["--budget-steps", str(budget_steps)]
    if max_epochs is not None:
        parts += ["--max-epochs", str(max_epochs)]
    parts += ["--seed", str(seed), "--space", space, "--study-name", study_name]
    return " ".join(shlex.quote(p) for p in parts)


@dataclass
class Search:
    """A search resolved and checked (:func:`open_search`): its study in the storage and what
    every trial needs."""

    study: Any
    definition: dict[str, Any]
    name: str
    tune_dir: Path
    storage: str
    base: RunConfig
    space: SearchSpace
    trials: int
    command: str
    rdb: Any = None


def open_search(
    model: str,
    task: str,
    *,
    trials: int = 20,
    budget_steps: int | None = None,
    max_epochs: int | None = None,
    seed: int = 0,
    storage: str | None = None,
    study_name: str | None = None,
    out: str = "runs",
    data_dir: str | None = None,
    space: str = "full",
    accelerator: str = "auto",
    progress: bool = False,
) -> Search:
    """Check a search's options, open (or create) its study in the storage, and refuse a study
    of the same name that searches something else; one-line errors, before anything trains."""
    import optuna

    check_positive_int("--trials", trials)
    for flag, value in (("--budget-steps", budget_steps), ("--max-epochs", max_epochs)):
        if value is not None:
            check_positive_int(flag, value)
    if budget_steps is not None and max_epochs is not None:
        raise DiffbenchError("give one trial budget: --budget-steps or --max-epochs, not both")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DiffbenchError(f"--seed must be a non-negative integer, got {seed!r}")
    spec = load_task(task)
    sp = search_space(model, spec.lattice, space)
    base = RunConfig(
        model=model,
        task=task,
        seeds=[seed],
        accelerator=accelerator,
        max_steps=budget_steps,
        max_epochs=max_epochs,
        data_dir=data_dir,
        wandb_mode="disabled",
        progress=progress,
    )
    base.validate()
    own = budget_steps is None and max_epochs is None
    budget = {
        "max_steps": budget_steps,
        "max_epochs": max_epochs,
        "rule": "the run's own (the task's epochs and any stopping rule of `diffbench run`)"
        if own
        else "the run's, capped as given",
    }
    definition = {
        "model": str(model),
        "task": spec.name,
        "task_spec_hash": spec.spec_hash,
        "budget": budget,
        "seed": seed,
        "space": sp.describe(),
        "objective": OBJECTIVE,
    }
    name = check_name(study_name, "--study-name") if study_name is not None else default_study_name(definition)
    tune_dir = Path(out) / name
    if storage is None:
        try:
            tune_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DiffbenchError(
                f"output dir {tune_dir} cannot be made ({exc.strerror}); choose another with --out"
            ) from None
        storage = f"sqlite:///{(tune_dir / 'study.db').absolute()}"
    rdb = open_storage(storage)
    study = optuna.create_study(
        storage=rdb,
        study_name=name,
        direction="minimize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS),
    )
    recorded = study.user_attrs.get("definition")
    if recorded is None:
        study.set_user_attr("definition", json.loads(json.dumps(definition)))
    elif recorded != json.loads(json.dumps(definition)):
        raise DiffbenchError(
            f"study {name!r} in this storage searches another definition ({recorded.get('model')} on "
            f"{recorded.get('task')}, budget {recorded.get('budget')}); give another --study-name"
        )
    tune_dir.mkdir(parents=True, exist_ok=True)
    command = tune_command(str(model), spec.name, trials, budget_steps, max_epochs, seed, space, name)
    return Search(study, definition, name, tune_dir, storage, base, sp, trials, command, rdb)


def tune(model: str, task: str, *, log: Callable[[str], Any] = print, **options: Any) -> dict[str, Any]:
    """Run (or join) a search and return its ``tune.json`` (see the module docstring; ``options``
    are :func:`open_search`'s)."""
    search = open_search(model, task, **options)
    lock = claim_lock(search.storage)
    while True:
        trial = _claim(search.study, search.trials, search.definition["seed"], lock, search.space)
        if trial is None:
            break
        with heartbeat(search, trial):
            _run_trial(search.study, trial, search.base, search.space, search.tune_dir, log)
    return write_record(search)


def write_record(search: Search) -> dict[str, Any]:
    """Write the search's ``tune.json`` (as it stands in the storage) and return it."""
    doc = summarise(search.study, search.definition, search.trials, search.command, search.storage)
    atomic_write_json(search.tune_dir / "tune.json", doc)
    return doc


def _claim(study: Any, trials: int, seed: int, lock: Any, sp: SearchSpace) -> Any:
    """The next trial of the search (parameters drawn), or None when ``trials`` exist."""
    import optuna

    with lock:
        with experimental_quiet():
            optuna.storages.fail_stale_trials(study)  # a dead worker's trial: FAIL, and its parameters queued again
        existing = study.get_trials(deepcopy=False)
        n = len(existing) - len(lost_trials(existing))
        if n >= trials:
            return None
        study.sampler = optuna.samplers.TPESampler(
            seed=seed * 1_000_003 + n, n_startup_trials=max(1, min(10, trials // 2))
        )
        distributions: dict[str, Any] = {"lr": optuna.distributions.FloatDistribution(*sp.lr_range, log=True)}
        for key, values in sp.choices.items():
            distributions[key] = optuna.distributions.CategoricalDistribution(values)
        trial = study.ask(distributions)
    if trial.number - len(lost_trials(study.get_trials(deepcopy=False))) >= trials:  # a server's race lost
        trial.set_user_attr("error", f"surplus: {trials} trials had been claimed by other workers")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return None
    return trial


def _run_trial(
    study: Any, trial: Any, base: RunConfig, sp: SearchSpace, tune_dir: Path, log: Callable[[str], Any]
) -> None:
    """Train one trial through the run's code path (no test) and record its outcome."""
    from optuna.trial import TrialState

    params = dict(trial.params)
    model_args = sp.model_args(params)
    trial.set_user_attr("model_args", model_args)
    shown = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(params.items()))
    log(f"trial {trial.number}: {shown}")
    cfg = replace(
        base, lr=float(params["lr"]), model_args=model_args, out=str(tune_dir / "trials" / f"trial-{trial.number:04d}")
    )
    reporter = ValidationReporter(trial)
    start = time.perf_counter()
    try:
        setup = prepare(cfg, test=False)
        trial.set_user_attr("run_dir", str(Path("trials") / f"trial-{trial.number:04d}" / setup.run_id))
        try:
            trained = train_seed(setup, cfg.seeds[0], callbacks=[reporter], test=False)
        finally:
            drop_checkpoints(setup.out_dir)
        record = trained.record or {}
        value = (record.get("val") or {}).get("nmae")
        if value is None or not math.isfinite(value):
            raise DiffbenchError(f"the validation nmae is {value!r}, not a finite number")
    except KeyboardInterrupt:
        trial.set_user_attr("error", "interrupted (Ctrl-C)")
        trial.set_user_attr("duration_s", time.perf_counter() - start)
        study.tell(trial, state=TrialState.FAIL)
        raise
    except Exception as exc:  # noqa: BLE001 - any crash fails this trial only; the search goes on
        trial.set_user_attr("error", one_line(exc))
        trial.set_user_attr("duration_s", time.perf_counter() - start)
        study.tell(trial, state=TrialState.FAIL)
        log(f"trial {trial.number}: FAIL ({one_line(exc)})")
        return
    val = record["val"]
    trial.set_user_attr("duration_s", time.perf_counter() - start)
    trial.set_user_attr("val_nmae", float(val["nmae"]))
    trial.set_user_attr("val_mae", float(val["mae"]))
    trial.set_user_attr("steps_run", record.get("steps_run"))
    trial.set_user_attr("epochs_run", record.get("epochs_run"))
    if reporter.pruned:
        study.tell(trial, state=TrialState.PRUNED)
        log(f"trial {trial.number}: PRUNED at step {record.get('steps_run')} (val nmae {val['nmae']:.4g})")
    else:
        study.tell(trial, float(val["nmae"]))
        log(f"trial {trial.number}: val nmae {val['nmae']:.4g} ({time.perf_counter() - start:.1f} s)")


def drop_checkpoints(run_dir: Path) -> None:
    """Delete a scored trial's checkpoints (its metrics.csv stays): the choice is retrained by
    ``diffbench run --recipe-from``, and a search of a full preset would otherwise keep
    hundreds of MB per trial."""
    for ckpt in Path(run_dir).rglob("*.ckpt"):
        ckpt.unlink(missing_ok=True)
