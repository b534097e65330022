"""The evaluation stage: the reference metrics of a prediction, torchmetrics-style.

``checks`` holds the batch contract, ``functional`` the pure maths (per-sample statistics and
the aggregation over a split, with the metric specification), ``regions`` the pixel regions,
``residual`` the PDE residual of a prediction, ``metric`` the stateful
:class:`DiffusionMetrics`, and ``evaluator`` the :class:`Evaluator` every model is scored by
(it refuses the train split).

>>> from diffbench.evaluation import Evaluator, METRIC_KEYS

Imports are lazy: importing this package costs nothing until a name is used.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "METRIC_KEYS": ".functional",
    "REGIONS": ".regions",
    "RING_THRESHOLDS": ".regions",
    "SPLITS": ".functional",
    "aggregate": ".functional",
    "PER_SAMPLE_KEYS": ".functional",
    "per_sample_errors": ".functional",
    "deduplicate": ".functional",
    "prediction_residual": ".residual",
    "region_masks": ".regions",
    "sample_statistics": ".functional",
    "validate_prediction": ".checks",
    "DiffusionMetrics": ".metric",
    "Evaluator": ".evaluator",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
