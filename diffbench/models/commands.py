"""``diffbench models`` and ``diffbench check-model``."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("models", help="list every model (built-ins and plugins) with its package and size")
    m.add_argument("--task", default="standard-64", help="count parameters for this task's input channels and lattice (default standard-64)")
    m.add_argument("--json", action="store_true", help="print JSON")
    m.set_defaults(func=_models)

    c = sub.add_parser("check-model", help="validate a model (shape, dtype, determinism, size, one training step) in seconds")
    c.add_argument("name", help="a model name, plugin name, path/to/file.py:Class or pkg.module:Class")
    c.add_argument("--task", default="smoke", help="build it for this task's input channels and lattice (default smoke)")
    c.add_argument("--model-args", help="JSON object of constructor overrides")
    c.set_defaults(func=_check)


def _models(args: argparse.Namespace) -> int:
    from ..data import load_task
    from ..errors import DiffbenchError
    from . import count_parameters, create, list_models

    task = load_task(args.task)
    rows = []
    for info in list_models():
        params, error = None, info.error
        if error is None:
            try:
                params = count_parameters(create(info.name, in_channels=task.in_channels, lattice=task.lattice))
            except DiffbenchError as exc:
                error = str(exc)
        rows.append({"name": info.name, "kind": info.kind, "package": info.package, "version": info.version,
                     "parameters": params, "description": info.description, "class_path": info.class_path, "error": error})
    if args.json:
        print(json.dumps({"task": task.name, "models": rows}, indent=1))
        return 0
    print(f"models for task {task.name} (N = {task.lattice}, {task.in_channels} input channel{'s' if task.in_channels > 1 else ''}):")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        size = f"{r['parameters']:>12,}" if r["parameters"] is not None else f"{'—':>12}"
        origin = "built-in" if r["kind"] == "built-in" else f"{r['package']} {r['version']}"
        text = f"BROKEN: {r['error']}" if r["error"] else r["description"]
        print(f"  {r['name']:<{width}}  {size}  {origin:<22} {text}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from ..data import load_task
    from ..errors import DiffbenchError
    from .check import check_model

    overrides = None
    if args.model_args:
        try:
            overrides = json.loads(args.model_args)
        except ValueError:
            overrides = None
        if not isinstance(overrides, dict):
            raise DiffbenchError(f"--model-args must be a JSON object, got {args.model_args!r}")
    task = load_task(args.task)
    report = check_model(args.name, task.in_channels, task.lattice, overrides=overrides)
    print(report.summary())
    print(f"ok: {args.name} is ready for task {task.name}")
    return 0
