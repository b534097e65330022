"""The data-scaling law ``metric = a + b log10(n)``: a weighted fit, the lack-of-fit F test and the range of n where the law holds.

The methods are specified in the package docstring (:mod:`diffbench.stats`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from ..errors import DiffbenchError

# --------------------------------------------------------------------------------------
# the data-scaling law: metric = a + b log10(n)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LawFit:
    """A straight-line fit of a metric against ``log10(n)``: ``slope`` is per decade of n.

    Weighted (``sems`` given): standard errors from the stated errors alone, and ``chi2`` on
    ``dof = points - 2`` with its p-value (a small p: the line does not fit within the stated
    errors). Unweighted: standard errors from the residual scatter; ``chi2`` and ``p_value``
    are None."""

    intercept: float
    slope: float
    intercept_se: float
    slope_se: float
    r2: float
    dof: int
    chi2: float | None
    p_value: float | None
    weighted: bool
    #: Covariance of the intercept and the slope (for the confidence band of the line).
    covariance: float = 0.0

    def band(self, n: float) -> float:
        """The standard error of the fitted line at size ``n`` (times a normal or t quantile: a confidence band).

        >>> fit = log_law_fit([10, 100, 1000], [0.3, 0.2, 0.1], [0.01, 0.01, 0.01])
        >>> round(fit.band(100), 6)    # at the mean of log10 n: 0.01 / sqrt(3)
        0.005774
        """
        x = math.log10(n)
        return math.sqrt(max(self.intercept_se**2 + 2 * x * self.covariance + x * x * self.slope_se**2, 0.0))


@dataclass(frozen=True)
class LackOfFit:
    """The lack-of-fit F test of ``value = a + b log10(n)`` on replicated sizes: ``f`` on
    ``(df_lack, df_pure)`` degrees of freedom, its p-value, the two sums of squares and the
    ordinary least-squares line."""

    f: float
    df_lack: int
    df_pure: int
    p_value: float
    ss_lack: float
    ss_pure: float
    intercept: float
    slope: float
    n_sizes: int
    n_points: int
    #: Standard error of the least-squares slope (from the residual scatter, ``N - 2`` degrees of freedom).
    slope_se: float = math.nan

    def falls(self, alpha: float = 0.05) -> bool:
        """Whether the slope is negative at level ``1 - alpha`` (one-sided t test): the error falls with n."""
        if not math.isfinite(self.slope_se):
            return False
        if self.slope_se == 0:
            return self.slope < 0
        return bool(self.slope / self.slope_se < -_st.t.ppf(1 - alpha, self.n_points - 2))


@dataclass(frozen=True)
class LawRange:
    """The widest contiguous range of sizes on which the log law is not rejected."""

    n_low: float
    n_high: float
    n_sizes: int
    test: LackOfFit


def _positive_sizes(n: Any, what: str) -> np.ndarray:
    x = np.asarray(n, dtype=np.float64).reshape(-1)
    if x.size == 0 or not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise DiffbenchError(f"{what} must be positive finite numbers of training samples")
    return x


def log_law_fit(n: Any, means: Any, sems: Any = None) -> LawFit:
    """Least squares of ``means`` on ``log10(n)``, one point per size, weighted by ``1 /
    sems**2`` when the standard errors of the means are given (e.g. half-widths / 1.96 of
    their intervals). ``R^2`` is weighted the same way.

    >>> fit = log_law_fit([10, 100, 1000], [0.3, 0.2, 0.1], [0.01, 0.01, 0.01])
    >>> round(fit.slope, 12), round(fit.intercept, 12), round(fit.r2, 12), round(fit.chi2, 12)
    (-0.1, 0.4, 1.0, 0.0)
    >>> round(fit.slope_se, 6)     # 0.01 / sqrt(sum (log10 n - 2)^2) = 0.01 / sqrt(2)
    0.007071
    """
    x = np.log10(_positive_sizes(n, "n"))
    y = np.asarray(means, dtype=np.float64).reshape(-1)
    if y.size != x.size or not np.all(np.isfinite(y)):
        raise DiffbenchError(f"means must be {x.size} finite numbers, one per size")
    if np.unique(x).size < 3:
        raise DiffbenchError("log_law_fit needs at least 3 distinct sizes")
    weighted = sems is not None
    if weighted:
        s = np.asarray(sems, dtype=np.float64).reshape(-1)
        if s.size != x.size or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise DiffbenchError(f"sems must be {x.size} positive finite numbers, one per size")
        wt = 1.0 / s**2
    else:
        wt = np.ones_like(x)
    design = np.stack([np.ones_like(x), x], axis=1)
    xtwx = design.T @ (wt[:, None] * design)
    cov = np.linalg.inv(xtwx)
    beta = cov @ (design.T @ (wt * y))
    resid = y - design @ beta
    ss_res = float(np.sum(wt * resid**2))
    ybar = float(np.sum(wt * y) / np.sum(wt))
    ss_tot = float(np.sum(wt * (y - ybar) ** 2))
    dof = x.size - 2
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    if weighted:
        chi2, p = ss_res, float(_st.chi2.sf(ss_res, dof))
    else:
        cov = cov * (ss_res / dof)
        chi2, p = None, None
    return LawFit(
        float(beta[0]),
        float(beta[1]),
        float(math.sqrt(cov[0, 0])),
        float(math.sqrt(cov[1, 1])),
        r2,
        dof,
        chi2,
        p,
        weighted,
        float(cov[0, 1]),
    )


def lack_of_fit(n_per_point: Any, values: Any) -> LackOfFit:
    """The lack-of-fit F test of the log law on independent replicates: ``n_per_point[j]``
    is the size of observation ``values[j]`` (each size repeated once per replicate, e.g. one
    value per training seed *with its own training subset*; replicates that share a subset
    are not independent and must be averaged first).

    With ``m`` sizes and ``N`` observations, the ordinary least-squares line's residual sum of
    squares splits into pure error ``SS_pe = sum (value - mean of its size)^2`` on ``N - m``
    degrees of freedom and lack of fit ``SS_lof = SS_res - SS_pe`` on ``m - 2``;
    ``F = (SS_lof / (m - 2)) / (SS_pe / (N - m))``, p from ``scipy.stats.f``.

    >>> t = lack_of_fit([10, 10, 100, 100, 1000, 1000], [1, 3, 2, 4, 5, 7])
    >>> t.df_lack, t.df_pure, t.ss_pure, round(t.ss_lack, 12), round(t.f, 12)
    (1, 3, 6.0, 1.333333333333, 0.666666666667)

    (By hand: the size means 2, 3, 6 at log10 n = 1, 2, 3 lie 1/3, -2/3, 1/3 off the line
    ``-1/3 + 2 log10 n``, so ``SS_lof = 2 x 2/3``; ``SS_pe = 6 x 1``; ``F = (4/3) / (6/3)``.)
    """
    x = np.log10(_positive_sizes(n_per_point, "n_per_point"))
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if y.size != x.size or not np.all(np.isfinite(y)):
        raise DiffbenchError(f"values must be {x.size} finite numbers, one per entry of n_per_point")
    sizes, group = np.unique(x, return_inverse=True)
    m, n = sizes.size, x.size
    if m < 3:
        raise DiffbenchError("lack_of_fit needs at least 3 distinct sizes")
    if n - m < 1:
        raise DiffbenchError("lack_of_fit needs replicates: at least one size with 2 or more values")
    slope, intercept = np.polyfit(x, y, 1)
    ss_res = float(np.sum((y - (intercept + slope * x)) ** 2))
    group_mean = np.bincount(group, weights=y) / np.bincount(group)
    ss_pure = float(np.sum((y - group_mean[group]) ** 2))
    ss_lack = max(ss_res - ss_pure, 0.0)
    df_lack, df_pure = m - 2, n - m
    if ss_pure > 0:
        f = (ss_lack / df_lack) / (ss_pure / df_pure)
        p = float(_st.f.sf(f, df_lack, df_pure))
    else:
        f, p = (math.inf, 0.0) if ss_lack > 0 else (0.0, 1.0)
    sxx = float(np.sum((x - x.mean()) ** 2))
    slope_se = math.sqrt(ss_res / (n - 2) / sxx) if n > 2 else math.nan
    return LackOfFit(float(f), df_lack, df_pure, p, ss_lack, ss_pure, float(intercept), float(slope), m, n, slope_se)


def log_law_range(n_per_point: Any, values: Any, alpha: float = 0.05, *, falling: bool = False) -> LawRange | None:
    """The widest contiguous range of sizes (at least 3, with replicates) on which
    :func:`lack_of_fit` does not reject the log law at ``alpha`` (with ``falling``, only
    ranges where the error also falls with n, :meth:`LackOfFit.falls`: a plateau fits a straight
    line too); ties: the larger p-value, then the smaller sizes. None when no such range exists.

    >>> n = [10, 10, 100, 100, 1000, 1000, 10000, 10000]
    >>> v = [0.30, 0.31, 0.20, 0.21, 0.10, 0.11, 0.10, 0.11]        # the law, then a plateau
    >>> r = log_law_range(n, v)
    >>> r.n_low, r.n_high, r.n_sizes
    (10.0, 1000.0, 3)
    >>> v = [0.30, 0.31, 0.30, 0.31, 0.30, 0.31, 0.20, 0.21]        # a plateau, then a fall
    >>> r = log_law_range(n, v); (r.n_low, r.n_high), r.test.falls()
    ((10.0, 1000.0), False)
    >>> log_law_range(n, v, falling=True) is None
    True
    """
    x = _positive_sizes(n_per_point, "n_per_point")
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if y.size != x.size:
        raise DiffbenchError(f"values must be {x.size} numbers, one per entry of n_per_point")
    sizes = np.unique(x)
    best: LawRange | None = None
    for i in range(sizes.size):
        for j in range(i + 2, sizes.size):
            keep = (x >= sizes[i]) & (x <= sizes[j])
            if keep.sum() - (j - i + 1) < 1:
                continue
            test = lack_of_fit(x[keep], y[keep])
            if test.p_value < alpha or (falling and not test.falls(alpha)):
                continue
            cand = LawRange(float(sizes[i]), float(sizes[j]), j - i + 1, test)
            if best is None or (cand.n_sizes, cand.test.p_value) > (best.n_sizes, best.test.p_value):
                best = cand
    return best


# --------------------------------------------------------------------------------------
