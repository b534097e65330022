"""Stage 5 — the protocol: training (``SurrogateModule``, recipes, losses), the reference
evaluator (metrics), runs and their results, studies, and trust (uncertainty, consistency).

>>> from diffbench.protocol import Evaluator, make_loss

Imports are lazy: ``diffbench.protocol.results`` or the command line do not pay for torch.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "LOSSES": ".losses",
    "MAELoss": ".losses",
    "MSELoss": ".losses",
    "TanhMAELoss": ".losses",
    "make_loss": ".losses",
    "METRIC_KEYS": ".metrics",
    "REGIONS": ".metrics",
    "RING_THRESHOLDS": ".metrics",
    "SPLITS": ".metrics",
    "DiffusionMetrics": ".metrics",
    "Evaluator": ".metrics",
    "aggregate": ".metrics",
    "deduplicate": ".metrics",
    "prediction_residual": ".metrics",
    "region_masks": ".metrics",
    "sample_statistics": ".metrics",
    "validate_prediction": ".metrics",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
