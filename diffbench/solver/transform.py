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
O(N^2 log N). On CuPy (which has no DST-I) the DST-I is a real FFT of the odd extension
(length 2(N+1)). On NumPy it is ``scipy.fft.dst(type=1)``, except when N + 1 has a prime
factor above :data:`CHIRP_MIN_PRIME`: pocketfft then runs an O(N p) generic pass on the
length-2(N+1) FFT (N = 256, 257 prime: 20-25x slower than N = 255), so the sine sum is
computed as a chirp convolution (Bluestein) with FFTs of a smooth length >= 2N - 1 instead.

A sample's bits never depend on its batch. pocketfft transforms the lines of an array in
groups of SIMD width (at most :data:`SIMD_LINES` doubles) in the order of the other axes, the
leftover lines one by one; when each sample contributes a multiple of :data:`SIMD_LINES`
lines, no group straddles two samples and every line of a sample lands in the group it gets
when the sample is transformed alone, so the whole batch goes through one call (at N = 64,
batch 25: 2.9 ms instead of 5.6 ms for the solve). Other sizes are transformed sample by sample.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..physics.boundary import Boundary
from .backend import fft_module

#: N + 1 with a prime factor above this takes the chirp (Bluestein) DST-I on NumPy. Measured on
#: 2 cores, batch 8: N = 100 (101 prime) and 256 (257) were 1.3-3.5x faster by the chirp;
#: N = 128 (129 = 3 * 43) and 512 (513 = 27 * 19) were faster with scipy's own DST-I.
CHIRP_MIN_PRIME = 64
#: Lines per SIMD group an x86 pocketfft build can use for float64 (AVX-512: 8; SSE2: 2).
SIMD_LINES = 8


def _moveaxis(x: Any, axis: int, xp: Any) -> Any:
    return xp.moveaxis(x, axis, -1)


def dst1(x: Any, axis: int, xp: Any) -> Any:
    """Unnormalised DST-I along ``axis``: ``y_k = 2 sum_n x_n sin(pi (k+1)(n+1) / (N+1))``.

    Complex input (the inverse after an FFT on the other axis) is transformed part by part:
    the real FFT used here rejects complex data.
    """
    if xp.iscomplexobj(x):
        return dst1(x.real, axis, xp) + 1j * dst1(x.imag, axis, xp)
    if xp is np:
        return _dst1_numpy(np.asarray(x, dtype=np.float64), axis % x.ndim)
    return dst1_odd_extension(x, axis, xp)


def dst1_odd_extension(x: Any, axis: int, xp: Any) -> Any:
    """:func:`dst1` of real ``x`` as a real FFT of its odd extension ``[0, x, 0, -reversed(x)]``
    (length 2(N+1)): ``y_k = -Im(rfft(ext))_(k+1)``. CuPy's path (cuFFT has no DST-I); it runs
    on NumPy too, where the tests check it against SciPy's DST-I.

    The extension is written once: its two zero columns, x, and the mirrored x negated straight
    into place (no zero-filled array first, no negated temporary).
    """
    x = _moveaxis(x, axis, xp)
    n = x.shape[-1]
    ext = xp.empty(x.shape[:-1] + (2 * n + 2,), dtype=x.dtype)
    ext[..., 0] = 0.0
    ext[..., n + 1] = 0.0
    ext[..., 1 : n + 1] = x
    xp.negative(x[..., ::-1], out=ext[..., n + 2 :])
    spectrum = xp.fft.rfft(ext, axis=-1)
    del ext
    y = xp.negative(spectrum[..., 1 : n + 1].imag)
    return xp.moveaxis(y, -1, axis)


def _largest_prime_factor(n: int) -> int:
    p, largest = 2, 1
    while p * p <= n:
        while n % p == 0:
            largest, n = p, n // p
        p += 1
    return max(largest, n)


@functools.lru_cache(maxsize=16)
def _chirp(n: int) -> tuple[int, np.ndarray, np.ndarray]:
    """FFT length L, chirp ``c_a = exp(i pi a^2 / (2P))`` (a = 1..n, P = n+1) and the FFT of its conjugate."""
    import scipy.fft

    p = n + 1
    length = scipy.fft.next_fast_len(2 * n - 1)
    a = np.arange(1, n + 1, dtype=np.int64)
    chirp = np.exp(1j * np.pi * ((a * a) % (4 * p)) / (2 * p))  # a^2 reduced mod 4P: exact phases
    m = np.arange(-(n - 1), n, dtype=np.int64)
    h = np.zeros(length, dtype=np.complex128)
    h[m % length] = np.exp(-1j * np.pi * ((m * m) % (4 * p)) / (2 * p))
    return length, chirp, scipy.fft.fft(h)


def _dst1_chirp(x: np.ndarray, axis: int) -> np.ndarray:
    """DST-I of real ``x`` by Bluestein: with a = n+1, b = k+1 and ab = (a^2 + b^2 - (b-a)^2) / 2,
    ``sum_a x_a exp(i pi a b / P) = c_b sum_a (x_a c_a) conj(c_(b-a))``, a linear convolution."""
    import scipy.fft

    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    length, chirp, hf = _chirp(n)
    u = np.zeros(x.shape[:-1] + (length,), dtype=np.complex128)
    np.multiply(x, chirp, out=u[..., :n])
    u = scipy.fft.fft(u, axis=-1, overwrite_x=True)
    u *= hf
    u = scipy.fft.ifft(u, axis=-1, overwrite_x=True)
    w = u[..., :n]
    w *= chirp
    return np.moveaxis(2.0 * w.imag, -1, axis)


def batch_aligned(shape: tuple[int, ...], axes: tuple[int, ...]) -> bool:
    """True when each sample of a (B, ...) batch has a multiple of :data:`SIMD_LINES` lines
    along every axis in ``axes``, so that one batched pocketfft call gives every sample the
    bits of its solo transform (see the module's docstring)."""
    per_sample = 1
    for s in shape[1:]:
        per_sample *= s
    return all((per_sample // shape[a]) % SIMD_LINES == 0 for a in axes)


def _dst1_numpy(x: np.ndarray, axis: int) -> np.ndarray:
    if x.ndim >= 3 and axis != 0 and not batch_aligned(x.shape, (axis,)):
        # Sample by sample: a SIMD group of lines would straddle two samples, and a sample's
        # bits must not depend on what else is in its batch.
        out = np.empty(x.shape, dtype=np.float64)
        for i in range(x.shape[0]):
            out[i] = _dst1_numpy(x[i], axis - 1)
        return out
    if _largest_prime_factor(x.shape[axis] + 1) > CHIRP_MIN_PRIME:
        return _dst1_chirp(x, axis)
    import scipy.fft

    return scipy.fft.dst(x, type=1, axis=axis)


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
    if xp is np and ky == kx == "dirichlet" and _largest_prime_factor(n + 1) <= CHIRP_MIN_PRIME:
        # A 2-D DST-I call each way: half the calls of the axis-by-axis path (the per-call
        # overhead dominated at N <= 64), the whole batch at once when that keeps its bits.
        import scipy.fft

        if batch_aligned(source.shape, (1, 2)):
            y = scipy.fft.dstn(source, type=1, axes=(-2, -1))
            _divide(y, d, lam, decay)
            return scipy.fft.idstn(y, type=1, axes=(-2, -1), overwrite_x=True)
        out = np.empty(source.shape, dtype=np.float64)
        for i in range(source.shape[0]):
            y = scipy.fft.dstn(source[i], type=1)
            _divide(y[None], d[i : i + 1], lam, decay[i : i + 1])
            out[i] = scipy.fft.idstn(y, type=1, overwrite_x=True)
        return out
    order = sorted([(-2, ky), (-1, kx)], key=lambda a: a[1] == "periodic")
    y = source
    for axis, kind in order:
        y = _forward(y, kind, axis, xp)
    _divide(y, d, lam, decay)  # y is the transforms' own array, never the source
    for axis, kind in reversed(order):
        y = _inverse(y, kind, axis, xp)
    return y.real if xp.iscomplexobj(y) else y


def _divide(y: Any, d: Any, lam: Any, decay: Any) -> None:
    """``y /= d * lam + decay`` in place, sample by sample (``d``, ``decay``: (B, 1, 1)), without
    a (B, N, N) array of denominators on NumPy; one division when the batch shares D and decay."""
    if not isinstance(y, np.ndarray):  # CuPy: one kernel rather than one per sample
        y /= d * lam + decay
        return
    if y.shape[0] == 1 or (bool((d == d[:1]).all()) and bool((decay == decay[:1]).all())):
        y /= d[:1] * lam + decay[:1]
        return
    for i in range(y.shape[0]):
        y[i] /= d[i] * lam + decay[i]
