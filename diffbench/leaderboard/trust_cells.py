"""What the uncertainty board, the consistency table and the entry pages' trust sections are made
of (:mod:`diffbench.leaderboard.trust_pages` lays them out): what each indicator and baseline
measures, the score and consistency columns, which entries have the blocks, the order of an
entry's indicator rows and the score cells (``estimate [95 % interval]``, "underpowered" with
the power rule, a legacy mean ± std marked "no interval", n/a with its reason)."""

from __future__ import annotations

import math
from typing import Any

from ..results.names import BASELINES
from .filters import pm
from .markup import esc
from .rows import Row
from .scales import fmt_number
from .templates import Markup

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
SCORE_LABELS = {
    "spearman": "Spearman ρ",
    "auroc": "AUROC",
    "catch_rate": "catch rate",
    "indicator_mean": "indicator mean",
}
#: Consistency board columns: (score, field, label, tooltip, first sort direction).
CONSISTENCY_COLUMNS = [
    (
        "superposition",
        "mean",
        "Superposition",
        "||f(S_i + S_j) - f(S_i) - f(S_j)|| / ||f(S_i + S_j)||, each prediction at the amplitude the PDE operator gives its shape (no ground truth), mean over pairs (0 = linear)",
        "ascending",
    ),
    ("superposition", "max", "max", "superposition error, worst pair", "ascending"),
    (
        "equivariance",
        "mean",
        "Equivariance",
        "||g⁻¹ f(g x) - f(x)|| / ||f(x)|| over rotations and flips, mean (0 = equivariant)",
        "ascending",
    ),
    ("equivariance", "max", "max", "equivariance error, worst sample", "ascending"),
    (
        "maximum_principle",
        "negative_share",
        "Negative pixels",
        "share of predicted pixels < 0 where the true field is >= 0",
        "ascending",
    ),
    (
        "maximum_principle",
        "most_negative",
        "Most negative",
        "smallest predicted value, normalised units (0 = none negative)",
        "descending",
    ),
    (
        "flux_balance",
        "mean",
        "Flux balance",
        "|outflow through the Dirichlet faces - injected flux| / injected flux, prediction at the amplitude the PDE operator gives its shape (no ground truth), mean",
        "ascending",
    ),
    ("flux_balance", "max", "max", "flux-balance error, worst sample", "ascending"),
]
CONSISTENCY_NAMES = {
    "superposition": "superposition",
    "equivariance": "rotation/flip equivariance",
    "maximum_principle": "maximum principle",
    "flux_balance": "flux balance",
}


def has_uq(row: Row) -> bool:
    """Whether the entry ran with ``--uq`` (its result has a run-level ``uq`` block)."""
    return row.res.uq is not None


def has_consistency(row: Row) -> bool:
    """Whether the entry has run-level physics-consistency scores."""
    return row.res.consistency is not None


def indicator_names(uq: dict[str, Any]) -> list[str]:
    names = list(uq.get("indicators") or {})
    order = list(INDICATOR_INFO)
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def pct(x: Any) -> str:
    return f"{100 * x:g} %" if isinstance(x, (int, float)) else "?"


def uq_columns(settings: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    worst, catch, flag = (
        settings.get("auroc_worst_fraction"),
        settings.get("catch_worst_fraction"),
        settings.get("catch_flag_fraction"),
    )
    return [
        ("method", "Method", "str", "Model name and submission title; the link opens the entry"),
        ("indicator", "Indicator", "str", "Label-free error indicator (larger = less trustworthy)"),
        (
            "spearman",
            "Spearman ρ",
            "num",
            "Spearman rank correlation of the indicator with the true per-sample error "
            "(1 = same ordering), estimate [95 % interval]",
        ),
        (
            "auroc",
            f"AUROC worst {pct(worst)}",
            "num",
            f"AUROC of the indicator for flagging the worst {pct(worst)} of test "
            f"samples by error (1 = perfect, 0.5 = chance), estimate [95 % interval]; underpowered below "
            f"{settings.get('min_positives_auroc', 20)} worst samples per seed",
        ),
        (
            "catch_rate",
            f"Worst {pct(catch)} caught",
            "num",
            f"Share of the worst {pct(catch)} of samples among the "
            f"{pct(flag)} the indicator flags, estimate [95 % interval]; underpowered below "
            f"{settings.get('min_positives_caught', 20)} worst samples per seed",
        ),
        ("indicator_mean", "Indicator mean", "num", "Mean of the indicator over the test samples (its scale)"),
        ("seeds", "Seeds", "num", "Seeds with scores / seeds of the run"),
        ("test_nmae", "Test nMAE", "num", "The entry's headline error, for context"),
        ("note", "Note", "none", "Why an indicator is not applicable"),
    ]


def stat_mean(stat: Any) -> float | None:
    return stat.get("mean") if isinstance(stat, dict) else None


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
    share = settings.get(
        "auroc_worst_fraction" if key == "auroc" else "catch_worst_fraction", 0.05 if key == "auroc" else 0.01
    )
    return max(1, math.ceil(share * n - 1e-9)), MIN_POSITIVES_AUROC if key == "auroc" else MIN_POSITIVES_CAUGHT


def _underpowered(positives: Any, required: Any) -> str:
    return (
        f'<td class="num underpowered" title="{esc(positives)} worst samples per seed; a number needs at least '
        f'{esc(required)} (a task with more test samples)">underpowered</td>'
    )


def score_cell(ind: dict[str, Any], key: str, legacy: tuple[int, int] | None = None) -> Markup:
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
    if stat_mean(stat) is None:
        return '<td class="num" title="undefined (e.g. a constant indicator)">—</td>'
    note = "" if key == "indicator_mean" else ' <span class="pm">(no interval)</span>'
    title = (
        ""
        if key == "indicator_mean"
        else ' title="a result written before the intervals: mean ± unbiased std over seeds"'
    )
    return f'<td class="num"{title}>{pm(stat)}{note}</td>'


def score_rows(uq: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(group, name, row)`` of every indicator, then every baseline, in reporting order."""
    out = [("indicators", n, uq["indicators"][n]) for n in indicator_names(uq)]
    order = list(BASELINE_INFO)
    for n in sorted(uq.get("baselines") or {}, key=lambda n: (order.index(n) if n in order else len(order), n)):
        out.append(("baselines", n, uq["baselines"][n]))
    return out
