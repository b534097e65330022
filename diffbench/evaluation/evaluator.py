"""The reference evaluator for one split, OGB style: what it expects, what it returns, and it
refuses to score training data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from ..errors import DiffbenchError
from .checks import REQUIRED_KEYS, RESIDUAL_KEYS
from .functional import METRIC_KEYS, PER_SAMPLE_KEYS, SPLITS
from .metric import DiffusionMetrics


class Evaluator:
    """The reference evaluator for one split (OGB style), strict about what it scores.

    Parameters
    ----------
    split : {"val", "test"}
        The split being scored; anything else (notably ``"train"``) is refused: reported
        numbers come from held-out data only.
    residual, check_finite, per_sample : bool
        See :class:`DiffusionMetrics`.

    Examples
    --------
    >>> import torch
    >>> ev = Evaluator("val", residual=False)
    >>> m = ev.metric  # a fresh DiffusionMetrics at every access
    >>> b = {"input": torch.zeros(1, 1, 8, 8), "target": torch.ones(1, 1, 8, 8),
    ...      "count": torch.tensor([3]), "index": torch.tensor([0])}
    >>> ev.evaluate(torch.ones(1, 1, 8, 8), b)["mae"]
    0.0
    >>> Evaluator("train")
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: Evaluator split must be one of val, test, got 'train'; training data is never scored
    """

    def __init__(
        self, split: str, *, residual: bool = True, check_finite: bool = True, per_sample: bool = False
    ) -> None:
        if not isinstance(split, str) or split not in SPLITS:
            raise DiffbenchError(
                f"Evaluator split must be one of {', '.join(SPLITS)}, got {split!r}; training data is never scored"
            )
        self.split = split
        self.residual = bool(residual)
        self.check_finite = bool(check_finite)
        self.per_sample = bool(per_sample)

    def __repr__(self) -> str:
        return f"Evaluator(split={self.split!r}, residual={self.residual})"

    @property
    def metric(self) -> DiffusionMetrics:
        """A new :class:`DiffusionMetrics` with this evaluator's settings (fresh at every access)."""
        return DiffusionMetrics(residual=self.residual, check_finite=self.check_finite, per_sample=self.per_sample)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The float keys of the result (besides ``n_samples`` and ``per_count``)."""
        return tuple(k for k in METRIC_KEYS if self.residual or k != "residual")

    @property
    def expected_input_format(self) -> str:
        keys = ", ".join(REQUIRED_KEYS + (RESIDUAL_KEYS if self.residual else ()))
        return (
            "evaluate(pred, batch): pred a float tensor (B, 1, N, N) in normalised units (target max 1); "
            f"batch the DataModule's mapping with at least {keys} (optional: fixed, fixed_values)"
        )

    @property
    def expected_output_format(self) -> str:
        return (
            f"dict with float keys {', '.join(self.metric_names)} (nan for an empty region), "
            "n_samples (int) and per_count {count: {same keys..., n_samples}}"
            + (
                f"; per_sample {{index, count, {', '.join(PER_SAMPLE_KEYS)}}}: one value per sample"
                if self.per_sample
                else ""
            )
        )

    def evaluate(self, pred: Tensor, batch: Mapping[str, Tensor]) -> dict[str, Any]:
        """Score one batch (or a whole split held in one batch) in a single call."""
        metric = self.metric.to(pred.device) if isinstance(pred, Tensor) else self.metric
        metric.update(pred, batch)
        return metric.compute()
