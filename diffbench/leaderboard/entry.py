"""The entry page: everything about one submission (metrics per seed, per source count,
trust scores, cost, examples, how to reproduce, provenance)."""

from __future__ import annotations

from typing import Any

from ..results.names import METRIC_KEYS
from . import charts
from .charts import Series, fmt_seconds
from .filters import value
from .markup import esc, header, page
from .rows import BOARD_METRICS, HEADLINE, METRIC_LABELS, Row, per_count_points
from .submit import MIN_RANKED_SEEDS, safe_url
from .templates import Markup
from .trust_pages import entry_consistency_section, entry_uq_section


def metric_order(split_result: dict[str, Any]) -> list[str]:
    keys = list(METRIC_KEYS)
    extra = sorted(k for k, v in split_result.items() if k not in keys and k not in ("per_count", "n_samples")
                   and (v is None or isinstance(v, (int, float))))
    return [k for k in keys if k in split_result] + extra


def _metric_table(row: Row, split: str) -> dict[str, Any]:
    agg = getattr(row.res.aggregate, split)
    stats = agg.model_dump()
    lines = [{"key": k, "label": METRIC_LABELS.get(k, k), "stat": stats.get(k),
              "seeds": [getattr(getattr(s, split), k, None) for s in row.res.per_seed]} for k in metric_order(stats)]
    return {"title": "Test" if split == "test" else "Validation", "n_samples": agg.n_samples, "lines": lines}


def _per_count(row: Row) -> dict[str, Any]:
    pc = row.res.aggregate.test.per_count
    first = row.res.per_seed[0].test.per_count
    keys = [k for k in BOARD_METRICS if any(k in pc[c] for c in pc)]
    rows = [(c, first[c].n_samples if c in first else None, [pc[c].get(k) for k in keys]) for c in sorted(pc, key=int)]
    return {"metrics": keys, "rows": rows}


def _facts(items: list[tuple[str, str]]) -> list[tuple[str, Markup]]:
    return [(k, Markup(v)) for k, v in items]


def render_entry(row: Row, task_spec: Any, images: list[str]) -> str:
    """``entries/<id>.html`` (template ``entry.html``): everything about one submission."""
    res, task = row.res, row.sub.task
    back = f'<a class="back" href="../index.html#task-{esc(task)}">← {esc(task)} board</a>'
    curve = charts.line_chart(f"{row.label}: test error by number of sources",
                              [Series("nMAE", row.color, row.shape, per_count_points(row), hollow=False)],
                              "number of sources", "test nMAE")
    curve_mae = charts.line_chart(f"{row.label}: test MAE by number of sources",
                                  [Series("MAE", row.color, row.shape, per_count_points(row, "mae"), hollow=False)],
                                  "number of sources", "test MAE")
    cost_dump = res.cost.model_dump(exclude_unset=True)  # as written: a result before FLOPs shows no empty rows
    cost_items = [(k, esc(fmt_seconds(v)) if isinstance(v, float) and (k.endswith("_s") or k.endswith("_per_sample")) else str(value(v)))
                  for k, v in sorted(cost_dump.items())]
    groups: dict[str, list[str]] = {}
    for p in images:
        groups.setdefault(p.rsplit("/", 1)[0] if "/" in p else "", []).append(p)
    image_groups = [(f"{g} ({len(ps)} image{'s' if len(ps) != 1 else ''})" if g else f"{len(ps)} images", ps) for g, ps in groups.items()]
    git = res.git or {}
    repro = [("Command", f'<pre class="block">{esc(row.reproduce)}</pre>')]
    if row.plugin:
        repro.insert(0, ("Plugin package", f"<code>{esc(row.plugin[0])}</code> version <code>{esc(row.plugin[1] or '—')}</code> "
                                           f"(<code>{esc(row.install)}</code>)"))
    if res.argv:
        repro.append(("As typed", f'<pre class="block">{esc(res.argv)}</pre>'))
    if git.get("commit"):
        repro.append(("Git commit", f'<code>{esc(git["commit"])}</code>' + (" (with uncommitted changes)" if git.get("dirty") else "")))
    model = res.model.model_dump()
    training, data = res.training, res.data
    task_dump = res.task.model_dump()
    return page(f"{row.label} · {task} · diffbench leaderboard", "", header=header(f"{esc(task)} · {esc(row.label)}", back=back),
                template="entry.html", row=row, headline=HEADLINE, labels=METRIC_LABELS, min_seeds=MIN_RANKED_SEEDS,
                metric_tables=[_metric_table(row, "test"), _metric_table(row, "val")], per_count=_per_count(row),
                curve=Markup(curve), curve_mae=Markup(curve_mae), uq_section=Markup(entry_uq_section(row)),
                consistency_section=Markup(entry_consistency_section(row)), cost_items=_facts(cost_items),
                wandb_urls=[safe_url((s.wandb or {}).get("url")) for s in res.per_seed], image_groups=image_groups,
                repro=_facts(repro), hardware=[(k, value(v)) for k, v in sorted(res.hardware.model_dump().items())],
                packages=[(k, value(v)) for k, v in sorted(res.packages.items())],
                model_facts=[(k, value(model.get(k))) for k in ("name", "kind", "package", "package_version", "parameters")],
                train_facts=[(k, value(training.get(k))) for k in sorted(training) if not isinstance(training.get(k), (dict, list))],
                data_facts=[(k, value(v)) for k, v in sorted(data.items()) if not isinstance(v, dict)],
                task_facts=[("name", esc(res.task.name)), ("spec hash", Markup(f"<code>{esc(res.task.spec_hash)}</code>")),
                            ("lattice", value(task_dump.get("lattice"))), ("input channels", value(task_dump.get("input_channels")))],
                task_json=task_dump)
