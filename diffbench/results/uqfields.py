"""The forms of an uncertainty score in ``result.json`` and a seed's per-sample record.

A score (Spearman, AUROC, caught share; :mod:`diffbench.results.uq`) is an interval
``{"estimate", "low", "high", "level", "method", "n_seeds", "n_samples"}`` (low <= estimate <=
high, inside the score's range), an ``{"underpowered": true, "positives", "required"}`` marker,
null (undefined), or, in a result written before the intervals, a number per seed and a
``{"mean", "std", "n"}`` per run. :class:`UqSamples` is what the scores are recomputed from.

>>> Underpowered.model_validate({"underpowered": True, "positives": 6, "required": 20}).positives
6
>>> score_kind({"estimate": 0.8}), score_kind(0.8), score_kind(None)
('interval', 'number', 'null')
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Tag,
    ValidationInfo,
    model_validator,
)

from .fields import (
    MAX_REASON,
    SLACK,
    Closed,
    Count,
    Score,
    StatSigned,
    StatUnit,
    Text,
    fail,
    is_int,
    is_number,
    show,
    typed,
)
from .names import SCORE_KEYS
from .uq import INTERVAL_KEYS, UNDERPOWERED_KEYS


class Underpowered(Closed):
    """A score not computed: fewer worst samples (``positives``) than the power rule ``required``."""

    underpowered: Literal[True]
    positives: Count(0)  # type: ignore[valid-type]
    required: Count(1)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _fewer(self) -> Any:
        if self.positives >= self.required:
            raise fail(
                f"must be {{\"underpowered\": true, \"positives\", \"required\"}} with fewer positives than required, "
                f"got {self.positives} of {self.required}"
            )
        return self


def interval(lo: float, hi: float, name: str) -> type[Closed]:
    """``{"estimate", "low", "high", "level", "method", "n_seeds", "n_samples"}`` in ``[lo, hi]``, low <= estimate <= high."""
    from pydantic import create_model

    def ordered(self: Any, info: ValidationInfo) -> Any:
        if not self.low - SLACK <= self.estimate <= self.high + SLACK:
            raise fail(f"must have low <= estimate <= high, got {self.low!r}, {self.estimate!r}, {self.high!r}")
        n = (info.context or {}).get("n_seeds")
        if n is not None and self.n_seeds > n:
            raise fail(f"must be an integer in 1..{n}, got {show(self.n_seeds)}", sub="n_seeds")
        return self

    return create_model(
        name,
        __base__=Closed,
        __doc__=f"A score with its interval, in [{lo:g}, {hi:g}].",
        __validators__={"_ordered": model_validator(mode="after")(ordered)},
        estimate=(Score(lo, hi, null=False), ...),
        low=(Score(lo, hi, null=False), ...),
        high=(Score(lo, hi, null=False), ...),
        level=(Score(0.5, 1.0, null=False), ...),
        method=(Text(limit=MAX_REASON, one_line=True), ...),
        n_seeds=(Count(1), ...),
        n_samples=(Count(1), ...),
    )


#: The union tags of the score forms (pydantic puts them in error locations; validate drops them).
SCORE_TAGS = {k: f"score:{k}" for k in ("interval", "underpowered", "null", "number", "stat")}


def score_kind(v: Any) -> str:
    if isinstance(v, BaseModel):
        return "underpowered" if isinstance(v, Underpowered) else "interval" if hasattr(v, "estimate") else "stat"
    if isinstance(v, dict):
        return (
            "underpowered"
            if "underpowered" in v
            else "interval"
            if "estimate" in v
            else "stat"
            if "mean" in v
            else "bad"
        )
    return "null" if v is None else "number"


def uq_score(lo: float, hi: float, point: Any, name: str) -> Any:
    """An uncertainty score: an interval, an underpowered marker, null, or ``point`` (the form
    of a result written before the intervals: a number per seed, a ``Stat`` per run)."""
    legacy = "number" if point is not None and not isinstance(point, type) else "stat"
    allowed = {"interval", "underpowered", "null", legacy}

    def shape(v: Any) -> Any:
        if score_kind(v) not in allowed:
            raise fail(
                f"must be an interval {{{', '.join(INTERVAL_KEYS)}}}, an underpowered marker "
                f"{{{', '.join(UNDERPOWERED_KEYS)}}}, null or (before the intervals) a "
                f"{'number' if legacy == 'number' else '{mean, std, n}'}, got {show(v)}"
            )
        return v

    return Annotated[
        Annotated[interval(lo, hi, name), Tag(SCORE_TAGS["interval"])]
        | Annotated[Underpowered, Tag(SCORE_TAGS["underpowered"])]
        | Annotated[point, Tag(SCORE_TAGS[legacy])]
        | Annotated[None, Tag(SCORE_TAGS["null"])],
        Discriminator(lambda v: SCORE_TAGS.get(score_kind(v), 'bad')),
        BeforeValidator(shape),
    ]


SeedSpearman = uq_score(-1.0, 1.0, Score(-1.0, 1.0), "SpearmanInterval")
SeedUnitScore = uq_score(0.0, 1.0, Score(0.0, 1.0), "UnitInterval")
RunSpearman = uq_score(-1.0, 1.0, StatSigned, "SpearmanInterval")
RunUnitScore = uq_score(0.0, 1.0, StatUnit, "UnitInterval")


def off_form(row: Any, form: str) -> str | None:
    """The first score of an ``ok`` row not in ``form`` ("point" before the intervals, "interval"
    after; null fits both), or None."""
    for key in SCORE_KEYS:
        kind = score_kind(getattr(row, key))
        if kind != "null" and ("point" if kind in ("number", "stat") else "interval") != form:
            return key
    return None


def _values(v: Any) -> Any:
    if not isinstance(v, list) or not all(x is None or is_number(x) for x in v):
        raise fail(f"must be a list of finite numbers (null for NaN), one per test sample, got {show(v)}")
    return v


def _errors(v: Any) -> Any:
    if not isinstance(v, list) or not all(is_number(x) and x >= 0 for x in v):
        raise fail(f"must be a list of finite errors >= 0, one per test sample, got {show(v)}")
    return v


def _counts(v: Any) -> Any:
    if not isinstance(v, list) or not all(is_int(x) and x >= 0 for x in v):
        raise fail(f"must be a list of source counts (integers >= 0), one per test sample, got {show(v)}")
    return v


Values = typed(_values, {"type": "array", "items": {"anyOf": [{"type": "number"}, {"type": "null"}]}})


class UqSamples(Closed):
    """One seed's per-sample record: the true error, the source count and each scored row's value."""

    error: typed(_errors, {"type": "array", "items": {"type": "number", "minimum": 0}})  # type: ignore[valid-type]
    count: typed(_counts, {"type": "array", "items": {"type": "integer", "minimum": 0}})  # type: ignore[valid-type]
    values: dict[str, Values]  # type: ignore[valid-type]
