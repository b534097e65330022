"""The row model of the boards: one :class:`Row` per stored submission, ranked by test nMAE,
with its chart style (the formatting of its numbers: :mod:`diffbench.leaderboard.filters`).

>>> stat_of({"mean": 0.0123, "std": 0.00045, "n": 3})
(0.0123, 0.00045)

A plugin's row names its package, and its reproduce command installs it first:
``pip install my-pkg==1.0 && diffbench run --model my-net ...``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..results.cost import board_cost
from ..results.schema import Result
from . import charts
from .charts import Series
from .submit import MIN_RANKED_SEEDS, Submission, safe_url
from .templates import macro

HEADLINE = "nmae"
#: Test metrics shown on the board besides the headline (all are also on the entry pages).
BOARD_METRICS = ("nmae", "mae", "mae_sources", "max_abs_error", "p99_sample_mae", "residual")
METRIC_LABELS = {
    "nmae": "nMAE", "mae": "MAE", "mae_sources": "MAE sources", "mae_field": "MAE field", "mae_r1": "MAE r1",
    "mae_r2": "MAE r2", "mae_r3": "MAE r3", "rel_l2": "rel. L2", "max_abs_error": "max |error|",
    "max_abs_error_sources": "max |error| sources", "max_abs_error_field": "max |error| field",
    "max_abs_error_r1": "max |error| r1", "max_abs_error_r2": "max |error| r2", "max_abs_error_r3": "max |error| r3",
    "p99_sample_mae": "p99 sample MAE", "residual": "PDE residual",
}


def stat_of(stat: Any) -> tuple[float | None, float | None]:
    """``(mean, std)`` of an aggregated ``{"mean", "std", "n"}``, a dict or typed (None, None for anything else)."""
    if isinstance(stat, dict):
        return stat.get("mean"), stat.get("std")
    return getattr(stat, "mean", None), getattr(stat, "std", None)


@dataclass
class Row:
    sub: Submission
    color: str = ""
    shape: str = ""
    rank: int | None = None
    wandb: list[tuple[int, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.sub.id

    @property
    def r(self) -> dict[str, Any]:
        return self.sub.result

    @property
    def meta(self) -> dict[str, Any]:
        return self.sub.meta

    @property
    def model(self) -> str:
        return self.res.model.name

    @property
    def title(self) -> str:
        return self.meta.get("title") or ""

    @property
    def label(self) -> str:
        return self.model + (f" — {self.title}" if self.title else "")

    @property
    def res(self) -> Result:
        """The typed result (what the pages read)."""
        if self.sub.typed is None:
            self.sub.typed = Result.model_validate(self.r)
        return self.sub.typed

    def test(self, key: str) -> Any:
        """The test aggregate ``{"mean", "std", "n"}`` of metric ``key`` (None if not recorded)."""
        return getattr(self.res.aggregate.test, key, None)

    def val(self, key: str) -> Any:
        """The validation aggregate of metric ``key``."""
        return getattr(self.res.aggregate.val, key, None)

    def mean(self, split: str, key: str) -> float | None:
        return stat_of(getattr(getattr(self.res.aggregate, split), key, None))[0]

    @property
    def css_class(self) -> str:
        """The board row's classes: ``official``, ``unranked``."""
        return " ".join(c for c in ("official" if self.meta["official"] else "", "" if self.sub.ranked else "unranked") if c)

    @property
    def cost(self) -> dict[str, Any]:
        """What the board shows of the cost (:func:`diffbench.results.cost.board_cost`): the
        inference time and the speed-up with the digits their spreads allow, FLOPs per sample."""
        return board_cost(self.res.cost.model_dump())

    @property
    def speedup(self) -> float | None:
        """The speed-up the board shows: at equal accuracy, or (a result written before it) solver
        time at its default tolerance / inference time, on the same hardware."""
        return self.cost["speedup"]

    @property
    def url(self) -> str | None:
        return safe_url(self.meta.get("url"))

    @property
    def plugin(self) -> tuple[str, str | None] | None:
        """``(package, version)`` of a plugin model (from ``model.package`` and ``model.package_version``), else None."""
        m = self.res.model
        if m.package and m.package != "diffbench" and (m.kind or "plugin") != "built-in":
            return m.package, m.package_version
        return None

    @property
    def install(self) -> str | None:
        """The ``pip install`` a plugin's reproduce command needs (``package==version``, shell-quoted), else None."""
        if self.plugin is None:
            return None
        package, version = self.plugin
        return "pip install " + shlex.quote(f"{package}=={version}" if version else package)

    @property
    def reproduce(self) -> str:
        """The command that reproduces the run: a plugin's ``pip install`` first, then ``diffbench run ...``."""
        return f"{self.install} && {self.res.command}" if self.install else self.res.command


def board_rows(subs: Sequence[Submission]) -> list[Row]:
    """A task's rows in the default order (test nMAE ascending, ties by id), with ranks."""
    rows = [Row(s) for s in subs]
    inf = float("inf")
    rows.sort(key=lambda r: (r.mean("test", HEADLINE) if r.mean("test", HEADLINE) is not None else inf, r.id))
    rank, last, n = 0, None, 0
    for i, row in enumerate(rows):
        row.color, row.shape = charts.style_for(i)
        for s in row.res.per_seed:
            u = safe_url((s.wandb or {}).get("url"))
            if u:
                row.wandb.append((s.seed, u))
        if row.sub.ranked:
            n += 1
            value = row.mean("test", HEADLINE)
            if value != last:
                rank, last = n, value
            row.rank = rank
    return rows


def series(row: Row, points: list[tuple[float, float, float | None]]) -> Series:
    return Series(label=row.label, color=row.color, shape=row.shape, points=points, hollow=not row.sub.ranked)


def per_count_points(row: Row, key: str = HEADLINE) -> list[tuple[float, float, float | None]]:
    """(count, mean, std) of the test metric ``key`` per number of sources, for a chart."""
    pc = row.res.aggregate.test.per_count
    out = []
    for c in sorted(pc, key=int):
        mean, std = stat_of(pc[c].get(key))
        if mean is not None:
            out.append((float(int(c)), mean, std))
    return out


def method_cell(row: Row, depth: str = "") -> str:
    """The board cell naming the entry: model (linked to its page), badges, title, authors (``macros.html``)."""
    return str(macro("method_cell")(row, MIN_RANKED_SEEDS, depth))
