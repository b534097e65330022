"""The data-scaling analysis of a study: each size's test nMAE with its interval, the weighted
log-law fit, the lack-of-fit test, the range where the law holds and the verdict on the paper's
finding; and how a row's seeds stopped. Torch-free and plot-free, so that the README's claims (:mod:`diffbench.leaderboard.claims`)
recompute it from a shipped summary.json."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from ..stats import LEVEL, format_interval, format_p, lack_of_fit, log_law_fit, log_law_range, seed_interval

__all__ = ["fit_log_law", "row_interval", "stops_text", "verdict"]


def row_interval(row: dict[str, Any], metric: str = "nmae") -> dict[str, Any] | None:
    """A study row's ``metric`` with its 95 % interval: ``{"estimate", "low", "high", "method"}``.

    From the run's ``aggregate.intervals`` (test samples and seeds, see :mod:`diffbench.stats`)
    when the run kept per-sample errors; otherwise a t interval over the seeds only (saying so);
    None with one seed and no per-sample errors.

    >>> row_interval({"per_seed_nmae": [0.10, 0.12, 0.11]})["method"][:24]
    't interval over 3 seeds '
    >>> row_interval({"intervals": {"method": "m", "metrics": {"nmae": {"estimate": 0.1, "low": 0.09, "high": 0.11}}}})
    {'estimate': 0.1, 'low': 0.09, 'high': 0.11, 'method': 'm'}
    """
    ivs = row.get("intervals")
    if isinstance(ivs, dict) and isinstance((ivs.get("metrics") or {}).get(metric), dict):
        return {**{k: ivs["metrics"][metric][k] for k in ("estimate", "low", "high")}, "method": ivs.get("method", "")}
    seeds = [v for v in (row.get("per_seed_nmae") if metric == "nmae" else []) or [] if v is not None]
    if len(seeds) < 2:
        return None
    iv = seed_interval(float(np.mean(seeds)), float(np.std(seeds, ddof=1)), len(seeds))
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high, "method": iv.method}


def stops_text(row: dict[str, Any]) -> str:
    """How a row's seeds stopped: ``"early 2, cap 1"`` (early stopping, or the step/epoch cap)."""
    stops = [s for s in row.get("stops") or [] if isinstance(s, dict)]
    if not stops:
        return "—"
    capped = sum(s.get("reason") == "budget_capped" for s in stops)
    return f"early {len(stops) - capped}, cap {capped}"


def fit_log_law(rows: list[dict[str, Any]], level: float = LEVEL, alpha: float = 0.05) -> dict[str, Any] | None:
    """The data-scaling analysis of one model's rows (one row per training-set size).

    - **fit**: ``nmae = a + b log10(n_train)`` by weighted least squares on the per-size
      means, each weighted by ``1 / s.e.^2`` with ``s.e.`` = half its 95 % interval / 1.96
      (:func:`row_interval`: test samples and seeds); the band is the fit's
      ``level`` confidence band (normal quantile: the weights are stated errors), and ``chi2``
      with its p-value says whether the line passes within those errors;
    - **lack of fit**: the F test of the straight line against the scatter of the seeds at each
      size (:func:`diffbench.stats.lack_of_fit`); the seeds of one size share its training subset,
      so that scatter is training noise only;
    - **holds_for**: the widest range of sizes on which that test does not reject the line at
      ``alpha`` and the error falls (:func:`diffbench.stats.log_law_range` with ``falling``), or None;
    - **capped**: per size, how many seeds stopped at the step cap rather than by early stopping;
    - **verdict**: one sentence on the paper's logarithmic law, generated from the numbers above.

    None when fewer than 3 sizes carry an interval.
    """
    pts = []
    for r in sorted(rows, key=lambda r: r["n_train"]):
        iv = row_interval(r)
        if iv is None or not iv["high"] > iv["low"]:
            continue
        stops = [s for s in r.get("stops") or [] if isinstance(s, dict)]
        pts.append(
            {
                "n_train": r["n_train"],
                **iv,
                "seeds": [v for v in r["per_seed_nmae"] if v is not None],
                "capped": sum(s.get("reason") == "budget_capped" for s in stops),
                "stops_recorded": len(stops),
                "n_seeds": len(r["per_seed_nmae"]),
            }
        )
    if len({p["n_train"] for p in pts}) < 3:
        return None
    z = float(stats.norm.ppf(0.5 + level / 2))
    n = [float(p["n_train"]) for p in pts]
    fit = log_law_fit(n, [p["estimate"] for p in pts], [(p["high"] - p["low"]) / (2 * z) for p in pts])
    band = [{"n_train": x, "fit": fit.intercept + fit.slope * math.log10(x), "half_width": z * fit.band(x)} for x in n]
    per_point = [(p["n_train"], v) for p in pts for v in p["seeds"]]
    lof = held = None
    if len(per_point) > len(pts):
        lof = lack_of_fit([q[0] for q in per_point], [q[1] for q in per_point])
        held = log_law_range([q[0] for q in per_point], [q[1] for q in per_point], alpha=alpha, falling=True)
    slope_iv = (fit.slope - z * fit.slope_se, fit.slope + z * fit.slope_se)
    out = {
        "method": "weighted least squares on the per-size means (weights 1/s.e.^2, s.e. from each mean's 95 % interval); "
        "lack of fit: F test against the seeds' scatter at each size",
        "a": fit.intercept,
        "b": fit.slope,
        "a_stderr": fit.intercept_se,
        "b_stderr": fit.slope_se,
        "slope_interval": list(slope_iv),
        "r2": fit.r2,
        "chi2": fit.chi2,
        "chi2_dof": fit.dof,
        "chi2_p": fit.p_value,
        "n_points": len(pts),
        "level": level,
        "band": band,
        "points": [{k: v for k, v in p.items() if k != "seeds"} for p in pts],
        "lack_of_fit": None
        if lof is None
        else {"f": lof.f, "df_lack": lof.df_lack, "df_pure": lof.df_pure, "p": lof.p_value},
        "holds_for": None
        if held is None
        else {
            "n_low": held.n_low,
            "n_high": held.n_high,
            "n_sizes": held.n_sizes,
            "p": held.test.p_value,
            "slope": held.test.slope,
        },
        "alpha": alpha,
        "law": f"nmae = {fit.intercept:.4g} {'+' if fit.slope >= 0 else '-'} {abs(fit.slope):.4g} log10(n_train)",
    }
    out["verdict"] = verdict(out)
    return out


def verdict(fit: dict[str, Any]) -> str:
    """The sentence a study page and the README print about the paper's logarithmic law, from a :func:`fit_log_law` result."""
    lo, hi = fit["slope_interval"]
    slope = f"slope {format_interval(fit['b'], lo, hi)} per decade of n_train"
    falls = hi < 0
    lof, held, capped = fit["lack_of_fit"], fit["holds_for"], sum(p["capped"] for p in fit["points"])
    runs, recorded = sum(p["n_seeds"] for p in fit["points"]), sum(p.get("stops_recorded", 0) for p in fit["points"])
    if recorded < runs:
        cap = " The runs do not all record how they stopped (written before early stopping was recorded)."
    elif capped:
        cap = (
            f" {capped} of {runs} runs stopped at the step cap rather than by early stopping, so those sizes may be "
            "limited by the budget, not by the data."
        )
    else:
        cap = " Every run stopped by early stopping, before the cap."
    if lof is None:
        return f"Not tested: no size has two seeds ({slope})." + cap
    test = f"lack-of-fit F({lof['df_lack']}, {lof['df_pure']}) = {lof['f']:.3g}, p {_p(lof['p'])}"
    if not falls:
        return (
            f"Not reproduced: the error does not fall with n_train at {100 * fit['level']:g} % ({slope}; {test})." + cap
        )
    if lof["p"] >= fit["alpha"]:
        return (
            f"Reproduced: the error falls logarithmically with n_train over the whole range ({slope}; the straight line "
            f"is not rejected, {test})." + cap
        )
    where = (
        f"it holds only for n_train {held['n_low']:g}-{held['n_high']:g} ({held['n_sizes']} sizes, lack-of-fit "
        f"p {_p(held['p'])}, slope {held['slope']:.3g} per decade there)"
        if held is not None
        else "no range of three or more sizes shows a falling straight line"
    )
    return (
        f"Not reproduced over the whole range: the error falls with n_train ({slope}) but not as a straight line in "
        f"log10(n_train) ({test}); {where}." + cap
    )


def _p(p: float) -> str:
    """``"= 0.17"`` or ``"< 0.0001"``: a p-value after its symbol."""
    text = format_p(p)
    return text if text.startswith("<") else f"= {text}"
