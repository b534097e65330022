"""The trust stage: label-free error indicators and how well they find the bad predictions
(``indicators``, ``scores``, the inverse network in ``inverse``), physical consistency checks
(``consistency``), the certified solve warm-started by a surrogate (``polish``, its physics and
certificate in ``problem``; ``diffbench solve``).

>>> from diffbench.trust import INDICATORS, consistency_scores

Imports are lazy: importing this package costs nothing until a name is used.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "INDICATORS": ".options",
    "parse_uq": ".options",
    "seed_indicators": ".indicators",
    "aggregate_uq": ".indicators",
    "BASELINES": ".scores",
    "baseline_values": ".scores",
    "auroc": ".scores",
    "catch_rate": ".scores",
    "spearman": ".scores",
    "score_indicator": "diffbench.results.uq",  # torch-free: the trust stage records what results recomputes
    "seed_trust": ".stage",
    "trust_aggregate": ".stage",
    "param_dtype": ".tensors",
    "SCORES": ".consistency",
    "aggregate_consistency": ".consistency",
    "consistency_scores": ".consistency",
    "operator_scale": ".consistency",
    "polished_solve": ".polish",
    "task_physics": ".problem",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
