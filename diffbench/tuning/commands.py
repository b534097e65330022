"""``diffbench tune``: search a model's recipe on the validation split (see :mod:`diffbench.tuning.search`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "tune", help="search a model's learning rate (and width/modes) on the validation split; writes tune.json"
    )
    t.add_argument("--model", required=True, help="a model name, plugin or class path (as for `diffbench run`)")
    t.add_argument("--task", default="standard-64", help="task name or YAML path (default standard-64)")
    t.add_argument(
        "--trials", type=int, default=20, help="trials in the whole search, all workers together (default 20)"
    )
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--budget-steps", type=int, help="optimiser steps per trial (default: the run's own budget)")
    budget.add_argument("--max-epochs", type=int, help="epochs per trial (default: the run's own budget)")
    t.add_argument(
        "--seed", type=int, default=0, help="training seed of every trial, and the sampler's seed (default 0)"
    )
    t.add_argument(
        "--space", default="full", help="full (lr, and width/modes where the preset exposes them; default) | lr"
    )
    t.add_argument(
        "--storage",
        help="Optuna storage URL shared by workers (default: sqlite:///OUT/STUDY/study.db); "
        "e.g. sqlite:///shared/tune.db, postgresql://user@host/db",
    )
    t.add_argument(
        "--study-name", help="the search's name in the storage (default: tune--TASK--MODEL--<digest of its options>)"
    )
    t.add_argument("--out", default="runs", help="output root: OUT/STUDY-NAME/{tune.json, trials/} (default runs/)")
    t.add_argument("--data-dir")
    t.add_argument("--accelerator", default="auto")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument(
        "--workers", type=int, default=1, help="with --launcher local|slurm: worker jobs sharing the search (default 1)"
    )
    t.add_argument(
        "--launcher",
        default="inline",
        help="inline (default: this process is the one worker) | local (worker processes through submitit) | "
        "slurm (a SLURM job array of workers; --storage and --out must be reachable from every node)",
    )
    t.add_argument("--partition", help="SLURM partition (--launcher slurm)")
    t.add_argument("--time", type=int, default=60, help="minutes per worker job (default 60)")
    t.add_argument("--gpus-per-node", type=int, default=0, help="GPUs per worker job (default 0)")
    t.add_argument("--cpus-per-task", type=int, default=1, help="CPU cores per worker job (default 1)")
    t.add_argument("--mem-gb", type=int, help="memory per worker job in GB")
    t.add_argument(
        "--wait", action="store_true", help="wait for the workers and write tune.json (always with --launcher local)"
    )
    t.set_defaults(func=_tune)


def _tune(args: argparse.Namespace) -> int:
    from ..errors import DiffbenchError
    from ..studies.launch import check_launcher, slurm_parameters
    from .search import tune

    options = dict(
        trials=args.trials,
        budget_steps=args.budget_steps,
        max_epochs=args.max_epochs,
        seed=args.seed,
        storage=args.storage,
        study_name=args.study_name,
        out=args.out,
        data_dir=args.data_dir,
        space=args.space,
        accelerator=args.accelerator,
    )
    check_launcher(args.launcher)
    if args.launcher == "inline":
        if args.workers != 1:
            raise DiffbenchError(
                f"--workers {args.workers} needs --launcher local or slurm (an inline search is one worker: "
                "start more `diffbench tune` processes with the same --storage to add workers)"
            )
        doc = tune(args.model, args.task, progress=not args.no_progress, **options)
    else:
        from .launch import launch_tune

        params = slurm_parameters(
            partition=args.partition,
            time_min=args.time,
            gpus_per_node=args.gpus_per_node,
            cpus_per_task=args.cpus_per_task,
            mem_gb=args.mem_gb,
            array_parallelism=max(1, args.workers),
        )
        doc = launch_tune(
            args.model, args.task, workers=args.workers, launcher=args.launcher, slurm=params, wait=args.wait, **options
        )
        if doc is None:
            return 0
    states = ", ".join(f"{v} {k.lower()}" for k, v in doc["states"].items() if v)
    print(f"{doc['label']} ({states}); study {doc['study_name']}")
    chosen = doc["chosen"]
    path = f"{args.out}/{doc['study_name']}/tune.json"
    if chosen is None:
        errors = [t["error"] for t in doc["trials"] if t.get("error")]
        first = f", first error: {errors[0]}" if errors else ""
        raise DiffbenchError(
            f"no trial of search {doc['study_name']} completed ({states}{first}); nothing chosen; "
            f"every trial is in {path}"
        )
    print(f"chosen: trial {chosen['number']}, val nmae {chosen['val_nmae']:.4g}: {chosen['command']}")
    print(f"tune: {path}")
    return 0
