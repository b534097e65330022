"""The index page: the headline board (the default task of ``diffbench run``) with its charts,
what this is and how to submit, the studies, then the other boards grouped by their task's
axis (collapsed), and the links to the uncertainty boards. Each board shows the columns that
fit a 1,280 px window; the rest are one click away in its column chooser (CSS only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from .. import PROTOCOL_VERSION, __version__
from ..pipeline.config import RunConfig
from ..submissions.submit import MIN_RANKED_SEEDS
from .markup import asset, esc, header, page
from .overview import figures_markup
from .rows import BOARD_METRICS, HEADLINE, Row
from .studies import study_blurb
from .templates import Markup, macro
from .trust_pages import has_consistency, has_uq

# columns: key, label, kind (num|str|none), th class, first click direction, tooltip
COLUMNS: list[tuple[str, str, str, str]] = [
    (
        "rank",
        "Rank",
        "num",
        (
            f"Rank by test nMAE among ranked entries (>= {MIN_RANKED_SEEDS} seeds); =1: tied with the leader "
            "(not significantly worse, paired on the shared test samples)"
        ),
    ),
    ("method", "Method", "str", "Model name and submission title; bold = official implementation"),
    (
        "test_nmae",
        "Test nMAE",
        "num",
        (
            "Headline: sum|e| / sum|y| on the test set, seed mean with its 95 % interval "
            "(two-level bootstrap over seeds and test samples); legacy entries: mean ± std over seeds"
        ),
    ),
    (
        "val_nmae",
        "Validation nMAE",
        "num",
        "nMAE on the validation set (each seed's checkpoint is the one with the best validation MAE, not nMAE)",
    ),
    ("params", "#Params", "num", "Trainable parameters"),
    (
        "flops",
        "FLOPs / sample",
        "num",
        "Forward FLOPs per sample (torch.utils.flop_counter, FFTs added): hardware-independent",
    ),
    (
        "inference",
        "Inference / sample",
        "num",
        "Inference time per sample: minimum of repeats after warm-up, digits as the repeats' spread allows",
    ),
    (
        "speedup",
        "Speed-up",
        "num",
        "At equal accuracy: the exact solver at the loosest tolerance whose error is no larger than the "
        "network's test nMAE (or the exact transform), divided by the inference time; same process, same batch",
    ),
    ("seeds", "Seeds", "num", "Number of training seeds"),
    ("hardware", "Hardware", "str", "Where it ran"),
    ("date", "Date", "str", "Submission date"),
    ("test_mae", "Test MAE", "num", "Pixel-weighted mean absolute error, test set"),
    ("test_mae_sources", "MAE sources", "num", "MAE on source pixels, test set"),
    ("test_max_abs_error", "Max |error|", "num", "Largest absolute error over the test set"),
    ("test_p99_sample_mae", "p99 sample MAE", "num", "99th percentile of per-sample MAE, test set"),
    (
        "test_residual",
        "PDE residual",
        "num",
        "Relative residual of the discrete PDE on the prediction (no ground truth)",
    ),
    (
        "version",
        "diffbench",
        "str",
        "diffbench version of the run (a plugin's own package and version are under its name)",
    ),
    ("links", "Links", "none", "Entry page, code or paper, W&B runs"),
    ("command", "Reproduce", "none", "The command that reproduces the run"),
]
DESCENDING_FIRST = {"params", "speedup", "seeds", "date"}  # FLOPs: fewest first
#: Columns one click away (the chooser above each board) rather than shown: the board fits a 1,280 px window.
#: FLOPs too: shown, it takes the last ~55 px of the 1,280, and results written before it (every shipped
#: entry today) have none; #Params stays as the hardware-independent size every result records.
HIDDEN_BY_DEFAULT = frozenset(
    {
        "flops",
        "val_nmae",
        "hardware",
        "date",
        "test_mae_sources",
        "test_max_abs_error",
        "test_p99_sample_mae",
        "test_residual",
        "version",
    }
)
#: The axes of the task YAMLs, in the index's order, and how the index names them.
AXES = ("baseline", "sources", "diffusivity", "boundary", "decay", "generalisation")
AXIS_LABELS = {
    "baseline": "baseline",
    "sources": "sources",
    "diffusivity": "diffusivity",
    "boundary": "boundary",
    "decay": "decay and clamping",
    "generalisation": "generalisation",
    "other": "other tasks",
    "demos": "tests and demos",
}
#: Tasks for tests and demos, grouped apart at the end of the index.
DEMO_TASKS = ("smoke",)
DEMOS = "demos"


def sort_values(row: Row) -> dict[str, Any]:
    res = row.res
    out: dict[str, Any] = {
        "rank": row.rank,
        "method": row.label.lower(),
        "val_nmae": row.mean("val", HEADLINE),
        "params": res.model.parameters,
        "flops": row.cost["flops"],
        "inference": res.cost.inference_s_per_sample,
        "speedup": row.speedup,
        "seeds": len(res.seeds),
        "hardware": res.hardware.label.lower(),
        "date": row.meta["submitted"],
        "version": res.diffbench_version,
        "official": bool(row.meta["official"]),
        "ranked": row.sub.ranked,
        "verified": row.verification is not None,
    }
    for k in BOARD_METRICS:
        out[f"test_{k}"] = row.mean("test", k)
    return out


def headline_task() -> str:
    """The task the index opens with: the default task of ``diffbench run``."""
    return next(f.default for f in fields(RunConfig) if f.name == "task")


def column_css(columns: Sequence[tuple[str, ...]] = COLUMNS) -> str:
    """The column chooser, in CSS only (no script, no network; within the site's CSP): a
    column hidden by default shows while its box above the board is ticked.

    >>> print(column_css([("a", "A", "num", ""), ("val_nmae", "V", "num", "")]), end="")
    .board-box:not(:has(input[data-col="val_nmae"]:checked)) table.board tr > :nth-child(2) { display: none; }
    """
    return "".join(
        f'.board-box:not(:has(input[data-col="{key}"]:checked)) table.board tr > :nth-child({i}) {{ display: none; }}\n'
        for i, (key, *_) in enumerate(columns, 1)
        if key in HIDDEN_BY_DEFAULT
    )


def axis_groups(tasks: list[tuple[str, Any]], headline: str) -> list[tuple[str, str, list[tuple[str, Any]]]]:
    """The tasks other than the headline, grouped by their YAML's ``axis`` in :data:`AXES` order
    (unknown axes after, sorted; the demo tasks last): ``[(axis, label, [(task, spec)])]``."""
    groups: dict[str, list[tuple[str, Any]]] = {}
    for name, spec in tasks:
        if name == headline:
            continue
        axis = DEMOS if name in DEMO_TASKS else (getattr(spec, "axis", None) or "other")
        groups.setdefault(axis, []).append((name, spec))
    order = (
        [a for a in AXES if a in groups]
        + sorted(a for a in groups if a not in AXES and a != DEMOS)
        + ([DEMOS] if DEMOS in groups else [])
    )
    return [(a, AXIS_LABELS.get(a, a), groups[a]) for a in order]


def _task_view(task: str, spec: Any, rows: list[Row], studies: Sequence[Any]) -> dict[str, Any]:
    return {
        "name": task,
        "spec": spec,
        "rows": rows,
        "ranked": sum(1 for r in rows if r.sub.ranked),
        "verified": sum(1 for r in rows if r.verification is not None),
        "ranking": rows[0].ranking if rows else "",
        "n_uq": sum(1 for r in rows if has_uq(r)),
        "studies": [s for s in studies if task in s.tasks],
    }


def render_index(
    tasks: list[tuple[str, Any]],
    boards: dict[str, list[Row]],
    studies: Sequence[Any] = (),
    readme: bool = False,
    skipped: Sequence[Any] = (),
) -> str:
    """``index.html`` (template ``index.html``): the headline board (the default task of
    ``diffbench run``) with its charts, what this is and how to submit, the studies, then the
    other boards grouped by axis (collapsed), the uncertainty boards. ``readme``: the site
    carries ``submitting.html`` (the leaderboard's README). ``skipped``: stored entries left out,
    each with its reason (listed on the index)."""
    headline = headline_task()
    groups = axis_groups(tasks, headline)
    nav = str(
        macro("index_nav")(
            headline,
            len(boards.get(headline, [])),
            [(a, label, sum(len(boards.get(t, [])) for t, _ in g)) for a, label, g in groups],
            len(studies),
        )
    )
    total = sum(len(v) for v in boards.values())
    subtitle = (
        f"Neural surrogates of steady-state diffusion · protocol v{PROTOCOL_VERSION} · "
        f"{total} submission{'s' if total != 1 else ''} · built by diffbench {esc(__version__)}"
    )
    data: dict[str, Any] = {"boards": {}}
    for task, rows in sorted(boards.items()):
        data["boards"][task] = {"order": [r.id for r in rows], "rows": {r.id: sort_values(r) for r in rows}}
    specs = dict(tasks)
    head = _task_view(headline, specs.get(headline), boards.get(headline, []), studies)
    if head["rows"]:
        head["charts"] = Markup(figures_markup(headline, head["rows"]))
    group_views = [
        {
            "axis": a,
            "label": label,
            "n": sum(len(boards.get(t, [])) for t, _ in g),
            "tasks": [_task_view(t, spec, boards.get(t, []), studies) for t, spec in g],
        }
        for a, label, g in groups
    ]
    trust = [
        {
            "task": task,
            "n": len(rows),
            "n_uq": sum(1 for r in rows if has_uq(r)),
            "n_consistency": sum(1 for r in rows if has_consistency(r)),
        }
        for task, rows in sorted(boards.items())
    ]
    return page(
        "diffbench leaderboard",
        "",
        header=header(subtitle, nav),
        script=asset("board.js"),
        data=data,
        template="index.html",
        style=column_css(),
        headline=head,
        groups=group_views,
        columns=COLUMNS,
        column_keys=[c[0] for c in COLUMNS],
        hidden=HIDDEN_BY_DEFAULT,
        descending=DESCENDING_FIRST,
        min_seeds=MIN_RANKED_SEEDS,
        headline_metric=HEADLINE,
        trust=trust,
        readme=readme,
        studies=[Markup(study_blurb(s)) for s in studies],
        skipped=skipped,
    )
