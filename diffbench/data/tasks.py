"""Benchmark tasks: one declarative YAML per task in the repository's ``datamodules/``.

A task fixes everything that defines its data — lattice, sources, physics, splits and the
seed — so that sample ``i`` of split ``s`` is a pure function of ``(seed, s, i)``. Its
``spec_hash`` (SHA-256 of the canonical JSON of the data-defining fields) names caches and
is recorded in every result, so a result can only be compared with results on the same data.
This module reads and checks a task's YAML; the task itself is :class:`TaskSpec`
(:mod:`diffbench.data.spec`).

Schema (see ``datamodules/smoke.yaml`` for a commented example)::

    name, description, purpose, axis           # what the task is for
    lattice: N                                 # N x N cells, 8 <= N <= MAX_LATTICE
    seed: int                                  # 0 <= seed <= MAX_SEED
    sources: {shape, radius, strength: [low, high], mode: flux|clamped}
    physics: {diffusivity, decay, boundary}    # see diffbench.data.fields
    splits: {train|val|test: {counts: [lo, hi] or [list], per_count: int}}
    serve: cache|stream                        # default way to serve it
    training: {max_epochs, batch_size, recipe} # the default budget of `diffbench run`

The ``name`` becomes the cache's directory, so it obeys :mod:`diffbench.names`. Sizes are
bounded (the limits below, each named in its error) so that a typo cannot ask for more memory
than a machine has; the paper-scale task (N = 512, 320k/20k/80k samples) is well inside them.
Files are read by :func:`diffbench.yamlio.load_yaml` (UTF-8, at most 1 MiB, no aliases).
"""

from __future__ import annotations

import numbers
import os
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import DiffbenchError
from ..names import check_name, is_name
from ..physics.sources import SourceSpec
from ..yamlio import load_yaml
from .fields import PhysicsSpec
from .spec import CHANNELS, SPLIT_CODES, SPLITS, SplitSpec, TaskSpec  # noqa: F401 (SPLIT_CODES: importable from here, as before)

SERVE_MODES = ("cache", "stream")
_TOP_KEYS = {
    "name",
    "description",
    "purpose",
    "axis",
    "lattice",
    "seed",
    "sources",
    "physics",
    "splits",
    "serve",
    "training",
    "evaluation",
    "channels",
}
#: The largest lattice side (8x paper-512's; one float64 field of it is 128 MiB).
MAX_LATTICE = 4096
#: The most samples per source count in a split (paper-512's train split has 16 000).
MAX_PER_COUNT = 1_000_000
#: The largest number of sources in a sample, and of source counts in a split.
MAX_SOURCE_COUNT = 1000
#: The most samples in a split (paper-512's train split has 320 000).
MAX_SPLIT_SAMPLES = 10_000_000
#: The largest seed (a signed 64-bit integer).
MAX_SEED = 2**63 - 1


def _show(value: Any, limit: int = 80) -> str:
    """``repr(value)``, shortened to about ``limit`` characters (errors stay one short line); a
    huge integer is shown by its size (past 4300 digits it cannot even be printed)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about 2**{value.bit_length()}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _int(value: Any, what: str, minimum: int, maximum: int | None = None, limit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DiffbenchError(f"{what} must be an integer >= {minimum}, got {_show(value)}")
    if maximum is not None and value > maximum:
        raise DiffbenchError(f"{what} must be at most {maximum}{f' ({limit})' if limit else ''}, got {_show(value)}")
    return value


def _counts(value: Any, where: str) -> tuple[int, ...]:
    limit = f"source counts must be positive integers, at most {MAX_SOURCE_COUNT} of them, each at most {MAX_SOURCE_COUNT} (MAX_SOURCE_COUNT)"
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and value[0] <= value[1]
    ):
        lo, hi = value
        if lo < 1 or hi > MAX_SOURCE_COUNT:
            raise DiffbenchError(f"{where}.counts {_show(value)}: {limit}")
        counts = tuple(range(lo, hi + 1))
    elif isinstance(value, dict) and set(value) == {"values"} and isinstance(value["values"], list):
        counts = tuple(value["values"])
    else:
        raise DiffbenchError(f"{where}.counts must be [low, high] (inclusive) or {{values: [..]}}, got {_show(value)}")
    if not counts or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in counts):
        raise DiffbenchError(f"{where}.counts must be positive integers, got {_show(value)}")
    if len(counts) > MAX_SOURCE_COUNT or max(counts) > MAX_SOURCE_COUNT:
        raise DiffbenchError(f"{where}.counts {_show(value)}: {limit}")
    return counts


def _text(raw: dict[str, Any], key: str, where: str, default: str) -> str:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise DiffbenchError(f"{where}: {key} must be a string, got {type(value).__name__}")
    return value


def _mapping(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DiffbenchError(f"{where}: {key} must be a mapping, got {type(value).__name__}")
    return dict(value)


def _keys(keys: Any) -> str:
    return ", ".join(
        sorted(k if isinstance(k, str) and k.isprintable() and 0 < len(k) <= 40 else _show(k, 40) for k in keys)
    )


def parse_task(raw: Any, path: str | None = None) -> TaskSpec:
    """Validate a task mapping (as loaded from YAML) into a :class:`TaskSpec`."""
    where = path or "task"
    if not isinstance(raw, dict):
        raise DiffbenchError(f"{where}: a task file must hold a mapping, got {type(raw).__name__}")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise DiffbenchError(f"{where}: unknown key(s) {_keys(unknown)}; allowed: {', '.join(sorted(_TOP_KEYS))}")
    for key in ("name", "lattice", "seed", "splits"):
        if key not in raw:
            raise DiffbenchError(f"{where}: missing required key {key!r}")
    try:
        name = check_name(raw["name"], "task name")
    except DiffbenchError as exc:
        raise DiffbenchError(f"{where}: {exc} (the name becomes the cache's directory)") from None
    lattice = raw["lattice"]
    if isinstance(lattice, bool) or not isinstance(lattice, int) or lattice < 8:
        raise DiffbenchError(f"{where}: lattice N must be an integer >= 8, got {_show(lattice)}")
    lattice = _int(lattice, f"{where}: lattice N", 8, MAX_LATTICE, "MAX_LATTICE")
    seed = _int(raw["seed"], f"{where}: seed", 0, MAX_SEED, "a signed 64-bit integer")
    src = raw.get("sources") or {}
    if not isinstance(src, dict):
        raise DiffbenchError(f"{where}: sources must be a mapping (shape, radius, strength, mode), got {_show(src)}")
    src = dict(src)
    allowed_src = {"shape", "radius", "strength", "mode"}
    if set(src) - allowed_src:
        raise DiffbenchError(
            f"{where}: unknown sources key(s) {_keys(set(src) - allowed_src)}; allowed: {', '.join(sorted(allowed_src))}"
        )
    mode = src.pop("mode", "flux")
    if mode not in ("flux", "clamped"):
        raise DiffbenchError(f"{where}: sources.mode must be 'flux' or 'clamped', got {_show(mode)}")
    strength = src.get("strength", [0.0, 1.0])
    if not (
        isinstance(strength, list)
        and len(strength) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in strength)
    ):
        raise DiffbenchError(f"{where}: sources.strength must be [low, high], got {_show(strength)}")
    try:
        low, high = float(strength[0]), float(strength[1])
    except OverflowError:
        raise DiffbenchError(
            f"{where}: sources.strength must be [low, high] of finite numbers, got {_show(strength)}"
        ) from None
    sources = SourceSpec(
        shape=src.get("shape", "disk"),
        radius=src.get("radius", max(1, round(lattice / 20))),
        strength=(low, high),
    )
    splits_raw = raw["splits"]
    if not isinstance(splits_raw, dict) or set(splits_raw) != set(SPLITS):
        got = (
            "[" + ", ".join(sorted(_show(k, 40) for k in splits_raw)) + "]"
            if isinstance(splits_raw, dict)
            else _show(splits_raw)
        )
        raise DiffbenchError(f"{where}: splits must define exactly train, val and test, got {got}")
    splits = {}
    for split in SPLITS:
        s = splits_raw[split]
        if not isinstance(s, dict) or set(s) != {"counts", "per_count"}:
            raise DiffbenchError(f"{where}: splits.{split} must have exactly 'counts' and 'per_count'")
        spec = SplitSpec(
            _counts(s["counts"], f"{where}: splits.{split}"),
            _int(s["per_count"], f"{where}: splits.{split}.per_count", 1, MAX_PER_COUNT, "MAX_PER_COUNT"),
        )
        if spec.size > MAX_SPLIT_SAMPLES:
            raise DiffbenchError(
                f"{where}: splits.{split} holds {spec.size} samples; at most {MAX_SPLIT_SAMPLES} are allowed (MAX_SPLIT_SAMPLES; lower per_count or the counts)"
            )
        splits[split] = spec
    serve = raw.get("serve", "cache")
    if serve not in SERVE_MODES:
        raise DiffbenchError(f"{where}: serve must be one of {', '.join(SERVE_MODES)}, got {_show(serve)}")
    physics = PhysicsSpec.parse(raw.get("physics") or {}, where)
    channels = raw.get("channels") or []
    if not isinstance(channels, list) or any(c not in CHANNELS for c in channels):
        raise DiffbenchError(
            f"{where}: channels must be a list drawn from {', '.join(CHANNELS)}, got {_show(channels)}"
        )
    task = TaskSpec(
        name=name,
        lattice=lattice,
        seed=seed,
        sources=sources,
        source_mode=mode,
        physics=physics,
        splits=splits,
        description=_text(raw, "description", where, "").strip(),
        purpose=_text(raw, "purpose", where, "").strip(),
        axis=_text(raw, "axis", where, "baseline"),
        serve=serve,
        training=_mapping(raw, "training", where),
        evaluation=_mapping(raw, "evaluation", where),
        path=path,
        channels=tuple(channels),
    )
    try:
        sources.validate(lattice, task.max_count)
    except DiffbenchError as exc:
        raise DiffbenchError(f"{where}: {exc}") from None
    physics.validate(lattice, where, clamped=mode == "clamped")
    return task


def tasks_dir() -> Path:
    """Where task YAMLs live: ``$DIFFBENCH_TASKS_DIR`` or the repository's ``datamodules/``."""
    env = os.environ.get("DIFFBENCH_TASKS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "datamodules"


@cache
def _load_file(path: str) -> TaskSpec:
    return parse_task(load_yaml(path, "task file", "task files"), path)


def task_names() -> list[str]:
    d = tasks_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def load_task(name_or_path: str | TaskSpec) -> TaskSpec:
    """A task by name (a YAML in ``datamodules/``) or by path to a YAML file.

    Examples
    --------
    >>> load_task("smoke").lattice
    32
    """
    if isinstance(name_or_path, TaskSpec):
        return name_or_path
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        if not os.path.isfile(text):
            raise DiffbenchError(f"task file {text} does not exist")
        return _load_file(os.path.abspath(text))
    path = tasks_dir() / f"{text}.yaml"
    if not is_name(text) or not path.is_file():
        names = task_names()
        raise DiffbenchError(
            f"unknown task {text!r}; available: {', '.join(names) or '(none found in ' + str(tasks_dir()) + ')'}"
        )
    task = _load_file(str(path))
    if task.name != text:
        raise DiffbenchError(f"task file {path} declares name {task.name!r}; it must match its file name {text!r}")
    return task


def all_tasks() -> list[TaskSpec]:
    return [load_task(n) for n in task_names()]
