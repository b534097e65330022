"""Inference against the solver: the speed-up a user actually gets, and how both grow with N.

For each ``-small`` preset and N in 64, 128, 256, 512: the network's time per sample
(``training.timing.time_inference``: eval mode, no grad, median of repeats after a warm-up)
against the fastest exact solver's (``training.timing.time_solver``: ``solve`` on the same
batch of source maps, NumPy here, CuPy on a GPU) at the same N, batch and threads — exactly
what ``diffbench run`` records. The constant-D problems take the exact O(N^2 log N) transform
path; a second test times the variable-D (log-normal) problems, which take multigrid-CG.
``speedup = solver time / network time``: below 1 the solver is faster.
"""

from __future__ import annotations

import benchlib
import pytest
from benchlib import fit_exponent, record

SMALL = ("cnn-small", "unet-small", "resnet-small", "fno-small")
LOGNORMAL = {"kind": "lognormal", "sigma": 1.0, "length": 4.0}


def _sizes(mode) -> list[int]:
    return mode.pick([32], [64, 128, 256], [64, 128, 256, 512])


def _batch_size(n: int) -> int:
    return 8 if n <= 128 else (4 if n <= 256 else 2)


def _batch(n: int, diffusivity=1.0):
    from diffbench.data.batch import to_batch
    from diffbench.data.sampling import generate_raw

    task = benchlib.task_spec(n, diffusivity=diffusivity)
    raw = generate_raw(task, "test", list(range(_batch_size(n))))
    return task, to_batch(raw, task)


@pytest.mark.parametrize("name", SMALL)
def test_inference_vs_exact_solver(benchmark, mode, name, torch_threads):
    import torch

    from diffbench.models import create
    from diffbench.training.timing import time_inference, time_solver

    sizes = _sizes(mode)
    rows = []
    for i, n in enumerate(sizes):
        task, batch = _batch(n)
        torch.manual_seed(0)
        net = create(name, in_channels=task.in_channels, lattice=n).eval()
        x = batch["input"]
        last = i == len(sizes) - 1
        repeats = mode.pick(1, 2 if n >= 256 else 3, 2 if n >= 512 else 5)
        if last:
            with torch.no_grad():
                out, t_batch = benchlib.run_benchmark(benchmark, lambda: net(x), rounds=repeats)
            t_net = t_batch / x.shape[0]
            assert out.shape == batch["target"].shape and bool(torch.isfinite(out).all())
        else:
            t_net = time_inference(net, x, torch.device("cpu"), repeats=repeats)["s_per_sample"]
        sol = time_solver(task, batch, repeats=mode.pick(1, 3, 5))
        rows.append(
            {
                "model": name,
                "N": n,
                "batch": int(x.shape[0]),
                "model_s_per_sample": t_net,
                "solver_s_per_sample": sol["s_per_sample"],
                "solver_method": sol["method"],
                "solver_backend": sol["backend"],
                "speedup": sol["s_per_sample"] / t_net,
            }
        )
    p_net = (
        fit_exponent([r["N"] ** 2 for r in rows], [r["model_s_per_sample"] for r in rows]) if len(rows) > 1 else None
    )
    p_sol = (
        fit_exponent([r["N"] ** 2 for r in rows], [r["solver_s_per_sample"] for r in rows]) if len(rows) > 1 else None
    )
    record(
        benchmark, model=name, rows=rows, model_exponent_vs_cells=p_net, solver_exponent_vs_cells=p_sol, device="cpu"
    )
    assert all(r["solver_method"] == "dst" for r in rows)
    if not mode.check:
        # Both grow about linearly in the number of cells (convolutions O(N^2), FFTs O(N^2 log N));
        # small lattices are overhead-bound, so the bound is loose.
        assert 0.4 <= p_net <= 1.6 and 0.5 <= p_sol <= 1.4, (p_net, p_sol)


def test_variable_d_solver_time(benchmark, mode, torch_threads):
    """multigrid-CG per sample on log-normal D problems, same sizes and batches (for the table)."""
    from diffbench.training.timing import time_solver

    sizes = _sizes(mode)
    rows = []
    for i, n in enumerate(sizes):
        task, batch = _batch(n, diffusivity=LOGNORMAL)
        repeats = mode.pick(1, 1 if n >= 256 else 2, 1 if n >= 256 else 3)
        if i == len(sizes) - 1:  # pytest-benchmark's record: one call of time_solver (warm-up + repeats)
            sol, _ = benchlib.run_benchmark(
                benchmark, lambda: time_solver(task, batch, repeats=repeats), rounds=1, warmup=0
            )
        else:
            sol = time_solver(task, batch, repeats=repeats)
        rows.append(
            {
                "N": n,
                "batch": int(batch["input"].shape[0]),
                "solver_s_per_sample": sol["s_per_sample"],
                "solver_method": sol["method"],
                "solver_backend": sol["backend"],
            }
        )
    p = fit_exponent([r["N"] ** 2 for r in rows], [r["solver_s_per_sample"] for r in rows]) if len(rows) > 1 else None
    record(
        benchmark,
        rows=rows,
        solver_exponent_vs_cells=p,
        problem="lognormal D (sigma 1, length 4), flux disks, Dirichlet",
    )
    assert all(r["solver_method"] == "mgcg" for r in rows)
    if not mode.check:
        assert p <= 1.5, f"mgcg time grows like (N^2)^{p:.2f}"
