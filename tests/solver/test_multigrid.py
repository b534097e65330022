"""The multigrid preconditioner: Galerkin coarse operators (odd sides included) and a
symmetric positive definite V-cycle, so that CG converges to the certified tolerance."""

from __future__ import annotations

import numpy as np
import pytest
from solver_testlib import MIXED_Y_PERIODIC_X, clamp_mask, lognormal_d

from diffbench.physics import build_stencil
from diffbench.solver.multigrid import MultigridPreconditioner, coarsen, dense_matrix, pad_to_even

BOUNDARIES = ["dirichlet", "neumann", "periodic", MIXED_Y_PERIODIC_X]
IDS = ["dirichlet", "neumann", "periodic", "mixed"]


def aggregation(n: int) -> np.ndarray:
    """P (n^2 x m^2), m = ceil(n / 2): fine cell (i, j) -> coarse cell (i // 2, j // 2)."""
    m = (n + 1) // 2
    p = np.zeros((n * n, m * m))
    for i in range(n):
        for j in range(n):
            p[i * n + j, (i // 2) * m + j // 2] = 1.0
    return p


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=IDS)
@pytest.mark.parametrize("n", [9, 12, 13])
def test_coarse_operator_is_galerkin(boundary, n):
    rng = np.random.default_rng(n)
    d = lognormal_d(rng, n, batch=2)
    st = build_stencil(d, 0.05, boundary)
    a = dense_matrix(st, np)
    ac = dense_matrix(coarsen(pad_to_even(st, np)), np)
    p = aggregation(n)
    for b in range(2):
        np.testing.assert_allclose(ac[b], p.T @ a[b] @ p, rtol=1e-13, atol=1e-13 * np.abs(a[b]).max())


def test_pad_to_even_leaves_even_sides_alone():
    st = build_stencil(np.ones((1, 10, 10)), 0.0, "periodic")
    assert pad_to_even(st, np) is st


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=IDS)
@pytest.mark.parametrize("n", [16, 25, 27, 42])
@pytest.mark.parametrize("clamped", [False, True])
def test_v_cycle_is_symmetric_positive_definite(boundary, n, clamped):
    rng = np.random.default_rng(n + 100 * clamped)
    d = lognormal_d(rng, n, sigma=1.5, batch=2)
    st = build_stencil(d, 0.0 if clamped or boundary == "dirichlet" else 0.01, boundary)
    if clamped:
        st = st.decouple(clamp_mask(rng, n)[0][None])
    mg = MultigridPreconditioner(st, np)
    x, y = rng.normal(size=(2, 2, n, n))
    mx, my = mg(x), mg(y)
    lhs, rhs = (mx * y).sum(axis=(-2, -1)), (x * my).sum(axis=(-2, -1))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)
    assert np.all((mx * x).sum(axis=(-2, -1)) > 0)


@pytest.mark.parametrize("n", [8, 9, 31, 64, 65])
def test_hierarchy_reaches_a_small_dense_coarsest_level(n):
    st = build_stencil(np.ones((1, n, n)), 0.0, "dirichlet")
    mg = MultigridPreconditioner(st, np)
    sides = [lv.stencil.diag.shape[-1] for lv in mg.levels]
    assert sides[0] == n and sides[-1] <= 8
    assert all(b == (a + 1) // 2 for a, b in zip(sides, sides[1:]))
    assert mg.levels[-1].coarse_inverse is not None
