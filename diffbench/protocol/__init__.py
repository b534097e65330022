"""Stage 5 — the protocol: the reference evaluator and the training losses.

>>> from diffbench.protocol import Evaluator, make_loss

Importing this package pulls in torch and torchmetrics, never lightning.
"""

from .losses import LOSSES, MAELoss, MSELoss, TanhMAELoss, make_loss
from .metrics import (
    METRIC_KEYS,
    REGIONS,
    RING_THRESHOLDS,
    SPLITS,
    DiffusionMetrics,
    Evaluator,
    aggregate,
    deduplicate,
    prediction_residual,
    region_masks,
    sample_statistics,
    validate_prediction,
)

__all__ = [
    "Evaluator",
    "DiffusionMetrics",
    "prediction_residual",
    "sample_statistics",
    "aggregate",
    "deduplicate",
    "region_masks",
    "validate_prediction",
    "METRIC_KEYS",
    "REGIONS",
    "RING_THRESHOLDS",
    "SPLITS",
    "make_loss",
    "LOSSES",
    "MAELoss",
    "MSELoss",
    "TanhMAELoss",
]
