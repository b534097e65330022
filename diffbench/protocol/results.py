"""``result.json``: the schema-versioned record of a run, and the seed aggregation.

Aggregation follows OGB's rule: every metric is reported as mean and unbiased standard
deviation (ddof = 1) over the training seeds (std is null with one seed). A ``digest``
(SHA-256 of the canonical JSON of everything else) makes any later edit detectable; the
leaderboard refuses results whose digest does not match.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

RESULT_SCHEMA_VERSION = 1


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def compute_digest(result: dict[str, Any]) -> str:
    body = {k: v for k, v in result.items() if k != "digest"}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def clean_number(x: Any) -> Any:
    """NaN and inf become None (JSON has no NaN); everything else passes through."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): clean_number(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean_number(v) for v in x]
    return x


def mean_std(values: list[float | None]) -> dict[str, Any]:
    vals = [v for v in values if v is not None]
    if len(vals) != len(values) or not vals:
        return {"mean": None, "std": None, "n": len(vals)}
    m = sum(vals) / len(vals)
    std = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else None
    return {"mean": m, "std": std, "n": len(vals)}


def aggregate_metrics(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± std over seeds of every scalar metric, also per source count."""
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
        str(c): {k: mean_std([s["per_count"][str(c)].get(k) for s in per_seed]) for k in counts[str(c)] if k != "n_samples"}
        for c in counts
    }
    return out


def write_result(path: Path, result: dict[str, Any]) -> dict[str, Any]:
    from ..data.cache import atomic_write_json

    result = clean_number(dict(result))
    result["digest"] = compute_digest(result)
    atomic_write_json(path, result)
    return result
