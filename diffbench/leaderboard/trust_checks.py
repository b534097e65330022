"""Submission checks of a result's ``uq`` and ``consistency`` blocks (part of :func:`check_result`).

Both blocks are optional (``uq`` only exists for ``diffbench run --uq ...``; results written
before the consistency scores have no ``consistency``). When present, they are checked
strictly, with the same one-line errors as the rest of the result:

``uq`` (see :mod:`diffbench.trust.indicators`)
    ``requested`` a non-empty list of distinct known indicators; ``settings`` an object;
    ``indicators`` exactly the requested ones and ``baselines`` exactly
    :data:`~diffbench.trust.scores.BASELINES`. A run-level row is ``{"status": "ok", "n_seeds",
    "spearman", "auroc", "catch_rate", "indicator_mean"}`` or ``{"status": "not applicable",
    "reason", "n_seeds": 0}``; each score is an interval ``{"estimate", "low", "high", "level",
    "method", "n_seeds", "n_samples"}`` with ``low <= estimate <= high`` inside its range
    (Spearman [-1, 1], AUROC and caught share [0, 1]), ``{"underpowered": true, "positives",
    "required"}`` with fewer positives than required, or null (undefined);
    ``indicator_mean`` is ``{"mean", "std", "n"}``. Every seed has its own ``uq`` block
    (``n_samples``, ``error_mean``, ``settings``, the same indicators and baselines, and
    ``samples``: ``error``, ``count`` and one value list per scored indicator and baseline, one
    per test sample, the same counts in every seed). Every score, per seed and per run, must
    equal what :func:`~diffbench.trust.scores.score_indicator` and
    :func:`~diffbench.trust.indicators.aggregate_uq` recompute from the samples.

    Results written before the intervals (no ``samples``, no ``baselines``; scores as numbers,
    run-level ``{"mean", "std", "n"}``) are checked by the earlier rules and shown without
    intervals.
``consistency`` (see :mod:`diffbench.trust.consistency`)
    In every seed or in none. A seed's block is ``{"status": "error", "error"}`` or holds
    ``n_samples`` and every score of :data:`~diffbench.trust.consistency.SCORES`, each ``ok``
    (finite numbers; ``n_*`` counts; ``transforms`` names; relative errors >= 0,
    ``negative_share`` in [0, 1], ``most_negative`` <= 0) or ``not applicable`` with a reason.
    The run-level block must equal
    :func:`~diffbench.trust.consistency.aggregate_consistency` of the seeds' (and is absent
    only when every seed failed).
"""

from __future__ import annotations

from typing import Any

from ..errors import DiffbenchError
from .submit import _close, _first_difference, _is_int, _is_number, _show

NOT_APPLICABLE = "not applicable"
MAX_REASON = 1000
#: Allowed ranges of the uq scores (a little slack for floating-point rounding).
SCORE_RANGES = {"spearman": (-1.0, 1.0), "auroc": (0.0, 1.0), "catch_rate": (0.0, 1.0)}
_SLACK = 1e-9
#: Consistency scores that are relative errors (``mean``/``max`` >= 0) and the maximum-principle fields.
RELATIVE_ERRORS = ("superposition", "equivariance", "flux_balance")
STAT_KEYS = {"mean", "std", "n"}


def _uq_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from ..trust.indicators import INDICATORS, SCORE_KEYS

    return tuple(INDICATORS), tuple(SCORE_KEYS) + ("indicator_mean",)


INTERVAL_KEYS = {"estimate", "low", "high", "level", "method", "n_seeds", "n_samples"}
UNDERPOWERED_KEYS = {"underpowered", "positives", "required"}


def is_legacy_uq(result: dict[str, Any]) -> bool:
    """A ``uq`` block written before the intervals: no ``baselines`` and no seed ``samples``."""
    uq = result.get("uq")
    return (isinstance(uq, dict) and "baselines" not in uq
            and not any(isinstance(s, dict) and isinstance(s.get("uq"), dict) and "samples" in s["uq"]
                        for s in result.get("per_seed") or []))


def _score_value(ck: Any, v: Any, where: str, key: str, n_seeds: int) -> None:
    """A recorded score: null (undefined), an interval, or an underpowered marker."""
    if v is None:
        return
    lo, hi = SCORE_RANGES[key]
    if isinstance(v, dict) and set(v) == UNDERPOWERED_KEYS:
        if v["underpowered"] is not True or not _is_int(v["positives"]) or not _is_int(v["required"]) \
                or not 0 <= v["positives"] < v["required"]:
            ck.fail(where, f"must be {{\"underpowered\": true, \"positives\", \"required\"}} with fewer positives than required, "
                    f"got {_show(v)}")
        return
    if not isinstance(v, dict) or set(v) != INTERVAL_KEYS:
        ck.fail(where, "must be an interval {estimate, low, high, level, method, n_seeds, n_samples}, an underpowered "
                f"marker or null, got {_show(v)}")
    for k in ("estimate", "low", "high"):
        _in_range(ck, v[k], f"{where}.{k}", lo, hi, null=False)
    if not v["low"] - _SLACK <= v["estimate"] <= v["high"] + _SLACK:
        ck.fail(where, f"must have low <= estimate <= high, got {_show(v)}")
    _in_range(ck, v["level"], f"{where}.level", 0.5, 1.0, null=False)
    if not isinstance(v["method"], str) or not 0 < len(v["method"]) <= MAX_REASON:
        ck.fail(f"{where}.method", f"must say how the interval was obtained, got {_show(v['method'])}")
    if not _is_int(v["n_seeds"]) or not 1 <= v["n_seeds"] <= n_seeds:
        ck.fail(f"{where}.n_seeds", f"must be an integer in 1..{n_seeds}, got {_show(v['n_seeds'])}")
    if not _is_int(v["n_samples"]) or v["n_samples"] < 1:
        ck.fail(f"{where}.n_samples", f"must be an integer >= 1, got {_show(v['n_samples'])}")


def _samples(ck: Any, block: dict[str, Any], where: str, scored: list[str]) -> None:
    """A seed's ``samples``: ``error`` and ``count`` lists of ``n_samples``, a value list per scored row."""
    n = block["n_samples"]
    samples = ck.obj(block, "samples", f"{where}.")
    for key in ("error", "count"):
        v = samples.get(key)
        if not isinstance(v, list) or len(v) != n:
            ck.fail(f"{where}.samples.{key}", f"must be a list of {n} values (one per test sample), got {_show(v)}")
    if not all(_is_number(e) and e >= 0 for e in samples["error"]):
        ck.fail(f"{where}.samples.error", "must hold finite errors >= 0")
    if not all(_is_int(c) and c >= 0 for c in samples["count"]):
        ck.fail(f"{where}.samples.count", "must hold source counts (integers >= 0)")
    values = ck.obj(samples, "values", f"{where}.samples.")
    if set(values) != set(scored):
        ck.fail(f"{where}.samples.values", f"must hold exactly the scored indicators and baselines ({', '.join(scored)}), "
                f"got {', '.join(sorted(map(str, values))) or 'none'}")
    for name in scored:
        v = values[name]
        if not isinstance(v, list) or len(v) != n or not all(x is None or _is_number(x) for x in v):
            ck.fail(f"{where}.samples.values.{name}", f"must be a list of {n} numbers (null for NaN), got {_show(v)}")
    mean = sum(samples["error"]) / n
    if not _close(block.get("error_mean"), mean):
        ck.fail(f"{where}.error_mean", f"is {_show(block.get('error_mean'))}, but the samples' errors average {mean!r}")


def _reason(ck: Any, row: dict[str, Any], where: str) -> None:
    r = row.get("reason")
    if not isinstance(r, str) or not r.strip() or len(r) > MAX_REASON:
        ck.fail(f"{where}.reason", f"must say why it is not applicable (a non-empty string of at most {MAX_REASON} "
                f"characters), got {_show(r) if 'reason' in row else 'nothing'}")


def _in_range(ck: Any, v: Any, where: str, lo: float | None, hi: float | None, *, null: bool = True) -> None:
    if v is None and null:
        return
    if not _is_number(v):
        ck.fail(where, f"must be a finite number{' or null' if null else ''}, got {_show(v)}")
    if (lo is not None and v < lo - _SLACK) or (hi is not None and v > hi + _SLACK):
        bounds = f"[{lo:g}, {hi:g}]" if lo is not None and hi is not None else (f">= {lo:g}" if lo is not None else f"<= {hi:g}")
        ck.fail(where, f"must lie in {bounds}, got {_show(v)}")


def _stat(ck: Any, v: Any, where: str, lo: float | None, hi: float | None, n_max: int) -> None:
    """``{"mean", "std", "n"}``: mean ± unbiased std over the ``n`` seeds that had a value."""
    if not isinstance(v, dict) or set(v) != STAT_KEYS:
        ck.fail(where, f"must be {{\"mean\", \"std\", \"n\"}} (mean ± unbiased std over seeds), got {_show(v)}")
    _in_range(ck, v["mean"], f"{where}.mean", lo, hi)
    _in_range(ck, v["std"], f"{where}.std", 0.0, None)
    if not _is_int(v["n"]) or not 0 <= v["n"] <= n_max:
        ck.fail(f"{where}.n", f"must be an integer in 0..{n_max}, got {_show(v['n'])}")


def _status(ck: Any, row: Any, where: str, allowed: tuple[str, ...] = ("ok", NOT_APPLICABLE)) -> str:
    if not isinstance(row, dict):
        ck.fail(where, f"must be an object with a status, got {_show(row)}")
    status = row.get("status")
    if status not in allowed:
        ck.fail(f"{where}.status", f"must be {' or '.join(map(repr, allowed))}, got {_show(status) if 'status' in row else 'nothing'}")
    return status


def _count(ck: Any, parent: dict[str, Any], key: str, where: str, lo: int, hi: int | None = None) -> int:
    v = parent.get(key)
    if not _is_int(v) or v < lo or (hi is not None and v > hi):
        want = f"an integer in {lo}..{hi}" if hi is not None else f"an integer >= {lo}"
        ck.fail(f"{where}.{key}", f"must be {want}, got {_show(v) if key in parent else 'nothing'}")
    return v


def _agree(ck: Any, stored: Any, expected: Any, where: str, what: str, how: str = "mean ± unbiased std over seeds") -> None:
    if not _close(stored, expected):
        ck.fail(where, f"does not agree with the per-seed {what}: " + _first_difference(stored, expected, where) + f" ({how})")


# --------------------------------------------------------------------------- uq


def check_uq(ck: Any, result: dict[str, Any], per_seed: list[dict[str, Any]]) -> None:
    seeds_with = [i for i, s in enumerate(per_seed) if s.get("uq") is not None]
    if result.get("uq") is None:
        if "uq" in result:
            ck.fail("uq", "must be an object (the run's error indicators), got null")
        if seeds_with:
            ck.fail(f"per_seed[{seeds_with[0]}].uq", "is present but the run-level uq block is missing")
        return
    indicators_known, score_keys = _uq_names()
    uq = result["uq"]
    if not isinstance(uq, dict):
        ck.fail("uq", f"must be an object (the run's error indicators), got {_show(uq)}")
    requested = uq.get("requested")
    if (not isinstance(requested, list) or not requested or not all(isinstance(r, str) for r in requested)
            or len(set(requested)) != len(requested)):
        ck.fail("uq.requested", f"must be a non-empty list of distinct indicator names, got {_show(requested)}")
    unknown = [r for r in requested if r not in indicators_known]
    if unknown:
        ck.fail("uq.requested", f"names unknown indicator(s) {', '.join(map(repr, unknown))}; known: {', '.join(indicators_known)}")
    ck.obj(uq, "settings", "uq.")
    if "inverse_model" in uq and not isinstance(uq["inverse_model"], dict):
        ck.fail("uq.inverse_model", f"must be an object, got {_show(uq['inverse_model'])}")
    indicators = ck.obj(uq, "indicators", "uq.")
    if set(indicators) != set(requested):
        ck.fail("uq.indicators", f"must hold exactly the requested indicators ({', '.join(requested)}), "
                f"got {', '.join(sorted(map(str, indicators))) or 'none'}")
    if is_legacy_uq(result):
        _check_uq_legacy(ck, indicators, per_seed, requested, score_keys)
    else:
        _check_uq_intervals(ck, uq, indicators, per_seed, requested)


def _check_uq_intervals(ck: Any, uq: dict[str, Any], indicators: dict[str, Any], per_seed: list[dict[str, Any]],
                        requested: list[str]) -> None:
    from ..trust.indicators import aggregate_uq
    from ..trust.scores import BASELINES, SCORE_KEYS, score_indicator

    baselines = ck.obj(uq, "baselines", "uq.")
    if set(baselines) != set(BASELINES):
        ck.fail("uq.baselines", f"must hold exactly the baselines {', '.join(BASELINES)}, "
                f"got {', '.join(sorted(map(str, baselines))) or 'none'}")
    n_seeds = len(per_seed)
    for group, rows, names in (("indicators", indicators, requested), ("baselines", baselines, list(BASELINES))):
        for name in names:
            row, where = rows[name], f"uq.{group}.{name}"
            if _status(ck, row, where) == NOT_APPLICABLE:
                _reason(ck, row, where)
                _count(ck, row, "n_seeds", where, 0, 0)
                extra = sorted(set(row) - {"status", "reason", "n_seeds"})
                if extra:
                    ck.fail(where, f"is not applicable and must carry no scores, got {', '.join(extra)}")
                continue
            n_ok = _count(ck, row, "n_seeds", where, 1, n_seeds)
            for key in SCORE_KEYS:
                if key not in row:
                    ck.fail(f"{where}.{key}", "is missing")
                _score_value(ck, row[key], f"{where}.{key}", key, n_ok)
            _stat(ck, row.get("indicator_mean"), f"{where}.indicator_mean", None, None, n_ok)
    counts = None
    for i, s in enumerate(per_seed):
        where = f"per_seed[{i}].uq"
        block = s.get("uq")
        if not isinstance(block, dict):
            ck.fail(where, "must be an object: the run-level uq block needs one per seed"
                    + ("" if "uq" in s else ", and it is missing"))
        _count(ck, block, "n_samples", where, 1)
        ck.obj(block, "settings", f"{where}.")
        if "inverse_model" in block and not isinstance(block["inverse_model"], dict):
            ck.fail(f"{where}.inverse_model", f"must be an object, got {_show(block['inverse_model'])}")
        seed_rows = {"indicators": ck.obj(block, "indicators", f"{where}."), "baselines": ck.obj(block, "baselines", f"{where}.")}
        for group, names in (("indicators", requested), ("baselines", list(BASELINES))):
            if set(seed_rows[group]) != set(names):
                ck.fail(f"{where}.{group}", f"must hold exactly {', '.join(names)}, "
                        f"got {', '.join(sorted(map(str, seed_rows[group]))) or 'none'}")
        scored = [n for g, names in (("indicators", requested), ("baselines", list(BASELINES)))
                  for n in names if isinstance(seed_rows[g][n], dict) and seed_rows[g][n].get("status") == "ok"]
        _samples(ck, block, where, scored)
        if counts is None:
            counts = block["samples"]["count"]
        elif block["samples"]["count"] != counts:
            ck.fail(f"{where}.samples.count", "differs from seed 0's: every seed is scored on the same test samples")
        samples = block["samples"]
        for group, names in (("indicators", requested), ("baselines", list(BASELINES))):
            for name in names:
                row, w = seed_rows[group][name], f"{where}.{group}.{name}"
                if _status(ck, row, w) == NOT_APPLICABLE:
                    _reason(ck, row, w)
                    extra = sorted(set(row) - {"status", "reason"})
                    if extra:
                        ck.fail(w, f"is not applicable and must carry no scores, got {', '.join(extra)}")
                    continue
                for key in SCORE_KEYS:
                    if key not in row:
                        ck.fail(f"{w}.{key}", "is missing")
                    _score_value(ck, row[key], f"{w}.{key}", key, 1)
                for key in ("indicator_mean", "indicator_median"):
                    _in_range(ck, row.get(key), f"{w}.{key}", None, None)
                values = [float("nan") if v is None else v for v in samples["values"][name]]
                expected = score_indicator(values, samples["error"], samples["count"])
                _agree(ck, {k: row.get(k) for k in SCORE_KEYS}, {k: expected[k] for k in SCORE_KEYS}, w, "samples",
                       "recomputed from samples.values and samples.error")
    try:
        expected = aggregate_uq(per_seed, requested)
    except (TypeError, KeyError, AttributeError, ValueError, ZeroDivisionError, DiffbenchError) as exc:
        ck.fail("uq", f"cannot be aggregated from the per-seed blocks ({type(exc).__name__})")
    how = "scored on every seed's samples at once"
    _agree(ck, indicators, expected["indicators"], "uq.indicators", "scores", how)
    _agree(ck, baselines, expected["baselines"], "uq.baselines", "scores", how)


def _check_uq_legacy(ck: Any, indicators: dict[str, Any], per_seed: list[dict[str, Any]], requested: list[str],
                     score_keys: tuple[str, ...]) -> None:
    n_seeds = len(per_seed)
    for name in requested:
        row, where = indicators[name], f"uq.indicators.{name}"
        if _status(ck, row, where) == NOT_APPLICABLE:
            _reason(ck, row, where)
            _count(ck, row, "n_seeds", where, 0, 0)
            extra = sorted(set(row) - {"status", "reason", "n_seeds"})
            if extra:
                ck.fail(where, f"is not applicable and must carry no scores, got {', '.join(extra)}")
            continue
        n_ok = _count(ck, row, "n_seeds", where, 1, n_seeds)
        for key in score_keys:
            if key not in row:
                ck.fail(f"{where}.{key}", "is missing")
            lo, hi = SCORE_RANGES.get(key, (None, None))
            _stat(ck, row[key], f"{where}.{key}", lo, hi, n_ok)

    for i, s in enumerate(per_seed):
        where = f"per_seed[{i}].uq"
        block = s.get("uq")
        if not isinstance(block, dict):
            ck.fail(where, "must be an object: the run-level uq block needs one per seed"
                    + ("" if "uq" in s else ", and it is missing"))
        _count(ck, block, "n_samples", where, 1)
        _in_range(ck, block.get("error_mean"), f"{where}.error_mean", 0.0, None, null=False)
        ck.obj(block, "settings", f"{where}.")
        if "inverse_model" in block and not isinstance(block["inverse_model"], dict):
            ck.fail(f"{where}.inverse_model", f"must be an object, got {_show(block['inverse_model'])}")
        seed_ind = ck.obj(block, "indicators", f"{where}.")
        if set(seed_ind) != set(requested):
            ck.fail(f"{where}.indicators", f"must hold exactly the requested indicators ({', '.join(requested)}), "
                    f"got {', '.join(sorted(map(str, seed_ind))) or 'none'}")
        for name in requested:
            _seed_indicator(ck, seed_ind[name], f"{where}.indicators.{name}", score_keys)

    try:
        expected = _legacy_aggregate(per_seed, requested)
    except (TypeError, KeyError, AttributeError, ValueError, ZeroDivisionError) as exc:
        ck.fail("uq", f"cannot be aggregated from the per-seed blocks ({type(exc).__name__})")
    _agree(ck, indicators, expected, "uq.indicators", "scores")


def _legacy_aggregate(per_seed: list[dict[str, Any]], requested: list[str]) -> dict[str, Any]:
    """The run-level indicators of a result written before the intervals: each score's mean ±
    unbiased std over the seeds where the indicator applied."""
    from ..protocol.results import mean_std

    blocks = [s.get("uq") for s in per_seed if s.get("uq")]
    out: dict[str, Any] = {}
    for name in requested:
        rows = [b["indicators"].get(name) for b in blocks if name in b.get("indicators", {})]
        ok = [r for r in rows if r.get("status") == "ok"]
        if not ok:
            reason = next((r.get("reason") for r in rows if r.get("reason")), "not computed")
            out[name] = {"status": NOT_APPLICABLE, "reason": reason, "n_seeds": 0}
            continue
        out[name] = {"status": "ok", "n_seeds": len(ok),
                     **{key: mean_std([r.get(key) for r in ok]) for key in ("spearman", "auroc", "catch_rate", "indicator_mean")}}
    return out


def _seed_indicator(ck: Any, row: Any, where: str, score_keys: tuple[str, ...]) -> None:
    if _status(ck, row, where) == NOT_APPLICABLE:
        _reason(ck, row, where)
        extra = sorted(set(row) - {"status", "reason"})
        if extra:
            ck.fail(where, f"is not applicable and must carry no scores, got {', '.join(extra)}")
        return
    for key in score_keys:
        if key not in row:
            ck.fail(f"{where}.{key}", "is missing")
    for key, value in row.items():
        if key != "status":
            lo, hi = SCORE_RANGES.get(key, (None, None))
            _in_range(ck, value, f"{where}.{key}", lo, hi)


# --------------------------------------------------------------------------- consistency


def check_consistency(ck: Any, result: dict[str, Any], per_seed: list[dict[str, Any]]) -> None:
    from ..trust.consistency import SCORES, aggregate_consistency

    blocks = [s.get("consistency") for s in per_seed]
    present = [b is not None for b in blocks]
    if result.get("consistency") is None and "consistency" in result:
        ck.fail("consistency", "must be an object (the run's physics-consistency scores), got null")
    if not any(present):
        if "consistency" in result:
            ck.fail("per_seed[0].consistency", "is missing, but the run-level consistency block needs one per seed")
        return
    if not all(present):
        ck.fail(f"per_seed[{present.index(False)}].consistency", "is missing; the consistency scores are in every seed or in none")
    for i, b in enumerate(blocks):
        _seed_consistency(ck, b, f"per_seed[{i}].consistency", SCORES)
    try:
        expected = aggregate_consistency(blocks)
    except (TypeError, KeyError, AttributeError, ValueError, ZeroDivisionError) as exc:
        ck.fail("consistency", f"cannot be aggregated from the per-seed blocks ({type(exc).__name__})")
    if "consistency" not in result:
        if expected:
            ck.fail("consistency", "is missing, but the seeds have consistency scores")
        return
    top = result["consistency"]
    if not isinstance(top, dict):
        ck.fail("consistency", f"must be an object (the run's physics-consistency scores), got {_show(top)}")
    if not expected:
        ck.fail("consistency", "must be absent: every seed's consistency block is an error")
    unknown = sorted(set(top) - set(SCORES) - {"n_samples", "n_seeds"})
    if unknown:
        ck.fail("consistency", f"has unknown key(s) {', '.join(map(str, unknown))}; the scores are {', '.join(SCORES)}")
    n_ok = _count(ck, top, "n_seeds", "consistency", 1, len(per_seed))
    _count(ck, top, "n_samples", "consistency", 1)
    for name in SCORES:
        where = f"consistency.{name}"
        if name not in top:
            ck.fail(where, "is missing")
        row = top[name]
        if _status(ck, row, where) == NOT_APPLICABLE:
            _reason(ck, row, where)
            continue
        for key, value in row.items():
            if isinstance(value, dict):
                lo, hi = _consistency_range(name, key)
                _stat(ck, value, f"{where}.{key}", lo, hi, n_ok)
            elif key != "status":
                _consistency_extra(ck, key, value, f"{where}.{key}")
    _agree(ck, top, expected, "consistency", "scores")


def _consistency_range(name: str, key: str) -> tuple[float | None, float | None]:
    if name in RELATIVE_ERRORS and key in ("mean", "max"):
        return 0.0, None
    if key == "negative_share":
        return 0.0, 1.0
    if key == "most_negative":
        return None, 0.0
    return None, None


def _consistency_extra(ck: Any, key: str, value: Any, where: str) -> None:
    """A non-score field of a consistency score: an ``n_*`` count or the ``transforms`` used."""
    if key.startswith("n_"):
        if not _is_int(value) or value < 0:
            ck.fail(where, f"must be an integer >= 0, got {_show(value)}")
    elif key == "transforms":
        if not isinstance(value, list) or not all(isinstance(t, str) and 0 < len(t) <= 40 for t in value):
            ck.fail(where, f"must be a list of symmetry names, got {_show(value)}")
    else:
        ck.fail(where, f"is not a consistency field (numbers, n_* counts or transforms), got {_show(value)}")


def _seed_consistency(ck: Any, block: Any, where: str, scores: tuple[str, ...]) -> None:
    if isinstance(block, dict) and block.get("status") == "error":
        if not isinstance(block.get("error"), str) or set(block) != {"status", "error"}:
            ck.fail(where, "is a failed block and must be {\"status\": \"error\", \"error\": <message>}")
        return
    if not isinstance(block, dict):
        ck.fail(where, f"must be an object of consistency scores, got {_show(block)}")
    unknown = sorted(set(block) - set(scores) - {"n_samples", "time_s"})
    if unknown:
        ck.fail(where, f"has unknown key(s) {', '.join(map(str, unknown))}; the scores are {', '.join(scores)}")
    _count(ck, block, "n_samples", where, 1)
    if "time_s" in block:
        _in_range(ck, block["time_s"], f"{where}.time_s", 0.0, None, null=False)
    for name in scores:
        if name not in block:
            ck.fail(f"{where}.{name}", "is missing")
        row, w = block[name], f"{where}.{name}"
        if _status(ck, row, w) == NOT_APPLICABLE:
            _reason(ck, row, w)
            continue
        required = ("mean", "max") if name in RELATIVE_ERRORS else (("negative_share", "most_negative") if name == "maximum_principle" else ())
        for key in required:
            if key not in row:
                ck.fail(f"{w}.{key}", "is missing")
        for key, value in row.items():
            if key == "status":
                continue
            if key.startswith("n_") or key == "transforms" or not (_is_number(value) or value is None):
                _consistency_extra(ck, key, value, f"{w}.{key}")
            else:
                lo, hi = _consistency_range(name, key)
                _in_range(ck, value, f"{w}.{key}", lo, hi)


# --------------------------------------------------------------------------- cost


COST_TIMING_KEYS = ("s_per_sample", "median_s_per_sample", "max_s_per_sample", "spread")


def _timing(ck: Any, t: Any, where: str) -> None:
    """A timing written with the minimum of repeats: ``s_per_sample <= median <= max``, spread >= 0."""
    if not isinstance(t, dict):
        ck.fail(where, f"must be an object, got {_show(t)}")
    for k in COST_TIMING_KEYS:
        if k in t:
            _in_range(ck, t[k], f"{where}.{k}", 0.0, None, null=False)
    if "median_s_per_sample" in t and not t["s_per_sample"] <= t["median_s_per_sample"] * (1 + _SLACK) <= t["max_s_per_sample"] * (1 + 2 * _SLACK):
        ck.fail(where, f"must have s_per_sample (the minimum) <= median_s_per_sample <= max_s_per_sample, got {_show(t)}")
    la = t.get("load_average")
    if la is not None and (not isinstance(la, list) or len(la) != 3 or not all(_is_number(x) and x >= 0 for x in la)):
        ck.fail(f"{where}.load_average", f"must be the 1/5/15-minute load average (three numbers >= 0), got {_show(la)}")


def check_cost(ck: Any, result: dict[str, Any], per_seed: list[dict[str, Any]]) -> None:
    """The cost fields of :mod:`diffbench.results.cost` (absent from results written before them):
    every seed's inference timing with FLOPs per sample (a positive integer, the same in every
    seed) and parameters (the model's), timings as minimum <= median <= maximum with a spread
    and a load average, the accuracy-matched solver (its nMAE no larger than the seed's test
    nMAE, which is its target), and a run-level ``cost`` equal to
    :func:`~diffbench.results.cost.run_cost` of the seeds."""
    from ..results.cost import TOLERANCES, run_cost

    new = [isinstance(s.get("inference"), dict) and "flops_per_sample" in s["inference"] for s in per_seed]
    if not any(new):
        return
    if not all(new):
        ck.fail(f"per_seed[{new.index(False)}].inference.flops_per_sample", "is missing; the cost fields are in every seed or in none")
    params = (result.get("model") or {}).get("parameters")
    for i, s in enumerate(per_seed):
        where = f"per_seed[{i}]"
        inf = s["inference"]
        _timing(ck, inf, f"{where}.inference")
        _timing(ck, s.get("solver"), f"{where}.solver")
        if not _is_int(inf["flops_per_sample"]) or inf["flops_per_sample"] < 1:
            ck.fail(f"{where}.inference.flops_per_sample", f"must be a positive integer, got {_show(inf['flops_per_sample'])}")
        if inf["flops_per_sample"] != per_seed[0]["inference"]["flops_per_sample"]:
            ck.fail(f"{where}.inference.flops_per_sample", "differs from seed 0's: the same model has the same FLOPs")
        if inf.get("parameters") != params:
            ck.fail(f"{where}.inference.parameters", f"is {_show(inf.get('parameters'))}, but model.parameters is {_show(params)}")
        m = s.get("solver_matched")
        if m is None:
            continue
        w = f"{where}.solver_matched"
        if not isinstance(m, dict):
            ck.fail(w, f"must be an object or null, got {_show(m)}")
        target = (s.get("test") or {}).get("nmae")
        if not _close(m.get("target_nmae"), target):
            ck.fail(f"{w}.target_nmae", f"is {_show(m.get('target_nmae'))}, but the seed's test nmae is {_show(target)}")
        if "s_per_sample" in m:
            _timing(ck, m, w)
            _in_range(ck, m.get("nmae"), f"{w}.nmae", 0.0, target if _is_number(target) else None, null=False)
            if m.get("kind") not in ("multigrid", "transform"):
                ck.fail(f"{w}.kind", f"must be 'multigrid' or 'transform', got {_show(m.get('kind'))}")
            if m["kind"] == "multigrid" and m.get("tol") not in TOLERANCES:
                ck.fail(f"{w}.tol", f"must be one of the ladder's tolerances {', '.join(f'{t:g}' for t in TOLERANCES)}, got {_show(m.get('tol'))}")
    cost = result.get("cost")
    expected = run_cost(per_seed)
    for key in sorted(expected):
        if key not in cost:
            ck.fail(f"cost.{key}", "is missing")
        if not _close(cost[key], expected[key]):
            ck.fail(f"cost.{key}", f"is {_show(cost[key])}, but the per-seed timings give {_show(expected[key])}")
