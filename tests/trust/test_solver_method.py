"""``solve(method="mgcg")`` forces the iterative path (so a warm start is used and measurable)."""

from __future__ import annotations

import numpy as np
import pytest

from diffbench.errors import DiffbenchError
from diffbench.solver import solve
from diffbench.solver.reference import assemble_matrix


def _source(n: int = 32, batch: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    s = np.zeros((batch, n, n))
    for b in range(batch):
        ys, xs = rng.integers(0, n, size=(2, 4))
        s[b, ys, xs] = rng.uniform(0.1, 1.0, size=4)
    return s


def test_auto_takes_the_transform_and_mgcg_is_forced():
    s = _source()
    auto = solve(s, tol=1e-10)
    forced = solve(s, tol=1e-10, method="mgcg")
    assert auto.method == "dst" and int(auto.iterations.max()) == 0
    assert forced.method == "mgcg" and int(forced.iterations.min()) > 0
    assert float(forced.residual.max()) <= 1e-10
    np.testing.assert_allclose(forced.field, auto.field, rtol=0, atol=1e-8 * np.abs(auto.field).max())
    # the certificate, recomputed from the independently assembled matrix
    for b in range(s.shape[0]):
        a = assemble_matrix(np.ones((32, 32)), 0.0, "dirichlet")
        r = a @ forced.field[b].ravel() - s[b].ravel()
        assert np.linalg.norm(r) / np.linalg.norm(s[b]) <= 1e-10


def test_forced_mgcg_uses_the_initial_guess():
    s = _source()
    exact = solve(s).field
    cold = solve(s, tol=1e-8, method="mgcg")
    warm = solve(s, tol=1e-8, method="mgcg", initial_guess=exact * (1 + 1e-3))
    assert (warm.iterations < cold.iterations).all()
    assert float(warm.residual.max()) <= 1e-8
    # an exact initial guess needs no iteration at all
    assert int(solve(s, tol=1e-6, method="mgcg", initial_guess=exact).iterations.max()) == 0
    # a single sample keeps its shape and scalar certificate
    one = solve(s[0], tol=1e-8, method="mgcg", initial_guess=exact[0])
    assert one.field.shape == (32, 32) and isinstance(one.iterations, int) and one.method == "mgcg"


def test_auto_is_unchanged_by_the_new_keyword():
    s = _source()
    a = solve(s)
    b = solve(s, method="auto")
    assert a.method == b.method and np.array_equal(a.field, b.field)


@pytest.mark.parametrize("bad", ["dst", "MGCG", "", None, 3])
def test_unknown_method_is_refused(bad):
    with pytest.raises(DiffbenchError, match="method must be one of auto, mgcg"):
        solve(_source(), method=bad)
