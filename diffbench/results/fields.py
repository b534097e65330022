"""The building blocks of the result schema: strict numbers, counts and texts, closed and
open blocks, ``{"mean", "std", "n"}`` statistics and ``ok`` / ``not applicable`` unions.

Each typed value fails with the one-line message :mod:`diffbench.results.validate` reports
(``<field> must be ...``): :func:`fail` carries it through pydantic, with ``sub`` naming a
part below the field (``status``, ``auroc.n``).

Limits (a result over any of them is refused by ``submit``, so that no entry can break or
bloat the board): a metric is 0 or in [:data:`MIN_NONZERO`, :data:`MAX_METRIC`] (1e-38: float32's
smallest normal number, 1e12); a time per sample in [1e-38, :data:`MAX_SECONDS`] s; any other
number 0 or of magnitude in [2.2e-308, :data:`MAX_NUMBER`] (1e30; a score stays below 1e12);
``model.parameters`` at most :data:`MAX_PARAMETERS` (1e13); any other integer at most
:data:`MAX_INT` (2**53 - 1, exact in JavaScript); ``hardware.label`` and names at most
:data:`MAX_LABEL` characters on one line; any other string anywhere at most :data:`MAX_STRING`
characters; the whole result at most :data:`MAX_RESULT_CHARS` characters of canonical JSON.

>>> is_number(10**400), in_magnitude(5e-324, MIN_NONZERO, MAX_METRIC), in_magnitude(0.0, MIN_NONZERO, MAX_METRIC)
(False, False, True)
>>> show(None), show("abc"), show([0, 1])
('null', "'abc'", '[0, 1]')
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    PlainValidator,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .names import (
    NOT_APPLICABLE,
    OK,
)

MAX_REASON = 1000
MAX_NAME = 200
#: The limits on every value of a result (issue #16: one entry must never break the board).
#: A metric is 0 or in [MIN_NONZERO, MAX_METRIC]: float32 (what the evaluator computes in) has
#: no normal number below 1.18e-38, so anything smaller is a fabricated or underflowed value.
MIN_NONZERO = 1e-38
MAX_METRIC = 1e12
#: The largest parameter count (10 trillion), the largest other integer (exact in a JS number).
MAX_PARAMETERS = 10**13
MAX_INT = 2**53 - 1
#: A time (seconds) lies in [MIN_NONZERO, MAX_SECONDS] (a year).
MAX_SECONDS = 3.2e7
#: ``hardware.label`` (what the board shows) and any other string anywhere in a result.
MAX_LABEL = 200
MAX_STRING = 10_000
#: The largest checkpoint a submission may name (a file next to it or a URL).
MAX_CHECKPOINT_BYTES = 2**34
#: One part of a relative path inside a run folder or a submission bundle.
PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
#: The canonical JSON of a whole result (a run with every trust block is about 100 kB).
MAX_RESULT_CHARS = 4 * 2**20
#: Any other number (scores, provenance floats): 0 or a normal float64 of magnitude <= MAX_NUMBER.
MIN_NORMAL = 2.2250738585072014e-308
MAX_NUMBER = 1e30
#: Slack on the score ranges for floating-point rounding.
SLACK = 1e-9
TASK_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Control characters, line and paragraph separators, and the bidirectional marks, embeddings,
#: overrides and isolates (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069), which can make
#: rendered text read differently from what is stored.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
COUNT_KEY = re.compile(r"0|[1-9][0-9]{0,6}")

JsonObject = dict[str, Any]


def show(x: Any) -> str:
    """A value as an error message quotes it (JSON, strings as Python reprs, at most 60 characters).

    >>> show(None), show("abc"), show([0, 1])
    ('null', "'abc'", '[0, 1]')
    """
    text = json.dumps(x, sort_keys=True, allow_nan=True, default=str) if not isinstance(x, str) else repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def one_line(text: str) -> str:
    """``text`` with its control characters (a newline in a submitted key, ...) written as escapes.

    >>> one_line("bad key 'a\\nb'")
    "bad key 'a\\\\nb'"
    """
    return CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def fail(message: str, sub: str = "") -> PydanticCustomError:
    """The error a validator raises: ``message`` completes "<field> ...", ``sub`` names a part below the field."""
    return PydanticCustomError("diffbench", "{message}", {"message": message, "sub": sub})


def is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def is_number(x: Any) -> bool:
    """A finite JSON number (an integer too large for a float, e.g. ``10**400``, is not)."""
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def in_magnitude(v: float, lo: float, hi: float) -> bool:
    """``v`` is 0 or its magnitude lies in ``[lo, hi]``."""
    return v == 0 or lo <= abs(v) <= hi


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"[{lo:g}, {hi:g}]"
    return f">= {lo:g}" if lo is not None else f"<= {hi:g}"


def number_schema(lo: float | None, hi: float | None, null: bool, exclusive: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if lo is not None:
        schema["exclusiveMinimum" if exclusive else "minimum"] = lo
    if hi is not None:
        schema["maximum"] = hi
    return {"anyOf": [schema, {"type": "null"}]} if null else schema


def typed(check: Callable[[Any], Any], schema: dict[str, Any]) -> Any:
    return Annotated[Any, PlainValidator(check), WithJsonSchema(schema)]


def Score(
    lo: float | None = None, hi: float | None = None, *, null: bool = True, not_a_number: str | None = None
) -> Any:
    """A finite number (or null when ``null``) in ``[lo, hi]`` (with :data:`SLACK`)."""

    def check(v: Any) -> Any:
        if v is None and null:
            return v
        if not is_number(v):
            raise fail(not_a_number or f"must be a finite number{' or null' if null else ''}, got {show(v)}")
        if (lo is not None and v < lo - SLACK) or (hi is not None and v > hi + SLACK):
            raise fail(f"must lie in {_bounds(lo, hi)}, got {show(v)}")
        if not in_magnitude(v, MIN_NORMAL, MAX_METRIC):
            raise fail(f"must be 0 or of magnitude in [{MIN_NORMAL:g}, {MAX_METRIC:g}], got {show(v)}")
        return v

    return typed(check, number_schema(lo, hi if hi is not None else MAX_METRIC, null))


def Metric(region: bool) -> Any:
    """A metric: a finite number >= 0; null too for a region metric (an empty region)."""
    allowed = " or null (empty region)" if region else ""

    def check(v: Any) -> Any:
        if v is None and region:
            return v
        if not is_int(v) and (not is_number(v) or v < 0):
            raise fail(f"must be a finite number >= 0{allowed}, got {show(v)}")
        if not is_number(v) or v < 0 or not in_magnitude(v, MIN_NONZERO, MAX_METRIC):
            raise fail(f"must be 0 or a finite number in [{MIN_NONZERO:g}, {MAX_METRIC:g}]{allowed}, got {show(v)}")
        return v

    return typed(check, number_schema(0, MAX_METRIC, region))


def Positive(*, null: bool = False, what: str = "> 0") -> Any:
    """A finite number > 0 (a time per sample)."""

    def check(v: Any) -> Any:
        if v is None and null:
            return v
        if not is_number(v) or v <= 0:
            raise fail(f"must be a finite number {what}, got {show(v)}")
        if not MIN_NONZERO <= v <= MAX_SECONDS:
            raise fail(f"must lie in [{MIN_NONZERO:g}, {MAX_SECONDS:g}] (seconds), got {show(v)}")
        return v

    return typed(check, number_schema(0, MAX_SECONDS, null, exclusive=True))


def Finite(*, null: bool = True) -> Any:
    """Any finite number (or null)."""

    def check(v: Any) -> Any:
        if v is None and null:
            return v
        if not is_number(v):
            raise fail(f"must be a finite number{' or null' if null else ''}, got {show(v)}")
        if not in_magnitude(v, MIN_NORMAL, MAX_NUMBER):
            raise fail(f"must be 0 or of magnitude in [{MIN_NORMAL:g}, {MAX_NUMBER:g}], got {show(v)}")
        return v

    return typed(check, number_schema(-MAX_NUMBER, MAX_NUMBER, null))


def Count(lo: int = 0, hi: int = MAX_INT) -> Any:
    """An integer in ``lo..hi`` (no boolean, no float; at most :data:`MAX_INT` unless ``hi`` says)."""
    want = f"an integer in {lo}..{hi}" if hi != MAX_INT else f"an integer >= {lo}"

    def check(v: Any) -> Any:
        if not is_int(v) or v < lo or v > hi:
            over = f" (at most {MAX_INT})" if hi == MAX_INT and is_int(v) and v > hi else ""
            raise fail(f"must be {want}{over}, got {show(v)}")
        return v

    return typed(check, {"type": "integer", "minimum": lo, "maximum": hi})


def Text(*, limit: int | None = None, one_line: bool = False) -> Any:
    """A non-empty string (at most ``limit`` characters, without control characters when ``one_line``)."""

    def check(v: Any) -> Any:
        if not isinstance(v, str) or not v.strip():
            raise fail(f"must be a non-empty string, got {show(v)}")
        if (limit is not None and len(v) > limit) or (one_line and CONTROL.search(v)):
            raise fail(f"must be at most {limit} characters without control characters")
        return v

    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if limit is not None:
        schema["maxLength"] = limit
    return typed(check, schema)


def Object(what: str = "") -> Any:
    """A JSON object recorded as written (provenance); explicit null refused."""

    def check(v: Any) -> Any:
        if not isinstance(v, dict):
            raise fail(f"must be an object{what}, got {show(v)}")
        return v

    return typed(check, {"type": "object"})


def _reason(v: Any) -> Any:
    if not isinstance(v, str) or not v.strip() or len(v) > MAX_REASON:
        raise fail(
            f"must say why it is not applicable (a non-empty string of at most {MAX_REASON} characters), got {show(v)}"
        )
    return v


Reason = typed(_reason, {"type": "string", "minLength": 1, "maxLength": MAX_REASON})


def _status_is(allowed: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if not isinstance(v, dict):
            raise fail(f"must be an object with a status, got {show(v)}")
        if v.get("status") not in allowed:
            got = show(v["status"]) if "status" in v else "nothing"
            raise fail(f"must be {' or '.join(map(repr, allowed))}, got {got}", sub="status")
        return v

    return check


def ok_or_not_applicable(ok: type[BaseModel], na: type[BaseModel]) -> Any:
    """``ok`` or ``na``, told apart by ``status`` (anything else: one line naming ``.status``)."""
    return Annotated[
        Annotated[ok, Tag(OK)] | Annotated[na, Tag(NOT_APPLICABLE)],
        Discriminator(lambda v: v.get("status") if isinstance(v, dict) else getattr(v, "status", None)),
        BeforeValidator(_status_is((OK, NOT_APPLICABLE))),
    ]


class Closed(BaseModel):
    """A block whose keys are all known."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Open(BaseModel):
    """A provenance block: its named keys are checked, the rest recorded as written."""

    model_config = ConfigDict(extra="allow", frozen=True)


def stat(lo: float | None = None, hi: float | None = None, name: str = "Stat") -> type[BaseModel]:
    """``{"mean", "std", "n"}``: mean ± unbiased std over the ``n`` seeds that had a value."""
    from pydantic import create_model

    def keys(cls: Any, v: Any) -> Any:
        if not isinstance(v, dict) or set(v) != {"mean", "std", "n"}:
            raise fail(f"must be {{\"mean\", \"std\", \"n\"}} (mean ± unbiased std over seeds), got {show(v)}")
        return v

    where = _bounds(lo, hi) if lo is not None or hi is not None else "any range"
    return create_model(
        name,
        __base__=Closed,
        __doc__=f"Mean ± unbiased std over seeds; the mean in {where}.",
        __validators__={"_keys": model_validator(mode="before")(classmethod(keys))},
        mean=(Score(lo, hi), ...),
        std=(Score(0.0, None), ...),
        n=(Count(0), ...),
    )


Stat = stat()
StatNonNegative = stat(0.0, None, "StatNonNegative")
StatUnit = stat(0.0, 1.0, "StatUnit")
StatSigned = stat(-1.0, 1.0, "StatSigned")
StatNonPositive = stat(None, 0.0, "StatNonPositive")


def check_n(row: BaseModel, n_max: int) -> None:
    for key, value in row:
        if isinstance(value, BaseModel) and "n" in type(value).model_fields and value.n > n_max:  # type: ignore[attr-defined]
            raise fail(f"must be an integer in 0..{n_max}, got {show(value.n)}", sub=f"{key}.n")  # type: ignore[attr-defined]
