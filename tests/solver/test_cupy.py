"""The CuPy path: same answers as NumPy, CuPy in and out, deterministic, batch-independent.

Skipped unless :func:`diffbench.solver.backend.cupy_available` (a CUDA device, CuPy with FFT
and linalg) is True.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from solver_testlib import MIXED_Y_PERIODIC_X, clamp_mask, lognormal_d, piecewise_d, rel_max_err

from diffbench.physics import build_stencil, scaled_relative_residual
from diffbench.physics.sources import SourceSpec, _rasterise_stamps, rasterise, sample_geometry
from diffbench.solver import solve
from diffbench.solver.backend import cupy_available, get_backend, to_numpy

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cupy_available(), reason="needs a CUDA GPU and CuPy"),
]

DST_FFT = {"top": "dirichlet", "bottom": "dirichlet", "left": "periodic", "right": "periodic"}


@pytest.fixture(scope="module")
def cp():
    return get_backend("cupy")


def _case(name, n=48, b=3):
    r = np.random.default_rng(zlib.crc32(name.encode()))
    s = r.normal(size=(b, n, n))
    if name == "dst":
        return s, dict(diffusivity=np.array([0.5, 1.0, 2.0]), boundary="dirichlet")
    if name == "dct":
        return s, dict(decay=0.1, boundary="neumann")
    if name == "fft":
        return s, dict(diffusivity=1.5, decay=np.array([0.01, 0.1, 1.0]), boundary="periodic")
    if name == "dst+fft":
        return s, dict(boundary=DST_FFT)
    if name == "mgcg-lognormal":
        return s, dict(diffusivity=lognormal_d(r, n, sigma=0.7, batch=b), boundary="dirichlet")
    if name == "mgcg-piecewise-neumann":
        return s, dict(
            diffusivity=np.stack([piecewise_d(r, n, contrast=30.0) for _ in range(b)]), decay=0.05, boundary="neumann"
        )
    if name == "mgcg-clamped-periodic":
        pairs = [clamp_mask(r, n, count=k + 2) for k in range(b)]
        fixed = (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
        return np.abs(s), dict(diffusivity=lognormal_d(r, n, sigma=0.5, batch=b), boundary="periodic", fixed=fixed)
    if name == "mgcg-mixed-odd":
        return s[:, :45, :45], dict(diffusivity=lognormal_d(r, 45, sigma=0.5, batch=b), boundary=MIXED_Y_PERIODIC_X)
    raise KeyError(name)


CASES = [
    "dst",
    "dct",
    "fft",
    "dst+fft",
    "mgcg-lognormal",
    "mgcg-piecewise-neumann",
    "mgcg-clamped-periodic",
    "mgcg-mixed-odd",
]


def _to_cp(cp, kw):
    out = {}
    for k, v in kw.items():
        if k == "fixed":
            out[k] = (cp.asarray(v[0]), cp.asarray(v[1]))
        elif isinstance(v, np.ndarray):
            out[k] = cp.asarray(v)
        else:
            out[k] = v
    return out


@pytest.mark.parametrize("name", CASES)
def test_cupy_matches_numpy(cp, name):
    s, kw = _case(name)
    tol = 1e-12
    ref = solve(s, tol=tol, **kw)
    got = solve(cp.asarray(s), tol=tol, **_to_cp(cp, kw))
    assert got.method == ref.method
    assert isinstance(got.field, cp.ndarray) and got.field.shape == s.shape and got.field.dtype == cp.float64
    assert isinstance(got.residual, cp.ndarray) and isinstance(got.iterations, cp.ndarray)
    err = rel_max_err(to_numpy(got.field), ref.field)
    assert err <= 1e-10, f"CuPy vs NumPy relative max difference {err:.3e}"
    assert float(got.residual.max()) <= (1e-12 if ref.method != "mgcg" else tol)


def test_single_sample_returns_cupy_and_python_scalars(cp):
    s = np.random.default_rng(0).random((32, 32))
    d = lognormal_d(np.random.default_rng(1), 32)
    for kw in (dict(), dict(diffusivity=cp.asarray(d))):
        res = solve(cp.asarray(s), **kw)
        assert isinstance(res.field, cp.ndarray) and res.field.shape == (32, 32)
        assert isinstance(res.residual, float) and isinstance(res.iterations, int)


@pytest.mark.parametrize("name", CASES)
def test_cupy_is_bit_identical_across_runs(cp, name):
    s, kw = _case(name)
    a = solve(cp.asarray(s), **_to_cp(cp, kw))
    b = solve(cp.asarray(s), **_to_cp(cp, kw))
    assert to_numpy(a.field).tobytes() == to_numpy(b.field).tobytes()
    assert np.array_equal(to_numpy(a.iterations), to_numpy(b.iterations))


@pytest.mark.parametrize("name", CASES)
def test_cupy_batch_is_bit_identical_to_single_solves(cp, name):
    """Data generation on the GPU must give the same bytes whatever the batching."""
    s, kw = _case(name)
    res = solve(cp.asarray(s), **_to_cp(cp, kw))
    field = to_numpy(res.field)
    for b in range(s.shape[0]):
        one = {}
        for k, v in kw.items():
            if k == "fixed":
                one[k] = (v[0][b], v[1][b])
            elif isinstance(v, np.ndarray) and v.ndim in (1, 3):
                one[k] = v[b]
            else:
                one[k] = v
        single = solve(cp.asarray(s[b]), **_to_cp(cp, one))
        assert to_numpy(single.field).tobytes() == field[b].tobytes(), f"sample {b} differs from its solo solve"
        assert single.iterations == int(res.iterations[b])


def test_stencil_and_residual_on_cupy(cp):
    r = np.random.default_rng(3)
    d = lognormal_d(r, 32, batch=2)
    u = r.normal(size=(2, 32, 32))
    s = r.random((2, 32, 32))
    for bnd in ("dirichlet", "periodic", MIXED_Y_PERIODIC_X):
        want = build_stencil(d, 0.1, bnd).apply(u)
        got = build_stencil(cp.asarray(d), 0.1, bnd).apply(cp.asarray(u))
        np.testing.assert_allclose(to_numpy(got), want, rtol=1e-13, atol=1e-13 * np.abs(want).max())
    st = build_stencil(cp.asarray(d), 0.0, "dirichlet")
    np.testing.assert_allclose(
        to_numpy(scaled_relative_residual(st, cp.asarray(u), cp.asarray(s))),
        scaled_relative_residual(build_stencil(d, 0.0, "dirichlet"), u, s),
        rtol=1e-12,
    )


def test_rasterise_on_cupy_matches_numpy(cp):
    spec = SourceSpec("mix", radius=4)
    geoms = [sample_geometry(np.random.default_rng(k), spec, 40, 6) for k in range(4)]
    # The stamps' cells are listed by NumPy on both backends and added layer by layer in source
    # order, so CuPy gives NumPy's bytes; the stamp loop on CuPy (other dtypes) agrees on supports.
    assert rasterise(geoms, 40, np).tobytes() == to_numpy(rasterise(geoms, 40, cp)).tobytes()
    stamps = to_numpy(_rasterise_stamps(geoms, 40, cp, cp.float64))
    assert np.mean(rasterise(geoms, 40, np) != stamps) < 1e-3  # edges may round differently on the GPU
    disks = [sample_geometry(np.random.default_rng(k), SourceSpec("disk", radius=4), 40, 6) for k in range(4)]
    assert rasterise(disks, 40, np).tobytes() == to_numpy(rasterise(disks, 40, cp)).tobytes()
