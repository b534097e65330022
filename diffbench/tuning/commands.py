"""``diffbench tune``: search a model's recipe on the validation split (see :mod:`diffbench.tuning.search`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("tune", help="search a model's learning rate (and width/modes) on the validation split; writes tune.json")
    t.add_argument("--model", required=True, help="a model name, plugin or class path (as for `diffbench run`)")
    t.add_argument("--task", default="standard-64", help="task name or YAML path (default standard-64)")
    t.add_argument("--trials", type=int, default=20, help="trials in the whole search, all workers together (default 20)")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--budget-steps", type=int, help="optimiser steps per trial (default: the run's own budget)")
    budget.add_argument("--max-epochs", type=int, help="epochs per trial (default: the run's own budget)")
    t.add_argument("--seed", type=int, default=0, help="training seed of every trial, and the sampler's seed (default 0)")
    t.add_argument("--space", default="full", help="full (lr, and width/modes where the preset exposes them; default) | lr")
    t.add_argument("--storage", help="Optuna storage URL shared by workers (default: sqlite:///OUT/STUDY/study.db); "
                                     "e.g. sqlite:///shared/tune.db, postgresql://user@host/db")
    t.add_argument("--study-name", help="the search's name in the storage (default: tune--TASK--MODEL--<digest of its options>)")
    t.add_argument("--out", default="runs", help="output root: OUT/STUDY-NAME/{tune.json, trials/} (default runs/)")
    t.add_argument("--data-dir")
    t.add_argument("--accelerator", default="auto")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=_tune)


def _tune(args: argparse.Namespace) -> int:
    from ..errors import DiffbenchError
    from .search import tune

    doc = tune(args.model, args.task, trials=args.trials, budget_steps=args.budget_steps, max_epochs=args.max_epochs, seed=args.seed,
               storage=args.storage, study_name=args.study_name, out=args.out, data_dir=args.data_dir, space=args.space,
               accelerator=args.accelerator, progress=not args.no_progress)
    states = ", ".join(f"{v} {k.lower()}" for k, v in doc["states"].items() if v)
    print(f"{doc['label']} ({states}); study {doc['study_name']}")
    chosen = doc["chosen"]
    path = f"{args.out}/{doc['study_name']}/tune.json"
    if chosen is None:
        errors = [t["error"] for t in doc["trials"] if t.get("error")]
        first = f", first error: {errors[0]}" if errors else ""
        raise DiffbenchError(f"no trial of search {doc['study_name']} completed ({states}{first}); nothing chosen; "
                             f"every trial is in {path}")
    print(f"chosen: trial {chosen['number']}, val nmae {chosen['val_nmae']:.4g}: {chosen['command']}")
    print(f"tune: {path}")
    return 0
