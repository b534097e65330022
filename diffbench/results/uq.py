"""The uncertainty scores a result records, recomputed from its per-sample values (torch-free).

``diffbench run --uq`` keeps, per seed, every scored indicator's and baseline's value on each
test sample (``samples.values``) next to the true per-sample error (``samples.error``) and the
source counts (``samples.count``, the bootstrap's strata). :func:`score_indicator` turns such
values into the three scores with their 95 % intervals and power rule
(:func:`~diffbench.stats.uq_spearman`, :func:`~diffbench.stats.uq_auroc`,
:func:`~diffbench.stats.worst_caught`); :func:`aggregate_uq_scores` scores every seed's
samples at once for the run-level block. :mod:`diffbench.trust` computes them this way during a
run and ``diffbench submit`` recomputes them from the samples, so a result cannot claim a
score its samples do not give.

A result written before the intervals (:func:`is_legacy_uq`: no ``baselines``, no seed
``samples``) keeps point scores per seed and ``{"mean", "std", "n"}`` per run
(:func:`~diffbench.results.aggregate.aggregate_uq_indicators`).

>>> BASELINES
('source-count', 'input-sum', 'prediction-mean')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import DiffbenchError
from ..stats import (
    AUROC_WORST,
    CATCH_FLAG,
    CATCH_WORST,
    N_BOOT,
    uq_auroc,
    uq_spearman,
    worst_caught,
)
from .aggregate import mean_std
from .names import BASELINES, OK, SCORE_KEYS, not_applicable

#: The keys of a score with its interval, and of a score below the power rule.
INTERVAL_KEYS = ("estimate", "low", "high", "level", "method", "n_seeds", "n_samples")
UNDERPOWERED_KEYS = ("underpowered", "positives", "required")


def _score(
    fn: Any, values: np.ndarray, errors: np.ndarray, counts: np.ndarray, n_boot: int, **kw: Any
) -> dict[str, Any] | None:
    """One score as a result records it: an interval (``estimate``, ``low``, ``high``, ...), an
    ``underpowered`` marker, or None where it is undefined (a constant indicator or error)."""
    try:
        return fn(values, errors, counts, n_boot=n_boot, **kw).to_dict()
    except DiffbenchError:
        return None


def score_indicator(indicator: Any, error: Any, counts: Any = None, *, n_boot: int | None = None) -> dict[str, Any]:
    """The three scores of one indicator with their 95 % intervals, and its mean and median.

    ``indicator`` and ``error`` are one seed's per-sample values (``(n,)``) or every seed's
    (``(seeds, n)``; one indicator row may be shared, as the ensemble's is); ``counts`` the
    source count of each test sample (the bootstrap's strata). Spearman's correlation always
    gets a number; the AUROC and the caught share get ``{"underpowered": true, "positives",
    "required"}`` below :data:`~diffbench.stats.MIN_POSITIVES_AUROC` (resp.
    ``MIN_POSITIVES_CAUGHT``) worst samples per seed.

    >>> err = np.linspace(0.01, 1.0, 400)
    >>> row = score_indicator(2 * err, err, n_boot=100)
    >>> row["spearman"]["estimate"], row["auroc"]["estimate"], row["catch_rate"]
    (1.0, 1.0, {'underpowered': True, 'positives': 4, 'required': 20})
    """
    e = np.asarray(error, dtype=np.float64)
    a = np.asarray(indicator, dtype=np.float64)
    e2 = e.reshape(1, -1) if e.ndim == 1 else e
    if a.shape[-1] != e2.shape[-1] or a.ndim > 2:
        raise DiffbenchError(f"indicator has shape {a.shape} but the error {e.shape}")
    c = np.zeros(e2.shape[1], dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64).reshape(-1)
    boots = N_BOOT if n_boot is None else n_boot
    return {
        "status": OK,
        "spearman": _score(uq_spearman, a, e2, c, boots),
        "auroc": _score(uq_auroc, a, e2, c, boots, worst=AUROC_WORST),
        "catch_rate": _score(worst_caught, a, e2, c, boots, worst=CATCH_WORST, flagged=CATCH_FLAG),
        "indicator_mean": float(np.nanmean(a)) if a.size else None,
        "indicator_median": float(np.nanmedian(a)) if a.size else None,
    }


def sample_values(values: Sequence[float | None]) -> list[float]:
    """A recorded value list as numbers (null, written for NaN, back to NaN)."""
    return [float("nan") if v is None else v for v in values]


def aggregate_uq_scores(per_seed: Sequence[Mapping[str, Any]], requested: Sequence[str]) -> dict[str, Any]:
    """The run-level ``uq.indicators`` and ``uq.baselines``: each one's scores on every seed's
    per-sample values at once (the interval covers seeds and test samples), and the mean ± std
    over seeds of the indicator's mean. Raises :class:`DiffbenchError` when the seeds' samples
    do not line up (different test sets, or values missing).

    >>> seed = {"uq": {"indicators": {"residual": {"status": "not applicable", "reason": "why"}}, "baselines": {}}}
    >>> aggregate_uq_scores([seed], ["residual"])["indicators"]
    {'residual': {'status': 'not applicable', 'reason': 'why', 'n_seeds': 0}}
    """
    blocks = [s.get("uq") for s in per_seed if s.get("uq")]
    out: dict[str, Any] = {"indicators": {}, "baselines": {}}
    for group, names in (("indicators", list(requested)), ("baselines", list(BASELINES))):
        for name in names:
            rows = [(b, b[group][name]) for b in blocks if name in (b.get(group) or {})]
            ok = [(b, r) for b, r in rows if r.get("status") == OK]
            if not ok:
                reason = next((r.get("reason") for _, r in rows if r.get("reason")), "not computed")
                out[group][name] = {**not_applicable(reason), "n_seeds": 0}
                continue
            samples = [b.get("samples") or {} for b, _ in ok]
            counts = samples[0].get("count")
            if any(s.get("count") != counts for s in samples) or any(
                name not in (s.get("values") or {}) for s in samples
            ):
                raise DiffbenchError(
                    f"uq {group[:-1]} {name!r}: the seeds' per-sample values do not line up "
                    "(every seed needs samples.values on the same test samples)"
                )
            entry = score_indicator(
                [sample_values(s["values"][name]) for s in samples], [s["error"] for s in samples], counts
            )
            out[group][name] = {
                "status": OK,
                "n_seeds": len(ok),
                **{k: entry[k] for k in SCORE_KEYS},
                "indicator_mean": mean_std([r.get("indicator_mean") for _, r in ok]),
            }
    return out


def is_legacy_uq(result: Mapping[str, Any]) -> bool:
    """A ``uq`` block written before the intervals: no ``baselines`` and no seed ``samples``.

    >>> is_legacy_uq({"uq": {"indicators": {}}, "per_seed": [{"uq": {"indicators": {}}}]})
    True
    >>> is_legacy_uq({"uq": {"indicators": {}, "baselines": {}}, "per_seed": []})
    False
    """
    uq = result.get("uq")
    return (
        isinstance(uq, Mapping)
        and "baselines" not in uq
        and not any(
            isinstance(s, Mapping) and isinstance(s.get("uq"), Mapping) and "samples" in s["uq"]
            for s in result.get("per_seed") or []
        )
    )
