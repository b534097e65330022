"""Conjugate gradients preconditioned by one geometric multigrid V-cycle, batched.

Used for variable D, clamped cells, and boundaries with different types on the two sides of
an axis — the problems without an exact transform. All samples of a batch iterate together
as arrays of shape (B, N, N); a sample stops updating once its own residual meets the
tolerance, so its result does not depend on what else is in the batch.

The hierarchy is algebraic in spirit but geometric in layout: each coarse cell aggregates a
2 x 2 block, and the coarse operator is the Galerkin product ``P^T A P`` with piecewise-constant
``P``, computed directly on the stencil arrays (faces crossing a block add, faces inside it
fold into the diagonal). An odd side is first padded by one row and column of cells with no
coupling and a zero diagonal, so its last aggregates are 2 x 1, 1 x 2 or 1 x 1 blocks of real
cells (the Galerkin product is unchanged by the padding). The smoother is red-black
Gauss-Seidel, forward before and backward after the coarse correction, so the V-cycle is a
symmetric preconditioner; each colour update touches only that colour's cells
(:class:`RedBlack`: half the work of a full-grid masked update, which was ~70% of a solve). The coarsest level (at most 8 cells a side) is solved with a dense
inverse per sample when it has at most 256 cells, else with symmetric Gauss-Seidel sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..physics.operator import Stencil

#: Scale of the coarse correction: piecewise-constant aggregation makes the coarse operator
#: about twice as stiff as a rediscretisation, so its correction is enlarged to compensate.
COARSE_SCALE = 2.0
SMOOTHING_SWEEPS = 2
COARSEST_SIDE = 8
#: A guard on the dense coarsest solve, which costs M^3 flops and M^2 floats per sample (M cells):
#: at M = 4096 that was ~10 s and 128 MiB per sample on a CPU. With COARSEST_SIDE = 8 the
#: coarsest level has at most 64 cells.
DENSE_COARSEST_MAX_CELLS = 256
RED_BLACK, BLACK_RED = (0, 1), (1, 0)


def _dot(a: Any, b: Any) -> Any:
    return (a * b).sum(axis=(-2, -1))


def pad_to_even(st: Stencil, xp: Any) -> Stencil:
    """An odd-sided stencil padded with one row and column of uncoupled, zero-diagonal cells.

    The padded cells add nothing to any Galerkin sum, so ``coarsen(pad_to_even(st))`` is the
    Galerkin operator of the real cells aggregated in 2 x 2 blocks, clipped at the last row and
    column. Even-sided stencils come back unchanged.
    """
    n = st.diag.shape[-1]
    if n % 2 == 0:
        return st
    lead = st.diag.shape[:-2]

    def pad(a: Any, shape: tuple[int, ...]) -> Any:
        out = xp.zeros(lead + shape, dtype=a.dtype)
        out[(Ellipsis,) + tuple(slice(0, s) for s in a.shape[len(lead) :])] = a
        return out

    return Stencil(
        pad(st.cx, (n + 1, n)),
        pad(st.cy, (n, n + 1)),
        None if st.cx_wrap is None else pad(st.cx_wrap, (n + 1,)),
        None if st.cy_wrap is None else pad(st.cy_wrap, (n + 1,)),
        pad(st.diag, (n + 1, n + 1)),
    )


def coarsen(st: Stencil) -> Stencil:
    """Galerkin coarse stencil for 2 x 2 aggregation (N must be even: see :func:`pad_to_even`)."""
    cx, cy, d = st.cx, st.cy, st.diag
    cx_c = cx[..., 0::2, 1::2] + cx[..., 1::2, 1::2]
    cy_c = cy[..., 1::2, 0::2] + cy[..., 1::2, 1::2]
    inner_x = cx[..., 0::2, 0::2] + cx[..., 1::2, 0::2]
    inner_y = cy[..., 0::2, 0::2] + cy[..., 0::2, 1::2]
    diag_c = d[..., 0::2, 0::2] + d[..., 0::2, 1::2] + d[..., 1::2, 0::2] + d[..., 1::2, 1::2]
    diag_c = diag_c - 2.0 * inner_x - 2.0 * inner_y
    cxw = None if st.cx_wrap is None else st.cx_wrap[..., 0::2] + st.cx_wrap[..., 1::2]
    cyw = None if st.cy_wrap is None else st.cy_wrap[..., 0::2] + st.cy_wrap[..., 1::2]
    return Stencil(cx_c, cy_c, cxw, cyw, diag_c)


def dense_matrix(st: Stencil, xp: Any) -> Any:
    """The (B, M, M) matrices of a batch of stencils, M = N * N."""
    b, n = st.diag.shape[0], st.diag.shape[-1]
    m = n * n
    a = xp.zeros((b, m, m), dtype=st.diag.dtype)
    idx = xp.arange(m).reshape(n, n)
    a[:, idx, idx] = st.diag
    a[:, idx[:, :-1], idx[:, 1:]] -= st.cx
    a[:, idx[:, 1:], idx[:, :-1]] -= st.cx
    a[:, idx[:-1, :], idx[1:, :]] -= st.cy
    a[:, idx[1:, :], idx[:-1, :]] -= st.cy
    if st.cx_wrap is not None:
        a[:, idx[:, -1], idx[:, 0]] -= st.cx_wrap
        a[:, idx[:, 0], idx[:, -1]] -= st.cx_wrap
    if st.cy_wrap is not None:
        a[:, idx[-1, :], idx[0, :]] -= st.cy_wrap
        a[:, idx[0, :], idx[-1, :]] -= st.cy_wrap
    return a


class RedBlack:
    """Red-black Gauss-Seidel on half the cells: each colour updated from the other's values only.

    The field is laid out with an odd row length R (N, or N + 1 with a zero ghost column when N
    is even), so a cell's colour is the parity of its flat index ``i R + j`` and each colour is a
    contiguous array; its four neighbours are the other colour's array shifted by a constant
    (+-1 and +-R in flat index become constant shifts in the half-arrays, zero-padded at both
    ends). Wrap-around faces (periodic axes) are added from short index lists. One colour update
    is ``u_c = (f_c + sum_k c_k u_(other, shifted by s_k)) / diag_c``: the same Gauss-Seidel
    update as ``where(colour, (f - offdiag(u)) / diag, u)``, on half the cells, with no full-grid
    temporaries. Coefficients, shifts and inverse diagonals are computed once per level.
    """

    def __init__(self, st: Stencil, xp: Any) -> None:
        self.xp = xp
        n = st.diag.shape[-1]
        self.lead = st.diag.shape[:-2]
        b = 1
        for k in self.lead:
            b *= int(k)
        self.b, self.n = b, n
        self.r = r = n if n % 2 else n + 1
        total = n * r
        self.len = ((total + 1) // 2, total // 2)
        self.pad = (r + 1) // 2
        dt = st.diag.dtype

        def grid(fill: Any, where: tuple[slice, slice]) -> Any:
            g = xp.zeros((b, n, r), dtype=dt)
            g[(slice(None),) + where] = fill.reshape((b,) + tuple(fill.shape[len(self.lead) :]))
            return g.reshape(b, total)

        maps = {
            "E": (grid(st.cx, (slice(None), slice(0, n - 1))), 1),
            "W": (grid(st.cx, (slice(None), slice(1, n))), -1),
            "S": (grid(st.cy, (slice(0, n - 1), slice(0, n))), r),
            "N": (grid(st.cy, (slice(1, n), slice(0, n))), -r),
        }
        invd = grid(1.0 / st.diag, (slice(None), slice(0, n)))
        self.invd = [xp.ascontiguousarray(invd[:, c::2]) for c in (0, 1)]
        # terms[c]: (coefficient on colour c's cells, offset into the other colour's padded array)
        self.terms: list[list[tuple[Any, int]]] = [[], []]
        for c in (0, 1):
            for coef, delta in maps.values():
                shift = (delta + 2 * c - 1) // 2
                self.terms[c].append((xp.ascontiguousarray(coef[:, c::2]), self.pad + shift))
        # Wrap-around faces: (target index in colour c, source colour, source index, coefficient (B, k)).
        self.wraps: list[list[tuple[Any, int, Any, Any]]] = [[], []]
        ii = list(range(n))
        pairs = []
        if st.cx_wrap is not None:
            w = st.cx_wrap.reshape(b, n)
            pairs += [((i, 0), (i, n - 1), w[:, i]) for i in ii] + [((i, n - 1), (i, 0), w[:, i]) for i in ii]
        if st.cy_wrap is not None:
            w = st.cy_wrap.reshape(b, n)
            pairs += [((0, j), (n - 1, j), w[:, j]) for j in ii] + [((n - 1, j), (0, j), w[:, j]) for j in ii]
        groups: dict[tuple[int, int, str], list[Any]] = {}
        for k, ((ti, tj), (si, sj), coef) in enumerate(pairs):
            kind = "x" if (k < 2 * n and st.cx_wrap is not None) else "y"
            tf, sf = ti * r + tj, si * r + sj
            key = (tf % 2, sf % 2, kind)
            groups.setdefault(key, []).append((tf // 2, self.pad + sf // 2, coef))
        for (tc, sc, _), items in sorted(groups.items()):
            tgt = xp.asarray([t for t, _, _ in items])
            src = xp.asarray([s_ for _, s_, _ in items])
            coef = xp.stack([c_ for _, _, c_ in items], axis=-1)
            self.wraps[tc].append((tgt, sc, src, coef))

    def split(self, u: Any) -> list[Any]:
        """The two colours of ``u`` (lead..., N, N) as zero-padded contiguous arrays (B, pad + M_c + pad)."""
        xp, b, n, r, p = self.xp, self.b, self.n, self.r, self.pad
        u = u.reshape(b, n, n)
        if r != n:
            g = xp.zeros((b, n, r), dtype=u.dtype)
            g[..., :n] = u
            flat = g.reshape(b, n * r)
        else:
            flat = xp.ascontiguousarray(u).reshape(b, n * r)
        out = []
        for c in (0, 1):
            v = xp.zeros((b, self.len[c] + 2 * p), dtype=u.dtype)
            v[:, p : p + self.len[c]] = flat[:, c::2]
            out.append(v)
        return out

    def zeros(self, dtype: Any) -> list[Any]:
        return [self.xp.zeros((self.b, self.len[c] + 2 * self.pad), dtype=dtype) for c in (0, 1)]

    def merge(self, v: list[Any]) -> Any:
        xp, b, n, r, p = self.xp, self.b, self.n, self.r, self.pad
        flat = xp.empty((b, n * r), dtype=v[0].dtype)
        for c in (0, 1):
            flat[:, c::2] = v[c][:, p : p + self.len[c]]
        u = flat.reshape(b, n, r)
        if r != n:
            u = xp.ascontiguousarray(u[..., :n])
        return u.reshape(self.lead + (n, n))

    def update(self, v: list[Any], f: list[Any], c: int) -> None:
        """One colour's Gauss-Seidel update, in place in ``v[c]`` (``f`` split like ``v``)."""
        xp, p, m = self.xp, self.pad, self.len[c]
        other = v[1 - c]
        acc = f[c][:, p : p + m].copy()
        tmp = xp.empty_like(acc)
        for coef, off in self.terms[c]:
            xp.multiply(coef, other[:, off : off + m], out=tmp)
            acc += tmp
        for tgt, sc, src, coef in self.wraps[c]:
            acc[:, tgt] += coef * v[sc][:, src]
        acc *= self.invd[c]
        v[c][:, p : p + m] = acc


@dataclass
class _Level:
    stencil: Stencil
    smoother: RedBlack
    coarse_inverse: Any = None


def _inverse(a: Any, xp: Any) -> Any:
    """The inverse of one coarsest matrix; its pseudo-inverse when it is singular in float64 (a
    problem only just non-singular, e.g. periodic with decay 1e-301: CG then stops on stagnation
    rather than the solve ending in a LinAlgError)."""
    try:
        return xp.linalg.inv(a)
    except np.linalg.LinAlgError:  # CuPy raises NumPy's (when it checks at all)
        return xp.linalg.pinv(a)


class MultigridPreconditioner:
    """A symmetric V-cycle for a batch of stencils (B, N, N).

    Examples
    --------
    >>> import numpy as np
    >>> from diffbench.physics import build_stencil
    >>> st = build_stencil(np.ones((2, 32, 32)), 0.0, "dirichlet")
    >>> mg = MultigridPreconditioner(st, np)
    >>> mg(np.ones((2, 32, 32))).shape
    (2, 32, 32)
    """

    def __init__(self, stencil: Stencil, xp: Any) -> None:
        self.xp = xp
        self.levels: list[_Level] = []
        st = stencil
        while True:
            n = st.diag.shape[-1]
            if n <= COARSEST_SIDE and n * n <= DENSE_COARSEST_MAX_CELLS:
                self.levels.append(_Level(st, None))  # solved densely: no smoother needed
                break
            self.levels.append(_Level(st, RedBlack(st, xp)))
            if n <= COARSEST_SIDE:
                break
            st = coarsen(pad_to_even(st, xp))
        last = self.levels[-1]
        n = last.stencil.diag.shape[-1]
        if n * n <= DENSE_COARSEST_MAX_CELLS:
            # One inverse per sample, applied below as a row-wise multiply-and-sum rather than a
            # batched inverse and matmul: on the GPU, cuBLAS/cuSOLVER pick their batched kernels by
            # batch size, so a sample's bits changed with the batch it was solved in.
            dense = dense_matrix(last.stencil, xp)
            last.coarse_inverse = xp.stack([_inverse(dense[i], xp) for i in range(dense.shape[0])])

    def _smooth(self, level: _Level, u: Any, fs: list[Any], order: tuple[int, int]) -> Any:
        """SMOOTHING_SWEEPS red-black sweeps, colours in ``order`` (0 = red, (i + j) even).

        ``fs`` is the right-hand side split by the level's :class:`RedBlack`; ``u`` None means zeros.
        """
        rb = level.smoother
        v = rb.zeros(fs[0].dtype) if u is None else rb.split(u)
        for _ in range(SMOOTHING_SWEEPS):
            for colour in order:
                rb.update(v, fs, colour)
        return rb.merge(v)

    def _cycle(self, k: int, f: Any) -> Any:
        xp, level = self.xp, self.levels[k]
        if level.coarse_inverse is not None:
            b, n = f.shape[0], f.shape[-1]
            return (level.coarse_inverse * f.reshape(b, 1, n * n)).sum(axis=-1).reshape(f.shape)
        fs = level.smoother.split(f)
        if k == len(self.levels) - 1:  # too large for a dense solve: many symmetric sweeps
            u = None
            for _ in range(10):
                u = self._smooth(level, u, fs, RED_BLACK)
                u = self._smooth(level, u, fs, BLACK_RED)
            return u
        u = self._smooth(level, None, fs, RED_BLACK)
        r = f - level.stencil.apply(u)
        n = r.shape[-1]
        if n % 2:  # zero residual on the padding cells
            rp = xp.zeros(r.shape[:-2] + (n + 1, n + 1), dtype=r.dtype)
            rp[..., :n, :n] = r
            r = rp
        rc = r[..., 0::2, 0::2] + r[..., 0::2, 1::2] + r[..., 1::2, 0::2] + r[..., 1::2, 1::2]
        ec = self._cycle(k + 1, rc) * COARSE_SCALE
        e = xp.repeat(xp.repeat(ec, 2, axis=-2), 2, axis=-1)[..., :n, :n]
        u = u + e
        return self._smooth(level, u, fs, BLACK_RED)

    def __call__(self, r: Any) -> Any:
        return self._cycle(0, r)


#: Stagnation stop of :func:`pcg`: a sample whose residual has not dropped by :data:`STALL_FACTOR`
#: over :data:`STALL_WINDOW` of its iterations stops. Inside a CG cycle this is watched on the
#: recurrence residual (the sample is restarted from its iterate), across restarts on the true
#: residual (the sample stops, not converged: it has reached the float64 rounding floor above
#: ``tol``, or the problem is too ill-conditioned for CG). Multigrid-CG gains a factor of 2 in
#: one to a few iterations on every problem it can solve, so a converging sample never stops here.
STALL_FACTOR = 0.5
STALL_WINDOW = 300


def pcg(
    stencil: Stencil,
    rhs: Any,
    xp: Any,
    *,
    tol: float = 1e-8,
    x0: Any = None,
    maxiter: int = 500,
) -> tuple[Any, Any, Any]:
    """Solve ``stencil u = rhs`` for a batch; returns (u, relative residual, iterations).

    The relative residual is recomputed from ``rhs - A u`` at the end (never taken from the
    CG recurrence); samples whose recurrence residual drifted are restarted from their
    current iterate until the true residual meets ``tol``, ``maxiter`` is reached, or the
    residual stops decreasing (see :data:`STALL_WINDOW`): a sample that returns with a
    residual above ``tol`` after fewer than ``maxiter`` iterations stagnated.
    """
    mg = MultigridPreconditioner(stencil, xp)
    u = xp.zeros_like(rhs) if x0 is None else x0.astype(rhs.dtype, copy=True)
    bnorm = _dot(rhs, rhs) ** 0.5
    bnorm_safe = xp.where(bnorm == 0, 1.0, bnorm)
    iters = xp.zeros(rhs.shape[0], dtype=xp.int64)
    ref = since = None
    while True:
        r = rhs - stencil.apply(u)
        rel = _dot(r, r) ** 0.5 / bnorm_safe
        if ref is None:
            ref, since = rel, iters
        else:  # a restart: has the true residual gained a meaningful factor lately?
            improved = rel <= STALL_FACTOR * ref
            ref = xp.where(improved, rel, ref)
            since = xp.where(improved, iters, since)
        # maxiter counts each sample's own iterations, so a sample stops where it would alone.
        active = (rel > tol) & (iters < maxiter) & (iters - since < STALL_WINDOW)
        if not bool(active.any()):
            return u, rel, iters
        z = mg(r)
        p = z
        rz = _dot(r, z)
        target = 0.5 * tol * bnorm_safe
        inner_ref, inner_at = _dot(r, r) ** 0.5, iters
        while True:
            ap = stencil.apply(p)
            pap = _dot(p, ap)
            alpha = xp.where(active, rz / xp.where(pap == 0, 1.0, pap), 0.0)
            u = u + alpha[:, None, None] * p
            r = r - alpha[:, None, None] * ap
            iters = iters + active
            rnorm = _dot(r, r) ** 0.5
            gained = rnorm <= STALL_FACTOR * inner_ref
            inner_ref = xp.where(gained, rnorm, inner_ref)
            inner_at = xp.where(gained, iters, inner_at)
            active = active & (rnorm > target) & (iters < maxiter) & (iters - inner_at < STALL_WINDOW)
            if not bool(active.any()):
                break
            z = mg(r)
            rz_new = _dot(r, z)
            beta = xp.where(active, rz_new / xp.where(rz == 0, 1.0, rz), 0.0)
            p = z + beta[:, None, None] * p
            rz = rz_new
