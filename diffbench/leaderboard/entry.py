"""The entry page: everything about one submission (metrics per seed, per source count,
trust scores, cost, examples, how to reproduce, provenance)."""

from __future__ import annotations

from typing import Any

from ..results.names import METRIC_KEYS
from ..stats import format_interval
from ..submissions.submit import MIN_RANKED_SEEDS, safe_url
from . import charts
from .charts import Series
from .filters import pm, value
from .markup import esc, header, page
from .rows import (
    BOARD_METRICS,
    HEADLINE,
    LEGACY,
    METRIC_LABELS,
    RANKING_PAIRED,
    Row,
    per_count_band,
    per_count_points,
)
from .scales import fmt_seconds
from .templates import Markup
from .trust_pages import entry_consistency_section, entry_uq_section


def metric_order(split_result: dict[str, Any]) -> list[str]:
    keys = list(METRIC_KEYS)
    extra = sorted(
        k
        for k, v in split_result.items()
        if k not in keys and k not in ("per_count", "n_samples") and (v is None or isinstance(v, (int, float)))
    )
    return [k for k in keys if k in split_result] + extra


def _metric_table(row: Row, split: str) -> dict[str, Any]:
    agg = getattr(row.res.aggregate, split)
    stats = agg.model_dump()
    lines = [
        {
            "key": k,
            "label": METRIC_LABELS.get(k, k),
            "stat": stats.get(k),
            "interval": row.interval_text(k) if split == "test" else None,
            "seeds": [getattr(getattr(s, split), k, None) for s in row.res.per_seed],
        }
        for k in metric_order(stats)
    ]
    return {
        "title": "Test" if split == "test" else "Validation",
        "n_samples": agg.n_samples,
        "lines": lines,
        "intervals": split == "test" and row.has_intervals,
    }


def _per_count(row: Row) -> dict[str, Any]:
    pc = row.res.aggregate.test.per_count
    first = row.res.per_seed[0].test.per_count
    keys = [k for k in BOARD_METRICS if any(k in pc[c] for c in pc)]
    rows = [
        (c, first[c].n_samples if c in first else None, [_count_cell(row, c, k, pc[c].get(k)) for k in keys])
        for c in sorted(pc, key=int)
    ]
    return {"metrics": keys, "rows": rows}


def _count_cell(row: Row, count: str, key: str, stat: Any) -> Any:
    """A per-count table cell: the interval where the result has one, else mean ± std."""
    iv = row.count_interval(count, key)
    return format_interval(iv["estimate"], iv["low"], iv["high"]) if iv is not None else pm(stat)


def _versus_leader(row: Row) -> str:
    """The entry's standing against the leader of its rank (HTML)."""
    if row.rank is None:
        return "—"
    if row.leader is None:
        return "leads its rank" if row.ranking == RANKING_PAIRED else "— (" + esc(row.ranking) + ")"
    return (
        f'{esc(row.versus_leader_text)} against <a href="{esc(row.leader.id)}.html">{esc(row.leader.label)}</a> '
        '<span class="pm">(paired difference of test nMAE, this entry minus the leader; not significant at 5 % after '
        'Holm\'s correction: tied)</span>'
    )


def _stop_text(stop: Any) -> str:
    if stop is None:
        return "—"
    why = "stopped early" if stop.reason == "stopped_early" else "budget-capped"
    return f"{why} at step {stop.step:,} (epoch {stop.epoch})"


def _facts(items: list[tuple[str, str]]) -> list[tuple[str, Markup]]:
    return [(k, Markup(v)) for k, v in items]


def render_entry(row: Row, task_spec: Any, images: list[str]) -> str:
    """``entries/<id>.html`` (template ``entry.html``): everything about one submission."""
    res, task = row.res, row.sub.task
    back = f'<a class="back" href="../index.html#task-{esc(task)}">← {esc(task)} board</a>'
    if row.has_intervals:
        curve = charts.band_chart(
            f"{row.label}: test nMAE by number of sources (95 % band)",
            "nMAE",
            row.color,
            row.shape,
            per_count_band(row),
            "number of sources",
            "test nMAE",
        )
        curve_mae = charts.band_chart(
            f"{row.label}: test MAE by number of sources (95 % band)",
            "MAE",
            row.color,
            row.shape,
            per_count_band(row, "mae"),
            "number of sources",
            "test MAE",
        )
    else:
        curve = charts.line_chart(
            f"{row.label}: test error by number of sources",
            [Series("nMAE", row.color, row.shape, per_count_points(row), hollow=False)],
            "number of sources",
            "test nMAE",
        )
        curve_mae = charts.line_chart(
            f"{row.label}: test MAE by number of sources",
            [Series("MAE", row.color, row.shape, per_count_points(row, "mae"), hollow=False)],
            "number of sources",
            "test MAE",
        )
    cost_dump = res.cost.model_dump(exclude_unset=True)  # as written: a result before FLOPs shows no empty rows
    cost_items = [
        (
            k,
            esc(fmt_seconds(v))
            if isinstance(v, float) and (k.endswith("_s") or k.endswith("_per_sample"))
            else str(value(v)),
        )
        for k, v in sorted(cost_dump.items())
    ]
    groups: dict[str, list[str]] = {}
    for p in images:
        groups.setdefault(p.rsplit("/", 1)[0] if "/" in p else "", []).append(p)
    image_groups = [
        (f"{g} ({len(ps)} image{'s' if len(ps) != 1 else ''})" if g else f"{len(ps)} images", ps)
        for g, ps in groups.items()
    ]
    git = res.git or {}
    repro = [("Command", f'<pre class="block">{esc(row.reproduce)}</pre>')]
    if row.plugin:
        repro.insert(
            0,
            (
                "Plugin package",
                f"<code>{esc(row.plugin[0])}</code> version <code>{esc(row.plugin[1] or '—')}</code> "
                f"(<code>{esc(row.install)}</code>)",
            ),
        )
    if res.argv:
        repro.append(("As typed", f'<pre class="block">{esc(res.argv)}</pre>'))
    if git.get("commit"):
        repro.append(
            (
                "Git commit",
                f'<code>{esc(git["commit"])}</code>' + (" (with uncommitted changes)" if git.get("dirty") else ""),
            )
        )
    model = res.model.model_dump()
    v = row.verification
    verification = (
        []
        if v is None
        else [
            ("Verified on", esc(v.verified)),
            ("diffbench", esc(v.diffbench_version)),
            ("Hardware", esc(v.hardware)),
            ("Tolerance", esc(f"|rescored − claimed| ≤ {v.tolerance['abs']:g} + {v.tolerance['rel']:g} × |claimed|")),
            ("Metrics compared", esc(f"{v.metrics_compared:,}")),
            ("Result digest", f"<code>{esc(v.result_digest)}</code>"),
        ]
    )
    verification += [
        (f"Checkpoint, seed {seed}", f"<code>{esc(sha)}</code>")
        for seed, sha in sorted((v.checkpoints if v else {}).items(), key=lambda kv: int(kv[0]))
    ]
    checkpoints = []
    for seed, ref in sorted((row.meta.get("checkpoints") or {}).items(), key=lambda kv: int(kv[0])):
        where = esc(ref.get("path") or "")
        link = safe_url(ref.get("url"))
        if link:
            where = f'<a href="{esc(link)}" rel="noopener noreferrer">{esc(link)}</a>'
        checkpoints.append(
            (
                f"Checkpoint, seed {seed}",
                f"{where} · {ref['bytes']:,} bytes · SHA-256 <code>{esc(ref['sha256'])}</code>",
            )
        )
    training, data = res.training, res.data
    task_dump = res.task.model_dump()
    return page(
        f"{row.label} · {task} · diffbench leaderboard",
        "",
        header=header(f"{esc(task)} · {esc(row.label)}", back=back),
        template="entry.html",
        row=row,
        headline=HEADLINE,
        labels=METRIC_LABELS,
        min_seeds=MIN_RANKED_SEEDS,
        legacy=LEGACY,
        versus_leader=Markup(_versus_leader(row)),
        stops=[_stop_text(s.stop) for s in res.per_seed],
        interval_method=(res.aggregate.intervals.method if res.aggregate.intervals is not None else None),
        metric_tables=[_metric_table(row, "test"), _metric_table(row, "val")],
        per_count=_per_count(row),
        curve=Markup(curve),
        curve_mae=Markup(curve_mae),
        uq_section=Markup(entry_uq_section(row)),
        consistency_section=Markup(entry_consistency_section(row)),
        cost_items=_facts(cost_items),
        wandb_urls=[safe_url((s.wandb or {}).get("url")) for s in res.per_seed],
        image_groups=image_groups,
        repro=_facts(repro),
        verification=_facts(verification),
        checkpoints=_facts(checkpoints),
        hardware=[(k, value(v)) for k, v in sorted(res.hardware.model_dump().items())],
        packages=[(k, value(v)) for k, v in sorted(res.packages.items())],
        model_facts=[(k, value(model.get(k))) for k in ("name", "kind", "package", "package_version", "parameters")],
        train_facts=[
            (k, value(training.get(k))) for k in sorted(training) if not isinstance(training.get(k), (dict, list))
        ],
        data_facts=[(k, value(v)) for k, v in sorted(data.items()) if not isinstance(v, dict)],
        task_facts=[
            ("name", esc(res.task.name)),
            ("spec hash", Markup(f"<code>{esc(res.task.spec_hash)}</code>")),
            ("lattice", value(task_dump.get("lattice"))),
            ("input channels", value(task_dump.get("input_channels"))),
        ],
        task_json=task_dump,
    )
