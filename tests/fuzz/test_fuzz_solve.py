"""Property-based fuzzing of ``solve`` (issue 16): no traceback, no certified wrong answer.

Hypothesis draws shapes (N odd and even, single samples and batches), sources, D (scalar, per
sample or a field, from subnormal to 1e300 and with large contrasts), decay, boundaries (every
side, some invalid), clamped cells, tol (Python and NumPy floats, some below the float64 floor)
and the source's dtype. For every draw:

* ``solve`` either returns or raises a one-line :class:`DiffbenchError`; nothing else escapes;
* every sample it flags ``converged`` has a finite field whose residual, recomputed here from
  the face-by-face sparse matrix (:func:`diffbench.solver.reference.assemble_matrix`, written
  independently of the solver's stencil) in float64 on the problem rescaled by powers of two,
  is at most ``tol`` (with a small safety factor and the recomputation's own rounding floor);
* with the default ``on_miss="raise"`` every returned sample is converged;
* a tame draw (ordinary magnitudes, moderate contrast, a reachable ``tol``) is solved.

Bounded time: 200 derandomised examples (reproducible in CI), lattices of 8..20 cells, batches
of at most 3; about 4 s on one core (measured at load 2.6).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffbench.errors import DiffbenchError
from diffbench.physics import parse_boundary
from diffbench.solver import solve
from diffbench.solver.reference import assemble_matrix

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: A converged sample's recomputed residual may exceed the solver's own by rounding only.
SAFETY = 1.5
EPS = np.finfo(np.float64).eps

#: Binary exponents at the edges: subnormal, the certificate's old underflow (squares below
#: 2^-1074 from |x| below 2^-537), and near overflow.
EXTREME_EXPONENTS = [-1074, -1060, -1030, -1000, -700, -600, -540, -300, 300, 520, 600, 900, 1000, 1020]


@st.composite
def boundaries(draw):
    kind = draw(st.sampled_from(["uniform"] * 4 + ["axes"] * 4 + ["invalid"]))
    if kind == "uniform":
        return draw(st.sampled_from(["dirichlet", "neumann", "periodic"]))
    if kind == "invalid":
        return draw(
            st.sampled_from(
                ["robin", {"top": "periodic", "bottom": "dirichlet", "left": "dirichlet", "right": "dirichlet"}]
            )
        )
    out = {}
    for low, high in (("top", "bottom"), ("left", "right")):
        if draw(st.booleans()) and draw(st.booleans()):
            out[low] = out[high] = "periodic"
        else:
            out[low] = draw(st.sampled_from(["dirichlet", "neumann"]))
            out[high] = draw(st.sampled_from(["dirichlet", "neumann"]))
    return out


@st.composite
def problems(draw):
    n = draw(st.integers(8, 20))
    batch = draw(st.sampled_from([None, 1, 2, 3]))
    shape = (n, n) if batch is None else (batch, n, n)
    b = 1 if batch is None else batch
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    tame = True

    # source: its pattern, then a magnitude 2^e, e from the subnormal range to near overflow
    pattern = draw(st.sampled_from(["random", "sparse", "spike", "zero", "signed"]))
    if pattern == "random":
        s = rng.random(shape)
    elif pattern == "sparse":
        s = rng.random(shape) * (rng.random(shape) > 0.85)
    elif pattern == "spike":
        s = np.zeros(shape)
        s[..., rng.integers(n), rng.integers(n)] = 1.0
    elif pattern == "signed":
        s = rng.standard_normal(shape)
    else:
        s = np.zeros(shape)
    es = draw(st.one_of(st.integers(-40, 40), st.sampled_from(EXTREME_EXPONENTS), st.integers(-1074, 1023)))
    tame &= abs(es) <= 100
    s = np.ldexp(s, es)
    dtype = draw(st.sampled_from(["float64", "float64", "float32", "int64"]))
    if dtype == "float32":
        s = s.astype(np.float32)  # may round to 0 or overflow to inf (then refused)
        tame &= abs(es) <= 100
    elif dtype == "int64":
        s = np.round(rng.random(shape) * 10).astype(np.int64)

    # diffusivity: a scalar, one per sample, or a field of some contrast, times 2^e
    ed = draw(st.one_of(st.integers(-20, 20), st.sampled_from(EXTREME_EXPONENTS), st.integers(-1074, 1023)))
    tame &= abs(ed) <= 100
    dkind = draw(st.sampled_from(["scalar", "per-sample", "field"]))
    if dkind == "scalar":
        d = float(np.ldexp(rng.uniform(0.5, 2.0), ed))
    elif dkind == "per-sample" and batch is not None:
        d = np.ldexp(rng.uniform(0.5, 2.0, size=b), ed)
    else:
        sigma = draw(st.sampled_from([0.5, 1.0, 1.5, 3.0, 20.0, "two-level"]))
        if sigma == "two-level":  # a block of D 2^-k times the rest: k up to past the contrast limit
            d = np.ones(shape)
            d[..., : n // 2, : n // 3] = np.ldexp(1.0, -draw(st.sampled_from([10, 100, 499, 501, 900])))
            tame = False
        else:
            tame &= sigma <= 1.5
            d = np.exp(sigma * rng.standard_normal(shape))
        d = np.ldexp(d, ed)
        tame &= bool(np.all(d > 0) and np.all(np.isfinite(d)))

    # decay: none, a scalar or a field, relative to D's scale by 2^e
    gkind = draw(st.sampled_from(["zero", "zero", "scalar", "scalar", "field"]))
    eg = draw(
        st.one_of(st.integers(-10, 10), st.sampled_from([-1100, -1000, -300, 300, 999, 1001]), st.integers(-1200, 1200))
    )
    if gkind == "zero":
        g = 0.0
    elif gkind == "scalar":
        g = float(np.ldexp(1.0, min(ed + eg, 1023)))
        tame &= abs(eg) <= 20
    else:
        g = np.ldexp(rng.random(shape), min(ed + eg, 1023))
        tame &= abs(eg) <= 20

    boundary = draw(boundaries())
    try:
        has_dirichlet = parse_boundary(boundary).has_dirichlet
    except DiffbenchError:
        has_dirichlet, tame = False, False

    fixed = None
    if draw(st.booleans()) and draw(st.booleans()):
        mask = rng.random(shape) > draw(st.sampled_from([0.97, 0.8, 0.3]))
        values = np.ldexp(rng.random(shape), es - ed if abs(es - ed) < 1100 else 0)
        fixed = (mask, values)
        tame &= bool(mask.reshape(b, -1).any(axis=1).all()) or has_dirichlet or gkind != "zero"
    tame &= has_dirichlet or gkind != "zero" or fixed is not None

    tol = draw(
        st.one_of(
            st.sampled_from([1e-8, 1e-6, 1e-10, 1e-12]),
            st.floats(1e-14, 0.5),
            st.sampled_from([np.float32(1e-6), np.float64(1e-9), 1e-17, 1e-300]),
        )
    )
    tame &= float(tol) >= 1e-10
    method = draw(st.sampled_from(["auto", "auto", "mgcg"]))
    on_miss = draw(st.sampled_from(["flag", "flag", "raise"]))
    return {
        "source": s,
        "diffusivity": d,
        "decay": g,
        "boundary": boundary,
        "fixed": fixed,
        "tol": tol,
        "method": method,
        "on_miss": on_miss,
    }, tame


def _per_sample(x, k, batch):
    x = np.asarray(x, dtype=np.float64)
    if not batch or x.ndim in (0, 2):
        return x
    return x[k]


def _norm(x):
    """2-norm without under- or overflow (scaled by the largest entry)."""
    m = np.abs(x).max() if x.size else 0.0
    return float(m * np.linalg.norm(x / m)) if m > 0 and np.isfinite(m) else float(m)


def _recomputed_residual(u, s, d, g, boundary, mask, values):
    """``||A u - S|| / ||S||`` over the free cells, from the sparse matrix, on the problem rescaled
    by powers of two (A by max D, S to max 1, u by the same factors), with
    its rounding floor ``eps || |A| |u| + |S| || / ||S||``."""
    n = s.shape[-1]
    d = np.broadcast_to(d, (n, n))
    g = np.broadcast_to(g, (n, n))
    ea = np.frexp(d.max())[1]  # by max D: scaled by a large decay, D's face products 2ab would underflow
    held = mask is not None and mask.any()
    cands = [np.frexp(np.abs(s).max())[1]] if np.abs(s).max() > 0 else []
    if held and np.abs(values[mask]).max() > 0:
        cands.append(np.frexp(np.abs(values[mask]).max())[1] + ea)
    es = max(cands) if cands else 0
    a = assemble_matrix(np.ldexp(d, -ea), np.ldexp(g, -ea), boundary)
    uu = np.ldexp(u, ea - es).ravel()
    ss = np.ldexp(s, -es).ravel()
    r = a @ uu - ss
    scale = abs(a) @ np.abs(uu) + np.abs(ss)
    if not held:
        num, den, noise = _norm(r), _norm(ss), EPS * _norm(scale)
    else:
        fx = mask.ravel()
        assert np.array_equal(u.ravel()[fx], values.ravel()[fx]), "a clamped cell does not hold its value"
        uc = np.where(fx, np.ldexp(values, ea - es).ravel(), 0.0)
        free = ~fx
        num = _norm(r[free])
        den = _norm(ss[free] - (a @ uc)[free])
        noise = EPS * _norm(scale[free])
    if den == 0:
        return num, noise
    return num / den, noise / den


@FUZZ
@given(problems())
def test_solve_never_certifies_a_wrong_field(drawn):
    kw, tame = drawn
    try:
        res = solve(**kw)
    except DiffbenchError as err:
        msg = str(err)
        assert msg and "\n" not in msg, f"not one line: {msg!r}"
        assert not tame, f"a tame problem was refused: {msg}"
        return
    s = np.asarray(kw["source"], dtype=np.float64)
    batch = s.ndim == 3
    ss = s if batch else s[None]
    field = np.asarray(res.field).reshape(ss.shape)
    converged = np.atleast_1d(np.asarray(res.converged, dtype=bool))
    residual = np.atleast_1d(np.asarray(res.residual, dtype=np.float64))
    assert converged.shape == (ss.shape[0],)
    if kw["on_miss"] == "raise":
        assert converged.all(), "on_miss='raise' returned an unconverged sample"
    if tame:
        assert converged.all(), f"a tame problem missed tol: residual {residual}"
    tol = float(kw["tol"])
    for k in np.flatnonzero(converged):
        u = field[k]
        assert np.isfinite(u).all(), f"sample {k}: certified field is not finite"
        assert residual[k] <= tol
        mask = values = None
        if kw["fixed"] is not None:
            mask = np.broadcast_to(_per_sample(kw["fixed"][0], k, batch), u.shape).astype(bool)
            values = np.broadcast_to(_per_sample(kw["fixed"][1], k, batch), u.shape)
        d = _per_sample(kw["diffusivity"], k, batch)
        if np.ndim(d) == 1:
            d = d[k]
        g = _per_sample(kw["decay"], k, batch)
        cert, noise = _recomputed_residual(u, ss[k], d, g, kw["boundary"], mask, values)
        assert cert <= SAFETY * tol + 100 * noise, (
            f"sample {k}: certified residual {residual[k]:.3e} <= tol {tol:.1e}, recomputed {cert:.3e} (floor {noise:.1e})"
        )
