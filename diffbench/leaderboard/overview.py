"""The chart page of a task (``charts/<task>.html``): every entry on one chart, so people can
look instead of read.

* **Accuracy against hardware-independent cost**: test nMAE against forward FLOPs per sample
  when every entry's result records them (``cost.flops_per_sample``), else against trainable
  parameters; the axis says which. The vertical bar is the entry's interval where the result
  has one (``aggregate.intervals.metrics.nmae``: ``{"estimate", "low", "high"}``, at
  ``aggregate.intervals.level``), else mean ± std over seeds; the caption says which.
* **Error by number of sources, with bands**: one line per entry inside its band, the
  per-count interval where the result has one for every count (``aggregate.intervals.per_count``),
  else the seeds' minimum to maximum (labelled).
* **Accuracy against inference time**, with the exact solver's time as a reference line.

The SVG is hand-built (:mod:`diffbench.leaderboard.charts`): the same results give the same bytes.

>>> interval_of({"estimate": 0.5, "low": 0.41, "high": 0.62}, 0.9)
(0.41, 0.62, 0.9)
>>> interval_of(None), interval_of({"estimate": 0.5, "low": 0.7, "high": 0.6})
(None, None)
"""

from __future__ import annotations

import math
from typing import Any

from . import charts
from .charts import Band, Ref
from .markup import esc, header, page, short
from .rows import HEADLINE, Row, stat_of
from .scales import fmt_count, fmt_seconds
from .templates import Markup, macro

#: Where a result records its forward FLOPs per sample (the ``cost`` block is open to extra keys).
FLOPS_KEY = "flops_per_sample"


def _dump(stat: Any) -> dict[str, Any]:
    if isinstance(stat, dict):
        return stat
    dump = getattr(stat, "model_dump", None)
    return dump() if callable(dump) else {}


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def interval_of(block: Any, level: Any = None) -> tuple[float, float, float] | None:
    """``(low, high, level)`` of an interval ``{"estimate", "low", "high"}`` (a dict or typed;
    the level defaults to 0.95), or None when there is none or it is not a finite interval."""
    d = _dump(block)
    lo, hi = d.get("low"), d.get("high")
    if not (_finite(lo) and _finite(hi)) or lo > hi:
        return None
    return float(lo), float(hi), float(level) if _finite(level) else 0.95


def _intervals(row: Row) -> dict[str, Any]:
    """The result's ``aggregate.intervals`` block (the test split's intervals), or ``{}``."""
    return _dump(getattr(row.res.aggregate, "intervals", None))


def headline_interval(row: Row, key: str = HEADLINE) -> tuple[float, float, float] | None:
    """The interval of the entry's test ``key`` (``aggregate.intervals.metrics``), if recorded."""
    iv = _intervals(row)
    return interval_of((iv.get("metrics") or {}).get(key), iv.get("level"))


def count_interval(row: Row, count: str, key: str = HEADLINE) -> tuple[float, float, float] | None:
    """The interval of test ``key`` over the samples with ``count`` sources (``aggregate.intervals.per_count``)."""
    iv = _intervals(row)
    return interval_of(((iv.get("per_count") or {}).get(count) or {}).get(key), iv.get("level"))


def forward_flops(row: Row) -> float | None:
    """The entry's forward FLOPs per sample, when its result records them."""
    v = row.res.cost.model_dump().get(FLOPS_KEY)
    return float(v) if _finite(v) and v > 0 else None


def _level_text(levels: set[float]) -> str:
    return " / ".join(f"{100 * lv:g} %" for lv in sorted(levels)) or "95 %"


def headline_bar(row: Row) -> tuple[float | None, float | None, float | None, str, float | None]:
    """``(mean, low, high, kind, level)`` of the entry's test nMAE: kind ``interval`` or ``std``."""
    mean, std = stat_of(row.test(HEADLINE))
    iv = headline_interval(row)
    if iv is not None:
        return mean, iv[0], iv[1], "interval", iv[2]
    if mean is not None and std:
        return mean, mean - std, mean + std, "std", None
    return mean, None, None, "std", None


def count_band(row: Row, key: str = HEADLINE) -> tuple[list[tuple[float, float, float | None, float | None]], str]:
    """The entry's per-count curve of ``key`` with its band, and the band's kind: ``interval``
    (every count has one) or ``seeds`` (the seeds' minimum to maximum)."""
    pc = row.res.aggregate.test.per_count
    counts = sorted(pc, key=int)
    intervals = {c: count_interval(row, c, key) for c in counts}
    kind = "interval" if counts and all(intervals.values()) else "seeds"
    points = []
    for c in counts:
        mean = stat_of(pc[c].get(key))[0]
        if mean is None:
            continue
        if kind == "interval":
            lo, hi = intervals[c][0], intervals[c][1]
        else:
            vals = [getattr(s.test.per_count[c], key, None) for s in row.res.per_seed if c in s.test.per_count]
            vals = [v for v in vals if _finite(v)]
            lo, hi = (min(vals), max(vals)) if len(vals) > 1 else (None, None)
        points.append((float(int(c)), mean, lo, hi))
    return points, kind


def _band(row: Row, points: list) -> Band:
    return Band(label=row.label, color=row.color, shape=row.shape, points=points, hollow=not row.sub.ranked)


def overview_figures(task: str, rows: list[Row]) -> list[tuple[str, str, str]]:
    """The task's charts as ``(svg, title, caption)``: cost, per count with bands, inference time."""
    flops = {r.id: forward_flops(r) for r in rows}
    use_flops = bool(rows) and all(v is not None for v in flops.values())
    bars = {r.id: headline_bar(r) for r in rows}
    kinds = {b[3] for b in bars.values() if b[1] is not None}
    levels = {b[4] for b in bars.values() if b[4] is not None}
    x_label = "forward FLOPs per sample" if use_flops else "trainable parameters"
    cost = charts.interval_scatter(
        f"{task}: test nMAE against {x_label}",
        [_band(r, [((flops[r.id] if use_flops else float(r.res.model.parameters)), *bars[r.id][:3])]) for r in rows],
        x_label,
        "test nMAE",
        x_fmt=fmt_count,
    )
    bar_text = {
        frozenset(["interval"]): f"bars: {_level_text(levels)} interval of the test nMAE",
        frozenset(["std"]): "bars: mean ± std over seeds (no interval recorded)",
        frozenset(
            ["interval", "std"]
        ): f"bars: {_level_text(levels)} interval where recorded, else mean ± std over seeds",
    }
    n_flops = sum(v is not None for v in flops.values())
    why = (
        ""
        if use_flops
        else " (no result records its forward FLOPs per sample)"
        if not n_flops
        else f" (FLOPs per sample are recorded by {n_flops} of {len(rows)} entries, so all use parameters)"
    )
    bands = {r.id: count_band(r) for r in rows}
    band_kinds = {k for _, k in bands.values()}
    n_seed_bands = sum(1 for _, k in bands.values() if k == "seeds")
    band_text = (
        "bands: per-count interval of every entry"
        if band_kinds == {"interval"}
        else "bands: the seeds' minimum to maximum (no per-count interval recorded; one seed: no band)"
        if band_kinds == {"seeds"}
        else f"bands: per-count interval where recorded; seed minimum to maximum for {n_seed_bands} entries"
    )
    curve = charts.bands_chart(
        f"{task}: test nMAE by number of sources",
        [_band(r, bands[r.id][0]) for r in rows],
        "number of sources",
        "test nMAE",
    )
    solver: dict[str, list[float]] = {}
    for r in rows:
        solver.setdefault(r.res.hardware.label, []).append(r.res.cost.solver_s_per_sample)
    refs = [
        Ref(sum(v) / len(v), "solver" + (f" · {short(hw)}" if len(solver) > 1 else ""))
        for hw, v in sorted(solver.items())
    ]
    timing = charts.scatter_chart(
        f"{task}: accuracy against inference time",
        [
            charts.Series(
                r.label,
                r.color,
                r.shape,
                [(r.res.cost.inference_s_per_sample, *stat_of(r.test(HEADLINE)))],
                hollow=not r.sub.ranked,
            )
            for r in rows
        ],
        "inference time per sample",
        "test nMAE",
        x_fmt=fmt_seconds,
        refs=refs,
    )
    return [
        (
            cost,
            f"Accuracy against {x_label}",
            "hardware-independent cost" + why + "; " + bar_text.get(frozenset(kinds), "no spread recorded"),
        ),
        (curve, "Error by number of sources", band_text + "; dashed, hollow: unranked"),
        (
            timing,
            "Accuracy against inference time",
            "wall-clock, hardware-dependent; dashed line: the exact solver's time per sample"
            + (" (one per hardware)" if len(solver) > 1 else "")
            + "; bars: ± std over seeds",
        ),
    ]


def figures_markup(task: str, rows: list[Row], depth: str = "") -> str:
    """The task's charts and their legend (the ``figures`` and ``legend`` macros)."""
    figs = macro("figures")([(Markup(svg), t, c) for svg, t, c in overview_figures(task, rows)])
    items = [(row, Markup(charts.marker(row.shape, 7, 7, row.color, hollow=not row.sub.ranked, r=4.5))) for row in rows]
    return str(figs) + str(macro("legend")(items, depth))


def render_task_charts(task: str, spec: Any, rows: list[Row]) -> str:
    """``charts/<task>.html`` (template ``charts.html``): every entry of the task on one chart."""
    back = f'<a class="back" href="../index.html#task-{esc(task)}">← {esc(task)} board</a>'
    return page(
        f"{task} · all entries on one chart · diffbench leaderboard",
        "",
        header=header(f"{esc(task)} · every entry on one chart", back=back),
        template="charts.html",
        task=task,
        spec=spec,
        rows=rows,
        figures=Markup(figures_markup(task, rows, "../")),
    )
