"""Transitional home of ``results.py`` (the result.json helpers), which is becoming the
torch-free ``diffbench.results`` package; everything else that lived here moved to the
packages named for their concern: :mod:`diffbench.evaluation`, :mod:`diffbench.training`,
:mod:`diffbench.trust`, :mod:`diffbench.pipeline`, :mod:`diffbench.studies` and
:mod:`diffbench.benchmarking`.

>>> from diffbench.protocol import compute_digest
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "RESULT_SCHEMA_VERSION": ".results",
    "aggregate_metrics": ".results",
    "canonical_json": ".results",
    "clean_number": ".results",
    "compute_digest": ".results",
    "mean_std": ".results",
    "write_result": ".results",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
