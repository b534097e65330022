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
:func:`~diffbench.results.cost.run_cost` of the per-seed timings. Whether the task exists and still has the
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
import math
import re
from dataclasses import dataclass
from typing import Any, NoReturn

from pydantic import ValidationError

from .. import PROTOCOL_VERSION
from ..errors import DiffbenchError
from .aggregate import aggregate_consistency, aggregate_metrics, aggregate_uq_indicators
from .agreement import REL_TOL, close, first_difference, per_sample_across
from .cost import run_cost
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
from .names import CONSISTENCY_SCORES, NOT_APPLICABLE, OK, SCORE_KEYS, SPLITS
from .paths import find_local_path
from .per_sample import QUANTITIES
from .schema import Result
from .uq import aggregate_uq_scores, is_legacy_uq, sample_values, score_indicator
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
    **{k: "must be an object and is missing" for k in ("test", "val", "model", "task", "data", "training", "packages",
                                                       "hardware", "aggregate", "cost", "inference", "solver", "settings",
                                                       "indicators")},
    **{k: "must be a non-empty string, got nothing" for k in ("run_id", "diffbench_version", "created", "command", "name", "label")},
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


def _agree(fail: _Fail, stored: Any, expected: Any, where: str, what: str, how: str = "mean ± unbiased std over seeds") -> None:
    if not close(stored, expected):
        fail(where, f"does not agree with the per-seed {what}: " + first_difference(stored, expected, where) + f" ({how})")


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
        fail("schema_version", f"is {show(result['schema_version'])}; this diffbench reads schema {RESULT_SCHEMA_VERSION}")
    pv = result.get("protocol_version")
    if not is_int(pv) or pv != protocol_version:
        fail("protocol_version", f"is {show(pv)}; the leaderboard takes protocol {protocol_version} only (rerun under it)")
    digest = result.get("digest")
    if not isinstance(digest, str) or not HEX64.match(digest):
        fail("digest", "is missing or not a SHA-256 hex digest; only results written by `diffbench run` are accepted")
    try:
        actual = compute_digest(result)
    except (TypeError, ValueError, RecursionError) as exc:
        fail("the content", f"cannot be digested ({type(exc).__name__})")
    if actual != digest:
        fail("digest", "does not match the content: the result was changed after `diffbench run` wrote it "
             "(tampered or hand-edited); submit the file as written, or rerun")

    per_seed_raw = result.get("per_seed")
    n_seeds = len(per_seed_raw) if isinstance(per_seed_raw, list) else None
    try:
        model = Result.model_validate(result, context={"n_seeds": n_seeds})
    except ValidationError as exc:
        fail(*error_line(exc))
    check_bounds(result, fail)
    check_across(result, fail)
    return CheckedResult(task=model.task.name, model=model.model.name, seeds=list(model.seeds),
                         ranked=len(model.seeds) >= MIN_RANKED_SEEDS, digest=model.digest, result=model)


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
            fail(where or "the result", f"is a string of {len(v)} characters; at most {MAX_STRING} are accepted in a result")
        elif isinstance(v, str) and not _is_encoded_errors(where, v) and (local := find_local_path(v)) is not None:
            fail(where or "the result", f"holds a local absolute path ({show(local)}); a result names files relative to its "
                 "run folder and no path of the machine it ran on (rerun with this diffbench, or remove the path)")
        elif is_int(v) and abs(v) > MAX_INT:
            fail(where, f"is an integer of {len(str(abs(v)))} digits; integers are at most {MAX_INT} in magnitude")
        elif isinstance(v, float) and not in_magnitude(v, MIN_NORMAL, MAX_NUMBER):
            fail(where, f"is {show(v)}; a number is 0 or of magnitude in [{MIN_NORMAL:g}, {MAX_NUMBER:g}]")
    size = len(canonical_json(result))
    if size > MAX_RESULT_CHARS:
        fail("the result", f"is {size} characters of JSON; at most {MAX_RESULT_CHARS} are accepted")


def check_distinct_seeds(per_seed: list[dict[str, Any]], fail: _Fail) -> None:
    """Every seed is an independent training run: no two seeds with the same checkpoint hash or
    the same test results (every metric of every source count: a seed cloned from another)."""
    first_test: dict[str, int] = {}
    first_ckpt: dict[str, int] = {}
    for i, s in enumerate(per_seed):
        key = canonical_json(s["test"])
        if key in first_test:
            fail(f"per_seed[{i}].test", f"is identical to per_seed[{first_test[key]}].test (every metric of every source count): "
                 "a seed copied from another is not an independent training run")
        first_test[key] = i
        sha = (s.get("checkpoint") or {}).get("sha256")
        if sha is not None:
            if sha in first_ckpt:
                fail(f"per_seed[{i}].checkpoint.sha256", f"is the checkpoint of per_seed[{first_ckpt[sha]}]: "
                     "every seed is trained separately and has its own checkpoint")
            first_ckpt[sha] = i


def check_across(result: dict[str, Any], fail: _Fail) -> None:
    """The checks across fields, on a result whose fields are each valid."""
    seeds, per_seed = result["seeds"], result["per_seed"]
    got = [s["seed"] for s in per_seed]
    if got != seeds:
        fail("per_seed", f"holds seeds {show(got)} but seeds is {show(seeds)}; every seed needs its own results, in order")
    check_distinct_seeds(per_seed, fail)
    for split in SPLITS:
        counts = [sorted(s[split].get("per_count", {})) for s in per_seed]
        if any(c != counts[0] for c in counts):
            fail(f"per_seed[*].{split}.per_count", "must name the same source counts in every seed")
        scalar = [sorted(k for k in s[split] if k != "per_count") for s in per_seed]
        if any(c != scalar[0] for c in scalar):
            fail(f"per_seed[*].{split}", "must hold the same metrics in every seed")
    for split in SPLITS:
        expected = aggregate_metrics([s[split] for s in per_seed])
        if not close(result["aggregate"][split], expected):
            fail("aggregate", "does not agree with the per-seed results: "
                 + first_difference(result["aggregate"][split], expected, f"aggregate.{split}") + " (mean ± unbiased std over seeds)")
    _uq_across(result, per_seed, fail)
    _consistency_across(result, per_seed, fail)
    per_sample_across(result, per_seed, fail)
    cost = result["cost"]
    for key, timing in (("inference_s_per_sample", "inference"), ("solver_s_per_sample", "solver")):
        mean = sum(s[timing]["s_per_sample"] for s in per_seed) / len(per_seed)
        if not math.isclose(cost[key], mean, rel_tol=REL_TOL):
            fail(f"cost.{key}", f"is {cost[key]!r}, but the per-seed timings average {mean!r}")
    _cost_across(result, per_seed, fail)


def _cost_across(result: dict[str, Any], per_seed: list[dict[str, Any]], fail: _Fail) -> None:
    """The cost fields of :mod:`diffbench.results.cost` (absent from results written before them):
    in every seed or none, the same FLOPs in every seed, parameters equal to the model's, each
    matched solver aimed at its seed's test nMAE, and ``cost`` equal to
    :func:`~diffbench.results.cost.run_cost` of the seeds."""
    new = ["flops_per_sample" in s["inference"] for s in per_seed]
    matched = [s.get("solver_matched") is not None for s in per_seed]
    if not any(new) and not any(matched):
        return
    if not all(new):
        fail(f"per_seed[{new.index(False)}].inference.flops_per_sample", "is missing; the cost fields are in every seed or in none")
    params = result["model"]["parameters"]
    for i, s in enumerate(per_seed):
        inf = s["inference"]
        if inf["flops_per_sample"] != per_seed[0]["inference"]["flops_per_sample"]:
            fail(f"per_seed[{i}].inference.flops_per_sample", "differs from seed 0's: the same model has the same FLOPs")
        if inf.get("parameters") != params:
            fail(f"per_seed[{i}].inference.parameters", f"is {show(inf.get('parameters'))}, but model.parameters is {show(params)}")
        m = s.get("solver_matched")
        if m is not None and not close(m["target_nmae"], s["test"]["nmae"]):
            fail(f"per_seed[{i}].solver_matched.target_nmae", f"is {show(m['target_nmae'])}, "
                 f"but the seed's test nmae is {show(s['test']['nmae'])}")
    cost, expected = result["cost"], run_cost(per_seed)
    for key in sorted(expected):
        if key not in cost:
            fail(f"cost.{key}", "is missing")
        if not close(cost[key], expected[key]):
            fail(f"cost.{key}", f"is {show(cost[key])}, but the per-seed timings give {show(expected[key])}")


def _uq_across(result: dict[str, Any], per_seed: list[dict[str, Any]], fail: _Fail) -> None:
    seeds_with = [i for i, s in enumerate(per_seed) if s.get("uq") is not None]
    uq = result.get("uq")
    if uq is None:
        if seeds_with:
            fail(f"per_seed[{seeds_with[0]}].uq", "is present but the run-level uq block is missing")
        return
    requested = uq["requested"]
    legacy = is_legacy_uq(result)
    counts = None
    for i, s in enumerate(per_seed):
        where = f"per_seed[{i}].uq"
        block = s.get("uq")
        if block is None:
            fail(where, "must be an object: the run-level uq block needs one per seed" + ("" if "uq" in s else ", and it is missing"))
        if set(block["indicators"]) != set(requested):
            fail(f"{where}.indicators", f"must hold exactly the requested indicators ({', '.join(requested)}), "
                 f"got {', '.join(sorted(block['indicators'])) or 'none'}")
        if legacy:
            continue
        if "samples" not in block:
            fail(f"{where}.samples", "is missing: a uq block with intervals keeps every seed's per-sample values")
        if counts is None:
            counts = block["samples"]["count"]
        elif block["samples"]["count"] != counts:
            fail(f"{where}.samples.count", "differs from seed 0's: every seed is scored on the same test samples")
        _seed_scores_agree(block, where, fail)
    if legacy:
        _agree(fail, uq["indicators"], aggregate_uq_indicators(per_seed, requested), "uq.indicators", "scores")
        return
    if "baselines" not in uq:
        fail("uq.baselines", "is missing, but the seeds have per-sample values (a uq block with intervals scores the baselines)")
    try:
        expected = aggregate_uq_scores(per_seed, requested)
    except DiffbenchError as exc:
        fail("uq", f"cannot be aggregated from the per-seed blocks ({exc})")
    how = "scored on every seed's samples at once"
    _agree(fail, uq["indicators"], expected["indicators"], "uq.indicators", "scores", how)
    _agree(fail, uq["baselines"], expected["baselines"], "uq.baselines", "scores", how)


def _seed_scores_agree(block: dict[str, Any], where: str, fail: _Fail) -> None:
    """Every ``ok`` row of a seed's uq block equals :func:`~diffbench.results.uq.score_indicator` of its samples."""
    samples = block["samples"]
    for group in ("indicators", "baselines"):
        for name, row in block[group].items():
            if row["status"] != OK:
                continue
            expected = score_indicator(sample_values(samples["values"][name]), samples["error"], samples["count"])
            _agree(fail, {k: row.get(k) for k in SCORE_KEYS}, {k: expected[k] for k in SCORE_KEYS}, f"{where}.{group}.{name}",
                   "samples", "recomputed from samples.values and samples.error")


def _consistency_across(result: dict[str, Any], per_seed: list[dict[str, Any]], fail: _Fail) -> None:
    blocks = [s.get("consistency") for s in per_seed]
    present = [b is not None for b in blocks]
    if not any(present):
        if "consistency" in result:
            fail("per_seed[0].consistency", "is missing, but the run-level consistency block needs one per seed")
        return
    if not all(present):
        fail(f"per_seed[{present.index(False)}].consistency", "is missing; the consistency scores are in every seed or in none")
    expected = aggregate_consistency(blocks)
    if "consistency" not in result:
        if expected:
            fail("consistency", "is missing, but the seeds have consistency scores")
        return
    if not expected:
        fail("consistency", "must be absent: every seed's consistency block is an error")
    top = result["consistency"]
    unknown = sorted(set(top) - set(CONSISTENCY_SCORES) - {"n_samples", "n_seeds"})
    if unknown:  # the model refuses them first; kept so the agreement below never compares unknown keys
        fail("consistency", f"has unknown key(s) {', '.join(unknown)}; the scores are {', '.join(CONSISTENCY_SCORES)}")
    _agree(fail, top, expected, "consistency", "scores")
