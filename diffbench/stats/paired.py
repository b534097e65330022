"""Paired comparisons of entries scored on the same test samples, Holm's correction and the honest (tied) ranks of a board.

The methods are specified in the package docstring (:mod:`diffbench.stats`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import DiffbenchError
from .core import (
    BOOT_SEED,
    CORRECTIONS,
    LEVEL,
    N_BOOT,
    Difference,
    RankedEntry,
    count_strata,
    difference,
    matrix,
    options,
    ratio_inputs,
    ratio_replicates,
    sample_weights,
)
from .intervals import quantile_replicates, stat_inputs

# --------------------------------------------------------------------------------------
# paired comparisons and ranks
# --------------------------------------------------------------------------------------


def paired_difference(
    errors_a: Any,
    errors_b: Any,
    counts: Any = None,
    *,
    stat: str = "mean",
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> Difference:
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
    options(level, n_boot, method)
    na, da = stat_inputs(errors_a, stat, "errors_a")
    nb, db = stat_inputs(errors_b, stat, "errors_b", na.shape[1])
    return _paired(na, da, nb, db, counts, stat, level, n_boot, seed, method)


def paired_ratio_difference(
    num_a: Any,
    den_a: Any,
    num_b: Any,
    den_b: Any,
    counts: Any = None,
    *,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> Difference:
    """:func:`paired_difference` for pooled ratios (see :func:`ratio_interval`).

    >>> import numpy as np
    >>> u = np.linspace(1.0, 2.0, 200)
    >>> d = paired_ratio_difference(0.2 * u, u, 0.1 * u, u, n_boot=500)
    >>> round(d.estimate, 12), round(d.low, 12), round(d.high, 12)
    (0.1, 0.1, 0.1)
    """
    options(level, n_boot, method)
    na, da = ratio_inputs(num_a, den_a, "entry a")
    nb, db = ratio_inputs(num_b, den_b, "entry b", na.shape[1])
    return _paired(na, da, nb, db, counts, "mean", level, n_boot, seed, method)


def paired_quantile_difference(
    errors_a: Any,
    errors_b: Any,
    counts: Any = None,
    *,
    q: float,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> Difference:
    """:func:`paired_difference` of per-seed ``q``-quantiles (``q = 1``: the maximum; see
    :func:`~diffbench.stats.intervals.quantile_interval` for what such an interval shows).

    >>> import numpy as np
    >>> base = np.linspace(0.0, 1.0, 201)
    >>> d = paired_quantile_difference(base + 0.1, base, q=1.0, n_boot=300)
    >>> round(d.estimate, 12), round(d.low, 12), round(d.high, 12)
    (0.1, 0.1, 0.1)
    """
    options(level, n_boot, method)
    if not (isinstance(q, (int, float)) and 0.0 <= q <= 1.0):
        raise DiffbenchError(f"quantile q must be in [0, 1], got {q!r}")
    a = matrix(errors_a, "errors_a")
    b = matrix(errors_b, "errors_b", a.shape[1])
    strata = count_strata(counts, a.shape[1])
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, a.shape[1], n_boot, rng)
    ta, ra = quantile_replicates(a, w, q)
    tb, rb = quantile_replicates(b, w, q)
    return difference(
        ta, ra, tb, rb, level=level, method=method, rng=rng, n=a.shape[1], n_strata=len(strata), n_boot=n_boot
    )


def _paired(
    na: np.ndarray,
    da: np.ndarray,
    nb: np.ndarray,
    db: np.ndarray,
    counts: Any,
    stat: str,
    level: float,
    n_boot: int,
    seed: int,
    method: str,
) -> Difference:
    n = na.shape[1]
    strata = count_strata(counts, n)
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, n, n_boot, rng)
    ta, ra = ratio_replicates(na, da, w, stat)
    tb, rb = ratio_replicates(nb, db, w, stat)
    return difference(ta, ra, tb, rb, level=level, method=method, rng=rng, n=n, n_strata=len(strata), n_boot=n_boot)


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


def tied_ranks(
    entries: Mapping[str, Any],
    counts: Any = None,
    *,
    lower_is_better: bool = True,
    stat: str = "mean",
    correction: str = "holm",
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
    method: str = "t",
) -> list[RankedEntry]:
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
    options(level, n_boot, method)
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
            prepared[str(name)] = ratio_inputs(value[0], value[1], f"entry {name!r}", n)
        else:
            prepared[str(name)] = stat_inputs(value, stat, f"entry {name!r}", n)
        n = prepared[str(name)][0].shape[1]
    assert n is not None
    strata = count_strata(counts, n)
    rng = np.random.default_rng(seed)
    w = sample_weights(strata, n, n_boot, rng)
    reps = {k: ratio_replicates(nu, de, w, "mean" if ratio else stat) for k, (nu, de) in prepared.items()}
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
            diffs[other] = difference(
                *reps[worse],
                *reps[better],
                level=level,
                method=method,
                rng=rng,
                n=n,
                n_strata=len(strata),
                n_boot=n_boot,
            )
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
