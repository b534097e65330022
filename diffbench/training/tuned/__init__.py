"""The tuned recipes diffbench ships: ``<task>--<model>.json``, each the ``tune.json`` that
``diffbench tune`` wrote for that model on that task (every trial, its validation score, the
choice and the command that made the search), unchanged.

``diffbench run --recipe-from tuned`` (and a study's ``recipe_from: tuned``) trains with the
shipped choice for the run's model and task; the result records how it was tuned. A model or
task without a shipped search is refused, naming the ones there are.

>>> from diffbench.training.tuned import shipped
>>> all(isinstance(k, tuple) and len(k) == 2 for k in shipped())
True
>>> tuned_path("standard-64", "no-such-model")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
diffbench.errors.DiffbenchError: no tuned recipe is shipped for model 'no-such-model' on task 'standard-64'; shipped: ...
"""

from __future__ import annotations

from pathlib import Path

from ...errors import DiffbenchError
from ...names import check_name

#: The folder of the shipped tune.json files.
TUNED_DIR = Path(__file__).resolve().parent
#: The keyword that names the shipped choice instead of a path (``--recipe-from tuned``).
SHIPPED = "tuned"


def shipped_task(value: str | None) -> str | None:
    """TASK of a ``tuned:TASK`` recipe (the model's shipped search on TASK, carried over to the
    run's task), else None; one line when TASK is empty or not a task name.

    >>> shipped_task("tuned:standard-64"), shipped_task("tuned"), shipped_task("runs/tune.json")
    ('standard-64', None, None)
    """
    if not isinstance(value, str) or not value.startswith(SHIPPED + ":"):
        return None
    task = value[len(SHIPPED) + 1 :]
    return check_name(task, f"the task of recipe {SHIPPED}:TASK (whose shipped search to carry over)")


def shipped() -> dict[tuple[str, str], Path]:
    """``{(task, model): path}`` of every shipped tune.json."""
    out: dict[tuple[str, str], Path] = {}
    for p in sorted(TUNED_DIR.glob("*--*.json")):
        task, _, model = p.stem.partition("--")
        out[(task, model)] = p
    return out


def tuned_path(task: str, model: str) -> Path:
    """The shipped tune.json of ``model`` on ``task``; one line naming what is shipped when there is none."""
    table = shipped()
    if (task, model) not in table:
        have = ", ".join(f"{m} on {t}" for t, m in table) or "none"
        raise DiffbenchError(
            f"no tuned recipe is shipped for model {model!r} on task {task!r}; shipped: {have} "
            "(run `diffbench tune` and pass its tune.json to --recipe-from)"
        )
    return table[(task, model)]
