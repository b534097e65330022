"""The schema of ``result.json`` and of a stored submission, as pydantic models.

Every block that is scored is closed (``extra="forbid"``) and its numbers strict (a number is
a JSON number: no string, no boolean, finite, in its range); the provenance blocks (``data``,
``training``, ``packages``, ``hardware`` details, model and task specs, timings' details) are
JSON objects recorded as written (the metric blocks are :mod:`diffbench.results.metrics`). A
score block is either ``ok`` or ``not applicable`` (with a ``reason``), told apart by its
``status``. Each constraint fails with the one-line message
:func:`~diffbench.results.validate.check_result` reports, so the models are the checks.

What the models cannot see alone (the digest, the seed list against the per-seed results,
the aggregation agreeing with the seeds, the cost means, the task) is checked in
:mod:`diffbench.results.validate`. :func:`result_json_schema` publishes the JSON Schema
(``diffbench schema``; committed as ``leaderboard/result.schema.json``).

>>> sorted(result_json_schema()["properties"])[:3]
['aggregate', 'argv', 'command']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PlainValidator, StrictBool, WithJsonSchema, field_validator

from .fields import (
    HEX64,
    MAX_LABEL,
    MAX_NAME,
    MAX_PARAMETERS,
    TASK_NAME,
    Closed,
    Count,
    Finite,
    JsonObject,
    Object,
    Open,
    Positive,
    Score,
    Text,
    fail,
    is_int,
    show,
)
from .metrics import Aggregate, AggregateSplit, IntervalRow, Intervals, MetricRow, SplitResult  # noqa: F401 (as before)
from .per_sample import ENCODING, QUANTITIES
from .refs import CheckpointRef, http_url, relative_path  # noqa: F401 (http_url: part of the face)
from .timing import SolverMatched, Timing
from .trust import RunConsistency, RunUq, SeedConsistencyBlock, SeedUq

__all__ = ["CheckpointRef", "Result", "http_url", "relative_path", "result_json_schema"]


# --------------------------------------------------------------------------- the result


def _non_null(what: str) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if v is None:
            raise fail(f"must be an object ({what}), got null")
        return v

    return check


def _per_sample(v: Any) -> Any:
    if not isinstance(v, dict):
        raise fail(f"must be an object of per-sample errors, got {show(v)}")
    if v.get("encoding") != ENCODING:
        raise fail(f"must be {ENCODING!r}, got {show(v.get('encoding'))}", sub="encoding")
    return v


PerSampleBlock = Annotated[
    dict[str, Any],
    PlainValidator(_per_sample),
    WithJsonSchema(
        {
            "type": "object",
            "required": ["n", "encoding", "index", "count", *QUANTITIES],
            "properties": {
                "n": {"type": "integer", "minimum": 2},
                "encoding": {"const": ENCODING},
                "index": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "count": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                **{k: {"type": "string", "contentEncoding": "base64"} for k in QUANTITIES},
            },
        }
    ),
]


STOP_REASONS = ("stopped_early", "budget_capped")


class Stop(Closed):
    """Where a seed's training stopped and why: validation stopped improving for ``patience``
    evaluations (``stopped_early``) or the maximum budget was reached (``budget_capped``)."""

    reason: Literal["stopped_early", "budget_capped"]
    step: Count(0)  # type: ignore[valid-type]
    epoch: Count(0)  # type: ignore[valid-type]
    patience: Count(1) | None = None  # type: ignore[valid-type]
    max_steps: int | None = None
    max_epochs: int | None = None


class SeedResult(Closed):
    """One training seed: its metrics on both splits, timings, and optional trust scores."""

    seed: Count(0)  # type: ignore[valid-type]
    test: SplitResult
    val: SplitResult
    inference: Timing
    solver: Timing
    solver_matched: SolverMatched | None = None
    images: Annotated[list[str], PlainValidator(lambda v: _paths(v))] | None = None
    wandb: Object() | None = None  # type: ignore[valid-type]
    train_time_s: Finite(null=False) | None = None  # type: ignore[valid-type]
    best_checkpoint: (
        Annotated[str, PlainValidator(relative_path), WithJsonSchema({"type": "string", "pattern": "^[^/]"})] | None
    ) = None
    checkpoint: CheckpointRef | None = None
    best_epoch: Count(0) | None = None  # type: ignore[valid-type]
    epochs_run: Count(0) | None = None  # type: ignore[valid-type]
    #: True when part of this seed was trained after a restart (``--resume``; exact on one CPU device).
    resumed: StrictBool | None = None
    uq: SeedUq | None = None
    consistency: SeedConsistencyBlock | None = None  # type: ignore[valid-type]
    per_sample: PerSampleBlock | None = None  # type: ignore[valid-type]
    stop: Stop | None = None


def _paths(v: Any) -> Any:
    if not isinstance(v, list) or not all(isinstance(p, str) for p in v):
        raise fail("must be a list of relative paths")
    for p in v:
        relative_path(p, ".png")
    return v


class ModelInfo(Closed):
    """What was trained: its name, where it comes from, its spec and parameter count."""

    name: Text(limit=MAX_NAME, one_line=True)  # type: ignore[valid-type]
    parameters: Count(0, MAX_PARAMETERS)  # type: ignore[valid-type]
    kind: str | None = None
    package: str | None = None
    package_version: str | None = None
    spec: JsonObject | None = None


def _task_name(v: Any) -> Any:
    if not isinstance(v, str) or not v.strip():
        raise fail(f"must be a non-empty string, got {show(v)}")
    if not TASK_NAME.match(v):
        raise fail(f"{show(v)} is not a task name (lower-case letters, digits, '.', '_', '-')")
    return v


def _spec_hash(v: Any) -> Any:
    if not isinstance(v, str) or not HEX64.match(v):
        raise fail(f"must be the task's SHA-256 spec hash, got {show(v)}")
    return v


class TaskInfo(Open):
    """The task the run was scored on, identified by name and spec hash."""

    name: Annotated[str, PlainValidator(_task_name), WithJsonSchema({"type": "string", "pattern": TASK_NAME.pattern})]
    spec_hash: Annotated[str, PlainValidator(_spec_hash), WithJsonSchema({"type": "string", "pattern": HEX64.pattern})]


class Hardware(Open):
    """Where the run was measured; ``label`` is what the board shows."""

    label: Text(limit=MAX_LABEL, one_line=True)  # type: ignore[valid-type]


class Cost(Open):
    """Seed means of the timings (``inference_s_per_sample``, ``solver_s_per_sample``) and the
    training time; FLOPs, parameters, spreads and the speed-up at equal accuracy
    (:func:`diffbench.results.cost.run_cost`) where the run recorded them."""

    inference_s_per_sample: Positive()  # type: ignore[valid-type]
    solver_s_per_sample: Positive()  # type: ignore[valid-type]
    train_time_s: Finite(null=True) | None = None  # type: ignore[valid-type]
    speedup_vs_solver: Finite(null=True) | None = None  # type: ignore[valid-type]
    flops_per_sample: Count(1) | None = None  # type: ignore[valid-type]
    parameters: Count(0) | None = None  # type: ignore[valid-type]
    inference_spread: Score(0.0, None) | None = None  # type: ignore[valid-type]
    solver_spread: Score(0.0, None) | None = None  # type: ignore[valid-type]
    solver_matched_s_per_sample: Positive() | None = None  # type: ignore[valid-type]
    speedup_at_equal_accuracy: Positive(null=True) | None = None  # type: ignore[valid-type]
    speedup_spread: Score(0.0, None) | None = None  # type: ignore[valid-type]
    speedup_digits: Count(1, 3) | None = None  # type: ignore[valid-type]


def _seeds(v: Any) -> Any:
    if not isinstance(v, list) or not v or not all(is_int(s) and s >= 0 for s in v):
        raise fail(f"must be a non-empty list of non-negative integers, got {show(v)}")
    if len(set(v)) != len(v):
        raise fail(f"repeats a seed ({show(v)}); every seed is one independent training run")
    return v


def _command(v: Any) -> Any:
    if not isinstance(v, str) or not v.strip():
        raise fail(f"must be a non-empty string, got {show(v)}")
    if not re.match(r"diffbench run(\s|$)", v):
        raise fail(f"must be the reproducing `diffbench run ...` command, got {show(v)}")
    return v


def _digest(v: Any) -> Any:
    if not isinstance(v, str) or not HEX64.match(v):
        raise fail("is missing or not a SHA-256 hex digest; only results written by `diffbench run` are accepted")
    return v


class Result(Closed):
    """A ``result.json`` as ``diffbench run`` writes it (schema version 1)."""

    schema_version: Literal[1]
    protocol_version: int
    digest: Annotated[str, PlainValidator(_digest), WithJsonSchema({"type": "string", "pattern": HEX64.pattern})]
    run_id: Text()  # type: ignore[valid-type]
    diffbench_version: Text()  # type: ignore[valid-type]
    created: Text()  # type: ignore[valid-type]
    command: Annotated[
        str, PlainValidator(_command), WithJsonSchema({"type": "string", "pattern": "^diffbench run(\\s|$)"})
    ]
    argv: str | None = None
    model: ModelInfo
    task: TaskInfo
    data: Object()  # type: ignore[valid-type]
    training: Object()  # type: ignore[valid-type]
    packages: Object()  # type: ignore[valid-type]
    hardware: Hardware
    git: JsonObject | None = None
    seeds: Annotated[
        list[int],
        PlainValidator(_seeds),
        WithJsonSchema(
            {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1, "uniqueItems": True}
        ),
    ]
    per_seed: list[SeedResult]
    aggregate: Aggregate
    cost: Cost
    uq: Annotated[RunUq, BeforeValidator(_non_null("the run's error indicators"))] = None  # type: ignore[assignment]
    consistency: Annotated[
        RunConsistency,  # type: ignore[assignment]
        BeforeValidator(_non_null("the run's physics-consistency scores")),
    ] = None

    @field_validator("per_seed", mode="before")
    @classmethod
    def _seed_objects(cls, v: Any) -> Any:
        if not isinstance(v, list) or not all(isinstance(s, dict) for s in v):
            raise fail("must be a list of per-seed objects")
        return v


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``result.json`` (draft 2020-12), for tools written against the results."""
    schema = Result.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "diffbench result.json"
    return schema
