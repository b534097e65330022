"""Per-sample errors in results: the compact block, its checks on submission, the intervals
computed from it (and refused when they are not what the errors give), paired comparisons."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from diffbench.errors import DiffbenchError
from diffbench.results.digest import write_result
from diffbench.results.per_sample import (
    QUANTITIES,
    decode,
    encode,
    error_matrices,
    headline_intervals,
    paired_differences,
)
from diffbench.results.validate import check_result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
from lb_factory import make_result, per_sample_seed


def _arrays(n: int = 40) -> dict:
    rng = np.random.default_rng(3)
    return {
        "index": np.arange(n),
        "count": np.repeat([1, 2], n // 2),
        **{k: rng.uniform(0.1, 1.0, n) for k in QUANTITIES},
    }


def test_block_round_trips_in_float32():
    a = _arrays()
    d = decode(json.loads(json.dumps(encode(a))), "b")
    for k in QUANTITIES:
        np.testing.assert_allclose(d[k], a[k], rtol=1e-7)
    assert d["count"].tolist() == a["count"].tolist()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: b.update(n=41), "b.index must be a list of 41"),
        (
            lambda b: b.update(mae=base64.b64encode(np.full(40, np.nan, "<f4").tobytes()).decode()),
            "b.mae must hold finite values",
        ),
        (
            lambda b: b.update(mae=base64.b64encode(np.full(40, -1.0, "<f4").tobytes()).decode()),
            "b.mae must hold finite values",
        ),
        (lambda b: b.update(mae="@@@"), "b.mae must be 40 float32 values"),
        (
            lambda b: b.update(mae=base64.b64encode(np.ones(39, "<f4").tobytes()).decode()),
            "b.mae must be 40 float32 values",
        ),
        (lambda b: b.update(index=list(range(39, -1, -1))), "b.index must be strictly increasing"),
        (lambda b: b.update(encoding="json"), "b.encoding must be"),
        (lambda b: b.update(extra=1), "b has unknown key(s) extra"),
    ],
)
def test_bad_blocks_are_refused_in_one_line(change, message):
    block = encode(_arrays())
    change(block)
    with pytest.raises(DiffbenchError) as err:
        decode(block, "b")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_seeds_on_other_test_samples_are_refused():
    a, b = _arrays(), _arrays()
    b["index"] = b["index"] + 1
    with pytest.raises(DiffbenchError, match=r"per_seed\[1\].per_sample covers other test samples"):
        error_matrices([encode(a), encode(b)])


def test_intervals_are_intervals_not_point_estimates():
    """One seed of iid normal errors: the mean's interval is 1.96 standard errors wide (within
    15 %); a point estimate in place of the interval fails this."""
    n = 400
    rng = np.random.default_rng(11)
    mae = rng.normal(1.0, 0.2, n)
    arrays = {
        "index": np.arange(n),
        "count": np.repeat([1, 2, 3, 4], n // 4),
        "abs_sum": mae * 64,
        "tgt_sum": np.full(n, 32.0),
        "mae": mae,
        "max_abs": mae * 3,
        "abs_sum_sources": mae,
        "npix_sources": np.ones(n),
    }
    iv = headline_intervals([encode(arrays)], n_boot=2000)
    m = iv["metrics"]["mae"]
    half = (m["high"] - m["low"]) / 2
    assert half == pytest.approx(1.96 * mae.std(ddof=1) / np.sqrt(n), rel=0.15)
    assert m["low"] < m["estimate"] < m["high"]
    nm = iv["metrics"]["nmae"]
    assert nm["estimate"] == pytest.approx(mae.sum() * 64 / (32.0 * n), rel=1e-6)
    assert (nm["high"] - nm["low"]) / 2 == pytest.approx(2 * half, rel=0.15)  # nmae = 2 mae here
    assert sorted(iv["per_count"]) == ["1", "2", "3", "4"]
    assert "one seed" in iv["method"]


def test_result_with_per_sample_errors_is_accepted(tmp_path):
    path = make_result(tmp_path / "r", per_sample=True)
    checked = check_result(json.loads(path.read_text()))
    assert checked.result.aggregate.intervals.n_seeds == 3
    assert checked.result.per_seed[0].per_sample["n"] == 120


def _refused(tmp_path, change) -> str:
    path = make_result(tmp_path / "r", per_sample=True)
    result = json.loads(path.read_text())
    result.pop("digest")
    change(result)
    write_result(path, result)
    with pytest.raises(DiffbenchError) as err:
        check_result(json.loads(path.read_text()), "r.json")
    assert "\n" not in str(err.value)
    return str(err.value)


def test_a_seed_without_per_sample_errors_is_refused(tmp_path):
    assert "per_seed[1].per_sample is missing" in _refused(tmp_path, lambda r: r["per_seed"][1].pop("per_sample"))


def test_per_sample_errors_of_another_test_set_size_are_refused(tmp_path):
    assert "data.n_test is 99" in _refused(tmp_path, lambda r: r["data"].update(n_test=99))


def test_per_sample_errors_that_do_not_give_the_metrics_are_refused(tmp_path):
    def swap(r):
        r["per_seed"][0]["per_sample"] = encode(per_sample_seed(0.02, 0))

    assert "per_seed[0].per_sample gives test" in _refused(tmp_path, swap)


def test_counts_that_do_not_match_the_test_counts_are_refused(tmp_path):
    def recount(r):
        for s in r["per_seed"]:
            s["per_sample"]["count"] = [1] * 120

    assert "per_sample.count gives samples per source count" in _refused(tmp_path, recount)


def test_hand_made_intervals_are_refused(tmp_path):
    def narrow(r):
        r["aggregate"]["intervals"]["metrics"]["nmae"]["low"] = r["aggregate"]["intervals"]["metrics"]["nmae"][
            "estimate"
        ]

    assert "aggregate.intervals does not agree with the per-sample errors" in _refused(tmp_path, narrow)


def test_missing_intervals_are_refused(tmp_path):
    assert "aggregate.intervals is missing" in _refused(tmp_path, lambda r: r["aggregate"].pop("intervals"))


def _entry(shift: float, rng_seed: int) -> list[dict]:
    """Three seeds that agree closely, on test samples of widely varying difficulty."""
    n = 200
    hard = np.random.default_rng(0).gamma(2.0, 0.005, n)
    rng = np.random.default_rng(rng_seed)
    out = []
    for _ in range(3):
        mae = hard + shift + rng.normal(0, 0.0002, n) ** 2
        out.append(
            encode(
                {
                    "index": np.arange(n),
                    "count": np.repeat([1, 2, 3, 4], n // 4),
                    "abs_sum": mae * 4096,
                    "tgt_sum": np.full(n, 1000.0),
                    "mae": mae,
                    "max_abs": mae * 9,
                    "abs_sum_sources": mae * 10,
                    "npix_sources": np.full(n, 10.0),
                }
            )
        )
    return out


def test_paired_differences_see_a_small_shift_that_unpaired_intervals_miss():
    a, b = _entry(0.0004, 1), _entry(0.0, 2)
    d = paired_differences(a, b)
    assert d["mae"].estimate > 0 and d["mae"].significant and d["mae"].p_value < 0.05
    ia, ib = headline_intervals(a)["metrics"]["mae"], headline_intervals(b)["metrics"]["mae"]
    assert ia["low"] < ib["high"]  # the unpaired intervals overlap
    same = paired_differences(b, b)
    assert same["nmae"].estimate == 0.0 and same["nmae"].p_value == 1.0
    other = [encode({**decode(x, "x"), "index": np.arange(200) + 5}) for x in b]
    with pytest.raises(DiffbenchError, match="different test samples"):
        paired_differences(a, other)


def test_counts_that_are_not_the_tasks_test_split_are_refused(tmp_path):
    msg = _refused(tmp_path, lambda r: r["data"].update(test_counts=[1, 2]))
    assert "the task's test split (with data.test_counts) holds {\"1\": 24, \"2\": 24}" in msg


def test_quantile_replicates_are_the_quantiles_of_the_resampled_values():
    """Each resample's quantile equals numpy's quantile of the values repeated by their
    multiplicities (the max and the 0.99 quantile of p99_sample_mae included)."""
    from diffbench.stats import quantile_replicates, sample_weights

    rng = np.random.default_rng(5)
    values = rng.gamma(2.0, 1.0, (2, 57))
    w = sample_weights([np.arange(30), np.arange(30, 57)], 57, 25, rng)
    for q in (0.0, 0.5, 0.99, 1.0):
        theta, reps = quantile_replicates(values, w, q)
        np.testing.assert_allclose(theta, np.quantile(values, q, axis=1), rtol=1e-12)
        for b in range(25):
            for s in range(2):
                expanded = np.repeat(values[s], w[b].astype(int))
                assert reps[b, s] == pytest.approx(np.quantile(expanded, q), rel=1e-12), (q, b, s)


def test_quantile_replicates_of_a_large_set_count_from_the_top_exactly():
    """The top-window count (and its fall-back for resamples with few draws near the top)
    gives numpy's quantile of every resample."""
    from diffbench.stats import quantile_replicates, sample_weights

    rng = np.random.default_rng(9)
    n = 3000
    values = rng.gamma(2.0, 1.0, (1, n))
    w = sample_weights([np.arange(n)], n, 12, rng)
    top = np.argsort(values[0])[::-1][:400]
    moved = w[0, top].sum()
    w[0, top] = 0.0  # no draw among the 400 largest values: the window is too short for this resample
    w[0, np.argsort(values[0])[0]] += moved  # still a resample of n draws
    for q in (0.99, 0.995, 1.0):
        _, reps = quantile_replicates(values, w, q)
        for b in range(12):
            expanded = np.repeat(values[0], w[b].astype(int))
            assert reps[b, 0] == pytest.approx(np.quantile(expanded, q), rel=1e-12), (q, b)
