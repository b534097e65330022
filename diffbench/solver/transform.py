"""Exact fast solves for constant-coefficient problems by diagonalising transforms.

With D and gamma constant (per sample) and each axis's two sides of one type, A is a sum of
two 1-D second-difference matrices, each diagonalised by a transform:

=============  ============================  =====================================
axis sides     transform                     eigenvalues (k = 0 .. N-1)
=============  ============================  =====================================
dirichlet      DST-I                         2 - 2 cos(pi (k+1) / (N+1))
neumann        DCT-II (orthonormal)          2 - 2 cos(pi k / N)
periodic       FFT                           2 - 2 cos(2 pi k / N)
=============  ============================  =====================================

so ``u = T^-1 [ T S / (D (lam_y + lam_x) + gamma) ]`` exactly (to rounding), in
O(N^2 log N). DST-I is computed from a real FFT of the odd extension, so the code is the same
on NumPy and CuPy (CuPy has no DST-I).
"""

from __future__ import annotations

from typing import Any

from ..physics.boundary import Boundary
from .backend import fft_module


def _moveaxis(x: Any, axis: int, xp: Any) -> Any:
    return xp.moveaxis(x, axis, -1)


def dst1(x: Any, axis: int, xp: Any) -> Any:
    """Unnormalised DST-I along ``axis``: ``y_k = 2 sum_n x_n sin(pi (k+1)(n+1) / (N+1))``.

    Complex input (the inverse after an FFT on the other axis) is transformed part by part:
    the real FFT used here rejects complex data.
    """
    if xp.iscomplexobj(x):
        return dst1(x.real, axis, xp) + 1j * dst1(x.imag, axis, xp)
    x = _moveaxis(x, axis, xp)
    n = x.shape[-1]
    ext = xp.zeros(x.shape[:-1] + (2 * n + 2,), dtype=x.dtype)
    ext[..., 1 : n + 1] = x
    ext[..., n + 2 :] = -x[..., ::-1]
    y = -xp.fft.rfft(ext, axis=-1)[..., 1 : n + 1].imag
    return xp.moveaxis(y, -1, axis)


def idst1(y: Any, axis: int, xp: Any) -> Any:
    """Inverse of :func:`dst1`."""
    n = y.shape[axis]
    return dst1(y, axis, xp) / (2.0 * (n + 1))


def eigenvalues(kind: str, n: int, xp: Any) -> Any:
    k = xp.arange(n, dtype=xp.float64)
    if kind == "dirichlet":
        return 2.0 - 2.0 * xp.cos(xp.pi * (k + 1) / (n + 1))
    if kind == "neumann":
        return 2.0 - 2.0 * xp.cos(xp.pi * k / n)
    return 2.0 - 2.0 * xp.cos(2.0 * xp.pi * k / n)


def _forward(x: Any, kind: str, axis: int, xp: Any) -> Any:
    if kind == "dirichlet":
        return dst1(x, axis, xp)
    if kind == "neumann":
        return fft_module(xp).dct(x, type=2, axis=axis, norm="ortho")
    return xp.fft.fft(x, axis=axis)


def _inverse(x: Any, kind: str, axis: int, xp: Any) -> Any:
    if kind == "dirichlet":
        return idst1(x, axis, xp)
    if kind == "neumann":
        return fft_module(xp).idct(x, type=2, axis=axis, norm="ortho")
    return xp.fft.ifft(x, axis=axis)


def transform_method(boundary: Boundary) -> str | None:
    """The transform pair's name (e.g. ``dst`` or ``dst+fft``), or None if an axis mixes types."""
    ky, kx = boundary.axis_kind(-2), boundary.axis_kind(-1)
    if ky is None or kx is None:
        return None
    names = {"dirichlet": "dst", "neumann": "dct", "periodic": "fft"}
    return names[ky] if ky == kx else f"{names[ky]}+{names[kx]}"


def transform_solve(source: Any, d: Any, decay: Any, boundary: Boundary, xp: Any) -> Any:
    """Solve A u = S for per-sample constant D ``d`` and decay (both shaped (B, 1, 1)).

    ``source`` is (B, N, N) float64. Periodic axes go last so the real transforms act on
    real data; the result is real.
    """
    ky, kx = boundary.axis_kind(-2), boundary.axis_kind(-1)
    n = source.shape[-1]
    lam = eigenvalues(ky, n, xp)[:, None] + eigenvalues(kx, n, xp)[None, :]
    order = sorted([(-2, ky), (-1, kx)], key=lambda a: a[1] == "periodic")
    y = source
    for axis, kind in order:
        y = _forward(y, kind, axis, xp)
    denom = d * lam + decay
    y = y / denom
    for axis, kind in reversed(order):
        y = _inverse(y, kind, axis, xp)
    return y.real if xp.iscomplexobj(y) else y
