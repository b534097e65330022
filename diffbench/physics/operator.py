"""The discrete operator A of ``-div(D grad u) + gamma u = S`` on the lattice.

For every cell c, the finite-volume balance is::

    sum over the 4 faces f of c:  D_f (u_c - u_n)  +  gamma_c u_c  =  S_c

with D_f the harmonic mean of the two cells' D. Outer faces follow the :class:`Boundary`:
Dirichlet faces see a ghost with u = 0 and D_f = D_c, Neumann faces carry no flux, periodic
faces wrap around. A is symmetric and, unless the problem is singular, positive definite.

Only slicing and arithmetic are used, so NumPy, CuPy and torch arrays all work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .boundary import Boundary, parse_boundary

Array = Any

#: :func:`uniform_relative_residual` works through a NumPy batch in blocks of samples of about
#: this many bytes, in two scratch arrays of one block that each thread keeps and reuses: the
#: block stays in cache through its ~15 passes, scratch memory does not grow with the batch, and
#: no fresh (B, N, N) array is page-faulted on every call (glibc hands large freed blocks back to
#: the kernel: ~0.4 ms per 25 x 64 x 64 float64 array here, as much as the arithmetic in it).
BLOCK_BYTES = 1 << 20
#: A thread keeps its scratch only up to this size per array (a block is one sample at least).
SCRATCH_KEEP_BYTES = 8 << 20
_scratch = threading.local()


def _scratch_pair(shape: tuple[int, ...], dtype: Any, xp: Any) -> tuple[Array, Array]:
    if xp is not np or int(np.prod(shape)) * np.dtype(dtype).itemsize > SCRATCH_KEEP_BYTES:
        return xp.empty(shape, dtype=dtype), xp.empty(shape, dtype=dtype)
    pair = getattr(_scratch, "pair", None)
    if pair is None or pair[0].shape != shape or pair[0].dtype != dtype:
        pair = _scratch.pair = (np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype))
    return pair


def _harmonic(a: Array, b: Array) -> Array:
    return 2.0 * a * b / (a + b)


def _sum2(x: Array) -> Array:
    return x.sum(axis=(-2, -1)) if not hasattr(x, "dim") else x.sum(dim=(-2, -1))


#: Per-sample 2-norms in ``[2^-450, 2^500]`` are taken as ``sqrt(sum(x^2))`` directly: no square
#: overflows and the ones that underflow weigh below 2^-100 of the sum. Outside that range (or
#: 0) the norm is taken again on ``x`` rescaled by the power of two of its largest entry, so
#: it never under- or overflows; inside it, both ways give the same bits.
NORM_SAFE = (2.0**-450, 2.0**500)


def norm2(x: Array) -> Array:
    """Per-sample 2-norm over the last two axes, free of under- and overflow (NumPy, CuPy, torch).

    >>> import numpy as np
    >>> float(norm2(np.full((1, 4, 4), 1e-170))[0])  # sqrt(sum(x^2)) would underflow to 0
    4e-170
    """
    if isinstance(x, np.ndarray):
        with np.errstate(over="ignore", under="ignore"):
            return _safe_norm(x, _sum2(x * x) ** 0.5)
    return _safe_norm(x, _sum2(x * x) ** 0.5)


_norm2 = norm2


def _safe_norm(x: Array, fast: Array) -> Array:
    """``fast`` (``sqrt(sum(x^2))`` per sample), recomputed on a rescaled ``x`` where it is not
    trustworthy (see :data:`NORM_SAFE`)."""
    lo, hi = NORM_SAFE
    bad = ~((fast >= lo) & (fast <= hi))
    if not bool(bad.any()):
        return fast
    if hasattr(x, "dim"):  # torch
        import torch

        def ldexp(a: Array, k: Array) -> Array:  # torch.ldexp is a * 2^k: in two halves, no 2^k overflow
            h = torch.div(k, 2, rounding_mode="floor")
            return torch.ldexp(torch.ldexp(a, h.to(a.dtype)), (k - h).to(a.dtype))

        peak = x.abs().amax(dim=(-2, -1))
        finite = torch.isfinite(peak)
        e = torch.frexp(torch.where(finite, peak, torch.ones_like(peak)))[1].long()
        y = ldexp(x, -e[..., None, None])
        robust = ldexp(_sum2(y * y) ** 0.5, e)
        return torch.where(bad & finite, robust, fast)
    xp = np if isinstance(x, np.ndarray) else __import__("cupy")
    peak = xp.abs(x).max(axis=(-2, -1))
    finite = xp.isfinite(peak)
    e = xp.frexp(xp.where(finite, peak, 1.0))[1]
    y = xp.ldexp(x, -e[..., None, None])
    robust = xp.ldexp(_sum2(y * y) ** 0.5, e)
    return xp.where(bad & finite, robust, fast)


@dataclass(frozen=True)
class Stencil:
    """The five-point operator as face conductances and a diagonal.

    Attributes
    ----------
    cx : array (..., N, N-1)
        Conductance of the face between columns j and j+1.
    cy : array (..., N-1, N)
        Conductance of the face between rows i and i+1.
    cx_wrap, cy_wrap : array (..., N) or None
        Conductance of the wrap-around face (periodic axes only).
    diag : array (..., N, N)
        Sum of the cell's face conductances, Dirichlet ghost faces and decay.

    Examples
    --------
    >>> import numpy as np
    >>> st = build_stencil(np.ones((8, 8)), 0.0, "dirichlet")
    >>> float(st.apply(np.ones((8, 8)))[0, 0])  # a corner cell sees two ghosts
    2.0
    """

    cx: Array
    cy: Array
    cx_wrap: Array | None
    cy_wrap: Array | None
    diag: Array

    def offdiag_apply(self, u: Array) -> Array:
        """(L + U) u: the neighbour coupling only, with the sign of A (negative)."""
        out = u * 0
        out[..., :, :-1] -= self.cx * u[..., :, 1:]
        out[..., :, 1:] -= self.cx * u[..., :, :-1]
        out[..., :-1, :] -= self.cy * u[..., 1:, :]
        out[..., 1:, :] -= self.cy * u[..., :-1, :]
        if self.cx_wrap is not None:
            out[..., :, -1] -= self.cx_wrap * u[..., :, 0]
            out[..., :, 0] -= self.cx_wrap * u[..., :, -1]
        if self.cy_wrap is not None:
            out[..., -1, :] -= self.cy_wrap * u[..., 0, :]
            out[..., 0, :] -= self.cy_wrap * u[..., -1, :]
        return out

    def apply(self, u: Array) -> Array:
        """A u."""
        return self.diag * u + self.offdiag_apply(u)

    def decouple(self, fixed: Array) -> Stencil:
        """The operator restricted to free cells, fixed cells kept as ``diag * I`` rows.

        ``fixed`` is a boolean or 0/1 array of the field's shape. Couplings from free cells to
        fixed cells are dropped (their values move to the right-hand side), so the result
        stays symmetric positive definite.
        """
        free = 1 - fixed * 1
        cx = self.cx * free[..., :, :-1] * free[..., :, 1:]
        cy = self.cy * free[..., :-1, :] * free[..., 1:, :]
        cxw = None if self.cx_wrap is None else self.cx_wrap * free[..., :, -1] * free[..., :, 0]
        cyw = None if self.cy_wrap is None else self.cy_wrap * free[..., -1, :] * free[..., 0, :]
        return replace(self, cx=cx, cy=cy, cx_wrap=cxw, cy_wrap=cyw)


def build_stencil(diffusivity: Array, decay: Array | float, boundary: Boundary | str | dict) -> Stencil:
    """Assemble the :class:`Stencil` for a diffusivity field, a decay and a boundary.

    Parameters
    ----------
    diffusivity : array (..., N, N)
        D per cell, positive and finite (checked by the solver, not here).
    decay : float or array broadcastable to (..., N, N)
        gamma >= 0.
    boundary : Boundary, str or mapping
        See :mod:`diffbench.physics.boundary`.
    """
    b = parse_boundary(boundary)
    D = diffusivity
    cx = _harmonic(D[..., :, :-1], D[..., :, 1:])
    cy = _harmonic(D[..., :-1, :], D[..., 1:, :])
    cx_wrap = _harmonic(D[..., :, -1], D[..., :, 0]) if b.periodic(-1) else None
    cy_wrap = _harmonic(D[..., -1, :], D[..., 0, :]) if b.periodic(-2) else None
    diag = D * 0 + decay
    diag[..., :, :-1] += cx
    diag[..., :, 1:] += cx
    diag[..., :-1, :] += cy
    diag[..., 1:, :] += cy
    if cx_wrap is not None:
        diag[..., :, -1] += cx_wrap
        diag[..., :, 0] += cx_wrap
    if cy_wrap is not None:
        diag[..., -1, :] += cy_wrap
        diag[..., 0, :] += cy_wrap
    if b.left == "dirichlet":
        diag[..., :, 0] += D[..., :, 0]
    if b.right == "dirichlet":
        diag[..., :, -1] += D[..., :, -1]
    if b.top == "dirichlet":
        diag[..., 0, :] += D[..., 0, :]
    if b.bottom == "dirichlet":
        diag[..., -1, :] += D[..., -1, :]
    return Stencil(cx, cy, cx_wrap, cy_wrap, diag)


def relative_residual(stencil: Stencil, u: Array, rhs: Array, free: Array | None = None) -> Array:
    """Per-sample ``||A u - rhs|| / ||rhs||`` over the free cells (``||A u||`` when rhs is 0).

    ``free`` (0/1, the field's shape) restricts both norms to cells that are not clamped;
    ``rhs`` must then already hold the clamped values' contribution (see the solver).
    """
    r = stencil.apply(u) - rhs
    if free is not None:
        r = r * free
        rhs = rhs * free
    num, den = _norm2(r), _norm2(rhs)
    # A zero right-hand side leaves the absolute residual (dividing by 1).
    return num / (den + (den == 0))


def uniform_relative_residual(
    d: Array, decay: Array, boundary: Boundary | str | dict, u: Array, rhs: Array, xp: Any
) -> Array:
    """:func:`relative_residual` of the operator with per-sample constant D and decay, bit for bit,
    without assembling its full stencil.

    ``d`` and ``decay`` have shape (B, 1, 1); ``u`` and ``rhs`` (B, N, N) with N >= 3. The
    result equals ``relative_residual(build_stencil(D, decay, boundary), u, rhs)`` for the
    full arrays ``D`` and ``decay`` holding these values, to the last bit: every cell sees the
    same floating-point operations in the same order. The face conductances are the one scalar
    ``2 d d / (d + d)`` per sample, and the diagonal takes one of nine values (corner, edge or
    interior along each axis), taken from the stencil of a 3 x 3 lattice, whose cells go
    through exactly the additions of those classes. Work: about 15 contiguous passes over the
    field, block by block (:data:`BLOCK_BYTES`), with two blocks of scratch, instead of the
    stencil's five arrays (the faces, the diagonal and D) and the temporaries of applying it.
    """
    b = parse_boundary(boundary)
    B, n = u.shape[0], u.shape[-1]
    small = build_stencil(xp.broadcast_to(d, (B, 3, 3)), decay, b)
    c = small.cx[:, :1, :1]  # every face, wrap faces included, has this conductance
    k = max(1, min(B, BLOCK_BYTES // (n * n * u.itemsize))) if xp is np else B
    off, t3 = _scratch_pair((k, n, n), u.dtype, xp)
    num, den = xp.empty(B, dtype=u.dtype), xp.empty(B, dtype=u.dtype)
    for a in range(0, B, k):
        z = slice(a, min(a + k, B))
        m = z.stop - z.start
        num[z], den[z] = _uniform_residual_block(c[z], small.diag[z], b, u[z], rhs[z], off[:m], t3[:m], xp)
    return num / (den + (den == 0))


def _uniform_residual_block(
    c: Array, diag: Array, b: Boundary, u: Array, rhs: Array, off: Array, t3: Array, xp: Any
) -> tuple[Array, Array]:
    """``||A u - rhs||`` and ``||rhs||`` per sample of a block, in the scratch ``off`` and ``t3``."""
    m, n = u.shape[0], u.shape[-1]
    # A u in the order of Stencil.apply: diag u + ((((u 0 - c u_right) - c u_left) - c u_down) - c u_up).
    # Each neighbour term is formed on the flattened lattice (contiguous passes); the entries
    # that would couple across a row end are set to +0 first, and x - (+0) == x exactly.
    uf = u.reshape(m, n * n)
    of, tmp = off.reshape(m, n * n), t3.reshape(m, n * n)
    xp.multiply(u, 0, out=off)
    xp.multiply(c[..., 0], uf[:, 1:], out=tmp[:, :-1])  # right neighbour of cell k: k + 1
    t3[:, :, -1] = 0.0
    of[:, :-1] -= tmp[:, :-1]
    xp.multiply(c[..., 0], uf[:, :-1], out=tmp[:, 1:])  # left neighbour: k - 1
    t3[:, :, 0] = 0.0
    of[:, 1:] -= tmp[:, 1:]
    xp.multiply(c, u[:, 1:, :], out=t3[:, :-1, :])
    off[:, :-1, :] -= t3[:, :-1, :]
    xp.multiply(c, u[:, :-1, :], out=t3[:, 1:, :])
    off[:, 1:, :] -= t3[:, 1:, :]
    if b.periodic(-1):
        off[:, :, -1] -= c[..., 0] * u[:, :, 0]
        off[:, :, 0] -= c[..., 0] * u[:, :, -1]
    if b.periodic(-2):
        off[:, -1, :] -= c[..., 0] * u[:, 0, :]
        off[:, 0, :] -= c[..., 0] * u[:, -1, :]
    # diag u (into the scratch): the interior value everywhere (one contiguous pass), then the
    # border cells' own.
    r = xp.multiply(diag[:, 1:2, 1:2], u, out=t3)
    classes = ((0, slice(0, 1)), (1, slice(1, n - 1)), (2, slice(n - 1, n)))
    for i, rows in classes:
        for j, cols in classes:
            if i != 1 or j != 1:
                xp.multiply(diag[:, i : i + 1, j : j + 1], u[:, rows, cols], out=r[:, rows, cols])
    r += off
    r -= rhs
    with np.errstate(over="ignore", under="ignore"):
        xp.multiply(r, r, out=off)
        num = _safe_norm(r, _sum2(off) ** 0.5)
        xp.multiply(rhs, rhs, out=off)
        return num, _safe_norm(rhs, _sum2(off) ** 0.5)


def scaled_relative_residual(stencil: Stencil, u: Array, source: Array) -> Array:
    """Per-sample relative residual of ``alpha * u`` with the best scalar ``alpha``.

    A surrogate predicts fields in normalised units (max 1), so its physical scale is lost;
    ``alpha = <A u, S> / <A u, A u>`` restores it, and the result
    ``||alpha A u - S|| / ||S||`` measures how far the prediction's *shape* is from solving
    the equation. It needs no ground truth. It is 0 for an exact solution and 1 for u = 0.
    """
    au = stencil.apply(u)
    num = _sum2(au * source)
    den = _sum2(au * au)
    alpha = num / (den + (den == 0))
    alpha = alpha[..., None, None]
    s_norm = _norm2(source)
    return _norm2(alpha * au - source) / (s_norm + (s_norm == 0))
