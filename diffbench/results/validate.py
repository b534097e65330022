"""Check a parsed ``result.json`` against the schema and the protocol, in one-line errors.

:func:`check_result` checks, in order: the schema and protocol versions; the ``digest``
against the content (an edit after ``diffbench run`` is tampering); every field through the
pydantic :class:`~diffbench.results.schema.Result` (the first violation becomes one line
``<source> refused: <field> <what is wrong and what is allowed>``); then what a model cannot
see alone: the seeds against the per-seed results, the same source counts and metrics in
every seed, ``aggregate`` equal to the aggregation of the seeds (to 1e-9 relative), the
``uq`` and ``consistency`` blocks in every seed or none and equal to their aggregation (every
uq score recomputed from the seeds' per-sample values, :mod:`diffbench.results.uq`; a result
written before the intervals by its mean ± std over seeds), and the ``cost`` equal to
:func:`~diffbench.results.cost.run_cost` of the per-seed timings (these checks across fields are
:mod:`diffbench.results.across`). Whether the task exists and still has the
same spec hash is the caller's (it needs the task registry): see ``current_task`` in
:func:`diffbench.submissions.checks.check_result`.

>>> format_loc(("per_seed", 0, "test", "nmae"))
'per_seed[0].test.nmae'
>>> format_loc(("uq", "indicators", "residual", "ok", "auroc"))
'uq.indicators.residual.auroc'
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, NoReturn

from pydantic import ValidationError

from .. import PROTOCOL_VERSION
from ..errors import DiffbenchError
from .across import check_across, check_distinct_seeds  # noqa: F401 (check_distinct_seeds: importable from here, as before)
from .digest import RESULT_SCHEMA_VERSION, canonical_json, compute_digest
from .fields import (
    HEX64,
    MAX_INT,
    MAX_NUMBER,
    MAX_RESULT_CHARS,
    MAX_STRING,
    MIN_NORMAL,
    in_magnitude,
    is_int,
    one_line,
    show,
)
from .names import NOT_APPLICABLE, OK
from .paths import find_local_path
from .per_sample import QUANTITIES
from .schema import Result
from .uqfields import SCORE_TAGS

#: Relative tolerance of the aggregation checks (JSON round-off).
#: A result with fewer seeds is stored but not ranked.
MIN_RANKED_SEEDS = 3
#: Union tags in pydantic's error locations (which block of a discriminated union failed): not fields.
#: (``SeedConsistencyError.error`` shares a name with its tag; its errors are raised by the block's own
#: validator, located at the block, so no location ever ends in that field.)
_TAGS = {OK, NOT_APPLICABLE, "error", "scores", *SCORE_TAGS.values()}
#: How a missing field is reported, by its name (default: "is missing").
_MISSING = {
    **{
        k: "must be an object and is missing"
        for k in (
            "test",
            "val",
            "model",
            "task",
            "data",
            "training",
            "packages",
            "hardware",
            "aggregate",
            "cost",
            "inference",
            "solver",
            "settings",
            "indicators",
        )
    },
    **{
        k: "must be a non-empty string, got nothing"
        for k in ("run_id", "diffbench_version", "created", "command", "name", "label")
    },
    "seeds": "must be a non-empty list of non-negative integers, got nothing",
    "per_seed": "must be a list of per-seed objects",
    "spec_hash": "must be the task's SHA-256 spec hash, got nothing",
    "digest": "is missing or not a SHA-256 hex digest; only results written by `diffbench run` are accepted",
    "reason": "must say why it is not applicable (a non-empty string of at most 1000 characters), got nothing",
}


def format_loc(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as the field path the messages use (union tags dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in _TAGS:
            out += f".{part}" if out else str(part)
    return out


def _message(err: dict[str, Any], prefix: str = "") -> tuple[str, str]:
    """(field path, message) of one pydantic error; ``prefix`` names the validated object (none: the result)."""
    loc = ((prefix,) if prefix else ()) + tuple(err["loc"])
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "diffbench":
        where = format_loc(loc)
        if ctx.get("sub"):
            where = f"{where}.{ctx['sub']}" if where else ctx["sub"]
        return where, ctx["message"]
    if kind == "missing":
        return format_loc(loc), _MISSING.get(str(loc[-1]), "is missing")
    if kind == "extra_forbidden":
        return format_loc(loc[:-1]) or "the result", f"has unknown key(s) {loc[-1]}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return format_loc(loc), f"must be an object, got {show(err.get('input'))}"
    if kind == "literal_error" and loc and loc[-1] == "schema_version":
        return "schema_version", f"is {show(err.get('input'))}; this diffbench reads schema {RESULT_SCHEMA_VERSION}"
    if kind in ("list_type",):
        return format_loc(loc), f"must be a list, got {show(err.get('input'))}"
    if kind in ("string_type", "int_type", "bool_type"):
        return format_loc(loc), f"must be a {kind.split('_')[0]}, got {show(err.get('input'))}"
    return format_loc(loc), f"{err['msg']}, got {show(err.get('input'))}"


def error_line(exc: ValidationError, prefix: str = "") -> tuple[str, str]:
    """(field path, message) of the first error of a validation; ``prefix`` names the validated object."""
    return _message(exc.errors(include_url=False)[0], prefix)


@dataclass
class CheckedResult:
    """What the leaderboard needs to know about an accepted result (``model`` is the typed result)."""

    task: str
    model: str
    seeds: list[int]
    ranked: bool
    digest: str
    result: Result | None = None


class _Fail:
    def __init__(self, source: str) -> None:
        self.source = source

    def __call__(self, where: str, msg: str) -> NoReturn:
        raise DiffbenchError(one_line(f"{self.source} refused: {where} {msg}"))


def check_result(result: Any, source: str = "result", *, protocol_version: int | None = None) -> CheckedResult:
    """Check ``result`` (a parsed result.json) against the schema and the protocol.

    Raises :class:`DiffbenchError` (one line, naming ``source`` and the field) on the first
    violation; returns what the leaderboard needs to know about an accepted result.
    ``protocol_version`` (default: this diffbench's) is the only protocol accepted.
    """
    if protocol_version is None:
        protocol_version = PROTOCOL_VERSION
    fail = _Fail(source)
    if not isinstance(result, dict):
        fail("the file", f"must hold a JSON object (a diffbench result), not {type(result).__name__}")
    if "schema_version" not in result:
        fail("schema_version", "is missing: this is not a result.json written by `diffbench run`")
    if not is_int(result["schema_version"]) or result["schema_version"] != RESULT_SCHEMA_VERSION:
        fail(
            "schema_version",
            f"is {show(result['schema_version'])}; this diffbench reads schema {RESULT_SCHEMA_VERSION}",
        )
    pv = result.get("protocol_version")
    if not is_int(pv) or pv != protocol_version:
        fail(
            "protocol_version",
            f"is {show(pv)}; the leaderboard takes protocol {protocol_version} only (rerun under it)",
        )
    digest = result.get("digest")
    if not isinstance(digest, str) or not HEX64.match(digest):
        fail("digest", "is missing or not a SHA-256 hex digest; only results written by `diffbench run` are accepted")
    try:
        actual = compute_digest(result)
    except (TypeError, ValueError, RecursionError) as exc:
        fail("the content", f"cannot be digested ({type(exc).__name__})")
    if actual != digest:
        fail(
            "digest",
            "does not match the content: the result was changed after `diffbench run` wrote it "
            "(tampered or hand-edited); submit the file as written, or rerun",
        )

    per_seed_raw = result.get("per_seed")
    n_seeds = len(per_seed_raw) if isinstance(per_seed_raw, list) else None
    try:
        model = Result.model_validate(result, context={"n_seeds": n_seeds})
    except ValidationError as exc:
        fail(*error_line(exc))
    check_bounds(result, fail)
    check_across(result, fail)
    return CheckedResult(
        task=model.task.name,
        model=model.model.name,
        seeds=list(model.seeds),
        ranked=len(model.seeds) >= MIN_RANKED_SEEDS,
        digest=model.digest,
        result=model,
    )


def _walk(value: Any, where: str) -> Any:
    """Every (location, value) of a JSON value, keys included (as their object's location)."""
    stack = [(where, value)]
    while stack:
        loc, v = stack.pop()
        yield loc, v
        if isinstance(v, dict):
            for k, x in v.items():
                yield loc, k
                stack.append((f"{loc}.{k}" if loc else str(k), x))
        elif isinstance(v, list):
            stack.extend((f"{loc}[{i}]", x) for i, x in enumerate(v))


#: Where a seed's per-sample errors sit: float32 in base64, whose alphabet holds ``/``.
_ENCODED = re.compile(r"^per_seed\[\d+\]\.per_sample\.(?:" + "|".join(QUANTITIES) + r")$")


def _is_encoded_errors(where: str, text: str) -> bool:
    """A per-sample quantity that is valid base64 (data, not a path: one may start with ``/``)."""
    if not _ENCODED.match(where):
        return False
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def check_bounds(result: dict[str, Any], fail: _Fail) -> None:
    """The limits of :mod:`diffbench.results.fields` on every value, the provenance blocks included:
    strings of at most ``MAX_STRING`` characters, integers of magnitude at most ``MAX_INT``, other
    numbers 0 or of magnitude in [``MIN_NORMAL``, ``MAX_NUMBER``], and the whole result at most
    ``MAX_RESULT_CHARS`` characters of canonical JSON; and no string holding a local absolute path
    (:mod:`diffbench.results.paths`)."""
    for where, v in _walk(result, ""):
        if isinstance(v, str) and len(v) > MAX_STRING:
            fail(
                where or "the result",
                f"is a string of {len(v)} characters; at most {MAX_STRING} are accepted in a result",
            )
        elif isinstance(v, str) and not _is_encoded_errors(where, v) and (local := find_local_path(v)) is not None:
            fail(
                where or "the result",
                f"holds a local absolute path ({show(local)}); a result names files relative to its "
                "run folder and no path of the machine it ran on (rerun with this diffbench, or remove the path)",
            )
        elif is_int(v) and abs(v) > MAX_INT:
            fail(where, f"is an integer of {len(str(abs(v)))} digits; integers are at most {MAX_INT} in magnitude")
        elif isinstance(v, float) and not in_magnitude(v, MIN_NORMAL, MAX_NUMBER):
            fail(where, f"is {show(v)}; a number is 0 or of magnitude in [{MIN_NORMAL:g}, {MAX_NUMBER:g}]")
    size = len(canonical_json(result))
    if size > MAX_RESULT_CHARS:
        fail("the result", f"is {size} characters of JSON; at most {MAX_RESULT_CHARS} are accepted")
