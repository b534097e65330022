"""A study's analysis and tables: the log-law fit of error against data-set size, and
``table.csv``, ``table.md`` and ``summary.json`` (the plots are :mod:`diffbench.studies.plots`)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from scipy import stats

from ..data.cache import atomic_write_bytes, atomic_write_json
from ..training.reporting import mean_std_text
from .plots import plots
from .spec import StudySpec

#: Test metrics of a study row, in table order.
HEADLINE = ("nmae", "mae", "mae_sources", "max_abs_error", "p99_sample_mae")


def fit_log_law(rows: list[dict[str, Any]], level: float = 0.95) -> dict[str, Any] | None:
    """Least-squares fit of ``nmae = a + b log10(n_train)`` over every seed's point, with the
    95 % confidence band of the mean (Student t, n - 2 degrees of freedom)."""
    xs, ys = [], []
    for r in rows:
        for v in r["per_seed_nmae"]:
            if v is not None:
                xs.append(math.log10(r["n_train"]))
                ys.append(v)
    n = len(xs)
    if n < 3 or len(set(xs)) < 2:
        return None
    xbar, ybar = sum(xs) / n, sum(ys) / n
    sxx = sum((x - xbar) ** 2 for x in xs)
    b = sum((x - xbar) * (y - ybar) for x, y in zip(xs, ys)) / sxx
    a = ybar - b * xbar
    resid = [y - (a + b * x) for x, y in zip(xs, ys)]
    s = math.sqrt(sum(e * e for e in resid) / (n - 2))
    ss_tot = sum((y - ybar) ** 2 for y in ys)
    t = float(stats.t.ppf(0.5 + level / 2, n - 2))
    grid = sorted(set(xs))
    band = [{"n_train": 10**x, "fit": a + b * x, "half_width": t * s * math.sqrt(1 / n + (x - xbar) ** 2 / sxx)} for x in grid]
    return {"a": a, "b": b, "b_stderr": s / math.sqrt(sxx), "r2": 1 - sum(e * e for e in resid) / ss_tot if ss_tot > 0 else None,
            "n_points": n, "level": level, "band": band,
            "law": f"nmae = {a:.4g} {'+' if b >= 0 else '-'} {abs(b):.4g} log10(n_train)"}


def write_outputs(root: Path, spec: StudySpec, summary: dict[str, Any]) -> None:
    """``table.csv``, ``table.md``, ``summary.json`` and the plots of a finished study, into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    rows = summary["rows"]
    transfer_targets = sorted({t for r in rows for t in r["transfer"]})
    header = ["model", "task", "train_fraction", "n_train", "parameters"] + [f"test_{k}_mean" for k in HEADLINE] + \
             [f"test_{k}_std" for k in HEADLINE] + [f"transfer_{t}_nmae" for t in transfer_targets] + ["command"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r["model"], r["task"], r["train_fraction"], r["n_train"], r["parameters"]]
                   + [_num(r["test"].get(k, {}).get("mean")) for k in HEADLINE] + [_num(r["test"].get(k, {}).get("std")) for k in HEADLINE]
                   + [_transfer_text(r["transfer"].get(t)) for t in transfer_targets] + [r["command"]])
    atomic_write_bytes(root / "table.csv", buf.getvalue().encode())
    md = [f"# Study {spec.name}", "", spec.description, "", "| model | task | train fraction | n_train | test nmae | test mae_sources | test max_abs_error |"
          + "".join(f" {t} nmae |" for t in transfer_targets), "|---|---|---|---|---|---|---|" + "---|" * len(transfer_targets)]
    for r in rows:
        md.append(f"| {r['model']} | {r['task']} | {r['train_fraction']:g} | {r['n_train']} | {mean_std_text(r['test'].get('nmae'))} | "
                  f"{mean_std_text(r['test'].get('mae_sources'))} | {mean_std_text(r['test'].get('max_abs_error'))} |"
                  + "".join(f" {_transfer_text(r['transfer'].get(t))} |" for t in transfer_targets))
    for m, fit in (summary.get("scaling_law") or {}).items():
        if fit:
            md += ["", f"**{m}**: {fit['law']} (slope ± s.e. {fit['b']:.3g} ± {fit['b_stderr']:.2g}, R² {fit['r2']:.3f}, {fit['n_points']} points)"]
    atomic_write_bytes(root / "table.md", ("\n".join(md) + "\n").encode())
    atomic_write_json(root / "summary.json", summary)
    plots(root, summary)


def _num(x: Any) -> str:
    return "" if x is None else f"{x:.6g}"


def _transfer_text(t: dict[str, Any] | None) -> str:
    if not t:
        return ""
    return mean_std_text(t["nmae"]) if t["status"] == "ok" else "cannot run"
