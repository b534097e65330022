"""Solver: diffbench's ``solve`` against Jacobi, scipy's sparse direct solve and pyamg.

- default problem (10 disk sources of radius round(N/20), D = 1, Dirichlet): the exact
  transform (DST-I) path against a vectorised Jacobi iteration stopped on the same relative
  residual (1e-8) and against ``scipy.sparse.linalg.spsolve``, one sample each;
- variable D (log-normal, sigma 1) and clamped sources (multigrid-preconditioned CG) against
  pyamg's Ruge-Stueben AMG inside CG (set-up included) and spsolve, diffbench batched as the
  generator batches (8 samples), compared per sample;
- cost against N: exponents of time vs N^2.
"""

from __future__ import annotations

import time

import benchlib
import numpy as np
import pytest
from benchlib import disk_sources, fit_exponent, lognormal_d, median, record, run_benchmark, timed

from diffbench.physics import build_stencil
from diffbench.solver import solve
from diffbench.solver.reference import jacobi_solve

TOL = 1e-8


def pytest_generate_tests(metafunc):
    m = benchlib.mode_from_config(metafunc.config)
    if "jacobi_n" in metafunc.fixturenames:
        metafunc.parametrize("jacobi_n", m.pick([32], [64], [64, 128]))
    if "spsolve_n" in metafunc.fixturenames:
        metafunc.parametrize("spsolve_n", m.pick([32], [64, 256], [64, 128, 256]))
    if "amg_n" in metafunc.fixturenames:
        metafunc.parametrize("amg_n", m.pick([32], [128], [128, 256]))


def _default_problem(n: int):
    s = disk_sources(n, 1, seed=n)[0]
    return s, build_stencil(np.ones((n, n)), 0.0, "dirichlet")


# ------------------------------------------------------------------------- default problem
def test_transform_vs_jacobi(benchmark, mode, jacobi_n):
    """>= 100x faster than Jacobi converged to the same residual (Jacobi timed once)."""
    n = jacobi_n
    s, st = _default_problem(n)
    res, t_ours = run_benchmark(benchmark, lambda: solve(s, tol=TOL), rounds=mode.pick(1, 10, 20))
    t = time.perf_counter()
    u_j, rel_j, it_j = jacobi_solve(st, s, tol=TOL)
    t_jac = time.perf_counter() - t
    assert res.method == "dst" and res.residual <= 1e-12 and rel_j <= TOL
    err = float(np.abs(u_j - res.field).max() / np.abs(res.field).max())
    ratio = t_jac / t_ours
    record(
        benchmark,
        N=n,
        method=res.method,
        diffbench_s=t_ours,
        jacobi_s=t_jac,
        jacobi_iterations=it_j,
        jacobi_residual=rel_j,
        jacobi_vs_exact_rel_err=err,
        speedup_vs_jacobi=ratio,
    )
    # Jacobi's error is up to cond(A) ~ 0.4 N^2 times its residual.
    assert err < 0.5 * n * n * TOL * 10
    if not mode.check:
        assert ratio >= 100, f"N={n}: only {ratio:.0f}x faster than Jacobi"


def test_transform_vs_spsolve(benchmark, mode, spsolve_n):
    """>= 5x faster than scipy's sparse direct solve at N = 256 (one sample each)."""
    n = spsolve_n
    s, st = _default_problem(n)
    res, t_ours = run_benchmark(benchmark, lambda: solve(s, tol=TOL), rounds=mode.pick(1, 10, 20))
    u_sp, t_sp = benchlib.spsolve_time(st, s, rounds=mode.pick(1, 1, 3))
    err = float(np.abs(u_sp - res.field).max() / np.abs(u_sp).max())
    ratio = t_sp / t_ours
    record(
        benchmark,
        N=n,
        method=res.method,
        diffbench_s=t_ours,
        spsolve_s=t_sp,
        rel_diff_vs_spsolve=err,
        speedup_vs_spsolve=ratio,
    )
    assert err < 1e-10
    if not mode.check and n >= 256:
        assert ratio >= 5, f"N={n}: only {ratio:.1f}x faster than spsolve"


# ------------------------------------------------------------------------- variable D / clamped
def _hard_problem(case: str, n: int, batch: int):
    """(source, kwargs for solve, per-sample (D, mask, values)) as the generator builds them."""
    if case == "lognormal":
        s = disk_sources(n, batch, seed=n + 1)
        d = lognormal_d(n, batch, seed=n + 2)
        return s, dict(diffusivity=d), [(d[k], None, None, s[k]) for k in range(batch)]
    vals = disk_sources(n, batch, seed=n + 3, count=6)
    mask = vals > 0
    z = np.zeros_like(vals)
    ones = np.ones((n, n))
    return z, dict(fixed=(mask, vals)), [(ones, mask[k], vals[k], z[k]) for k in range(batch)]


@pytest.mark.parametrize("case", ["lognormal", "clamped"])
def test_mgcg_vs_pyamg_and_spsolve(benchmark, mode, case, amg_n):
    """Per sample, diffbench (batch 8, as generated) is no slower than the faster of pyamg and spsolve."""
    import scipy.sparse.linalg as spla

    n = amg_n
    batch = mode.pick(2, 8, 8)
    s, kw, per = _hard_problem(case, n, batch)
    res, t_batch = run_benchmark(benchmark, lambda: solve(s, tol=TOL, **kw), rounds=mode.pick(1, 2, 3))
    assert res.method == "mgcg" and float(np.max(res.residual)) <= TOL
    t_ours = t_batch / batch
    k_base = mode.pick(1, 1, 2)
    t_amg, t_sp, errs = [], [], []
    for d, mask, vals, src in per[:k_base]:
        a, b = benchlib.eliminated_system(d, mask, vals, src)
        _, ta = benchlib.pyamg_time(a, b, rounds=mode.pick(1, 2, 2))
        out = {}
        tsp = median(
            timed(lambda: out.__setitem__("x", spla.spsolve(a.tocsc(), b)), rounds=mode.pick(1, 1, 2), warmup=0)
        )
        t_amg.append(ta)
        t_sp.append(tsp)
        x = out["x"]
        u = res.field[len(errs)]
        got = u.ravel() if mask is None else u.ravel()[~mask.ravel()]
        errs.append(float(np.abs(got - x).max() / np.abs(x).max()))
    t_amg_s, t_sp_s = float(np.mean(t_amg)), float(np.mean(t_sp))
    best = min(t_amg_s, t_sp_s)
    record(
        benchmark,
        case=case,
        N=n,
        batch=batch,
        diffbench_s_per_sample=t_ours,
        pyamg_s=t_amg_s,
        spsolve_s=t_sp_s,
        iterations=[int(i) for i in np.asarray(res.iterations)],
        rel_diff_vs_spsolve=max(errs),
        ratio_best_baseline_over_diffbench=best / t_ours,
        speedup_vs_pyamg=t_amg_s / t_ours,
        speedup_vs_spsolve=t_sp_s / t_ours,
    )
    assert max(errs) < 1e-5
    if not mode.check:
        assert t_ours <= best, f"{case} N={n}: {t_ours:.3f} s/sample vs best baseline {best:.3f} s"


# ------------------------------------------------------------------------- cost against N
def test_transform_cost_exponent(benchmark, mode):
    """The transform path grows like N^2 log N: exponent of time vs N^2 <= 1.3 (64 -> 512)."""
    sizes = mode.pick([32, 64], [64, 128, 256, 512], [64, 128, 256, 512])
    batch = 4
    per_sample = {}
    for n in sizes[:-1]:
        s = disk_sources(n, batch, seed=n)
        per_sample[n] = median(timed(lambda: solve(s, tol=TOL), rounds=mode.pick(1, 3, 7))) / batch
    n = sizes[-1]
    s = disk_sources(n, batch, seed=n)
    _, t = run_benchmark(benchmark, lambda: solve(s, tol=TOL), rounds=mode.pick(1, 3, 7))
    per_sample[n] = t / batch
    p = fit_exponent([m * m for m in sizes], [per_sample[m] for m in sizes])
    record(
        benchmark,
        sizes=sizes,
        batch=batch,
        s_per_sample={str(k): v for k, v in per_sample.items()},
        exponent_vs_cells=p,
        method="dst",
    )
    if not mode.check:
        assert p <= 1.3, f"transform solve time grows like (N^2)^{p:.2f}"


def test_mgcg_cost_exponent(benchmark, mode):
    """Multigrid-CG (log-normal D) cost against N: reported, and asserted near-linear in cells (<= 1.5)."""
    sizes = mode.pick([32, 64], [64, 128, 256], [64, 128, 256, 512])
    per_sample, iters = {}, {}
    for n in sizes:
        batch = 4 if n < 512 else 2
        s, kw, _ = _hard_problem("lognormal", n, batch)
        out = {}

        def run():
            out["r"] = solve(s, tol=TOL, **kw)

        if n == sizes[-1]:
            _, t = run_benchmark(benchmark, run, rounds=mode.pick(1, 1, 2), warmup=0 if n >= 512 else 1)
        else:
            t = median(timed(run, rounds=mode.pick(1, 2, 3)))
        per_sample[n] = t / batch
        iters[n] = int(np.max(out["r"].iterations))
    p = fit_exponent([m * m for m in sizes], [per_sample[m] for m in sizes])
    record(
        benchmark,
        sizes=sizes,
        s_per_sample={str(k): v for k, v in per_sample.items()},
        max_iterations={str(k): v for k, v in iters.items()},
        exponent_vs_cells=p,
        method="mgcg",
    )
    if not mode.check:
        assert p <= 1.5, f"mgcg time grows like (N^2)^{p:.2f}"


def test_chirp_dst_agrees_with_direct_dst(benchmark, mode):
    """The chirp (Bluestein) DST-I used when N+1 has a large prime factor equals scipy's DST-I."""
    import scipy.fft

    from diffbench.solver.transform import _dst1_chirp, dst1

    rng = np.random.default_rng(0)
    worst = 0.0
    for n in (8, 9, 12, 100, 256):
        x = rng.normal(size=(3, n, n))
        for axis in (1, 2):
            ref = scipy.fft.dst(x, type=1, axis=axis)
            worst = max(worst, float(np.abs(_dst1_chirp(x, axis) - ref).max() / np.abs(ref).max()))
            worst = max(worst, float(np.abs(dst1(x, axis, np) - ref).max() / np.abs(ref).max()))
    x = rng.normal(size=(4, 256, 256))
    run_benchmark(benchmark, lambda: dst1(x, -1, np), rounds=mode.pick(1, 5, 10))
    record(benchmark, max_rel_err=worst)
    assert worst < 1e-13
