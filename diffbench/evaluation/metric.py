"""Every diffbench metric as one DDP-safe :class:`torchmetrics.Metric` (the definitions are in
:mod:`diffbench.evaluation.functional`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from ..errors import DiffbenchError
from .functional import STAT_KEYS, aggregate, sample_statistics


class DiffusionMetrics(Metric):
    """Every diffbench metric as one DDP-safe :class:`torchmetrics.Metric`.

    ``update(pred, batch)`` stores one row of statistics per sample (``cat`` states);
    ``compute()`` gathers them from all processes, de-duplicates by ``index`` and reduces
    them as described in the module docstring. Call ``update`` in the steps and
    ``compute`` once at the end (``forward`` works but runs ``compute`` on every batch).

    Parameters
    ----------
    residual : bool
        Also report the prediction's PDE ``residual`` (needs ``rhs``, ``diffusivity``,
        ``decay``, ``boundary`` in the batch).
    check_finite : bool
        Refuse NaN or infinite predictions in ``update``.
    per_sample : bool
        ``compute()`` also returns ``per_sample``, one value per distinct sample of what the
        headline metrics are made of (:func:`~diffbench.evaluation.functional.per_sample_errors`).
    **kwargs
        Passed to :class:`torchmetrics.Metric` (e.g. ``compute_on_cpu=True``).

    Examples
    --------
    >>> import torch
    >>> m = DiffusionMetrics(residual=False)
    >>> b = {"input": torch.zeros(2, 1, 8, 8), "target": torch.ones(2, 1, 8, 8),
    ...      "count": torch.tensor([1, 2]), "index": torch.tensor([0, 1])}
    >>> m.update(torch.zeros(2, 1, 8, 8), b)
    >>> m.update(torch.zeros(1, 1, 8, 8), {k: v[:1] for k, v in b.items()})  # a padded repeat
    >>> out = m.compute()
    >>> out["mae"], out["n_samples"], sorted(out["per_count"])
    (1.0, 2, [1, 2])
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(
        self, *, residual: bool = True, check_finite: bool = True, per_sample: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.per_sample = bool(per_sample)
        self.with_residual = bool(residual)  # not ``self.residual``: that name is a state
        self.check_finite = bool(check_finite)
        for key in STAT_KEYS:
            self.add_state(key, default=[], dist_reduce_fx="cat")

    def update(self, pred: Tensor, batch: Mapping[str, Tensor]) -> None:  # type: ignore[override]
        """Add the per-sample statistics of one batch (see :func:`sample_statistics`)."""
        stats = sample_statistics(pred, batch, residual=self.with_residual, check_finite=self.check_finite)
        for key in STAT_KEYS:
            getattr(self, key).append(stats[key])

    def compute(self) -> dict[str, Any]:
        """The metrics over every distinct sample seen (see :func:`aggregate`)."""
        stats = {}
        for key in STAT_KEYS:
            value = getattr(self, key)
            if isinstance(value, list) and len(value) == 0:
                raise DiffbenchError("no samples to evaluate: the metric was computed before any update()")
            stats[key] = dim_zero_cat(value)
        return aggregate(stats, residual=self.with_residual, per_sample=self.per_sample)
