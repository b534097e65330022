"""How well an error indicator finds the bad predictions: small pure functions.

The definitions (the true error, ``spearman``, ``auroc`` on the worst ``AUROC_WORST`` share,
``catch_rate``) are specified in :mod:`diffbench.trust.indicators`; a NaN indicator counts as
+inf (most suspicious). :func:`spearman`, :func:`auroc` and :func:`catch_rate` are the point
definitions on one seed; :func:`diffbench.results.uq.score_indicator` is what a result records: the same scores
with their 95 % intervals and power rule, computed by :mod:`diffbench.stats`
(:func:`~diffbench.stats.uq_spearman`, :func:`~diffbench.stats.uq_auroc`,
:func:`~diffbench.stats.worst_caught`) on one seed or on every seed at once, for
the indicators and the label-free :data:`BASELINES` alike.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata, spearmanr

from ..results.uq import BASELINES  # noqa: F401 - re-exported: the run scores these

#: The worst share of samples the AUROC tries to detect.
AUROC_WORST = 0.05
#: catch_rate: the share of worst samples to catch, and the share of samples flagged.
CATCH_WORST = 0.01
CATCH_FLAG = 0.10
SCORE_KEYS = ("spearman", "auroc", "catch_rate")
NOT_APPLICABLE = "not applicable"


def _vector(x: Any, what: str) -> np.ndarray:
    a = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64).reshape(-1)
    return a


def _clean_indicator(x: Any) -> np.ndarray:
    a = _vector(x, "indicator")
    return np.where(np.isnan(a), np.inf, a)


def _k_of(fraction: float, n: int) -> int:
    """``ceil(fraction * n)``, at least 1 (with a guard against 0.07 * 100 = 7.000000000000001)."""
    return max(1, math.ceil(fraction * n - 1e-9))


def worst_mask(error: Any, fraction: float) -> np.ndarray:
    """Boolean mask of the ``ceil(fraction * n)`` samples with the largest error.

    Ties in the error are broken by sample order (the earlier sample counts as worse).

    Examples
    --------
    >>> worst_mask([0.1, 0.9, 0.5, 0.9], 0.5).tolist()
    [False, True, False, True]
    """
    e = _vector(error, "error")
    n = e.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(-e, kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[: _k_of(fraction, n)]] = True
    return mask


def spearman(indicator: Any, error: Any) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when undefined.

    Examples
    --------
    >>> spearman([1, 2, 3, 4], [10, 20, 30, 40]), spearman([4, 3, 2, 1], [10, 20, 30, 40])
    (1.0, -1.0)
    >>> spearman([1, 1, 1], [1, 2, 3]) is None
    True
    """
    a, e = _clean_indicator(indicator), _vector(error, "error")
    if a.size < 2 or np.all(a == a[0]) or np.all(e == e[0]):
        return None
    a = np.where(np.isinf(a), np.finfo(np.float64).max, a)
    rho = spearmanr(a, e).statistic
    rho = float(rho)
    return rho if math.isfinite(rho) else None


def auroc(scores: Any, labels: Any) -> float | None:
    """AUROC of ``scores`` for binary ``labels`` by the rank formula; a tie counts 1/2.

    ``AUROC = (sum of the positives' ranks - P (P + 1) / 2) / (P N)`` with average ranks, i.e.
    the probability that a random positive scores above a random negative (ties 1/2).

    Examples
    --------
    >>> auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])
    (1.0, 0.0)
    >>> auroc([0.5, 0.5, 0.5], [0, 1, 0])
    0.5
    """
    s = _clean_indicator(scores)
    y = _vector(labels, "labels") > 0.5
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    s = np.where(np.isinf(s), np.finfo(np.float64).max, s)
    ranks = rankdata(s, method="average")
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def flag_weights(indicator: Any, fraction: float) -> np.ndarray:
    """Per-sample probability of being flagged when the top ``ceil(fraction n)`` are flagged
    and ties at the threshold are broken at random (1 above it, 0 below, shared at it).

    Examples
    --------
    >>> flag_weights([3.0, 1.0, 2.0, 2.0], 0.5).tolist()
    [1.0, 0.0, 0.5, 0.5]
    """
    a = _clean_indicator(indicator)
    n = a.size
    if n == 0:
        return np.zeros(0)
    m = _k_of(fraction, n)
    threshold = np.sort(a)[::-1][m - 1]
    above = a > threshold
    tied = a == threshold
    w = above.astype(np.float64)
    w[tied] = (m - int(above.sum())) / int(tied.sum())
    return w


def catch_rate(
    indicator: Any, error: Any, flag_fraction: float = CATCH_FLAG, worst_fraction: float = CATCH_WORST
) -> float | None:
    """Share of the worst ``worst_fraction`` samples (by error) among the flagged ``flag_fraction``
    (by indicator); the expectation under random tie-breaking of the indicator.

    Examples
    --------
    >>> err = list(range(100))
    >>> catch_rate(err, err), catch_rate([-e for e in err], err), catch_rate([0] * 100, err)
    (1.0, 0.0, 0.1)
    """
    e = _vector(error, "error")
    if e.size == 0:
        return None
    worst = worst_mask(e, worst_fraction)
    w = flag_weights(indicator, flag_fraction)
    return float(w[worst].sum() / worst.sum())


def baseline_values(batch: dict[str, torch.Tensor], pred: torch.Tensor) -> dict[str, torch.Tensor]:
    """The :data:`BASELINES` of a batch, per sample, from the input and the prediction only:
    the source count, the sum of the network's input source map (channel 0, scaled to max 1 as
    the network sees it) and the mean of the normalised prediction."""
    return {
        "source-count": batch["count"].double().cpu(),
        "input-sum": batch["input"][:, 0].double().sum(dim=(-2, -1)).cpu(),
        "prediction-mean": pred.double().flatten(1).mean(dim=1).cpu(),
    }


def not_applicable(reason: str) -> dict[str, Any]:
    return {"status": NOT_APPLICABLE, "reason": reason}
