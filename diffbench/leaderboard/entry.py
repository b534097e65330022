"""The entry page: everything about one submission (metrics per seed, per source count,
trust scores, cost, examples, how to reproduce, provenance)."""

from __future__ import annotations

from typing import Any

from ..results.names import METRIC_KEYS
from . import charts
from .charts import Series, fmt_seconds
from .filters import pm, value
from .markup import dl, esc, header, json_block, page
from .rows import BOARD_METRICS, HEADLINE, METRIC_LABELS, Row, per_count_points
from .submit import MIN_RANKED_SEEDS, safe_url
from .trust_pages import entry_consistency_section, entry_uq_section


def metric_order(split_result: dict[str, Any]) -> list[str]:
    keys = list(METRIC_KEYS)
    extra = sorted(k for k, v in split_result.items() if k not in keys and k not in ("per_count", "n_samples")
                   and (v is None or isinstance(v, (int, float))))
    return [k for k in keys if k in split_result] + extra


def metrics_table(row: Row, split: str) -> str:
    agg = row.r["aggregate"][split]
    seeds = row.r["per_seed"]
    head = "".join(f'<th class="num">seed {esc(s["seed"])}</th>' for s in seeds)
    lines = []
    for k in metric_order(agg):
        per = "".join(f'<td class="num">{value(s[split].get(k))}</td>' for s in seeds)
        label = METRIC_LABELS.get(k, k)
        strong = ("<strong>", "</strong>") if k == HEADLINE else ("", "")
        lines.append(f'<tr><td>{strong[0]}{esc(label)}{strong[1]} <code class="pm">{esc(k)}</code></td>'
                     f'<td class="num">{pm(agg.get(k))}</td>{per}</tr>')
    n = agg.get("n_samples")
    caption = f" ({esc(n)} samples)" if n is not None else ""
    return (f'<h3>{"Test" if split == "test" else "Validation"}{caption}</h3><div class="table-wrap"><table>'
            f'<thead><tr><th>metric</th><th class="num">mean ± std</th>{head}</tr></thead><tbody>'
            + "".join(lines) + "</tbody></table></div>")


def per_count_table(row: Row) -> str:
    pc = row.r["aggregate"]["test"].get("per_count") or {}
    if not pc:
        return '<p class="empty">This result has no per-source-count breakdown.</p>'
    first = row.r["per_seed"][0]["test"].get("per_count") or {}
    keys = [k for k in BOARD_METRICS if any(k in pc[c] for c in pc)]
    head = "".join(f'<th class="num">{esc(METRIC_LABELS.get(k, k))}</th>' for k in keys)
    lines = []
    for c in sorted(pc, key=int):
        n = (first.get(c) or {}).get("n_samples")
        lines.append(f'<tr><td class="num">{esc(c)}</td><td class="num">{value(n)}</td>'
                     + "".join(f'<td class="num">{pm(pc[c].get(k))}</td>' for k in keys) + "</tr>")
    return ('<div class="table-wrap"><table><thead><tr><th class="num">sources</th><th class="num">samples</th>'
            f"{head}</tr></thead><tbody>" + "".join(lines) + "</tbody></table></div>")


def render_entry(row: Row, task_spec: Any, images: list[str]) -> str:
    r, meta = row.r, row.meta
    back = f'<a class="back" href="../index.html#task-{esc(row.sub.task)}">← {esc(row.sub.task)} board</a>'
    status = ('<span class="badge official">official</span>' if meta["official"] else '<span class="badge unofficial">unofficial</span>')
    status += (f'<span class="badge ranked">rank {row.rank}</span>' if row.rank is not None
               else f'<span class="badge unranked">unranked: fewer than {MIN_RANKED_SEEDS} seeds</span>')
    site_header = header(f"{esc(row.sub.task)} · {esc(row.label)}", back=back)
    parts = ["<main>\n"]
    cost = r["cost"]
    speedup = f'{cost["solver_s_per_sample"] / cost["inference_s_per_sample"]:.3g}'
    facts = [
        ("Method", f'<strong>{esc(row.model)}</strong>{status}'),
        ("Title", esc(row.title) or "—"),
        ("Authors", esc(meta["authors"]) or "—"),
        ("Code / paper", f'<a href="{esc(row.url)}" rel="noopener noreferrer">{esc(row.url)}</a>' if row.url else "—"),
        ("Task", f'<a href="../index.html#task-{esc(row.sub.task)}">{esc(row.sub.task)}</a> · spec <code>{esc(r["task"]["spec_hash"][:12])}</code>'),
        ("Test nMAE", f"<strong>{pm(row.test(HEADLINE))}</strong>"),
        ("Validation nMAE", pm(row.val(HEADLINE))),
        ("Parameters", f'{r["model"]["parameters"]:,}'),
        ("Hardware", esc(r["hardware"]["label"])),
        ("Inference / sample", esc(fmt_seconds(cost["inference_s_per_sample"]))
         + f' (solver {esc(fmt_seconds(cost["solver_s_per_sample"]))}, '
         f"{esc(speedup)}× speed-up)"),
        ("Seeds", esc(", ".join(map(str, r["seeds"])))),
        ("Submitted", esc(meta["submitted"])),
        ("Run created", esc(r["created"])),
        ("diffbench", f'{esc(r["diffbench_version"])} · protocol v{esc(r["protocol_version"])} · schema v{esc(r["schema_version"])}'),
        ("Submission id", f"<code>{esc(row.id)}</code>"),
        ("Result digest", f'<code>{esc(r["digest"])}</code>'),
        ("Run id", f'<code>{esc(r["run_id"])}</code>'),
    ]
    if row.wandb:
        facts.append(("W&B", " ".join(f'<a href="{esc(u)}" rel="noopener noreferrer">seed {esc(s)}</a>' for s, u in row.wandb)))
    parts.append(f'<section class="block"><h2>{esc(row.label)}</h2>{dl(facts)}</section>\n')

    parts.append('<section class="block"><h2>Metrics</h2><p class="meta">mean ± unbiased std over seeds, then each seed; '
                 "the checkpoint is the best on validation MAE; null = empty region</p>"
                 + metrics_table(row, "test") + metrics_table(row, "val") + "</section>\n")

    curve = charts.line_chart(f"{row.label}: test error by number of sources",
                              [Series("nMAE", row.color, row.shape, per_count_points(r), hollow=False)],
                              "number of sources", "test nMAE")
    curve_mae = charts.line_chart(f"{row.label}: test MAE by number of sources",
                                  [Series("MAE", row.color, row.shape, per_count_points(r, "mae"), hollow=False)],
                                  "number of sources", "test MAE")
    parts.append('<section class="block"><h2>Per number of sources (test)</h2>'
                 f'<div class="charts"><figure>{curve}</figure><figure>{curve_mae}</figure></div><h3>Table</h3>'
                 + per_count_table(row) + "</section>\n")

    parts.append(entry_uq_section(row))
    parts.append(entry_consistency_section(row))

    seed_rows = []
    for s in r["per_seed"]:
        wb = safe_url((s.get("wandb") or {}).get("url"))
        wb_cell = f'<a href="{esc(wb)}" rel="noopener noreferrer">run</a>' if wb else esc((s.get("wandb") or {}).get("id") or "—")
        seed_rows.append(
            f'<tr><td class="num">{esc(s["seed"])}</td><td class="num">{value(s.get("best_epoch"))}</td>'
            f'<td class="num">{value(s.get("epochs_run"))}</td>'
            f'<td class="num">{esc(fmt_seconds(s["train_time_s"])) if isinstance(s.get("train_time_s"), (int, float)) else "—"}</td>'
            f'<td class="num">{esc(fmt_seconds(s["inference"]["s_per_sample"]))}</td>'
            f'<td class="num">{esc(fmt_seconds(s["solver"]["s_per_sample"]))}</td><td>{wb_cell}</td></tr>')
    cost_items = [(k, esc(fmt_seconds(v)) if isinstance(v, float) and (k.endswith("_s") or k.endswith("_per_sample")) else value(v))
                  for k, v in sorted(cost.items())]
    parts.append('<section class="block"><h2>Cost and seeds</h2><div class="grid2"><div>' + dl(cost_items) + "</div><div>"
                 '<div class="table-wrap"><table><thead><tr><th class="num">seed</th><th class="num">best epoch</th>'
                 '<th class="num">epochs</th><th class="num">train time</th><th class="num">inference / sample</th>'
                 '<th class="num">solver / sample</th><th>W&amp;B</th></tr></thead><tbody>'
                 + "".join(seed_rows) + "</tbody></table></div></div></div></section>\n")

    if images:
        groups: dict[str, list[str]] = {}
        for p in images:
            groups.setdefault(p.rsplit("/", 1)[0] if "/" in p else "", []).append(p)
        blocks = []
        for i, (group, paths) in enumerate(groups.items()):
            figs = "".join(f'<figure><img src="../images/{esc(row.id)}/{esc(p)}" alt="example {esc(p)}">'
                           f"<figcaption>{esc(p)}</figcaption></figure>" for p in paths)
            label = f"{group} ({len(paths)} image{'s' if len(paths) != 1 else ''})" if group else f"{len(paths)} images"
            blocks.append(f'<details class="images"{" open" if i == 0 else ""}><summary>{esc(label)}</summary>'
                          f'<div class="images">{figs}</div></details>')
        parts.append('<section class="block"><h2>Examples (test set)</h2><p class="meta">each: input sources · target · '
                     "prediction · |error|, for the fewest, a middle and the most sources</p>" + "".join(blocks) + "</section>\n")

    git = r.get("git") or {}
    repro = [("Command", f'<pre class="block">{esc(r["command"])}</pre>')]
    if r.get("argv"):
        repro.append(("As typed", f'<pre class="block">{esc(r["argv"])}</pre>'))
    if isinstance(git, dict) and git.get("commit"):
        repro.append(("Git commit", f'<code>{esc(git["commit"])}</code>' + (" (with uncommitted changes)" if git.get("dirty") else "")))
    parts.append('<section class="block"><h2>Reproduce</h2>' + dl(repro) + "</section>\n")

    hw = [(k, value(v)) for k, v in sorted(r["hardware"].items())]
    pk = [(k, value(v)) for k, v in sorted(r["packages"].items())]
    parts.append('<section class="block"><h2>Hardware and packages</h2><div class="grid2"><div><h3>Hardware</h3>' + dl(hw)
                 + "</div><div><h3>Packages</h3>" + dl(pk) + "</div></div></section>\n")
    m = r["model"]
    model_facts = [(k, value(m.get(k))) for k in ("name", "kind", "package", "package_version", "parameters")]
    training = r["training"]
    train_facts = [(k, value(training.get(k))) for k in sorted(training) if not isinstance(training.get(k), (dict, list))]
    data_facts = [(k, value(v)) for k, v in sorted(r["data"].items()) if not isinstance(v, dict)]
    parts.append('<section class="block"><h2>Model, training and data</h2><div class="grid2"><div><h3>Model</h3>'
                 + dl(model_facts) + json_block(m.get("spec"), "model spec (JSON)") + "</div><div><h3>Training</h3>"
                 + dl(train_facts) + json_block(training, "training (JSON, with the recipe)") + "</div><div><h3>Data</h3>"
                 + dl(data_facts) + json_block(r["data"], "data (JSON)") + "</div><div><h3>Task</h3>"
                 + dl([("name", esc(r["task"]["name"])), ("spec hash", f'<code>{esc(r["task"]["spec_hash"])}</code>'),
                        ("lattice", value(r["task"].get("lattice"))), ("input channels", value(r["task"].get("input_channels")))])
                 + json_block(r["task"], "task (JSON, with the full spec)") + "</div></div></section>\n")
    parts.append("</main>\n")
    return page(f"{row.label} · {row.sub.task} · diffbench leaderboard", "".join(parts), header=site_header)
