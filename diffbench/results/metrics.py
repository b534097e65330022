"""The metric blocks of ``result.json``, as pydantic models: one split's metrics and the same per
source count (:class:`SplitResult`, each row a :data:`MetricRow` of every metric of the
protocol), their aggregation over seeds (:data:`AggregateSplit`, :class:`Aggregate`) and the
headline metrics' intervals (:class:`Intervals`). The result that holds them is
:mod:`diffbench.results.schema`.

>>> MetricRow.model_fields["nmae"].is_required()
True
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, PlainValidator, WithJsonSchema, model_validator

from .fields import COUNT_KEY, Closed, Count, Metric, Score, StatNonNegative, Text, fail, is_number, show
from .names import METRIC_KEYS, OPTIONAL_REGIONS, region_of


def _metric_fields() -> dict[str, Any]:
    return {k: (Metric(region_of(k) is not None), ...) for k in METRIC_KEYS}


class _RowChecks(Closed):
    n_samples: Count(1) | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _regions_in_pairs(self) -> Any:
        for region in OPTIONAL_REGIONS:
            a, b = getattr(self, f"mae_{region}"), getattr(self, f"max_abs_error_{region}")
            if (a is None) != (b is None):
                raise fail(
                    f"has mae_{region} = {show(a)} but max_abs_error_{region} = {show(b)}: an empty region makes both null"
                )
        return self


def _build_metric_row() -> type[BaseModel]:
    from pydantic import create_model

    return create_model(
        "MetricRow",
        __base__=_RowChecks,
        __doc__="Every metric of the protocol, for one split or one source count.",
        **_metric_fields(),
    )


MetricRow = _build_metric_row()


def _count_keys(v: Any) -> Any:
    if not isinstance(v, dict):
        raise fail("must be an object {count: metrics}")
    for c in v:
        if not COUNT_KEY.fullmatch(c):
            raise fail(f"has key {c!r}; keys are source counts (non-negative integers)")
    return v


class SplitResult(MetricRow):  # type: ignore[misc, valid-type]
    """One split's metrics, and the same per source count (``"3"``: the samples with 3 sources)."""

    per_count: Annotated[dict[str, MetricRow], BeforeValidator(_count_keys)] = Field(default_factory=dict)  # type: ignore[valid-type]


class _AggregateBase(Closed):
    n_samples: Count(1) | None = None  # type: ignore[valid-type]
    per_count: dict[str, dict[str, StatNonNegative]]  # type: ignore[valid-type]


def _build_aggregate_split() -> type[BaseModel]:
    from pydantic import create_model

    return create_model(
        "AggregateSplit",
        __base__=_AggregateBase,
        __doc__="One split's aggregation: ``n_samples`` and each metric's mean ± std over seeds, also per count.",
        **{k: (StatNonNegative, ...) for k in METRIC_KEYS},
    )


AggregateSplit = _build_aggregate_split()


def _interval_row(v: Any) -> Any:
    if v is None:
        return v
    if not isinstance(v, dict) or set(v) != {"estimate", "low", "high"}:
        raise fail(f"must be {{\"estimate\", \"low\", \"high\"}} or null, got {show(v)}")
    if not all(is_number(v[k]) for k in v):
        raise fail(f"must hold finite numbers, got {show(v)}")
    if not v["low"] <= v["estimate"] <= v["high"]:
        raise fail(f"must have low <= estimate <= high, got {show(v)}")
    return v


IntervalRow = Annotated[
    dict[str, float] | None,
    PlainValidator(_interval_row),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["estimate", "low", "high"],
                    "additionalProperties": False,
                    "properties": {k: {"type": "number"} for k in ("estimate", "low", "high")},
                },
                {"type": "null"},
            ]
        }
    ),
]


class Intervals(Closed):
    """``aggregate.intervals``: the test split's headline metrics with their intervals,
    computed from the seeds' per-sample errors (:func:`diffbench.results.per_sample.headline_intervals`)."""

    level: Score(0.0, 1.0, null=False)  # type: ignore[valid-type]
    method: Text()  # type: ignore[valid-type]
    n_boot: Count(100)  # type: ignore[valid-type]
    boot_seed: Count(0)  # type: ignore[valid-type]
    n_seeds: Count(1)  # type: ignore[valid-type]
    n_samples: Count(2)  # type: ignore[valid-type]
    metrics: dict[str, IntervalRow]
    per_count: Annotated[dict[str, dict[str, IntervalRow]], BeforeValidator(_count_keys)]


class Aggregate(Closed):
    test: AggregateSplit  # type: ignore[valid-type]
    val: AggregateSplit  # type: ignore[valid-type]
    intervals: Intervals | None = None
