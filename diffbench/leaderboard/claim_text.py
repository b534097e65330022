"""The numbers of the README's generated findings: intervals from per-seed values or seed
summaries, how one is printed, when two differ, and what every block says about its intervals
(used by :mod:`diffbench.leaderboard.claims` and :mod:`diffbench.leaderboard.study_claims`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..stats import Interval, format_interval, seed_interval

#: What every block says about its intervals.
SEEDS_ONLY = (
    "Intervals: 95 % t intervals over the training seeds (these results predate per-sample "
    "errors, so the test-set part of the uncertainty is not included)."
)
BOTH = (
    "Intervals: 95 %, two-level bootstrap over training seeds and test samples (stratified by source count; "
    "`diffbench.stats`)."
)
MIXED = "Rows whose runs kept no per-sample errors have t intervals over the seeds only."


def interval_of(values: Sequence[float]) -> Interval | None:
    """The seed interval of per-seed values (None for fewer than two)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if len(vals) < 2:
        return None
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return seed_interval(mean, std, len(vals))


def summary_interval(block: dict[str, Any] | None) -> Interval | None:
    """The seed interval of a ``{"mean", "std", "n"}`` summary (None when it cannot have one)."""
    if not isinstance(block, dict) or not isinstance(block.get("n"), int) or block["n"] < 2:
        return None
    return seed_interval(float(block["mean"]), float(block["std"]), block["n"])


def show(iv: Interval | None, fallback: float | None = None) -> str:
    """An interval as the README prints it; a lone value is marked as having none."""
    if iv is not None:
        return format_interval(iv.estimate, iv.low, iv.high)
    return "n/a" if fallback is None else f"{fallback:.3g} (one seed: no interval)"


def apart(a: Interval | None, b: Interval | None) -> bool:
    """True when both intervals exist and do not overlap."""
    return a is not None and b is not None and (a.high < b.low or b.high < a.low)


def ratio_text(num: Interval | None, den: Interval | None) -> str:
    if num is None or den is None or den.estimate <= 0:
        return "n/a"
    return f"{num.estimate / den.estimate:.1f}×"


def recipe_text(recipe: Any) -> str:
    """Where a study's learning rate came from, from its ``recipe_from`` key.

    >>> recipe_text("tuned:standard-64"), recipe_text(None)
    ("each model's shipped tuned recipe on `standard-64`, carried over unchanged", "the task's recipe, untuned")
    """
    if recipe == "tuned":
        return "the shipped tuned recipe"
    if isinstance(recipe, str) and recipe.startswith("tuned:"):
        return f"each model's shipped tuned recipe on `{recipe.split(':', 1)[1]}`, carried over unchanged"
    return "the task's recipe, untuned"
