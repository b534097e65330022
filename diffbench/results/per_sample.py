"""Per-sample errors in a result, and the intervals and paired comparisons computed from them.

A seed's ``per_sample`` block holds, for every test sample (sorted by its ``index``), what
the headline metrics are made of (:data:`QUANTITIES`; the evaluator's
:func:`~diffbench.evaluation.functional.per_sample_errors`): ``index`` and ``count`` as JSON
integer lists, each quantity as little-endian float32 in base64 (4 bytes a value: a
800-sample test set takes ~4.3 kB per quantity, ~30 kB per seed), so that result.json stays
small. The run also writes them in float64 to ``seed-<k>/per_sample.npz``.

From these blocks (:func:`error_matrices`: one row per seed, one column per sample) come,
with :mod:`diffbench.stats`, each headline metric's 95 % interval (:func:`headline_intervals`,
stored in ``aggregate.intervals``) and the paired difference of two entries
(:func:`paired_differences`, ``diffbench compare``). The method (two-level bootstrap-t over
seeds and test samples stratified by source count; ratio metrics recomputed as ratios on
every resample) is the package docstring of :mod:`diffbench.stats`.

>>> import numpy as np
>>> arrays = {"index": np.arange(4), "count": np.array([1, 1, 2, 2]),
...           **{k: np.full(4, 0.5) for k in QUANTITIES}}
>>> block = encode(arrays)
>>> block["n"], block["encoding"], decode(block, "b")["mae"].tolist()
(4, 'float32-le-base64', [0.5, 0.5, 0.5, 0.5])
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DiffbenchError
from ..stats import (
    BOOT_SEED,
    LEVEL,
    N_BOOT,
    bootstrap_interval,
    paired_difference,
    paired_quantile_difference,
    paired_ratio_difference,
    per_count_intervals,
    quantile_interval,
    ratio_interval,
)

#: The per-sample quantities of a seed (the evaluator's ``per_sample_errors``, besides ``index`` and ``count``).
QUANTITIES = ("abs_sum", "tgt_sum", "mae", "max_abs", "abs_sum_sources", "npix_sources")
ENCODING = "float32-le-base64"
#: The metrics that carry an interval, in the board's order; and those that do per source count.
HEADLINE_METRICS = ("nmae", "mae", "mae_sources", "max_abs_error", "p99_sample_mae")
PER_COUNT_METRICS = ("nmae", "mae")
#: Relative agreement between a seed's per-sample errors (float32) and its reported metrics.
REL_TOL_F32 = 2e-5


def encode(arrays: Mapping[str, Any]) -> dict[str, Any]:
    """The compact JSON block of one seed's per-sample errors (see the module docstring)."""
    index = np.asarray(arrays["index"]).astype(np.int64)
    count = np.asarray(arrays["count"]).astype(np.int64)
    block: dict[str, Any] = {
        "n": int(index.size),
        "encoding": ENCODING,
        "index": index.tolist(),
        "count": count.tolist(),
    }
    for key in QUANTITIES:
        values = np.asarray(arrays[key], dtype="<f4")
        block[key] = base64.b64encode(values.tobytes()).decode("ascii")
    return block


def decode(block: Any, where: str) -> dict[str, np.ndarray]:
    """The arrays of a ``per_sample`` block (float64 from the stored float32); one-line errors naming ``where``."""
    if not isinstance(block, Mapping):
        raise DiffbenchError(f"{where} must be an object of per-sample errors, got {type(block).__name__}")
    if block.get("encoding") != ENCODING:
        raise DiffbenchError(f"{where}.encoding must be {ENCODING!r}, got {block.get('encoding')!r}")
    n = block.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise DiffbenchError(f"{where}.n must be an integer >= 2 (the number of test samples), got {n!r}")
    out: dict[str, np.ndarray] = {}
    for key in ("index", "count"):
        values = block.get(key)
        if (
            not isinstance(values, list)
            or len(values) != n
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)
        ):
            raise DiffbenchError(f"{where}.{key} must be a list of {n} non-negative integers (one per test sample)")
        out[key] = np.asarray(values, dtype=np.int64)
    if np.any(np.diff(out["index"]) <= 0):
        raise DiffbenchError(f"{where}.index must be strictly increasing (one entry per distinct test sample, sorted)")
    for key in QUANTITIES:
        text = block.get(key)
        try:
            raw = base64.b64decode(text, validate=True) if isinstance(text, str) else None
        except (binascii.Error, ValueError):
            raw = None
        if raw is None or len(raw) != 4 * n:
            raise DiffbenchError(f"{where}.{key} must be {n} float32 values in base64 ({4 * n} bytes)")
        values = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise DiffbenchError(f"{where}.{key} must hold finite values >= 0 (found NaN, inf or a negative value)")
        out[key] = values
    extra = sorted(set(block) - {"n", "encoding", "index", "count", *QUANTITIES})
    if extra:
        raise DiffbenchError(
            f"{where} has unknown key(s) {', '.join(extra)}; allowed: n, encoding, index, count, {', '.join(QUANTITIES)}"
        )
    return out


def write_npz(path: Path, arrays: Mapping[str, Any]) -> None:
    """Write ``seed-<k>/per_sample.npz`` (float64, ``index`` and ``count`` int64) atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **{k: np.asarray(arrays[k]) for k in ("index", "count", *QUANTITIES)})
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def error_matrices(blocks: Sequence[Any], where: str = "per_seed") -> dict[str, np.ndarray]:
    """Decode every seed's block into ``(seeds, samples)`` matrices; ``index`` and ``count``
    (one row) must be the same in every seed (the same test samples)."""
    if not blocks:
        raise DiffbenchError(f"{where}: no per-sample errors")
    decoded = [decode(b, f"{where}[{i}].per_sample") for i, b in enumerate(blocks)]
    first = decoded[0]
    for i, d in enumerate(decoded[1:], 1):
        if (
            d["index"].shape != first["index"].shape
            or np.any(d["index"] != first["index"])
            or np.any(d["count"] != first["count"])
        ):
            raise DiffbenchError(
                f"{where}[{i}].per_sample covers other test samples than {where}[0]: every seed is scored on the same test set"
            )
    out = {k: np.stack([d[k] for d in decoded]) for k in QUANTITIES}
    out["index"], out["count"] = first["index"], first["count"]
    return out


def _pair(iv: Any) -> dict[str, Any]:
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high}


def headline_intervals(
    blocks: Sequence[Any], *, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = BOOT_SEED
) -> dict[str, Any]:
    """``aggregate.intervals``: each of :data:`HEADLINE_METRICS` (and :data:`PER_COUNT_METRICS`
    per source count) as ``{"estimate", "low", "high"}``, with how they were computed.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> def seed_block(k):
    ...     a = rng.gamma(4.0, 0.5, 60) * (1 + 0.05 * k)
    ...     return encode({"index": np.arange(60), "count": np.repeat([1, 2, 3], 20), "abs_sum": a,
    ...                    "tgt_sum": np.full(60, 40.0), "mae": a / 64, "max_abs": a / 8, "abs_sum_sources": a / 10,
    ...                    "npix_sources": np.repeat([1.0, 2.0, 3.0], 20)})
    >>> iv = headline_intervals([seed_block(k) for k in range(3)], n_boot=300)
    >>> nmae = iv["metrics"]["nmae"]
    >>> nmae["low"] < nmae["estimate"] < nmae["high"], sorted(iv["per_count"]), iv["n_seeds"], iv["n_samples"]
    (True, ['1', '2', '3'], 3, 60)
    """
    m = error_matrices(blocks)
    counts = m["count"]
    metrics: dict[str, Any] = {}
    nmae = ratio_interval(m["abs_sum"], m["tgt_sum"], counts, level=level, n_boot=n_boot, seed=seed)
    metrics["nmae"] = _pair(nmae)
    metrics["mae"] = _pair(bootstrap_interval(m["mae"], counts, level=level, n_boot=n_boot, seed=seed))
    try:
        metrics["mae_sources"] = _pair(
            ratio_interval(m["abs_sum_sources"], m["npix_sources"], counts, level=level, n_boot=n_boot, seed=seed)
        )
    except DiffbenchError:  # no source pixel at all, or a resample without one (count-0 samples)
        metrics["mae_sources"] = None
    metrics["max_abs_error"] = _pair(
        quantile_interval(m["max_abs"], counts, q=1.0, level=level, n_boot=n_boot, seed=seed)
    )
    metrics["p99_sample_mae"] = _pair(
        quantile_interval(m["mae"], counts, q=0.99, level=level, n_boot=n_boot, seed=seed)
    )
    per_count: dict[str, Any] = {}
    if len(np.unique(counts)) > 1 and np.min(np.unique(counts, return_counts=True)[1]) >= 2:
        bands = {
            "nmae": per_count_intervals(m["abs_sum"], counts, m["tgt_sum"], level=level, n_boot=n_boot, seed=seed),
            "mae": per_count_intervals(m["mae"], counts, level=level, n_boot=n_boot, seed=seed),
        }
        for c in sorted(bands["nmae"]):
            per_count[str(c)] = {k: _pair(bands[k][c]) for k in PER_COUNT_METRICS}
    return {
        "level": level,
        "method": nmae.method,
        "n_boot": n_boot,
        "boot_seed": seed,
        "n_seeds": nmae.n_seeds,
        "n_samples": nmae.n_samples,
        "metrics": metrics,
        "per_count": per_count,
    }


def paired_differences(
    blocks_a: Sequence[Any],
    blocks_b: Sequence[Any],
    *,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
) -> dict[str, Any]:
    """The paired difference ``a - b`` of every headline metric (:class:`diffbench.stats.Difference`),
    the test samples resampled together; the two entries must hold the same test samples."""
    a, b = error_matrices(blocks_a, "entry A"), error_matrices(blocks_b, "entry B")
    if a["index"].shape != b["index"].shape or np.any(a["index"] != b["index"]) or np.any(a["count"] != b["count"]):
        raise DiffbenchError(
            "the two entries were scored on different test samples (index or source counts differ): not comparable"
        )
    counts = a["count"]
    kw = {"level": level, "n_boot": n_boot, "seed": seed}
    out: dict[str, Any] = {
        "nmae": paired_ratio_difference(a["abs_sum"], a["tgt_sum"], b["abs_sum"], b["tgt_sum"], counts, **kw),
        "mae": paired_difference(a["mae"], b["mae"], counts, **kw),
    }
    try:
        out["mae_sources"] = paired_ratio_difference(
            a["abs_sum_sources"], a["npix_sources"], b["abs_sum_sources"], b["npix_sources"], counts, **kw
        )
    except DiffbenchError:
        out["mae_sources"] = None
    out["max_abs_error"] = paired_quantile_difference(a["max_abs"], b["max_abs"], counts, q=1.0, **kw)
    out["p99_sample_mae"] = paired_quantile_difference(a["mae"], b["mae"], counts, q=0.99, **kw)
    return out
