"""Comparisons a result check needs (values equal to a tolerance, the first difference of two
records) and the check of the seeds' per-sample errors against their metrics and intervals.

Split from :mod:`diffbench.results.validate`, which calls them; ``fail(where, what)`` raises
the one-line refusal naming the field."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from ..errors import DiffbenchError
from .fields import is_int, is_number, show
from .per_sample import REL_TOL_F32, error_matrices, headline_intervals

#: Relative tolerance of a stored aggregate against its recomputation.
REL_TOL = 1e-9


def close(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, str) or isinstance(b, str) or isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_int(a) and is_int(b):
        return a == b
    if is_number(a) and is_number(b):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)
    return a is None and b is None


def first_difference(stored: Any, expected: Any, where: str) -> str:
    if isinstance(stored, dict) and isinstance(expected, dict):
        for k in sorted(set(stored) | set(expected), key=str):
            if k not in stored:
                return f"{where}.{k} is missing"
            if k not in expected:
                return f"{where}.{k} is not produced by the aggregation"
            if not close(stored[k], expected[k]):
                return first_difference(stored[k], expected[k], f"{where}.{k}")
    return f"{where} is {show(stored)}, the per-seed values give {show(expected)}"


def per_sample_across(
    result: dict[str, Any], per_seed: list[dict[str, Any]], fail: Callable[[str, str], NoReturn]
) -> None:
    """The seeds' per-sample errors: in every seed or none; the same test samples in every
    seed, as many as ``data.n_test``, with the per-count sample numbers of the seed's test
    results; reproducing each seed's headline metrics; and ``aggregate.intervals`` equal to
    what they give (recomputed: the resampling is deterministic)."""
    present = [s.get("per_sample") is not None for s in per_seed]
    intervals = result["aggregate"].get("intervals")
    if not any(present):
        if intervals is not None:
            fail("aggregate.intervals", "is present but no seed carries per_sample errors to compute it from")
        return
    if not all(present):
        fail(
            f"per_seed[{present.index(False)}].per_sample",
            "is missing; the per-sample errors are in every seed or in none",
        )
    try:
        m = error_matrices([s["per_sample"] for s in per_seed])
    except DiffbenchError as exc:  # its message starts with the field's path
        where, _, what = str(exc).partition(" ")
        fail(where, what)
    n = m["index"].size
    n_test = (result.get("data") or {}).get("n_test")
    if is_int(n_test) and n != n_test:
        fail("per_seed[0].per_sample.n", f"is {n}, but data.n_test is {n_test}: one value per test sample")
    values, freq = np.unique(m["count"], return_counts=True)
    expected = task_test_counts(result)
    got = {int(c): int(k) for c, k in zip(values, freq)}
    if expected is not None and got != expected:
        fail(
            "per_seed[0].per_sample.count",
            f"gives samples per source count {show(got)}, but the task's test split "
            f"(with data.test_counts) holds {show(expected)}",
        )
    for i, s in enumerate(per_seed):
        test = s["test"]
        expect = {str(c): row.get("n_samples") for c, row in (test.get("per_count") or {}).items()}
        got = {str(int(c)): int(k) for c, k in zip(values, freq)}
        if expect and expect != got:
            fail(
                f"per_seed[{i}].per_sample.count",
                f"gives samples per source count {show(got)}, but the test results count {show(expect)}",
            )
        if is_int(test.get("n_samples")) and test["n_samples"] != n:
            fail(f"per_seed[{i}].per_sample.n", f"is {n}, but test.n_samples is {test['n_samples']}")
        recomputed = {
            "nmae": m["abs_sum"][i].sum() / m["tgt_sum"][i].sum() if m["tgt_sum"][i].sum() > 0 else None,
            "mae": m["mae"][i].mean(),
            "max_abs_error": m["max_abs"][i].max(),
            "p99_sample_mae": float(np.quantile(m["mae"][i], 0.99)),
            "mae_sources": (
                m["abs_sum_sources"][i].sum() / m["npix_sources"][i].sum() if m["npix_sources"][i].sum() > 0 else None
            ),
        }
        for key, value in recomputed.items():
            stored = test.get(key)
            if value is None or stored is None:
                continue
            if not math.isclose(float(value), stored, rel_tol=REL_TOL_F32, abs_tol=1e-12):
                fail(
                    f"per_seed[{i}].per_sample",
                    f"gives test {key} {float(value)!r}, but the seed reports {stored!r}: "
                    "the per-sample errors must be the ones the metrics were computed from",
                )
    if intervals is None:
        fail("aggregate.intervals", "is missing, but the seeds carry per-sample errors (the run writes both)")
    expected = headline_intervals(
        [s["per_sample"] for s in per_seed],
        level=intervals["level"],
        n_boot=intervals["n_boot"],
        seed=intervals["boot_seed"],
    )
    if not close_rel(intervals, expected, 1e-6):
        fail(
            "aggregate.intervals",
            "does not agree with the per-sample errors: "
            + first_difference(intervals, expected, "aggregate.intervals")
            + " (recomputed with its n_boot and boot_seed)",
        )


def task_test_counts(result: dict[str, Any]) -> dict[int, int] | None:
    """``{count: samples}`` of the task's test split (``task.spec.splits.test``: the list of
    counts and the samples per count, as the task's ``to_dict`` records it), restricted to
    ``data.test_counts``; None when the spec does not say it in that form.

    >>> task_test_counts({"task": {"spec": {"splits": {"test": {"counts": [1, 2, 3], "per_count": 4}}}},
    ...                   "data": {"test_counts": [2, 3, 9]}})
    {2: 4, 3: 4}
    >>> task_test_counts({"task": {"spec": {"splits": {"test": {"counts": [1, 5], "per_count": 2}}}}})
    {1: 2, 5: 2}
    """
    test = ((((result.get("task") or {}).get("spec") or {}).get("splits") or {}).get("test")) or {}
    counts, per = test.get("counts"), test.get("per_count")
    values = counts if isinstance(counts, list) and counts and all(is_int(c) for c in counts) else None
    if values is None or not is_int(per):
        return None
    only = (result.get("data") or {}).get("test_counts")
    if isinstance(only, list):
        values = [c for c in values if c in only]
    return {int(c): per for c in values}


def close_rel(a: Any, b: Any, rel: float) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close_rel(a[k], b[k], rel) for k in a)
    if is_number(a) and is_number(b) and not (is_int(a) and is_int(b)):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    return close(a, b)
