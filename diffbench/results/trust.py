"""The schema of the trust blocks of ``result.json``: ``uq`` (error indicators of ``diffbench
run --uq``) and ``consistency`` (physics-consistency scores), per seed and for the run.

Each score is ``ok`` with its numbers or ``not applicable`` with a ``reason`` (a seed's
consistency block may instead be ``{"status": "error", "error"}``). Run-level consistency
scores are ``{"mean", "std", "n"}`` over the seeds; ``n`` and ``n_seeds`` are bounded by the
run's seeds (the ``n_seeds`` validation context).

An uncertainty score (Spearman, AUROC, caught share; :mod:`diffbench.results.uq`) is an
interval ``{"estimate", "low", "high", "level", "method", "n_seeds", "n_samples"}``, an
``{"underpowered": true, "positives", "required"}`` marker (fewer worst samples than the power
rule asks), or null (undefined); each seed also scores the label-free ``baselines`` and keeps
its ``samples`` (error, source count and every scored row's value per test sample), and the
run scores the baselines too. A result written before the intervals has neither baselines nor
samples, point scores per seed and ``{"mean", "std", "n"}`` per run.

>>> sorted(RunUq.model_fields)
['baselines', 'indicators', 'inverse_model', 'requested', 'settings']
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Discriminator,
    PlainValidator,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .fields import (
    Closed,
    Count,
    Object,
    Reason,
    Score,
    Stat,
    StatNonNegative,
    StatNonPositive,
    StatUnit,
    check_n,
    fail,
    is_number,
    number_schema,
    ok_or_not_applicable,
    show,
    typed,
)
from .names import INDICATORS, NOT_APPLICABLE, OK
from .uq import BASELINES
from .uqfields import (
    RunSpearman,
    RunUnitScore,
    SeedSpearman,
    SeedUnitScore,
    UqSamples,
    off_form,
)


class SeedIndicatorOk(Closed):
    status: Literal[OK]
    spearman: SeedSpearman  # type: ignore[valid-type]
    auroc: SeedUnitScore  # type: ignore[valid-type]
    catch_rate: SeedUnitScore  # type: ignore[valid-type]
    indicator_mean: Score()  # type: ignore[valid-type]
    indicator_median: Score() | None = None  # type: ignore[valid-type]


def _no_scores(allowed: set[str]) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        extra = sorted(set(v) - allowed) if isinstance(v, dict) else []
        if extra:
            raise fail(f"is not applicable and must carry no scores, got {', '.join(extra)}")
        return v

    return check


class SeedNotApplicable(Closed):
    """A score that does not apply, and why."""

    status: Literal[NOT_APPLICABLE]
    reason: Reason  # type: ignore[valid-type]

    _extra = model_validator(mode="before")(_no_scores({"status", "reason"}))


class RunIndicatorOk(Closed):
    status: Literal[OK]
    n_seeds: Count(1)  # type: ignore[valid-type]
    spearman: RunSpearman  # type: ignore[valid-type]
    auroc: RunUnitScore  # type: ignore[valid-type]
    catch_rate: RunUnitScore  # type: ignore[valid-type]
    indicator_mean: Stat  # type: ignore[valid-type]

    @field_validator("n_seeds")
    @classmethod
    def _at_most_seeds(cls, v: int, info: ValidationInfo) -> int:
        n = (info.context or {}).get("n_seeds")
        if n is not None and v > n:
            raise fail(f"must be an integer in 1..{n}, got {show(v)}")
        return v

    @model_validator(mode="after")
    def _n(self) -> Any:
        check_n(self, self.n_seeds)
        return self


class RunNotApplicable(Closed):
    status: Literal[NOT_APPLICABLE]
    reason: Reason  # type: ignore[valid-type]
    n_seeds: Count(0, 0)  # type: ignore[valid-type]

    _extra = model_validator(mode="before")(_no_scores({"status", "reason", "n_seeds"}))


SeedIndicator = ok_or_not_applicable(SeedIndicatorOk, SeedNotApplicable)
RunIndicator = ok_or_not_applicable(RunIndicatorOk, RunNotApplicable)


def _exactly(rows: dict[str, Any], names: Any, what: str, sub: str) -> None:
    if set(rows) != set(names):
        raise fail(
            f"must hold exactly the {what} ({', '.join(names)}), got {', '.join(sorted(rows)) or 'none'}", sub=sub
        )


class SeedUq(Closed):
    """One seed's error indicators (``diffbench run --uq``), its baselines and per-sample values."""

    n_samples: Count(1)  # type: ignore[valid-type]
    error_mean: Score(0.0, None, null=False)  # type: ignore[valid-type]
    settings: Object()  # type: ignore[valid-type]
    indicators: dict[str, SeedIndicator]  # type: ignore[valid-type]
    baselines: dict[str, SeedIndicator] | None = None  # type: ignore[valid-type]
    samples: UqSamples | None = None
    inverse_model: Object() | None = None  # type: ignore[valid-type]
    time_s: Score(0.0, None) | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _samples(self) -> Any:
        if (self.baselines is None) != (self.samples is None):
            missing = "baselines" if self.baselines is None else "samples"
            raise fail(
                "is missing: a uq block with intervals has both baselines and samples "
                "(a result written before them has neither)",
                sub=missing,
            )
        form = "point" if self.samples is None else "interval"
        rows = {
            **{("indicators", k): v for k, v in self.indicators.items()},
            **{("baselines", k): v for k, v in (self.baselines or {}).items()},
        }
        for (group, name), row in rows.items():
            key = off_form(row, form) if row.status == OK else None
            if key is not None:
                raise fail(
                    "must be a number or null (a block without samples, written before the intervals)"
                    if form == "point"
                    else "must be an interval, an underpowered marker or null (the block has samples)",
                    sub=f"{group}.{name}.{key}",
                )
        if self.samples is None:
            return self
        _exactly(self.baselines, BASELINES, "baselines", "baselines")
        n = self.n_samples
        for key in ("error", "count"):
            if len(getattr(self.samples, key)) != n:
                raise fail(f"must be a list of {n} values (one per test sample)", sub=f"samples.{key}")
        scored = [name for (_, name), row in rows.items() if row.status == OK]
        _exactly(self.samples.values, scored, "scored indicators and baselines", "samples.values")
        for name, v in self.samples.values.items():
            if len(v) != n:
                raise fail(f"must be a list of {n} numbers (one per test sample)", sub=f"samples.values.{name}")
        mean = sum(self.samples.error) / n
        if not math.isclose(self.error_mean, mean, rel_tol=1e-9):
            raise fail(f"is {self.error_mean!r}, but the samples' errors average {mean!r}", sub="error_mean")
        return self


def _requested(v: Any) -> Any:
    if not isinstance(v, list) or not v or not all(isinstance(r, str) for r in v) or len(set(v)) != len(v):
        raise fail(f"must be a non-empty list of distinct indicator names, got {show(v)}")
    unknown = [r for r in v if r not in INDICATORS]
    if unknown:
        raise fail(f"names unknown indicator(s) {', '.join(map(repr, unknown))}; known: {', '.join(INDICATORS)}")
    return v


class RunUq(Closed):
    """The run's error indicators: what was requested and each one's scores over seeds."""

    requested: Annotated[
        list[str],
        PlainValidator(_requested),
        WithJsonSchema({"type": "array", "items": {"enum": list(INDICATORS)}, "minItems": 1, "uniqueItems": True}),
    ]
    settings: Object()  # type: ignore[valid-type]
    indicators: dict[str, RunIndicator]  # type: ignore[valid-type]
    baselines: dict[str, RunIndicator] | None = None  # type: ignore[valid-type]
    inverse_model: Object() | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _exactly_requested(self) -> Any:
        _exactly(self.indicators, self.requested, "requested indicators", "indicators")
        form = "point" if self.baselines is None else "interval"
        if self.baselines is not None:
            _exactly(self.baselines, BASELINES, "baselines", "baselines")
        for group, rows in (("indicators", self.indicators), ("baselines", self.baselines or {})):
            for name, row in rows.items():
                key = off_form(row, form) if row.status == OK else None
                if key is not None:
                    raise fail(
                        "must be {mean, std, n} (no baselines: a result written before the intervals)"
                        if form == "point"
                        else "must be an interval, an underpowered marker or null (the block has baselines)",
                        sub=f"{group}.{name}.{key}",
                    )
        return self


# --------------------------------------------------------------------------- consistency

NOT_A_FIELD = "is not a consistency field (numbers, n_* counts or transforms), got {}"


def CScore(lo: float | None = None, hi: float | None = None) -> Any:
    """A consistency number: finite or null, in range; a string is not a consistency field."""
    inner = Score(lo, hi)
    check = inner.__metadata__[0].func

    def wrapped(v: Any) -> Any:
        if v is not None and not is_number(v):
            raise fail(NOT_A_FIELD.format(show(v)))
        return check(v)

    return typed(wrapped, number_schema(lo, hi, True))


def _transforms(v: Any) -> Any:
    if not isinstance(v, list) or not all(isinstance(t, str) and 0 < len(t) <= 40 for t in v):
        raise fail(f"must be a list of symmetry names, got {show(v)}")
    return v


Transforms = typed(_transforms, {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 40}})


class SeedRelativeError(Closed):
    """Superposition, equivariance or flux balance of one seed: relative errors (mean, max) >= 0."""

    status: Literal[OK]
    mean: CScore(0.0)  # type: ignore[valid-type]
    max: CScore(0.0)  # type: ignore[valid-type]
    n_pairs: Count(0) | None = None  # type: ignore[valid-type]
    n_samples: Count(0) | None = None  # type: ignore[valid-type]
    transforms: Transforms | None = None  # type: ignore[valid-type]


class SeedMaximumPrinciple(Closed):
    """The share of negative predictions for non-negative data, and the most negative value."""

    status: Literal[OK]
    negative_share: CScore(0.0, 1.0)  # type: ignore[valid-type]
    most_negative: CScore(None, 0.0)  # type: ignore[valid-type]
    n_samples: Count(0) | None = None  # type: ignore[valid-type]


SeedRelative = ok_or_not_applicable(SeedRelativeError, SeedNotApplicable)


class SeedConsistency(Closed):
    """One seed's physics-consistency scores."""

    n_samples: Count(1)  # type: ignore[valid-type]
    time_s: Score(0.0, None, null=False) | None = None  # type: ignore[valid-type]
    superposition: SeedRelative  # type: ignore[valid-type]
    equivariance: SeedRelative  # type: ignore[valid-type]
    maximum_principle: ok_or_not_applicable(SeedMaximumPrinciple, SeedNotApplicable)  # type: ignore[valid-type]
    flux_balance: SeedRelative  # type: ignore[valid-type]


class SeedConsistencyError(Closed):
    """A seed whose consistency scores could not be computed, and the error."""

    status: Literal["error"]
    error: str

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, v: Any) -> Any:
        if not isinstance(v, dict) or set(v) != {"status", "error"} or not isinstance(v.get("error"), str):
            raise fail("is a failed block and must be {\"status\": \"error\", \"error\": <message>}")
        return v


def _scores_object(v: Any) -> Any:
    if not isinstance(v, dict):
        raise fail(f"must be an object of consistency scores, got {show(v)}")
    return v


SeedConsistencyBlock = Annotated[
    Annotated[SeedConsistency, Tag("scores")] | Annotated[SeedConsistencyError, Tag("error")],
    Discriminator(
        lambda v: (
            "error" if (v.get("status") if isinstance(v, dict) else getattr(v, "status", None)) == "error" else "scores"
        )
    ),
    BeforeValidator(_scores_object),
]


class RunRelativeError(Closed):
    status: Literal[OK]
    mean: StatNonNegative  # type: ignore[valid-type]
    max: StatNonNegative  # type: ignore[valid-type]
    n_pairs: Count(0) | None = None  # type: ignore[valid-type]
    n_samples: Count(0) | None = None  # type: ignore[valid-type]
    transforms: Transforms | None = None  # type: ignore[valid-type]


class RunMaximumPrinciple(Closed):
    status: Literal[OK]
    negative_share: StatUnit  # type: ignore[valid-type]
    most_negative: StatNonPositive  # type: ignore[valid-type]
    n_samples: Count(0) | None = None  # type: ignore[valid-type]


class RunScoreNotApplicable(Closed):
    status: Literal[NOT_APPLICABLE]
    reason: Reason  # type: ignore[valid-type]


RunRelative = ok_or_not_applicable(RunRelativeError, RunScoreNotApplicable)


class RunConsistency(Closed):
    """The run's physics-consistency scores: each ``ok`` score's numbers, mean ± std over seeds."""

    n_seeds: Count(1)  # type: ignore[valid-type]
    n_samples: Count(1)  # type: ignore[valid-type]
    superposition: RunRelative  # type: ignore[valid-type]
    equivariance: RunRelative  # type: ignore[valid-type]
    maximum_principle: ok_or_not_applicable(RunMaximumPrinciple, RunScoreNotApplicable)  # type: ignore[valid-type]
    flux_balance: RunRelative  # type: ignore[valid-type]

    @field_validator("n_seeds")
    @classmethod
    def _at_most_seeds(cls, v: int, info: ValidationInfo) -> int:
        n = (info.context or {}).get("n_seeds")
        if n is not None and v > n:
            raise fail(f"must be an integer in 1..{n}, got {show(v)}")
        return v

    @model_validator(mode="after")
    def _n(self) -> Any:
        for name in ("superposition", "equivariance", "maximum_principle", "flux_balance"):
            row = getattr(self, name)
            if row.status == OK:
                try:
                    check_n(row, self.n_seeds)
                except PydanticCustomError as exc:
                    raise fail(exc.context["message"], sub=f"{name}.{exc.context['sub']}") from None
        return self
