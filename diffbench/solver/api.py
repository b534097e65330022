"""``solve``: one entry point for every problem, the fastest exact method first."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DiffbenchError
from ..physics.boundary import BoundaryLike, parse_boundary
from ..physics.operator import build_stencil, relative_residual
from .backend import array_module
from .multigrid import pcg
from .transform import transform_method, transform_solve


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
        ``mgcg`` for multigrid-preconditioned conjugate gradients.
    """

    field: Any
    residual: Any
    iterations: Any
    method: str


def _as_float_array(name: str, value: Any, shape: tuple[int, ...], xp: Any) -> Any:
    arr = xp.asarray(value, dtype=xp.float64)
    try:
        arr = xp.broadcast_to(arr, shape)
    except ValueError:
        raise DiffbenchError(
            f"{name} must be a scalar or an array of the source's shape {shape}, got shape {tuple(arr.shape)}"
        ) from None
    return xp.ascontiguousarray(arr)


def _check_source(source: Any) -> tuple[Any, Any, bool]:
    if isinstance(source, (list, tuple)):
        source = np.asarray(source)
    try:
        xp = array_module(source)
    except DiffbenchError:
        raise DiffbenchError(
            f"source must be a NumPy or CuPy array of shape (N, N) or (B, N, N), got {type(source).__name__}"
        ) from None
    if source.ndim not in (2, 3):
        raise DiffbenchError(f"source must have shape (N, N) or (B, N, N), got {source.ndim} dimensions {tuple(source.shape)}")
    if source.shape[-1] != source.shape[-2]:
        raise DiffbenchError(f"source must be square (N, N), got {tuple(source.shape[-2:])}")
    if source.shape[-1] < 8:
        raise DiffbenchError(f"lattice size N must be at least 8, got {source.shape[-1]}")
    if source.dtype.kind not in "fiu" or source.dtype.kind == "b":
        raise DiffbenchError(f"source must hold real numbers (float or int), got dtype {source.dtype}")
    single = source.ndim == 2
    s = xp.asarray(source, dtype=xp.float64)
    if single:
        s = s[None]
    if not bool(xp.isfinite(s).all()):
        raise DiffbenchError("source contains NaN or infinite values; it must be finite")
    return s, xp, single


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
) -> SolveResult:
    """Solve ``-div(D grad u) + gamma u = S`` on the lattice, for one sample or a batch.

    Parameters
    ----------
    source : array (N, N) or (B, N, N), NumPy or CuPy
        S, the source per cell (physical units). The result comes back in the same library
        and shape.
    diffusivity : float or array of the source's shape
        D > 0 and finite.
    decay : float or array of the source's shape (or (B,) per sample)
        gamma >= 0.
    boundary : str or mapping
        ``dirichlet`` (default), ``neumann``, ``periodic``, or a mapping of the sides
        ``top, bottom, left, right`` to those.
    fixed : (mask, values), optional
        Cells that hold a given value (clamped sources) instead of receiving a flux.
    tol : float
        Relative residual target of the iterative method (transform solves are exact).
    initial_guess : array, optional
        Starting field for the iterative method (e.g. a surrogate's prediction).

    Returns
    -------
    SolveResult

    Raises
    ------
    DiffbenchError (a ValueError)
        On bad shapes, non-finite or non-positive D, negative decay, unknown boundaries,
        and singular problems (no Dirichlet side, no decay and no clamped cell).

    Examples
    --------
    >>> import numpy as np
    >>> s = np.zeros((32, 32)); s[16, 16] = 1.0
    >>> res = solve(s)
    >>> res.method, bool(res.residual < 1e-12), res.field.shape
    ('dst', True, (32, 32))
    """
    s, xp, single = _check_source(source)
    shape = s.shape
    bnd = parse_boundary(boundary)
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and 0 < tol < 1):
        raise DiffbenchError(f"tol must be a number in (0, 1), got {tol!r}")

    D = _as_float_array("diffusivity", diffusivity[..., None, None] if _per_sample(diffusivity, shape) else diffusivity, shape, xp)
    if not bool(xp.isfinite(D).all()) or not bool((D > 0).all()):
        raise DiffbenchError("diffusivity must be positive and finite everywhere (D > 0), got zero, negative, NaN or inf values")
    g = _as_float_array("decay", decay[..., None, None] if _per_sample(decay, shape) else decay, shape, xp)
    if not bool(xp.isfinite(g).all()) or not bool((g >= 0).all()):
        raise DiffbenchError("decay must be finite and >= 0 everywhere")

    mask = None
    if fixed is not None:
        try:
            fmask, fvals = fixed
        except (TypeError, ValueError):
            raise DiffbenchError("fixed must be a pair (mask, values)") from None
        mask = xp.asarray(fmask)
        if mask.dtype != bool:
            mask = mask != 0
        mask = xp.ascontiguousarray(xp.broadcast_to(mask, shape)) if mask.ndim in (2, 3) else None
        if mask is None:
            raise DiffbenchError(f"fixed mask must have the source's shape {tuple(source.shape)}")
        fvals = _as_float_array("fixed values", fvals, shape, xp)
        if not bool(xp.isfinite(fvals).all()):
            raise DiffbenchError("fixed values must be finite")
        if not bool(mask.any()):
            mask = None

    has_fixed = xp.zeros(shape[0], dtype=bool) if mask is None else mask.any(axis=(-2, -1))
    if not bnd.has_dirichlet:
        no_decay = ~(g > 0).any(axis=(-2, -1))
        singular = no_decay & ~has_fixed
        if bool(singular.any()):
            raise DiffbenchError(
                f"singular problem: boundary {bnd.describe()!r} with decay 0 and no clamped cells has no unique "
                "solution; add a Dirichlet side, decay > 0, or clamped cells"
            )

    method = transform_method(bnd)
    const_d = bool((D == D[:, :1, :1]).all())
    const_g = bool((g == g[:, :1, :1]).all())
    stencil = build_stencil(D, g, bnd)
    if method is not None and const_d and const_g and mask is None:
        u = transform_solve(s, D[:, :1, :1], g[:, :1, :1], bnd, xp)
        res = relative_residual(stencil, u, s)
        iters = xp.zeros(shape[0], dtype=xp.int64)
    else:
        method = "mgcg"
        x0 = None
        if initial_guess is not None:
            x0 = xp.asarray(initial_guess, dtype=xp.float64).reshape(shape)
        if mask is None:
            u, res, iters = pcg(stencil, s, xp, tol=tol, x0=x0, maxiter=maxiter)
        else:
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
    if single:
        return SolveResult(u[0], float(res[0]), int(iters[0]), method)
    return SolveResult(u, res, iters, method)


def _per_sample(value: Any, shape: tuple[int, ...]) -> bool:
    """A (B,) array given for a batch means one value per sample."""
    nd = getattr(value, "ndim", 0)
    return nd == 1 and len(shape) == 3 and value.shape[0] == shape[0] and shape[0] != shape[-1]
