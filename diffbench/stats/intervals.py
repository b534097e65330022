"""Intervals of one entry: a per-sample mean or rms, a pooled ratio (nmae), a quantile or the
maximum (p99_sample_mae, max_abs_error), and per-count bands.

The methods are specified in the package docstring (:mod:`diffbench.stats`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DiffbenchError
from .core import (
    BOOT_SEED,
    LEVEL,
    N_BOOT,
    STATS,
    Interval,
    count_strata,
    interval,
    matrix,
    options,
    ratio_inputs,
    ratio_replicates,
    sample_weights,
    weight_rows,
)


def stat_inputs(errors: Any, stat: str, what: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    if stat not in STATS:
        raise DiffbenchError(f"unknown statistic {stat!r}; allowed: {', '.join(STATS)}")
    e = matrix(errors, what, n)
    return (e if stat == "mean" else e * e), np.ones_like(e)


def bootstrap_interval(
    errors: Any,
    counts: Any = None,
    *,
    stat: str = "mean",
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> Interval:
    """The interval of the seed mean of a per-sample statistic (the module docstring gives
    the method): ``errors`` is ``(seeds, samples)`` (a 1-D array is one seed), ``counts`` the
    source count of each sample (the strata; None: one stratum), ``stat`` ``"mean"`` or
    ``"rms"`` (the per-seed root mean square).

    With one seed only the test samples are resampled: the interval then ignores the
    variation between training seeds. Errors cannot be negative: for non-negative ``errors``
    the lower bound is clipped at 0 (a t interval over a few disagreeing seeds can run below).

    >>> import numpy as np
    >>> iv = bootstrap_interval(np.arange(1.0, 101.0), n_boot=500)     # mean 50.5, se 2.9
    >>> round(iv.estimate, 2), round(iv.low), round(iv.high), iv.n_seeds
    (50.5, 45, 56, 1)
    >>> bootstrap_interval([[1.0, 2.0], [1.0, np.nan]])
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: errors must be finite (found NaN or inf)
    """
    options(level, n_boot, method)
    num, den = stat_inputs(errors, stat, "errors")
    return _pooled(num, den, counts, stat, _nonnegative(num), level=level, n_boot=n_boot, seed=seed, method=method)


def ratio_interval(
    num: Any,
    den: Any,
    counts: Any = None,
    *,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> Interval:
    """The interval of a pooled ratio such as ``nmae``: per seed ``sum_i num[s, i] / sum_i
    den[s, i]``, recomputed on every resample, averaged over seeds. ``den`` may be one row
    (the same for every seed, e.g. ``sum |u|`` of each test target). For non-negative ``num``
    and positive ``den`` the lower bound is clipped at 0.

    >>> import numpy as np
    >>> u = np.full(100, 2.0)
    >>> e = np.tile(np.r_[np.zeros(50), np.ones(50)], (2, 1))           # nmae 0.25 for both seeds
    >>> iv = ratio_interval(e, u, n_boot=500)
    >>> iv.estimate, round(iv.low, 2), round(iv.high, 2)
    (0.25, 0.2, 0.3)
    """
    options(level, n_boot, method)
    nu, de = ratio_inputs(num, den, "ratio")
    bounds = _nonnegative(nu) if np.all(de > 0) else None
    return _pooled(nu, de, counts, "mean", bounds, level=level, n_boot=n_boot, seed=seed, method=method)


def _pooled(
    num: np.ndarray,
    den: np.ndarray,
    counts: Any,
    stat: str,
    bounds: tuple[float, float] | None,
    *,
    level: float,
    n_boot: int,
    seed: int,
    method: str,
) -> Interval:
    """The resampled interval of the seed mean of ``sum num / sum den`` (``stat``: see
    ``ratio_replicates``), test samples resampled within their count strata."""
    strata = count_strata(counts, num.shape[1])
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, num.shape[1], n_boot, rng)
    theta, reps = ratio_replicates(num, den, w, stat)
    n = num.shape[1]
    return interval(
        theta, reps, level=level, method=method, rng=rng, n=n, n_strata=len(strata), n_boot=n_boot, bounds=bounds
    )


def _nonnegative(values: np.ndarray) -> tuple[float, float] | None:
    """``(0, inf)`` when every value is >= 0 (an error or a pooled ratio of errors cannot be
    negative, so its interval's lower bound is clipped at 0), else no bounds."""
    return (0.0, float("inf")) if np.all(values >= 0) else None


def per_count_intervals(
    num: Any,
    counts: Any,
    den: Any = None,
    *,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> dict[int, Interval]:
    """The band of a per-count curve: for each source count, the interval of that count's
    samples alone (:func:`bootstrap_interval` of the mean when ``den`` is None, else
    :func:`ratio_interval` of the pooled ratio), all with the same resampling seed.

    >>> import numpy as np
    >>> e = np.r_[np.full(10, 0.1), np.full(10, 0.3)] + np.linspace(0, 0.01, 20)
    >>> bands = per_count_intervals(e, [1] * 10 + [2] * 10, n_boot=200)
    >>> sorted(bands), round(bands[1].estimate, 3), round(bands[2].estimate, 3)
    ([1, 2], 0.102, 0.308)
    """
    nu = matrix(num, "num")
    c = np.asarray(counts).reshape(-1)
    if c.size != nu.shape[1]:
        raise DiffbenchError(
            f"counts has {c.size} values but there are {nu.shape[1]} samples: one source count per test sample"
        )
    de = None if den is None else ratio_inputs(nu, den, "per-count")[1]
    out: dict[int, Interval] = {}
    for value in np.unique(c):
        m = c == value
        if den is None:
            out[int(value)] = bootstrap_interval(nu[:, m], level=level, n_boot=n_boot, seed=seed, method=method)
        else:
            out[int(value)] = ratio_interval(nu[:, m], de[:, m], level=level, n_boot=n_boot, seed=seed, method=method)
    return out


def seed_interval(mean: float, std: float, n: int, *, level: float = LEVEL) -> Interval:
    """The t interval of a mean over ``n`` training seeds from its summary (mean, unbiased std):
    ``mean +- t_{n-1, (1+level)/2} std / sqrt(n)``.

    For results that kept no per-sample errors (entries and studies written before they were
    recorded): the interval accounts for the seeds only, not for the finite test set, and says
    so in its method. One seed has no seed interval (``DiffbenchError``).

    >>> print(seed_interval(0.0602, 0.0051, 2))
    0.06 [0.01, 0.11]
    >>> seed_interval(0.0602, 0.0051, 2).method
    't interval over 2 seeds only (no per-sample errors recorded: the test-set part is not included)'
    """
    from scipy import stats as st

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise DiffbenchError(f"a seed interval needs at least 2 seeds, got {n!r}")
    if not all(np.isfinite(x) for x in (mean, std)) or std < 0:
        raise DiffbenchError(f"a seed interval needs a finite mean and a finite std >= 0, got {mean!r}, {std!r}")
    half = float(st.t.ppf(0.5 + level / 2, int(n) - 1)) * float(std) / np.sqrt(int(n))
    method = f"t interval over {int(n)} seeds only (no per-sample errors recorded: the test-set part is not included)"
    return Interval(float(mean), float(mean) - half, float(mean) + half, method, int(n), 0, level)


def quantile_replicates(values: np.ndarray, w: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed ``q``-quantiles (linear interpolation between order statistics, as
    :func:`numpy.quantile` and :func:`torch.quantile`) on the full set ``(S,)`` and on each
    resample ``(B, S)`` of multiplicities ``w`` (``q = 1``: the maximum). Each row of ``w``
    is a resample: it sums to the number of samples.

    The order statistics are counted from the top, over a window of the largest values just
    wide enough for the quantile (resamples whose window holds too few draws are counted
    over all samples), so that ``p99_sample_mae`` and ``max_abs_error`` of a large test set
    cost a small part of a full cumulative count.

    >>> import numpy as np
    >>> v = np.array([[1.0, 2.0, 3.0, 4.0]])
    >>> theta, reps = quantile_replicates(v, np.array([[1.0, 1, 1, 1], [0.0, 0, 2, 2]]), 0.5)
    >>> theta.tolist(), reps.tolist()
    ([2.5], [[2.5], [3.5]])
    """
    s, n = values.shape
    h = q * (n - 1)
    lo = int(np.floor(h))
    frac = h - lo
    hi = min(lo + 1, n - 1)
    top_lo, top_hi = n - 1 - lo, n - 1 - hi  # the same positions counted from the largest value
    window = min(n, 4 * (top_lo + 1) + 64)
    theta = np.quantile(values, q, axis=1)
    reps = np.empty((w.shape[0], s))
    for k in range(s):
        order = np.argsort(values[k], kind="stable")[::-1]
        v = values[k][order]
        c = np.cumsum(w[:, order[:window]], axis=1, dtype=np.float64)
        short = c[:, -1] <= top_lo
        j_lo = (c <= top_lo).sum(axis=1)
        j_hi = (c <= top_hi).sum(axis=1)
        if np.any(short):
            for rows, block in weight_rows(w[short], order):
                full = np.cumsum(block, axis=1)
                j_lo[np.flatnonzero(short)[rows]] = (full <= top_lo).sum(axis=1)
                j_hi[np.flatnonzero(short)[rows]] = (full <= top_hi).sum(axis=1)
        j_lo, j_hi = np.minimum(j_lo, n - 1), np.minimum(j_hi, n - 1)
        reps[:, k] = v[j_lo] + frac * (v[j_hi] - v[j_lo])
    return theta, reps


def quantile_interval(
    errors: Any,
    counts: Any = None,
    *,
    q: float,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> Interval:
    """The interval of the seed mean of a per-seed ``q``-quantile of per-sample values
    (``q = 0.99``: ``p99_sample_mae``; ``q = 1``: the maximum, ``max_abs_error``), with the
    same two-level resampling as :func:`bootstrap_interval`.

    An extreme statistic is what a bootstrap renders least well: a resample never exceeds
    the largest value observed, so the interval of a maximum shows how much the value
    depends on which test samples were drawn and which seeds trained, not how large the
    error could get on unseen samples (the lower bound is clipped at 0).

    >>> import numpy as np
    >>> e = np.linspace(0.0, 1.0, 101)
    >>> iv = quantile_interval(e, q=0.5, n_boot=500)
    >>> iv.estimate, 0.35 < iv.low < 0.5 < iv.high < 0.65
    (0.5, True)
    >>> quantile_interval(e, q=1.5)
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: quantile q must be in [0, 1], got 1.5
    """
    options(level, n_boot, method)
    if not (isinstance(q, (int, float)) and 0.0 <= q <= 1.0):
        raise DiffbenchError(f"quantile q must be in [0, 1], got {q!r}")
    v = matrix(errors, "errors")
    strata = count_strata(counts, v.shape[1])
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, v.shape[1], n_boot, rng)
    theta, reps = quantile_replicates(v, w, q)
    return interval(
        theta,
        reps,
        level=level,
        method=method,
        rng=rng,
        n=v.shape[1],
        n_strata=len(strata),
        n_boot=n_boot,
        bounds=_nonnegative(v),
    )
