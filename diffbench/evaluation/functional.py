"""The reference metrics, pure functions: every number diffbench reports, with its exact reduction.

The stateful :class:`~diffbench.evaluation.metric.DiffusionMetrics` and the
:class:`~diffbench.evaluation.evaluator.Evaluator` are thin wrappers around these functions.

This module is the single definition of the benchmark's numbers. Everything is computed on
the *normalised* fields of the batch contract (each sample's target has max 1, the paper's
convention), in float64, and with no ground truth other than the batch's own tensors.

Notation
--------
For one sample s: ``e = pred - target`` on its N x N lattice (the single output channel),
``x = input[:, 0]`` the source map (the clamp-value map for clamped tasks), ``y = target``.
"The set" is every *distinct* sample the metric has seen (de-duplicated by ``index``, see
below), pooled over all batches and, under DDP, over all processes.

Regions (pixel masks per sample; P23 ``errInDS`` with ``tol = 0.2, 0.1, 0.05``):

============  ==========================================================================
``all``       every pixel of the lattice
``sources``   ``x > 0``
``field``     ``x == 0`` (every other pixel; ``x`` is never negative)
``r1``        field pixels with ``y >= 0.2``  (the paper's [0.2, 1]; ``y`` never exceeds 1
              by more than rounding, so there is no upper cut)
``r2``        field pixels with ``0.1 <= y < 0.2``
``r3``        field pixels with ``0.05 <= y < 0.1``
============  ==========================================================================

Sources are excluded from r1-r3, as in the paper's code.

Metrics (keys of :meth:`DiffusionMetrics.compute`)
--------------------------------------------------
``mae``, ``mae_sources``, ``mae_field``, ``mae_r1``, ``mae_r2``, ``mae_r3``
    Pixel-weighted over the whole set: ``sum |e|`` over every qualifying pixel of every
    sample, divided by the number of those pixels. (Unlike the paper's code, this is *not*
    a mean of per-batch means, so it does not depend on the batch size or on how the set
    is split between batches or processes.) A region with no pixel in the whole set gives
    ``nan``.
``nmae``
    ``sum |e| / sum |y|`` over every pixel of the set, i.e. ``mae / mean |y|`` on the same
    pixels. The zero predictor scores exactly 1.
``rel_l2``
    Mean over samples of ``||e||_2 / ||y||_2`` (per-sample norms over the lattice; a sample
    with ``||y|| = 0`` contributes ``||e||``).
``max_abs_error``, ``max_abs_error_<region>``
    Max of ``|e|`` over every pixel (of the region) of the set, the paper's per-region edge
    case; ``nan`` for a region with no pixel.
``p99_sample_mae``
    The 0.99 quantile of the per-sample lattice MAEs (``mean |e|`` over each sample's
    N x N pixels), by :func:`torch.quantile` with linear interpolation between order
    statistics. With one sample it is that sample's MAE.
``residual`` (only when the metric is built with ``residual=True``, the default)
    Mean over samples of :func:`~diffbench.evaluation.residual.prediction_residual`: the relative residual of the discrete
    PDE evaluated on the prediction, needing no ground truth.

    * Sample without clamped cells: ``alpha = <A u, b> / <A u, A u>`` and
      ``||alpha A u - b|| / ||b||`` (``u = pred``, ``b = rhs``;
      :func:`diffbench.physics.operator.scaled_relative_residual`). The scalar ``alpha``
      restores the physical scale that the max-1 normalisation removed, so this scores
      the prediction's *shape*: 0 for the exact solution, 1 for ``u = 0``.
    * Sample with clamped cells (``fixed``): ``u' = where(fixed, fixed_values, pred)``,
      ``u_c = where(fixed, fixed_values, 0)``, ``f = ~fixed`` and
      ``||f (A u' - b)|| / ||f (b - A u_c)||`` (no rescaling: the clamped values fix the
      scale). This is the solver's own certificate, so an exact solve scores ~0 and the
      zero predictor scores 1.

    ``A`` is built from the batch's ``diffusivity``, ``decay`` and ``boundary`` (one
    stencil per distinct boundary code tuple). A denominator of 0 makes the value the bare
    numerator. Note that float32 rounding of a prediction alone leaves a residual of order
    1e-6, not 0.
``n_samples`` (int)
    Number of distinct samples in the set.
``per_count``
    ``{count: {every key above..., "n_samples": int}}`` for each number of sources present,
    sorted by count, each computed exactly as above on that subset.
``per_sample`` (only when asked for: ``aggregate(..., per_sample=True)``)
    One value per distinct sample, sorted by ``index`` (:func:`per_sample_errors`): what the
    headline metrics are made of, kept so that their intervals and paired comparisons can be
    computed later (:mod:`diffbench.results.per_sample`, :mod:`diffbench.stats`).

Intervals
---------
The numbers above are point values of one trained network on one test set. A run keeps each
seed's ``per_sample`` rows (``aggregate(..., per_sample=True)``) and reports every headline
metric (``nmae``, ``mae``, ``mae_sources``, ``max_abs_error``, ``p99_sample_mae``; ``nmae`` and
``mae`` per count) with a 95 % interval over both seeds and test samples
(:func:`diffbench.results.per_sample.headline_intervals`): a two-level bootstrap-t that
resamples the test samples stratified by source count, the same draw for every seed, adds the
between-seed variance with ``seeds - 1`` degrees of freedom, and recomputes ratio metrics
(``nmae = sum abs_sum / sum tgt_sum``, ``mae_sources``) as ratios on every resample; the
maximum and the 0.99 quantile are recomputed on each resample too. The full specification is
the package docstring of :mod:`diffbench.stats`.

De-duplication (DDP)
--------------------
A ``DistributedSampler`` pads the last round with repeated samples. The metric therefore
keeps one row of statistics per sample (``index``, ``count``, per-region sums of ``|e|``,
pixel counts, sums of ``|y|``, per-region maxima, ``rel_l2``, ``residual``) in ``cat``
states; ``compute()`` gathers them, sorts the rows by ``index`` and keeps one row per
``index`` before reducing. The results are thus the same, to float64 rounding, on one
device or many, whatever the batch sizes or order, and whether a sample was seen once or
several times. ``index`` must be unique within the evaluated split; two rows with the same
``index`` but a different ``count`` raise an error (a sign that splits were mixed).

Examples
--------
>>> import torch
>>> from diffbench.evaluation import Evaluator
>>> x = torch.zeros(2, 1, 8, 8); x[:, 0, 4, 4] = 1.0
>>> y = torch.full((2, 1, 8, 8), 0.5); y[:, 0, 4, 4] = 1.0
>>> batch = {"input": x, "target": y, "count": torch.tensor([1, 1]), "index": torch.tensor([0, 1])}
>>> out = Evaluator("test", residual=False).evaluate(torch.zeros_like(y), batch)
>>> out["nmae"], out["mae_sources"], out["n_samples"]
(1.0, 1.0, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ..errors import DiffbenchError
from .checks import validate_prediction
from .regions import PIXEL_LABELS, REGIONS, pixel_labels, regions_from_bins
from .residual import lattice_norm, prediction_residual, ratio_or_numerator

__all__ = [
    "STAT_KEYS",
    "SPLITS",
    "METRIC_KEYS",
    "sample_statistics",
    "deduplicate",
    "aggregate",
    "per_sample_errors",
    "PER_SAMPLE_KEYS",
]

#: The splits an :class:`Evaluator` may score.
SPLITS = ("val", "test")

_MAE_KEYS = tuple("mae" if r == "all" else f"mae_{r}" for r in REGIONS)
_MAX_KEYS = tuple("max_abs_error" if r == "all" else f"max_abs_error_{r}" for r in REGIONS)
#: Every float metric of :meth:`DiffusionMetrics.compute` (``residual`` only when enabled).
METRIC_KEYS = _MAE_KEYS + ("nmae", "rel_l2") + _MAX_KEYS + ("p99_sample_mae", "residual")

#: The per-sample quantities :func:`per_sample_errors` returns (besides ``index`` and ``count``).
PER_SAMPLE_KEYS = ("abs_sum", "tgt_sum", "mae", "max_abs", "abs_sum_sources", "npix_sources")

#: The per-sample statistics :func:`sample_statistics` returns.
STAT_KEYS = ("index", "count", "abs_sum", "npix", "tgt_sum", "max_abs", "rel_l2", "residual")


# --------------------------------------------------------------------------------------
# pure computation core (the regions: :mod:`.regions`; the PDE residual: :mod:`.residual`)
# --------------------------------------------------------------------------------------


def sample_statistics(
    pred: Tensor,
    batch: Mapping[str, Tensor],
    *,
    residual: bool = True,
    check_finite: bool = True,
) -> dict[str, Tensor]:
    """One row of sufficient statistics per sample: everything :func:`aggregate` needs.

    Parameters
    ----------
    pred : Tensor (B, 1, N, N)
    batch : mapping
        The batch contract (see :func:`validate_prediction`).
    residual : bool
        Compute :func:`prediction_residual` (else the ``residual`` row is NaN).
    check_finite : bool
        Refuse non-finite predictions.

    Returns
    -------
    dict of Tensor
        ``index`` (B,) int64, ``count`` (B,) int64; ``abs_sum``, ``npix``, ``tgt_sum``,
        ``max_abs`` (B, 6) float64 per region of :data:`REGIONS` (sum of ``|e|``, number of
        pixels, sum of ``|y|``, max of ``|e|`` (0 when empty)); ``rel_l2``, ``residual`` (B,)
        float64.

    Examples
    --------
    >>> import torch
    >>> b = {"input": torch.zeros(1, 1, 8, 8), "target": torch.ones(1, 1, 8, 8),
    ...      "count": torch.tensor([0]), "index": torch.tensor([7])}
    >>> s = sample_statistics(torch.zeros(1, 1, 8, 8), b, residual=False)
    >>> s["abs_sum"][0, 0].item(), s["npix"][0, 0].item(), s["rel_l2"].item()
    (64.0, 64.0, 1.0)
    """
    validate_prediction(pred, batch, residual=residual, check_finite=check_finite)
    p = pred[:, 0].to(torch.float64)
    y = batch["target"][:, 0].to(torch.float64)
    B = p.shape[0]
    labels = pixel_labels(batch["input"][:, 0], batch["target"][:, 0]).flatten(1)  # (B, N*N)
    err = (p - y).abs().flatten(1)
    ya = y.abs().flatten(1)
    zeros = torch.zeros(B, len(PIXEL_LABELS), dtype=torch.float64, device=p.device)
    # per label bins (sources, r1, r2, r3, rest of the field), then the region unions
    bins_e = zeros.scatter_add(1, labels, err)
    bins_y = zeros.scatter_add(1, labels, ya)
    bins_n = zeros.scatter_add(1, labels, torch.ones_like(err))
    bins_m = zeros.scatter_reduce(1, labels, err, reduce="amax", include_self=True)
    abs_sum = regions_from_bins(bins_e, err.sum(dim=1), "sum")
    tgt_sum = regions_from_bins(bins_y, ya.sum(dim=1), "sum")
    npix = regions_from_bins(bins_n, torch.full_like(bins_n[:, 0], labels.shape[1]), "sum")
    max_abs = regions_from_bins(bins_m, err.amax(dim=1), "max")
    rel_l2 = ratio_or_numerator(lattice_norm(p - y), lattice_norm(y))
    if residual:
        res = prediction_residual(pred, batch)
    else:
        res = torch.full_like(rel_l2, float("nan"))
    return {
        "index": batch["index"].to(torch.int64).detach(),
        "count": batch["count"].to(torch.int64).detach(),
        "abs_sum": abs_sum.detach(),
        "npix": npix.detach(),
        "tgt_sum": tgt_sum.detach(),
        "max_abs": max_abs.detach(),
        "rel_l2": rel_l2.detach(),
        "residual": res.detach(),
    }


def deduplicate(stats: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Sort the rows by ``index`` and keep one row per ``index``.

    Repeats come from a ``DistributedSampler``'s padding (or from seeing a sample twice);
    they are the same sample, so the first row of each ``index`` (after a stable sort) is
    kept. Rows with the same ``index`` but a different ``count`` raise
    :class:`DiffbenchError`: they cannot be the same sample.

    Examples
    --------
    >>> import torch
    >>> s = {"index": torch.tensor([3, 1, 3]), "count": torch.tensor([2, 1, 2]),
    ...      "rel_l2": torch.tensor([0.5, 0.1, 0.5], dtype=torch.float64)}
    >>> deduplicate(s)["index"].tolist()
    [1, 3]
    """
    index = stats["index"]
    order = torch.sort(index, stable=True).indices
    idx = index[order]
    keep = torch.ones_like(idx, dtype=torch.bool)
    keep[1:] = idx[1:] != idx[:-1]
    rows = order[keep]
    if "count" in stats and not bool(keep.all()):
        cnt = stats["count"][order]
        first = torch.cumsum(keep.to(torch.int64), 0) - 1  # group of each sorted row
        clash = cnt != cnt[keep][first]
        if bool(clash.any()):
            bad = int(idx[clash][0])
            raise DiffbenchError(
                f"sample index {bad} was seen with different source counts; indices must be unique within one "
                "evaluated split (were two splits mixed in one metric?)"
            )
    return {k: v[rows] for k, v in stats.items()}


def _reduce(stats: Mapping[str, Tensor], residual: bool) -> dict[str, float]:
    nan = float("nan")
    out: dict[str, float] = {}
    abs_sum = stats["abs_sum"].sum(dim=0)
    npix = stats["npix"].sum(dim=0)
    max_abs = stats["max_abs"].amax(dim=0)
    for r in range(len(REGIONS)):
        n = float(npix[r])
        out[_MAE_KEYS[r]] = float(abs_sum[r]) / n if n > 0 else nan
        out[_MAX_KEYS[r]] = float(max_abs[r]) if n > 0 else nan
    tgt = float(stats["tgt_sum"][:, 0].sum())
    out["nmae"] = float(abs_sum[0]) / tgt if tgt > 0 else nan
    out["rel_l2"] = float(stats["rel_l2"].mean())
    sample_mae = stats["abs_sum"][:, 0] / stats["npix"][:, 0]
    out["p99_sample_mae"] = float(torch.quantile(sample_mae, 0.99, interpolation="linear"))
    if residual:
        out["residual"] = float(stats["residual"].mean())
    return {k: out[k] for k in METRIC_KEYS if k in out}


def per_sample_errors(stats: Mapping[str, Tensor]) -> dict[str, Any]:
    """The headline metrics' raw material, one value per sample (rows as given; call
    :func:`deduplicate` first), as float64 NumPy arrays (``index``, ``count``: int64).

    ``abs_sum`` and ``tgt_sum``: ``sum |e|`` and ``sum |y|`` over the lattice (``nmae`` is
    ``sum abs_sum / sum tgt_sum``); ``mae``: ``abs_sum / N^2`` (``mae`` is their mean,
    ``p99_sample_mae`` their 0.99 quantile); ``max_abs``: ``max |e|`` (``max_abs_error`` is
    their max); ``abs_sum_sources`` and ``npix_sources``: ``sum |e|`` and the pixel count on
    the sources (``mae_sources`` is the ratio of their sums).

    >>> import torch
    >>> b = {"input": torch.zeros(1, 1, 8, 8), "target": torch.ones(1, 1, 8, 8),
    ...      "count": torch.tensor([0]), "index": torch.tensor([7])}
    >>> ps = per_sample_errors(sample_statistics(torch.full((1, 1, 8, 8), 0.75), b, residual=False))
    >>> ps["index"].tolist(), ps["abs_sum"].tolist(), ps["mae"].tolist(), ps["npix_sources"].tolist()
    ([7], [16.0], [0.25], [0.0])
    """
    f64 = {k: v.detach().to("cpu", torch.float64) for k, v in stats.items() if k not in ("index", "count")}
    out: dict[str, Any] = {
        "index": stats["index"].detach().cpu().to(torch.int64).numpy(),
        "count": stats["count"].detach().cpu().to(torch.int64).numpy(),
    }
    src = REGIONS.index("sources")
    out["abs_sum"] = f64["abs_sum"][:, 0].numpy()
    out["tgt_sum"] = f64["tgt_sum"][:, 0].numpy()
    out["mae"] = (f64["abs_sum"][:, 0] / f64["npix"][:, 0]).numpy()
    out["max_abs"] = f64["max_abs"][:, 0].numpy()
    out["abs_sum_sources"] = f64["abs_sum"][:, src].numpy()
    out["npix_sources"] = f64["npix"][:, src].numpy()
    return out


def aggregate(
    stats: Mapping[str, Tensor], *, residual: bool = True, dedupe: bool = True, per_sample: bool = False
) -> dict[str, Any]:
    """Reduce per-sample rows (from :func:`sample_statistics`) to the reported metrics.

    Parameters
    ----------
    stats : mapping of Tensor
        Rows of any number of batches, concatenated along dim 0.
    residual : bool
        Report ``residual``.
    dedupe : bool
        First apply :func:`deduplicate` (on by default; see the module docstring).
    per_sample : bool
        Also return ``per_sample``: :func:`per_sample_errors` of the (de-duplicated) rows.

    Returns
    -------
    dict
        Python floats for :data:`METRIC_KEYS`, ``n_samples`` (int) and ``per_count``
        (``{count: {metric: float, ..., "n_samples": int}}``); ``per_sample`` when asked.

    Raises
    ------
    DiffbenchError
        When there is no sample at all.

    Examples
    --------
    >>> import torch
    >>> b = {"input": torch.zeros(1, 1, 8, 8), "target": torch.ones(1, 1, 8, 8),
    ...      "count": torch.tensor([0]), "index": torch.tensor([7])}
    >>> s = sample_statistics(torch.full((1, 1, 8, 8), 0.75), b, residual=False)
    >>> r = aggregate(s, residual=False)
    >>> r["mae"], r["nmae"], r["n_samples"], list(r["per_count"])
    (0.25, 0.25, 1, [0])
    """
    if dedupe:
        stats = deduplicate(stats)
    n = int(stats["index"].shape[0])
    if n == 0:
        raise DiffbenchError("no samples to evaluate: the metric was computed before any update()")
    stats = {k: v.to(torch.float64) if v.is_floating_point() else v for k, v in stats.items()}
    out: dict[str, Any] = _reduce(stats, residual)
    out["n_samples"] = n
    per_count: dict[int, dict[str, Any]] = {}
    counts = stats["count"]
    for c in torch.unique(counts).tolist():
        sel = counts == c
        sub = {k: v[sel] for k, v in stats.items()}
        row: dict[str, Any] = _reduce(sub, residual)
        row["n_samples"] = int(sel.sum())
        per_count[int(c)] = row
    out["per_count"] = per_count
    if per_sample:
        out["per_sample"] = per_sample_errors(stats)
    return out
