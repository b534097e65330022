"""``diffbench study``: run (or resume) a study and print its table."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("study", help="run (or resume) a whole study: models x tasks x seeds, its table and plots")
    s.add_argument("name", nargs="?", help="a study name (see --list) or a path to a study YAML")
    s.add_argument("--list", action="store_true", help="list the studies")
    s.add_argument("--out", default="studies", help="output root (default studies/)")
    s.add_argument("--data-dir")
    s.add_argument("--devices", type=int, default=1)
    s.add_argument("--accelerator", default="auto")
    s.add_argument("--wandb-mode")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(func=_study)


def _study(args: argparse.Namespace) -> int:
    from .runner import run_study
    from .spec import load_study, study_names

    if args.list or not args.name:
        for name in study_names():
            spec = load_study(name)
            print(f"{name:16s} {len(spec.models)} models x {len(spec.tasks)} tasks x {len(spec.train_fractions)} fractions x {len(spec.seeds)} seeds  {spec.description[:90]}")
        return 0
    summary = run_study(args.name, out=args.out, data_dir=args.data_dir, devices=args.devices, accelerator=args.accelerator,
                        wandb_mode=args.wandb_mode, progress=not args.no_progress)
    root = f"{args.out}/{summary['study']['name']}"
    print(open(f"{root}/table.md").read())
    print(f"study outputs: {root}/ (table.csv, table.md, summary.json, plots)")
    return 0
