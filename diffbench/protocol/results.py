"""``result.json``: the schema-versioned record of a run, and the seed aggregation.

Moved to :mod:`diffbench.results` (torch-free: the schema, the names, the aggregation and the
digest); this module re-exports what the run uses from there, so that ``training.py`` and
``evaluation.py`` write through the one definition.
"""

from __future__ import annotations

from ..results.aggregate import aggregate_metrics, mean_std
from ..results.digest import RESULT_SCHEMA_VERSION, canonical_json, clean_number, compute_digest, write_result

__all__ = ["RESULT_SCHEMA_VERSION", "aggregate_metrics", "canonical_json", "clean_number", "compute_digest", "mean_std",
           "write_result"]
