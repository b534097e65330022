"""The uncertainty board and the physics-consistency table of a task (``uq/<task>.html``), and
the uq / consistency sections of the entry pages.

The uncertainty board has one row per entry and indicator of ``diffbench run --uq``, and one
per label-free baseline (source count, input sum, prediction mean, scored alike): the
indicator's Spearman correlation with the true per-sample error, its AUROC for flagging the
worst samples and the share of the very worst caught when a fixed share is flagged, each as
``estimate [95 % interval]`` (seeds and test samples resampled), "underpowered" where the
test set has too few worst samples per seed for the number to mean anything
(:data:`~diffbench.stats.MIN_POSITIVES_AUROC`), or "n/a" with the reason. A result
written before the intervals shows mean ± std over seeds, marked "no interval", and the same
power rule from its test-set size. Entries run without ``--uq`` are not on it. The consistency table has one row per entry with a ``consistency`` block. Both tables
sort like the main board (the same script, keyed by ``data-board``).
"""

from __future__ import annotations

import math
from typing import Any

from .charts import fmt_number
from .site import HEADLINE, Row, _asset, _cell, _dl, _header, _page, _value, esc, fmt_pm, sortable_head

NA = "not applicable"
#: The indicators in reporting order, with what each measures (diffbench.trust.indicators).
INDICATOR_INFO = {
    "mc-dropout": "spread (std) of several forward passes with dropout active",
    "residual": "relative PDE residual of the prediction (no ground truth needed)",
    "inverse": "an inverse network maps the predicted field back to a source map; its error against the input",
    "ensemble": "spread (std) of the seeds' predictions",
}
#: The label-free baselines every uq block scores like the indicators (diffbench.trust.scores.BASELINES).
BASELINE_INFO = {
    "source-count": "baseline: the sample's number of sources",
    "input-sum": "baseline: the sum of the network's input source map (scaled to max 1)",
    "prediction-mean": "baseline: the mean of the normalised prediction",
}
SCORE_LABELS = {"spearman": "Spearman ρ", "auroc": "AUROC", "catch_rate": "catch rate", "indicator_mean": "indicator mean"}
#: Consistency board columns: (score, field, label, tooltip, first sort direction).
CONSISTENCY_COLUMNS = [
    ("superposition", "mean", "Superposition", "||f(S_i + S_j) - f(S_i) - f(S_j)|| / ||f(S_i + S_j)||, each prediction at the amplitude the PDE operator gives its shape (no ground truth), mean over pairs (0 = linear)", "ascending"),
    ("superposition", "max", "max", "superposition error, worst pair", "ascending"),
    ("equivariance", "mean", "Equivariance", "||g⁻¹ f(g x) - f(x)|| / ||f(x)|| over rotations and flips, mean (0 = equivariant)", "ascending"),
    ("equivariance", "max", "max", "equivariance error, worst sample", "ascending"),
    ("maximum_principle", "negative_share", "Negative pixels", "share of predicted pixels < 0 where the true field is >= 0", "ascending"),
    ("maximum_principle", "most_negative", "Most negative", "smallest predicted value, normalised units (0 = none negative)", "descending"),
    ("flux_balance", "mean", "Flux balance", "|outflow through the Dirichlet faces - injected flux| / injected flux, prediction at the amplitude the PDE operator gives its shape (no ground truth), mean", "ascending"),
    ("flux_balance", "max", "max", "flux-balance error, worst sample", "ascending"),
]
CONSISTENCY_NAMES = {"superposition": "superposition", "equivariance": "rotation/flip equivariance",
                     "maximum_principle": "maximum principle", "flux_balance": "flux balance"}


def has_uq(row: Row) -> bool:
    return isinstance(row.r.get("uq"), dict)


def has_consistency(row: Row) -> bool:
    return isinstance(row.r.get("consistency"), dict)


def _indicators(uq: dict[str, Any]) -> list[str]:
    names = list(uq.get("indicators") or {})
    order = list(INDICATOR_INFO)
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def _settings(rows: list[Row]) -> dict[str, Any]:
    from ..trust.indicators import settings

    for row in rows:
        if has_uq(row) and isinstance(row.r["uq"].get("settings"), dict):
            return {**settings(), **row.r["uq"]["settings"]}
    return settings()


def _pct(x: Any) -> str:
    return f"{100 * x:g} %" if isinstance(x, (int, float)) else "?"


def uq_columns(settings: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    worst, catch, flag = settings.get("auroc_worst_fraction"), settings.get("catch_worst_fraction"), settings.get("catch_flag_fraction")
    return [
        ("method", "Method", "str", "Model name and submission title; the link opens the entry"),
        ("indicator", "Indicator", "str", "Label-free error indicator (larger = less trustworthy)"),
        ("spearman", "Spearman ρ", "num", "Spearman rank correlation of the indicator with the true per-sample error "
         "(1 = same ordering), estimate [95 % interval]"),
        ("auroc", f"AUROC worst {_pct(worst)}", "num", f"AUROC of the indicator for flagging the worst {_pct(worst)} of test "
         f"samples by error (1 = perfect, 0.5 = chance), estimate [95 % interval]; underpowered below "
         f"{settings.get('min_positives_auroc', 20)} worst samples per seed"),
        ("catch_rate", f"Worst {_pct(catch)} caught", "num", f"Share of the worst {_pct(catch)} of samples among the "
         f"{_pct(flag)} the indicator flags, estimate [95 % interval]; underpowered below "
         f"{settings.get('min_positives_caught', 20)} worst samples per seed"),
        ("indicator_mean", "Indicator mean", "num", "Mean of the indicator over the test samples (its scale)"),
        ("seeds", "Seeds", "num", "Seeds with scores / seeds of the run"),
        ("test_nmae", "Test nMAE", "num", "The entry's headline error, for context"),
        ("note", "Note", "none", "Why an indicator is not applicable"),
    ]


def _stat_mean(stat: Any) -> float | None:
    return stat.get("mean") if isinstance(stat, dict) else None


def _estimate(v: Any) -> float | None:
    """The number a score sorts by: an interval's estimate, a legacy mean, else None."""
    if isinstance(v, dict):
        return v.get("estimate", v.get("mean"))
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def legacy_positives(row: Row, key: str) -> tuple[int, int] | None:
    """For a result written before the intervals: ``(positives per seed, required)`` of the
    AUROC or caught share from its test-set size (the same power rule), else None."""
    from ..stats import MIN_POSITIVES_AUROC, MIN_POSITIVES_CAUGHT

    if key not in ("auroc", "catch_rate") or "baselines" in row.r["uq"]:
        return None
    sizes = [(s.get("uq") or {}).get("n_samples") for s in row.r["per_seed"]]
    n = min((x for x in sizes if isinstance(x, int) and x > 0), default=None)
    if n is None:
        return None
    settings = row.r["uq"].get("settings") or {}
    share = settings.get("auroc_worst_fraction" if key == "auroc" else "catch_worst_fraction", 0.05 if key == "auroc" else 0.01)
    return max(1, math.ceil(share * n - 1e-9)), MIN_POSITIVES_AUROC if key == "auroc" else MIN_POSITIVES_CAUGHT


def _underpowered(positives: Any, required: Any) -> str:
    return (f'<td class="num underpowered" title="{esc(positives)} worst samples per seed; a number needs at least '
            f'{esc(required)} (a task with more test samples)">underpowered</td>')


def _score_cell(ind: dict[str, Any], key: str, legacy: tuple[int, int] | None = None) -> str:
    from ..stats import format_interval

    if ind.get("status") != "ok":
        return f'<td class="num na" title="{esc(ind.get("reason"))}">n/a</td>'
    stat = ind.get(key)
    if isinstance(stat, dict) and stat.get("underpowered"):
        return _underpowered(stat.get("positives"), stat.get("required"))
    if legacy is not None and legacy[0] < legacy[1]:
        return _underpowered(*legacy)
    if isinstance(stat, dict) and "estimate" in stat:
        title = f'{100 * stat.get("level", 0.95):g} % interval: {stat.get("method")}'
        return f'<td class="num" title="{esc(title)}">{esc(format_interval(stat["estimate"], stat["low"], stat["high"]))}</td>'
    if isinstance(stat, (int, float)) and not isinstance(stat, bool):
        return f'<td class="num">{esc(fmt_number(stat))}</td>'
    if _stat_mean(stat) is None:
        return '<td class="num" title="undefined (e.g. a constant indicator)">—</td>'
    note = "" if key == "indicator_mean" else ' <span class="pm">(no interval)</span>'
    title = "" if key == "indicator_mean" else ' title="a result written before the intervals: mean ± unbiased std over seeds"'
    return f'<td class="num"{title}>{fmt_pm(stat)}{note}</td>'


def _rows_of(uq: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(group, name, row)`` of every indicator, then every baseline, in reporting order."""
    out = [("indicators", n, uq["indicators"][n]) for n in _indicators(uq)]
    order = list(BASELINE_INFO)
    for n in sorted(uq.get("baselines") or {}, key=lambda n: (order.index(n) if n in order else len(order), n)):
        out.append(("baselines", n, uq["baselines"][n]))
    return out


def _uq_board(task: str, rows: list[Row], settings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cols = uq_columns(settings)
    order = list(INDICATOR_INFO) + list(BASELINE_INFO)
    body, data_rows, ids = [], {}, []
    for row in rows:
        uq = row.r["uq"]
        n_seeds = len(row.r["seeds"])
        for group, name, ind in _rows_of(uq):
            rid = f"{row.id}/{name}"
            ok = ind.get("status") == "ok"
            info = (INDICATOR_INFO if group == "indicators" else BASELINE_INFO).get(name, "")
            label = f"<code>{esc(name)}</code>" + (' <span class="pm">baseline</span>' if group == "baselines" else "")
            cells = [_cell(row, "method", "../"), f'<td title="{esc(info)}">{label}</td>']
            cells += [_score_cell(ind, k, legacy_positives(row, k)) for k in ("spearman", "auroc", "catch_rate", "indicator_mean")]
            cells.append(f'<td class="num">{esc(ind.get("n_seeds", 0))}/{n_seeds}</td>')
            cells.append(f'<td class="num">{fmt_pm(row.test(HEADLINE))}</td>')
            cells.append(f'<td class="wrap note">{"" if ok else "n/a: " + esc(ind.get("reason"))}</td>')
            cls = " ".join(c for c in ("" if ok else "na", "baseline" if group == "baselines" else "",
                                       "" if row.sub.ranked else "unranked") if c)
            body.append(f'<tr data-id="{esc(rid)}"' + (f' class="{cls}"' if cls else "") + ">" + "".join(cells) + "</tr>")
            ids.append(rid)
            powered = {k: (legacy_positives(row, k) or (1, 0)) for k in ("auroc", "catch_rate")}
            data_rows[rid] = {
                "method": row.label.lower(), "indicator": order.index(name) if name in order else len(order),
                **{k: (_estimate(ind.get(k)) if ok and powered.get(k, (1, 0))[0] >= powered.get(k, (1, 0))[1] else None)
                   for k in ("spearman", "auroc", "catch_rate", "indicator_mean")},
                "seeds": ind.get("n_seeds", 0), "test_nmae": row.mean("test", HEADLINE),
            }
    first = {"spearman": "descending", "auroc": "descending", "catch_rate": "descending", "seeds": "descending"}
    html = _table(f"uq-{task}", cols, body, first)
    return html, {"order": ids, "rows": data_rows}


def _table(board: str, cols: list[tuple[str, str, str, str]], body: list[str], first: dict[str, str]) -> str:
    return (f'<div class="table-wrap"><table class="board" data-board="{esc(board)}">\n<thead><tr>{sortable_head(cols, first)}</tr></thead>\n'
            f'<tbody>\n{chr(10).join(body)}\n</tbody>\n</table></div>\n')


def _consistency_board(task: str, rows: list[Row]) -> tuple[str, dict[str, Any]]:
    cols = [("method", "Method", "str", "Model name and submission title; the link opens the entry")]
    cols += [(f"{s}.{f}", label, "num", tip) for s, f, label, tip, _ in CONSISTENCY_COLUMNS]
    cols += [("seeds", "Seeds", "num", "Seeds with consistency scores / seeds of the run"),
             ("test_nmae", "Test nMAE", "num", "The entry's headline error, for context"),
             ("note", "Note", "none", "Scores that do not apply to this task, and why")]
    first = {f"{s}.{f}": d for s, f, _, _, d in CONSISTENCY_COLUMNS} | {"seeds": "descending"}
    body, data_rows = [], {}
    for row in rows:
        c = row.r["consistency"]
        cells = [_cell(row, "method", "../")]
        values: dict[str, Any] = {"method": row.label.lower()}
        for score, fld, *_ in CONSISTENCY_COLUMNS:
            block = c.get(score) if isinstance(c.get(score), dict) else {}
            key = f"{score}.{fld}"
            if block.get("status") != "ok":
                cells.append(f'<td class="num na" title="{esc(block.get("reason") or "not recorded")}">n/a</td>')
                values[key] = None
            elif _stat_mean(block.get(fld)) is None:
                cells.append('<td class="num">—</td>')
                values[key] = None
            else:
                cells.append(f'<td class="num">{fmt_pm(block.get(fld))}</td>')
                values[key] = _stat_mean(block.get(fld))
        notes = [f"{CONSISTENCY_NAMES.get(s, s)}: {(c.get(s) or {}).get('reason') or 'not recorded'}"
                 for s in CONSISTENCY_NAMES if (c.get(s) or {}).get("status") != "ok"]
        cells.append(f'<td class="num">{esc(c.get("n_seeds", "—"))}/{len(row.r["seeds"])}</td>')
        cells.append(f'<td class="num">{fmt_pm(row.test(HEADLINE))}</td>')
        cells.append(f'<td class="wrap note">{esc("; ".join(notes))}</td>')
        values.update(seeds=c.get("n_seeds"), test_nmae=row.mean("test", HEADLINE))
        cls = "" if row.sub.ranked else ' class="unranked"'
        body.append(f'<tr data-id="{esc(row.id)}"{cls}>' + "".join(cells) + "</tr>")
        data_rows[row.id] = values
    return _table(f"consistency-{task}", cols, body, first), {"order": [r.id for r in rows], "rows": data_rows}


def render_trust_page(task: str, rows: list[Row], studies: list[Any] = ()) -> str:
    """``uq/<task>.html``: the task's uncertainty board and physics-consistency table."""
    back = f'<a class="back" href="../index.html#task-{esc(task)}">← {esc(task)} board</a>'
    parts = [_header(f"{esc(task)} · uncertainty board and physics consistency", back=back), "<main>\n"]
    data: dict[str, Any] = {"boards": {}}
    uq_rows = [r for r in rows if has_uq(r)]
    settings = _settings(uq_rows)
    parts.append(f'<section class="block" id="uncertainty"><h2>Uncertainty board: {esc(task)}</h2>\n')
    parts.append('<p class="lead">Can the surrogate tell when it is wrong? Each label-free error indicator of '
                 "<code>diffbench run ... --uq mc-dropout,residual,inverse,ensemble</code> is scored against the true "
                 f"per-sample error on the test set: Spearman ρ, the AUROC for flagging the worst {_pct(settings.get('auroc_worst_fraction'))} "
                 f"of samples, and the share of the worst {_pct(settings.get('catch_worst_fraction'))} caught when "
                 f"{_pct(settings.get('catch_flag_fraction'))} are flagged. Higher is better for all three. Each is shown as "
                 "estimate [95 % interval] (a bootstrap of the test samples stratified by source count, and of the seeds). "
                 "Every entry also scores three trivial label-free baselines the same way (source count, sum of the input, "
                 "mean of the prediction): an indicator is only worth its cost where it beats them. <em>underpowered</em>: "
                 f"fewer than {esc(settings.get('min_positives_auroc', 20))} worst samples per seed "
                 f"({esc(settings.get('min_positives_caught', 20))} for the caught share), too few for the number to mean "
                 "anything; a UQ board needs a task with enough test samples (standard-64, 800, or larger). "
                 "n/a: the indicator does not apply to that entry (the note says why).</p>\n")
    if not uq_rows:
        parts.append(f'<p class="empty">No entry on {esc(task)} was run with <code>--uq</code> yet, so this board is empty.</p>\n')
    else:
        table, board = _uq_board(task, uq_rows, settings)
        without = len(rows) - len(uq_rows)
        parts.append(f'<p class="meta">{len(uq_rows)} of {len(rows)} entr{"ies" if len(rows) != 1 else "y"} ran with --uq'
                     + (f"; the {without} without it {'are' if without != 1 else 'is'} not on this board" if without else "")
                     + " · default order: entries as on the main board (test nMAE ascending), then indicators · "
                     "click a column header to sort</p>\n")
        parts.append(table)
        data["boards"][f"uq-{task}"] = board
        parts.append('<dl class="facts indicators">' + "".join(
            f"<dt><code>{esc(n)}</code></dt><dd>{esc(d)}</dd>" for n, d in {**INDICATOR_INFO, **BASELINE_INFO}.items()) + "</dl>\n")
    parts.append("</section>\n")

    cons_rows = [r for r in rows if has_consistency(r)]
    parts.append(f'<section class="block" id="consistency"><h2>Physics consistency: {esc(task)}</h2>\n'
                 '<p class="lead">Does the surrogate respect what the equation guarantees? Measured on a fixed subset of '
                 "test samples, the same for every entry: the superposition error (the equation is linear), the rotation/flip "
                 "equivariance error, maximum-principle violations (negative values where the true field is non-negative) "
                 "and the global flux balance. Lower is better; an exact solver scores about 1e-7. Mean ± unbiased std "
                 "over seeds.</p>\n")
    if not cons_rows:
        parts.append(f'<p class="empty">No entry on {esc(task)} has physics-consistency scores.</p>\n')
    else:
        table, board = _consistency_board(task, cons_rows)
        without = len(rows) - len(cons_rows)
        parts.append(f'<p class="meta">{len(cons_rows)} of {len(rows)} entr{"ies" if len(rows) != 1 else "y"} with consistency scores'
                     + (f"; {without} older result{'s' if without != 1 else ''} without them" if without else "") + "</p>\n")
        parts.append(table)
        data["boards"][f"consistency-{task}"] = board
    parts.append("</section>\n")
    if studies:
        links = ", ".join(f'<a href="../studies/{esc(s.name)}/index.html">{esc(s.name)}</a>' for s in studies)
        parts.append(f'<p class="meta">Studies on this task: {links}</p>\n')
    parts.append("</main>\n")
    script = _asset("board.js") if data["boards"] else None
    return _page(f"{task} · uncertainty and consistency · diffbench leaderboard", "".join(parts),
                 script=script, data=data if data["boards"] else None)


# --------------------------------------------------------------------------- entry sections


def entry_uq_section(row: Row) -> str:
    if not has_uq(row):
        return ""
    r, uq = row.r, row.r["uq"]
    seeds = r["per_seed"]
    lines = []
    for group, name, ind in _rows_of(uq):
        status = "ok" if ind.get("status") == "ok" else f"n/a: {esc(ind.get('reason'))}"
        kind = ' <span class="pm">baseline</span>' if group == "baselines" else ""
        lines.append(f'<tr><td><code>{esc(name)}</code>{kind}</td>'
                     + "".join(_score_cell(ind, k, legacy_positives(row, k)) for k in ("spearman", "auroc", "catch_rate", "indicator_mean"))
                     + f'<td class="num">{esc(ind.get("n_seeds", 0))}/{len(seeds)}</td><td class="wrap">{status}</td></tr>')
    summary = ('<div class="table-wrap"><table class="uq-summary"><thead><tr><th>indicator</th><th class="num">Spearman ρ</th>'
               '<th class="num">AUROC</th><th class="num">catch rate</th><th class="num">indicator mean</th>'
               '<th class="num">seeds</th><th>status</th></tr></thead><tbody>' + "".join(lines) + "</tbody></table></div>")
    per = []
    for s in seeds:
        block = s.get("uq") or {}
        for group, name, _ in _rows_of(uq):
            ind = (block.get(group) or {}).get(name) or {}
            if ind.get("status") == "ok":
                vals = "".join(_score_cell(ind, k, legacy_positives(row, k) if k != "indicator_mean" else None)
                               for k in ("spearman", "auroc", "catch_rate", "indicator_mean", "indicator_median"))
            else:
                vals = f'<td colspan="5" class="na">n/a: {esc(ind.get("reason") or "not recorded")}</td>'
            per.append(f'<tr><td class="num">{esc(s["seed"])}</td><td><code>{esc(name)}</code></td>{vals}</tr>')
    per_table = ('<div class="table-wrap"><table><thead><tr><th class="num">seed</th><th>indicator</th><th class="num">Spearman ρ</th>'
                 '<th class="num">AUROC</th><th class="num">catch rate</th><th class="num">indicator mean</th>'
                 '<th class="num">indicator median</th></tr></thead><tbody>' + "".join(per) + "</tbody></table></div>")
    facts = [("requested", esc(", ".join(map(str, uq.get("requested") or _indicators(uq)))))]
    facts += [(k, _value(v)) for k, v in sorted((uq.get("settings") or {}).items())]
    facts.append(("test samples / seed error", esc(", ".join(
        f"seed {s['seed']}: {(s.get('uq') or {}).get('n_samples', '?')} samples, mean error "
        f"{fmt_number((s.get('uq') or {}).get('error_mean')) if isinstance((s.get('uq') or {}).get('error_mean'), (int, float)) else '—'}"
        for s in seeds))))
    inv = uq.get("inverse_model")
    if isinstance(inv, dict):
        facts.append(("inverse network", esc(", ".join(f"{k} {fmt_number(v) if isinstance(v, float) else v}"
                                                      for k, v in sorted(inv.items())
                                                      if k in ("preset", "epochs", "val_mae", "train_time_s", "n_train")))))
    how = ("estimate [95 % interval], the run's scores on every seed's test samples at once, then each seed's"
           if "baselines" in uq else "mean ± unbiased std over seeds (a result written before the intervals), then each seed")
    return (f'<section class="block" id="uq"><h2>Uncertainty indicators</h2><p class="meta">each label-free indicator and '
            f'baseline scored against the true per-sample test error; {how} · '
            f'<a href="../uq/{esc(row.sub.task)}.html">the {esc(row.sub.task)} uncertainty board</a></p>'
            + summary + "<h3>Per seed</h3>" + per_table + "<h3>Settings</h3>" + _dl(facts) + "</section>\n")


def entry_consistency_section(row: Row) -> str:
    r = row.r
    seeds = r["per_seed"]
    if not has_consistency(row) and not any(isinstance(s.get("consistency"), dict) for s in seeds):
        return ""
    c = r.get("consistency") or {}
    head = "".join(f'<th class="num">seed {esc(s["seed"])}</th>' for s in seeds)
    lines = []
    names = [n for n in CONSISTENCY_NAMES if n in c] + sorted(n for n, v in c.items() if isinstance(v, dict) and n not in CONSISTENCY_NAMES)
    for name in names:
        block = c.get(name) or {}
        label = esc(CONSISTENCY_NAMES.get(name, name))
        if block.get("status") != "ok":
            lines.append(f'<tr><td>{label}</td><td></td><td colspan="{len(seeds) + 1}" class="na">n/a: '
                         f'{esc(block.get("reason") or "not recorded")}</td></tr>')
            continue
        extra = ", ".join(f"{k} {v if not isinstance(v, list) else ' '.join(map(str, v))}" for k, v in sorted(block.items())
                          if k != "status" and not isinstance(v, dict))
        first = ("mean", "max", "negative_share", "most_negative")
        for fld in sorted(block, key=lambda k: (first.index(k) if k in first else len(first), k)):
            stat = block[fld]
            if not isinstance(stat, dict):
                continue
            per = "".join(f'<td class="num">{_value(((s.get("consistency") or {}).get(name) or {}).get(fld))}</td>' for s in seeds)
            lines.append(f'<tr><td>{label}</td><td><code>{esc(fld)}</code></td><td class="num">{fmt_pm(stat)}</td>{per}</tr>')
        if extra:
            lines.append(f'<tr><td>{label}</td><td colspan="{len(seeds) + 2}" class="pm">{esc(extra)}</td></tr>')
    errors = [f"seed {s['seed']}: {s['consistency'].get('error')}" for s in seeds
              if isinstance(s.get("consistency"), dict) and s["consistency"].get("status") == "error"]
    note = f'<p class="meta">failed: {esc("; ".join(errors))}</p>' if errors else ""
    n = c.get("n_samples")
    return (f'<section class="block" id="consistency"><h2>Physics consistency</h2><p class="meta">on {esc(n if n is not None else "?")} '
            "test samples; relative errors (lower is better), mean ± unbiased std over seeds, then each seed · "
            f'<a href="../uq/{esc(row.sub.task)}.html#consistency">the {esc(row.sub.task)} consistency table</a></p>' + note
            + '<div class="table-wrap"><table><thead><tr><th>score</th><th>quantity</th><th class="num">mean ± std</th>'
            + head + "</tr></thead><tbody>" + "".join(lines) + "</tbody></table></div></section>\n")
