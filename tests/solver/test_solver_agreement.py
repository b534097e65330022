"""Agreement with the independent sparse direct solve, and the residual certificate.

Every case is solved by :func:`diffbench.solver.solve` and, sample by sample, by a
scipy.sparse matrix assembled face by face from the definition (``reference.assemble_matrix``)
and ``spsolve``. The certificate ``result.residual`` is recomputed from that matrix.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from solver_testlib import (
    MIXED_CORNER,
    MIXED_ONE_SIDE,
    MIXED_PERIODIC_Y,
    MIXED_Y_PERIODIC_X,
    certificate,
    clamp_mask,
    lognormal_d,
    per_sample,
    piecewise_d,
    reference_solve,
    rel_max_err,
)

from diffbench.solver import solve

DST_FFT = {"top": "dirichlet", "bottom": "dirichlet", "left": "periodic", "right": "periodic"}
FFT_DST = {"top": "periodic", "bottom": "periodic", "left": "dirichlet", "right": "dirichlet"}
DCT_FFT = {"top": "neumann", "bottom": "neumann", "left": "periodic", "right": "periodic"}
DST_DCT = {"top": "dirichlet", "bottom": "dirichlet", "left": "neumann", "right": "neumann"}

# name: (N, batch or None, boundary, D kind, decay kind, clamped cells?, expected method)
CASES = {
    # ---------------------------------------------------------------- exact transforms
    "dst-24-single": (24, None, "dirichlet", 1.0, 0.0, False, "dst"),
    "dst-25-odd-D2.5": (25, None, "dirichlet", 2.5, 0.0, False, "dst"),
    "dst-100": (100, None, "dirichlet", 1.0, 0.0, False, "dst"),
    "dct-27-decay": (27, None, "neumann", 1.0, 0.1, False, "dct"),
    "fft-40-decay": (40, None, "periodic", 1.0, 0.1, False, "fft"),
    "fft-100-decay-D0.7": (100, None, "periodic", 0.7, 0.05, False, "fft"),
    "dst+fft-24": (24, None, DST_FFT, 1.0, 0.0, False, "dst+fft"),
    "fft+dst-27": (27, None, FFT_DST, 1.3, 0.0, False, "fft+dst"),
    "dct+fft-40-decay": (40, None, DCT_FFT, 1.0, 0.2, False, "dct+fft"),
    "dst+dct-25": (25, None, DST_DCT, 1.0, 0.0, False, "dst+dct"),
    "dst-24-batch-D-per-sample": (24, 3, "dirichlet", "per-sample", 0.0, False, "dst"),
    "dct-40-batch-decay-per-sample": (40, 3, "neumann", "per-sample-field", "per-sample", False, "dct"),
    "fft-100-batch": (100, 3, "periodic", "per-sample", 0.3, False, "fft"),
    # ---------------------------------------------------------------- multigrid CG
    "mg-dirichlet-24-lognormal-single": (24, None, "dirichlet", "lognormal", 0.0, False, "mgcg"),
    "mg-dirichlet-48-lognormal": (48, None, "dirichlet", "lognormal", 0.0, False, "mgcg"),
    "mg-dirichlet-48-spatial-decay": (48, None, "dirichlet", 1.0, "spatial", False, "mgcg"),
    "mg-neumann-25-decay-lognormal": (25, None, "neumann", "lognormal", 0.1, False, "mgcg"),
    "mg-neumann-33-piecewise-spatial-decay": (33, None, "neumann", "piecewise", "spatial", False, "mgcg"),
    "mg-periodic-27-decay-piecewise": (27, None, "periodic", "piecewise", 0.1, False, "mgcg"),
    "mg-periodic-40-fixed": (40, None, "periodic", "lognormal", 0.0, True, "mgcg"),
    "mg-periodic-25-fixed-constD": (25, None, "periodic", 1.0, 0.0, True, "mgcg"),
    "mg-neumann-24-fixed-piecewise": (24, None, "neumann", "piecewise", 0.0, True, "mgcg"),
    "mg-neumann-27-fixed-constD": (27, None, "neumann", 1.0, 0.0, True, "mgcg"),
    "mg-dirichlet-48-fixed-constD": (48, None, "dirichlet", 1.0, 0.0, True, "mgcg"),
    "mg-mixed-ydn-xper-24-constD": (24, None, MIXED_Y_PERIODIC_X, 1.0, 0.0, False, "mgcg"),
    "mg-mixed-ydn-xper-40-piecewise-fixed": (40, None, MIXED_Y_PERIODIC_X, "piecewise", 0.0, True, "mgcg"),
    "mg-mixed-corner-27-lognormal": (27, None, MIXED_CORNER, "lognormal", 0.0, False, "mgcg"),
    "mg-mixed-one-side-40-piecewise": (40, None, MIXED_ONE_SIDE, "piecewise", 0.0, False, "mgcg"),
    "mg-mixed-yper-25-spatial-decay": (25, None, MIXED_PERIODIC_Y, "lognormal", "spatial", False, "mgcg"),
    "mg-batch-dirichlet-40-lognormal": (40, 3, "dirichlet", "lognormal", 0.0, False, "mgcg"),
    "mg-batch-periodic-24-piecewise-fixed": (24, 3, "periodic", "piecewise", "per-sample", True, "mgcg"),
    "mg-batch-neumann-32-fixed": (32, 3, "neumann", "lognormal", 0.0, True, "mgcg"),
}


def build_case(name: str):
    """The solve() keyword arguments of a case (deterministic per name)."""
    n, batch, boundary, dkind, gkind, clamped, method = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    shape = (n, n) if batch is None else (batch, n, n)
    # sign-changing smooth-ish sources plus a few strong cells
    source = rng.normal(size=shape) + 5.0 * (rng.random(shape) > 0.97)
    b = batch or 1
    if isinstance(dkind, float):
        d = dkind
    elif dkind == "per-sample":
        d = np.array([0.5, 1.0, 4.0])[:b]
    elif dkind == "per-sample-field":
        d = np.ones(shape) * np.array([0.3, 1.0, 3.0])[:b, None, None]
    elif dkind == "lognormal":
        d = (
            lognormal_d(rng, n, sigma=1.0)
            if batch is None
            else np.stack([lognormal_d(rng, n, sigma=s) for s in (0.5, 1.0, 1.5)][:b])
        )
    else:
        d = piecewise_d(rng, n) if batch is None else np.stack([piecewise_d(rng, n) for _ in range(b)])
    if isinstance(gkind, float):
        g = gkind
    elif gkind == "spatial":
        g = rng.uniform(0.0, 0.5, size=(n, n)) * (rng.random((n, n)) > 0.3)
    else:
        # a zero decay is allowed only where clamped cells make the problem regular
        g = np.array([0.0 if clamped else 0.02, 0.05, 1.0])[:b]
    fixed = None
    if clamped:
        if batch is None:
            fixed = clamp_mask(rng, n)
        else:
            pairs = [clamp_mask(rng, n, count=k + 1) for k in range(b)]
            fixed = (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
    return dict(source=source, diffusivity=d, decay=g, boundary=boundary, fixed=fixed), method


def check_result(kw, res, *, tol, err_limit, transform):
    """Per-sample agreement with the direct solve and the recomputed certificate."""
    source = kw["source"]
    batch = source.ndim == 3
    assert isinstance(res.field, np.ndarray) and res.field.shape == source.shape and res.field.dtype == np.float64
    if batch:
        assert res.residual.shape == (source.shape[0],) and res.iterations.shape == (source.shape[0],)
    else:
        assert isinstance(res.residual, float) and isinstance(res.iterations, int)
    fields = res.field if batch else res.field[None]
    sources = source if batch else source[None]
    residuals = np.atleast_1d(res.residual)
    iterations = np.atleast_1d(res.iterations)
    refs = reference_solve(source, kw["diffusivity"], kw["decay"], kw["boundary"], kw["fixed"])
    for b, (ref, matrix) in enumerate(refs):
        err = rel_max_err(fields[b], ref)
        assert err <= err_limit, f"sample {b}: relative max error {err:.3e} > {err_limit:.0e}"
        mask = vals = None
        if kw["fixed"] is not None:
            n = source.shape[-1]
            mask = np.broadcast_to(per_sample(kw["fixed"][0], b, batch), (n, n)).astype(bool)
            vals = np.broadcast_to(per_sample(kw["fixed"][1], b, batch), (n, n))
            # clamped cells hold their values exactly
            np.testing.assert_array_equal(fields[b][mask], vals[mask])
        mine, noise = certificate(matrix, fields[b], sources[b], mask, vals, with_noise=True)
        reported = float(residuals[b])
        assert reported <= tol, f"sample {b}: reported residual {reported:.3e} > tol {tol:.0e}"
        assert mine <= tol + 10 * noise, f"sample {b}: recomputed residual {mine:.3e} > tol"
        # the same quantity, up to the rounding floor of evaluating A u - S twice
        assert abs(mine - reported) <= 1e-6 * mine + 10 * noise, (
            f"sample {b}: certificate {reported:.3e} vs recomputed {mine:.3e} (rounding floor {noise:.1e})"
        )
        if transform:
            assert mine <= 1e-12 and reported <= 1e-12
            assert iterations[b] == 0
        else:
            assert iterations[b] >= 1


@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_direct_solve(name):
    kw, method = build_case(name)
    res = solve(**kw, tol=1e-10)
    assert res.method == method
    transform = method != "mgcg"
    check_result(kw, res, tol=1e-10, err_limit=1e-10 if transform else 1e-6, transform=transform)


@pytest.mark.parametrize(
    "name",
    [
        "mg-dirichlet-48-lognormal",
        "mg-neumann-24-fixed-piecewise",
        "mg-periodic-40-fixed",
        "mg-mixed-corner-27-lognormal",
        "mg-batch-periodic-24-piecewise-fixed",
        "mg-neumann-33-piecewise-spatial-decay",
    ],
)
@pytest.mark.parametrize("tol", [1e-4, 1e-6, 1e-8])
def test_certificate_matches_recomputed_residual(name, tol):
    """At loose tolerances the residual is far above rounding, so the certificate must match
    the residual recomputed from the assembled matrix closely, and never exceed tol."""
    kw, _ = build_case(name)
    res = solve(**kw, tol=tol)
    source = kw["source"]
    batch = source.ndim == 3
    refs = reference_solve(source, kw["diffusivity"], kw["decay"], kw["boundary"], kw["fixed"])
    fields = res.field if batch else res.field[None]
    sources = source if batch else source[None]
    for b, (_, matrix) in enumerate(refs):
        mask = vals = None
        if kw["fixed"] is not None:
            n = source.shape[-1]
            mask = np.broadcast_to(per_sample(kw["fixed"][0], b, batch), (n, n)).astype(bool)
            vals = np.broadcast_to(per_sample(kw["fixed"][1], b, batch), (n, n))
        mine, noise = certificate(matrix, fields[b], sources[b], mask, vals, with_noise=True)
        reported = float(np.atleast_1d(res.residual)[b])
        assert mine <= tol
        assert abs(reported - mine) <= 1e-6 * mine + 10 * noise, f"sample {b}: {reported:.6e} vs {mine:.6e}"


def test_certificate_of_zero_source_is_zero():
    """S = 0 (and no clamped cell) gives u = 0 with residual 0 on both paths."""
    s = np.zeros((2, 16, 16))
    for d in (1.0, lognormal_d(np.random.default_rng(0), 16)):
        res = solve(s, diffusivity=d)
        assert np.all(res.field == 0) and np.all(res.residual == 0)


def test_relative_residual_of_zero_rhs_is_absolute():
    """relative_residual with rhs = 0 returns ||A u|| (not twice it)."""
    from diffbench.physics import build_stencil, relative_residual

    st = build_stencil(np.ones((1, 8, 8)), 0.0, "dirichlet")
    u = np.zeros((1, 8, 8))
    u[0, 3, 3] = 1.0
    got = relative_residual(st, u, np.zeros_like(u))
    assert got[0] == pytest.approx(np.linalg.norm(st.apply(u)), rel=1e-15)
