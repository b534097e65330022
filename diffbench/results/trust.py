"""The schema of the trust blocks of ``result.json``: ``uq`` (error indicators of ``diffbench
run --uq``) and ``consistency`` (physics-consistency scores), per seed and for the run.

Each score is ``ok`` with its numbers or ``not applicable`` with a ``reason`` (a seed's
consistency block may instead be ``{"status": "error", "error"}``). Run-level scores are
``{"mean", "std", "n"}`` over the seeds; ``n`` and ``n_seeds`` are bounded by the run's seeds
(the ``n_seeds`` validation context).

>>> sorted(RunUq.model_fields)
['indicators', 'inverse_model', 'requested', 'settings']
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Literal, Optional, Union

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
    StatSigned,
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


class SeedIndicatorOk(Closed):
    status: Literal[OK]
    spearman: Score(-1.0, 1.0)  # type: ignore[valid-type]
    auroc: Score(0.0, 1.0)  # type: ignore[valid-type]
    catch_rate: Score(0.0, 1.0)  # type: ignore[valid-type]
    indicator_mean: Score()  # type: ignore[valid-type]
    indicator_median: Optional[Score()] = None  # type: ignore[valid-type]


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
    spearman: StatSigned  # type: ignore[valid-type]
    auroc: StatUnit  # type: ignore[valid-type]
    catch_rate: StatUnit  # type: ignore[valid-type]
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


class SeedUq(Closed):
    """One seed's error indicators (``diffbench run --uq``)."""

    n_samples: Count(1)  # type: ignore[valid-type]
    error_mean: Score(0.0, None, null=False)  # type: ignore[valid-type]
    settings: Object()  # type: ignore[valid-type]
    indicators: dict[str, SeedIndicator]  # type: ignore[valid-type]
    inverse_model: Optional[Object()] = None  # type: ignore[valid-type]
    time_s: Optional[Score(0.0, None)] = None  # type: ignore[valid-type]


def _requested(v: Any) -> Any:
    if not isinstance(v, list) or not v or not all(isinstance(r, str) for r in v) or len(set(v)) != len(v):
        raise fail(f"must be a non-empty list of distinct indicator names, got {show(v)}")
    unknown = [r for r in v if r not in INDICATORS]
    if unknown:
        raise fail(f"names unknown indicator(s) {', '.join(map(repr, unknown))}; known: {', '.join(INDICATORS)}")
    return v


class RunUq(Closed):
    """The run's error indicators: what was requested and each one's scores over seeds."""

    requested: Annotated[list[str], PlainValidator(_requested),
                         WithJsonSchema({"type": "array", "items": {"enum": list(INDICATORS)}, "minItems": 1, "uniqueItems": True})]
    settings: Object()  # type: ignore[valid-type]
    indicators: dict[str, RunIndicator]  # type: ignore[valid-type]
    inverse_model: Optional[Object()] = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _exactly_requested(self) -> Any:
        if set(self.indicators) != set(self.requested):
            raise fail(f"must hold exactly the requested indicators ({', '.join(self.requested)}), "
                       f"got {', '.join(sorted(self.indicators)) or 'none'}", sub="indicators")
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
    n_pairs: Optional[Count(0)] = None  # type: ignore[valid-type]
    n_samples: Optional[Count(0)] = None  # type: ignore[valid-type]
    transforms: Optional[Transforms] = None  # type: ignore[valid-type]


class SeedMaximumPrinciple(Closed):
    """The share of negative predictions for non-negative data, and the most negative value."""

    status: Literal[OK]
    negative_share: CScore(0.0, 1.0)  # type: ignore[valid-type]
    most_negative: CScore(None, 0.0)  # type: ignore[valid-type]
    n_samples: Optional[Count(0)] = None  # type: ignore[valid-type]


SeedRelative = ok_or_not_applicable(SeedRelativeError, SeedNotApplicable)


class SeedConsistency(Closed):
    """One seed's physics-consistency scores."""

    n_samples: Count(1)  # type: ignore[valid-type]
    time_s: Optional[Score(0.0, None, null=False)] = None  # type: ignore[valid-type]
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
    Union[Annotated[SeedConsistency, Tag("scores")], Annotated[SeedConsistencyError, Tag("error")]],
    Discriminator(lambda v: "error" if (v.get("status") if isinstance(v, dict) else getattr(v, "status", None)) == "error" else "scores"),
    BeforeValidator(_scores_object),
]


class RunRelativeError(Closed):
    status: Literal[OK]
    mean: StatNonNegative  # type: ignore[valid-type]
    max: StatNonNegative  # type: ignore[valid-type]
    n_pairs: Optional[Count(0)] = None  # type: ignore[valid-type]
    n_samples: Optional[Count(0)] = None  # type: ignore[valid-type]
    transforms: Optional[Transforms] = None  # type: ignore[valid-type]


class RunMaximumPrinciple(Closed):
    status: Literal[OK]
    negative_share: StatUnit  # type: ignore[valid-type]
    most_negative: StatNonPositive  # type: ignore[valid-type]
    n_samples: Optional[Count(0)] = None  # type: ignore[valid-type]


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
