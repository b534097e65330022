"""``diffbench run``, ``diffbench evaluate`` and ``diffbench verify`` (the run options are defined in :mod:`diffbench.pipeline.config`)."""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

from ..errors import DiffbenchError
from ..ranges import parse_int_list
from .config import add_run_arguments, build_run_config

__all__ = ["build_run_config", "register"]

#: The failed writes a run reports in one line (disk full, quota, read-only, permissions, I/O).
WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train a model on a task under the protocol and write result.json")
    add_run_arguments(p)
    p.add_argument("--config", help="YAML file with any of these options (flags given here override it)")
    p.set_defaults(func=_run)

    e = sub.add_parser("evaluate", help="re-score a checkpoint and write its metrics JSON")
    e.add_argument("checkpoint", help="a best.ckpt or last.ckpt written by `diffbench run`")
    e.add_argument("--task", help="task to evaluate on (default: the checkpoint's own)")
    e.add_argument("--devices", type=int, default=1)
    e.add_argument("--accelerator", default="auto")
    e.add_argument("--split", default="test", choices=("val", "test"))
    e.add_argument("--test-counts", help="only these source counts, e.g. 11-20")
    e.add_argument("--data-dir")
    e.add_argument("--out", help="directory for metrics.json (default: beside the checkpoint)")
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(func=_evaluate)

    v = sub.add_parser(
        "verify", help="re-score a submission from its checkpoints and compare every metric with its claim"
    )
    v.add_argument(
        "submission", help="a stored submission (leaderboard/submissions/<task>/<id>.json) or a run's result.json"
    )
    v.add_argument(
        "--checkpoint-dir",
        metavar="D",
        help="where the checkpoints are (default: the submission's bundle folder "
        "<id>/, or the run folder); fetched checkpoints are kept here",
    )
    v.add_argument(
        "--data-dir", help="data cache root (the test and validation splits are regenerated here when missing)"
    )
    v.add_argument(
        "--max-bytes", type=int, default=None, help="skip (the entry stays claimed) when the checkpoints weigh more"
    )
    v.add_argument("--accelerator", default="cpu", choices=("cpu", "gpu"), help="where to re-score (default cpu)")
    v.add_argument("--no-record", action="store_true", help="do not write <id>/verification.json")
    v.add_argument("--no-progress", action="store_true")
    v.set_defaults(func=_verify)


def _run(args: argparse.Namespace) -> int:
    from ..training.options import check_devices_early

    cfg = build_run_config(args)
    cfg.validate()
    check_devices_early(cfg.accelerator, cfg.devices)  # before the training stack is imported (seconds)

    from ..training.console import wandb_lines
    from ..training.reporting import summary_table
    from .run import run

    try:
        result = run(cfg, argv=sys.argv[1:])
    except OSError as exc:
        if exc.errno not in WRITE_ERRORS:
            raise
        where = exc.filename or "a file of the run"
        raise DiffbenchError(
            f"could not write {where} ({exc.strerror or exc}); finished seeds and whole checkpoints are "
            "kept: make room (or fix the permissions) and rerun with --resume"
        ) from None
    if result is None:
        return 0
    run_dir = Path(cfg.out) / result["run_id"]
    print(summary_table(result))
    print(f"result: {run_dir}/result.json")
    for line in wandb_lines([s.get("wandb") for s in result["per_seed"]], run_dir.absolute()):
        print(line)
    print(f"reproduce: {result['command']}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_checkpoint

    counts = parse_int_list(args.test_counts, "--test-counts") if args.test_counts else None
    out = evaluate_checkpoint(
        args.checkpoint,
        task=args.task,
        devices=args.devices,
        accelerator=args.accelerator,
        split=args.split,
        counts=counts,
        data_dir=args.data_dir,
        out=args.out,
        progress=not args.no_progress,
    )
    if out is not None:
        m = out["metrics"]
        print(
            f"{out['model']['name']} on {out['task']['name']} ({args.split}, {m['n_samples']} samples): "
            f"mae {m['mae']:.4g}  nmae {m['nmae']:.4g}  max_abs_error {m['max_abs_error']:.4g}"
        )
        print(f"metrics: {out['path']}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .verify import verify

    if args.max_bytes is not None and args.max_bytes < 0:
        from ..errors import DiffbenchError

        raise DiffbenchError(f"--max-bytes must be >= 0, got {args.max_bytes}")
    report = verify(
        args.submission,
        checkpoint_dir=args.checkpoint_dir,
        data_dir=args.data_dir,
        max_bytes=args.max_bytes,
        record=not args.no_record,
        accelerator=args.accelerator,
        progress=not args.no_progress,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    if report.status == "skipped":
        print(f"skipped: {report.source}: {report.reason}")
        return 0
    print(
        f"verified: {report.source}: {len(report.seeds)} seed(s), {report.metrics_compared} metrics re-scored from "
        f"{report.checkpoint_bytes} bytes of checkpoints agree with the claim"
    )
    if report.record_path is not None:
        print(f"record: {report.record_path}")
    return 0
