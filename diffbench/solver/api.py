"""``solve``: one entry point for every problem, the fastest exact method first."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DiffbenchError
from ..physics.boundary import BoundaryLike, parse_boundary
from ..physics.operator import build_stencil, uniform_relative_residual
from .backend import array_module, to_numpy
from .multigrid import pcg
from .transform import transform_method, transform_solve

#: What ``solve(method=...)`` accepts.
SOLVE_METHODS = ("auto", "mgcg")


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
    """

    field: Any
    residual: Any
    iterations: Any
    method: str


def _as_float_array(name: str, value: Any, shape: tuple[int, ...], xp: Any, per_sample: bool = False) -> Any:
    """``value`` as float64 of ``shape``; with ``per_sample``, a value constant over each
    sample's lattice (a scalar, (B, 1, 1), ...) stays (B, 1, 1) instead of being expanded."""
    arr = xp.asarray(value, dtype=xp.float64)
    if per_sample and arr.ndim <= 3 and all(s == 1 for s in arr.shape[-2:]):
        try:
            return xp.ascontiguousarray(xp.broadcast_to(arr, shape[:1] + (1, 1)))
        except ValueError:
            pass  # e.g. (2, 1, 1) against a batch of 3: refused below with the full shape
    try:
        arr = xp.broadcast_to(arr, shape)
    except ValueError:
        raise DiffbenchError(
            f"{name} must be a scalar or an array of the source's shape {shape}, got shape {tuple(arr.shape)}"
        ) from None
    return xp.ascontiguousarray(arr)


def _full(a: Any, shape: tuple[int, ...], xp: Any) -> Any:
    """A (B, 1, 1) coefficient as a (B, N, N) array (a read-only broadcast view: no copy)."""
    return a if tuple(a.shape) == shape else xp.broadcast_to(a, shape)


def _check_source(source: Any) -> tuple[Any, Any, bool]:
    if isinstance(source, (list, tuple)):
        source = np.asarray(source)
    try:
        xp = array_module(source)
    except DiffbenchError:
        raise DiffbenchError(
            f"source must be a NumPy or CuPy array of shape (N, N) or (B, N, N), got {type(source).__name__}"
        ) from None
    if xp is np:
        source = np.asarray(source)  # a Python scalar or a string passes array_module as "NumPy"
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
    method: str = "auto",
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
        Relative residual target of the iterative method (transform solves are exact).
    initial_guess : array, optional
        Starting field for the iterative method (e.g. a surrogate's prediction).
    maxiter : int
        Most Krylov iterations per sample.
    method : {"auto", "mgcg"}
        ``auto`` (default) takes the exact transform for every sample that has one and
        multigrid-CG for the rest; ``mgcg`` forces multigrid-preconditioned CG for every sample
        (so that ``initial_guess`` is used, e.g. to measure a warm start).

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
    if method not in SOLVE_METHODS:
        raise DiffbenchError(f"method must be one of {', '.join(SOLVE_METHODS)}, got {method!r}")
    s, xp, single = _check_source(source)
    shape = s.shape
    bnd = parse_boundary(boundary)
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and 0 < tol < 1):
        raise DiffbenchError(f"tol must be a number in (0, 1), got {tol!r}")

    # D and decay constant over each sample's lattice (scalars, (B,) arrays) stay (B, 1, 1): the
    # transform solve and its certificate need no (B, N, N) copies of them.
    D = _as_float_array("diffusivity", _expand_per_sample("diffusivity", diffusivity, shape), shape, xp, per_sample=True)
    if not bool(xp.isfinite(D).all()) or not bool((D > 0).all()):
        raise DiffbenchError("diffusivity must be positive and finite everywhere (D > 0), got zero, negative, NaN or inf values")
    g = _as_float_array("decay", _expand_per_sample("decay", decay, shape), shape, xp, per_sample=True)
    if not bool(xp.isfinite(g).all()) or not bool((g >= 0).all()):
        raise DiffbenchError("decay must be finite and >= 0 everywhere")

    mask = fvals = None
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
            raise DiffbenchError(f"fixed mask must have the source's shape {tuple(source.shape)}, got shape {mask_shape}")
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
            s[im], D[im], g[im], bnd,
            None if mask is None else mask[im], None if mask is None else fvals[im],
            None if x0 is None else x0[im], tol, maxiter, xp,
        )
        u = xp.empty(shape, dtype=xp.float64)
        res = xp.empty(shape[0], dtype=xp.float64)
        iters = xp.empty(shape[0], dtype=xp.int64)
        u[it], res[it], iters[it] = ut, rt, nt
        u[im], res[im], iters[im] = um, rm, nm
        method = f"{tname},mgcg"
    if single:
        return SolveResult(u[0], float(res[0]), int(iters[0]), method)
    return SolveResult(u, res, iters, method)


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
    stencil = build_stencil(_full(D, s.shape, xp), g, bnd)
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


def _expand_per_sample(name: str, value: Any, shape: tuple[int, ...]) -> Any:
    """A (B,) array means one value per sample (shaped (B, 1, 1)); any other 1-D array is an error.

    A 1-D array is never broadcast along the column axis: with B == N that would silently turn
    per-sample values into a profile across x.
    """
    if getattr(value, "ndim", 0) != 1:
        return value
    if value.shape[0] == shape[0]:
        return value[:, None, None]
    raise DiffbenchError(
        f"{name} must be a scalar, one value per sample (shape ({shape[0]},)) or an array of the source's "
        f"shape {tuple(shape[-2:])} or {tuple(shape)}, got shape {tuple(value.shape)}"
    )
