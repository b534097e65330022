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
power rule from its test-set size. Entries run without ``--uq`` are not on it. The
consistency table has one row per entry with a ``consistency`` block. Both tables
sort like the main board (the same script, keyed by ``data-board``).
"""

from __future__ import annotations

import math
from typing import Any

from ..results.names import BASELINES
from ..results.names import uq_settings as settings
from .charts import fmt_number
from .filters import pm, value
from .markup import asset, esc, header, page, sortable_head
from .rows import HEADLINE, Row, method_cell
from .templates import Markup, macro

#: The indicators in reporting order, with what each measures (diffbench.trust.indicators).
INDICATOR_INFO = {
    "mc-dropout": "spread (std) of several forward passes with dropout active",
    "residual": "relative PDE residual of the prediction (no ground truth needed)",
    "inverse": "an inverse network maps the predicted field back to a source map; its error against the input",
    "ensemble": "spread (std) of the seeds' predictions",
}
#: The label-free baselines every uq block scores like the indicators (diffbench.results.names.BASELINES).
BASELINE_INFO = {
    "source-count": "baseline: the sample's number of sources",
    "input-sum": "baseline: the sum of the network's input source map (scaled to max 1)",
    "prediction-mean": "baseline: the mean of the normalised prediction",
}
assert tuple(BASELINE_INFO) == BASELINES
SCORE_COLUMNS = ("spearman", "auroc", "catch_rate", "indicator_mean")
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
    """Whether the entry ran with ``--uq`` (its result has a run-level ``uq`` block)."""
    return row.res.uq is not None


def has_consistency(row: Row) -> bool:
    """Whether the entry has run-level physics-consistency scores."""
    return row.res.consistency is not None


def _indicators(uq: dict[str, Any]) -> list[str]:
    names = list(uq.get("indicators") or {})
    order = list(INDICATOR_INFO)
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def _settings(rows: list[Row]) -> dict[str, Any]:
    for row in rows:
        if has_uq(row):
            return {**settings(), **row.res.uq.settings}
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

    uq = row.res.uq
    if key not in ("auroc", "catch_rate") or uq is None or uq.baselines is not None:
        return None
    sizes = [s.uq.n_samples if s.uq is not None else None for s in row.res.per_seed]
    n = min((x for x in sizes if isinstance(x, int) and x > 0), default=None)
    if n is None:
        return None
    settings = uq.settings
    share = settings.get("auroc_worst_fraction" if key == "auroc" else "catch_worst_fraction", 0.05 if key == "auroc" else 0.01)
    return max(1, math.ceil(share * n - 1e-9)), MIN_POSITIVES_AUROC if key == "auroc" else MIN_POSITIVES_CAUGHT


def _underpowered(positives: Any, required: Any) -> str:
    return (f'<td class="num underpowered" title="{esc(positives)} worst samples per seed; a number needs at least '
            f'{esc(required)} (a task with more test samples)">underpowered</td>')


def _score_cell(ind: dict[str, Any], key: str, legacy: tuple[int, int] | None = None) -> Markup:
    """A score's cell: ``estimate [low, high]``, "underpowered", a legacy mean ± std marked "no interval", n/a or —."""
    return Markup(_score_html(ind, key, legacy))


def _score_html(ind: dict[str, Any], key: str, legacy: tuple[int, int] | None) -> str:
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
    return f'<td class="num"{title}>{pm(stat)}{note}</td>'


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
        uq = row.res.uq.model_dump(exclude_none=True)
        for group, name, ind in _rows_of(uq):
            rid = f"{row.id}/{name}"
            ok = ind.get("status") == "ok"
            baseline = group == "baselines"
            info = (BASELINE_INFO if baseline else INDICATOR_INFO).get(name, "")
            cells = [_score_cell(ind, k, legacy_positives(row, k)) for k in SCORE_COLUMNS]
            css = " ".join(c for c in ("" if ok else "na", "baseline" if baseline else "", "" if row.sub.ranked else "unranked") if c)
            body.append(Markup(_macro("uq_board_row")(rid, css, Markup(method_cell(row, "../")), name, baseline, info,
                                                      ind, cells, len(row.res.seeds), row.test(HEADLINE))))
            ids.append(rid)
            powered = {k: (legacy_positives(row, k) or (1, 0)) for k in ("auroc", "catch_rate")}
            data_rows[rid] = {
                "method": row.label.lower(), "indicator": order.index(name) if name in order else len(order),
                **{k: (_estimate(ind.get(k)) if ok and powered.get(k, (1, 0))[0] >= powered.get(k, (1, 0))[1] else None)
                   for k in SCORE_COLUMNS},
                "seeds": ind.get("n_seeds", 0), "test_nmae": row.mean("test", HEADLINE),
            }
    first = {"spearman": "descending", "auroc": "descending", "catch_rate": "descending", "seeds": "descending"}
    return _table(f"uq-{task}", cols, body, first), {"order": ids, "rows": data_rows}


def _table(board: str, cols: list[tuple[str, str, str, str]], body: list[Markup], first: dict[str, str]) -> str:
    return str(_macro("board_table")(board, Markup(sortable_head(cols, first)), body))


def _consistency_board(task: str, rows: list[Row]) -> tuple[str, dict[str, Any]]:
    cols = [("method", "Method", "str", "Model name and submission title; the link opens the entry")]
    cols += [(f"{s}.{f}", label, "num", tip) for s, f, label, tip, _ in CONSISTENCY_COLUMNS]
    cols += [("seeds", "Seeds", "num", "Seeds with consistency scores / seeds of the run"),
             ("test_nmae", "Test nMAE", "num", "The entry's headline error, for context"),
             ("note", "Note", "none", "Scores that do not apply to this task, and why")]
    first = {f"{s}.{f}": d for s, f, _, _, d in CONSISTENCY_COLUMNS} | {"seeds": "descending"}
    body, data_rows = [], {}
    for row in rows:
        c = row.res.consistency.model_dump(exclude_none=True)
        cells: list[tuple[str, Any]] = []
        values: dict[str, Any] = {"method": row.label.lower()}
        for score, fld, *_ in CONSISTENCY_COLUMNS:
            block = c.get(score) if isinstance(c.get(score), dict) else {}
            key = f"{score}.{fld}"
            values[key] = _stat_mean(block.get(fld)) if block.get("status") == "ok" else None
            if block.get("status") != "ok":
                cells.append(("na", block.get("reason") or "not recorded"))
            elif values[key] is None:
                cells.append(("none", None))
            else:
                cells.append(("stat", block.get(fld)))
        notes = [f"{CONSISTENCY_NAMES.get(s, s)}: {(c.get(s) or {}).get('reason') or 'not recorded'}"
                 for s in CONSISTENCY_NAMES if (c.get(s) or {}).get("status") != "ok"]
        body.append(Markup(_macro("consistency_board_row")(row.id, "" if row.sub.ranked else "unranked", Markup(method_cell(row, "../")),
                                                           cells, c.get("n_seeds", "—"), len(row.res.seeds), row.test(HEADLINE),
                                                           "; ".join(notes))))
        values.update(seeds=c.get("n_seeds"), test_nmae=row.mean("test", HEADLINE))
        data_rows[row.id] = values
    return _table(f"consistency-{task}", cols, body, first), {"order": [r.id for r in rows], "rows": data_rows}


def _macro(name: str) -> Any:
    return macro(name, "entry_trust.html")


def render_trust_page(task: str, rows: list[Row], studies: list[Any] = ()) -> str:
    """``uq/<task>.html`` (template ``trust.html``): the task's uncertainty board and physics-consistency table."""
    back = f'<a class="back" href="../index.html#task-{esc(task)}">← {esc(task)} board</a>'
    data: dict[str, Any] = {"boards": {}}
    uq_rows = [r for r in rows if has_uq(r)]
    cons_rows = [r for r in rows if has_consistency(r)]
    settings = _settings(uq_rows)
    uq_table = consistency_table = ""
    if uq_rows:
        uq_table, data["boards"][f"uq-{task}"] = _uq_board(task, uq_rows, settings)
    if cons_rows:
        consistency_table, data["boards"][f"consistency-{task}"] = _consistency_board(task, cons_rows)
    boards = bool(data["boards"])
    return page(f"{task} · uncertainty and consistency · diffbench leaderboard", "",
                header=header(f"{esc(task)} · uncertainty board and physics consistency", back=back),
                script=asset("board.js") if boards else None, data=data if boards else None, template="trust.html",
                task=task, n=len(rows), n_uq=len(uq_rows), n_consistency=len(cons_rows), uq_table=Markup(uq_table),
                consistency_table=Markup(consistency_table), indicators=list({**INDICATOR_INFO, **BASELINE_INFO}.items()),
                studies=studies, worst=_pct(settings.get("auroc_worst_fraction")), catch=_pct(settings.get("catch_worst_fraction")),
                flag=_pct(settings.get("catch_flag_fraction")), min_auroc=settings.get("min_positives_auroc", 20),
                min_caught=settings.get("min_positives_caught", 20))


# --------------------------------------------------------------------------- entry sections


def entry_uq_section(row: Row) -> str:
    """The entry page's uncertainty section (the ``uq_section`` macro of ``entry_trust.html``), or ""."""
    if not has_uq(row):
        return ""
    res = row.res
    uq = res.uq
    dumped = uq.model_dump(exclude_none=True)
    seeds = res.per_seed
    summary = [{"name": name, "baseline": group == "baselines", "ind": ind,
                "cells": [_score_cell(ind, k, legacy_positives(row, k)) for k in SCORE_COLUMNS]}
               for group, name, ind in _rows_of(dumped)]
    per = []
    for s in seeds:
        block = s.uq.model_dump(exclude_none=True) if s.uq is not None else {}
        for group, name, _ in _rows_of(dumped):
            ind = (block.get(group) or {}).get(name) or {}
            ok = ind.get("status") == "ok"
            cells = [_score_cell(ind, k, legacy_positives(row, k) if k != "indicator_mean" else None)
                     for k in SCORE_COLUMNS + ("indicator_median",)] if ok else []
            per.append({"seed": s.seed, "name": name, "cells": cells, "reason": ind.get("reason") or "not recorded"})
    facts = [("requested", esc(", ".join(uq.requested or _indicators(dumped))))]
    facts += [(k, str(value(v))) for k, v in sorted(uq.settings.items())]
    facts.append(("test samples / seed error", esc(", ".join(
        f"seed {s.seed}: {s.uq.n_samples if s.uq else '?'} samples, mean error "
        f"{fmt_number(s.uq.error_mean) if s.uq else '—'}" for s in seeds))))
    inv = uq.inverse_model
    if isinstance(inv, dict):
        facts.append(("inverse network", esc(", ".join(f"{k} {fmt_number(v) if isinstance(v, float) else v}"
                                                      for k, v in sorted(inv.items())
                                                      if k in ("preset", "epochs", "val_mae", "train_time_s", "n_train")))))
    how = ("estimate [95 % interval], the run's scores on every seed's test samples at once, then each seed's"
           if uq.baselines is not None else "mean ± unbiased std over seeds (a result written before the intervals), then each seed")
    return str(macro("uq_section", "entry_trust.html")(row.sub.task, summary, per, len(seeds), how,
                                                       [(k, Markup(v)) for k, v in facts]))


def entry_consistency_section(row: Row) -> str:
    """The entry page's physics-consistency section (the ``consistency_section`` macro of ``entry_trust.html``), or ""."""
    seeds = row.res.per_seed
    if not has_consistency(row) and not any(s.consistency is not None for s in seeds):
        return ""
    c = row.res.consistency.model_dump(exclude_none=True) if row.res.consistency is not None else {}
    per_seed = [s.consistency.model_dump(exclude_none=True) if s.consistency is not None else {} for s in seeds]
    names = [n for n in CONSISTENCY_NAMES if n in c] + sorted(n for n, v in c.items() if isinstance(v, dict) and n not in CONSISTENCY_NAMES)
    lines: list[dict[str, Any]] = []
    first = ("mean", "max", "negative_share", "most_negative")
    for name in names:
        block = c.get(name) or {}
        label = CONSISTENCY_NAMES.get(name, name)
        if block.get("status") != "ok":
            lines.append({"kind": "na", "label": label, "reason": block.get("reason") or "not recorded"})
            continue
        for fld in sorted(block, key=lambda k: (first.index(k) if k in first else len(first), k)):
            if isinstance(block[fld], dict):
                lines.append({"kind": "stat", "label": label, "field": fld, "stat": block[fld],
                              "seeds": [(p.get(name) or {}).get(fld) for p in per_seed]})
        extra = ", ".join(f"{k} {v if not isinstance(v, list) else ' '.join(map(str, v))}" for k, v in sorted(block.items())
                          if k != "status" and not isinstance(v, dict))
        if extra:
            lines.append({"kind": "extra", "label": label, "text": extra})
    errors = [f"seed {s.seed}: {p.get('error')}" for s, p in zip(seeds, per_seed) if p.get("status") == "error"]
    return str(macro("consistency_section", "entry_trust.html")(row.sub.task, c.get("n_samples"), seeds, lines, errors))
