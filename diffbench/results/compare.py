"""``diffbench compare RESULT_A RESULT_B``: the paired difference of every headline metric.

Each input is a ``result.json`` that ``diffbench run`` wrote or a stored submission
(``{"submission": ..., "result": ...}``); each is checked like a submission
(:func:`~diffbench.results.validate.check_result`: digest, schema, per-sample errors that give
its metrics). The two must be scored on the same task spec and the same test samples, each
with per-sample errors; then every metric of
:data:`~diffbench.results.per_sample.HEADLINE_METRICS` is compared paired
(:func:`~diffbench.results.per_sample.paired_differences`: the test samples resampled together,
stratified by source count, the seeds of each entry apart), with the 95 % interval of ``A - B``
and its two-sided p-value. Anything else is a one-line error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DiffbenchError
from ..stats import format_interval, format_p
from .jsonio import read_json_strict
from .per_sample import HEADLINE_METRICS, paired_differences
from .validate import check_result


def load_comparable(path: str | Path, name: str) -> dict[str, Any]:
    """The result in ``path`` (a result.json or a stored submission), checked, with per-sample errors."""
    raw = read_json_strict(Path(path))
    result = raw["result"] if isinstance(raw, dict) and "submission" in raw and "result" in raw else raw
    check_result(result, f"{name} ({path})")
    if any(s.get("per_sample") is None for s in result["per_seed"]):
        raise DiffbenchError(
            f"{name} ({path}) has no per-sample errors (written before they were kept): "
            "no paired comparison; rerun it with this diffbench"
        )
    return result


def compare(path_a: str | Path, path_b: str | Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(result A, result B, {metric: Difference or None})`` of two comparable results."""
    a, b = load_comparable(path_a, "A"), load_comparable(path_b, "B")
    ta, tb = a["task"], b["task"]
    if ta["spec_hash"] != tb["spec_hash"]:
        raise DiffbenchError(
            f"A is scored on task {ta['name']} (spec {ta['spec_hash'][:12]}), B on task {tb['name']} "
            f"(spec {tb['spec_hash'][:12]}): not comparable"
        )
    return a, b, paired_differences([s["per_sample"] for s in a["per_seed"]], [s["per_sample"] for s in b["per_seed"]])


def _interval_text(result: dict[str, Any], key: str) -> str:
    iv = result["aggregate"]["intervals"]["metrics"].get(key)
    return "n/a" if iv is None else format_interval(iv["estimate"], iv["low"], iv["high"])


def report(path_a: str | Path, path_b: str | Path) -> str:
    """The text ``diffbench compare`` prints: both entries, then one line per headline metric."""
    a, b, diffs = compare(path_a, path_b)
    lines = [
        f"A: {a['model']['name']} on {a['task']['name']}, seeds {','.join(map(str, a['seeds']))} ({path_a})",
        f"B: {b['model']['name']} on {b['task']['name']}, seeds {','.join(map(str, b['seeds']))} ({path_b})",
    ]
    first = next(d for d in diffs.values() if d is not None)
    lines.append(f"paired on {first.n_samples} shared test samples; 95 % intervals, {first.method}")
    rows = [("metric", "A", "B", "A - B", "p", "")]
    for key in HEADLINE_METRICS:
        d = diffs.get(key)
        if d is None:
            rows.append((key, _interval_text(a, key), _interval_text(b, key), "n/a", "", "no pixel of this region"))
            continue
        verdict = "" if not d.significant else ("A lower" if d.estimate < 0 else "A higher")
        rows.append(
            (
                key,
                _interval_text(a, key),
                _interval_text(b, key),
                format_interval(d.estimate, d.low, d.high),
                format_p(d.p_value),
                verdict,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.append(
        "A - B below 0: A has the lower (better) error; 'A lower'/'A higher': the interval excludes 0. "
        "max_abs_error and p99_sample_mae are extremes: their intervals show the sampling spread only."
    )
    return "\n".join(lines)
