"""``solve``: one entry point for every problem, the fastest exact method first.

Its inputs are checked by :mod:`diffbench.solver.inputs` and kept inside float64's range by the
power-of-two rescaling of :mod:`diffbench.solver.scaling`."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DiffbenchError
from ..physics.boundary import BoundaryLike, parse_boundary
from ..physics.operator import build_stencil, uniform_relative_residual
from .backend import to_numpy
from .inputs import as_float_array, check_source, expand_per_sample, full_lattice
from .multigrid import pcg
from .scaling import RESCALE_FREE, peak_magnitude, scale_back, scale_exponents
from .transform import transform_method, transform_solve

#: What ``solve(method=...)`` accepts.
SOLVE_METHODS = ("auto", "mgcg")
#: What ``solve(on_miss=...)`` accepts: raise a DiffbenchError, or return with ``converged`` False.
ON_MISS = ("raise", "flag")


@dataclass
class SolveResult:
    """The solution and its certificate.

    Attributes
    ----------
    field : array, the source's shape and library
        u in physical units.
    residual : array (B,) or float
        ``||A u - S|| / ||S||`` over the free cells, measured after the solve. With clamped
        cells, S is the right-hand side left after moving the clamped values across
        (``S_free - A_free,fixed u_fixed``).
    iterations : array (B,) or int
        Krylov iterations (0 for transform solves).
    method : str
        ``dst``, ``dct``, ``fft`` (or a pair such as ``dst+fft``) for exact transform solves,
        ``mgcg`` for multigrid-preconditioned conjugate gradients. The method is chosen per
        sample; a batch whose samples took both paths says so as ``<transform>,mgcg`` (its
        transform samples have 0 iterations).
    converged : array (B,) of bool or bool
        ``residual <= tol`` with a finite field and residual. Always True unless
        ``solve(..., on_miss="flag")``: by default a miss raises.

    The residual is measured on the problem rescaled by powers of two (max |S| and max D of
    each sample in [0.5, 1)), which changes no bit of a problem of ordinary magnitude and
    keeps the certificate from under- or overflowing: it is scale-invariant.
    """

    field: Any
    residual: Any
    iterations: Any
    method: str
    converged: Any = True


def solve(
    source: Any,
    *,
    diffusivity: Any = 1.0,
    decay: Any = 0.0,
    boundary: BoundaryLike = "dirichlet",
    fixed: tuple[Any, Any] | None = None,
    tol: float = 1e-8,
    initial_guess: Any = None,
    maxiter: int = 2000,
    method: str = "auto",
    on_miss: str = "raise",
) -> SolveResult:
    """Solve ``-div(D grad u) + gamma u = S`` on the lattice, for one sample or a batch.

    Parameters
    ----------
    source : array (N, N) or (B, N, N), NumPy or CuPy
        S, the source per cell (physical units). The result comes back in the same library
        and shape.
    diffusivity : float or array of the source's shape (or (B,) per sample)
        D > 0 and finite.
    decay : float or array of the source's shape (or (B,) per sample)
        gamma >= 0.
    boundary : str or mapping
        ``dirichlet`` (default), ``neumann``, ``periodic``, or a mapping of the sides
        ``top, bottom, left, right`` to those.
    fixed : (mask, values), optional
        Cells that hold a given value (clamped sources) instead of receiving a flux.
    tol : float
        Relative residual target, in (0, 1) (a Python or NumPy float): the iterative method
        runs until it is met, and every sample's certificate is checked against it (transform
        solves are exact, to a rounding floor near 1e-15).
    initial_guess : array, optional
        Starting field for the iterative method (e.g. a surrogate's prediction).
    maxiter : int
        Most Krylov iterations per sample. Multigrid-CG also stops a sample early when its
        residual stops decreasing (the float64 floor: ``tol`` below ~1e-15 cannot be met).
    method : {"auto", "mgcg"}
        ``auto`` (default) takes the exact transform for every sample that has one and
        multigrid-CG for the rest; ``mgcg`` forces multigrid-preconditioned CG for every sample
        (so that ``initial_guess`` is used, e.g. to measure a warm start).
    on_miss : {"raise", "flag"}
        ``raise`` (default): a sample that misses ``tol`` (or whose field is not finite) is a
        one-line DiffbenchError. ``flag``: the result comes back with ``converged`` False for
        it; never use such a field as ground truth.

    Returns
    -------
    SolveResult

    Raises
    ------
    DiffbenchError (a ValueError)
        On bad shapes, non-finite or non-positive D, negative decay, unknown boundaries,
        singular problems (no Dirichlet side, no decay and no clamped cell), magnitudes
        float64 cannot hold (D spread over more than 2^500 in a sample, decay / D or a field
        beyond float64's range), and a missed ``tol`` unless ``on_miss="flag"``.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.zeros((32, 32)); s[16, 16] = 1.0
    >>> res = solve(s)
    >>> res.method, bool(res.residual < 1e-12), res.field.shape, res.converged
    ('dst', True, (32, 32), True)
    >>> tiny = solve(s * 1e-170)  # the certificate is scale-invariant: no underflow to 0
    >>> bool(tiny.residual < 1e-12), bool(abs(tiny.field).max() > 0)
    (True, True)
    """
    if method not in SOLVE_METHODS:
        raise DiffbenchError(f"method must be one of {', '.join(SOLVE_METHODS)}, got {method!r}")
    if on_miss not in ON_MISS:
        raise DiffbenchError(f"on_miss must be one of {', '.join(ON_MISS)}, got {on_miss!r}")
    s, xp, single = check_source(source)
    shape = s.shape
    bnd = parse_boundary(boundary)
    if not (
        isinstance(tol, numbers.Real)
        and not isinstance(tol, (bool, np.bool_))
        and math.isfinite(float(tol))
        and 0 < float(tol) < 1
    ):
        raise DiffbenchError(f"tol must be a number in (0, 1), got {tol!r}")
    tol = float(tol)
    if not (isinstance(maxiter, numbers.Integral) and not isinstance(maxiter, (bool, np.bool_)) and maxiter >= 1):
        raise DiffbenchError(f"maxiter must be an integer >= 1, got {maxiter!r}")
    maxiter = int(maxiter)

    # D and decay constant over each sample's lattice (scalars, (B,) arrays) stay (B, 1, 1): the
    # transform solve and its certificate need no (B, N, N) copies of them.
    D = as_float_array("diffusivity", expand_per_sample("diffusivity", diffusivity, shape), shape, xp, per_sample=True)
    if not bool(xp.isfinite(D).all()) or not bool((D > 0).all()):
        raise DiffbenchError(
            "diffusivity must be positive and finite everywhere (D > 0), got zero, negative, NaN or inf values"
        )
    g = as_float_array("decay", expand_per_sample("decay", decay, shape), shape, xp, per_sample=True)
    if not bool(xp.isfinite(g).all()) or not bool((g >= 0).all()):
        raise DiffbenchError("decay must be finite and >= 0 everywhere")

    mask = fvals = held = None
    if fixed is not None:
        try:
            fmask, fvals = fixed
        except (TypeError, ValueError):
            raise DiffbenchError("fixed must be a pair (mask, values)") from None
        mask = xp.asarray(fmask)
        if mask.dtype != bool:
            mask = mask != 0
        mask_shape = tuple(mask.shape)
        try:
            mask = xp.ascontiguousarray(xp.broadcast_to(mask, shape)) if mask.ndim in (2, 3) else None
        except ValueError:
            mask = None
        if mask is None:
            raise DiffbenchError(
                f"fixed mask must have the source's shape {tuple(source.shape)}, got shape {mask_shape}"
            )
        fvals = as_float_array("fixed values", fvals, shape, xp)
        if not bool(xp.isfinite(fvals).all()):
            raise DiffbenchError("fixed values must be finite")
        if not bool(mask.any()):
            mask = None
        held = fvals

    has_fixed = xp.zeros(shape[0], dtype=bool) if mask is None else mask.any(axis=(-2, -1))
    if not bnd.has_dirichlet:
        no_decay = ~(g > 0).any(axis=(-2, -1))
        singular = no_decay & ~has_fixed
        if bool(singular.any()):
            raise DiffbenchError(
                f"singular problem: boundary {bnd.describe()!r} with decay 0 and no clamped cells has no unique "
                "solution; add a Dirichlet side, decay > 0, or clamped cells"
            )

    x0 = None
    if initial_guess is not None:
        x0 = xp.asarray(initial_guess, dtype=xp.float64)
        if tuple(x0.shape) not in (tuple(source.shape), shape):
            raise DiffbenchError(
                f"initial_guess must have the source's shape {tuple(source.shape)}, got shape {tuple(x0.shape)}"
            )
        x0 = x0.reshape(shape)
        if not bool(xp.isfinite(x0).all()):
            raise DiffbenchError("initial_guess contains NaN or infinite values; it must be finite")

    # Rescale each sample by powers of two (exact: no bit of an ordinary problem changes), so
    # that max D and max |S| lie in [0.5, 1): the solve and its certificate then never under- or
    # overflow, whatever the problem's units. u = 2^ku u' with A' = 2^-kd A, S' = 2^-(kd+ku) S.
    # Within 2^RESCALE_FREE of that, the scaling is skipped (it would change no bit: the passes are saved).
    kd, ku = scale_exponents(s, D, g, mask, fvals, xp)
    rescale = bool((xp.maximum(xp.abs(kd), xp.abs(ku)).max() > RESCALE_FREE) | (xp.abs(kd + ku).max() > RESCALE_FREE))
    if rescale:
        s = xp.ldexp(s, -(kd + ku))
        D = xp.ldexp(D, -kd)
        g = xp.ldexp(g, -kd)
        if mask is not None:
            fvals = xp.ldexp(fvals, -ku)
        if x0 is not None:
            x0 = xp.ldexp(x0, -ku)
            if not bool(xp.isfinite(x0).all()):
                raise DiffbenchError(
                    "initial_guess is too large for this problem's solution (beyond float64's range once rescaled)"
                )
    else:
        ku = xp.zeros_like(ku)

    # The method is chosen per sample (constant D and decay, no clamped cell, and a transform
    # for this boundary), so a sample's result never depends on the rest of its batch.
    tname = transform_method(bnd)
    use_t = (D == D[:, :1, :1]).all(axis=(-2, -1)) & (g == g[:, :1, :1]).all(axis=(-2, -1)) & ~has_fixed
    use_t = np.asarray(to_numpy(use_t), dtype=bool) & (tname is not None) & (method == "auto")
    if use_t.all():
        u, res, iters = _transform_group(s, D, g, bnd, xp)
        method = tname
    elif not use_t.any():
        u, res, iters = _mgcg_group(s, D, g, bnd, mask, fvals, x0, tol, maxiter, xp)
        method = "mgcg"
    else:
        it, im = (xp.asarray(np.flatnonzero(sel)) for sel in (use_t, ~use_t))
        ut, rt, nt = _transform_group(s[it], D[it], g[it], bnd, xp)
        um, rm, nm = _mgcg_group(
            s[im],
            D[im],
            g[im],
            bnd,
            None if mask is None else mask[im],
            None if mask is None else fvals[im],
            None if x0 is None else x0[im],
            tol,
            maxiter,
            xp,
        )
        u = xp.empty(shape, dtype=xp.float64)
        res = xp.empty(shape[0], dtype=xp.float64)
        iters = xp.empty(shape[0], dtype=xp.int64)
        u[it], res[it], iters[it] = ut, rt, nt
        u[im], res[im], iters[im] = um, rm, nm
        method = f"{tname},mgcg"
    peak = peak_magnitude(u, xp)  # NaN or inf anywhere in a sample's field makes its peak non-finite
    finite = xp.isfinite(peak) & xp.isfinite(res)
    converged = finite & (res <= tol)
    u = scale_back(u, peak, ku, finite, rescale, xp)
    if mask is not None:  # clamped cells hold their given values exactly, even where 2^-ku v is subnormal
        u = xp.where(mask, held, u)
    if on_miss == "raise" and not bool(converged.all()):
        raise DiffbenchError(_miss_message(converged, finite, res, iters, use_t, tol, maxiter))
    if single:
        return SolveResult(u[0], float(res[0]), int(iters[0]), method, bool(converged[0]))
    return SolveResult(u, res, iters, method, converged)


def _miss_message(
    converged: Any, finite: Any, res: Any, iters: Any, use_t: np.ndarray, tol: float, maxiter: int
) -> str:
    ok, fin = np.asarray(to_numpy(converged)), np.asarray(to_numpy(finite))
    r, it = np.asarray(to_numpy(res)), np.asarray(to_numpy(iters))
    bad = np.flatnonzero(~ok)
    i = int(bad[0])
    if not fin[i]:
        why = "the field or residual is not finite"
    elif use_t[i]:
        why = "the exact transform solve's float64 rounding floor is above tol"
    elif it[i] >= maxiter:
        why = f"maxiter {maxiter} reached"
    else:
        why = f"stagnated after {int(it[i])} iterations (no progress: the float64 floor or an ill-conditioned problem)"
    return (
        f"solve missed tol {tol:g} for {bad.size} of {ok.size} sample(s) (first: sample {i}, residual {r[i]:.2e}: "
        f"{why}); nothing is certified; pass on_miss='flag' to get the fields with converged=False"
    )


def _transform_group(s: Any, D: Any, g: Any, bnd: Any, xp: Any) -> tuple[Any, Any, Any]:
    """Exact transform solve of samples with constant D and decay and no clamped cells."""
    d, gam = D[:, :1, :1], g[:, :1, :1]
    u = transform_solve(s, d, gam, bnd, xp)
    # The certificate of the assembled operator (build_stencil + relative_residual), to the
    # bit, from the per-sample constants: no (B, N, N) stencil to rebuild.
    res = uniform_relative_residual(d, gam, bnd, u, s, xp)
    return u, res, xp.zeros(s.shape[0], dtype=xp.int64)


def _mgcg_group(
    s: Any, D: Any, g: Any, bnd: Any, mask: Any, fvals: Any, x0: Any, tol: float, maxiter: int, xp: Any
) -> tuple[Any, Any, Any]:
    """Multigrid-preconditioned CG, with clamped cells moved to the right-hand side."""
    stencil = build_stencil(full_lattice(D, s.shape, xp), g, bnd)
    if mask is None:
        return pcg(stencil, s, xp, tol=tol, x0=x0, maxiter=maxiter)
    free = (~mask).astype(xp.float64)
    uc = xp.where(mask, fvals, 0.0)
    rhs = free * (s - stencil.apply(uc))
    dec = stencil.decouple(mask)
    v, res, iters = pcg(dec, rhs, xp, tol=tol, x0=None if x0 is None else free * (x0 - uc), maxiter=maxiter)
    u = free * v + uc
    # Certificate on the assembled field: ||free (A u - S)|| / ||S_free - A_free,fixed u_fixed||.
    num = (((stencil.apply(u) - s) * free) ** 2).sum(axis=(-2, -1)) ** 0.5
    den = (rhs**2).sum(axis=(-2, -1)) ** 0.5
    res = xp.where(den == 0, num, num / xp.where(den == 0, 1.0, den))
    return u, res, iters
