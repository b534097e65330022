"""The index page: one sortable board per task (with its charts and legend), the links to
the uncertainty boards and the studies."""

from __future__ import annotations

from typing import Any, Sequence

from .. import PROTOCOL_VERSION, __version__
from . import charts
from .charts import Ref, fmt_count, fmt_seconds
from .markup import asset, esc, header, page, short, sortable_head
from .filters import pm
from .rows import BOARD_METRICS, HEADLINE, Row, method_cell, per_count_points, series, stat_of
from .studies import study_blurb
from .submit import MIN_RANKED_SEEDS
from .trust_pages import has_consistency, has_uq

# columns: key, label, kind (num|str|none), th class, first click direction, tooltip
COLUMNS: list[tuple[str, str, str, str]] = [
    ("rank", "Rank", "num", "Rank by test nMAE among ranked entries (>= %d seeds)" % MIN_RANKED_SEEDS),
    ("method", "Method", "str", "Model name and submission title; bold = official implementation"),
    ("test_nmae", "Test nMAE", "num", "Headline: sum|e| / sum|y| on the test set, mean ± unbiased std over seeds"),
    ("val_nmae", "Validation nMAE", "num", "nMAE on the validation set (used for checkpoint selection)"),
    ("params", "#Params", "num", "Trainable parameters"),
    ("inference", "Inference / sample", "num", "Median inference time per sample"),
    ("speedup", "Speed-up", "num", "Solver time / inference time, same hardware"),
    ("seeds", "Seeds", "num", "Number of training seeds"),
    ("hardware", "Hardware", "str", "Where it ran"),
    ("date", "Date", "str", "Submission date"),
    ("test_mae", "Test MAE", "num", "Pixel-weighted mean absolute error, test set"),
    ("test_mae_sources", "MAE sources", "num", "MAE on source pixels, test set"),
    ("test_max_abs_error", "Max |error|", "num", "Largest absolute error over the test set"),
    ("test_p99_sample_mae", "p99 sample MAE", "num", "99th percentile of per-sample MAE, test set"),
    ("test_residual", "PDE residual", "num", "Relative residual of the discrete PDE on the prediction (no ground truth)"),
    ("version", "Version", "str", "diffbench version of the run"),
    ("links", "Links", "none", "Entry page, code or paper, W&B runs"),
    ("command", "Reproduce", "none", "The command that reproduces the run"),
]
DESCENDING_FIRST = {"params", "speedup", "seeds", "date"}


def sort_values(row: Row) -> dict[str, Any]:
    r = row.r
    out: dict[str, Any] = {
        "rank": row.rank,
        "method": row.label.lower(),
        "val_nmae": row.mean("val", HEADLINE),
        "params": r["model"]["parameters"],
        "inference": r["cost"]["inference_s_per_sample"],
        "speedup": r["cost"]["solver_s_per_sample"] / r["cost"]["inference_s_per_sample"],
        "seeds": len(r["seeds"]),
        "hardware": r["hardware"]["label"].lower(),
        "date": row.meta["submitted"],
        "version": r["diffbench_version"],
        "official": bool(row.meta["official"]),
        "ranked": row.sub.ranked,
    }
    for k in BOARD_METRICS:
        out[f"test_{k}"] = row.mean("test", k)
    return out


def cell(row: Row, key: str, depth: str = "") -> str:
    r = row.r
    if key == "rank":
        return f'<td class="num rank">{row.rank}</td>' if row.rank is not None else '<td class="num rank">—</td>'
    if key == "method":
        return method_cell(row, depth)
    if key == "test_nmae":
        return f'<td class="num"><strong>{pm(row.test(HEADLINE))}</strong></td>'
    if key == "val_nmae":
        return f'<td class="num">{pm(row.val(HEADLINE))}</td>'
    if key.startswith("test_"):
        return f'<td class="num">{pm(row.test(key[5:]))}</td>'
    if key == "params":
        p = r["model"]["parameters"]
        return f'<td class="num" title="{p:,}">{esc(fmt_count(p))}</td>'
    if key == "inference":
        return f'<td class="num">{esc(fmt_seconds(r["cost"]["inference_s_per_sample"]))}</td>'
    if key == "speedup":
        s = r["cost"]["solver_s_per_sample"] / r["cost"]["inference_s_per_sample"]
        return f'<td class="num" title="solver {esc(fmt_seconds(r["cost"]["solver_s_per_sample"]))} per sample">{esc(f"{s:.3g}")}×</td>'
    if key == "seeds":
        seeds = r["seeds"]
        return f'<td class="num" title="seeds {esc(", ".join(map(str, seeds)))}">{len(seeds)}</td>'
    if key == "hardware":
        return f'<td class="wrap">{esc(r["hardware"]["label"])}</td>'
    if key == "date":
        return f'<td>{esc(row.meta["submitted"])}</td>'
    if key == "version":
        return f'<td>{esc(r["diffbench_version"])}</td>'
    if key == "links":
        links = [f'<a href="{depth}entries/{esc(row.id)}.html">details</a>']
        if row.url:
            links.append(f'<a href="{esc(row.url)}" rel="noopener noreferrer">code/paper</a>')
        if row.wandb:
            runs = " ".join(f'<a href="{esc(u)}" rel="noopener noreferrer" title="W&amp;B run of seed {esc(seed)}">{esc(seed)}</a>'
                            for seed, u in row.wandb)
            links.append(f'<span class="wandb">W&amp;B {runs}</span>')
        return f'<td class="links">{"".join(links)}</td>'
    if key == "command":
        return f'<td><details class="cmd"><summary>command</summary><code>{esc(r["command"])}</code></details></td>'
    raise KeyError(key)  # pragma: no cover


def legend(rows: list[Row]) -> str:
    items = []
    for row in rows:
        m = charts.marker(row.shape, 7, 7, row.color, hollow=not row.sub.ranked, r=4.5)
        extra = ' <span class="pm">(unranked)</span>' if not row.sub.ranked else ""
        items.append(f'<li><svg viewBox="0 0 14 14" aria-hidden="true">{m}</svg>'
                     f'<a href="entries/{esc(row.id)}.html">{esc(row.label)}</a>{extra}</li>')
    return f'<ol class="legend">{"".join(items)}</ol>'


def task_charts(task: str, rows: list[Row]) -> str:
    curve = charts.line_chart(f"{task}: test nMAE by number of sources",
                              [series(r, per_count_points(r.r)) for r in rows], "number of sources", "test nMAE")
    solver: dict[str, list[float]] = {}
    for r in rows:
        solver.setdefault(r.r["hardware"]["label"], []).append(r.r["cost"]["solver_s_per_sample"])
    refs = [Ref(sum(v) / len(v), "solver" + (f" · {short(hw)}" if len(solver) > 1 else "")) for hw, v in sorted(solver.items())]
    cost = charts.scatter_chart(f"{task}: accuracy against inference time",
                                [series(r, [(r.r["cost"]["inference_s_per_sample"], *stat_of(r.test(HEADLINE)))]) for r in rows],
                                "inference time per sample", "test nMAE", x_fmt=fmt_seconds, refs=refs)
    size = charts.scatter_chart(f"{task}: accuracy against model size",
                                [series(r, [(float(r.r["model"]["parameters"]), *stat_of(r.test(HEADLINE)))]) for r in rows],
                                "parameters", "test nMAE", x_fmt=fmt_count)
    solver_note = ("dashed line: the exact solver's time per sample on the same hardware"
                   + (" (one per hardware)" if len(solver) > 1 else ""))
    figs = [
        (curve, "Error by number of sources", "mean ± std over seeds, one line per entry (dashed, hollow: unranked)"),
        (cost, "Accuracy against inference cost", solver_note),
        (size, "Accuracy against parameters", "test nMAE against trainable parameters"),
    ]
    return '<div class="charts">' + "".join(
        f"<figure><figcaption><strong>{esc(t)}</strong>{esc(c)}</figcaption>{svg}</figure>" for svg, t, c in figs) + "</div>"


def render_index(tasks: list[tuple[str, Any]], boards: dict[str, list[Row]], studies: Sequence[Any] = ()) -> str:
    nav = ('<nav class="tasks">' + "".join(f'<a href="#task-{esc(t)}">{esc(t)} ({len(boards.get(t, []))})</a>' for t, _ in tasks)
           + '<a class="more" href="#uncertainty">uncertainty boards</a>'
           + f'<a class="more" href="#studies">studies ({len(studies)})</a></nav>')
    total = sum(len(v) for v in boards.values())
    subtitle = (f"Neural surrogates of steady-state diffusion · protocol v{PROTOCOL_VERSION} · "
                f"{total} submission{'s' if total != 1 else ''} · built by diffbench {esc(__version__)}")
    site_header = header(subtitle, nav)
    parts = ["<main>\n"]
    data: dict[str, Any] = {"boards": {}}
    for task, spec in tasks:
        rows = boards.get(task, [])
        parts.append(f'<section class="task" id="task-{esc(task)}">\n<h2>{esc(task)}</h2>\n')
        if spec is not None:
            parts.append(f'<p class="lead">{esc(spec.description)}</p>\n')
            parts.append(f'<p class="meta">lattice {spec.lattice}×{spec.lattice} · axis {esc(spec.axis)} · '
                         f'task spec <code>{esc(spec.spec_hash[:12])}</code> · ')
        else:
            parts.append('<p class="meta">')
        ranked = sum(1 for r in rows if r.sub.ranked)
        parts.append(f"{len(rows)} entr{'ies' if len(rows) != 1 else 'y'}, {ranked} ranked · "
                     f"mean ± unbiased std over seeds; ranking needs ≥ {MIN_RANKED_SEEDS} seeds</p>\n")
        if rows:
            n_uq = sum(1 for r in rows if has_uq(r))
            on_task = [s for s in studies if task in s.tasks]
            parts.append(f'<p class="more"><a href="uq/{esc(task)}.html">Uncertainty board and physics consistency →</a> '
                         f'<span class="pm">({n_uq} of {len(rows)} entr{"ies" if len(rows) != 1 else "y"} ran with --uq)</span>'
                         + (" · studies: " + ", ".join(f'<a href="studies/{esc(s.name)}/index.html">{esc(s.name)}</a>'
                                                       for s in on_task) if on_task else "") + "</p>\n")
        if not rows:
            parts.append('<p class="empty">No submissions yet. Run <code>diffbench run --task '
                         f'{esc(task)} --seeds 0-9</code> and submit the result with <code>diffbench submit</code>.</p>\n</section>\n')
            continue
        head = sortable_head(COLUMNS, dict.fromkeys(DESCENDING_FIRST, "descending"), sorted_key="test_nmae")
        body = []
        for row in rows:
            cls = " ".join(c for c in ("official" if row.meta["official"] else "", "" if row.sub.ranked else "unranked") if c)
            body.append(f'<tr data-id="{esc(row.id)}"' + (f' class="{cls}"' if cls else "") + ">"
                        + "".join(cell(row, key) for key, *_ in COLUMNS) + "</tr>")
        parts.append(f'<div class="table-wrap"><table class="board" data-task="{esc(task)}">\n<thead><tr>{head}</tr></thead>\n'
                     f'<tbody>\n{chr(10).join(body)}\n</tbody>\n</table></div>\n')
        parts.append(task_charts(task, rows))
        parts.append(legend(rows))
        parts.append("</section>\n")
        data["boards"][task] = {"order": [r.id for r in rows], "rows": {r.id: sort_values(r) for r in rows}}
    items = []
    for task, rows in sorted(boards.items()):
        n_uq, n_cons = sum(1 for r in rows if has_uq(r)), sum(1 for r in rows if has_consistency(r))
        items.append(f'<li><a href="uq/{esc(task)}.html"><strong>{esc(task)}</strong></a> · {n_uq} of {len(rows)} '
                     f"entr{'ies' if len(rows) != 1 else 'y'} with uncertainty scores, {n_cons} with physics-consistency scores</li>")
    parts.append('<section class="task" id="uncertainty"><h2>Uncertainty boards and physics consistency</h2>\n'
                 '<p class="lead">Per task: how well each label-free error indicator of <code>diffbench run --uq '
                 "mc-dropout,residual,inverse,ensemble</code> finds the worst predictions, and how far each entry is from "
                 "the physics (superposition, equivariance, maximum principle, flux balance).</p>\n"
                 + (f'<ul class="plain">{"".join(items)}</ul>' if items else '<p class="empty">No submissions yet.</p>')
                 + "</section>\n")
    parts.append('<section class="task" id="studies"><h2>Studies</h2>\n<p class="lead">Whole experiments run by '
                 "<code>diffbench study NAME</code> and shipped in <code>leaderboard/studies/</code>: models × tasks × seeds, "
                 "with their table, fits and plots.</p>\n"
                 + (f'<ul class="plain">{"".join(study_blurb(s) for s in studies)}</ul>' if studies
                    else '<p class="empty">No studies shipped yet.</p>') + "</section>\n")
    parts.append("</main>\n")
    parts.append(footer())
    return page("diffbench leaderboard", "".join(parts), header=site_header, script=asset("board.js"), data=data)


def footer() -> str:
    return ("<footer><p>Each result is checked on submission: schema and protocol version, current task spec, every "
            "metric present and finite, the mean ± std recomputed from the per-seed results, and an intact digest. "
            f"Entries with fewer than {MIN_RANKED_SEEDS} seeds are shown unranked. Official = submitted by the authors "
            "of the method.</p><p>Submit with <code>diffbench submit RUN/result.json --title ... --url ...</code>; "
            "rebuild with <code>diffbench leaderboard build</code>.</p></footer>\n")
