"""Timing of the multigrid-PCG solver against scipy's spsolve and pyamg (not a test).

Problem: clamped disk sources (SourceSpec disk, radius round(N/20), 6 sources, values in
(0, 1]) with S = 0 elsewhere, smooth log-normal D (sigma 1, correlation ~ 4 cells),
Dirichlet boundary, tol 1e-8.

    .venv/bin/python tests/solver/bench_mgcg.py                 # NumPy, N = 64 128 256
    python3 tests/solver/bench_mgcg.py --backend cupy --no-baselines   # on a GPU machine
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.ndimage
import scipy.sparse.linalg as spla

from diffbench.physics import build_stencil
from diffbench.physics.sources import SourceSpec, rasterise, sample_geometry
from diffbench.solver import solve
from diffbench.solver.backend import get_backend, synchronize, to_numpy
from diffbench.solver.reference import stencil_matrix


def problem(n: int, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    spec = SourceSpec("disk", radius=max(1, round(n / 20)), strength=(0.0, 1.0))
    geoms = [sample_geometry(rng, spec, n, 6) for _ in range(batch)]
    vals = rasterise(geoms, n, np)
    mask = vals != 0
    z = scipy.ndimage.gaussian_filter(rng.normal(size=(batch, n, n)), sigma=(0, 4, 4), mode="wrap")
    z /= z.std(axis=(-2, -1), keepdims=True)
    d = np.exp(1.0 * z)
    return np.zeros((batch, n, n)), d, mask, vals


def eliminated(d, mask, vals):
    """The free-cell system A_ff x = b of one sample (scipy CSR)."""
    st = build_stencil(d, 0.0, "dirichlet")
    a = stencil_matrix(st).tocsr()
    fx = mask.ravel()
    free = ~fx
    b = -(a[free][:, fx] @ vals.ravel()[fx])
    return a[free][:, free].tocsr(), b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    xp = get_backend(args.backend)
    print(f"backend={args.backend} batch={args.batch} tol=1e-8 (seconds: best of {args.repeat})")
    print(
        "N     mgcg_iters(min/max)  mgcg_s/sample(batch)  mgcg_s(1 sample)  spsolve_s  pyamg_setup_s  pyamg_solve_s  pyamg_iters"
    )
    for n in args.sizes:
        s, d, mask, vals = problem(n, args.batch)
        s_x, d_x, m_x, v_x = (xp.asarray(a) for a in (s, d, mask, vals))
        solve(s_x[:1], diffusivity=d_x[:1], fixed=(m_x[:1], v_x[:1]))  # warm-up (GPU kernels, caches)
        best_b = best_1 = float("inf")
        for _ in range(args.repeat):
            synchronize(xp)
            t = time.perf_counter()
            res = solve(s_x, diffusivity=d_x, fixed=(m_x, v_x), tol=1e-8)
            synchronize(xp)
            best_b = min(best_b, (time.perf_counter() - t) / args.batch)
            t = time.perf_counter()
            solve(s_x[:1], diffusivity=d_x[:1], fixed=(m_x[:1], v_x[:1]), tol=1e-8)
            synchronize(xp)
            best_1 = min(best_1, time.perf_counter() - t)
        it = to_numpy(res.iterations)
        assert float(to_numpy(res.residual).max()) <= 1e-8
        line = f"{n:<5} {it.min():>3}/{it.max():<3}             {best_b:>10.4f}            {best_1:>8.4f}"
        if not args.no_baselines:
            a, b = eliminated(d[0], mask[0], vals[0])
            t_sp = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                spla.spsolve(a.tocsc(), b)
                t_sp = min(t_sp, time.perf_counter() - t)
            import pyamg

            t_setup = t_solve = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                ml = pyamg.ruge_stuben_solver(a)
                t1 = time.perf_counter()
                resid: list[float] = []
                x = ml.solve(b, tol=1e-8, accel="cg", residuals=resid)
                t2 = time.perf_counter()
                t_setup, t_solve = min(t_setup, t1 - t), min(t_solve, t2 - t1)
            rel = np.linalg.norm(b - a @ x) / np.linalg.norm(b)
            line += f"       {t_sp:>8.4f}   {t_setup:>10.4f}     {t_solve:>10.4f}     {len(resid) - 1} (rel {rel:.1e})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
