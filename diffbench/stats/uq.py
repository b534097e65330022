"""Uncertainty-score statistics: AUROC (Mann-Whitney), Spearman and the worst-caught share, with intervals and a minimum number of positives (below it: Underpowered).

The methods are specified in the package docstring (:mod:`diffbench.stats`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import DiffbenchError
from .core import (
    AUROC_WORST,
    BOOT_SEED,
    CATCH_FLAG,
    CATCH_WORST,
    LEVEL,
    MIN_POSITIVES_AUROC,
    MIN_POSITIVES_CAUGHT,
    N_BOOT,
    Interval,
    Underpowered,
    count_strata,
    interval,
    logit,
    matrix,
    options,
    sample_weights,
    weight_rows,
)

# --------------------------------------------------------------------------------------
# uncertainty scores
# --------------------------------------------------------------------------------------


def _k_of(share: float, n: int) -> int:
    """``ceil(share * n)``, at least 1 (guarded against 0.07 * 100 = 7.000000000000001)."""
    return max(1, math.ceil(share * n - 1e-9))


def _share(x: float, what: str) -> float:
    if not (isinstance(x, (int, float)) and 0.0 < x < 1.0):
        raise DiffbenchError(f"{what} must be a share between 0 and 1 (e.g. 0.05), got {x!r}")
    return float(x)


def worst_mask(errors: Any, share: float) -> np.ndarray:
    """The ``ceil(share * n)`` samples with the largest error (ties: the earlier sample is
    worse), as in ``diffbench.trust.scores.worst_mask``.

    >>> worst_mask([0.1, 0.9, 0.5, 0.9], 0.5).tolist()
    [False, True, False, True]
    """
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    mask = np.zeros(e.size, dtype=bool)
    mask[np.argsort(-e, kind="stable")[: _k_of(_share(share, "share"), e.size)]] = True
    return mask


def _indicator(x: Any, shape: tuple[int, int]) -> np.ndarray:
    """An indicator per seed and sample (one row is shared by every seed); NaN counts as +inf
    (most suspicious), as in ``diffbench.trust.scores``."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise DiffbenchError("indicator must be an array of numbers (seeds x samples, or one row)") from None
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != shape[1] or a.shape[0] not in (1, shape[0]):
        raise DiffbenchError(f"indicator has shape {np.shape(x)} but the errors {shape}: give one row or one per seed")
    return np.broadcast_to(np.where(np.isnan(a), np.inf, a), shape)


def _ties(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(order, group starts in sorted order, group of each sample)`` for equal values."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]]
    group = np.empty(x.size, dtype=np.intp)
    group[order] = np.cumsum(new) - 1
    return order, np.flatnonzero(new), group


def weighted_auroc(x: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """The Mann-Whitney AUROC of scores ``x`` on each resample (rows), given each sample's
    positive and negative multiplicities ``pos`` and ``neg``: ``sum_{i, j} pos_i neg_j
    ([x_i > x_j] + [x_i == x_j] / 2) / (sum pos sum neg)``."""
    order, starts, group = _ties(x)
    neg_g = np.add.reduceat(neg[:, order], starts, axis=1)
    below = np.cumsum(neg_g, axis=1) - neg_g
    beaten = (below + 0.5 * neg_g)[:, group]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * beaten).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def top_share(x: np.ndarray, w: np.ndarray, k: int, *, share_ties: bool) -> np.ndarray:
    """Per resample (rows of multiplicities ``w``), the share of each sample's copies among the
    ``k`` largest ``x``: ties at the threshold shared equally (``share_ties``, the flagging rule
    of :func:`flag_weights`) or broken by sample order, the earlier sample first (the rule of
    :func:`worst_mask`). With ``w = 1`` it is that function."""
    w = np.asarray(w, dtype=np.float64)  # integer multiplicities would wrap below 0 in k - before
    if share_ties:
        order, starts, group = _ties(-x)
    else:
        order = np.argsort(-x, kind="stable")
        starts = np.arange(x.size)
        group = np.empty(x.size, dtype=np.intp)
        group[order] = starts
    size = np.add.reduceat(w[:, order], starts, axis=1)
    before = np.cumsum(size, axis=1) - size
    take = np.clip(k - before, 0.0, size)
    share = np.divide(take, size, out=np.zeros_like(take), where=size > 0)
    return share[:, group]


def weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) of each sample within each weighted resample (a sample drawn
    k times is k tied values)."""
    w = np.asarray(w, dtype=np.float64)
    order, starts, group = _ties(x)
    size = np.add.reduceat(w[:, order], starts, axis=1)
    below = np.cumsum(size, axis=1) - size
    return (below + (size + 1.0) / 2.0)[:, group]


def weighted_pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    total = w.sum(axis=1, keepdims=True)
    da = a - (w * a).sum(axis=1, keepdims=True) / total
    db = b - (w * b).sum(axis=1, keepdims=True) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * da * db).sum(axis=1) / np.sqrt((w * da * da).sum(axis=1) * (w * db * db).sum(axis=1))


def auroc(scores: Any, labels: Any) -> float:
    """The AUROC of ``scores`` for binary ``labels`` by the Mann-Whitney U statistic: the
    share of (positive, negative) pairs in which the positive scores higher, a tie counting
    1/2. NaN scores count as +inf.

    >>> auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), auroc([0.5, 0.5, 0.5], [0, 1, 0])
    (1.0, 0.5)
    >>> auroc([1, 2], [1, 1])
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: auroc needs at least one positive and one negative label
    """
    x = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(bool)
    if x.size != y.size:
        raise DiffbenchError(f"auroc: {x.size} scores but {y.size} labels")
    if y.all() or not y.any():
        raise DiffbenchError("auroc needs at least one positive and one negative label")
    return float(weighted_auroc(np.where(np.isnan(x), np.inf, x), y[None, :] * 1.0, ~y[None, :] * 1.0)[0])


def _score_interval(
    stat_fn: Any,
    ind: np.ndarray,
    err: np.ndarray,
    counts: Any,
    *,
    level: float,
    n_boot: int,
    seed: int,
    method: str,
    bounds: tuple[float, float],
    what: str,
    scale: tuple[Callable[[Any], Any], Callable[[float], float]] | None = None,
) -> Interval:
    n = err.shape[1]
    strata = count_strata(counts, n)
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, n, n_boot, rng)
    ones = np.ones((1, n))
    theta = np.array([stat_fn(ind[s], err[s], ones)[0] for s in range(err.shape[0])])
    reps = np.empty((n_boot, err.shape[0]))
    for rows, block in weight_rows(w):
        reps[rows] = np.stack([stat_fn(ind[s], err[s], block) for s in range(err.shape[0])], axis=1)
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(reps))):
        raise DiffbenchError(
            f"{what} is undefined on the test set or on a resample (a constant indicator or error, or no positive drawn)"
        )
    return interval(
        theta,
        reps,
        level=level,
        method=method,
        rng=rng,
        n=n,
        n_strata=len(strata),
        n_boot=n_boot,
        bounds=bounds,
        scale=scale,
    )


def uq_auroc(
    indicator: Any,
    errors: Any,
    counts: Any = None,
    *,
    worst: float = AUROC_WORST,
    min_positives: int = MIN_POSITIVES_AUROC,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> Interval | Underpowered:
    """How well ``indicator`` (larger = more suspicious) finds each seed's worst ``worst``
    share of samples by error: the AUROC per seed (:func:`auroc`), averaged over seeds, with
    its interval. Each resample (by count stratum; seeds as for every metric) re-chooses its
    own worst ``ceil(worst * n)`` copies, so the interval includes the uncertainty of where
    "worst" starts (labels fixed on the full test set instead under-cover: 0.91 for a nominal
    0.95 in the test's bivariate-normal check). The ``t`` interval is built on the logit scale
    (AUROC clipped to half a pair from 0 and 1) and mapped back, so it stays inside [0, 1] and
    follows the skew near 1 (linear scale: 0.92-0.93 coverage in that check; logit: 0.95).

    Below ``min_positives`` worst samples per seed (``ceil(worst * n)``; 20 by default, i.e.
    400 test samples for the worst 5 %) no number is computed: :class:`Underpowered`.

    >>> import numpy as np
    >>> err = np.linspace(0.0, 1.0, 400)
    >>> iv = uq_auroc(err, err[None], n_boot=200)                     # a perfect indicator
    >>> iv.estimate, round(iv.low, 3), iv.high
    (1.0, 1.0, 1.0)
    >>> print(uq_auroc(err[:100], err[None, :100]))                   # 5 positives
    underpowered
    """
    options(level, n_boot, method)
    err = matrix(errors, "errors")
    ind = _indicator(indicator, err.shape)
    k = _k_of(_share(worst, "worst"), err.shape[1])
    if k < min_positives:
        return Underpowered(k, min_positives)

    def fn(x: np.ndarray, e: np.ndarray, w: np.ndarray) -> np.ndarray:
        pos = w * top_share(e, w, k, share_ties=False)
        return weighted_auroc(x, pos, w - pos)

    n = err.shape[1]
    return _score_interval(
        fn,
        ind,
        err,
        counts,
        level=level,
        n_boot=n_boot,
        seed=seed,
        method=method,
        bounds=(0.0, 1.0),
        what="the AUROC",
        scale=logit(0.5 / (k * (n - k))),
    )


def uq_spearman(
    indicator: Any,
    errors: Any,
    counts: Any = None,
    *,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> Interval:
    """Spearman's rank correlation between ``indicator`` and the per-sample error (average
    ranks for ties; on a resample a sample drawn k times is k tied values), averaged over
    seeds, with its interval, clipped to [-1, 1].

    >>> import numpy as np
    >>> err = np.linspace(0.0, 1.0, 200)
    >>> round(uq_spearman(-err, err, n_boot=200).estimate, 12)
    -1.0
    """
    options(level, n_boot, method)
    err = matrix(errors, "errors")
    ind = _indicator(indicator, err.shape)

    def fn(x: np.ndarray, e: np.ndarray, w: np.ndarray) -> np.ndarray:
        return weighted_pearson(weighted_ranks(x, w), weighted_ranks(e, w), w)

    return _score_interval(
        fn,
        ind,
        err,
        counts,
        level=level,
        n_boot=n_boot,
        seed=seed,
        method=method,
        bounds=(-1.0, 1.0),
        what="Spearman's correlation",
    )


def flag_weights(indicator: Any, share: float) -> np.ndarray:
    """Per-sample chance of being flagged when the ``ceil(share * n)`` most suspicious are
    flagged and ties at the threshold are broken at random (as ``diffbench.trust.scores``).

    >>> flag_weights([3.0, 1.0, 2.0, 2.0], 0.5).tolist()
    [1.0, 0.0, 0.5, 0.5]
    """
    a = np.asarray(indicator, dtype=np.float64).reshape(-1)
    a = np.where(np.isnan(a), np.inf, a)
    m = _k_of(_share(share, "flagged"), a.size)
    threshold = np.sort(a)[::-1][m - 1]
    above, tied = a > threshold, a == threshold
    out = above.astype(np.float64)
    out[tied] = (m - int(above.sum())) / int(tied.sum())
    return out


def worst_caught(
    indicator: Any,
    errors: Any,
    counts: Any = None,
    *,
    worst: float = CATCH_WORST,
    flagged: float = CATCH_FLAG,
    min_positives: int = MIN_POSITIVES_CAUGHT,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> Interval | Underpowered:
    """The share of each seed's worst ``worst`` samples (by error) among the ``flagged`` share
    flagged by ``indicator`` ("worst 1 % caught at 10 % flagged"), averaged over seeds, with
    its interval (each resample re-chooses its worst and its flagged copies, ties of the
    indicator shared as in :func:`flag_weights`), clipped to [0, 1].

    Its own power rule: below ``min_positives`` worst samples per seed (``ceil(worst * n)``,
    20 by default, i.e. 2000 test samples for the worst 1 %) the share moves in steps coarser
    than 0.05 and :class:`Underpowered` is returned.

    >>> import numpy as np
    >>> err = np.linspace(0.0, 1.0, 2000)
    >>> uq_worst = worst_caught(err, err, n_boot=200)
    >>> uq_worst.estimate, uq_worst.n_samples
    (1.0, 2000)
    >>> worst_caught(err[:800], err[:800])
    Underpowered(positives=8, required=20)
    """
    options(level, n_boot, method)
    err = matrix(errors, "errors")
    ind = _indicator(indicator, err.shape)
    k = _k_of(_share(worst, "worst"), err.shape[1])
    k_flag = _k_of(_share(flagged, "flagged"), err.shape[1])
    if k < min_positives:
        return Underpowered(k, min_positives)

    def fn(x: np.ndarray, e: np.ndarray, w: np.ndarray) -> np.ndarray:
        pos = w * top_share(e, w, k, share_ties=False)
        return (pos * top_share(x, w, k_flag, share_ties=True)).sum(axis=1) / pos.sum(axis=1)

    return _score_interval(
        fn,
        ind,
        err,
        counts,
        level=level,
        n_boot=n_boot,
        seed=seed,
        method=method,
        bounds=(0.0, 1.0),
        what="the caught share",
    )
