"""Properties of the solution map that hold whatever the discretisation details:
symmetry, linearity, the maximum principle, batch independence and warm starts."""

from __future__ import annotations

import numpy as np
import pytest
from solver_testlib import MIXED_Y_PERIODIC_X, clamp_mask, lognormal_d, piecewise_d, rel_max_err

from diffbench.solver import solve

RNG_SEED = 20240611


def rng(k: int = 0) -> np.random.Generator:
    return np.random.default_rng(RNG_SEED + k)


def close(a, b, limit):
    err = rel_max_err(a, b)
    assert err <= limit, f"relative max difference {err:.3e} > {limit:.0e}"


# ------------------------------------------------------------------------------ symmetry
UNIFORM = [("dirichlet", 0.0), ("neumann", 0.2), ("periodic", 0.1)]
TRANSFORMS_OF_THE_SQUARE = {
    "rot90": lambda a: np.rot90(a, 1, axes=(-2, -1)),
    "rot180": lambda a: np.rot90(a, 2, axes=(-2, -1)),
    "rot270": lambda a: np.rot90(a, 3, axes=(-2, -1)),
    "flip-lr": lambda a: np.flip(a, -1),
    "flip-ud": lambda a: np.flip(a, -2),
    "transpose": lambda a: np.swapaxes(a, -1, -2),
}


@pytest.mark.parametrize("op", list(TRANSFORMS_OF_THE_SQUARE))
@pytest.mark.parametrize("boundary,decay", UNIFORM)
@pytest.mark.parametrize("variable_d", [False, True], ids=["transform", "mgcg"])
def test_symmetries_of_the_square(op, boundary, decay, variable_d):
    """With a uniform boundary, rotating/flipping S (and D) rotates/flips u."""
    f = TRANSFORMS_OF_THE_SQUARE[op]
    r = rng(1)
    n = 28 if variable_d else 30
    s = r.random((2, n, n)) * (r.random((2, n, n)) > 0.8)
    d = np.stack([lognormal_d(r, n), piecewise_d(r, n)]) if variable_d else 1.7
    tol = 1e-12
    u = solve(s, diffusivity=d, decay=decay, boundary=boundary, tol=tol).field
    ut = solve(
        np.ascontiguousarray(f(s)), diffusivity=f(d) if variable_d else d, decay=decay, boundary=boundary, tol=tol
    )
    close(ut.field, f(u), 1e-12 if not variable_d else 1e-8)


@pytest.mark.parametrize("variable_d", [False, True], ids=["constD", "lognormal"])
def test_mixed_boundary_left_right_flip(variable_d):
    """top=dirichlet, bottom=neumann, left=right=periodic maps to itself under a left/right
    flip (and a roll along x), but not under an up/down flip."""
    r = rng(2)
    n = 32
    s = r.random((n, n)) * (r.random((n, n)) > 0.9)
    d = lognormal_d(r, n) if variable_d else 1.0
    flip = lambda a: np.flip(a, -1)  # noqa: E731
    u = solve(s, diffusivity=d, boundary=MIXED_Y_PERIODIC_X, tol=1e-12)
    uf = solve(flip(s).copy(), diffusivity=flip(d) if variable_d else d, boundary=MIXED_Y_PERIODIC_X, tol=1e-12)
    assert u.method == "mgcg"
    close(uf.field, flip(u.field), 1e-8)
    roll = lambda a: np.roll(a, 7, axis=-1)  # noqa: E731
    ur = solve(roll(s), diffusivity=roll(d) if variable_d else d, boundary=MIXED_Y_PERIODIC_X, tol=1e-12)
    close(ur.field, roll(u.field), 1e-8)
    # the up/down flip swaps the absorbing and the reflecting side: the field must change
    ud = lambda a: np.flip(a, -2)  # noqa: E731
    uu = solve(ud(s).copy(), diffusivity=ud(d) if variable_d else d, boundary=MIXED_Y_PERIODIC_X, tol=1e-12)
    assert rel_max_err(uu.field, ud(u.field)) > 1e-3


@pytest.mark.parametrize("shift", [(0, 5), (3, 0), (11, -6)])
@pytest.mark.parametrize("variable_d", [False, True], ids=["transform", "mgcg"])
def test_periodic_translation(shift, variable_d):
    r = rng(3)
    n = 24
    s = r.normal(size=(n, n))
    d = lognormal_d(r, n) if variable_d else 0.8
    roll = lambda a: np.roll(a, shift, axis=(-2, -1))  # noqa: E731
    u = solve(s, diffusivity=d, decay=0.05, boundary="periodic", tol=1e-12).field
    ur = solve(roll(s), diffusivity=roll(d) if variable_d else d, decay=0.05, boundary="periodic", tol=1e-12).field
    close(ur, roll(u), 1e-12 if not variable_d else 1e-8)


def test_symmetry_with_clamped_cells():
    r = rng(4)
    n = 32
    mask, vals = clamp_mask(r, n)
    s = r.random((n, n))
    d = lognormal_d(r, n)
    f = lambda a: np.rot90(a, 1)  # noqa: E731
    u = solve(s, diffusivity=d, boundary="neumann", fixed=(mask, vals), tol=1e-12).field
    ur = solve(f(s).copy(), diffusivity=f(d), boundary="neumann", fixed=(f(mask), f(vals)), tol=1e-12).field
    close(ur, f(u), 1e-8)


# ------------------------------------------------------------------------------ linearity
LINEAR_CASES = {
    "transform-dirichlet": dict(boundary="dirichlet", diffusivity=2.0),
    "transform-periodic": dict(boundary="periodic", decay=0.3),
    "mgcg-lognormal": dict(boundary="dirichlet", diffusivity="lognormal"),
    "mgcg-piecewise-neumann": dict(boundary="neumann", diffusivity="piecewise", decay=0.05),
    "mgcg-mixed": dict(boundary=MIXED_Y_PERIODIC_X, diffusivity="lognormal"),
}


def _linear_kwargs(name, n, r):
    kw = dict(LINEAR_CASES[name])
    if kw.get("diffusivity") == "lognormal":
        kw["diffusivity"] = lognormal_d(r, n)
    elif kw.get("diffusivity") == "piecewise":
        kw["diffusivity"] = piecewise_d(r, n)
    return kw


@pytest.mark.parametrize("name", list(LINEAR_CASES))
def test_superposition_and_scaling(name):
    r = rng(5)
    n = 32
    kw = _linear_kwargs(name, n, r)
    s1 = r.random((n, n)) * (r.random((n, n)) > 0.9)
    s2 = r.normal(size=(n, n))
    tol = 1e-12
    u1 = solve(s1, tol=tol, **kw)
    u2 = solve(s2, tol=tol, **kw)
    u12 = solve(s1 + s2, tol=tol, **kw)
    limit = 1e-12 if u1.method != "mgcg" else 1e-8
    close(u12.field, u1.field + u2.field, limit)
    for alpha in (3.5, -0.25, 1e6):
        ua = solve(alpha * s1, tol=tol, **kw)
        close(ua.field, alpha * u1.field, limit)


# ------------------------------------------------------------------------------ maximum principle
@pytest.mark.parametrize(
    "boundary,decay",
    [("dirichlet", 0.0), ("neumann", 0.1), ("periodic", 0.01), (MIXED_Y_PERIODIC_X, 0.0)],
    ids=["dirichlet", "neumann", "periodic", "mixed"],
)
@pytest.mark.parametrize("dkind", ["const", "lognormal", "piecewise"])
def test_nonnegative_sources_give_nonnegative_field(boundary, decay, dkind):
    r = rng(6)
    n = 40
    s = r.random((2, n, n)) * (r.random((2, n, n)) > 0.95)
    d = {
        "const": 1.0,
        "lognormal": lognormal_d(r, n, batch=2),
        "piecewise": np.stack([piecewise_d(r, n) for _ in range(2)]),
    }[dkind]
    res = solve(s, diffusivity=d, decay=decay, boundary=boundary, tol=1e-10)
    u = res.field
    assert u.min() >= -1e-9 * u.max(), f"min {u.min():.3e}, max {u.max():.3e}"
    # and a positive source somewhere reaches every cell (irreducible M-matrix)
    assert (u > 0).mean() > 0.99


@pytest.mark.parametrize("boundary,decay", [("dirichlet", 0.0), ("neumann", 0.0), ("periodic", 0.0), ("neumann", 0.3)])
@pytest.mark.parametrize("dkind", ["const", "lognormal"])
def test_clamped_values_bound_the_field(boundary, decay, dkind):
    """With S >= 0 and clamped values >= 0, u >= 0; with S = 0, u <= the largest clamped value."""
    r = rng(7)
    n = 32
    mask, vals = clamp_mask(r, n, count=4)
    d = lognormal_d(r, n) if dkind == "lognormal" else 1.0
    s = r.random((n, n))
    u = solve(s, diffusivity=d, decay=decay, boundary=boundary, fixed=(mask, vals), tol=1e-10).field
    assert u.min() >= -1e-9 * np.abs(u).max()
    u0 = solve(np.zeros((n, n)), diffusivity=d, decay=decay, boundary=boundary, fixed=(mask, vals), tol=1e-10).field
    top = vals[mask].max()
    assert u0.min() >= -1e-9 * top
    assert u0.max() <= top * (1 + 1e-9)
    if boundary == "neumann" and decay == 0.0:
        # nothing leaves the domain: the field lies between the clamped extremes
        assert u0[~mask].min() >= vals[mask].min() * (1 - 1e-8)


# ------------------------------------------------------------------------------ batch independence
def _assert_same(batch_res, single_res, b):
    assert np.array_equal(batch_res.field[b], single_res.field), f"sample {b}: field differs from its solo solve"
    assert batch_res.field[b].tobytes() == single_res.field.tobytes()
    assert int(batch_res.iterations[b]) == single_res.iterations
    assert float(batch_res.residual[b]) == single_res.residual


BATCH_CASES = [
    "transform-dirichlet",
    "transform-neumann",
    "transform-periodic",
    "transform-dst+fft",
    "mgcg-lognormal",
    "mgcg-fixed",
    "mgcg-mixed",
    "mgcg-odd",
]


def _batch_case(name, r, b=3):
    n = 27 if name == "mgcg-odd" else 32
    s = r.normal(size=(b, n, n))
    if name.startswith("transform"):
        bnd = {
            "dirichlet": "dirichlet",
            "neumann": "neumann",
            "periodic": "periodic",
            "dst+fft": {"top": "dirichlet", "bottom": "dirichlet", "left": "periodic", "right": "periodic"},
        }[name.split("-", 1)[1]]
        return s, dict(diffusivity=np.array([0.5, 1.0, 3.0])[:b], decay=np.array([0.1, 0.2, 0.3])[:b], boundary=bnd)
    d = np.stack([lognormal_d(r, n, sigma=sg) for sg in (0.3, 1.0, 2.0)][:b])
    kw = dict(diffusivity=d, decay=0.0, boundary="dirichlet")
    if name == "mgcg-fixed":
        pairs = [clamp_mask(r, n, count=k + 1) for k in range(b)]
        kw.update(boundary="neumann", fixed=(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])))
    if name == "mgcg-mixed":
        kw.update(boundary=MIXED_Y_PERIODIC_X)
    return s, kw


def _sample_kwargs(kw, b):
    out = {}
    for k, v in kw.items():
        if k == "fixed":
            out[k] = (v[0][b], v[1][b])
        elif isinstance(v, np.ndarray) and v.ndim in (1, 3):
            out[k] = v[b]
        else:
            out[k] = v
    return out


@pytest.mark.parametrize("name", BATCH_CASES)
def test_batch_is_bit_identical_to_single_solves(name):
    r = rng(8)
    s, kw = _batch_case(name, r)
    res = solve(s, tol=1e-9, **kw)
    assert res.method == ("mgcg" if name.startswith("mgcg") else res.method)
    for b in range(s.shape[0]):
        single = solve(s[b], tol=1e-9, **_sample_kwargs(kw, b))
        _assert_same(res, single, b)
    # and whatever the order or the split of the batch
    perm = [2, 0, 1]
    sub = {
        k: (
            (v[0][perm], v[1][perm])
            if k == "fixed"
            else (v[perm] if isinstance(v, np.ndarray) and v.ndim in (1, 3) else v)
        )
        for k, v in kw.items()
    }
    res_p = solve(s[perm], tol=1e-9, **sub)
    for i, b in enumerate(perm):
        assert res_p.field[i].tobytes() == res.field[b].tobytes()


@pytest.mark.parametrize(
    "n,boundary",
    [
        (64, "dirichlet"),  # 64 lines per sample: the whole batch in one DST-I call each way
        (27, "dirichlet"),  # 27 lines: sample by sample
        (
            72,
            {"top": "dirichlet", "bottom": "dirichlet", "left": "periodic", "right": "periodic"},
        ),  # chirp DST-I (73 prime), batched
        (
            100,
            {"top": "periodic", "bottom": "periodic", "left": "dirichlet", "right": "dirichlet"},
        ),  # chirp, 100 lines: per sample
    ],
    ids=["dst-batched", "dst-per-sample", "chirp-batched", "chirp-per-sample"],
)
def test_transform_batches_are_bit_identical_to_single_solves(n, boundary):
    """The DST-I paths batch only where pocketfft's SIMD groups of lines cannot straddle two
    samples; every path gives each sample its solo bits, with per-sample or shared D and decay."""
    from diffbench.solver.transform import batch_aligned

    assert batch_aligned((7, n, n), (1, 2)) == (n % 8 == 0)
    r = rng(10)
    B = 7
    s = r.normal(size=(B, n, n))
    d, g = r.uniform(0.5, 2.0, B), r.uniform(0.0, 0.5, B)
    g[:2] = 0.0
    d[4], g[4] = d[5], g[5]
    for kw in (dict(diffusivity=d, decay=g), dict(diffusivity=1.5, decay=0.25)):
        res = solve(s, boundary=boundary, **kw)
        assert res.method in ("dst", "dst+fft", "fft+dst")
        for b in range(B):
            one = {k: (v[b] if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
            _assert_same(res, solve(s[b], boundary=boundary, **one), b)
        rev = solve(
            s[::-1], boundary=boundary, **{k: (v[::-1] if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        )
        assert rev.field[::-1].tobytes() == res.field.tobytes()


def test_per_sample_coefficients_equal_their_full_arrays_bit_for_bit():
    """D and decay given per sample ((B,) arrays, kept (B, 1, 1) inside) and the same values
    expanded to (B, N, N) give the same bits, on the transform and the multigrid-CG paths."""
    r = rng(11)
    n, B = 32, 3
    s = r.random((B, n, n))
    d, g = np.array([0.7, 1.0, 2.5]), np.array([0.0, 0.1, 0.3])
    full = dict(
        diffusivity=np.broadcast_to(d[:, None, None], (B, n, n)).copy(),
        decay=np.broadcast_to(g[:, None, None], (B, n, n)).copy(),
    )
    pairs = [clamp_mask(r, n, count=k + 1) for k in range(B)]
    fixed = (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
    for extra in ({}, {"fixed": fixed}, {"method": "mgcg"}):
        a = solve(s, diffusivity=d, decay=g, tol=1e-9, **extra)
        b = solve(s, tol=1e-9, **full, **extra)
        assert a.method == b.method == ("dst" if not extra else "mgcg")
        assert a.field.tobytes() == b.field.tobytes()
        assert a.residual.tobytes() == b.residual.tobytes() and a.iterations.tobytes() == b.iterations.tobytes()


def test_mixed_batch_routes_each_sample_like_its_solo_solve():
    """A batch mixing constant-D, variable-D and clamped samples gives each sample the bytes
    (and the method) it gets when solved alone."""
    r = rng(9)
    n = 32
    s = r.random((4, n, n))
    d = np.ones((4, n, n))
    d[1] = lognormal_d(r, n)
    d[3] *= 2.0
    mask = np.zeros((4, n, n), dtype=bool)
    m2, v2 = clamp_mask(r, n)
    mask[2] = m2
    vals = np.zeros((4, n, n))
    vals[2] = v2
    res = solve(s, diffusivity=d, decay=0.0, boundary="dirichlet", fixed=(mask, vals), tol=1e-9)
    assert res.method == "dst,mgcg"
    methods = []
    for b in range(4):
        single = solve(s[b], diffusivity=d[b], boundary="dirichlet", fixed=(mask[b], vals[b]), tol=1e-9)
        methods.append(single.method)
        _assert_same(res, single, b)
    assert methods == ["dst", "mgcg", "mgcg", "dst"]
    assert list(res.iterations == 0) == [True, False, False, True]


def test_batch_of_one_and_single_input_agree():
    r = rng(10)
    n = 24
    s = r.random((n, n))
    d = lognormal_d(r, n)
    a = solve(s, diffusivity=d)
    b = solve(s[None], diffusivity=d[None])
    assert a.field.shape == (n, n) and b.field.shape == (1, n, n)
    assert a.field.tobytes() == b.field[0].tobytes()


def test_per_sample_maxiter_is_batch_independent():
    """A sample stops at maxiter on its own count of iterations, not the batch's."""
    r = rng(11)
    n = 32
    s = r.random((3, n, n))
    d = np.stack([lognormal_d(r, n, sigma=sg) for sg in (0.2, 1.0, 2.5)])
    for maxiter in (2, 6):
        res = solve(s, diffusivity=d, maxiter=maxiter, tol=1e-12, on_miss="flag")
        assert not res.converged.any()  # 2 or 6 iterations cannot reach 1e-12: flagged, not raised
        for b in range(3):
            single = solve(s[b], diffusivity=d[b], maxiter=maxiter, tol=1e-12, on_miss="flag")
            _assert_same(res, single, b)
            assert single.iterations <= maxiter and single.converged is False


# ------------------------------------------------------------------------------ warm starts
@pytest.mark.parametrize("clamped", [False, True])
def test_initial_guess(clamped):
    r = rng(12)
    n = 64
    s = r.random((2, n, n))
    d = lognormal_d(r, n, batch=2)
    fixed = None
    if clamped:
        m, v = clamp_mask(r, n)
        fixed = (m, v)
    kw = dict(diffusivity=d, boundary="neumann" if clamped else "dirichlet", fixed=fixed)
    cold = solve(s, tol=1e-10, **kw)
    exact = solve(s, tol=1e-10, initial_guess=cold.field, **kw)
    assert np.all(exact.iterations <= 1)
    assert np.all(exact.residual <= 1e-10)
    # a good guess (the solution to a loose tolerance, or the solution of a nearby problem) saves work
    loose = solve(s, tol=1e-4, **kw)
    warm = solve(s, tol=1e-10, initial_guess=loose.field, **kw)
    assert np.all(warm.iterations < cold.iterations)
    assert np.all(warm.residual <= 1e-10)
    close(warm.field, cold.field, 1e-7)
    nearby = solve(s * (1 + 0.01 * r.normal(size=s.shape)), tol=1e-10, **kw)
    warm2 = solve(s, tol=1e-10, initial_guess=nearby.field, **kw)
    assert np.all(warm2.iterations < cold.iterations)
    # a single (N, N) guess for a single source works too
    one = solve(s[0], tol=1e-10, initial_guess=cold.field[0], **{**kw, "diffusivity": d[0]})
    assert one.iterations <= 1


def test_initial_guess_is_ignored_by_exact_transforms():
    s = rng(13).random((16, 16))
    a = solve(s)
    b = solve(s, initial_guess=np.ones((16, 16)))
    assert a.method == b.method == "dst"
    assert a.field.tobytes() == b.field.tobytes()
