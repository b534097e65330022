"""The shared ground of diffbench.stats: defaults, the typed results, input checks and the two-level resampling engine (per-sample multiplicities, the bootstrap-t and percentile intervals).

The methods are specified in the package docstring (:mod:`diffbench.stats`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from ..errors import DiffbenchError
from .formatting import format_interval, format_p

#: Resamples per interval unless told otherwise.
N_BOOT = 2000
#: The most bytes of float64 multiplicities any statistic holds at once (:func:`weight_rows`).
BLOCK_BYTES = 16 * 2**20
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
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "method": self.method,
            "n_seeds": self.n_seeds,
            "n_samples": self.n_samples,
        }


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
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "p_value": self.p_value,
            "method": self.method,
            "n_seeds_a": self.n_seeds_a,
            "n_seeds_b": self.n_seeds_b,
            "n_samples": self.n_samples,
        }


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


def matrix(x: Any, what: str, n: int | None = None) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise DiffbenchError(f"{what} must be an array of numbers (seeds x samples)") from None
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 2:
        raise DiffbenchError(
            f"{what} must be a (seeds x samples) array with at least 2 samples, got shape {np.shape(x)}"
        )
    if n is not None and a.shape[1] != n:
        raise DiffbenchError(
            f"{what} has {a.shape[1]} samples but the other inputs {n}: entries must share the test samples"
        )
    if not np.all(np.isfinite(a)):
        raise DiffbenchError(f"{what} must be finite (found NaN or inf)")
    return a


def count_strata(counts: Any, n: int) -> list[np.ndarray]:
    """Indices of each stratum (sorted by count value); one stratum when ``counts`` is None."""
    if counts is None:
        return [np.arange(n)]
    c = np.asarray(counts).reshape(-1)
    if c.size != n:
        raise DiffbenchError(f"counts has {c.size} values but there are {n} samples: one source count per test sample")
    values, inverse = np.unique(c, return_inverse=True)
    return [np.flatnonzero(inverse == k) for k in range(values.size)]


def options(level: float, n_boot: int, method: str) -> None:
    if not (isinstance(level, (int, float)) and 0.0 < level < 1.0):
        raise DiffbenchError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
        raise DiffbenchError(f"n_boot must be an integer of at least 100, got {n_boot!r}")
    if method not in METHODS:
        raise DiffbenchError(f"unknown interval method {method!r}; allowed: {', '.join(METHODS)}")


def ratio_inputs(num: Any, den: Any, what: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    nu = matrix(num, f"{what} numerator", n)
    de = matrix(den, f"{what} denominator", nu.shape[1])
    if de.shape[0] not in (1, nu.shape[0]):
        raise DiffbenchError(
            f"{what} denominator has {de.shape[0]} seeds but the numerator {nu.shape[0]}: give one row or one per seed"
        )
    if np.any(de < 0) or np.any(de.sum(axis=1) <= 0):
        raise DiffbenchError(f"{what} denominator must be non-negative with a positive sum per seed")
    return nu, np.broadcast_to(de, nu.shape)


# --------------------------------------------------------------------------------------
# the resampling core
# --------------------------------------------------------------------------------------


def sample_weights(strata: Sequence[np.ndarray], n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, n)`` multiplicities of a stratified resample: within each stratum, as many
    draws with replacement as it has samples. They are small integers (at most the stratum's
    size), held as ``uint16`` (``uint32`` past 65,535 samples in a stratum) so that a large test
    set never needs the float64 matrix (2,000 x 80,000: 1.3 GB); :func:`weight_rows` hands them
    out as float64 blocks of resamples.

    >>> w = sample_weights([np.arange(3), np.arange(3, 5)], 5, 4, np.random.default_rng(0))
    >>> w.shape, w.dtype.name, w[:, :3].sum(axis=1).tolist(), w[:, 3:].sum(axis=1).tolist()
    ((4, 5), 'uint16', [3, 3, 3, 3], [2, 2, 2, 2])
    """
    largest = max((idx.size for idx in strata), default=0)
    w = np.zeros((n_boot, n), dtype=np.uint16 if largest <= np.iinfo(np.uint16).max else np.uint32)
    for idx in strata:
        k = idx.size
        draws = rng.integers(0, k, size=(n_boot, k)) + np.arange(n_boot)[:, None] * k
        counts = np.bincount(draws.ravel(), minlength=n_boot * k)
        del draws
        w[:, idx] = counts.reshape(n_boot, k)
    return w


def weight_rows(w: np.ndarray, columns: np.ndarray | None = None) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, block)`` over the resamples of ``w``: each block is the float64 multiplicities of
    consecutive resamples (of ``columns`` only, if given), at most :data:`BLOCK_BYTES` bytes,
    so that statistics computed resample by resample hold one block at a time. A test set of
    standard-64's size (800 samples) is one block.

    >>> w = np.arange(12, dtype=np.uint16).reshape(4, 3)
    >>> [(r.start, b.dtype.name, b.shape) for r, b in weight_rows(w)]
    [(0, 'float64', (4, 3))]
    """
    width = w.shape[1] if columns is None else len(columns)
    step = max(1, BLOCK_BYTES // (8 * max(1, width)))
    for start in range(0, w.shape[0], step):
        rows = slice(start, min(start + step, w.shape[0]))
        block = w[rows] if columns is None else w[rows][:, columns]
        yield rows, block.astype(np.float64)


def _seed_weights(n_seeds: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    draws = rng.integers(0, n_seeds, size=(n_boot, n_seeds)) + np.arange(n_boot)[:, None] * n_seeds
    return np.bincount(draws.ravel(), minlength=n_boot * n_seeds).reshape(n_boot, n_seeds).astype(np.float64)


def ratio_replicates(num: np.ndarray, den: np.ndarray, w: np.ndarray, stat: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed statistics on the full set ``(S,)`` and on each resample ``(B, S)``."""
    theta = num.sum(axis=1) / den.sum(axis=1)
    top, d = np.empty((w.shape[0], num.shape[0])), np.empty((w.shape[0], den.shape[0]))
    for rows, block in weight_rows(w):
        top[rows], d[rows] = block @ num.T, block @ den.T
    if np.any(d <= 0):
        raise DiffbenchError(
            "a resample's denominator sums to 0: too few samples with a non-zero denominator in a stratum"
        )
    reps = top / d
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
        name = "sample bootstrap-t" if method == "t" else "sample percentile bootstrap"
        return (
            f"{name} (one seed: seed variance not included; {n} samples in {strata} count strata, {n_boot} resamples)"
        )
    return f"{name} ({n_seeds} seeds, {n} samples in {strata} count strata, {n_boot} resamples)"


def _clip(x: float, bounds: tuple[float, float] | None) -> float:
    return x if bounds is None else float(min(max(x, bounds[0]), bounds[1]))


def logit(eps: float) -> tuple[Callable[[Any], Any], Callable[[float], float]]:
    """The logit of a share clipped to ``[eps, 1 - eps]``, and its inverse."""

    def forward(p: Any) -> Any:
        q = np.clip(p, eps, 1.0 - eps)
        return np.log(q / (1.0 - q))

    return forward, lambda z: float(1.0 / (1.0 + math.exp(-z)))


def interval(
    theta: np.ndarray,
    reps: np.ndarray,
    *,
    level: float,
    method: str,
    rng: np.random.Generator,
    n: int,
    n_strata: int,
    n_boot: int,
    bounds: tuple[float, float] | None = None,
    scale: tuple[Callable[[Any], Any], Callable[[float], float]] | None = None,
) -> Interval:
    """The interval of the seed mean; ``scale = (g, g^-1)``: the t interval is built on the
    scale of ``g`` (centred on ``g(estimate)``) and mapped back."""
    s = theta.size
    est = float(theta.mean())
    if method == "t":
        g, g_inv = scale if scale is not None else ((lambda x: x), float)
        theta_g, reps_g = g(theta), g(reps)
        v_samples = float(np.var(reps_g.mean(axis=1), ddof=1))
        parts = [
            (v_samples, float(n - n_strata) if n > n_strata else math.inf),
            (_seed_parts(theta_g, reps_g), s - 1.0),
        ]
        low, high, _, _ = _t_interval(float(g(est)), parts, level)
        low, high = min(g_inv(low), est), max(g_inv(high), est)  # est may sit on g's clip
    else:
        v = _seed_weights(s, n_boot, rng)
        boot = (v * reps).sum(axis=1) / s
        low, high = (float(q) for q in np.quantile(boot, [0.5 - level / 2, 0.5 + level / 2]))
    return Interval(
        est, _clip(low, bounds), _clip(high, bounds), _describe(method, s, n, n_strata, n_boot), s, n, level
    )


def difference(
    ta: np.ndarray,
    ra: np.ndarray,
    tb: np.ndarray,
    rb: np.ndarray,
    *,
    level: float,
    method: str,
    rng: np.random.Generator,
    n: int,
    n_strata: int,
    n_boot: int,
) -> Difference:
    est = float(ta.mean() - tb.mean())
    if method == "t":
        v_samples = float(np.var(ra.mean(axis=1) - rb.mean(axis=1), ddof=1))
        parts = [
            (v_samples, float(n - n_strata) if n > n_strata else math.inf),
            (_seed_parts(ta, ra), ta.size - 1.0),
            (_seed_parts(tb, rb), tb.size - 1.0),
        ]
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
    return Difference(
        est, low, high, p, "paired " + _describe(method, seeds, n, n_strata, n_boot), ta.size, tb.size, n, level
    )


# --------------------------------------------------------------------------------------
# intervals of one entry
# --------------------------------------------------------------------------------------
