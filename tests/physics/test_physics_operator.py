"""The discrete operator: agreement with the face-by-face matrix, symmetry, backends, residuals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffbench.physics import (
    build_stencil,
    parse_boundary,
    relative_residual,
    scaled_relative_residual,
    uniform_relative_residual,
)
from diffbench.solver import solve
from diffbench.solver.reference import assemble_matrix

BOUNDARIES = [
    "dirichlet",
    "neumann",
    "periodic",
    {"top": "dirichlet", "bottom": "neumann", "left": "periodic", "right": "periodic"},
    {"top": "periodic", "bottom": "periodic", "left": "neumann", "right": "dirichlet"},
    {"top": "neumann", "bottom": "dirichlet", "left": "dirichlet", "right": "neumann"},
]
IDS = ["dirichlet", "neumann", "periodic", "dn-per", "per-nd", "corner"]


def _coefficients(rng, n, batch=None):
    shape = (n, n) if batch is None else (batch, n, n)
    d = np.exp(1.5 * rng.normal(size=shape))
    g = rng.uniform(0, 0.3, size=shape) * (rng.random(shape) > 0.5)
    return d, g


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=IDS)
@pytest.mark.parametrize("n", [8, 13, 24])
def test_stencil_matches_assembled_matrix(boundary, n):
    rng = np.random.default_rng(n)
    d, g = _coefficients(rng, n)
    u = rng.normal(size=(n, n))
    st = build_stencil(d, g, boundary)
    a = assemble_matrix(d, g, boundary)
    want = (a @ u.ravel()).reshape(n, n)
    np.testing.assert_allclose(st.apply(u), want, rtol=1e-13, atol=1e-13 * np.abs(want).max())
    # the diagonal is the matrix diagonal, and A is symmetric
    np.testing.assert_allclose(st.diag, a.diagonal().reshape(n, n), rtol=1e-14)
    assert abs(a - a.T).max() == 0


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=IDS)
def test_stencil_batch_and_scalar_coefficients(boundary):
    rng = np.random.default_rng(1)
    n = 12
    d, g = _coefficients(rng, n, batch=3)
    u = rng.normal(size=(3, n, n))
    au = build_stencil(d, g, boundary).apply(u)
    for b in range(3):
        want = (assemble_matrix(d[b], g[b], boundary) @ u[b].ravel()).reshape(n, n)
        np.testing.assert_allclose(au[b], want, rtol=1e-13, atol=1e-13 * np.abs(want).max())
    # a scalar decay and a constant D
    au = build_stencil(np.full((n, n), 2.0), 0.25, boundary).apply(u[0])
    want = (assemble_matrix(np.full((n, n), 2.0), 0.25, boundary) @ u[0].ravel()).reshape(n, n)
    np.testing.assert_allclose(au, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=IDS)
@pytest.mark.parametrize("n", [8, 13, 24])
@pytest.mark.parametrize("block", [None, 2], ids=["one-block", "blocks-of-2"])
def test_uniform_residual_is_the_assembled_stencils_to_the_bit(boundary, n, block, monkeypatch):
    """The certificate of transform solves: per-sample constant D and decay, no full stencil,
    and the same bits as ``relative_residual(build_stencil(...))`` on the expanded arrays,
    whether the batch is worked through in one block or several."""
    from diffbench.physics import operator

    if block:
        monkeypatch.setattr(operator, "BLOCK_BYTES", block * n * n * 8)
    rng = np.random.default_rng(30 + n)
    B = 5
    d = np.exp(1.5 * rng.normal(size=(B, 1, 1)))  # fl(2 d d / (d + d)) is not always d
    g = rng.uniform(0, 0.3, size=(B, 1, 1))
    g[0] = 0.0
    u = rng.normal(size=(B, n, n))
    u[2, :3] = 0.0  # zeros, and signed zeros from u * 0
    rhs = rng.normal(size=(B, n, n))
    rhs[1] = 0.0  # a zero right-hand side: the absolute residual
    full = build_stencil(np.broadcast_to(d, (B, n, n)).copy(), np.broadcast_to(g, (B, n, n)).copy(), boundary)
    want = relative_residual(full, u, rhs)
    got = uniform_relative_residual(d, g, boundary, u, rhs, np)
    assert got.shape == (B,) and got.tobytes() == want.tobytes()
    # Residual of a near-solution (the certificate's real use): tiny, and still the same bits.
    v = full.apply(u)
    want = relative_residual(full, u, v + 1e-9 * rhs)
    assert uniform_relative_residual(d, g, boundary, u, v + 1e-9 * rhs, np).tobytes() == want.tobytes()
    # The scratch arrays kept between calls: another shape, then this one again, same answers.
    m = n + 3
    u2, r2 = rng.normal(size=(2, m, m)), rng.normal(size=(2, m, m))
    full2 = build_stencil(np.broadcast_to(d[:2], (2, m, m)).copy(), np.broadcast_to(g[:2], (2, m, m)).copy(), boundary)
    assert (
        uniform_relative_residual(d[:2], g[:2], boundary, u2, r2, np).tobytes()
        == relative_residual(full2, u2, r2).tobytes()
    )
    assert uniform_relative_residual(d, g, boundary, u, rhs, np).tobytes() == relative_residual(full, u, rhs).tobytes()


def test_harmonic_face_conductance_and_ghost_faces():
    """Spot-check the definition on a 8x8 lattice: D_f is the harmonic mean; a Dirichlet face
    adds D_c to the diagonal, a Neumann face adds nothing, a periodic face couples across."""
    n = 8
    d = np.ones((n, n))
    d[0, 0], d[0, 1] = 1.0, 3.0
    st = build_stencil(d, 0.0, "dirichlet")
    assert st.cx[0, 0] == pytest.approx(2 * 1 * 3 / 4)
    assert st.diag[0, 0] == pytest.approx(1.5 + 1.0 + 1.0 + 1.0)  # right face, bottom face, two ghosts
    st = build_stencil(d, 0.0, "neumann")
    assert st.diag[0, 0] == pytest.approx(1.5 + 1.0)
    st = build_stencil(d, 0.0, "periodic")
    assert st.cx_wrap[0] == pytest.approx(1.0) and st.diag[0, 0] == pytest.approx(1.5 + 1.0 + 1.0 + 1.0)
    assert build_stencil(d, 0.0, "dirichlet").cx_wrap is None


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=IDS)
def test_operator_is_symmetric_positive(boundary):
    rng = np.random.default_rng(2)
    n = 16
    d, g = _coefficients(rng, n)
    g = g + 0.01
    st = build_stencil(d, g, boundary)
    u, v = rng.normal(size=(2, n, n))
    assert np.sum(st.apply(u) * v) == pytest.approx(np.sum(u * st.apply(v)), rel=1e-12)
    assert np.sum(st.apply(u) * u) > 0


def test_decouple_keeps_symmetry_and_drops_fixed_couplings():
    rng = np.random.default_rng(3)
    n = 12
    d, _ = _coefficients(rng, n)
    mask = np.zeros((n, n), bool)
    mask[4:7, 2:5] = True
    mask[:, 0] = True  # touches the periodic wrap
    st = build_stencil(d, 0.0, "periodic")
    dec = st.decouple(mask)
    u, v = rng.normal(size=(2, n, n))
    assert np.sum(dec.apply(u) * v) == pytest.approx(np.sum(u * dec.apply(v)), rel=1e-12)
    np.testing.assert_array_equal(dec.diag, st.diag)
    e = np.zeros((n, n))
    e[5, 3] = 1.0  # a fixed cell couples to nothing
    np.testing.assert_array_equal(dec.apply(e), st.diag * e)


# ----------------------------------------------------------------------------- torch
@pytest.mark.parametrize("boundary", BOUNDARIES, ids=IDS)
def test_build_stencil_on_torch_matches_numpy(boundary):
    rng = np.random.default_rng(4)
    n = 16
    d, g = _coefficients(rng, n, batch=2)
    u = rng.normal(size=(2, n, n))
    want = build_stencil(d, g, boundary).apply(u)
    st_t = build_stencil(torch.from_numpy(d), torch.from_numpy(g), boundary)
    got = st_t.apply(torch.from_numpy(u))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-14, atol=1e-14 * np.abs(want).max())
    # scalar decay on torch, and float32
    got32 = build_stencil(torch.from_numpy(d).float(), 0.1, boundary).apply(torch.from_numpy(u).float())
    want32 = build_stencil(d, 0.1, boundary).apply(u)
    np.testing.assert_allclose(got32.numpy(), want32, rtol=1e-4, atol=1e-4 * np.abs(want32).max())


def test_torch_residuals_match_numpy_and_are_differentiable():
    rng = np.random.default_rng(5)
    n = 16
    d, _ = _coefficients(rng, n, batch=2)
    s = rng.random((2, n, n))
    u = solve(s, diffusivity=d, tol=1e-12).field
    noisy = u * (1 + 0.05 * rng.normal(size=u.shape))
    st_np = build_stencil(d, 0.0, "dirichlet")
    want = scaled_relative_residual(st_np, noisy, s)
    ut = torch.tensor(noisy, requires_grad=True)
    st_t = build_stencil(torch.from_numpy(d), 0.0, "dirichlet")
    got = scaled_relative_residual(st_t, ut, torch.from_numpy(s))
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12)
    got.sum().backward()
    assert ut.grad is not None and torch.isfinite(ut.grad).all() and ut.grad.abs().sum() > 0
    rr = relative_residual(st_t, torch.from_numpy(noisy), torch.from_numpy(s))
    np.testing.assert_allclose(rr.numpy(), relative_residual(st_np, noisy, s), rtol=1e-12)


# ----------------------------------------------------------------------------- residuals
@pytest.mark.parametrize("boundary", ["dirichlet", "periodic", BOUNDARIES[3]], ids=["dirichlet", "periodic", "mixed"])
def test_scaled_relative_residual(boundary):
    rng = np.random.default_rng(6)
    n = 24
    d, _ = _coefficients(rng, n, batch=3)
    s = rng.random((3, n, n))
    u = solve(s, diffusivity=d, decay=0.1, boundary=boundary, tol=1e-12).field
    st = build_stencil(d, 0.1, boundary)
    exact = scaled_relative_residual(st, u, s)
    assert exact.shape == (3,) and np.all(exact <= 1e-10)
    # u = 0 gives A u = 0, alpha = 0, and ||S|| / ||S|| = 1
    np.testing.assert_allclose(scaled_relative_residual(st, np.zeros_like(u), s), 1.0, rtol=0, atol=1e-15)
    # a surrogate's output in normalised units (any positive scale) scores the same
    noisy = u + 0.01 * rng.normal(size=u.shape) * u.max()
    base = scaled_relative_residual(st, noisy, s)
    assert np.all(base > 1e-4)
    for c in (1e-3, 0.5, 7.0, 1e4):
        np.testing.assert_allclose(scaled_relative_residual(st, c * noisy, s), base, rtol=1e-10)
        np.testing.assert_allclose(scaled_relative_residual(st, c * u, s), exact, atol=1e-10)
    # and it is at most 1 (alpha = 0 is always available)
    assert np.all(scaled_relative_residual(st, rng.normal(size=u.shape), s) <= 1 + 1e-12)
    # a single (N, N) sample gives a scalar
    single = scaled_relative_residual(build_stencil(d[0], 0.1, boundary), u[0], s[0])
    assert np.ndim(single) == 0 and single == pytest.approx(exact[0], abs=1e-14)


def test_relative_residual_exact_and_free_cells():
    rng = np.random.default_rng(7)
    n = 16
    d, _ = _coefficients(rng, n)
    s = rng.random((n, n))
    st = build_stencil(d, 0.0, "dirichlet")
    u = solve(s, diffusivity=d, tol=1e-12).field
    assert relative_residual(st, u, s) <= 1e-12
    assert relative_residual(st, np.zeros_like(u), s) == pytest.approx(1.0)
    free = np.ones((n, n))
    free[:4] = 0
    r = st.apply(2 * u) - s
    want = np.linalg.norm(r[4:]) / np.linalg.norm(s[4:])
    assert relative_residual(st, 2 * u, s, free) == pytest.approx(want, rel=1e-12)


def test_parse_boundary_forms():
    b = parse_boundary("neumann")
    assert b.is_uniform and not b.has_dirichlet and b.describe() == "neumann"
    m = {"top": "dirichlet", "bottom": "neumann", "left": "periodic", "right": "periodic"}
    b = parse_boundary(m)
    assert b.describe() == m and b.has_dirichlet
    assert b.axis_kind(-1) == "periodic" and b.axis_kind(-2) is None and b.periodic(-1) and not b.periodic(-2)
    assert parse_boundary(b) == b


# ------------------------------------------------------------------------------ extreme magnitudes
@pytest.mark.parametrize("scale", [1e-170, 1e-300, 1e200, 1e300], ids=lambda s: f"{s:.0e}")
def test_relative_residual_does_not_under_or_overflow(scale):
    """The norms are taken on a power-of-two rescaled copy when their squares would leave float64's
    range: a zero field against a 1e-170 source is residual 1, not 0 (issue 16)."""
    n = 12
    rng = np.random.default_rng(3)
    rhs = np.zeros((2, n, n))
    rhs[0, 4, 5] = scale
    rhs[1] = rng.random((n, n)) * scale
    d, g = np.full((2, 1, 1), 1.3), np.zeros((2, 1, 1))
    st = build_stencil(np.broadcast_to(d, (2, n, n)).copy(), g, "dirichlet")
    zero = np.zeros_like(rhs)
    rr = relative_residual(st, zero, rhs)
    np.testing.assert_array_equal(rr, [1.0, 1.0])
    ur = uniform_relative_residual(d, g, "dirichlet", zero, rhs, np)
    assert ur.tobytes() == rr.tobytes()
    # a field with a relative error of 1e-3 reads 1e-3-ish whatever the scale
    u = np.stack([np.linalg.solve(_dense(st, k), rhs[k].ravel() / scale).reshape(n, n) for k in range(2)]) * scale
    noisy = u * (1 + 1e-3 * rng.standard_normal(u.shape))
    got = relative_residual(st, noisy, rhs)
    want = relative_residual(st, noisy / scale, rhs / scale)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert uniform_relative_residual(d, g, "dirichlet", noisy, rhs, np).tobytes() == got.tobytes()
    # torch tensors take the same rescaled path (a physics-residual loss on extreme data)
    st_t = build_stencil(torch.from_numpy(np.broadcast_to(d, (2, n, n)).copy()), torch.zeros(2, 1, 1), "dirichlet")
    np.testing.assert_allclose(
        relative_residual(st_t, torch.from_numpy(zero), torch.from_numpy(rhs)).numpy(), [1.0, 1.0]
    )
    np.testing.assert_allclose(
        relative_residual(st_t, torch.from_numpy(noisy), torch.from_numpy(rhs)).numpy(), got, rtol=1e-12
    )


def _dense(st, k):
    from diffbench.solver.multigrid import dense_matrix

    one = type(st)(st.cx[k : k + 1], st.cy[k : k + 1], None, None, st.diag[k : k + 1])
    return dense_matrix(one, np)[0]
