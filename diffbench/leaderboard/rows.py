"""The row model of the boards: one :class:`Row` per stored submission, ranked by test nMAE,
with its chart style (the formatting of its numbers: :mod:`diffbench.leaderboard.filters`).

Ranks (:func:`board_rows`): when every ranked entry of a task carries per-sample errors on the
same test samples (same task spec hash, same sample indices and source counts), the entries
are compared paired on test nMAE with :func:`diffbench.stats.tied_ranks` (the leader and every
entry not significantly worse than it share a rank, shown ``=1``; Holm-corrected at 5 %).
Otherwise (legacy entries, written before per-sample errors were kept) ranks follow the mean
test nMAE, and the board says why.

>>> stat_of({"mean": 0.0123, "std": 0.00045, "n": 3})
(0.0123, 0.00045)

A plugin's row names its package, and its reproduce command installs it first:
``pip install my-pkg==1.0 && diffbench run --model my-net ...``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import DiffbenchError
from ..results.cost import board_cost
from ..results.per_sample import error_matrices
from ..results.schema import Result
from ..stats import Difference, format_interval, tied_ranks
from ..submissions.stored import Submission
from ..submissions.submit import MIN_RANKED_SEEDS, safe_url
from . import charts
from .charts import Series
from .templates import macro

HEADLINE = "nmae"
#: How a board ranks, by case (see the module docstring).
RANKING_PAIRED = (
    "ranks from paired comparisons of test nMAE on the shared test samples (two-level bootstrap-t over seeds "
    "and samples, Holm-corrected at 5 %); '=' marks entries not significantly worse than their rank's leader"
)
RANKING_MEAN = "ranks by mean test nMAE, without intervals: {why}"
LEGACY = "no interval: legacy entry"
#: What ``diffbench tune`` writes as a run's tuning label (anything else is not shown as tuned).
TUNED_LABEL = re.compile(r"^tuned: best of [1-9][0-9]{0,5} on val( of [A-Za-z0-9][A-Za-z0-9._-]{0,127})?$")
NO_RANKS = "no entry ranked yet: ranking needs at least {n} seeds"
#: Test metrics shown on the board besides the headline (all are also on the entry pages).
BOARD_METRICS = ("nmae", "mae", "mae_sources", "max_abs_error", "p99_sample_mae", "residual")
METRIC_LABELS = {
    "nmae": "nMAE",
    "mae": "MAE",
    "mae_sources": "MAE sources",
    "mae_field": "MAE field",
    "mae_r1": "MAE r1",
    "mae_r2": "MAE r2",
    "mae_r3": "MAE r3",
    "rel_l2": "rel. L2",
    "max_abs_error": "max |error|",
    "max_abs_error_sources": "max |error| sources",
    "max_abs_error_field": "max |error| field",
    "max_abs_error_r1": "max |error| r1",
    "max_abs_error_r2": "max |error| r2",
    "max_abs_error_r3": "max |error| r3",
    "p99_sample_mae": "p99 sample MAE",
    "residual": "PDE residual",
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
    #: Another ranked entry shares this rank (shown ``=1``).
    tied: bool = False
    #: The leader of this row's rank and the paired difference with it (None: the leader, or no paired ranks).
    leader: Row | None = None
    versus_leader: Difference | None = None
    #: How the board was ranked (one of :data:`RANKING_PAIRED`, :data:`RANKING_MEAN`).
    ranking: str = ""

    @property
    def rank_text(self) -> str:
        """``"1"``, ``"=1"`` for a shared rank, ``"—"`` unranked."""
        if self.rank is None:
            return "—"
        return f"={self.rank}" if self.tied else str(self.rank)

    def interval(self, key: str) -> dict[str, float] | None:
        """``{"estimate", "low", "high"}`` of test metric ``key`` (None: legacy entry, or none for it)."""
        iv = self.res.aggregate.intervals
        return None if iv is None else iv.metrics.get(key)

    def interval_text(self, key: str) -> str | None:
        """The interval of test metric ``key`` as ``format_interval`` prints it (None without one)."""
        iv = self.interval(key)
        return None if iv is None else format_interval(iv["estimate"], iv["low"], iv["high"])

    def count_interval(self, count: str, key: str) -> dict[str, float] | None:
        iv = self.res.aggregate.intervals
        return None if iv is None else (iv.per_count.get(count) or {}).get(key)

    @property
    def has_intervals(self) -> bool:
        return self.res.aggregate.intervals is not None

    @property
    def budget_capped(self) -> bool | None:
        """Some seed stopped at the maximum budget (None: the result does not say)."""
        stops = [s.stop for s in self.res.per_seed if s.stop is not None]
        return any(s.reason == "budget_capped" for s in stops) if stops else None

    @property
    def tuning(self) -> dict[str, Any] | None:
        """How the run's recipe was chosen (``training.tuning`` of a run trained with
        ``--recipe-from``: ``label`` "tuned: best of K on val", the search's command, the chosen
        trial's validation nMAE) and the learning rate it chose; None for an untuned run or a
        block that does not have that shape."""
        training = self.r.get("training") if isinstance(self.r.get("training"), dict) else {}
        t, recipe = training.get("tuning"), training.get("recipe") if isinstance(training.get("recipe"), dict) else {}
        if not isinstance(t, dict) or not isinstance(t.get("label"), str) or not TUNED_LABEL.match(t["label"]):
            return None
        lr = recipe.get("lr")
        return {
            "label": t["label"],
            "lr": lr if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None,
            "command": t.get("tune_command") if isinstance(t.get("tune_command"), str) else None,
            "val_nmae": t.get("val_nmae") if isinstance(t.get("val_nmae"), (int, float)) else None,
        }

    @property
    def versus_leader_text(self) -> str | None:
        d = self.versus_leader
        return None if d is None else str(d)

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
    def verification(self) -> Any:
        """The record of ``diffbench verify`` for exactly this submission, or None (claimed)."""
        return self.sub.verification

    @property
    def css_class(self) -> str:
        """The board row's classes: ``official``, ``unranked``, ``verified`` (what the filter keeps)."""
        return " ".join(
            c
            for c in (
                "official" if self.meta["official"] else "",
                "" if self.sub.ranked else "unranked",
                "verified" if self.verification is not None else "",
            )
            if c
        )

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


def pairing_problem(rows: Sequence[Row]) -> str | None:
    """Why the rows cannot be compared paired (None: they can): a row without per-sample
    errors, another task spec, or other test samples."""
    if not rows:
        return "no ranked entry"
    legacy = [r for r in rows if not r.has_intervals]
    if legacy:
        return (
            f"{len(legacy)} ranked {'entry has' if len(legacy) == 1 else 'entries have'} no per-sample errors (legacy)"
        )
    if len({r.res.task.spec_hash for r in rows}) > 1:
        return "the entries were scored under different task specs: not comparable"
    first = None
    for r in rows:
        m = error_matrices([s.per_sample for s in r.res.per_seed])
        key = (m["index"].tolist(), m["count"].tolist())
        if first is not None and key != first:
            return "the entries were scored on different test samples: not comparable"
        first = key
    return None


def paired_ranks(rows: Sequence[Row]) -> None:
    """Set ``rank``, ``tied``, ``leader`` and ``versus_leader`` of ``rows`` (all ranked, pairable) by :func:`tied_ranks`."""
    entries = {}
    counts = None
    for r in rows:
        m = error_matrices([s.per_sample for s in r.res.per_seed])
        entries[r.id] = (m["abs_sum"], m["tgt_sum"])
        counts = m["count"]
    by_id = {r.id: r for r in rows}
    ranked = tied_ranks(entries, counts)
    sizes: dict[int, int] = {}
    for e in ranked:
        sizes[e.rank] = sizes.get(e.rank, 0) + 1
    for e in ranked:
        row = by_id[e.name]
        row.rank, row.tied = e.rank, sizes[e.rank] > 1
        row.leader = None if e.leader == e.name else by_id[e.leader]
        row.versus_leader = e.versus_leader


def board_rows(subs: Sequence[Submission]) -> list[Row]:
    """A task's rows in the default order (test nMAE ascending, ties by id), with ranks (see
    the module docstring; with paired ranks, ranked rows by rank first)."""
    rows = [Row(s) for s in subs]
    inf = float("inf")
    rows.sort(key=lambda r: (r.mean("test", HEADLINE) if r.mean("test", HEADLINE) is not None else inf, r.id))
    ranked = [r for r in rows if r.sub.ranked]
    try:
        why = pairing_problem(ranked) if ranked else None
    except DiffbenchError as exc:  # a stored block that does not decode: rank as legacy, say why
        why = f"per-sample errors unreadable ({exc})"
    if not ranked:
        ranking = NO_RANKS.format(n=MIN_RANKED_SEEDS)
    elif why is None:
        paired_ranks(ranked)
        order = {r.id: i for i, r in enumerate(rows)}
        rows.sort(key=lambda r: (0, r.rank, order[r.id]) if r.rank is not None else (1, 0, order[r.id]))
        ranking = RANKING_PAIRED
    else:
        rank, last, n = 0, None, 0
        for row in ranked:
            n += 1
            value = row.mean("test", HEADLINE)
            if value != last:
                rank, last = n, value
            row.rank = rank
        ranking = RANKING_MEAN.format(why=why)
    for i, row in enumerate(rows):
        row.color, row.shape = charts.style_for(i)
        row.ranking = ranking
        for s in row.res.per_seed:
            u = safe_url((s.wandb or {}).get("url"))
            if u:
                row.wandb.append((s.seed, u))
    return rows


def series(row: Row, points: list[tuple[float, float, float | None]]) -> Series:
    return Series(label=row.label, color=row.color, shape=row.shape, points=points, hollow=not row.sub.ranked)


def per_count_band(row: Row, key: str = HEADLINE) -> list[tuple[float, float, float, float]]:
    """(count, estimate, low, high) of test metric ``key`` per number of sources, from the
    result's intervals (empty for a legacy entry)."""
    iv = row.res.aggregate.intervals
    if iv is None:
        return []
    out = []
    for c in sorted(iv.per_count, key=int):
        b = iv.per_count[c].get(key)
        if b is not None:
            out.append((float(int(c)), b["estimate"], b["low"], b["high"]))
    return out


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
