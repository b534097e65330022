"""The vocabulary of ``result.json``: metric, region, indicator and score names, spelled once.

Torch-free, so that ``diffbench submit``, the site and anyone's tooling can learn the names
without loading the training stack. The protocol's torch modules compute these quantities;
the names live here.

>>> METRIC_KEYS[:3]
('mae', 'mae_sources', 'mae_field')
>>> region_of("max_abs_error_r2"), region_of("mae"), region_of("nmae")
('r2', None, None)
>>> not_applicable("no dropout layer")
{'status': 'not applicable', 'reason': 'no dropout layer'}
"""

from __future__ import annotations

from typing import Any

#: Where the error is measured: the whole field and five regions (sources, far field, three rings).
REGIONS = ("all", "sources", "field", "r1", "r2", "r3")
#: Regions that may be empty in a split, so their metrics may be null (``all`` never is).
OPTIONAL_REGIONS = REGIONS[1:]
MAE_KEYS = tuple("mae" if r == "all" else f"mae_{r}" for r in REGIONS)
MAX_KEYS = tuple("max_abs_error" if r == "all" else f"max_abs_error_{r}" for r in REGIONS)
#: Every metric of the protocol, in the order the evaluator reports them.
METRIC_KEYS = MAE_KEYS + ("nmae", "rel_l2") + MAX_KEYS + ("p99_sample_mae", "residual")
#: The evaluated splits of a run.
SPLITS = ("test", "val")

#: Error indicators of ``diffbench run --uq`` and the scores each gets.
INDICATORS = ("mc-dropout", "residual", "inverse", "ensemble")
SCORE_KEYS = ("spearman", "auroc", "catch_rate")
#: Trivial label-free signals every uncertainty block scores exactly like the indicators: an
#: indicator is only worth its cost where it beats them (:mod:`diffbench.results.uq`).
BASELINES = ("source-count", "input-sum", "prediction-mean")
#: Physics-consistency scores of every run.
CONSISTENCY_SCORES = ("superposition", "equivariance", "maximum_principle", "flux_balance")
#: Consistency scores whose ``mean``/``max`` are relative errors (>= 0).
RELATIVE_ERRORS = ("superposition", "equivariance", "flux_balance")

#: The status of a score that does not apply to a run (with a ``reason``).
NOT_APPLICABLE = "not applicable"
OK = "ok"


#: MC-dropout: forward passes per sample and the dropout a preset is rebuilt with; the preset of
#: the inverse network (field -> source map). The trust stage uses these; they are recorded here,
#: torch-free, so that the settings a result records can be checked without torch.
MC_SAMPLES = 8
MC_DROPOUT = 0.1
INVERSE_PRESET = "unet-small"


def uq_settings() -> dict[str, Any]:
    """What the uq scores mean (the protocol's fractions and sample counts), recorded with them.

    >>> uq_settings()["auroc_worst_fraction"]
    0.05
    """
    from ..stats import (
        AUROC_WORST,
        CATCH_FLAG,
        CATCH_WORST,
        LEVEL,
        MIN_POSITIVES_AUROC,
        MIN_POSITIVES_CAUGHT,
    )

    return {
        "baselines": list(BASELINES),
        "interval_level": LEVEL,
        "min_positives_auroc": MIN_POSITIVES_AUROC,
        "min_positives_caught": MIN_POSITIVES_CAUGHT,
        "error": "per-sample MAE of the deterministic prediction on the normalised test target",
        "auroc_worst_fraction": AUROC_WORST,
        "catch_worst_fraction": CATCH_WORST,
        "catch_flag_fraction": CATCH_FLAG,
        "mc_samples": MC_SAMPLES,
        "mc_dropout": MC_DROPOUT,
        "inverse_preset": INVERSE_PRESET,
    }


def not_applicable(reason: str) -> dict[str, Any]:
    """The block of a score that does not apply, with the reason why."""
    return {"status": NOT_APPLICABLE, "reason": reason}


def region_of(key: str) -> str | None:
    """The optional region a metric key belongs to (``mae_r1`` -> ``r1``), else None."""
    for prefix in ("mae_", "max_abs_error_"):
        if key.startswith(prefix) and key[len(prefix) :] in OPTIONAL_REGIONS:
            return key[len(prefix) :]
    return None
