"""``diffbench generate`` and ``diffbench tasks``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate (or verify and complete) a task's data cache")
    p.add_argument("--task", default="smoke", help="task name (see `diffbench tasks`) or path to a task YAML")
    p.add_argument("--data-dir", default=None, help="cache root (default $DIFFBENCH_DATA_DIR or ./data)")
    p.add_argument("--devices", type=int, default=1, help="processes (GPUs with CuPy) generating shards in parallel")
    p.add_argument("--backend", default="auto", choices=("auto", "numpy", "cupy"), help="array backend of the solver")
    p.add_argument("--splits", default="train,val,test", help="comma-separated splits to generate")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_generate)

    t = sub.add_parser("tasks", help="list the benchmark tasks")
    t.add_argument("--json", action="store_true", help="print the full task specs as JSON")
    t.set_defaults(func=_tasks)


def _generate(args: argparse.Namespace) -> int:
    from ..errors import DiffbenchError
    from .generation import ensure_cache
    from .spec import SPLITS

    splits = tuple(s.strip() for s in args.splits.split(",") if s.strip())
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise DiffbenchError(f"unknown split(s) {', '.join(bad) or '(none)'}; allowed: {', '.join(SPLITS)}")
    cache = ensure_cache(
        args.task,
        args.data_dir,
        splits=splits,
        devices=args.devices,
        backend=args.backend,
        progress=not args.no_progress,
    )
    m = cache.read_manifest()
    for s in splits:
        shards = m["splits"][s]["shards"] if m else {}
        worst = max((e["max_residual"] for e in shards.values()), default=0.0)
        methods = sorted({x for e in shards.values() for x in e["methods"]})
        print(
            f"{cache.task.name} {s}: {cache.task.splits[s].size} samples in {len(shards)} shard(s), solver {'/'.join(methods)}, max residual {worst:.1e}"
        )
    print(f"cache: {cache.root}")
    return 0


def _tasks(args: argparse.Namespace) -> int:
    import json

    from .tasks import all_tasks

    tasks = all_tasks()
    if args.json:
        print(json.dumps([t.to_dict() for t in tasks], indent=1))
        return 0
    rows = []
    for t in tasks:

        def counts(s):
            c = t.splits[s].counts
            return f"{c[0]}-{c[-1]}" if list(c) == list(range(c[0], c[-1] + 1)) else ",".join(map(str, c))

        rows.append(
            (
                t.name,
                t.axis,
                str(t.lattice),
                counts("train"),
                counts("test"),
                f"{t.splits['train'].size}/{t.splits['val'].size}/{t.splits['test'].size}",
                t.serve,
                ",".join(t.input_channels),
            )
        )
    head = ("task", "axis", "N", "train src", "test src", "train/val/test", "serve", "input channels")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0
