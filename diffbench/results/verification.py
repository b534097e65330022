"""Verified entries: the tolerance of a re-score, the comparison of claimed and re-scored
metrics, and the verification record that ``diffbench verify`` writes and the site shows.

``diffbench verify`` re-scores each seed's checkpoint on the task's test and validation
splits, regenerated from the task's seeds, through the evaluator of ``diffbench run``, and
compares every metric (every split, every source count, ``n_samples`` exactly) with the
claim. Two numbers agree when ``|rescored - claimed| <= ABS_TOL + REL_TOL * |claimed|``:
the metrics are float32 reductions, whose last digits change with the hardware, the BLAS
and the batch order (a few float32 ulps, ~1e-7 relative per operation, summed over up to
millions of pixels), so :data:`REL_TOL` = 1e-4 leaves two orders of magnitude for those
while any edited number of the reported precision is caught; :data:`ABS_TOL` = 1e-6 covers
metrics near 0 (an empty-ish region). ``null`` (an empty region) must be ``null`` in both.

The record (``<leaderboard>/submissions/<task>/<id>/verification.json``) names the result
digest and every checkpoint hash it verified; the site shows the entry as **verified** (with
the record's date, diffbench version and hardware) only while they match the stored
submission, else as **claimed**.

>>> first_mismatch({"nmae": 0.1, "per_count": {"1": {"nmae": 0.2, "n_samples": 3}}},
...                {"nmae": 0.10000001, "per_count": {"1": {"nmae": 0.2, "n_samples": 3}}}, "test") is None
True
>>> first_mismatch({"nmae": 0.1}, {"nmae": 0.1002}, "test")
('test.nmae', 0.1, 0.1002)
>>> agree(None, None), agree(0.0, 5e-7), agree(1.0, 1.0002)
(True, True, False)
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import PlainValidator, ValidationError, WithJsonSchema

from .fields import (
    DATE_RE,
    HEX64,
    MAX_LABEL,
    Closed,
    Count,
    Score,
    Text,
    fail,
    is_number,
    show,
)

__all__ = [
    "ABS_TOL",
    "RECORD_NAME",
    "REL_TOL",
    "VerificationRecord",
    "agree",
    "first_mismatch",
    "read_record",
    "record_matches",
]

#: Relative and absolute tolerance of a re-scored metric against its claim (see the module docstring).
REL_TOL = 1e-4
ABS_TOL = 1e-6
#: The record's file name, in the submission's own folder (``<task>/<id>/``).
RECORD_NAME = "verification.json"


def agree(claimed: Any, rescored: Any) -> bool:
    """Whether a re-scored value agrees with its claim (numbers within the tolerance, the rest equal)."""
    if claimed is None or rescored is None:
        return claimed is None and rescored is None
    if isinstance(claimed, int) and isinstance(rescored, int) and not isinstance(claimed, bool):
        return claimed == rescored
    if is_number(claimed) and is_number(rescored):
        return abs(rescored - claimed) <= ABS_TOL + REL_TOL * abs(claimed)
    return False


def first_mismatch(claimed: dict[str, Any], rescored: dict[str, Any], where: str) -> tuple[str, Any, Any] | None:
    """The first ``(field, claimed, rescored)`` that disagrees between one split's claimed and
    re-scored metrics (``per_count`` included, every key of either side), or None."""
    for key in sorted(set(claimed) | set(rescored)):
        a, b = claimed.get(key), rescored.get(key)
        here = f"{where}.{key}"
        if key == "per_count":
            if not isinstance(a, dict) or not isinstance(b, dict) or set(a) != set(b):
                return here, sorted(a) if isinstance(a, dict) else a, sorted(b) if isinstance(b, dict) else b
            for c in sorted(a, key=lambda k: int(k) if k.isdigit() else -1):
                found = first_mismatch(a[c], b[c], f"{here}.{c}")
                if found:
                    return found
        elif not agree(a, b):
            return here, a, b
    return None


def _hex(v: Any) -> Any:
    if not isinstance(v, str) or not HEX64.match(v):
        raise fail(f"must be a SHA-256 hex digest, got {show(v)}")
    return v


def _date(v: Any) -> Any:
    if not isinstance(v, str) or not DATE_RE.fullmatch(v):
        raise fail(f"must be a YYYY-MM-DD date, got {show(v)}")
    return v


def _tolerance(v: Any) -> Any:
    if not isinstance(v, dict) or set(v) != {"rel", "abs"} or not all(is_number(x) and 0 <= x < 1 for x in v.values()):
        raise fail(f"must be {{\"rel\", \"abs\"}} with numbers in [0, 1), got {show(v)}")
    return v


def _submission_id(v: Any) -> Any:
    if not isinstance(v, str) or not re.fullmatch(r"[0-9a-f]{16}", v):
        raise fail(f"must be the submission's id (16 hex digits), got {show(v)}")
    return v


def _checkpoints(v: Any) -> Any:
    if (
        not isinstance(v, dict)
        or not v
        or not all(isinstance(k, str) and k.isdigit() and isinstance(h, str) and HEX64.match(h) for k, h in v.items())
    ):
        raise fail("must map each seed to the SHA-256 of the checkpoint that was re-scored")
    return v


Hex = Annotated[str, PlainValidator(_hex), WithJsonSchema({"type": "string", "pattern": HEX64.pattern})]


class VerificationRecord(Closed):
    """What ``diffbench verify`` records about a successful re-score."""

    record_version: Literal[1]
    status: Literal["verified"]
    submission: Annotated[
        str, PlainValidator(_submission_id), WithJsonSchema({"type": "string", "pattern": "^[0-9a-f]{16}$"})
    ]
    result_digest: Hex
    checkpoints: Annotated[dict[str, str], PlainValidator(_checkpoints)]
    verified: Annotated[str, PlainValidator(_date), WithJsonSchema({"type": "string", "pattern": DATE_RE.pattern})]
    diffbench_version: Text(limit=MAX_LABEL, one_line=True)  # type: ignore[valid-type]
    hardware: Text(limit=MAX_LABEL, one_line=True)  # type: ignore[valid-type]
    tolerance: Annotated[dict[str, float], PlainValidator(_tolerance)]
    metrics_compared: Count(1)  # type: ignore[valid-type]
    seconds: Score(0.0, None) | None = None  # type: ignore[valid-type]


def read_record(data: Any) -> VerificationRecord | None:
    """The parsed record, or None when ``data`` is not a valid one."""
    try:
        return VerificationRecord.model_validate(data)
    except ValidationError:
        return None


def record_matches(record: VerificationRecord | None, digest: str, checkpoints: dict[str, str] | None) -> bool:
    """Whether ``record`` verified exactly this result (``digest``) from exactly these
    checkpoints (seed -> SHA-256): only then is the entry shown as verified."""
    if record is None or checkpoints is None:
        return False
    return (
        record.result_digest == digest and record.checkpoints == checkpoints and math.isfinite(record.tolerance["rel"])
    )
