"""diffbench.stats — intervals, paired comparisons, honest ranks, uncertainty-score power and
the scaling-law fit: the statistics behind every number diffbench publishes (NumPy and SciPy only, no torch).

Contents: :func:`bootstrap_interval`, :func:`ratio_interval`, :func:`quantile_interval` and
:func:`per_count_intervals` (one entry); :func:`paired_difference`,
:func:`paired_ratio_difference`, :func:`paired_quantile_difference` and
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
  ``nu = V^2 / (V_seeds^2 / (S - 1) + V_samples^2 / (N - K))`` (K strata); an error (MAE,
  nMAE, a quantile of errors) cannot be negative, so its lower bound is clipped at 0.

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

from .core import (
    AUROC_WORST,
    BOOT_SEED,
    CATCH_FLAG,
    CATCH_WORST,
    CORRECTIONS,
    LEVEL,
    METHODS,
    MIN_POSITIVES_AUROC,
    MIN_POSITIVES_CAUGHT,
    N_BOOT,
    STATS,
    Difference,
    Interval,
    RankedEntry,
    Underpowered,
    sample_weights,
)
from .formatting import format_interval, format_p
from .intervals import (
    bootstrap_interval,
    per_count_intervals,
    quantile_interval,
    quantile_replicates,
    ratio_interval,
    seed_interval,
)
from .paired import (
    holm_reject,
    paired_difference,
    paired_quantile_difference,
    paired_ratio_difference,
    tied_ranks,
)
from .scaling import (
    LackOfFit,
    LawFit,
    LawRange,
    lack_of_fit,
    log_law_fit,
    log_law_range,
)
from .uq import auroc, flag_weights, uq_auroc, uq_spearman, worst_caught, worst_mask

__all__ = [
    "AUROC_WORST",
    "BOOT_SEED",
    "CATCH_FLAG",
    "CATCH_WORST",
    "CORRECTIONS",
    "LEVEL",
    "METHODS",
    "MIN_POSITIVES_AUROC",
    "MIN_POSITIVES_CAUGHT",
    "N_BOOT",
    "STATS",
    "Difference",
    "Interval",
    "LackOfFit",
    "LawFit",
    "LawRange",
    "RankedEntry",
    "Underpowered",
    "auroc",
    "bootstrap_interval",
    "flag_weights",
    "format_interval",
    "format_p",
    "holm_reject",
    "lack_of_fit",
    "log_law_fit",
    "log_law_range",
    "paired_difference",
    "paired_quantile_difference",
    "paired_ratio_difference",
    "per_count_intervals",
    "quantile_interval",
    "quantile_replicates",
    "ratio_interval",
    "sample_weights",
    "seed_interval",
    "tied_ranks",
    "uq_auroc",
    "uq_spearman",
    "worst_caught",
    "worst_mask",
]
