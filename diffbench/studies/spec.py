"""A study: a YAML in ``diffbench/studies/`` (or a path) naming models x tasks x train
fractions x seeds; :func:`load_study` reads and checks it (see :mod:`diffbench.studies.runner`
for the format).

>>> sorted(study_names())
['axes', 'data-scaling', 'generalisation']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import load_task
from ..errors import DiffbenchError
from ..names import check_name
from ..training.tuned import SHIPPED, shipped_task, tuned_path
from ..yamlio import load_yaml

STUDY_KEYS = {
    "name",
    "description",
    "purpose",
    "models",
    "tasks",
    "seeds",
    "train_fractions",
    "steps",
    "max_epochs",
    "evaluate_on",
    "analysis",
    "early_stopping",
    "recipe_from",
}
#: What a study's ``recipe_from`` accepts: the shipped tuned recipe of each model on each task.
RECIPE_FROM = ("tuned",)
ANALYSES = ("scaling-law",)


@dataclass
class StudySpec:
    name: str
    models: list[str]
    tasks: list[str]
    seeds: list[int]
    train_fractions: list[float] = field(default_factory=lambda: [1.0])
    steps: int | None = None
    max_epochs: int | None = None
    evaluate_on: dict[str, list[str]] = field(default_factory=dict)
    analysis: list[str] = field(default_factory=list)
    early_stopping: bool = False
    recipe_from: str | None = None
    description: str = ""
    purpose: str = ""


def studies_dir() -> Path:
    """The folder of the shipped study YAMLs (this package's folder)."""
    return Path(__file__).resolve().parent


def study_names() -> list[str]:
    return sorted(p.stem for p in studies_dir().glob("*.yaml"))


def study_file(name_or_path: str) -> Path:
    """The YAML of a study given by name (``diffbench/studies/NAME.yaml``) or by path."""
    path = Path(name_or_path) if name_or_path.endswith((".yaml", ".yml")) else studies_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise DiffbenchError(f"unknown study {name_or_path!r}; available: {', '.join(study_names())}")
    return path


def _list_of(path: Path, raw: dict[str, Any], key: str, ok: Any, what: str, *, empty: bool = False) -> None:
    """One line unless ``raw[key]`` is a list (non-empty unless ``empty``) whose items pass ``ok``."""
    value = raw[key]
    if not isinstance(value, list) or (not value and not empty) or not all(ok(v) for v in value):
        raise DiffbenchError(f"study file {path}: {key} must be a list of {what}, got {str(value)[:80]!r}")


def load_study(name_or_path: str) -> StudySpec:
    """A study by name (``diffbench/studies/NAME.yaml``) or by path."""
    path = study_file(name_or_path)
    raw = load_yaml(path, "study file", "study files")  # UTF-8, at most 1 MiB, no anchors or aliases
    if not isinstance(raw, dict):
        raise DiffbenchError(f"study file {path} must hold a mapping")
    unknown = sorted(set(raw) - STUDY_KEYS)
    if unknown:
        raise DiffbenchError(
            f"study file {path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(STUDY_KEYS))}"
        )
    for key in ("name", "models", "tasks", "seeds"):
        if key not in raw or raw[key] is None or raw[key] == [] or raw[key] == "":
            raise DiffbenchError(f"study file {path}: {key!r} is required and must not be empty")
    _list_of(path, raw, "models", lambda m: isinstance(m, str) and m != "", "model names like [unet-small, fno-small]")
    _list_of(path, raw, "tasks", lambda t: isinstance(t, str) and t != "", "task names like [standard-64]")
    _list_of(
        path,
        raw,
        "seeds",
        lambda x: isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**31,
        "non-negative integers like [0, 1, 2]",
    )
    if len(set(raw["seeds"])) != len(raw["seeds"]):
        raise DiffbenchError(f"study file {path}: seeds must not repeat a seed, got {raw['seeds']!r}")
    fractions = raw.get("train_fractions", [1.0])
    _list_of(
        path,
        {"train_fractions": fractions},
        "train_fractions",
        lambda f: isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= 1,
        "numbers in (0, 1]",
    )
    analysis = raw.get("analysis") or []
    _list_of(
        path,
        {"analysis": analysis},
        "analysis",
        lambda a: isinstance(a, str),
        f"names from {', '.join(ANALYSES)}",
        empty=True,
    )
    bad = [a for a in analysis if a not in ANALYSES]
    if bad:
        raise DiffbenchError(f"study file {path}: unknown analysis {bad}; allowed: {', '.join(ANALYSES)}")
    early = raw.get("early_stopping", False)
    if not isinstance(early, bool):
        raise DiffbenchError(f"study file {path}: early_stopping must be true or false, got {str(early)[:80]!r}")
    recipe_from = raw.get("recipe_from")
    if recipe_from is not None and recipe_from not in RECIPE_FROM and not str(recipe_from).startswith(SHIPPED + ":"):
        raise DiffbenchError(
            f"study file {path}: recipe_from must be one of {', '.join(RECIPE_FROM)} (the shipped tuned recipes) "
            f"or {SHIPPED}:TASK (the model's shipped recipe on TASK, for every task), got {str(recipe_from)[:80]!r}"
        )
    tuned_on = shipped_task(recipe_from) if recipe_from is not None else None
    spec = StudySpec(
        name=check_name(raw["name"], f"study file {path}: name"),
        models=list(raw["models"]),
        tasks=list(raw["tasks"]),
        seeds=list(raw["seeds"]),
        train_fractions=[float(f) for f in fractions],
        steps=raw.get("steps"),
        max_epochs=raw.get("max_epochs"),
        evaluate_on=dict(raw.get("evaluate_on") or {}),
        analysis=list(analysis),
        early_stopping=early,
        recipe_from=recipe_from,
        description=str(raw.get("description", "")).strip(),
        purpose=str(raw.get("purpose", "")).strip(),
    )
    for t in spec.tasks + [x for v in spec.evaluate_on.values() for x in v]:
        load_task(t)  # unknown tasks fail before anything runs
    if spec.recipe_from is not None:  # and so does a model or task without a shipped tuned recipe
        for t in [tuned_on] if tuned_on else spec.tasks:
            for m in spec.models:
                tuned_path(load_task(t).name, m)
    return spec
