"""The reference evaluator: hand-computed cases, exact solves, de-duplication and DDP."""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import pytest
import torch

from diffbench.errors import DiffbenchError
from diffbench.evaluation.evaluator import Evaluator
from diffbench.evaluation.functional import METRIC_KEYS, aggregate, sample_statistics
from diffbench.evaluation.metric import DiffusionMetrics
from diffbench.evaluation.regions import region_masks
from diffbench.evaluation.residual import prediction_residual
from diffbench.solver import solve

N = 8
_CODES = {"dirichlet": 0, "neumann": 1, "periodic": 2}
_SIDES = ("top", "bottom", "left", "right")


# ------------------------------------------------------------------ helpers


def _hand_batch():
    """Two 8x8 samples with known regions and a constant error per region.

    sample 0: source (0,0) y=1; rest of row 0 y=0.5 (r1, 7 px); row 1 y=0.15 (r2, 8 px);
              row 2 y=0.07 (r3, 8 px); rows 3-7 y=0.01 (40 px, no ring).
              errors: source +0.1, r1 -0.2, r2 +0.3, r3 -0.4, other +0.5.
    sample 1: sources (0,0),(0,1) y=1; rest of row 0 y=0.5 (r1, 6 px); rows 1-2 y=0.15 (r2, 16 px);
              rows 3-7 y=0.01 (40 px); no r3.
              errors: source -0.05, r1 +0.6, r2 -0.3, other +0.01.
    """
    x = torch.zeros(2, 2, N, N)  # a second (constant) input channel must be ignored
    x[:, 1] = 7.0
    y = torch.zeros(2, 1, N, N)
    e = torch.zeros(2, 1, N, N)
    # sample 0
    x[0, 0, 0, 0] = 0.8
    y[0, 0, 0, 0], e[0, 0, 0, 0] = 1.0, 0.1
    y[0, 0, 0, 1:], e[0, 0, 0, 1:] = 0.5, -0.2
    y[0, 0, 1], e[0, 0, 1] = 0.15, 0.3
    y[0, 0, 2], e[0, 0, 2] = 0.07, -0.4
    y[0, 0, 3:], e[0, 0, 3:] = 0.01, 0.5
    # sample 1
    x[1, 0, 0, :2] = 0.3
    y[1, 0, 0, :2], e[1, 0, 0, :2] = 1.0, -0.05
    y[1, 0, 0, 2:], e[1, 0, 0, 2:] = 0.5, 0.6
    y[1, 0, 1:3], e[1, 0, 1:3] = 0.15, -0.3
    y[1, 0, 3:], e[1, 0, 3:] = 0.01, 0.01
    batch = {"input": x, "target": y, "count": torch.tensor([1, 2]), "index": torch.tensor([10, 11])}
    return y + e, batch


def _boundary_codes(bnd):
    if isinstance(bnd, str):
        return [_CODES[bnd]] * 4
    return [_CODES[bnd[s]] for s in _SIDES]


def _solved_batch(seed=0, n_samples=6, lattice=16, index_offset=0):
    """A batch that honours the contract exactly: targets are exact solves.

    Mixes boundaries, variable diffusivity, decay, and clamped samples (every third).
    """
    rng = np.random.default_rng(seed)
    boundaries = [
        "dirichlet",
        {"top": "dirichlet", "bottom": "neumann", "left": "periodic", "right": "periodic"},
        "neumann",
    ]
    rows = []
    for k in range(n_samples):
        bnd = boundaries[k % len(boundaries)]
        count = int(rng.integers(1, 4))
        S = np.zeros((lattice, lattice))
        for _ in range(count):
            i, j = rng.integers(2, lattice - 2, size=2)
            S[i, j] += rng.uniform(0.5, 1.0)
        D = 1.0 + rng.random((lattice, lattice)) if k % 2 else np.ones((lattice, lattice))
        decay = 0.05 if bnd == "neumann" else 0.0
        mask = vals = None
        if k % 3 == 2:  # clamped: the sources hold a value; no source term
            mask = S > 0
            vals = np.where(mask, S, 0.0)
            S = np.zeros_like(S)
            res = solve(S, diffusivity=D, decay=decay, boundary=bnd, fixed=(mask, vals), tol=1e-12)
        else:
            res = solve(S, diffusivity=D, decay=decay, boundary=bnd, tol=1e-12)
        u = res.field
        scale = u.max()
        src = vals if mask is not None else S
        rows.append(
            {
                "input": torch.tensor(src / src.max(), dtype=torch.float32)[None],
                "target": torch.tensor(u / scale, dtype=torch.float32)[None],
                "count": torch.tensor(count),
                "index": torch.tensor(index_offset + k),
                "rhs": torch.tensor(S / scale, dtype=torch.float32),
                "diffusivity": torch.tensor(D, dtype=torch.float32),
                "decay": torch.tensor(decay, dtype=torch.float32),
                "boundary": torch.tensor(_boundary_codes(bnd)),
                "fixed": torch.tensor(mask if mask is not None else np.zeros_like(S, dtype=bool)),
                "fixed_values": torch.tensor(
                    vals / scale if mask is not None else np.zeros_like(S), dtype=torch.float32
                ),
            }
        )
    return {k: torch.stack([r[k] for r in rows]) for k in rows[0]}


def _take(batch, idx):
    idx = torch.as_tensor(idx)
    return {k: v[idx] for k, v in batch.items()}


def _assert_same(a, b, rel=1e-9):
    assert set(a) == set(b)
    for k in a:
        if k == "per_count":
            assert list(a[k]) == list(b[k])
            for c in a[k]:
                _assert_same(a[k][c], b[k][c], rel)
        elif isinstance(a[k], float) and math.isnan(a[k]):
            assert math.isnan(b[k]), k
        else:
            assert b[k] == pytest.approx(a[k], rel=rel, abs=1e-15), k


# ------------------------------------------------------------------ hand-computed values


def test_hand_computed_regions_and_reductions():
    pred, batch = _hand_batch()
    out = Evaluator("test", residual=False).evaluate(pred, batch)

    # pixel-weighted sums over both samples
    src = (1 * 0.1 + 2 * 0.05, 3)
    r1 = (7 * 0.2 + 6 * 0.6, 13)
    r2 = (8 * 0.3 + 16 * 0.3, 24)
    r3 = (8 * 0.4, 8)
    other = (40 * 0.5 + 40 * 0.01, 80)
    field = (r1[0] + r2[0] + r3[0] + other[0], 13 + 24 + 8 + 80)
    total = (field[0] + src[0], 128)
    assert out["mae"] == pytest.approx(total[0] / total[1], rel=1e-6)
    assert out["mae_sources"] == pytest.approx(src[0] / src[1], rel=1e-6)
    assert out["mae_field"] == pytest.approx(field[0] / field[1], rel=1e-6)
    assert out["mae_r1"] == pytest.approx(r1[0] / r1[1], rel=1e-6)
    assert out["mae_r2"] == pytest.approx(0.3, rel=1e-6)
    assert out["mae_r3"] == pytest.approx(0.4, rel=1e-6)
    # not a mean of per-sample means: sample 0's r1 MAE is 0.2, sample 1's 0.6, mean 0.4
    assert out["mae_r1"] != pytest.approx(0.4, rel=1e-3)

    y0 = 1 + 7 * 0.5 + 8 * 0.15 + 8 * 0.07 + 40 * 0.01
    y1 = 2 + 6 * 0.5 + 16 * 0.15 + 40 * 0.01
    assert out["nmae"] == pytest.approx(total[0] / (y0 + y1), rel=1e-6)

    e0 = math.sqrt(0.1**2 + 7 * 0.2**2 + 8 * 0.3**2 + 8 * 0.4**2 + 40 * 0.5**2)
    n0 = math.sqrt(1 + 7 * 0.25 + 8 * 0.15**2 + 8 * 0.07**2 + 40 * 0.01**2)
    e1 = math.sqrt(2 * 0.05**2 + 6 * 0.6**2 + 16 * 0.3**2 + 40 * 0.01**2)
    n1 = math.sqrt(2 + 6 * 0.25 + 16 * 0.15**2 + 40 * 0.01**2)
    assert out["rel_l2"] == pytest.approx((e0 / n0 + e1 / n1) / 2, rel=1e-6)

    assert out["max_abs_error"] == pytest.approx(0.6, rel=1e-6)
    assert out["max_abs_error_sources"] == pytest.approx(0.1, rel=1e-6)
    assert out["max_abs_error_field"] == pytest.approx(0.6, rel=1e-6)
    assert out["max_abs_error_r1"] == pytest.approx(0.6, rel=1e-6)
    assert out["max_abs_error_r2"] == pytest.approx(0.3, rel=1e-6)
    assert out["max_abs_error_r3"] == pytest.approx(0.4, rel=1e-6)

    m0 = (0.1 + 7 * 0.2 + 8 * 0.3 + 8 * 0.4 + 40 * 0.5) / 64
    m1 = (2 * 0.05 + 6 * 0.6 + 16 * 0.3 + 40 * 0.01) / 64
    lo, hi = sorted((m0, m1))
    assert out["p99_sample_mae"] == pytest.approx(lo + 0.99 * (hi - lo), rel=1e-6)

    assert out["n_samples"] == 2
    assert "residual" not in out
    assert set(out) == set(k for k in METRIC_KEYS if k != "residual") | {"n_samples", "per_count"}
    assert all(type(out[k]) is float for k in METRIC_KEYS if k in out)

    # per count: sample 1 alone has no r3 pixel -> nan
    assert sorted(out["per_count"]) == [1, 2]
    c2 = out["per_count"][2]
    assert c2["n_samples"] == 2 - 1
    assert c2["mae_r1"] == pytest.approx(0.6, rel=1e-6)
    assert math.isnan(c2["mae_r3"]) and math.isnan(c2["max_abs_error_r3"])
    assert c2["p99_sample_mae"] == pytest.approx(m1, rel=1e-6)


def test_region_boundaries_are_half_open():
    y = torch.tensor([[[0.2, 0.1999, 0.1, 0.0999], [0.05, 0.0499, 1.0, 0.5]]])
    x = torch.zeros_like(y)
    x[0, 1, 3] = 1.0  # a source with y = 0.5 is not in r1
    m = region_masks(x, y)[0]
    r1, r2, r3 = m[3], m[4], m[5]
    assert r1.tolist() == [[True, False, False, False], [False, False, True, False]]
    assert r2.tolist() == [[False, True, True, False], [False, False, False, False]]
    assert r3.tolist() == [[False, False, False, True], [True, False, False, False]]
    assert m[1].sum() == 1 and m[2].sum() == 7 and m[0].sum() == 8


def test_zero_predictor_scores_nmae_one():
    batch = _solved_batch(seed=1, n_samples=4)
    out = Evaluator("val").evaluate(torch.zeros_like(batch["target"]), batch)
    assert out["nmae"] == 1.0
    assert out["rel_l2"] == pytest.approx(1.0, rel=1e-12)
    assert out["mae"] == pytest.approx(float(batch["target"].double().abs().mean()), rel=1e-12)
    assert out["residual"] == pytest.approx(1.0, rel=1e-12)
    for row in out["per_count"].values():
        assert row["nmae"] == 1.0


def test_perfect_prediction_scores_zero_and_tiny_residual():
    batch = _solved_batch(seed=2, n_samples=6)
    assert bool(batch["fixed"].flatten(1).any(1).any()) and not bool(batch["fixed"].flatten(1).any(1).all())
    out = Evaluator("test").evaluate(batch["target"].clone(), batch)
    for k in METRIC_KEYS:
        if k.startswith(("mae", "max_abs", "nmae", "rel_l2", "p99")):
            assert out[k] == 0.0, k
    # float32 rounding of the exact solve leaves ~1e-7
    assert out["residual"] < 1e-5


def test_prediction_residual_per_sample():
    batch = _solved_batch(seed=3, n_samples=6)
    target = batch["target"]
    exact = prediction_residual(target, batch)
    assert exact.shape == (6,) and exact.dtype == torch.float64
    assert float(exact.max()) < 1e-5
    # grouping by boundary gives the same value as one sample at a time
    one_by_one = torch.cat([prediction_residual(target[i : i + 1], _take(batch, [i])) for i in range(6)])
    torch.testing.assert_close(exact, one_by_one, rtol=1e-12, atol=1e-15)
    # (B, N, N) predictions are accepted too
    torch.testing.assert_close(prediction_residual(target[:, 0], batch), exact)
    # zero field: 1 for every sample, clamped or not
    torch.testing.assert_close(prediction_residual(torch.zeros_like(target), batch), torch.ones(6, dtype=torch.float64))
    # free samples: the best scalar rescaling makes the value scale-free; clamped: scale is fixed
    free = ~batch["fixed"].flatten(1).any(1)
    scaled = prediction_residual(3.0 * target, batch)
    assert float(scaled[free].max()) < 1e-5
    assert float(scaled[~free].min()) > 0.5
    # a perturbed prediction has a clearly non-zero residual
    bumped = target.clone()
    bumped[:, 0, 5, 5] += 0.05
    assert float(prediction_residual(bumped, batch).min()) > 1e-3


# ------------------------------------------------------------------ per count, dedupe, DDP


def test_per_count_matches_the_subset():
    batch = _solved_batch(seed=4, n_samples=9)
    pred = batch["target"] + 0.01 * torch.randn(batch["target"].shape, generator=torch.Generator().manual_seed(0))
    ev = Evaluator("test")
    full = ev.evaluate(pred, batch)
    counts = sorted(set(batch["count"].tolist()))
    assert list(full["per_count"]) == counts
    assert sum(r["n_samples"] for r in full["per_count"].values()) == full["n_samples"] == 9
    for c in counts:
        sel = (batch["count"] == c).nonzero().flatten()
        sub = ev.evaluate(pred[sel], _take(batch, sel))
        row = dict(sub)
        del row["per_count"]
        _assert_same(full["per_count"][c], row, rel=1e-12)


def test_duplicates_and_batching_do_not_change_results():
    batch = _solved_batch(seed=5, n_samples=7)
    pred = batch["target"] * 0.9 + 0.02
    ev = Evaluator("val")
    ref = ev.evaluate(pred, batch)

    m = ev.metric
    m.update(pred, batch)
    m.update(pred[:3], _take(batch, [0, 1, 2]))  # a sample seen twice (DistributedSampler padding)
    _assert_same(ref, m.compute(), rel=0)

    m = ev.metric
    for part in ([6, 2], [0, 5, 3], [4], [1], [2, 6]):  # another split and order, with repeats
        m.update(pred[part], _take(batch, part))
    _assert_same(ref, m.compute(), rel=1e-6)


def test_index_clash_with_different_counts_is_refused():
    pred, batch = _hand_batch()
    m = DiffusionMetrics(residual=False)
    m.update(pred, batch)
    other = dict(batch, count=torch.tensor([5, 2]))
    m.update(pred, other)
    with pytest.raises(DiffbenchError, match="index 10"):
        m.compute()


def _rank_batches(batch, pred, rank, world, batch_size):
    """What a DistributedSampler (shuffle=False) hands to one rank, padded by repetition."""
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(len(pred)), num_replicas=world, rank=rank, shuffle=False)
    idx = list(sampler)
    for s in range(0, len(idx), batch_size):
        part = idx[s : s + batch_size]
        yield pred[part], _take(batch, part)


def test_simulated_ddp_sync_with_padding():
    """Two ranks gathered through torchmetrics' own sync path (fake all_gather)."""
    batch = _solved_batch(seed=6, n_samples=5)  # 5 samples on 2 ranks: one padded duplicate
    pred = batch["target"] + 0.003 * torch.arange(5.0)[:, None, None, None]
    ref = Evaluator("test").evaluate(pred, batch)

    sent: list[torch.Tensor] = []

    def record(t, group=None):
        sent.append(t)
        return [t]

    def gather(t, group=None):
        return [t, sent.pop(0)]

    r1 = DiffusionMetrics()
    for p, b in _rank_batches(batch, pred, 1, 2, 2):
        r1.update(p, b)
    r1.sync(dist_sync_fn=record, distributed_available=lambda: True)
    r0 = DiffusionMetrics(dist_sync_fn=gather, distributed_available_fn=lambda: True)
    for p, b in _rank_batches(batch, pred, 0, 2, 2):
        r0.update(p, b)
    out = r0.compute()
    assert not sent
    _assert_same(ref, out, rel=1e-6)


def _ddp_worker(rank, world, path, init_file):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        batch = _solved_batch(seed=7, n_samples=5)
        pred = batch["target"] * 1.1 - 0.01
        m = DiffusionMetrics()
        for p, b in _rank_batches(batch, pred, rank, world, 2):
            m.update(p, b)
        out = m.compute()
        torch.save(out, os.path.join(path, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_real_ddp_gloo_two_processes_matches_single_device():
    import torch.multiprocessing as mp

    batch = _solved_batch(seed=7, n_samples=5)
    ref = Evaluator("test").evaluate(batch["target"] * 1.1 - 0.01, batch)
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_ddp_worker, args=(2, tmp, os.path.join(tmp, "init")), nprocs=2, join=True)
        for r in range(2):
            _assert_same(ref, torch.load(os.path.join(tmp, f"rank{r}.pt"), weights_only=False), rel=1e-6)


# ------------------------------------------------------------------ input checks and the evaluator


def test_shape_and_dtype_errors_name_the_shapes():
    pred, batch = _hand_batch()
    m = DiffusionMetrics(residual=False)
    with pytest.raises(
        DiffbenchError, match=r"pred has shape \(2, 8, 8\) but the target expects \(B, 1, N, N\) = \(2, 1, 8, 8\)"
    ):
        m.update(pred[:, 0], batch)
    with pytest.raises(DiffbenchError, match=r"\(2, 2, 8, 8\)"):
        m.update(torch.cat([pred, pred], 1), batch)
    with pytest.raises(DiffbenchError, match="floating-point"):
        m.update(pred.long(), batch)
    with pytest.raises(DiffbenchError, match="count"):
        m.update(pred, dict(batch, count=torch.tensor([1, 2, 3])))
    with pytest.raises(DiffbenchError, match="lacks key"):
        m.update(pred, {k: v for k, v in batch.items() if k != "index"})
    with pytest.raises(DiffbenchError, match="rhs, diffusivity, decay, boundary"):
        DiffusionMetrics().update(pred, batch)
    bad = pred.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(DiffbenchError, match="NaN"):
        m.update(bad, batch)
    DiffusionMetrics(residual=False, check_finite=False).update(bad, batch)  # allowed when asked


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_compute_without_samples_is_refused():
    with pytest.raises(DiffbenchError, match="before any update"):
        DiffusionMetrics(residual=False).compute()


def test_bad_boundary_codes_are_refused():
    batch = _solved_batch(seed=8, n_samples=2)
    batch["boundary"][0] = torch.tensor([0, 0, 5, 5])
    with pytest.raises(DiffbenchError, match="boundary codes"):
        prediction_residual(batch["target"], batch)


def test_evaluator_split_is_strict():
    for split in ("train", "validation", "TEST", None):
        with pytest.raises(DiffbenchError, match="val, test"):
            Evaluator(split)
    ev = Evaluator("val")
    assert ev.split == "val"
    a, b = ev.metric, ev.metric
    assert isinstance(a, DiffusionMetrics) and a is not b
    assert "residual" in ev.metric_names and "residual" not in Evaluator("test", residual=False).metric_names
    assert "per_count" in ev.expected_output_format


def test_sample_statistics_and_aggregate_are_the_core():
    pred, batch = _hand_batch()
    stats = sample_statistics(pred, batch, residual=False)
    assert stats["abs_sum"].shape == (2, 6) and stats["abs_sum"].dtype == torch.float64
    assert stats["npix"][0].tolist() == [64, 1, 63, 7, 8, 8]
    assert stats["npix"][1].tolist() == [64, 2, 62, 6, 16, 0]
    _assert_same(aggregate(stats, residual=False), Evaluator("val", residual=False).evaluate(pred, batch), rel=0)


def test_per_sample_errors_give_the_headline_metrics_once_per_sample():
    """``per_sample=True``: one row per distinct sample (repeats dropped, sorted by index)
    from which nmae, mae, mae_sources, max_abs_error and p99_sample_mae are recomputed."""
    batch = _solved_batch(seed=6, n_samples=9)
    pred = batch["target"] * 0.9 + 0.01 * torch.randn(batch["target"].shape, generator=torch.Generator().manual_seed(1))
    m = Evaluator("test", per_sample=True).metric
    m.update(pred[[4, 8, 0]], _take(batch, [4, 8, 0]))
    m.update(pred, batch)  # every sample again: repeats
    out = m.compute()
    ps = out.pop("per_sample")
    assert ps["index"].tolist() == sorted(batch["index"].tolist())
    order = torch.argsort(batch["index"]).tolist()
    assert ps["count"].tolist() == batch["count"][order].tolist()
    assert ps["abs_sum"].sum() / ps["tgt_sum"].sum() == pytest.approx(out["nmae"], rel=1e-12)
    assert ps["mae"].mean() == pytest.approx(out["mae"], rel=1e-12)
    assert ps["abs_sum_sources"].sum() / ps["npix_sources"].sum() == pytest.approx(out["mae_sources"], rel=1e-12)
    assert ps["max_abs"].max() == pytest.approx(out["max_abs_error"], rel=1e-12)
    assert np.quantile(ps["mae"], 0.99) == pytest.approx(out["p99_sample_mae"], rel=1e-12)
    assert "per_sample" not in Evaluator("test").evaluate(pred, batch)
