"""Named training recipes: optimiser, learning rate, schedule. A recipe is recorded with results.

- ``paper``: the paper's recipe — Adam, lr 1e-4, constant (batch 25 is the task's default).
- ``fast``: AdamW, lr 1e-3, weight decay 1e-4, one-cycle cosine schedule over the run;
  what the CPU-sized tasks use so that a run converges in minutes.

Each recipe names its ``patience``: with ``diffbench run --early-stopping`` the run stops
when validation MAE has not improved for that many evaluations in a row (validation runs
every ``--val-every`` epochs), or at the maximum budget (``--max-epochs`` / ``--max-steps``),
whichever comes first; each seed records which (``stop`` in result.json).

Overrides (``lr``, ``weight_decay``, ``patience``) are allowed and recorded.

>>> resolve_recipe("fast")["patience"], resolve_recipe("paper", patience=3)["patience"]
(5, 3)
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import DiffbenchError

#: Patience (in validation evaluations) of a recipe that names none.
DEFAULT_PATIENCE = 10

RECIPES: dict[str, dict[str, Any]] = {
    "paper": {"optimizer": "adam", "lr": 1e-4, "weight_decay": 0.0, "schedule": "constant", "patience": 10},
    "fast": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "schedule": "onecycle", "patience": 5},
}


def resolve_recipe(name: str | dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The full recipe dict for a name (or a dict with ``name``), with overrides applied.

    >>> resolve_recipe("fast", lr=float("inf"))
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: learning rate must be a finite number > 0, got inf
    """
    if isinstance(name, dict):
        base = dict(name)
        name = base.pop("name", "custom")
    else:
        if name not in RECIPES:
            raise DiffbenchError(f"unknown recipe {name!r}; available: {', '.join(RECIPES)}")
        base = dict(RECIPES[name])
    for key, value in overrides.items():
        if value is not None:
            base[key] = value
    if base.get("optimizer") not in ("adam", "adamw"):
        raise DiffbenchError(f"recipe optimizer must be adam or adamw, got {base.get('optimizer')!r}")
    if base.get("schedule") not in ("constant", "onecycle"):
        raise DiffbenchError(f"recipe schedule must be constant or onecycle, got {base.get('schedule')!r}")
    lr = base.get("lr")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or not lr > 0:
        raise DiffbenchError(f"learning rate must be a finite number > 0, got {lr!r}")
    patience = base.setdefault("patience", DEFAULT_PATIENCE)
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise DiffbenchError(f"recipe patience must be a positive integer (validation evaluations), got {patience!r}")
    return {"name": name, **base}


def build_optimizer(params: Any, recipe: dict[str, Any], total_steps: int) -> Any:
    cls = torch.optim.Adam if recipe["optimizer"] == "adam" else torch.optim.AdamW
    opt = cls(params, lr=recipe["lr"], weight_decay=recipe.get("weight_decay", 0.0))
    if recipe["schedule"] == "constant":
        return opt
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=recipe["lr"], total_steps=max(total_steps, 2), pct_start=0.15
    )
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
