"""A study's tables: ``table.csv``, ``table.md`` and ``summary.json`` with every metric's interval
and how each run stopped (the log-law analysis is :mod:`diffbench.studies.scaling`, the plots
:mod:`diffbench.studies.plots`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ..data.cache import atomic_write_bytes, atomic_write_json
from ..stats import format_interval
from ..training.reporting import mean_std_text
from .plots import plots
from .scaling import fit_log_law, row_interval, stops_text
from .spec import StudySpec

__all__ = ["HEADLINE", "fit_log_law", "interval_text", "row_interval", "stops_text", "write_outputs"]

#: Test metrics of a study row, in table order.
HEADLINE = ("nmae", "mae", "mae_sources", "max_abs_error", "p99_sample_mae")


def interval_text(row: dict[str, Any], metric: str) -> str:
    """A row's metric as ``"estimate [low, high]"`` (:func:`row_interval`), else mean ± std, else an em dash."""
    iv = row_interval(row, metric) if metric == "nmae" or row.get("intervals") else None
    if iv is not None:
        return format_interval(iv["estimate"], iv["low"], iv["high"])
    return mean_std_text((row.get("test") or {}).get(metric))


def write_outputs(root: Path, spec: StudySpec, summary: dict[str, Any]) -> None:
    """``table.csv``, ``table.md``, ``summary.json`` and the plots of a finished study, into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    rows = summary["rows"]
    transfer_targets = sorted({t for r in rows for t in r["transfer"]})
    header = (
        ["model", "task", "train_fraction", "n_train", "parameters"]
        + [f"test_{k}_{part}" for k in HEADLINE for part in ("estimate", "low", "high")]
        + [f"transfer_{t}_nmae" for t in transfer_targets]
        + ["stops", "command"]
    )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        cells = []
        for k in HEADLINE:
            iv = row_interval(r, k) if k == "nmae" or r.get("intervals") else None
            cells += (
                [_num(iv["estimate"]), _num(iv["low"]), _num(iv["high"])]
                if iv
                else [_num((r["test"].get(k) or {}).get("mean")), "", ""]
            )
        w.writerow(
            [r["model"], r["task"], r["train_fraction"], r["n_train"], r["parameters"]]
            + cells
            + [_transfer_text(r["transfer"].get(t)) for t in transfer_targets]
            + [stops_text(r), r["command"]]
        )
    atomic_write_bytes(root / "table.csv", buf.getvalue().encode())
    md = [
        f"# Study {spec.name}",
        "",
        spec.description,
        "",
        "Test metrics with 95 % intervals over test samples and seeds (see `diffbench.stats`); stops: seeds stopped by early "
        "stopping / at the budget cap.",
        "",
        "| model | task | train fraction | n_train | test nmae | test mae_sources | test max_abs_error | stops |"
        + "".join(f" {t} nmae |" for t in transfer_targets),
        "|---|---|---|---|---|---|---|---|" + "---|" * len(transfer_targets),
    ]
    for r in rows:
        md.append(
            f"| {r['model']} | {r['task']} | {r['train_fraction']:g} | {r['n_train']} | {interval_text(r, 'nmae')} | "
            f"{interval_text(r, 'mae_sources')} | {interval_text(r, 'max_abs_error')} | {stops_text(r)} |"
            + "".join(f" {_transfer_text(r['transfer'].get(t))} |" for t in transfer_targets)
        )
    for m, fit in (summary.get("scaling_law") or {}).items():
        if fit:
            lo, hi = fit["slope_interval"]
            md += [
                "",
                f"**{m}**: {fit['law']} (slope {format_interval(fit['b'], lo, hi)} per decade, {fit['n_points']} sizes; "
                f"{fit['method']}). {fit['verdict']}",
            ]
    atomic_write_bytes(root / "table.md", ("\n".join(md) + "\n").encode())
    atomic_write_json(root / "summary.json", summary)
    plots(root, summary)


def _num(x: Any) -> str:
    return "" if x is None else f"{x:.6g}"


def _transfer_text(t: dict[str, Any] | None) -> str:
    """A transfer evaluation's cell: its two-level interval when every seed kept per-sample errors,
    else mean ± std over the seeds (an older study), or "cannot run"."""
    if not t:
        return ""
    if t["status"] != "ok":
        return "cannot run"
    iv = t.get("interval")
    if isinstance(iv, dict):
        return format_interval(iv["estimate"], iv["low"], iv["high"])
    return mean_std_text(t["nmae"])
