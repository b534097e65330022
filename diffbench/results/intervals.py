"""Intervals, paired comparisons, honest ranks, uncertainty-score power and the scaling-law
fit: the statistics behind every number diffbench publishes (NumPy and SciPy only, no torch).

Contents: :func:`bootstrap_interval`, :func:`ratio_interval` and :func:`per_count_intervals`
(one entry); :func:`paired_difference`, :func:`paired_ratio_difference` and
:func:`tied_ranks` (comparisons; :func:`holm_reject`); :func:`uq_auroc`, :func:`uq_spearman`
and :func:`worst_caught` (uncertainty scores, :class:`Underpowered` below their positive
count); :func:`log_law_fit`, :func:`lack_of_fit` and :func:`log_law_range` (the data-scaling
law); :func:`format_interval` (the one way an interval is printed).

The data
--------
Every entry of a task is scored on the *same* test samples. A metric's raw material is a
matrix ``errors[s, i]``: one float per training seed ``s`` (rows, ``S`` of them) per test
sample ``i`` (columns, ``N`` of them, in the same order for every seed and every entry), and
``counts[i]``, the source count of sample ``i`` (the stratum). A ratio metric such as
``nmae = sum |e| / sum |u|`` comes as two such matrices, ``num`` and ``den`` (``den`` may be a
single row when it does not depend on the seed), and is pooled on every resample.

The per-seed statistic ``theta_s`` is the mean of row ``s`` (``stat="mean"``), its root mean
square (``stat="rms"``) or the pooled ratio ``sum_i num[s, i] / sum_i den[s, i]``. The
estimate is the mean over seeds of ``theta_s``, i.e. the seed average result.json reports.

The resampling (both methods)
-----------------------------
``B = n_boot`` resamples of the test samples, stratified by source count: within each count,
as many samples as it has are drawn with replacement, and the *same* draw is applied to every
seed and to every entry being compared (the samples are shared, so they are resampled
together; a resample is a vector of per-sample multiplicities ``w[b, i]``). Each resample
gives every seed's statistic ``theta*_{b,s}``. Everything is deterministic given ``seed``
(NumPy's ``default_rng``).

Interval methods
----------------
``method="t"`` (the default): a two-level bootstrap-t with Satterthwaite degrees of freedom.
The variance of the estimate is split into its two sources, seeds and test samples:

* ``V_samples = var_b(mean_s theta*_{b,s})``: the test-sample part (seeds held fixed);
* ``V_seeds = var_s(theta_s) / S - V_inter``: the seed part, the between-seed variance of the
  per-seed statistics (ddof 1) over ``S``, less ``V_inter = mean_s var_b(theta*_{b,s} -
  mean_s' theta*_{b,s'}) / (S - 1)``, the seed x sample interaction that both terms would
  otherwise count (floored at 0). For a mean in the crossed random-effects model
  ``e = mu + a_s + b_i + eps_si`` (seed, sample, interaction) ``V_samples + V_seeds`` then
  estimates the variance of the estimate, ``s_a^2/S + s_b^2/N + s_eps^2/(S N)``, like the
  two-way ANOVA estimate does;
* interval ``estimate +- t_{nu, (1+level)/2} sqrt(V_samples + V_seeds)`` with
  ``nu = V^2 / (V_seeds^2 / (S - 1) + V_samples^2 / (N - K))`` (K strata).

With 3 seeds the seed part has 2 degrees of freedom: when it dominates, ``t`` is ~4.3, not
1.96, and the interval says so. A plain percentile bootstrap that also resamples the seeds
cannot: 3 seeds give 10 distinct seed resamples whose spread underestimates the seed
variance by ``(S-1)/S`` and whose quantiles are normal-like, so it under-covers badly when the
seed variance matters. Measured coverage of nominal 95 % intervals over 400 synthetic draws
(3 seeds x 200 samples in 10 strata; ``tests/results/test_intervals.py``), ``t`` vs
``percentile``: samples dominate 0.940 vs 0.933; seeds matter 0.935 vs 0.825; interaction
dominates 0.948 vs 0.995; one seed 0.955 vs 0.950; 5 seeds with seed variance 0.948 vs 0.865.

``method="percentile"``: the plain two-level percentile bootstrap: each resample also draws
``S`` seeds with replacement (independently per entry) and the interval is the
``(1-level)/2`` and ``(1+level)/2`` quantiles of the resampled estimates. Offered for
comparison and for statistics whose distribution is skewed when the seed variance is
negligible.

One seed (``S == 1``): both methods resample test samples only, and the interval says nothing
about the variation between training seeds (the method string says so).

Paired comparisons use the same samples' resamples for both entries (the difference is
computed per resample, so the variation the entries share cancels); the seeds of the two
entries are different models, so their seed parts add. The p-value is two-sided: from the
same t distribution (``method="t"``: ``p < 1 - level`` exactly when the interval excludes 0)
or the percentile bootstrap's ``2 min(P*(d <= 0), P*(d >= 0))`` (counted as ``(k + 1) / (B +
1)``, so never 0).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> counts = np.repeat(np.arange(1, 21), 40)                       # 800 samples, 20 counts
>>> hard = rng.gamma(4.0, 0.02, size=800)                          # shared per-sample difficulty
>>> errors = hard + rng.normal(0, 0.003, size=(3, 1)) + rng.normal(0, 0.005, size=(3, 800))
>>> iv = bootstrap_interval(errors, counts)
>>> print(iv)
0.079 [0.076, 0.083]
>>> iv.n_seeds, iv.n_samples, iv.method
(3, 800, 'two-level bootstrap-t (3 seeds, 800 samples in 20 count strata, 2000 resamples)')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from ..errors import DiffbenchError

#: Resamples per interval unless told otherwise.
N_BOOT = 2000
#: The resampling seed unless told otherwise (results are deterministic given it).
BOOT_SEED = 0
#: The interval level.
LEVEL = 0.95
#: The interval methods (see the module docstring).
METHODS = ("t", "percentile")
#: Per-seed statistics of a per-sample error matrix.
STATS = ("mean", "rms")
#: Multiple-comparison handling in :func:`tied_ranks`.
CORRECTIONS = ("holm", "none")
#: The fewest positives (per seed) an AUROC is computed on; below it: :class:`Underpowered`.
#: With 20 positives the standard error of an AUROC near 0.8 is about 0.05 (Hanley-McNeil).
MIN_POSITIVES_AUROC = 20
#: The fewest worst samples (per seed) a caught share is computed on. The share takes values
#: in steps of ``1 / positives`` and its binomial standard error at 1/2 is ``0.5 /
#: sqrt(positives)``: 20 gives steps of 0.05 and a standard error of 0.11.
MIN_POSITIVES_CAUGHT = 20
#: Default shares: the worst share an AUROC detects, and the worst / flagged shares of the
#: caught statistic (as in ``diffbench.trust.scores``).
AUROC_WORST = 0.05
CATCH_WORST = 0.01
CATCH_FLAG = 0.10


# --------------------------------------------------------------------------------------
# typed results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval, and how it was obtained."""

    estimate: float
    low: float
    high: float
    method: str
    n_seeds: int
    n_samples: int
    level: float = LEVEL

    def __str__(self) -> str:
        return format_interval(self.estimate, self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "level": self.level,
                "method": self.method, "n_seeds": self.n_seeds, "n_samples": self.n_samples}


@dataclass(frozen=True)
class Difference:
    """A paired difference ``a - b`` with its interval and two-sided p-value."""

    estimate: float
    low: float
    high: float
    p_value: float
    method: str
    n_seeds_a: int
    n_seeds_b: int
    n_samples: int
    level: float = LEVEL

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return not (self.low <= 0.0 <= self.high)

    def __str__(self) -> str:
        return f"{format_interval(self.estimate, self.low, self.high)} (p = {format_p(self.p_value)})"

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "level": self.level,
                "p_value": self.p_value, "method": self.method, "n_seeds_a": self.n_seeds_a,
                "n_seeds_b": self.n_seeds_b, "n_samples": self.n_samples}


@dataclass(frozen=True)
class Underpowered:
    """A score that is not computed: too few positives for a number worth printing."""

    positives: int
    required: int

    def __str__(self) -> str:
        return "underpowered"

    def to_dict(self) -> dict[str, Any]:
        return {"underpowered": True, "positives": self.positives, "required": self.required}


@dataclass(frozen=True)
class RankedEntry:
    """One entry of a board: its rank, the leader of its rank, and its difference with it
    (``None`` for the leader itself), oriented so that a positive difference is worse."""

    name: str
    rank: int
    estimate: float
    leader: str
    versus_leader: Difference | None


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------


def _matrix(x: Any, what: str, n: int | None = None) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise DiffbenchError(f"{what} must be an array of numbers (seeds x samples)") from None
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 2:
        raise DiffbenchError(f"{what} must be a (seeds x samples) array with at least 2 samples, got shape {np.shape(x)}")
    if n is not None and a.shape[1] != n:
        raise DiffbenchError(f"{what} has {a.shape[1]} samples but the other inputs {n}: entries must share the test samples")
    if not np.all(np.isfinite(a)):
        raise DiffbenchError(f"{what} must be finite (found NaN or inf)")
    return a


def _strata(counts: Any, n: int) -> list[np.ndarray]:
    """Indices of each stratum (sorted by count value); one stratum when ``counts`` is None."""
    if counts is None:
        return [np.arange(n)]
    c = np.asarray(counts).reshape(-1)
    if c.size != n:
        raise DiffbenchError(f"counts has {c.size} values but there are {n} samples: one source count per test sample")
    values, inverse = np.unique(c, return_inverse=True)
    return [np.flatnonzero(inverse == k) for k in range(values.size)]


def _options(level: float, n_boot: int, method: str) -> None:
    if not (isinstance(level, (int, float)) and 0.0 < level < 1.0):
        raise DiffbenchError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
        raise DiffbenchError(f"n_boot must be an integer of at least 100, got {n_boot!r}")
    if method not in METHODS:
        raise DiffbenchError(f"unknown interval method {method!r}; allowed: {', '.join(METHODS)}")


def _ratio_inputs(num: Any, den: Any, what: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    nu = _matrix(num, f"{what} numerator", n)
    de = _matrix(den, f"{what} denominator", nu.shape[1])
    if de.shape[0] not in (1, nu.shape[0]):
        raise DiffbenchError(f"{what} denominator has {de.shape[0]} seeds but the numerator {nu.shape[0]}: give one row or one per seed")
    if np.any(de < 0) or np.any(de.sum(axis=1) <= 0):
        raise DiffbenchError(f"{what} denominator must be non-negative with a positive sum per seed")
    return nu, np.broadcast_to(de, nu.shape)


# --------------------------------------------------------------------------------------
# the resampling core
# --------------------------------------------------------------------------------------


def sample_weights(strata: Sequence[np.ndarray], n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, n)`` multiplicities of a stratified resample: within each stratum, as many
    draws with replacement as it has samples.

    >>> w = sample_weights([np.arange(3), np.arange(3, 5)], 5, 4, np.random.default_rng(0))
    >>> w.shape, w[:, :3].sum(axis=1).tolist(), w[:, 3:].sum(axis=1).tolist()
    ((4, 5), [3.0, 3.0, 3.0, 3.0], [2.0, 2.0, 2.0, 2.0])
    """
    w = np.zeros((n_boot, n))
    offsets = np.arange(n_boot)[:, None]
    for idx in strata:
        k = idx.size
        draws = rng.integers(0, k, size=(n_boot, k)) + offsets * k
        w[:, idx] = np.bincount(draws.ravel(), minlength=n_boot * k).reshape(n_boot, k)
    return w


def _seed_weights(n_seeds: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    draws = rng.integers(0, n_seeds, size=(n_boot, n_seeds)) + np.arange(n_boot)[:, None] * n_seeds
    return np.bincount(draws.ravel(), minlength=n_boot * n_seeds).reshape(n_boot, n_seeds).astype(np.float64)


def _ratio_replicates(num: np.ndarray, den: np.ndarray, w: np.ndarray, stat: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed statistics on the full set ``(S,)`` and on each resample ``(B, S)``."""
    theta = num.sum(axis=1) / den.sum(axis=1)
    d = w @ den.T
    if np.any(d <= 0):
        raise DiffbenchError("a resample's denominator sums to 0: too few samples with a non-zero denominator in a stratum")
    reps = (w @ num.T) / d
    if stat == "rms":
        theta, reps = np.sqrt(theta), np.sqrt(reps)
    return theta, reps


def _seed_parts(theta: np.ndarray, reps: np.ndarray) -> float:
    """The seed part of the variance of the seed mean (0 for one seed); see the module docstring."""
    s = theta.size
    if s < 2:
        return 0.0
    between = float(np.var(theta, ddof=1)) / s
    inter = float(np.mean(np.var(reps - reps.mean(axis=1, keepdims=True), axis=0))) / (s - 1)
    return max(between - inter, 0.0)


def _t_interval(est: float, parts: Sequence[tuple[float, float]], level: float) -> tuple[float, float, float, float]:
    """``(low, high, se, nu)`` from variance parts ``(V, df)`` by Welch-Satterthwaite."""
    var = sum(v for v, _ in parts)
    if var <= 0.0:
        return est, est, 0.0, math.inf
    den = sum(v * v / df for v, df in parts if math.isfinite(df) and v > 0)
    nu = var * var / den if den > 0 else math.inf
    se = math.sqrt(var)
    q = float(_st.norm.ppf(0.5 + level / 2)) if math.isinf(nu) else float(_st.t.ppf(0.5 + level / 2, nu))
    return est - q * se, est + q * se, se, nu


def _describe(method: str, n_seeds: int | str, n: int, strata: int, n_boot: int) -> str:
    name = "two-level bootstrap-t" if method == "t" else "two-level percentile bootstrap"
    if n_seeds == 1:
        name = ("sample bootstrap-t" if method == "t" else "sample percentile bootstrap")
        return f"{name} (one seed: seed variance not included; {n} samples in {strata} count strata, {n_boot} resamples)"
    return f"{name} ({n_seeds} seeds, {n} samples in {strata} count strata, {n_boot} resamples)"


def _clip(x: float, bounds: tuple[float, float] | None) -> float:
    return x if bounds is None else float(min(max(x, bounds[0]), bounds[1]))


def _logit(eps: float) -> tuple[Callable[[Any], Any], Callable[[float], float]]:
    """The logit of a share clipped to ``[eps, 1 - eps]``, and its inverse."""

    def forward(p: Any) -> Any:
        q = np.clip(p, eps, 1.0 - eps)
        return np.log(q / (1.0 - q))

    return forward, lambda z: float(1.0 / (1.0 + math.exp(-z)))


def _interval(theta: np.ndarray, reps: np.ndarray, *, level: float, method: str, rng: np.random.Generator,
              n: int, n_strata: int, n_boot: int, bounds: tuple[float, float] | None = None,
              scale: tuple[Callable[[Any], Any], Callable[[float], float]] | None = None) -> Interval:
    """The interval of the seed mean; ``scale = (g, g^-1)``: the t interval is built on the
    scale of ``g`` (centred on ``g(estimate)``) and mapped back."""
    s = theta.size
    est = float(theta.mean())
    if method == "t":
        g, g_inv = scale if scale is not None else ((lambda x: x), float)
        theta_g, reps_g = g(theta), g(reps)
        v_samples = float(np.var(reps_g.mean(axis=1), ddof=1))
        parts = [(v_samples, float(n - n_strata) if n > n_strata else math.inf), (_seed_parts(theta_g, reps_g), s - 1.0)]
        low, high, _, _ = _t_interval(float(g(est)), parts, level)
        low, high = min(g_inv(low), est), max(g_inv(high), est)  # est may sit on g's clip
    else:
        v = _seed_weights(s, n_boot, rng)
        boot = (v * reps).sum(axis=1) / s
        low, high = (float(q) for q in np.quantile(boot, [0.5 - level / 2, 0.5 + level / 2]))
    return Interval(est, _clip(low, bounds), _clip(high, bounds), _describe(method, s, n, n_strata, n_boot), s, n, level)


def _difference(ta: np.ndarray, ra: np.ndarray, tb: np.ndarray, rb: np.ndarray, *, level: float, method: str,
                rng: np.random.Generator, n: int, n_strata: int, n_boot: int) -> Difference:
    est = float(ta.mean() - tb.mean())
    if method == "t":
        v_samples = float(np.var(ra.mean(axis=1) - rb.mean(axis=1), ddof=1))
        parts = [(v_samples, float(n - n_strata) if n > n_strata else math.inf),
                 (_seed_parts(ta, ra), ta.size - 1.0), (_seed_parts(tb, rb), tb.size - 1.0)]
        low, high, se, nu = _t_interval(est, parts, level)
        if se == 0.0:
            p = 1.0 if est == 0.0 else 0.0
        else:
            p = float(2.0 * (_st.norm.sf(abs(est) / se) if math.isinf(nu) else _st.t.sf(abs(est) / se, nu)))
    else:
        va, vb = _seed_weights(ta.size, n_boot, rng), _seed_weights(tb.size, n_boot, rng)
        boot = (va * ra).sum(axis=1) / ta.size - (vb * rb).sum(axis=1) / tb.size
        low, high = (float(q) for q in np.quantile(boot, [0.5 - level / 2, 0.5 + level / 2]))
        below, above = np.count_nonzero(boot <= 0), np.count_nonzero(boot >= 0)
        p = float(min(1.0, 2.0 * (min(below, above) + 1) / (n_boot + 1)))
    seeds = f"{ta.size} and {tb.size}" if ta.size != tb.size else ta.size
    return Difference(est, low, high, p, "paired " + _describe(method, seeds, n, n_strata, n_boot), ta.size, tb.size, n, level)


# --------------------------------------------------------------------------------------
# intervals of one entry
# --------------------------------------------------------------------------------------


def _stat_inputs(errors: Any, stat: str, what: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    if stat not in STATS:
        raise DiffbenchError(f"unknown statistic {stat!r}; allowed: {', '.join(STATS)}")
    e = _matrix(errors, what, n)
    return (e if stat == "mean" else e * e), np.ones_like(e)


def bootstrap_interval(errors: Any, counts: Any = None, *, stat: str = "mean", level: float = LEVEL,
                       n_boot: int = N_BOOT, seed: int = BOOT_SEED, method: str = "t") -> Interval:
    """The interval of the seed mean of a per-sample statistic (the module docstring gives
    the method): ``errors`` is ``(seeds, samples)`` (a 1-D array is one seed), ``counts`` the
    source count of each sample (the strata; None: one stratum), ``stat`` ``"mean"`` or
    ``"rms"`` (the per-seed root mean square).

    With one seed only the test samples are resampled: the interval then ignores the
    variation between training seeds.

    >>> import numpy as np
    >>> iv = bootstrap_interval(np.arange(1.0, 101.0), n_boot=500)     # mean 50.5, se 2.9
    >>> round(iv.estimate, 2), round(iv.low), round(iv.high), iv.n_seeds
    (50.5, 45, 56, 1)
    >>> bootstrap_interval([[1.0, 2.0], [1.0, np.nan]])
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: errors must be finite (found NaN or inf)
    """
    _options(level, n_boot, method)
    num, den = _stat_inputs(errors, stat, "errors")
    strata = _strata(counts, num.shape[1])
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, num.shape[1], n_boot, rng)
    theta, reps = _ratio_replicates(num, den, w, stat)
    return _interval(theta, reps, level=level, method=method, rng=rng, n=num.shape[1], n_strata=len(strata), n_boot=n_boot)


def ratio_interval(num: Any, den: Any, counts: Any = None, *, level: float = LEVEL, n_boot: int = N_BOOT,
                   seed: int = BOOT_SEED, method: str = "t") -> Interval:
    """The interval of a pooled ratio such as ``nmae``: per seed ``sum_i num[s, i] / sum_i
    den[s, i]``, recomputed on every resample, averaged over seeds. ``den`` may be one row
    (the same for every seed, e.g. ``sum |u|`` of each test target).

    >>> import numpy as np
    >>> u = np.full(100, 2.0)
    >>> e = np.tile(np.r_[np.zeros(50), np.ones(50)], (2, 1))           # nmae 0.25 for both seeds
    >>> iv = ratio_interval(e, u, n_boot=500)
    >>> iv.estimate, round(iv.low, 2), round(iv.high, 2)
    (0.25, 0.2, 0.3)
    """
    _options(level, n_boot, method)
    nu, de = _ratio_inputs(num, den, "ratio")
    strata = _strata(counts, nu.shape[1])
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, nu.shape[1], n_boot, rng)
    theta, reps = _ratio_replicates(nu, de, w, "mean")
    return _interval(theta, reps, level=level, method=method, rng=rng, n=nu.shape[1], n_strata=len(strata), n_boot=n_boot)


def per_count_intervals(num: Any, counts: Any, den: Any = None, *, level: float = LEVEL, n_boot: int = N_BOOT,
                        seed: int = BOOT_SEED, method: str = "t") -> dict[int, Interval]:
    """The band of a per-count curve: for each source count, the interval of that count's
    samples alone (:func:`bootstrap_interval` of the mean when ``den`` is None, else
    :func:`ratio_interval` of the pooled ratio), all with the same resampling seed.

    >>> import numpy as np
    >>> e = np.r_[np.full(10, 0.1), np.full(10, 0.3)] + np.linspace(0, 0.01, 20)
    >>> bands = per_count_intervals(e, [1] * 10 + [2] * 10, n_boot=200)
    >>> sorted(bands), round(bands[1].estimate, 3), round(bands[2].estimate, 3)
    ([1, 2], 0.102, 0.308)
    """
    nu = _matrix(num, "num")
    c = np.asarray(counts).reshape(-1)
    if c.size != nu.shape[1]:
        raise DiffbenchError(f"counts has {c.size} values but there are {nu.shape[1]} samples: one source count per test sample")
    de = None if den is None else _ratio_inputs(nu, den, "per-count")[1]
    out: dict[int, Interval] = {}
    for value in np.unique(c):
        m = c == value
        if den is None:
            out[int(value)] = bootstrap_interval(nu[:, m], level=level, n_boot=n_boot, seed=seed, method=method)
        else:
            out[int(value)] = ratio_interval(nu[:, m], de[:, m], level=level, n_boot=n_boot, seed=seed, method=method)
    return out


# --------------------------------------------------------------------------------------
# paired comparisons and ranks
# --------------------------------------------------------------------------------------


def paired_difference(errors_a: Any, errors_b: Any, counts: Any = None, *, stat: str = "mean", level: float = LEVEL,
                      n_boot: int = N_BOOT, seed: int = BOOT_SEED, method: str = "t") -> Difference:
    """The paired difference ``a - b`` of two entries scored on the same test samples
    (``(seeds, samples)`` each; the seed counts may differ): the samples are resampled
    together (stratified by count), the seeds of each entry independently.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> base = rng.gamma(2.0, 0.05, size=400)
    >>> d = paired_difference(base + 0.01 + rng.normal(0, 0.002, (3, 400)), base + rng.normal(0, 0.002, (3, 400)))
    >>> round(d.estimate, 3), d.significant, d.p_value < 0.001
    (0.01, True, True)
    >>> paired_difference(base[None], base[None]).p_value
    1.0
    """
    _options(level, n_boot, method)
    na, da = _stat_inputs(errors_a, stat, "errors_a")
    nb, db = _stat_inputs(errors_b, stat, "errors_b", na.shape[1])
    return _paired(na, da, nb, db, counts, stat, level, n_boot, seed, method)


def paired_ratio_difference(num_a: Any, den_a: Any, num_b: Any, den_b: Any, counts: Any = None, *, level: float = LEVEL,
                            n_boot: int = N_BOOT, seed: int = BOOT_SEED, method: str = "t") -> Difference:
    """:func:`paired_difference` for pooled ratios (see :func:`ratio_interval`).

    >>> import numpy as np
    >>> u = np.linspace(1.0, 2.0, 200)
    >>> d = paired_ratio_difference(0.2 * u, u, 0.1 * u, u, n_boot=500)
    >>> round(d.estimate, 12), round(d.low, 12), round(d.high, 12)
    (0.1, 0.1, 0.1)
    """
    _options(level, n_boot, method)
    na, da = _ratio_inputs(num_a, den_a, "entry a")
    nb, db = _ratio_inputs(num_b, den_b, "entry b", na.shape[1])
    return _paired(na, da, nb, db, counts, "mean", level, n_boot, seed, method)


def _paired(na: np.ndarray, da: np.ndarray, nb: np.ndarray, db: np.ndarray, counts: Any, stat: str, level: float,
            n_boot: int, seed: int, method: str) -> Difference:
    n = na.shape[1]
    strata = _strata(counts, n)
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, n, n_boot, rng)
    ta, ra = _ratio_replicates(na, da, w, stat)
    tb, rb = _ratio_replicates(nb, db, w, stat)
    return _difference(ta, ra, tb, rb, level=level, method=method, rng=rng, n=n, n_strata=len(strata), n_boot=n_boot)


def holm_reject(p_values: Sequence[float], alpha: float = 1.0 - LEVEL) -> list[bool]:
    """Holm's step-down procedure: sort the ``m`` p-values, reject the ``j``-th smallest
    (``j = 0, 1, ...``) while it is below ``alpha / (m - j)``, then stop. Controls the
    family-wise error rate at ``alpha``; returned in the input order.

    >>> holm_reject([0.03, 0.03], 0.05), holm_reject([0.01, 0.03], 0.05), holm_reject([0.04, 0.001, 0.2], 0.05)
    ([False, False], [True, True], [False, True, False])
    """
    m = len(p_values)
    out = [False] * m
    for j, i in enumerate(sorted(range(m), key=lambda k: (p_values[k], k))):
        if not p_values[i] < alpha / (m - j):
            break
        out[i] = True
    return out


def tied_ranks(entries: Mapping[str, Any], counts: Any = None, *, lower_is_better: bool = True, stat: str = "mean",
               correction: str = "holm", level: float = LEVEL, n_boot: int = N_BOOT, seed: int = BOOT_SEED,
               method: str = "t") -> list[RankedEntry]:
    """Honest ranks for a board whose entries share the test samples.

    ``entries`` maps a name to its ``(seeds, samples)`` per-sample errors, or to a pair
    ``(num, den)`` for a pooled ratio (all entries one kind). The rule, repeated until every
    entry is ranked, with rank ``r = 1, 2, ...``:

    1. the leader is the remaining entry with the best estimate (ties: the first name);
    2. each other remaining entry is compared with the leader, paired
       (:func:`paired_difference`, one set of sample resamples for the whole board), as
       ``worse - better``;
    3. the leader and every entry *not* significantly worse than it get rank ``r``.

    "Significantly worse" at ``alpha = 1 - level``: with ``correction="holm"`` (the default)
    by Holm's step-down procedure over that round's comparisons (it controls the chance of
    declaring any entry of the round worse when it is not, at ``alpha``); with ``"none"``,
    ``p < alpha`` for each comparison alone (under ``method="t"`` exactly: the difference's
    interval excludes 0), which separates more entries than the data support when a board is
    long. Rounds are not corrected against each other. The result is sorted by rank, then
    estimate.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> base = rng.gamma(2.0, 0.05, size=(1, 400))
    >>> noise = lambda: rng.normal(0, 0.002, (3, 400))
    >>> board = {"a": base + noise(), "b": base + 0.0002 + noise(), "c": base + 0.02 + noise()}
    >>> [(e.name, e.rank, e.leader) for e in tied_ranks(board)]
    [('a', 1, 'a'), ('b', 1, 'a'), ('c', 2, 'c')]
    """
    _options(level, n_boot, method)
    if correction not in CORRECTIONS:
        raise DiffbenchError(f"unknown correction {correction!r}; allowed: {', '.join(CORRECTIONS)}")
    if not entries:
        raise DiffbenchError("tied_ranks needs at least one entry")
    names = [str(k) for k in entries]
    prepared: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    n: int | None = None
    ratio = None
    for name, value in entries.items():
        is_ratio = isinstance(value, tuple)
        if ratio is not None and is_ratio != ratio:
            raise DiffbenchError("tied_ranks: entries must all be error arrays or all (num, den) pairs")
        ratio = is_ratio
        if is_ratio:
            if len(value) != 2:
                raise DiffbenchError(f"entry {name!r}: a ratio entry is a pair (num, den)")
            prepared[str(name)] = _ratio_inputs(value[0], value[1], f"entry {name!r}", n)
        else:
            prepared[str(name)] = _stat_inputs(value, stat, f"entry {name!r}", n)
        n = prepared[str(name)][0].shape[1]
    assert n is not None
    strata = _strata(counts, n)
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, n, n_boot, rng)
    reps = {k: _ratio_replicates(nu, de, w, "mean" if ratio else stat) for k, (nu, de) in prepared.items()}
    sign = 1.0 if lower_is_better else -1.0

    def key(name: str) -> tuple[float, int]:
        return (sign * float(reps[name][0].mean()), names.index(name))

    alpha = 1.0 - level
    out: list[RankedEntry] = []
    remaining = sorted(names, key=key)
    rank = 0
    while remaining:
        rank += 1
        leader, others = remaining[0], remaining[1:]
        diffs = {}
        for other in others:
            worse, better = (other, leader) if lower_is_better else (leader, other)
            diffs[other] = _difference(*reps[worse], *reps[better], level=level, method=method, rng=rng, n=n,
                                       n_strata=len(strata), n_boot=n_boot)
        p_values = [diffs[o].p_value for o in others]
        rejected = holm_reject(p_values, alpha) if correction == "holm" else [p < alpha for p in p_values]
        separated = {o for o, r in zip(others, rejected) if r}
        est = float(reps[leader][0].mean())
        out.append(RankedEntry(leader, rank, est, leader, None))
        for other in others:
            if other not in separated:
                out.append(RankedEntry(other, rank, float(reps[other][0].mean()), leader, diffs[other]))
        remaining = [o for o in others if o in separated]
    return out


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


def _weighted_auroc(x: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """The Mann-Whitney AUROC of scores ``x`` on each resample (rows), given each sample's
    positive and negative multiplicities ``pos`` and ``neg``: ``sum_{i, j} pos_i neg_j
    ([x_i > x_j] + [x_i == x_j] / 2) / (sum pos sum neg)``."""
    order, starts, group = _ties(x)
    neg_g = np.add.reduceat(neg[:, order], starts, axis=1)
    below = np.cumsum(neg_g, axis=1) - neg_g
    beaten = (below + 0.5 * neg_g)[:, group]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * beaten).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def _top_share(x: np.ndarray, w: np.ndarray, k: int, *, share_ties: bool) -> np.ndarray:
    """Per resample (rows of multiplicities ``w``), the share of each sample's copies among the
    ``k`` largest ``x``: ties at the threshold shared equally (``share_ties``, the flagging rule
    of :func:`flag_weights`) or broken by sample order, the earlier sample first (the rule of
    :func:`worst_mask`). With ``w = 1`` it is that function."""
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


def _weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) of each sample within each weighted resample (a sample drawn
    k times is k tied values)."""
    order, starts, group = _ties(x)
    size = np.add.reduceat(w[:, order], starts, axis=1)
    below = np.cumsum(size, axis=1) - size
    return (below + (size + 1.0) / 2.0)[:, group]


def _weighted_pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
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
    return float(_weighted_auroc(np.where(np.isnan(x), np.inf, x), y[None, :] * 1.0, ~y[None, :] * 1.0)[0])


def _score_interval(stat_fn: Any, ind: np.ndarray, err: np.ndarray, counts: Any, *, level: float, n_boot: int,
                    seed: int, method: str, bounds: tuple[float, float], what: str,
                    scale: tuple[Callable[[Any], Any], Callable[[float], float]] | None = None) -> Interval:
    n = err.shape[1]
    strata = _strata(counts, n)
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, n, n_boot, rng)
    ones = np.ones((1, n))
    theta = np.array([stat_fn(ind[s], err[s], ones)[0] for s in range(err.shape[0])])
    reps = np.stack([stat_fn(ind[s], err[s], w) for s in range(err.shape[0])], axis=1)
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(reps))):
        raise DiffbenchError(f"{what} is undefined on the test set or on a resample (a constant indicator or error, or no positive drawn)")
    return _interval(theta, reps, level=level, method=method, rng=rng, n=n, n_strata=len(strata), n_boot=n_boot,
                     bounds=bounds, scale=scale)


def uq_auroc(indicator: Any, errors: Any, counts: Any = None, *, worst: float = AUROC_WORST,
             min_positives: int = MIN_POSITIVES_AUROC, level: float = LEVEL, n_boot: int = N_BOOT,
             seed: int = BOOT_SEED, method: str = "t") -> Interval | Underpowered:
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
    _options(level, n_boot, method)
    err = _matrix(errors, "errors")
    ind = _indicator(indicator, err.shape)
    k = _k_of(_share(worst, "worst"), err.shape[1])
    if k < min_positives:
        return Underpowered(k, min_positives)

    def fn(x: np.ndarray, e: np.ndarray, w: np.ndarray) -> np.ndarray:
        pos = w * _top_share(e, w, k, share_ties=False)
        return _weighted_auroc(x, pos, w - pos)

    n = err.shape[1]
    return _score_interval(fn, ind, err, counts, level=level, n_boot=n_boot, seed=seed, method=method, bounds=(0.0, 1.0),
                           what="the AUROC", scale=_logit(0.5 / (k * (n - k))))


def uq_spearman(indicator: Any, errors: Any, counts: Any = None, *, level: float = LEVEL, n_boot: int = N_BOOT,
                seed: int = BOOT_SEED, method: str = "t") -> Interval:
    """Spearman's rank correlation between ``indicator`` and the per-sample error (average
    ranks for ties; on a resample a sample drawn k times is k tied values), averaged over
    seeds, with its interval, clipped to [-1, 1].

    >>> import numpy as np
    >>> err = np.linspace(0.0, 1.0, 200)
    >>> round(uq_spearman(-err, err, n_boot=200).estimate, 12)
    -1.0
    """
    _options(level, n_boot, method)
    err = _matrix(errors, "errors")
    ind = _indicator(indicator, err.shape)

    def fn(x: np.ndarray, e: np.ndarray, w: np.ndarray) -> np.ndarray:
        return _weighted_pearson(_weighted_ranks(x, w), _weighted_ranks(e, w), w)

    return _score_interval(fn, ind, err, counts, level=level, n_boot=n_boot, seed=seed, method=method, bounds=(-1.0, 1.0),
                           what="Spearman's correlation")


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


def worst_caught(indicator: Any, errors: Any, counts: Any = None, *, worst: float = CATCH_WORST,
                 flagged: float = CATCH_FLAG, min_positives: int = MIN_POSITIVES_CAUGHT, level: float = LEVEL,
                 n_boot: int = N_BOOT, seed: int = BOOT_SEED, method: str = "t") -> Interval | Underpowered:
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
    _options(level, n_boot, method)
    err = _matrix(errors, "errors")
    ind = _indicator(indicator, err.shape)
    k = _k_of(_share(worst, "worst"), err.shape[1])
    k_flag = _k_of(_share(flagged, "flagged"), err.shape[1])
    if k < min_positives:
        return Underpowered(k, min_positives)

    def fn(x: np.ndarray, e: np.ndarray, w: np.ndarray) -> np.ndarray:
        pos = w * _top_share(e, w, k, share_ties=False)
        return (pos * _top_share(x, w, k_flag, share_ties=True)).sum(axis=1) / pos.sum(axis=1)

    return _score_interval(fn, ind, err, counts, level=level, n_boot=n_boot, seed=seed, method=method, bounds=(0.0, 1.0),
                           what="the caught share")


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
    return LawFit(float(beta[0]), float(beta[1]), float(math.sqrt(cov[0, 0])), float(math.sqrt(cov[1, 1])), r2, dof,
                  chi2, p, weighted)


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
    return LackOfFit(float(f), df_lack, df_pure, p, ss_lack, ss_pure, float(intercept), float(slope), m, n)


def log_law_range(n_per_point: Any, values: Any, alpha: float = 0.05) -> LawRange | None:
    """The widest contiguous range of sizes (at least 3, with replicates) on which
    :func:`lack_of_fit` does not reject the log law at ``alpha``; ties: the larger p-value,
    then the smaller sizes. None when no such range exists.

    >>> n = [10, 10, 100, 100, 1000, 1000, 10000, 10000]
    >>> v = [0.30, 0.31, 0.20, 0.21, 0.10, 0.11, 0.10, 0.11]        # the law, then a plateau
    >>> r = log_law_range(n, v)
    >>> r.n_low, r.n_high, r.n_sizes
    (10.0, 1000.0, 3)
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
            if test.p_value < alpha:
                continue
            cand = LawRange(float(sizes[i]), float(sizes[j]), j - i + 1, test)
            if best is None or (cand.n_sizes, cand.test.p_value) > (best.n_sizes, best.test.p_value):
                best = cand
    return best


# --------------------------------------------------------------------------------------
# printing
# --------------------------------------------------------------------------------------


def _decimals(half_width: float) -> int:
    """Decimals that show ``half_width`` with at most two significant digits (the Particle
    Data Group rule: two when its leading three digits are 100-354, one for 355-949, and
    950-999 round up to two digits of the next decade)."""
    mantissa, exponent = f"{half_width:.2e}".split("e")
    lead, e = int(mantissa.replace(".", "")), int(exponent)
    if lead < 355:
        sig = 2
    elif lead < 950:
        sig = 1
    else:
        sig, e = 2, e + 1
    return sig - 1 - e


def _fixed(x: float, decimals: int) -> str:
    if decimals >= 0:
        return f"{round(x, decimals) + 0.0:.{decimals}f}"
    return f"{round(x, decimals) + 0.0:.0f}"


def format_interval(estimate: float, low: float, high: float) -> str:
    """``"estimate [low, high]"`` with the interval's half-width shown to at most two
    significant digits (PDG rule, see :func:`_decimals`) and all three numbers rounded to the
    same decimal. A zero-width interval keeps three significant digits; a missing estimate
    prints ``n/a``, a missing interval only the estimate.

    >>> format_interval(0.0793, 0.0712, 0.0881)
    '0.079 [0.071, 0.088]'
    >>> format_interval(0.0793, 0.0768, 0.0818)     # half-width 0.0025: two digits
    '0.0793 [0.0768, 0.0818]'
    >>> format_interval(-0.0004, -0.0031, 0.0023), format_interval(1234.0, 880.0, 1580.0)
    ('-0.0004 [-0.0031, 0.0023]', '1230 [880, 1580]')
    >>> format_interval(0.25, 0.25, 0.25), format_interval(0.5, float("nan"), 0.6), format_interval(None, 0, 1)
    ('0.250 [0.250, 0.250]', '0.5', 'n/a')
    """
    if estimate is None or not math.isfinite(estimate):
        return "n/a"
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{estimate:.3g}"
    if low > high:
        raise DiffbenchError(f"format_interval: low {low!r} is above high {high!r}")
    half = (high - low) / 2.0
    if half == 0.0:
        d = 2 - math.floor(math.log10(abs(estimate))) if estimate != 0 else 0
    else:
        d = _decimals(half)
    return f"{_fixed(estimate, d)} [{_fixed(low, d)}, {_fixed(high, d)}]"


def format_p(p: float) -> str:
    """A p-value with two significant digits, or ``< 0.0001``.

    >>> format_p(0.04321), format_p(0.5), format_p(2e-5)
    ('0.043', '0.5', '< 0.0001')
    """
    return "< 0.0001" if p < 1e-4 else f"{p:.2g}"
