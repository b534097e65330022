"""Independent reference solvers: a scipy.sparse matrix assembled cell by cell, a sparse
direct solve, and a vectorised Jacobi iteration. They serve the tests (agreement) and the
benchmarks (baselines); they are not used to generate data.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..physics.boundary import parse_boundary
from ..physics.operator import Stencil


def assemble_matrix(diffusivity: np.ndarray, decay: float | np.ndarray, boundary) -> sp.csr_matrix:
    """The N^2 x N^2 matrix of one sample, written out face by face from the definition.

    Deliberately independent of :mod:`diffbench.physics.operator`: loops over cells and faces
    in plain Python (use N <= 64 in tests).
    """
    b = parse_boundary(boundary)
    D = np.asarray(diffusivity, dtype=np.float64)
    n = D.shape[-1]
    g = np.broadcast_to(np.asarray(decay, dtype=np.float64), D.shape)
    rows, cols, vals = [], [], []

    def add(i, j, v):
        rows.append(i)
        cols.append(j)
        vals.append(v)

    for y in range(n):
        for x in range(n):
            c = y * n + x
            diag = g[y, x]
            for dy, dx, side in ((-1, 0, "top"), (1, 0, "bottom"), (0, -1, "left"), (0, 1, "right")):
                ny, nx = y + dy, x + dx
                inside = 0 <= ny < n and 0 <= nx < n
                kind = getattr(b, side)
                if not inside:
                    if kind == "dirichlet":
                        diag += D[y, x]
                        continue
                    if kind == "neumann":
                        continue
                    ny, nx = ny % n, nx % n
                df = 2 * D[y, x] * D[ny, nx] / (D[y, x] + D[ny, nx])
                diag += df
                add(c, ny * n + nx, -df)
            add(c, c, diag)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n * n, n * n))


def stencil_matrix(st: Stencil) -> sp.csr_matrix:
    """The sparse matrix of one (N, N) stencil, vectorised (for the spsolve baseline)."""
    n = st.diag.shape[-1]
    idx = np.arange(n * n).reshape(n, n)
    r = [idx.ravel()]
    c = [idx.ravel()]
    v = [st.diag.ravel()]
    pairs = [(idx[:, :-1], idx[:, 1:], st.cx), (idx[:-1, :], idx[1:, :], st.cy)]
    if st.cx_wrap is not None:
        pairs.append((idx[:, -1], idx[:, 0], st.cx_wrap))
    if st.cy_wrap is not None:
        pairs.append((idx[-1, :], idx[0, :], st.cy_wrap))
    for a, bb, w in pairs:
        r += [a.ravel(), bb.ravel()]
        c += [bb.ravel(), a.ravel()]
        v += [-w.ravel(), -w.ravel()]
    return sp.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(n * n, n * n))


def direct_solve(matrix: sp.spmatrix, rhs: np.ndarray, fixed: np.ndarray | None = None, values=None) -> np.ndarray:
    """Sparse direct solve of one sample, with clamped cells eliminated exactly."""
    n = rhs.shape[-1]
    f = rhs.ravel().astype(np.float64)
    if fixed is None or not fixed.any():
        return spla.spsolve(matrix.tocsc(), f).reshape(n, n)
    fx = fixed.ravel().astype(bool)
    uc = np.where(fx, np.asarray(values, dtype=np.float64).ravel(), 0.0)
    a = matrix.tocsr()
    free = ~fx
    b = f[free] - a[free][:, fx] @ uc[fx]
    u = uc.copy()
    u[free] = spla.spsolve(a[free][:, free].tocsc(), b)
    return u.reshape(n, n)


def jacobi_solve(st: Stencil, rhs: np.ndarray, *, tol: float = 1e-8, check_every: int = 50, maxiter: int = 10_000_000):
    """Vectorised Jacobi iteration, stopped on the relative residual (not on the update).

    Returns (u, relative residual, iterations). The slow baseline of the benchmarks.
    """
    u = np.zeros_like(rhs, dtype=np.float64)
    bnorm = np.linalg.norm(rhs) or 1.0
    it = 0
    while it < maxiter:
        for _ in range(check_every):
            u = (rhs - st.offdiag_apply(u)) / st.diag
        it += check_every
        rel = np.linalg.norm(rhs - st.apply(u)) / bnorm
        if rel <= tol:
            break
    return u, rel, it
