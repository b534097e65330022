"""``diffbench models`` and ``diffbench check-model``.

Plugin code (and, for ``check-model``, any model that is not a built-in) runs in a child process
with a time limit (``--timeout``, see :mod:`diffbench.models.isolation`): a plugin that exits,
dies or hangs is reported on one line and never silences the command.
"""

from __future__ import annotations

import argparse
import json

TIMEOUT_HELP = (
    "seconds {what} gets before it is reported as hanging (default {default:g}); plugin code runs in a "
    "child process that is killed then"
)


def register(sub: argparse._SubParsersAction) -> None:
    from .isolation import DEFAULT_TIMEOUT

    m = sub.add_parser(
        "models",
        help="list every model (built-ins and plugins) with its package and size; "
        "a broken or hanging plugin is listed on one line, never aborts the list",
    )
    m.add_argument(
        "--task",
        default="standard-64",
        help="count parameters for this task's input channels and lattice (default standard-64)",
    )
    m.add_argument("--json", action="store_true", help="print JSON")
    m.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=TIMEOUT_HELP.format(what="each plugin (import and build)", default=DEFAULT_TIMEOUT),
    )
    m.set_defaults(func=_models)

    c = sub.add_parser(
        "check-model", help="validate a model (shape, dtype, determinism, size, one training step) in seconds"
    )
    c.add_argument("name", help="a model name, plugin name, path/to/file.py:Class or pkg.module:Class")
    c.add_argument(
        "--task", default="smoke", help="build it for this task's input channels and lattice (default smoke)"
    )
    c.add_argument("--model-args", help="JSON object of constructor overrides")
    c.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=TIMEOUT_HELP.format(what="a model that is not a built-in (the whole check)", default=DEFAULT_TIMEOUT),
    )
    c.set_defaults(func=_check)


def _models(args: argparse.Namespace) -> int:
    import diffbench

    from ..data import load_task
    from ..errors import DiffbenchError
    from .isolation import check_timeout, survey_plugins
    from .registry import BUILT_IN, PRESETS, count_parameters, create

    timeout = check_timeout(args.timeout)
    task = load_task(args.task)
    rows = []
    for preset in PRESETS.values():  # built-ins in this process: no plugin code runs here
        params, error = None, None
        try:
            params = count_parameters(create(preset.name, in_channels=task.in_channels, lattice=task.lattice))
        except DiffbenchError as exc:
            error = str(exc)
        rows.append(
            {
                "name": preset.name,
                "kind": BUILT_IN,
                "package": "diffbench",
                "version": diffbench.__version__,
                "parameters": params,
                "description": preset.description,
                "class_path": preset.class_path,
                "error": error,
            }
        )
    for row in survey_plugins(task.in_channels, task.lattice, timeout=timeout):
        rows.append(
            {
                key: row[key]
                for key in ("name", "kind", "package", "version", "parameters", "description", "class_path", "error")
            }
        )
    if args.json:
        print(json.dumps({"task": task.name, "models": rows}, indent=1))
        return 0
    print(
        f"models for task {task.name} (N = {task.lattice}, {task.in_channels} input channel{'s' if task.in_channels > 1 else ''}):"
    )
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
    from .isolation import check_model_isolated, check_timeout
    from .presets import PRESETS

    timeout = check_timeout(args.timeout)
    overrides = None
    if args.model_args:
        try:
            overrides = json.loads(args.model_args)
        except ValueError:
            overrides = None
        if not isinstance(overrides, dict):
            raise DiffbenchError(f"--model-args must be a JSON object, got {args.model_args!r}")
    task = load_task(args.task)
    if args.name in PRESETS:  # a built-in runs no plugin code: checked here, with no child process
        from .check import check_model

        report = check_model(args.name, task.in_channels, task.lattice, overrides=overrides)
    else:  # plugin or class path: in a child with a time limit; this process never imports torch
        report = check_model_isolated(args.name, task.in_channels, task.lattice, overrides=overrides, timeout=timeout)
    print(report.summary())
    print(f"ok: {args.name} is ready for task {task.name}")
    return 0
