"""The timing records of a result: how an inference or solver time was measured (warm-up,
repeats, their spread, the machine's load) and the solver timed at the network's accuracy.
Part of the result schema (:mod:`diffbench.results.schema`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    model_validator,
)

from .cost import TOLERANCES
from .fields import (
    MAX_NAME,
    SLACK,
    Closed,
    Count,
    JsonObject,
    Open,
    Positive,
    Score,
    Text,
    fail,
    is_number,
    show,
    typed,
)

__all__ = ["SolverMatched", "Timing"]


def _load_average(v: Any) -> Any:
    if not isinstance(v, list) or len(v) != 3 or not all(is_number(x) and x >= 0 for x in v):
        raise fail(f"must be the 1/5/15-minute load average (three numbers >= 0), got {show(v)}")
    return v


LoadAverage = typed(
    _load_average, {"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": 3, "maxItems": 3}
)


class _Repeats(BaseModel):
    """The minimum of repeats after warm-up (:func:`diffbench.results.cost.summarise`), with its spread."""

    median_s_per_sample: Positive() | None = None  # type: ignore[valid-type]
    max_s_per_sample: Positive() | None = None  # type: ignore[valid-type]
    spread: Score(0.0, None, null=False) | None = None  # type: ignore[valid-type]
    repeats: Count(1) | None = None  # type: ignore[valid-type]
    warmup: Count(0) | None = None  # type: ignore[valid-type]
    load_average: LoadAverage | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _ordered(self) -> Any:
        lo, med, hi = getattr(self, "s_per_sample", None), self.median_s_per_sample, self.max_s_per_sample
        if (med is None) != (hi is None):
            raise fail(
                "is missing: a timing of repeats has both the median and the maximum",
                sub="median_s_per_sample" if med is None else "max_s_per_sample",
            )
        if lo is not None and med is not None and not lo <= med * (1 + SLACK) <= hi * (1 + 2 * SLACK):
            raise fail(
                f"must have s_per_sample (the minimum) <= median_s_per_sample <= max_s_per_sample, "
                f"got {lo!r}, {med!r}, {hi!r}"
            )
        return self


class Timing(_Repeats, Open):
    """A measured time per sample (the minimum of repeats; the rest: batch size, device, solver
    method), and for the network its forward FLOPs and parameters."""

    s_per_sample: Positive()  # type: ignore[valid-type]
    flops_per_sample: Count(1) | None = None  # type: ignore[valid-type]
    parameters: Count(0) | None = None  # type: ignore[valid-type]


class SolverMatched(_Repeats, Closed):
    """The exact solver at the network's accuracy (:func:`diffbench.training.timing.time_matched_solver`):
    the ladder tried, the multigrid and transform timings, and the cheaper (``kind``) when one matched."""

    target_nmae: Score(0.0, None, null=False)  # type: ignore[valid-type]
    reference_tol: Positive()  # type: ignore[valid-type]
    backend: Text(limit=MAX_NAME, one_line=True)  # type: ignore[valid-type]
    ladder: list[JsonObject]
    multigrid: JsonObject | None = None
    multigrid_note: Text(limit=MAX_NAME) | None = None  # type: ignore[valid-type]
    transform: JsonObject | None = None
    s_per_sample: Positive() | None = None  # type: ignore[valid-type]
    method: Text(limit=MAX_NAME, one_line=True) | None = None  # type: ignore[valid-type]
    tol: Positive() | None = None  # type: ignore[valid-type]
    nmae: Score(0.0, None, null=False) | None = None  # type: ignore[valid-type]
    kind: Literal["multigrid", "transform"] | None = None

    @model_validator(mode="after")
    def _matched(self) -> Any:
        if self.s_per_sample is None:
            return self
        for key in ("kind", "nmae", "method"):
            if getattr(self, key) is None:
                raise fail("is missing: a matched solver says which it is, its error and its method", sub=key)
        if self.nmae > self.target_nmae * (1 + SLACK):
            raise fail(
                f"must lie in [0, {self.target_nmae:g}] (no larger than target_nmae: the solver at the network's "
                f"accuracy), got {show(self.nmae)}",
                sub="nmae",
            )
        if self.kind == "multigrid" and self.tol not in TOLERANCES:
            raise fail(
                f"must be one of the ladder's tolerances {', '.join(f'{t:g}' for t in TOLERANCES)}, got {show(self.tol)}",
                sub="tol",
            )
        return self
