"""The uncertainty board and the physics-consistency table of a task (``uq/<task>.html``), and
the uq / consistency sections of the entry pages.

The uncertainty board has one row per entry and indicator of ``diffbench run --uq``: the
indicator's Spearman correlation with the true per-sample error, its AUROC for flagging the
worst samples and the share of the very worst caught when a fixed share is flagged (mean ±
unbiased std over seeds), or "n/a" with the reason. Entries run without ``--uq`` are not on
it. The consistency table has one row per entry with a ``consistency`` block. Both tables
sort like the main board (the same script, keyed by ``data-board``).
"""

from __future__ import annotations

from typing import Any

from ..results.names import uq_settings as settings
from .charts import fmt_number
from .filters import value
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
SCORE_LABELS = {"spearman": "Spearman ρ", "auroc": "AUROC", "catch_rate": "catch rate", "indicator_mean": "indicator mean"}
#: Consistency board columns: (score, field, label, tooltip, first sort direction).
CONSISTENCY_COLUMNS = [
    ("superposition", "mean", "Superposition", "||f(S_i + S_j) - f(S_i) - f(S_j)|| / ||u(S_i + S_j)||, mean over pairs (0 = linear)", "ascending"),
    ("superposition", "max", "max", "superposition error, worst pair", "ascending"),
    ("equivariance", "mean", "Equivariance", "||g⁻¹ f(g x) - f(x)|| / ||f(x)|| over rotations and flips, mean (0 = equivariant)", "ascending"),
    ("equivariance", "max", "max", "equivariance error, worst sample", "ascending"),
    ("maximum_principle", "negative_share", "Negative pixels", "share of predicted pixels < 0 where the true field is >= 0", "ascending"),
    ("maximum_principle", "most_negative", "Most negative", "smallest predicted value, normalised units (0 = none negative)", "descending"),
    ("flux_balance", "mean", "Flux balance", "|outflow through the Dirichlet faces - injected flux| / injected flux, mean", "ascending"),
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
         "(1 = same ordering), mean ± unbiased std over seeds"),
        ("auroc", f"AUROC worst {_pct(worst)}", "num", f"AUROC of the indicator for flagging the worst {_pct(worst)} of test "
         "samples by error (1 = perfect, 0.5 = chance)"),
        ("catch_rate", f"Worst {_pct(catch)} caught", "num", f"Share of the worst {_pct(catch)} of samples among the "
         f"{_pct(flag)} the indicator flags"),
        ("indicator_mean", "Indicator mean", "num", "Mean of the indicator over the test samples (its scale)"),
        ("seeds", "Seeds", "num", "Seeds with scores / seeds of the run"),
        ("test_nmae", "Test nMAE", "num", "The entry's headline error, for context"),
        ("note", "Note", "none", "Why an indicator is not applicable"),
    ]


def _stat_mean(stat: Any) -> float | None:
    return stat.get("mean") if isinstance(stat, dict) else None


def _score_cell(ind: dict[str, Any], key: str) -> str:
    return str(macro("score_cell", "entry_trust.html")(ind, key))

def _uq_board(task: str, rows: list[Row], settings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cols = uq_columns(settings)
    order = list(INDICATOR_INFO)
    body, data_rows, ids = [], {}, []
    for row in rows:
        uq = row.res.uq.model_dump()
        for name in _indicators(uq):
            ind = uq["indicators"][name]
            rid = f"{row.id}/{name}"
            ok = ind.get("status") == "ok"
            css = " ".join(c for c in ("" if ok else "na", "" if row.sub.ranked else "unranked") if c)
            body.append(Markup(_macro("uq_board_row")(rid, css, Markup(method_cell(row, "../")), name, INDICATOR_INFO.get(name, ""),
                                                      ind, len(row.res.seeds), row.test(HEADLINE))))
            ids.append(rid)
            data_rows[rid] = {
                "method": row.label.lower(), "indicator": order.index(name) if name in order else len(order),
                **{k: (_stat_mean(ind.get(k)) if ok else None) for k in ("spearman", "auroc", "catch_rate", "indicator_mean")},
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
                consistency_table=Markup(consistency_table), indicators=list(INDICATOR_INFO.items()), studies=studies,
                worst=_pct(settings.get("auroc_worst_fraction")), catch=_pct(settings.get("catch_worst_fraction")),
                flag=_pct(settings.get("catch_flag_fraction")))


# --------------------------------------------------------------------------- entry sections


def entry_uq_section(row: Row) -> str:
    """The entry page's uncertainty section (the ``uq_section`` macro of ``entry_trust.html``), or ""."""
    if not has_uq(row):
        return ""
    res = row.res
    uq = res.uq
    names = _indicators(uq.model_dump())
    seeds = res.per_seed
    facts = [("requested", esc(", ".join(uq.requested or names)))]
    facts += [(k, str(value(v))) for k, v in sorted(uq.settings.items())]
    facts.append(("test samples / seed error", esc(", ".join(
        f"seed {s.seed}: {s.uq.n_samples if s.uq else '?'} samples, mean error "
        f"{fmt_number(s.uq.error_mean) if s.uq else '—'}" for s in seeds))))
    inv = uq.inverse_model
    if isinstance(inv, dict):
        facts.append(("inverse network", esc(", ".join(f"{k} {fmt_number(v) if isinstance(v, float) else v}"
                                                      for k, v in sorted(inv.items())
                                                      if k in ("preset", "epochs", "val_mae", "train_time_s", "n_train")))))
    return str(macro("uq_section", "entry_trust.html")(row.sub.task, uq, names, seeds, [(k, Markup(v)) for k, v in facts]))


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
