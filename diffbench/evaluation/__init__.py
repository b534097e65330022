"""The evaluation stage: the reference metrics of a prediction, torchmetrics-style.

``checks`` holds the batch contract, ``functional`` the pure maths (per-sample statistics,
regions, the PDE residual, the aggregation over a split), ``metric`` the stateful
:class:`DiffusionMetrics`, and ``evaluator`` the :class:`Evaluator` every model is scored by
(it refuses the train split).

>>> from diffbench.evaluation import Evaluator, METRIC_KEYS

Imports are lazy: importing this package costs nothing until a name is used.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "METRIC_KEYS": ".functional",
    "REGIONS": ".functional",
    "RING_THRESHOLDS": ".functional",
    "SPLITS": ".functional",
    "aggregate": ".functional",
    "PER_SAMPLE_KEYS": ".functional",
    "per_sample_errors": ".functional",
    "deduplicate": ".functional",
    "prediction_residual": ".functional",
    "region_masks": ".functional",
    "sample_statistics": ".functional",
    "validate_prediction": ".checks",
    "DiffusionMetrics": ".metric",
    "Evaluator": ".evaluator",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
