"""Cost that means something: timings as minima of repeats with their spread, the speed-up at
equal accuracy, and how many digits a timing deserves (torch-free).

Timings (:mod:`diffbench.training.timing` measures them)
--------------------------------------------------------
Every wall-clock figure is measured after ``warmup`` untimed calls as ``repeats`` timed calls
of the same work; the figure is the **minimum** (the run least disturbed by the rest of the
machine), recorded with the median, the maximum, their relative ``spread = (max - min) / min``
and the machine's 1/5/15-minute load average at the time. Next to them every result carries
the hardware-independent cost: forward FLOPs per sample
(:func:`diffbench.models.cost.count_flops`, ``torch.utils.flop_counter`` plus FFTs) and the
number of parameters.

The speed-up at equal accuracy
------------------------------
A network that reaches test nMAE ``e`` is compared with the exact solver run only as far as
it takes to reach the same accuracy: on a batch of test problems, the converged field ``u*``
(tolerance 1e-10) is the reference; multigrid-CG is run at a ladder of tolerances
(:data:`TOLERANCES`, loosest first) and the loosest whose nMAE against ``u*`` (``sum |u -
u*| / sum |u*|`` on fields scaled to max 1, the headline's reduction) is no larger than ``e``
is timed. Where the transform solver applies (constant D, uniform boundaries) it is exact in
one step, so its time is the cost at *any* accuracy; the matched solver is the cheaper of the
two. ``speedup_at_equal_accuracy = matched solver time / network time``, both minima, both in
the same process on the same batch. When even the loosest tolerance (0.9: about one
multigrid-CG iteration) is more accurate than the network, the solver cannot be stopped any
earlier and the record says so (``loosest: true``): the speed-up is then an upper bound.

Digits
------
A ratio of two timings is no better than their spreads: :func:`timing_digits` gives at most two
significant digits (one when the repeats spread by 100 % or more, three only when they agree to
0.1 %), and :func:`fmt_sig` prints them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import DiffbenchError

#: Multigrid-CG tolerances tried for the accuracy-matched solve, loosest first.
TOLERANCES = (0.9, 0.5, 0.3, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 1e-5, 1e-6, 1e-8)
#: The converged reference's tolerance.
REFERENCE_TOL = 1e-10
#: Untimed calls before timing, and timed calls.
WARMUP = 2
REPEATS = 7


def summarise(
    times: Sequence[float], per: int, load_average: Sequence[float] | None = None, warmup: int = WARMUP
) -> dict[str, Any]:
    """Seconds per unit from ``times`` (seconds per call of ``per`` units): the minimum, the
    median and maximum, the relative spread and the load average.

    >>> s = summarise([0.30, 0.20, 0.25], per=10)
    >>> s["s_per_sample"], s["median_s_per_sample"], s["max_s_per_sample"], round(s["spread"], 6)
    (0.02, 0.025, 0.03, 0.5)
    """
    t = [float(x) for x in times]
    if not t or per < 1 or min(t) <= 0 or not all(math.isfinite(x) for x in t):
        raise DiffbenchError(f"timings need at least one positive, finite time and per >= 1, got {t!r} per {per!r}")
    lo, hi = min(t), max(t)
    srt = sorted(t)
    mid = len(srt) // 2
    med = srt[mid] if len(srt) % 2 else (srt[mid - 1] + srt[mid]) / 2
    out: dict[str, Any] = {
        "s_per_sample": lo / per,
        "median_s_per_sample": med / per,
        "max_s_per_sample": hi / per,
        "spread": (hi - lo) / lo,
        "repeats": len(t),
        "warmup": warmup,
        "batch_size": per,
        "statistic": "minimum of repeats",
    }
    if load_average is not None:
        out["load_average"] = [round(float(x), 2) for x in load_average]
    return out


def timing_digits(spread: float | None) -> int:
    """Significant digits a timing (or a ratio of timings) deserves given the relative spread
    of its repeats: at most 2; 1 from a spread of 100 %; 3 only below 0.1 %.

    >>> timing_digits(0.0005), timing_digits(0.04), timing_digits(0.6), timing_digits(2.0), timing_digits(None)
    (3, 2, 2, 1, 2)
    """
    if spread is None or not math.isfinite(spread):
        return 2
    if spread >= 1.0:
        return 1
    return 3 if spread < 1e-3 else 2


def fmt_sig(x: float | None, digits: int) -> str:
    """``x`` with ``digits`` significant digits, no exponent for ordinary magnitudes.

    >>> fmt_sig(4.0137, 2), fmt_sig(22.63, 2), fmt_sig(1234.5, 2), fmt_sig(0.000123456, 2), fmt_sig(None, 2)
    ('4.0', '23', '1200', '0.00012', '—')
    """
    if x is None or not math.isfinite(x):
        return "—"
    if x == 0:
        return "0"
    exp = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - exp)
    rounded = round(x, digits - 1 - exp)
    return f"{rounded:.{decimals}f}"


def ratio_spread(*spreads: float | None) -> float | None:
    """Relative spread of a ratio of timings: the sum of the parts' relative spreads."""
    vals = [s for s in spreads if s is not None]
    return sum(vals) if len(vals) == len(spreads) else None


def speedup(solver: dict[str, Any] | None, inference: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{"value", "spread", "digits"}`` of solver time / network time (both minima)."""
    if not solver or not inference or not inference.get("s_per_sample"):
        return None
    value = solver["s_per_sample"] / inference["s_per_sample"]
    spread = ratio_spread(solver.get("spread"), inference.get("spread"))
    return {"value": value, "spread": spread, "digits": timing_digits(spread)}


def run_cost(per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run's ``cost`` block from its seeds' timings: means over seeds of each seed's minima,
    the largest spread, FLOPs and parameters, and the speed-ups (the legacy ``speedup_vs_solver``
    is against the solver at its default tolerance; ``speedup_at_equal_accuracy`` against the
    accuracy-matched solver, when every seed has one)."""
    if not per_seed:
        raise DiffbenchError("a run's cost needs at least one seed")
    n = len(per_seed)
    inf = [s["inference"] for s in per_seed]
    sol = [s["solver"] for s in per_seed]
    inf_mean = sum(t["s_per_sample"] for t in inf) / n
    sol_mean = sum(t["s_per_sample"] for t in sol) / n

    def worst(rows: Sequence[dict[str, Any]]) -> float | None:
        vals = [r.get("spread") for r in rows]
        return max(vals) if vals and all(isinstance(v, (int, float)) for v in vals) else None

    out: dict[str, Any] = {
        "train_time_s": sum(s["train_time_s"] for s in per_seed) / n,
        "inference_s_per_sample": inf_mean,
        "solver_s_per_sample": sol_mean,
        "speedup_vs_solver": sol_mean / inf_mean if inf_mean > 0 else None,
        "solver_method": sol[0].get("method"),
        "batch_size": inf[0].get("batch_size"),
    }
    if all("flops_per_sample" in t for t in inf):
        out["flops_per_sample"] = inf[0]["flops_per_sample"]
        out["parameters"] = inf[0].get("parameters")
        out["inference_spread"] = worst(inf)
        out["solver_spread"] = worst(sol)
        out["load_average"] = [t.get("load_average") for t in inf]
    matched = [s.get("solver_matched") for s in per_seed]
    if all(isinstance(m, dict) and m.get("s_per_sample") for m in matched):
        m_mean = sum(m["s_per_sample"] for m in matched) / n
        spread = ratio_spread(worst(inf), worst(matched))
        out["solver_matched_s_per_sample"] = m_mean
        out["solver_matched"] = [
            {"method": m.get("method"), "tol": m.get("tol"), "nmae": m.get("nmae")} for m in matched
        ]
        out["speedup_at_equal_accuracy"] = m_mean / inf_mean if inf_mean > 0 else None
        out["speedup_spread"] = spread
        out["speedup_digits"] = timing_digits(spread)
    return out


def fmt_seconds(v: float | None, digits: int = 2) -> str:
    """A time per sample with its unit and ``digits`` significant digits.

    >>> fmt_seconds(0.0226, 2), fmt_seconds(4.013e-3, 1), fmt_seconds(5.1e-5, 2)
    ('23 ms', '4 ms', '51 µs')
    """
    if v is None or not math.isfinite(v):
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(v) >= scale or unit == "ns":
            return f"{fmt_sig(v / scale, digits)} {unit}"
    return f"{fmt_sig(v, digits)} s"  # pragma: no cover


def board_cost(cost: dict[str, Any]) -> dict[str, Any]:
    """What a board shows of a result's ``cost``: the inference time and the speed-up with the
    digits their spreads allow, FLOPs per sample, and which speed-up it is (at equal accuracy,
    or, for a result written before it, against the solver at its default tolerance, marked).

    >>> v = board_cost({"inference_s_per_sample": 2e-3, "solver_s_per_sample": 5e-3, "inference_spread": 0.3,
    ...                 "flops_per_sample": 10, "speedup_at_equal_accuracy": 1.234, "speedup_digits": 2})
    >>> v["inference_text"], v["speedup_text"], v["speedup_kind"]
    ('2.0 ms', '1.2×', 'at equal accuracy')
    >>> board_cost({"inference_s_per_sample": 2e-3, "solver_s_per_sample": 5e-3})["speedup_text"]
    '2.5× (tol 1e-8)'
    """
    inf = cost["inference_s_per_sample"]
    legacy = cost.get("speedup_at_equal_accuracy") is None
    if legacy:
        value = cost["solver_s_per_sample"] / inf if inf else None
        digits, kind = 2, "vs the solver at tol 1e-8 (a result written before the equal-accuracy speed-up)"
    else:
        value, digits, kind = (
            cost["speedup_at_equal_accuracy"],
            int(cost.get("speedup_digits") or 2),
            "at equal accuracy",
        )
    text = f"{fmt_sig(value, digits)}×" + (" (tol 1e-8)" if legacy else "")
    return {
        "inference": inf,
        "inference_text": fmt_seconds(inf, timing_digits(cost.get("inference_spread"))),
        "flops": cost.get("flops_per_sample"),
        "speedup": value,
        "speedup_text": text,
        "speedup_kind": kind,
    }
