"""Submission checks of a result's ``uq`` and ``consistency`` blocks (part of :func:`check_result`).

Both blocks are optional (``uq`` only exists for ``diffbench run --uq ...``; results written
before the consistency scores have no ``consistency``). When present, they are checked
strictly, with the same one-line errors as the rest of the result:

``uq`` (see :mod:`diffbench.trust.indicators`)
    ``requested`` a non-empty list of distinct known indicators; ``settings`` an object;
    ``indicators`` exactly the requested ones. A run-level indicator is ``{"status": "ok",
    "n_seeds", "spearman", "auroc", "catch_rate", "indicator_mean"}`` (each score
    ``{"mean", "std", "n"}``) or ``{"status": "not applicable", "reason", "n_seeds": 0}``.
    Every seed has its own ``uq`` block (``n_samples``, ``error_mean``, ``settings``, the same
    indicators) whose scores are numbers or null: Spearman in [-1, 1], AUROC and catch rate in
    [0, 1]. A "not applicable" indicator carries a reason and no scores. The run-level
    indicators must equal :func:`diffbench.trust.indicators.aggregate_uq` of the seeds'.
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


def _agree(ck: Any, stored: Any, expected: Any, where: str, what: str) -> None:
    if not _close(stored, expected):
        ck.fail(where, f"does not agree with the per-seed {what}: " + _first_difference(stored, expected, where)
                + " (mean ± unbiased std over seeds)")


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

    from ..trust.indicators import aggregate_uq

    try:
        expected = aggregate_uq(per_seed, requested)["indicators"]
    except (TypeError, KeyError, AttributeError, ValueError, ZeroDivisionError) as exc:
        ck.fail("uq", f"cannot be aggregated from the per-seed blocks ({type(exc).__name__})")
    _agree(ck, indicators, expected, "uq.indicators", "scores")


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
