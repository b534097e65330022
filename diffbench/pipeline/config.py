"""The options of ``diffbench run``, each defined once, as a field of :class:`RunConfig`.

A field's metadata (:func:`option`) says everything about its option: the flag and its help,
whether a ``--config`` YAML may set it, how a flag or YAML value is read (``coerce``) and what
``run`` refuses (``check``), whether it is part of the run id (``identity``: always;
``optional``: only when it differs from its default, so run ids from before the option existed
stay valid; ``bookkeeping``: never), and how the reproduce command writes it (``always``, or
when it differs from its default; ``show``). Generated from the fields: the parser
(:func:`add_run_arguments`), the YAML keys (:data:`CONFIG_KEYS`, :func:`load_config`), the
coercion (:func:`coerce`), the checks (:meth:`RunConfig.validate`), the run id
(:meth:`RunConfig.identity`) and :meth:`RunConfig.command`. Adding an option is adding a field.

>>> cfg = RunConfig(model="cnn-small", task="smoke", seeds=[0, 1])
>>> cfg.command()
'diffbench run --model cnn-small --task smoke --seeds 0,1 --devices 1 --accelerator auto --precision 32-true --loss mae'
>>> sorted(RunConfig.OPTIONAL)
['channels_last', 'check_val_every_n_epoch', 'early_stopping', 'max_steps', 'uq']
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
from dataclasses import MISSING, Field, asdict, dataclass, fields
from typing import Any, ClassVar

from ..errors import DiffbenchError
from ..names import check_name
from ..ranges import MAX_INT_LIST, parse_int_list  # noqa: F401 (parse_int_list: importable from here, as before)
from ..training.options import ACCELERATORS, PRECISIONS
from ..training.tuned import SHIPPED, shipped_task, tuned_path
from ..trust.options import parse_uq
from .options import (  # noqa: F401 (IDENTITY: importable from here, as before)
    BOOKKEEPING,
    IDENTITY,
    OPTIONAL,
    boolean,
    check_seeds,
    counts_text,
    file_safe,
    fraction,
    int_list,
    json_object,
    model_text,
    one_of,
    option,
    positive_finite,
    positive_int,
)
from .tuned import TUNE_KIND, TUNED_OPTIONS, load_tuned  # noqa: F401 (TUNE_KIND: importable from here, as before)


@dataclass
class RunConfig:
    """Everything that defines a run: one field per option, in the reproduce command's order
    (the run id hashes every field but the bookkeeping ones)."""

    model: Any = option(
        "unet-small",
        flag="--model",
        always=True,
        show=model_text,
        help="a model name (see `diffbench models`), a plugin name, path/to/file.py:Class, or pkg.module:Class "
        "(default unet-small)",
    )
    task: str = option(
        "standard-64",
        flag="--task",
        always=True,
        help="task name (see `diffbench tasks`) or path to a task YAML (default standard-64)",
    )
    seeds: list[int] = option(
        factory=lambda: [0],
        flag="--seeds",
        always=True,
        coerce=int_list("--seeds"),
        check=check_seeds,
        show=lambda s: ",".join(map(str, s)),
        help=f"training seeds, e.g. 0,1,2 or 0-9, at most {MAX_INT_LIST} (default 0); results aggregate mean ± std",
    )
    devices: int = option(
        1,
        flag="--devices",
        type=int,
        always=True,
        check=positive_int("--devices"),
        help="devices (GPUs, or CPU processes) for DDP (default 1)",
    )
    accelerator: str = option(
        "auto",
        flag="--accelerator",
        always=True,
        check=one_of("--accelerator", ACCELERATORS),
        help="auto | cpu | gpu (default auto: GPU if one is visible)",
    )
    precision: str = option(
        "32-true",
        flag="--precision",
        always=True,
        check=one_of("--precision", PRECISIONS),
        help="32-true (default) | bf16-mixed | 16-mixed (GPU) | ...",
    )
    loss: str = option("mae", flag="--loss", always=True, help="mae (default) | mse | tanh-mae")
    max_epochs: int | None = option(None, flag="--max-epochs", type=int, help="epochs (default: the task's budget)")
    batch_size: int | None = option(
        None,
        flag="--batch-size",
        type=int,
        check=positive_int("--batch-size", optional=True),
        help="global training batch size, split evenly over the --devices x --num-nodes processes "
        "(default: the task's)",
    )
    lr: float | None = option(
        None,
        flag="--lr",
        type=float,
        check=positive_finite("--lr"),
        help="learning rate, a finite number > 0 (default: the recipe's)",
    )
    recipe: str | None = option(None, flag="--recipe", help="paper | fast (default: the task's)")
    num_nodes: int = option(
        1,
        flag="--num-nodes",
        type=int,
        check=positive_int("--num-nodes"),
        help="nodes for multi-node DDP (under SLURM or torchrun)",
    )
    train_counts: list[int] | None = option(
        None,
        flag="--train-counts",
        coerce=int_list("--train-counts"),
        show=counts_text,
        help="train only on these source counts, e.g. 1-10",
    )
    test_counts: list[int] | None = option(
        None,
        flag="--test-counts",
        coerce=int_list("--test-counts"),
        show=counts_text,
        help="validate and test only on these source counts, e.g. 11-20",
    )
    train_fraction: float = option(
        1.0,
        flag="--train-fraction",
        type=float,
        coerce=fraction,
        show=repr,
        help="fraction of the training set, balanced per source count (0, 1]",
    )
    model_args: dict[str, Any] = option(
        factory=dict,
        flag="--model-args",
        coerce=json_object,
        show=lambda a: json.dumps(a, sort_keys=True),
        help="JSON object of constructor overrides, e.g. '{\"width\": 32}'",
    )
    max_steps: int | None = option(
        None,
        flag="--max-steps",
        type=int,
        kind=OPTIONAL,
        check=positive_int("--max-steps", optional=True),
        help="optimisation-step budget instead of epochs (used by data-scaling studies)",
    )
    check_val_every_n_epoch: int = option(
        1,
        flag="--val-every",
        type=int,
        kind=OPTIONAL,
        check=positive_int("--val-every"),
        help="validate every K epochs (default 1)",
    )
    uq: list[str] = option(
        factory=list,
        flag="--uq",
        kind=OPTIONAL,
        coerce=parse_uq,
        show=",".join,
        help="label-free error indicators to compute and score on the test split: any of "
        "mc-dropout,residual,inverse,ensemble (see diffbench.trust.indicators)",
    )
    channels_last: bool = option(
        False,
        flag="--channels-last",
        action="store_true",
        kind=OPTIONAL,
        coerce=boolean("channels_last"),
        help="train and score in the channels-last memory format (cnn-small steps took 0.67x the time "
        "on a CPU; see README)",
    )
    early_stopping: bool = option(
        False,
        flag="--early-stopping",
        action="store_true",
        kind=OPTIONAL,
        coerce=boolean("early_stopping"),
        help="stop when validation MAE has not improved for the recipe's patience (in evaluations), "
        "within the --max-epochs/--max-steps budget; each seed records where and why it stopped",
    )
    # bookkeeping (not hashed)
    wandb_mode: str | None = option(
        None,
        flag="--wandb-mode",
        kind=BOOKKEEPING,
        help="online | offline | disabled (default: online with an API key, else offline)",
    )
    wandb_project: str = option(
        "diffbench", flag="--wandb-project", kind=BOOKKEEPING, help="W&B project (default diffbench)"
    )
    out: str = option("runs", flag="--out", kind=BOOKKEEPING, help="output root (default runs/)")
    data_dir: str | None = option(
        None, flag="--data-dir", kind=BOOKKEEPING, help="data cache root (default $DIFFBENCH_DATA_DIR or ./data)"
    )
    num_workers: int = option(
        0, flag="--num-workers", type=int, kind=BOOKKEEPING, help="DataLoader workers (default 0)"
    )
    images: int = option(3, flag=None, kind=BOOKKEEPING)
    resume: bool = option(
        False,
        flag="--resume",
        action="store_true",
        kind=BOOKKEEPING,
        config=False,
        help="continue an interrupted run of the same configuration",
    )
    progress: bool = option(
        True, flag="--no-progress", action="store_false", kind=BOOKKEEPING, config=False, help="no progress bars"
    )
    wandb_group: str | None = option(None, flag=None, kind=BOOKKEEPING, config=False)
    recipe_from: str | None = option(
        None,
        flag="--recipe-from",
        kind=BOOKKEEPING,
        config=False,
        help="a tune.json written by `diffbench tune`, `tuned` for the search diffbench ships for the model "
        "and task, or `tuned:TASK` for the model's shipped search on TASK carried over: train with the recipe it chose (its --lr and --model-args; --model and --task "
        "default to its own); the result records how it was tuned",
    )
    tuning: dict[str, Any] | None = option(None, flag=None, kind=BOOKKEEPING, config=False)

    BOOKKEEPING: ClassVar[tuple[str, ...]]
    #: Fields left out of the run id while they hold their default, so older run ids stay valid.
    OPTIONAL: ClassVar[dict[str, Any]]

    def identity(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in asdict(self).items()
            if k not in self.BOOKKEEPING and not (k in self.OPTIONAL and v == self.OPTIONAL[k])
        }

    def run_id(self, model_name: str, task_name: str) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()[:10]
        return check_name(f"{task_name}--{file_safe(model_name, 40)}--{digest}", "run id")

    def validate(self) -> None:
        """Every option's ``check`` (those that need no task, model or hardware)."""
        for f in fields(self):
            if f.metadata["check"] is not None:
                f.metadata["check"](getattr(self, f.name))

    def command(self) -> str:
        """The canonical command that reproduces this run, every data-defining option explicit."""
        parts = ["diffbench", "run"]
        for f in fields(self):
            meta, value = f.metadata, getattr(self, f.name)
            if meta["kind"] == BOOKKEEPING or not (meta["always"] or _differs(f, value)):
                continue
            parts += [meta["flag"]] if meta["action"] == "store_true" else [meta["flag"], meta["show"](value)]
        return " ".join(shlex.quote(p) for p in parts)


def _field_default(name: str) -> Any:
    return next(_default(f) for f in fields(RunConfig) if f.name == name)


def _default(f: Field) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _differs(f: Field, value: Any) -> bool:
    """Whether the reproduce command must write ``value``: set, not empty, not the default."""
    return value is not None and value != _default(f) and not (isinstance(value, (list, dict)) and not value)


RunConfig.BOOKKEEPING = tuple(f.name for f in fields(RunConfig) if f.metadata["kind"] == BOOKKEEPING)
RunConfig.OPTIONAL = {f.name: _default(f) for f in fields(RunConfig) if f.metadata["kind"] == OPTIONAL}

#: Options a --config YAML may set (the same names as the fields, with dashes or underscores).
CONFIG_KEYS = tuple(f.name for f in fields(RunConfig) if f.metadata["config"])


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per option that has one; every default is None, so the YAML and the field's
    default apply to what a flag leaves unset."""
    for f in fields(RunConfig):
        meta = f.metadata
        if meta["flag"] is None:
            continue
        kwargs: dict[str, Any] = {"dest": f.name, "help": meta["help"], "default": None}
        if meta["action"]:
            kwargs["action"] = meta["action"]
        elif meta["type"]:
            kwargs["type"] = meta["type"]
        parser.add_argument(meta["flag"], **kwargs)


def coerce(key: str, value: Any) -> Any:
    """A flag or YAML value of option ``key`` as the field holds it (one-line error if bad)."""
    fn = RunConfig.__dataclass_fields__[key].metadata["coerce"]
    return value if value is None or fn is None else fn(value)


def load_config(path: str) -> dict[str, Any]:
    """The options a ``--config`` YAML sets (keys with dashes or underscores), read by
    :func:`diffbench.yamlio.load_yaml`: UTF-8, at most 1 MiB, no anchors or aliases."""
    from ..yamlio import load_yaml  # here, not at the top: the parser is built on every CLI start (yaml: ~20 ms)

    raw = load_yaml(path, "config file", "config files")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DiffbenchError(f"config file {path} must hold a mapping of options, got {type(raw).__name__}")
    cfg = {str(k).replace("-", "_"): v for k, v in raw.items()}
    unknown = sorted(set(cfg) - set(CONFIG_KEYS))
    if unknown:
        raise DiffbenchError(
            f"config file {path}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(CONFIG_KEYS)}"
        )
    return cfg


def apply_tuned(values: dict[str, Any], path: str) -> None:
    """Fill ``values`` with the recipe a tune.json chose (refusing a contradicting flag);
    ``path`` ``"tuned"`` names the shipped search of the model on the task
    (:mod:`diffbench.training.tuned`) and ``"tuned:TASK"`` the shipped search of the model on
    TASK, carried over to the run's task (its label then ends "of TASK"); ``values["recipe_from"]``
    becomes the tune.json's path."""
    model, task = values.get("model") or _field_default("model"), values.get("task") or _field_default("task")
    tuned_on = shipped_task(path)
    if path == SHIPPED or tuned_on is not None:
        path = str(tuned_path(tuned_on or str(task), str(model)))
        values["recipe_from"] = path
    tuned = load_tuned(path)
    if tuned_on is not None and tuned_on != task:  # a recipe carried over from another task, and labelled so
        tuned["task"] = task
        tuned["tuning"] = {
            **tuned["tuning"],
            "label": f"{tuned['tuning']['label']} of {tuned_on}",
            "tuned_task": tuned_on,
        }
    clash = [f"--{k.replace('_', '-')}" for k in TUNED_OPTIONS if values.get(k) not in (None, {})]
    if clash:
        raise DiffbenchError(
            f"--recipe-from sets {' and '.join(clash)} from {path}; give either --recipe-from or {', '.join(clash)}"
        )
    for key in ("model", "task"):
        if values.get(key) is not None and values[key] != tuned[key]:
            raise DiffbenchError(
                f"--recipe-from {path} was tuned for {key} {tuned[key]!r}, not {values[key]!r}; "
                f"drop --{key} or tune {values[key]!r}"
            )
        values[key] = tuned[key]
    values.update(tuned["options"])
    values["tuning"] = tuned["tuning"]


def build_run_config(args: argparse.Namespace) -> RunConfig:
    """The run's options: the ``--config`` YAML, overridden by the flags given, coerced; with
    ``--recipe-from``, the learning rate and model arguments a tuning search chose."""
    values: dict[str, Any] = load_config(args.config) if getattr(args, "config", None) else {}
    for f in fields(RunConfig):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
    if values.get("recipe_from"):
        apply_tuned(values, values["recipe_from"])
    return RunConfig(**{k: coerce(k, v) for k, v in values.items() if v is not None})
