"""``diffbench run`` and ``diffbench evaluate``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ..errors import DiffbenchError

#: Options a --config YAML may set (the same names as the flags, with dashes or underscores).
CONFIG_KEYS = ("model", "task", "seeds", "devices", "accelerator", "num_nodes", "max_epochs", "max_steps", "check_val_every_n_epoch", "batch_size", "lr", "loss",
               "recipe", "precision", "train_counts", "test_counts", "train_fraction", "model_args", "out", "data_dir",
               "wandb_mode", "wandb_project", "num_workers", "images", "uq", "channels_last")


def parse_int_list(text: str, what: str) -> list[int]:
    """``"0,1,2"``, ``"0-4"`` or a mix (``"1-3,7"``) into a list of ints."""
    out: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                out.extend(range(a, b + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise DiffbenchError(f"{what} must be integers like 0,1,2 or ranges like 1-10, got {text!r}") from None
    if not out:
        raise DiffbenchError(f"{what} must name at least one integer, got {text!r}")
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train a model on a task under the protocol and write result.json")
    a = p.add_argument
    a("--model", help="a model name (see `diffbench models`), a plugin name, path/to/file.py:Class, or pkg.module:Class (default unet-small)")
    a("--task", help="task name (see `diffbench tasks`) or path to a task YAML (default standard-64)")
    a("--devices", type=int, help="devices (GPUs, or CPU processes) for DDP (default 1)")
    a("--accelerator", help="auto | cpu | gpu (default auto: GPU if one is visible)")
    a("--num-nodes", type=int, help="nodes for multi-node DDP (under SLURM or torchrun)")
    a("--seeds", help="training seeds, e.g. 0,1,2 or 0-9 (default 0); results aggregate mean ± std")
    a("--max-epochs", type=int, help="epochs (default: the task's budget)")
    a("--max-steps", type=int, help="optimisation-step budget instead of epochs (used by data-scaling studies)")
    a("--val-every", type=int, dest="check_val_every_n_epoch", help="validate every K epochs (default 1)")
    a("--batch-size", type=int, help="training batch size (default: the task's)")
    a("--lr", type=float, help="learning rate (default: the recipe's)")
    a("--loss", help="mae (default) | mse | tanh-mae")
    a("--recipe", help="paper | fast (default: the task's)")
    a("--precision", help="32-true (default) | bf16-mixed | 16-mixed (GPU) | ...")
    a("--train-counts", help="train only on these source counts, e.g. 1-10")
    a("--test-counts", help="validate and test only on these source counts, e.g. 11-20")
    a("--train-fraction", type=float, help="fraction of the training set, balanced per source count (0, 1]")
    a("--model-args", help="JSON object of constructor overrides, e.g. '{\"width\": 32}'")
    a("--uq", help="label-free error indicators to compute and score on the test split: any of "
                   "mc-dropout,residual,inverse,ensemble (see diffbench.trust.indicators)")
    a("--channels-last", action="store_true", default=None,
      help="train and score in the channels-last memory format (cnn-small steps took 0.67x the time on a CPU; see README)")
    a("--wandb-mode", help="online | offline | disabled (default: online with an API key, else offline)")
    a("--wandb-project", help="W&B project (default diffbench)")
    a("--out", help="output root (default runs/)")
    a("--data-dir", help="data cache root (default $DIFFBENCH_DATA_DIR or ./data)")
    a("--num-workers", type=int, help="DataLoader workers (default 0)")
    a("--config", help="YAML file with any of these options (flags given here override it)")
    a("--resume", action="store_true", default=None, help="continue an interrupted run of the same configuration")
    a("--no-progress", action="store_true", default=None, help="no progress bars")
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



def _load_config(path: str) -> dict[str, Any]:
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise DiffbenchError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise DiffbenchError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DiffbenchError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DiffbenchError(f"config file {path} must hold a mapping of options, got {type(raw).__name__}")
    cfg = {str(k).replace("-", "_"): v for k, v in raw.items()}
    unknown = sorted(set(cfg) - set(CONFIG_KEYS))
    if unknown:
        raise DiffbenchError(f"config file {path}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(CONFIG_KEYS)}")
    return cfg


def _coerce(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key == "seeds":
        return value if isinstance(value, list) else parse_int_list(value, "--seeds")
    if key in ("train_counts", "test_counts"):
        return value if isinstance(value, list) else parse_int_list(value, f"--{key.replace('_', '-')}")
    if key == "uq":
        from ..trust.indicators import parse_uq

        return parse_uq(value)
    if key == "channels_last" and not isinstance(value, bool):
        raise DiffbenchError(f"channels_last must be true or false, got {value!r}")
    if key == "model_args":
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(value)
        except ValueError:
            raise DiffbenchError(f"--model-args must be a JSON object, got {value!r}") from None
        if not isinstance(parsed, dict):
            raise DiffbenchError(f"--model-args must be a JSON object, got {value!r}")
        return parsed
    if key == "train_fraction" and not (isinstance(value, (int, float)) and 0 < value <= 1 and math.isfinite(value)):
        raise DiffbenchError(f"--train-fraction must be in (0, 1], got {value!r}")
    return value


def build_run_config(args: argparse.Namespace) -> Any:
    from .config import RunConfig

    values: dict[str, Any] = {}
    if args.config:
        values.update(_load_config(args.config))
    for key in CONFIG_KEYS:
        v = getattr(args, key, None)
        if v is not None:
            values[key] = v
    values = {k: _coerce(k, v) for k, v in values.items() if v is not None}
    if args.resume:
        values["resume"] = True
    if args.no_progress:
        values["progress"] = False
    return RunConfig(**values)


def _run(args: argparse.Namespace) -> int:
    from ..training.reporting import summary_table
    from .run import run

    cfg = build_run_config(args)
    result = run(cfg, argv=sys.argv[1:])
    if result is None:
        return 0
    print(summary_table(result))
    print(f"result: {cfg.out}/{result['run_id']}/result.json")
    print(f"reproduce: {result['command']}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_checkpoint

    counts = parse_int_list(args.test_counts, "--test-counts") if args.test_counts else None
    out = evaluate_checkpoint(args.checkpoint, task=args.task, devices=args.devices, accelerator=args.accelerator,
                              split=args.split, counts=counts, data_dir=args.data_dir, out=args.out, progress=not args.no_progress)
    if out is not None:
        m = out["metrics"]
        print(f"{out['model']['name']} on {out['task']['name']} ({args.split}, {m['n_samples']} samples): "
              f"mae {m['mae']:.4g}  nmae {m['nmae']:.4g}  max_abs_error {m['max_abs_error']:.4g}")
        print(f"metrics: {out['path']}")
    return 0
