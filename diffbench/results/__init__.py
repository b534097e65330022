"""The results of a run: the schema of ``result.json`` and of a submission, the names, the
aggregation over seeds, the uncertainty scores recomputed from a run's samples, the cost and
the digest. Torch-free (numpy, pydantic, the standard library and the statistics core
:mod:`diffbench.stats` only), so that ``diffbench submit``, the site and other tools read
results without loading the training stack.

Imports are lazy: importing this package costs nothing.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "BASELINES": ".names",
    "CONSISTENCY_SCORES": ".names",
    "INDICATORS": ".names",
    "METRIC_KEYS": ".names",
    "NOT_APPLICABLE": ".names",
    "OPTIONAL_REGIONS": ".names",
    "REGIONS": ".names",
    "SCORE_KEYS": ".names",
    "not_applicable": ".names",
    "RESULT_SCHEMA_VERSION": ".digest",
    "canonical_json": ".digest",
    "clean_number": ".digest",
    "compute_digest": ".digest",
    "write_result": ".digest",
    "aggregate_consistency": ".aggregate",
    "aggregate_metrics": ".aggregate",
    "aggregate_uq_indicators": ".aggregate",
    "mean_std": ".aggregate",
    "aggregate_uq_scores": ".uq",
    "is_legacy_uq": ".uq",
    "score_indicator": ".uq",
    "board_cost": ".cost",
    "run_cost": ".cost",
    "loads_strict": ".jsonio",
    "read_json_strict": ".jsonio",
    "find_local_path": ".paths",
    "strip_local_paths": ".paths",
    "Result": ".schema",
    "StoredSubmission": ".submission",
    "SubmissionMeta": ".submission",
    "safe_url": ".submission",
    "result_json_schema": ".schema",
    "HEADLINE_METRICS": ".per_sample",
    "headline_intervals": ".per_sample",
    "paired_differences": ".per_sample",
    "CheckedResult": ".validate",
    "check_result": ".validate",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
