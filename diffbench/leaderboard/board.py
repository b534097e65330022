"""The index page: one sortable board per task (with its charts and legend), the links to
the uncertainty boards and the studies."""

from __future__ import annotations

from typing import Any, Sequence

from .. import PROTOCOL_VERSION, __version__
from . import charts
from .charts import Ref, fmt_count, fmt_seconds
from .markup import asset, esc, header, page, short
from .rows import BOARD_METRICS, HEADLINE, Row, per_count_points, series, stat_of
from .studies import study_blurb
from .submit import MIN_RANKED_SEEDS
from .templates import Markup, macro
from .trust_pages import has_consistency, has_uq

# columns: key, label, kind (num|str|none), th class, first click direction, tooltip
COLUMNS: list[tuple[str, str, str, str]] = [
    ("rank", "Rank", "num", ("Rank by test nMAE among ranked entries (>= %d seeds); =1: tied with the leader "
                             "(not significantly worse, paired on the shared test samples)") % MIN_RANKED_SEEDS),
    ("method", "Method", "str", "Model name and submission title; bold = official implementation"),
    ("test_nmae", "Test nMAE", "num", ("Headline: sum|e| / sum|y| on the test set, seed mean with its 95 % interval "
                                       "(two-level bootstrap over seeds and test samples); legacy entries: mean ± std over seeds")),
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
    res = row.res
    out: dict[str, Any] = {
        "rank": row.rank,
        "method": row.label.lower(),
        "val_nmae": row.mean("val", HEADLINE),
        "params": res.model.parameters,
        "inference": res.cost.inference_s_per_sample,
        "speedup": row.speedup,
        "seeds": len(res.seeds),
        "hardware": res.hardware.label.lower(),
        "date": row.meta["submitted"],
        "version": res.diffbench_version,
        "official": bool(row.meta["official"]),
        "ranked": row.sub.ranked,
    }
    for k in BOARD_METRICS:
        out[f"test_{k}"] = row.mean("test", k)
    return out


def legend(rows: list[Row]) -> str:
    """The chart legend of a board: each entry's marker and name (the ``legend`` macro)."""
    items = [(row, Markup(charts.marker(row.shape, 7, 7, row.color, hollow=not row.sub.ranked, r=4.5))) for row in rows]
    return str(macro("legend")(items))


def task_charts(task: str, rows: list[Row]) -> str:
    curve = charts.line_chart(f"{task}: test nMAE by number of sources",
                              [series(r, per_count_points(r)) for r in rows], "number of sources", "test nMAE")
    solver: dict[str, list[float]] = {}
    for r in rows:
        solver.setdefault(r.res.hardware.label, []).append(r.res.cost.solver_s_per_sample)
    refs = [Ref(sum(v) / len(v), "solver" + (f" · {short(hw)}" if len(solver) > 1 else "")) for hw, v in sorted(solver.items())]
    cost = charts.scatter_chart(f"{task}: accuracy against inference time",
                                [series(r, [(r.res.cost.inference_s_per_sample, *stat_of(r.test(HEADLINE)))]) for r in rows],
                                "inference time per sample", "test nMAE", x_fmt=fmt_seconds, refs=refs)
    size = charts.scatter_chart(f"{task}: accuracy against model size",
                                [series(r, [(float(r.res.model.parameters), *stat_of(r.test(HEADLINE)))]) for r in rows],
                                "parameters", "test nMAE", x_fmt=fmt_count)
    solver_note = ("dashed line: the exact solver's time per sample on the same hardware"
                   + (" (one per hardware)" if len(solver) > 1 else ""))
    figs = [
        (curve, "Error by number of sources", "mean ± std over seeds, one line per entry (dashed, hollow: unranked)"),
        (cost, "Accuracy against inference cost", solver_note),
        (size, "Accuracy against parameters", "test nMAE against trainable parameters"),
    ]
    return str(macro("figures")([(Markup(svg), t, c) for svg, t, c in figs]))


def render_index(tasks: list[tuple[str, Any]], boards: dict[str, list[Row]], studies: Sequence[Any] = ()) -> str:
    """``index.html`` (template ``index.html``): one board per task with its charts and legend,
    then the uncertainty boards and the studies."""
    nav = str(macro("index_nav")([(t, len(boards.get(t, []))) for t, _ in tasks], len(studies)))
    total = sum(len(v) for v in boards.values())
    subtitle = (f"Neural surrogates of steady-state diffusion · protocol v{PROTOCOL_VERSION} · "
                f"{total} submission{'s' if total != 1 else ''} · built by diffbench {esc(__version__)}")
    data: dict[str, Any] = {"boards": {}}
    task_views = []
    for task, spec in tasks:
        rows = boards.get(task, [])
        view: dict[str, Any] = {"name": task, "spec": spec, "rows": rows, "ranked": sum(1 for r in rows if r.sub.ranked),
                                "ranking": rows[0].ranking if rows else "",
                                "n_uq": sum(1 for r in rows if has_uq(r)), "studies": [s for s in studies if task in s.tasks]}
        if rows:
            view["charts"] = Markup(task_charts(task, rows))
            view["legend"] = Markup(legend(rows))
            data["boards"][task] = {"order": [r.id for r in rows], "rows": {r.id: sort_values(r) for r in rows}}
        task_views.append(view)
    trust = [{"task": task, "n": len(rows), "n_uq": sum(1 for r in rows if has_uq(r)),
              "n_consistency": sum(1 for r in rows if has_consistency(r))} for task, rows in sorted(boards.items())]
    return page("diffbench leaderboard", "", header=header(subtitle, nav), script=asset("board.js"), data=data,
                template="index.html", tasks=task_views, columns=COLUMNS, column_keys=[c[0] for c in COLUMNS],
                descending=DESCENDING_FIRST, min_seeds=MIN_RANKED_SEEDS, headline=HEADLINE, trust=trust,
                studies=[Markup(study_blurb(s)) for s in studies])
