"""Aggregation over training seeds: every number is reported as mean ± unbiased std (OGB's rule).

``std`` is null with one seed; ``mean`` and ``std`` are null when a seed has no value (an empty
region), and ``n`` counts the seeds that had one. The same rule aggregates the metrics, the
``uq`` indicator scores and the physics-consistency scores.

>>> mean_std([1.0, 2.0, 3.0])
{'mean': 2.0, 'std': 1.0, 'n': 3}
>>> mean_std([0.5])
{'mean': 0.5, 'std': None, 'n': 1}
>>> mean_std([0.5, None])
{'mean': None, 'std': None, 'n': 1}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .names import CONSISTENCY_SCORES, OK, SCORE_KEYS, not_applicable


def mean_std(values: Sequence[float | None]) -> dict[str, Any]:
    """``{"mean", "std", "n"}`` of ``values`` over seeds (unbiased std, ddof = 1)."""
    vals = [v for v in values if v is not None]
    if len(vals) != len(values) or not vals:
        return {"mean": None, "std": None, "n": len(vals)}
    m = sum(vals) / len(vals)
    std = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else None
    return {"mean": m, "std": std, "n": len(vals)}


def aggregate_metrics(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean ± std over seeds of every scalar metric of one split, also per source count.

    >>> a = aggregate_metrics([{"mae": 1.0, "n_samples": 4, "per_count": {"1": {"mae": 1.0}}},
    ...                        {"mae": 3.0, "n_samples": 4, "per_count": {"1": {"mae": 2.0}}}])
    >>> a["mae"]["mean"], a["n_samples"], a["per_count"]["1"]["mae"]["mean"]
    (2.0, 4, 1.5)
    """
    if not per_seed:
        return {}
    out: dict[str, Any] = {}
    keys = [k for k, v in per_seed[0].items() if isinstance(v, (int, float)) or v is None]
    for k in keys:
        if k == "n_samples":
            out[k] = per_seed[0][k]
            continue
        out[k] = mean_std([s.get(k) for s in per_seed])
    counts = per_seed[0].get("per_count") or {}
    out["per_count"] = {
        str(c): {
            k: mean_std([s["per_count"][str(c)].get(k) for s in per_seed]) for k in counts[str(c)] if k != "n_samples"
        }
        for c in counts
    }
    return out


def aggregate_uq_indicators(per_seed: Sequence[Mapping[str, Any]], requested: Sequence[str]) -> dict[str, Any]:
    """The run-level ``uq.indicators``: each indicator's scores, mean ± std over the seeds where it applied.

    >>> seeds = [{"uq": {"indicators": {"residual": {"status": "ok", "spearman": s, "auroc": 0.9,
    ...           "catch_rate": 1.0, "indicator_mean": 0.1}}}} for s in (0.5, 0.7)]
    >>> ind = aggregate_uq_indicators(seeds, ["residual"])["residual"]
    >>> ind["n_seeds"], round(ind["spearman"]["mean"], 6)
    (2, 0.6)
    """
    blocks = [s.get("uq") for s in per_seed if s.get("uq")]
    out: dict[str, Any] = {}
    for name in requested:
        rows = [b["indicators"].get(name) for b in blocks if name in b.get("indicators", {})]
        ok = [r for r in rows if r.get("status") == OK]
        if not ok:
            reason = next((r.get("reason") for r in rows if r.get("reason")), "not computed")
            out[name] = {**not_applicable(reason), "n_seeds": 0}
            continue
        entry: dict[str, Any] = {"status": OK, "n_seeds": len(ok)}
        for key in SCORE_KEYS + ("indicator_mean",):
            entry[key] = mean_std([r.get(key) for r in ok])
        out[name] = entry
    return out


def aggregate_consistency(blocks: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """The run-level ``consistency`` block: mean ± std over seeds of every number of each ``ok``
    score (failed seeds, ``{"status": "error"}``, are left out; ``{}`` when every seed failed).

    >>> na = {"status": "not applicable", "reason": "no Dirichlet side"}
    >>> seed = lambda m: {"n_samples": 8, "superposition": {"status": "ok", "mean": m, "max": m, "n_pairs": 4},
    ...                   "equivariance": na, "maximum_principle": na, "flux_balance": na}
    >>> top = aggregate_consistency([seed(0.1), seed(0.3), {"status": "error", "error": "oom"}])
    >>> top["n_seeds"], round(top["superposition"]["mean"]["mean"], 6), top["superposition"]["n_pairs"]
    (2, 0.2, 4)
    >>> top["flux_balance"]
    {'status': 'not applicable', 'reason': 'no Dirichlet side'}
    """
    kept = [b for b in blocks if b and b.get("status") != "error"]
    if not kept:
        return {}
    out: dict[str, Any] = {"n_samples": kept[0].get("n_samples"), "n_seeds": len(kept)}
    for name in CONSISTENCY_SCORES:
        rows = [b.get(name) or {} for b in kept]
        ok = [r for r in rows if r.get("status") == OK]
        if not ok:
            reason = next((r.get("reason") for r in rows if r.get("reason")), "not computed")
            out[name] = not_applicable(reason)
            continue
        entry: dict[str, Any] = {"status": OK}
        for key, value in ok[0].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not key.startswith("n_"):
                entry[key] = mean_std([r.get(key) for r in ok])
            elif key != "status":
                entry[key] = value
        out[name] = entry
    return out
