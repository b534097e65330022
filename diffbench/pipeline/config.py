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
import math
import re
import shlex
from collections.abc import Callable
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from ..errors import DiffbenchError
from ..names import check_name
from ..ranges import MAX_INT_LIST, parse_int_list  # parse_int_list: also the commands'
from ..training.options import ACCELERATORS, PRECISIONS, check_choice, check_positive_int
from ..training.tuned import SHIPPED, shipped_task, tuned_path
from ..trust.options import parse_uq

IDENTITY, OPTIONAL, BOOKKEEPING = "identity", "optional", "bookkeeping"


def option(default: Any = MISSING, *, factory: Callable[[], Any] | None = None, flag: str | None, help: str = "",
           kind: str = IDENTITY, type: Callable[[str], Any] | None = None, action: str | None = None, config: bool = True,
           coerce: Callable[[Any], Any] | None = None, check: Callable[[Any], None] | None = None, always: bool = False,
           show: Callable[[Any], str] = str) -> Any:
    """A :class:`RunConfig` field and everything about its option (see the module docstring).

    ``flag`` None: no command-line flag; ``type``/``action``: argparse's; ``config``: a YAML may
    set it; ``always``: the reproduce command writes it even at its default."""
    meta = {"flag": flag, "help": help, "kind": kind, "type": type, "action": action, "config": config, "coerce": coerce,
            "check": check, "always": always, "show": show}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def counts_text(counts: list[int]) -> str:
    """The shortest ``--train-counts`` text for ``counts``.

    >>> counts_text([3, 1, 2]), counts_text([5, 9])
    ('1-3', '5,9')
    """
    c = sorted(counts)
    return f"{c[0]}-{c[-1]}" if c == list(range(c[0], c[-1] + 1)) else ",".join(map(str, c))


def file_safe(text: Any, limit: int) -> str:
    """``text`` fit for a file name: every character but ASCII letters, digits, ``-``, ``_`` and
    ``.`` becomes ``-``, runs of dots become one; at most ``limit`` characters.

    >>> file_safe("pkg.mod:Net v2", 12), file_safe("../ünï..x", 20)
    ('pkg.mod-Net-', '.--n-.x')
    """
    out = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in str(text))
    return re.sub(r"\.{2,}", ".", out)[:limit]


# -- coercion (flag and YAML values) and checks (what run refuses), one per kind of option ----------


def _int_list(flag: str) -> Callable[[Any], list[int]]:
    return lambda value: value if isinstance(value, list) else parse_int_list(value, flag)


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        raise DiffbenchError(f"--model-args must be a JSON object, got {value!r}") from None
    if not isinstance(parsed, dict):
        raise DiffbenchError(f"--model-args must be a JSON object, got {value!r}")
    return parsed


def _boolean(name: str) -> Callable[[Any], bool]:
    def coerce_bool(value: Any) -> bool:
        if not isinstance(value, bool):
            raise DiffbenchError(f"{name} must be true or false, got {value!r}")
        return value

    return coerce_bool


def _fraction(value: Any) -> float:
    if not (isinstance(value, (int, float)) and 0 < value <= 1 and math.isfinite(value)):
        raise DiffbenchError(f"--train-fraction must be in (0, 1], got {value!r}")
    return value


def _positive_finite(flag: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise DiffbenchError(f"{flag} must be a finite number > 0, got {value!r}")

    return check


def _positive_int(flag: str, optional: bool = False) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not (optional and value is None):
            check_positive_int(flag, value)

    return check


def _one_of(flag: str, allowed: tuple[str, ...]) -> Callable[[Any], None]:
    return lambda value: check_choice(flag, value, allowed)


def _check_seeds(seeds: Any) -> None:
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise DiffbenchError(f"--seeds must be non-negative integers, e.g. 0,1,2; got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise DiffbenchError(f"--seeds must not repeat a seed, got {seeds!r}")


def _model_text(model: Any) -> str:
    return model if isinstance(model, str) else json.dumps(model)


@dataclass
class RunConfig:
    """Everything that defines a run: one field per option, in the reproduce command's order
    (the run id hashes every field but the bookkeeping ones)."""

    model: Any = option("unet-small", flag="--model", always=True, show=_model_text,
                        help="a model name (see `diffbench models`), a plugin name, path/to/file.py:Class, or pkg.module:Class "
                             "(default unet-small)")
    task: str = option("standard-64", flag="--task", always=True,
                       help="task name (see `diffbench tasks`) or path to a task YAML (default standard-64)")
    seeds: list[int] = option(factory=lambda: [0], flag="--seeds", always=True, coerce=_int_list("--seeds"), check=_check_seeds,
                              show=lambda s: ",".join(map(str, s)),
                              help=f"training seeds, e.g. 0,1,2 or 0-9, at most {MAX_INT_LIST} (default 0); results aggregate mean ± std")
    devices: int = option(1, flag="--devices", type=int, always=True, check=_positive_int("--devices"), help="devices (GPUs, or CPU processes) for DDP (default 1)")
    accelerator: str = option("auto", flag="--accelerator", always=True, check=_one_of("--accelerator", ACCELERATORS), help="auto | cpu | gpu (default auto: GPU if one is visible)")
    precision: str = option("32-true", flag="--precision", always=True, check=_one_of("--precision", PRECISIONS), help="32-true (default) | bf16-mixed | 16-mixed (GPU) | ...")
    loss: str = option("mae", flag="--loss", always=True, help="mae (default) | mse | tanh-mae")
    max_epochs: int | None = option(None, flag="--max-epochs", type=int, help="epochs (default: the task's budget)")
    batch_size: int | None = option(None, flag="--batch-size", type=int, check=_positive_int("--batch-size", optional=True),
                                    help="global training batch size, split evenly over the --devices x --num-nodes processes "
                                         "(default: the task's)")
    lr: float | None = option(None, flag="--lr", type=float, check=_positive_finite("--lr"),
                              help="learning rate, a finite number > 0 (default: the recipe's)")
    recipe: str | None = option(None, flag="--recipe", help="paper | fast (default: the task's)")
    num_nodes: int = option(1, flag="--num-nodes", type=int, check=_positive_int("--num-nodes"), help="nodes for multi-node DDP (under SLURM or torchrun)")
    train_counts: list[int] | None = option(None, flag="--train-counts", coerce=_int_list("--train-counts"), show=counts_text,
                                            help="train only on these source counts, e.g. 1-10")
    test_counts: list[int] | None = option(None, flag="--test-counts", coerce=_int_list("--test-counts"), show=counts_text,
                                           help="validate and test only on these source counts, e.g. 11-20")
    train_fraction: float = option(1.0, flag="--train-fraction", type=float, coerce=_fraction, show=repr,
                                   help="fraction of the training set, balanced per source count (0, 1]")
    model_args: dict[str, Any] = option(factory=dict, flag="--model-args", coerce=_json_object,
                                        show=lambda a: json.dumps(a, sort_keys=True),
                                        help="JSON object of constructor overrides, e.g. '{\"width\": 32}'")
    max_steps: int | None = option(None, flag="--max-steps", type=int, kind=OPTIONAL, check=_positive_int("--max-steps", optional=True),
                                   help="optimisation-step budget instead of epochs (used by data-scaling studies)")
    check_val_every_n_epoch: int = option(1, flag="--val-every", type=int, kind=OPTIONAL, check=_positive_int("--val-every"),
                                          help="validate every K epochs (default 1)")
    uq: list[str] = option(factory=list, flag="--uq", kind=OPTIONAL, coerce=parse_uq, show=",".join,
                           help="label-free error indicators to compute and score on the test split: any of "
                                "mc-dropout,residual,inverse,ensemble (see diffbench.trust.indicators)")
    channels_last: bool = option(False, flag="--channels-last", action="store_true", kind=OPTIONAL, coerce=_boolean("channels_last"),
                                 help="train and score in the channels-last memory format (cnn-small steps took 0.67x the time "
                                      "on a CPU; see README)")
    early_stopping: bool = option(False, flag="--early-stopping", action="store_true", kind=OPTIONAL,
                                  coerce=_boolean("early_stopping"),
                                  help="stop when validation MAE has not improved for the recipe's patience (in evaluations), "
                                       "within the --max-epochs/--max-steps budget; each seed records where and why it stopped")
    # bookkeeping (not hashed)
    wandb_mode: str | None = option(None, flag="--wandb-mode", kind=BOOKKEEPING,
                                    help="online | offline | disabled (default: online with an API key, else offline)")
    wandb_project: str = option("diffbench", flag="--wandb-project", kind=BOOKKEEPING, help="W&B project (default diffbench)")
    out: str = option("runs", flag="--out", kind=BOOKKEEPING, help="output root (default runs/)")
    data_dir: str | None = option(None, flag="--data-dir", kind=BOOKKEEPING, help="data cache root (default $DIFFBENCH_DATA_DIR or ./data)")
    num_workers: int = option(0, flag="--num-workers", type=int, kind=BOOKKEEPING, help="DataLoader workers (default 0)")
    images: int = option(3, flag=None, kind=BOOKKEEPING)
    resume: bool = option(False, flag="--resume", action="store_true", kind=BOOKKEEPING, config=False,
                          help="continue an interrupted run of the same configuration")
    progress: bool = option(True, flag="--no-progress", action="store_false", kind=BOOKKEEPING, config=False, help="no progress bars")
    wandb_group: str | None = option(None, flag=None, kind=BOOKKEEPING, config=False)
    recipe_from: str | None = option(None, flag="--recipe-from", kind=BOOKKEEPING, config=False,
                                     help="a tune.json written by `diffbench tune`, `tuned` for the search diffbench ships for the model "
                                          "and task, or `tuned:TASK` for the model's shipped search on TASK carried over: train with the recipe it chose (its --lr and --model-args; --model and --task "
                                          "default to its own); the result records how it was tuned")
    tuning: dict[str, Any] | None = option(None, flag=None, kind=BOOKKEEPING, config=False)

    BOOKKEEPING: ClassVar[tuple[str, ...]]
    #: Fields left out of the run id while they hold their default, so older run ids stay valid.
    OPTIONAL: ClassVar[dict[str, Any]]

    def identity(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items()
                if k not in self.BOOKKEEPING and not (k in self.OPTIONAL and v == self.OPTIONAL[k])}

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
        raise DiffbenchError(f"config file {path}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(CONFIG_KEYS)}")
    return cfg


#: What ``diffbench tune`` writes (``"kind"`` of a tune.json) and the options its choice sets.
TUNE_KIND = "diffbench-tune"
TUNED_OPTIONS = ("lr", "model_args")


def load_tuned(path: str) -> dict[str, Any]:
    """The choice recorded in a ``tune.json`` (see :mod:`diffbench.tuning`): ``{"model",
    "task", "options": {lr, model_args}, "tuning": provenance}``, checked; one-line errors."""
    try:
        raw = Path(path).read_bytes()
        doc = json.loads(raw)
    except FileNotFoundError:
        raise DiffbenchError(f"--recipe-from {path} does not exist; pass the tune.json that `diffbench tune` wrote") from None
    except OSError as exc:
        raise DiffbenchError(f"--recipe-from {path} cannot be read ({exc.strerror})") from None
    except ValueError:
        raise DiffbenchError(f"--recipe-from {path} is not JSON; pass the tune.json that `diffbench tune` wrote") from None
    if not isinstance(doc, dict) or doc.get("kind") != TUNE_KIND:
        raise DiffbenchError(f"--recipe-from {path} is not a tune.json written by `diffbench tune` (no kind {TUNE_KIND!r})")
    chosen = doc.get("chosen")
    if not isinstance(chosen, dict) or not isinstance(chosen.get("options"), dict):
        raise DiffbenchError(f"--recipe-from {path} records no chosen trial (no trial of its search finished); "
                             "tune again or pass --lr")
    options = chosen["options"]
    if set(options) - set(TUNED_OPTIONS) or not isinstance(options.get("lr"), (int, float)) or isinstance(options.get("lr"), bool) \
            or not isinstance(options.get("model_args", {}), dict):
        raise DiffbenchError(f"--recipe-from {path}: chosen options must be {', '.join(TUNED_OPTIONS)}, got {options!r}")
    provenance = {"label": doc.get("label"), "study_name": doc.get("study_name"), "trials": doc.get("trials_total"),
                  "chosen_trial": chosen.get("number"), "val_nmae": chosen.get("val_nmae"), "budget": doc.get("budget"),
                  "objective": doc.get("objective"), "tune_command": doc.get("command"),
                  "tune_sha256": hashlib.sha256(raw).hexdigest()}
    return {"model": doc.get("model"), "task": doc.get("task"), "options": dict(options), "tuning": provenance}


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
        tuned["tuning"] = {**tuned["tuning"], "label": f"{tuned['tuning']['label']} of {tuned_on}", "tuned_task": tuned_on}
    clash = [f"--{k.replace('_', '-')}" for k in TUNED_OPTIONS if values.get(k) not in (None, {})]
    if clash:
        raise DiffbenchError(f"--recipe-from sets {' and '.join(clash)} from {path}; give either --recipe-from or {', '.join(clash)}")
    for key in ("model", "task"):
        if values.get(key) is not None and values[key] != tuned[key]:
            raise DiffbenchError(f"--recipe-from {path} was tuned for {key} {tuned[key]!r}, not {values[key]!r}; "
                                 f"drop --{key} or tune {values[key]!r}")
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
