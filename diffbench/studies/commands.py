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
    s.add_argument(
        "--launcher",
        default="inline",
        help="inline (default: this process) | local (one local job per run, through submitit) | "
        "slurm (a SLURM job array, one job per run; --out must be on a shared filesystem)",
    )
    s.add_argument("--partition", help="SLURM partition (--launcher slurm)")
    s.add_argument("--time", type=int, default=60, help="minutes per job (default 60)")
    s.add_argument(
        "--gpus-per-node", type=int, default=0, help="GPUs per job; a run uses them all through DDP (default 0)"
    )
    s.add_argument("--cpus-per-task", type=int, default=1, help="CPU cores per job (default 1)")
    s.add_argument("--mem-gb", type=int, help="memory per job in GB (default: the partition's)")
    s.add_argument(
        "--array-parallelism", type=int, default=64, help="most jobs of the array running at once (default 64)"
    )
    s.add_argument(
        "--wait", action="store_true", help="wait for the jobs and write the table (always with --launcher local)"
    )
    s.set_defaults(func=_study)


def _study(args: argparse.Namespace) -> int:
    from ..errors import DiffbenchError
    from .launch import check_launcher, launch_study, slurm_parameters
    from .runner import run_study
    from .spec import load_study, study_names

    if args.list or not args.name:
        for name in study_names():
            spec = load_study(name)
            print(
                f"{name:16s} {len(spec.models)} models x {len(spec.tasks)} tasks x {len(spec.train_fractions)} fractions x {len(spec.seeds)} seeds  {spec.description[:90]}"
            )
        return 0
    check_launcher(args.launcher)
    if args.launcher == "inline":
        summary = run_study(
            args.name,
            out=args.out,
            data_dir=args.data_dir,
            devices=args.devices,
            accelerator=args.accelerator,
            wandb_mode=args.wandb_mode,
            progress=not args.no_progress,
        )
    else:
        if args.devices != 1:
            raise DiffbenchError(
                f"--devices {args.devices} applies to inline studies; with --launcher {args.launcher} give each job "
                "its GPUs with --gpus-per-node"
            )
        params = slurm_parameters(
            partition=args.partition,
            time_min=args.time,
            gpus_per_node=args.gpus_per_node,
            cpus_per_task=args.cpus_per_task,
            mem_gb=args.mem_gb,
            array_parallelism=args.array_parallelism,
        )
        summary = launch_study(
            args.name,
            args.launcher,
            out=args.out,
            data_dir=args.data_dir,
            accelerator=args.accelerator,
            wandb_mode=args.wandb_mode,
            wait=args.wait,
            slurm=params,
        )
        if summary is None:
            return 0
    root = f"{args.out}/{summary['study']['name']}"
    print(open(f"{root}/table.md").read())
    print(f"study outputs: {root}/ (table.csv, table.md, summary.json, plots)")
    return 0
