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
What the tables are made of (columns, score cells, the power rule) is
:mod:`diffbench.leaderboard.trust_cells`.
"""

from __future__ import annotations

from typing import Any

from ..results.names import uq_settings as settings
from .filters import value
from .markup import asset, esc, header, page, sortable_head
from .rows import HEADLINE, Row, method_cell
from .scales import fmt_number
from .templates import Markup, macro
from .trust_cells import (  # noqa: F401 (importable from here, as before they moved)
    BASELINE_INFO,
    CONSISTENCY_COLUMNS,
    CONSISTENCY_NAMES,
    INDICATOR_INFO,
    SCORE_COLUMNS,
    SCORE_LABELS,
    has_consistency,
    has_uq,
    indicator_names,
    legacy_positives,
    pct,
    score_cell,
    score_rows,
    stat_mean,
    uq_columns,
)


def _settings(rows: list[Row]) -> dict[str, Any]:
    for row in rows:
        if has_uq(row):
            return {**settings(), **row.res.uq.settings}
    return settings()


def _estimate(v: Any) -> float | None:
    """The number a score sorts by: an interval's estimate, a legacy mean, else None."""
    if isinstance(v, dict):
        return v.get("estimate", v.get("mean"))
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _uq_board(task: str, rows: list[Row], settings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cols = uq_columns(settings)
    order = list(INDICATOR_INFO) + list(BASELINE_INFO)
    body, data_rows, ids = [], {}, []
    for row in rows:
        uq = row.res.uq.model_dump(exclude_none=True)
        for group, name, ind in score_rows(uq):
            rid = f"{row.id}/{name}"
            ok = ind.get("status") == "ok"
            baseline = group == "baselines"
            info = (BASELINE_INFO if baseline else INDICATOR_INFO).get(name, "")
            cells = [score_cell(ind, k, legacy_positives(row, k)) for k in SCORE_COLUMNS]
            css = " ".join(
                c
                for c in ("" if ok else "na", "baseline" if baseline else "", "" if row.sub.ranked else "unranked")
                if c
            )
            body.append(
                Markup(
                    _macro("uq_board_row")(
                        rid,
                        css,
                        Markup(method_cell(row, "../")),
                        name,
                        baseline,
                        info,
                        ind,
                        cells,
                        len(row.res.seeds),
                        row.test(HEADLINE),
                    )
                )
            )
            ids.append(rid)
            powered = {k: (legacy_positives(row, k) or (1, 0)) for k in ("auroc", "catch_rate")}
            data_rows[rid] = {
                "method": row.label.lower(),
                "indicator": order.index(name) if name in order else len(order),
                **{
                    k: (
                        _estimate(ind.get(k)) if ok and powered.get(k, (1, 0))[0] >= powered.get(k, (1, 0))[1] else None
                    )
                    for k in SCORE_COLUMNS
                },
                "seeds": ind.get("n_seeds", 0),
                "test_nmae": row.mean("test", HEADLINE),
            }
    first = {"spearman": "descending", "auroc": "descending", "catch_rate": "descending", "seeds": "descending"}
    return _table(f"uq-{task}", cols, body, first), {"order": ids, "rows": data_rows}


def _table(board: str, cols: list[tuple[str, str, str, str]], body: list[Markup], first: dict[str, str]) -> str:
    return str(_macro("board_table")(board, Markup(sortable_head(cols, first)), body))


def _consistency_board(task: str, rows: list[Row]) -> tuple[str, dict[str, Any]]:
    cols = [("method", "Method", "str", "Model name and submission title; the link opens the entry")]
    cols += [(f"{s}.{f}", label, "num", tip) for s, f, label, tip, _ in CONSISTENCY_COLUMNS]
    cols += [
        ("seeds", "Seeds", "num", "Seeds with consistency scores / seeds of the run"),
        ("test_nmae", "Test nMAE", "num", "The entry's headline error, for context"),
        ("note", "Note", "none", "Scores that do not apply to this task, and why"),
    ]
    first = {f"{s}.{f}": d for s, f, _, _, d in CONSISTENCY_COLUMNS} | {"seeds": "descending"}
    body, data_rows = [], {}
    for row in rows:
        c = row.res.consistency.model_dump(exclude_none=True)
        cells: list[tuple[str, Any]] = []
        values: dict[str, Any] = {"method": row.label.lower()}
        for score, fld, *_ in CONSISTENCY_COLUMNS:
            block = c.get(score) if isinstance(c.get(score), dict) else {}
            key = f"{score}.{fld}"
            values[key] = stat_mean(block.get(fld)) if block.get("status") == "ok" else None
            if block.get("status") != "ok":
                cells.append(("na", block.get("reason") or "not recorded"))
            elif values[key] is None:
                cells.append(("none", None))
            else:
                cells.append(("stat", block.get(fld)))
        notes = [
            f"{CONSISTENCY_NAMES.get(s, s)}: {(c.get(s) or {}).get('reason') or 'not recorded'}"
            for s in CONSISTENCY_NAMES
            if (c.get(s) or {}).get("status") != "ok"
        ]
        body.append(
            Markup(
                _macro("consistency_board_row")(
                    row.id,
                    "" if row.sub.ranked else "unranked",
                    Markup(method_cell(row, "../")),
                    cells,
                    c.get("n_seeds", "—"),
                    len(row.res.seeds),
                    row.test(HEADLINE),
                    "; ".join(notes),
                )
            )
        )
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
    return page(
        f"{task} · uncertainty and consistency · diffbench leaderboard",
        "",
        header=header(f"{esc(task)} · uncertainty board and physics consistency", back=back),
        script=asset("board.js") if boards else None,
        data=data if boards else None,
        template="trust.html",
        task=task,
        n=len(rows),
        n_uq=len(uq_rows),
        n_consistency=len(cons_rows),
        uq_table=Markup(uq_table),
        consistency_table=Markup(consistency_table),
        indicators=list({**INDICATOR_INFO, **BASELINE_INFO}.items()),
        studies=studies,
        worst=pct(settings.get("auroc_worst_fraction")),
        catch=pct(settings.get("catch_worst_fraction")),
        flag=pct(settings.get("catch_flag_fraction")),
        min_auroc=settings.get("min_positives_auroc", 20),
        min_caught=settings.get("min_positives_caught", 20),
    )


# --------------------------------------------------------------------------- entry sections


def entry_uq_section(row: Row) -> str:
    """The entry page's uncertainty section (the ``uq_section`` macro of ``entry_trust.html``), or ""."""
    if not has_uq(row):
        return ""
    res = row.res
    uq = res.uq
    dumped = uq.model_dump(exclude_none=True)
    seeds = res.per_seed
    summary = [
        {
            "name": name,
            "baseline": group == "baselines",
            "ind": ind,
            "cells": [score_cell(ind, k, legacy_positives(row, k)) for k in SCORE_COLUMNS],
        }
        for group, name, ind in score_rows(dumped)
    ]
    per = []
    for s in seeds:
        block = s.uq.model_dump(exclude_none=True) if s.uq is not None else {}
        for group, name, _ in score_rows(dumped):
            ind = (block.get(group) or {}).get(name) or {}
            ok = ind.get("status") == "ok"
            cells = (
                [
                    score_cell(ind, k, legacy_positives(row, k) if k != "indicator_mean" else None)
                    for k in SCORE_COLUMNS + ("indicator_median",)
                ]
                if ok
                else []
            )
            per.append({"seed": s.seed, "name": name, "cells": cells, "reason": ind.get("reason") or "not recorded"})
    facts = [("requested", esc(", ".join(uq.requested or indicator_names(dumped))))]
    facts += [(k, str(value(v))) for k, v in sorted(uq.settings.items())]
    facts.append(
        (
            "test samples / seed error",
            esc(
                ", ".join(
                    f"seed {s.seed}: {s.uq.n_samples if s.uq else '?'} samples, mean error "
                    f"{fmt_number(s.uq.error_mean) if s.uq else '—'}"
                    for s in seeds
                )
            ),
        )
    )
    inv = uq.inverse_model
    if isinstance(inv, dict):
        facts.append(
            (
                "inverse network",
                esc(
                    ", ".join(
                        f"{k} {fmt_number(v) if isinstance(v, float) else v}"
                        for k, v in sorted(inv.items())
                        if k in ("preset", "epochs", "val_mae", "train_time_s", "n_train")
                    )
                ),
            )
        )
    how = (
        "estimate [95 % interval], the run's scores on every seed's test samples at once, then each seed's"
        if uq.baselines is not None
        else "mean ± unbiased std over seeds (a result written before the intervals), then each seed"
    )
    return str(
        macro("uq_section", "entry_trust.html")(
            row.sub.task, summary, per, len(seeds), how, [(k, Markup(v)) for k, v in facts]
        )
    )


def entry_consistency_section(row: Row) -> str:
    """The entry page's physics-consistency section (the ``consistency_section`` macro of ``entry_trust.html``), or ""."""
    seeds = row.res.per_seed
    if not has_consistency(row) and not any(s.consistency is not None for s in seeds):
        return ""
    c = row.res.consistency.model_dump(exclude_none=True) if row.res.consistency is not None else {}
    per_seed = [s.consistency.model_dump(exclude_none=True) if s.consistency is not None else {} for s in seeds]
    names = [n for n in CONSISTENCY_NAMES if n in c] + sorted(
        n for n, v in c.items() if isinstance(v, dict) and n not in CONSISTENCY_NAMES
    )
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
                lines.append(
                    {
                        "kind": "stat",
                        "label": label,
                        "field": fld,
                        "stat": block[fld],
                        "seeds": [(p.get(name) or {}).get(fld) for p in per_seed],
                    }
                )
        extra = ", ".join(
            f"{k} {v if not isinstance(v, list) else ' '.join(map(str, v))}"
            for k, v in sorted(block.items())
            if k != "status" and not isinstance(v, dict)
        )
        if extra:
            lines.append({"kind": "extra", "label": label, "text": extra})
    errors = [f"seed {s.seed}: {p.get('error')}" for s, p in zip(seeds, per_seed) if p.get("status") == "error"]
    return str(macro("consistency_section", "entry_trust.html")(row.sub.task, c.get("n_samples"), seeds, lines, errors))
