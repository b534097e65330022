"""The checks of a result across its fields, on a result whose fields each passed the schema
(:func:`diffbench.results.validate.check_result` runs them last): the seeds against the
per-seed results, every seed an independent run (:func:`check_distinct_seeds`), the same
source counts and metrics in every seed, ``aggregate`` equal to the aggregation of the seeds,
the ``uq`` and ``consistency`` blocks in every seed or none and equal to their aggregation
(every uq score recomputed from the seeds' per-sample values), the per-sample errors
(:func:`~diffbench.results.agreement.per_sample_across`) and the ``cost`` equal to
:func:`~diffbench.results.cost.run_cost` of the per-seed timings. ``fail(where, what)`` raises
the one-line refusal naming the field."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NoReturn

from ..errors import DiffbenchError
from .aggregate import aggregate_consistency, aggregate_metrics, aggregate_uq_indicators
from .agreement import REL_TOL, close, first_difference, per_sample_across
from .cost import run_cost
from .digest import canonical_json
from .fields import show
from .names import CONSISTENCY_SCORES, OK, SCORE_KEYS, SPLITS
from .uq import aggregate_uq_scores, is_legacy_uq, sample_values, score_indicator


def _agree(
    fail: Callable[[str, str], NoReturn],
    stored: Any,
    expected: Any,
    where: str,
    what: str,
    how: str = "mean ± unbiased std over seeds",
) -> None:
    if not close(stored, expected):
        fail(
            where,
            f"does not agree with the per-seed {what}: " + first_difference(stored, expected, where) + f" ({how})",
        )


def check_distinct_seeds(per_seed: list[dict[str, Any]], fail: Callable[[str, str], NoReturn]) -> None:
    """Every seed is an independent training run: no two seeds with the same checkpoint hash or
    the same test results (every metric of every source count: a seed cloned from another)."""
    first_test: dict[str, int] = {}
    first_ckpt: dict[str, int] = {}
    for i, s in enumerate(per_seed):
        key = canonical_json(s["test"])
        if key in first_test:
            fail(
                f"per_seed[{i}].test",
                f"is identical to per_seed[{first_test[key]}].test (every metric of every source count): "
                "a seed copied from another is not an independent training run",
            )
        first_test[key] = i
        sha = (s.get("checkpoint") or {}).get("sha256")
        if sha is not None:
            if sha in first_ckpt:
                fail(
                    f"per_seed[{i}].checkpoint.sha256",
                    f"is the checkpoint of per_seed[{first_ckpt[sha]}]: "
                    "every seed is trained separately and has its own checkpoint",
                )
            first_ckpt[sha] = i


def check_across(result: dict[str, Any], fail: Callable[[str, str], NoReturn]) -> None:
    """The checks across fields, on a result whose fields are each valid."""
    seeds, per_seed = result["seeds"], result["per_seed"]
    got = [s["seed"] for s in per_seed]
    if got != seeds:
        fail(
            "per_seed",
            f"holds seeds {show(got)} but seeds is {show(seeds)}; every seed needs its own results, in order",
        )
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
            fail(
                "aggregate",
                "does not agree with the per-seed results: "
                + first_difference(result["aggregate"][split], expected, f"aggregate.{split}")
                + " (mean ± unbiased std over seeds)",
            )
    _uq_across(result, per_seed, fail)
    _consistency_across(result, per_seed, fail)
    per_sample_across(result, per_seed, fail)
    cost = result["cost"]
    for key, timing in (("inference_s_per_sample", "inference"), ("solver_s_per_sample", "solver")):
        mean = sum(s[timing]["s_per_sample"] for s in per_seed) / len(per_seed)
        if not math.isclose(cost[key], mean, rel_tol=REL_TOL):
            fail(f"cost.{key}", f"is {cost[key]!r}, but the per-seed timings average {mean!r}")
    _cost_across(result, per_seed, fail)


def _cost_across(result: dict[str, Any], per_seed: list[dict[str, Any]], fail: Callable[[str, str], NoReturn]) -> None:
    """The cost fields of :mod:`diffbench.results.cost` (absent from results written before them):
    in every seed or none, the same FLOPs in every seed, parameters equal to the model's, each
    matched solver aimed at its seed's test nMAE, and ``cost`` equal to
    :func:`~diffbench.results.cost.run_cost` of the seeds."""
    new = ["flops_per_sample" in s["inference"] for s in per_seed]
    matched = [s.get("solver_matched") is not None for s in per_seed]
    if not any(new) and not any(matched):
        return
    if not all(new):
        fail(
            f"per_seed[{new.index(False)}].inference.flops_per_sample",
            "is missing; the cost fields are in every seed or in none",
        )
    params = result["model"]["parameters"]
    for i, s in enumerate(per_seed):
        inf = s["inference"]
        if inf["flops_per_sample"] != per_seed[0]["inference"]["flops_per_sample"]:
            fail(
                f"per_seed[{i}].inference.flops_per_sample", "differs from seed 0's: the same model has the same FLOPs"
            )
        if inf.get("parameters") != params:
            fail(
                f"per_seed[{i}].inference.parameters",
                f"is {show(inf.get('parameters'))}, but model.parameters is {show(params)}",
            )
        m = s.get("solver_matched")
        if m is not None and not close(m["target_nmae"], s["test"]["nmae"]):
            fail(
                f"per_seed[{i}].solver_matched.target_nmae",
                f"is {show(m['target_nmae'])}, but the seed's test nmae is {show(s['test']['nmae'])}",
            )
    cost, expected = result["cost"], run_cost(per_seed)
    for key in sorted(expected):
        if key not in cost:
            fail(f"cost.{key}", "is missing")
        if not close(cost[key], expected[key]):
            fail(f"cost.{key}", f"is {show(cost[key])}, but the per-seed timings give {show(expected[key])}")


def _uq_across(result: dict[str, Any], per_seed: list[dict[str, Any]], fail: Callable[[str, str], NoReturn]) -> None:
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
            fail(
                where,
                "must be an object: the run-level uq block needs one per seed"
                + ("" if "uq" in s else ", and it is missing"),
            )
        if set(block["indicators"]) != set(requested):
            fail(
                f"{where}.indicators",
                f"must hold exactly the requested indicators ({', '.join(requested)}), "
                f"got {', '.join(sorted(block['indicators'])) or 'none'}",
            )
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
        fail(
            "uq.baselines",
            "is missing, but the seeds have per-sample values (a uq block with intervals scores the baselines)",
        )
    try:
        expected = aggregate_uq_scores(per_seed, requested)
    except DiffbenchError as exc:
        fail("uq", f"cannot be aggregated from the per-seed blocks ({exc})")
    how = "scored on every seed's samples at once"
    _agree(fail, uq["indicators"], expected["indicators"], "uq.indicators", "scores", how)
    _agree(fail, uq["baselines"], expected["baselines"], "uq.baselines", "scores", how)


def _seed_scores_agree(block: dict[str, Any], where: str, fail: Callable[[str, str], NoReturn]) -> None:
    """Every ``ok`` row of a seed's uq block equals :func:`~diffbench.results.uq.score_indicator` of its samples."""
    samples = block["samples"]
    for group in ("indicators", "baselines"):
        for name, row in block[group].items():
            if row["status"] != OK:
                continue
            expected = score_indicator(sample_values(samples["values"][name]), samples["error"], samples["count"])
            _agree(
                fail,
                {k: row.get(k) for k in SCORE_KEYS},
                {k: expected[k] for k in SCORE_KEYS},
                f"{where}.{group}.{name}",
                "samples",
                "recomputed from samples.values and samples.error",
            )


def _consistency_across(
    result: dict[str, Any], per_seed: list[dict[str, Any]], fail: Callable[[str, str], NoReturn]
) -> None:
    blocks = [s.get("consistency") for s in per_seed]
    present = [b is not None for b in blocks]
    if not any(present):
        if "consistency" in result:
            fail("per_seed[0].consistency", "is missing, but the run-level consistency block needs one per seed")
        return
    if not all(present):
        fail(
            f"per_seed[{present.index(False)}].consistency",
            "is missing; the consistency scores are in every seed or in none",
        )
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
